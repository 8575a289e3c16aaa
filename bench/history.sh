#!/usr/bin/env bash
# Times `history` and `show` on a database holding RUNS runs of TASKS tasks
# each (10,000 x 100 = 1,000,000 task rows by default). The database is
# made once with taskrun (for the schema) and the sqlite3 client (for the
# rows), then reused.
#
#   apt-get install -y sqlite3        # what it uses
#   bench/history.sh
#   RUNS=1000 TASKS=50 REPEAT=10 bench/history.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-10000}
TASKS=${TASKS:-100}
REPEAT=${REPEAT:-5}
WORK=${BENCH_WORK:-/tmp/taskrun-bench-own}
DB=$WORK/history-$RUNS-$TASKS.db
mkdir -p "$WORK"
cargo build --release --quiet
taskrun=$PWD/target/release/taskrun

if [ ! -f "$DB" ]; then
  printf 'seed: true\n' >"$WORK/seed.txt"
  "$taskrun" run "$WORK/seed.txt" --db "$DB" --quiet >/dev/null
  sqlite3 "$DB" <<SQL
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < $RUNS)
INSERT INTO runs (id, started_at, finished_at, total_tasks, passed, failed, skipped,
                  status, taskfile, dir, duration_ms, jobs)
SELECT i, 1700000000 + i * 60, 1700000000 + i * 60 + 30, $TASKS, $TASKS - 2, 1, 1,
       'completed', '/p/tasks.txt', '/p', 30000, 8 FROM n;
WITH RECURSIVE r(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM r WHERE i < $RUNS),
               t(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM t WHERE j < $TASKS - 1)
INSERT INTO tasks (run_id, name, command, status, exit_code, started_at, finished_at,
                   duration_ms, stdout, stderr, position, deps, attempt, stdout_bytes)
SELECT i, 't' || j, 'make target' || j,
       CASE j WHEN 0 THEN 'failed' WHEN 1 THEN 'skipped' ELSE 'passed' END,
       CASE j WHEN 0 THEN 1 WHEN 1 THEN NULL ELSE 0 END,
       1700000000 + i * 60, 1700000000 + i * 60 + 1, 300 + j,
       'output line of t' || j || char(10), '', j, CASE WHEN j > 0 THEN 't' || (j - 1) ELSE '' END, 1, 20
FROM r, t;
COMMIT;
SQL
fi

rows=$(sqlite3 "$DB" "SELECT COUNT(*) FROM tasks")
size=$(du -m "$DB" | cut -f1)
echo "Database: $(sqlite3 "$DB" "SELECT COUNT(*) FROM runs") runs, $rows task rows, $size MB."
echo
echo "| command | best ms | median ms |"
echo "|---|---:|---:|"
middle=$((RUNS / 2))
for args in "history" "history --limit 100" "history --json" "show $middle" "show last" \
            "show $middle --task t42" "show $middle --json"; do
  times=()
  for _ in $(seq "$REPEAT"); do
    start=$(date +%s%N)
    # shellcheck disable=SC2086
    "$taskrun" $args --db "$DB" >/dev/null
    end=$(date +%s%N)
    times+=("$(( (end - start) / 1000 ))")
  done
  sorted=$(printf '%s\n' "${times[@]}" | sort -n)
  best=$(echo "$sorted" | head -n 1)
  median=$(echo "$sorted" | sed -n "$(( (REPEAT + 1) / 2 ))p")
  awk -v a="$args" -v b="$best" -v m="$median" 'BEGIN { printf "| `taskrun %s` | %.1f | %.1f |\n", a, b / 1000, m / 1000 }'
done
