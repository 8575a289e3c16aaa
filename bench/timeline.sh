#!/usr/bin/env bash
# How big the trace and the HTML page of a run of TASKS tasks are (default
# 5,000: real runs of no-op tasks at -j 8, so that the lanes, the curve
# and the critical path are those of a real run; every 50th task waits
# for the one before it, every 500th fails and writes to stderr), and how
# long `taskrun show --trace` and `show --html` take to make them. Prints
# the sizes and the median and range of TIMES.
#
#   bench/timeline.sh                # TASKS=5000 TIMES=15
set -euo pipefail
cd "$(dirname "$0")/.."
TASKS=${TASKS:-5000}
TIMES=${TIMES:-15}
WORK=${BENCH_WORK:-/tmp/taskrun-bench-timeline}
mkdir -p "$WORK"
cargo build --release --quiet
taskrun=$PWD/target/release/taskrun
db=$WORK/timeline-$TASKS.db
file=$WORK/tasks-$TASKS.txt
if [ ! -f "$db" ]; then
  for ((i = 0; i < TASKS; i++)); do
    if ((i % 500 == 499)); then
      echo "task_$i: echo 'error: task $i broke' >&2; exit 1"
    elif ((i % 50 == 49)); then
      echo "task_$i: true [after: task_$((i - 1))]"
    else
      echo "task_$i: true"
    fi
  done >"$file"
  "$taskrun" run "$file" --db "$db" -j 8 --quiet >/dev/null || true
fi
time_it() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
spread() { sort -n | awk '{ v[NR] = $1 } END { printf "%d ms [%d-%d]", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
trace=() html=() show=()
for ((i = 0; i < TIMES; i++)); do
  trace+=("$(time_it "$taskrun" show --db "$db" --trace "$WORK/trace.json")")
  html+=("$(time_it "$taskrun" show --db "$db" --html "$WORK/run.html")")
  show+=("$(time_it "$taskrun" show --db "$db")")
done
size() { stat -c %s "$1" | awk '{ printf "%.2f MB (%d B a task)", $1 / 1e6, $1 / '"$TASKS"' }'; }
echo "a recorded run of $TASKS tasks at -j 8, median [min-max] of $TIMES:"
echo "  show --trace  $(printf '%s\n' "${trace[@]}" | spread)  $(size "$WORK/trace.json")"
echo "  show --html   $(printf '%s\n' "${html[@]}" | spread)  $(size "$WORK/run.html")"
echo "  show          $(printf '%s\n' "${show[@]}" | spread)  (the text view, for scale)"
