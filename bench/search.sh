#!/usr/bin/env bash
# `taskrun search` over a large history: a database of NAMES tasks x RUNS
# runs (default 10,000 x 100 = 1,000,000 task rows) whose output is words
# (a 300-word vocabulary, some lines coloured), sizes mixed as real ones
# are (90% under 1 KiB, 9% 4-64 KiB, 1,000 rows of 1 MiB), made once with
# the sqlite3 client in $BENCH_WORK. Every row also holds one word of
# 2,000 (`needle0` .. `needle1999`, spread over the tasks), so
# `needle1234` matches 500 rows of some 500 tasks: a selective query. Measures:
#   - the catch-up: `taskrun index` over the whole history, from nothing
#     (MB of text a second);
#   - the index's size beside the text's (dbstat);
#   - `search needle1234` (20 results, the default --limit) once
#     indexed: median and range of TIMES runs.
#
#   apt-get install -y sqlite3       # what it uses
#   bench/search.sh                  # NAMES=10000 RUNS=100 TIMES=15
set -euo pipefail
cd "$(dirname "$0")/.."
NAMES=${NAMES:-10000}
RUNS=${RUNS:-100}
TIMES=${TIMES:-15}
WORK=${BENCH_WORK:-/tmp/taskrun-bench-search}
mkdir -p "$WORK"
cargo build --release --quiet
taskrun=$PWD/target/release/taskrun
base=$WORK/search-$NAMES-$RUNS.db
if [ ! -f "$base" ]; then
  echo "t0: true" >"$WORK/one.txt"
  # The schema, from taskrun itself.
  "$taskrun" run "$WORK/one.txt" --db "$base.new" --quiet >/dev/null
  sqlite3 "$base.new" "DELETE FROM tasks; DELETE FROM runs; DELETE FROM meta;
    CREATE TEMP TABLE words (i INTEGER PRIMARY KEY, w TEXT);
    WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 299)
    INSERT INTO words SELECT i, CASE i % 7
        WHEN 0 THEN 'error' || i WHEN 1 THEN 'warn' || i || ':'
        WHEN 2 THEN 'src/mod' || i || '.rs' WHEN 3 THEN 'Test_' || i
        WHEN 4 THEN char(27) || '[32mok' || i || char(27) || '[0m'
        WHEN 5 THEN 'compiling' || i || ',' ELSE 'détail' || i END FROM n;
    -- 64 KiB of words, and 1 MiB of it again, to cut outputs from.
    CREATE TEMP TABLE text (t TEXT);
    WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 11999)
    INSERT INTO text SELECT group_concat(w || CASE WHEN n.i % 12 = 11 THEN char(10) ELSE ' ' END, '')
      FROM n JOIN words ON words.i = (n.i * 7919 + n.i / 3) % 300;
    CREATE TEMP TABLE big (t TEXT);
    INSERT INTO big SELECT substr(replace(printf('%.*c', 17, 'x'), 'x', t), 1, 1048576) FROM text;
    WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < $RUNS)
    INSERT INTO runs (id, started_at, total_tasks, status)
      SELECT x, strftime('%s', 'now') - ($RUNS - x) * 3600, $NAMES, 'completed' FROM r;
    WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < $RUNS),
      n(y) AS (SELECT 0 UNION ALL SELECT y + 1 FROM n WHERE y < $NAMES - 1)
    INSERT INTO tasks (run_id, name, command, status, duration_ms, position, fingerprint,
        stdout)
      SELECT x, 'task' || y, 'make ' || y, 'passed', abs(random()) % 5000, y, y,
        'needle' || ((y * 7919 + x * 104729) % 2000) || ' ' || CASE
          WHEN (x * $NAMES + y) % 1000 = 0 THEN (SELECT t FROM big)
          WHEN abs(random()) % 10 = 0
            THEN substr((SELECT t FROM text), 1 + abs(random()) % 1000, 4096 + abs(random()) % 61440)
          ELSE substr((SELECT t FROM text), 1 + abs(random()) % 60000, abs(random()) % 1000) END
      FROM r, n;"
  mv "$base.new" "$base"
fi
db=$WORK/search-indexed.db
rm -f "$db" "$db-wal" "$db-shm"
cp "$base" "$db"
rows=$(sqlite3 "$db" "SELECT COUNT(*) FROM tasks")
text_bytes=$(sqlite3 "$db" "SELECT SUM(length(CAST(stdout AS BLOB))) FROM tasks")
ms() { echo $(( $(date +%s%N) / 1000000 )); }
start=$(ms)
"$taskrun" index --db "$db"
end=$(ms)
index_ms=$((end - start))
index_bytes=$(sqlite3 "$db" "SELECT SUM(pgsize) FROM dbstat WHERE name LIKE 'output_fts%'")
time_it() { local s e; s=$(date +%s%N); "$@" >/dev/null || true; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
spread() { sort -n | awk '{ v[NR] = $1 } END { printf "%d ms [%d-%d]", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
"$taskrun" search needle1234 --db "$db" | head -4 || true
selective=()
for ((i = 0; i < TIMES; i++)); do
  selective+=("$(time_it "$taskrun" search needle1234 --db "$db")")
done
matching=$("$taskrun" search needle1234 --json --limit 100000 --db "$db" |
  awk -F': ' '/"runs"/ { gsub(",", "", $2); n += $2 } END { print n + 0 }' || true)
echo "$rows rows ($NAMES tasks x $RUNS runs), $((text_bytes / 1048576)) MiB of output:"
awk -v ms="$index_ms" -v b="$text_bytes" \
  'BEGIN { printf "  index (catch-up from nothing)  %.1f s, %.1f MB/s of text\n", ms / 1000, b / 1e6 / (ms / 1000) }'
awk -v i="$index_bytes" -v b="$text_bytes" \
  'BEGIN { printf "  index size                     %d MiB, %.2f of the text\n", i / 1048576, i / b }'
echo "  search needle1234 ($matching rows match, 20 shown)  $(printf '%s\n' "${selective[@]}" | spread)"
