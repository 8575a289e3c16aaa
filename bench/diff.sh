#!/usr/bin/env bash
# How long `taskrun diff` takes between the last two of RUNS runs of TASKS
# tasks (default 5,000 x 20): durations that vary by 10% from run to run
# as real ones do, 0.2% failures, outputs under 1 KiB; made once with the
# sqlite3 client in $BENCH_WORK. Prints the median and range of TIMES.
#
#   apt-get install -y sqlite3       # what it uses
#   bench/diff.sh                    # TASKS=5000 RUNS=20 TIMES=15
set -euo pipefail
cd "$(dirname "$0")/.."
TASKS=${TASKS:-5000}
RUNS=${RUNS:-20}
TIMES=${TIMES:-15}
WORK=${BENCH_WORK:-/tmp/taskrun-bench-diff}
mkdir -p "$WORK"
cargo build --release --quiet
taskrun=$PWD/target/release/taskrun
db=$WORK/diff-$TASKS-$RUNS.db
if [ ! -f "$db" ]; then
  echo "t0: true" >"$WORK/one.txt"
  "$taskrun" run "$WORK/one.txt" --db "$db" --quiet >/dev/null
  sqlite3 "$db" "DELETE FROM tasks; DELETE FROM runs;
    WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < $RUNS)
    INSERT INTO runs (id, started_at, total_tasks, status, taskfile)
      SELECT x, 1700000000 + x * 3600, $TASKS, 'completed', '/srv/project/tasks.txt' FROM r;
    WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < $RUNS),
      n(y) AS (SELECT 0 UNION ALL SELECT y + 1 FROM n WHERE y < $TASKS - 1)
    INSERT INTO tasks (run_id, name, command, status, exit_code, duration_ms, position, fingerprint, stdout)
      SELECT x, 'task' || y, 'make ' || y,
        CASE WHEN abs(random()) % 500 = 0 THEN 'failed' ELSE 'passed' END, 0,
        (100 + y % 900) * (90 + abs(random()) % 20) / 100, y, y,
        printf('%.*c', abs(random()) % 1000, 'x')
      FROM r, n;"
fi
time_it() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
spread() { sort -n | awk '{ v[NR] = $1 } END { printf "%d ms [%d-%d]", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
text=() json=()
for ((i = 0; i < TIMES; i++)); do
  text+=("$(time_it "$taskrun" diff --db "$db")")
  json+=("$(time_it "$taskrun" diff --json --db "$db")")
done
echo "diff of the last two of $RUNS runs of $TASKS tasks, median [min-max] of $TIMES:"
echo "  diff         $(printf '%s\n' "${text[@]}" | spread)"
echo "  diff --json  $(printf '%s\n' "${json[@]}" | spread)"
