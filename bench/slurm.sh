#!/usr/bin/env bash
# N no-op tasks through Slurm versus locally, and plain `srun` on the same
# work (what taskrun adds to Slurm's own cost), median [min-max] wall
# seconds of RUNS, round-robin. Needs a cluster: `eval "$(.ci/slurm.sh
# start)"` (as root) starts a single-node one on this machine.
#
#   bench/slurm.sh            # N=200, JOBS="8 32", RUNS=3
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-200}
JOBS=${JOBS:-"8 32"}
RUNS=${RUNS:-3}
WORK=${BENCH_WORK:-/tmp/taskrun-bench-slurm}
mkdir -p "$WORK"
scontrol ping | grep -q "is UP" || { echo "no Slurm controller answers (SLURM_CONF?)" >&2; exit 1; }

cargo build --release --quiet
taskrun=$PWD/target/release/taskrun
: >"$WORK/noop.txt"
for ((i = 0; i < N; i++)); do echo "t$i: true" >>"$WORK/noop.txt"; done

wall() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1 || echo "slurm.sh: failed: $*" >&2
  end=$(date +%s%N)
  awk -v ns=$((end - start)) 'BEGIN { printf "%.4f", ns / 1e9 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { m = v[int((NR + 1) / 2)]; printf "%.3f [%.3f-%.3f]", m, v[1], v[NR] }'; }

declare -A times
rows=()
for jobs in $JOBS; do
  rows+=("taskrun local -j $jobs" "taskrun slurm -j $jobs" "xargs -P $jobs srun true")
done
for ((r = 0; r < RUNS; r++)); do
  for jobs in $JOBS; do
    rm -f "$WORK/db"*
    times["taskrun local -j $jobs"]+="$(wall "$taskrun" run "$WORK/noop.txt" --jobs "$jobs" --db "$WORK/db") "
    rm -f "$WORK/db"*
    times["taskrun slurm -j $jobs"]+="$(wall "$taskrun" run "$WORK/noop.txt" --jobs "$jobs" --db "$WORK/db" --executor slurm) "
    times["xargs -P $jobs srun true"]+="$(wall sh -c "seq $N | xargs -P $jobs -I{} srun --quiet true") "
  done
done
one=$( { for ((i = 0; i < 20; i++)); do wall srun --quiet true; echo; done; } | grep . | median)

echo "### $N no-op tasks"
echo
echo "| what | wall s, median [min-max] of $RUNS |"
echo "|---|---|"
for row in "${rows[@]}"; do
  echo "| $row | $(tr ' ' '\n' <<<"${times[$row]}" | grep . | median) |"
done
echo "| one \`srun true\` (20 runs) | $one |"
