#!/usr/bin/env bash
# N no-op tasks on Slurm at -j JOBS: taskrun's two modes (`--slurm-mode
# jobs`, a job per task; `--slurm-mode steps`, one allocation and a job
# step per task) beside `xargs -P JOBS srun true` (Slurm's own cost of a
# job per task) and taskrun on this machine, median [min-max] wall seconds
# of RUNS, interleaved round-robin. Needs a cluster whose partition
# advertises at least JOBS CPUs; the single-node one of .ci/slurm.sh can
# advertise more than the machine has:
#
#   SLURM_CPUS=8 .ci/slurm.sh start   # as root; prints SLURM_CONF
#   bench/slurm.sh                    # SIZES="200 2000", JOBS=8, RUNS=3
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"200 2000"}
JOBS=${JOBS:-8}
RUNS=${RUNS:-3}
WORK=${BENCH_WORK:-/tmp/taskrun-bench-slurm}
mkdir -p "$WORK"
scontrol ping | grep -q "is UP" || { echo "no Slurm controller answers (SLURM_CONF?)" >&2; exit 1; }
cpus=$(sinfo --noheader --format=%C | head -1 | cut -d/ -f4)
if [ "${cpus:-0}" -lt "$JOBS" ]; then
  echo "the partition has $cpus CPUs, fewer than JOBS=$JOBS: restart the cluster with SLURM_CPUS=$JOBS" >&2
  exit 1
fi

cargo build --release --quiet
taskrun=$PWD/target/release/taskrun

wall() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1 || echo "slurm.sh: failed: $*" >&2
  end=$(date +%s%N)
  awk -v ns=$((end - start)) 'BEGIN { printf "%.4f", ns / 1e9 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { m = v[int((NR + 1) / 2)]; printf "%.2f [%.2f-%.2f]", m, v[1], v[NR] }'; }

declare -A times
rows=("taskrun local" "taskrun --slurm-mode steps" "taskrun --slurm-mode jobs" "xargs -P $JOBS srun true")
for n in $SIZES; do
  : >"$WORK/noop-$n.txt"
  for ((i = 0; i < n; i++)); do echo "t$i: true" >>"$WORK/noop-$n.txt"; done
done
for ((r = 0; r < RUNS; r++)); do
  for n in $SIZES; do
    file=$WORK/noop-$n.txt
    rm -f "$WORK/db"*
    times["$n taskrun local"]+="$(wall "$taskrun" run "$file" --jobs "$JOBS" --db "$WORK/db") "
    rm -f "$WORK/db"*
    times["$n taskrun --slurm-mode steps"]+="$(wall "$taskrun" run "$file" --jobs "$JOBS" --db "$WORK/db" --executor slurm --slurm-mode steps) "
    rm -f "$WORK/db"*
    times["$n taskrun --slurm-mode jobs"]+="$(wall "$taskrun" run "$file" --jobs "$JOBS" --db "$WORK/db" --executor slurm --slurm-mode jobs) "
    times["$n xargs -P $JOBS srun true"]+="$(wall sh -c "seq $n | xargs -P $JOBS -I{} srun --quiet true") "
  done
done

echo "### No-op tasks at -j $JOBS on a partition of $cpus CPUs, wall seconds, median [min-max] of $RUNS"
echo
printf '| what |'
for n in $SIZES; do printf ' %s tasks |' "$n"; done
printf '\n|---|'
for n in $SIZES; do printf -- '---|'; done
echo
for row in "${rows[@]}"; do
  printf '| %s |' "$row"
  for n in $SIZES; do printf ' %s |' "$(tr ' ' '\n' <<<"${times["$n $row"]}" | grep . | median)"; done
  echo
done
