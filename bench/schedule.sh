#!/usr/bin/env bash
# In what order tasks start, measured: the two workloads of "History makes
# runs faster", each run once to learn the durations, then three times
# with --order file and three times with --order critical-path, beside
# the lower bound the dry run computes (max of the critical path and the
# work spread over the jobs). Real sleeps: the numbers are wall seconds.
#
#   bench/schedule.sh            # both workloads, --jobs 8
#   JOBS=4 RUNS=5 bench/schedule.sh skewed
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-8}
RUNS=${RUNS:-3}
WORK=${BENCH_WORK:-/tmp/taskrun-bench-schedule}
SECTIONS=${*:-skewed misleading}
mkdir -p "$WORK"
cargo build --release --quiet
taskrun=$PWD/target/release/taskrun

# skewed: 190 independent tasks of 0.05-0.55 s written first, then a chain
# of 10 tasks of 0.9 s written last. CP = 9 s, W ~ 66 s.
skewed() {
  local i
  for ((i = 0; i < 190; i++)); do
    printf 'short%d: sleep 0.%02d\n' "$i" "$((5 + (i * 37) % 51))"
  done
  echo "chain0: sleep 0.9"
  for ((i = 1; i < 10; i++)); do
    echo "chain$i: sleep 0.9 [after:chain$((i - 1))]"
  done
}

# misleading: 40 chains of 10 tasks of 0.1 s written first (depth 10),
# one 9 s task written last (depth 1). Depth and file order start the long
# task late; durations start it first.
misleading() {
  local c i
  for ((c = 0; c < 40; c++)); do
    echo "c${c}_0: sleep 0.1"
    for ((i = 1; i < 10; i++)); do
      echo "c${c}_$i: sleep 0.1 [after:c${c}_$((i - 1))]"
    done
  done
  echo "long: sleep 9"
}

wall() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1 || true
  end=$(date +%s%N)
  awk -v ns=$((end - start)) 'BEGIN { printf "%.2f", ns / 1e9 }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { m = v[int((NR + 1) / 2)]; printf "%.2f [%.2f-%.2f]", m, v[1], v[NR] }'; }

bound() {
  "$taskrun" run "$1" --dry-run --jobs "$JOBS" --db "$2" |
    sed -n 's/^Estimated wall time \([^ ]*\) (lower bound \([^;]*\);.*/\1 \2/p'
}

echo "| workload (--jobs $JOBS) | runs | --order file | --order critical-path | dry-run estimate | lower bound |"
echo "|---|---|---|---|---|---|"
for section in $SECTIONS; do
  file=$WORK/$section.txt
  db=$WORK/$section.db
  "$section" >"$file"
  rm -f "$db" "$db"-*
  # Before learning: no history, so critical-path is depth order.
  cold=$(wall "$taskrun" run "$file" --jobs "$JOBS" --order critical-path --db "$db.cold")
  rm -f "$db.cold" "$db.cold"-*
  # The learning run.
  wall "$taskrun" run "$file" --jobs "$JOBS" --order file --db "$db" >/dev/null
  files=() critical=()
  for ((r = 0; r < RUNS; r++)); do
    files+=("$(wall "$taskrun" run "$file" --jobs "$JOBS" --order file --db "$db")")
    critical+=("$(wall "$taskrun" run "$file" --jobs "$JOBS" --order critical-path --db "$db")")
  done
  read -r estimate lower < <(bound "$file" "$db")
  echo "| $section, before learning | 1 | - | $cold | - | - |"
  echo "| $section, learned | $RUNS | $(printf '%s\n' "${files[@]}" | median) | $(printf '%s\n' "${critical[@]}" | median) | $estimate | $lower |"
done
