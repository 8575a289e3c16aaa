#!/usr/bin/env bash
# How long `taskrun stats` takes over a large history: a database of
# NAMES tasks x RUNS runs (default 10,000 x 100 = 1,000,000 task rows),
# with output sizes mixed as real ones are (90% under 1 KiB, 9% 4-64 KiB,
# 1,000 rows of 1 MiB), 2% failures and 0.5% timeouts; made once with the
# sqlite3 client in $BENCH_WORK. Prints the median and range of TIMES runs
# of `stats` (the table) and `stats --json`.
#
#   apt-get install -y sqlite3       # what it uses
#   bench/stats.sh                   # NAMES=10000 RUNS=100 TIMES=15
set -euo pipefail
cd "$(dirname "$0")/.."
NAMES=${NAMES:-10000}
RUNS=${RUNS:-100}
TIMES=${TIMES:-15}
WORK=${BENCH_WORK:-/tmp/taskrun-bench-stats}
mkdir -p "$WORK"
cargo build --release --quiet
taskrun=$PWD/target/release/taskrun
db=$WORK/stats-$NAMES-$RUNS.db
if [ ! -f "$db" ]; then
  echo "t0: true" >"$WORK/one.txt"
  # The schema, from taskrun itself.
  "$taskrun" run "$WORK/one.txt" --db "$db" --quiet >/dev/null
  sqlite3 "$db" "DELETE FROM tasks; DELETE FROM runs;
    WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < $RUNS)
    INSERT INTO runs (id, started_at, total_tasks, status)
      SELECT x, strftime('%s', 'now') - ($RUNS - x) * 3600, $NAMES, 'completed' FROM r;
    WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < $RUNS),
      n(y) AS (SELECT 0 UNION ALL SELECT y + 1 FROM n WHERE y < $NAMES - 1)
    INSERT INTO tasks (run_id, name, command, status, duration_ms, position, fingerprint, stdout)
      SELECT x, 'task' || y, 'make ' || y,
        CASE WHEN abs(random()) % 50 = 0 THEN 'failed'
             WHEN abs(random()) % 200 = 0 THEN 'timeout' ELSE 'passed' END,
        abs(random()) % 5000, y, y,
        CASE WHEN (x * $NAMES + y) % 1000 = 0 THEN printf('%.*c', 1048576, 'z')
             WHEN abs(random()) % 10 = 0 THEN printf('%.*c', 4096 + abs(random()) % 61440, 'y')
             ELSE printf('%.*c', abs(random()) % 1000, 'x') END
      FROM r, n;"
fi
rows=$(sqlite3 "$db" "SELECT COUNT(*) FROM tasks")
size=$(du -h "$db" | cut -f1)
time_it() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
spread() { sort -n | awk '{ v[NR] = $1 } END { printf "%d ms [%d-%d]", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
table=() json=()
for ((i = 0; i < TIMES; i++)); do
  table+=("$(time_it "$taskrun" stats --db "$db")")
  json+=("$(time_it "$taskrun" stats --json --db "$db")")
done
echo "$rows rows ($NAMES tasks x $RUNS runs) in a $size database, median [min-max] of $TIMES:"
echo "  stats         $(printf '%s\n' "${table[@]}" | spread)"
echo "  stats --json  $(printf '%s\n' "${json[@]}" | spread)"
