#!/usr/bin/env bash
# How long reading the estimates of a large plan takes: a 100,000-task
# task file, every task with history, in a database of 1,000,000 task rows
# (10 runs of it) whose output sizes are mixed as real ones are (90% under
# 1 KiB, 9% 4-64 KiB, 1% 256 KiB: what spills onto overflow pages). Times
# `run --dry-run` (which reads the estimates and simulates the run) with
# and without that history; the difference is the estimates.
#
#   bench/estimates.sh                 # TASKS=100000 RUNS=10
set -euo pipefail
cd "$(dirname "$0")/.."
TASKS=${TASKS:-100000}
RUNS=${RUNS:-10}
WORK=${BENCH_WORK:-/tmp/taskrun-bench-estimates}
mkdir -p "$WORK"
cargo build --release --quiet
taskrun=$PWD/target/release/taskrun

file=$WORK/big.txt
db=$WORK/history.db
if [ ! -f "$db" ]; then
  python3 - "$file" "$TASKS" <<'PY'
import sys
path, tasks = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    for i in range(tasks):
        dep = f" [after:t{i - 1}]" if i % 100 else ""
        f.write(f"t{i}: echo {i}{dep}\n")
PY
  rm -f "$db"*
  # The schema, from taskrun itself.
  echo "t0: true" >"$WORK/one.txt"
  "$taskrun" run "$WORK/one.txt" --db "$db" --quiet >/dev/null
  python3 - "$db" "$TASKS" "$RUNS" <<'PY'
import hashlib, random, sqlite3, struct, sys
db, tasks, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def fingerprint(command):
    h = hashlib.sha256()
    def field(b):
        h.update(struct.pack("<Q", len(b))); h.update(b)
    field(b"taskrun fingerprint 1"); field(command.encode()); field(b"")
    field(struct.pack("<Q", 0)); field(b"shell")
    return struct.unpack(">q", h.digest()[:8])[0]
random.seed(1)
con = sqlite3.connect(db)
con.execute("DELETE FROM tasks"); con.execute("DELETE FROM runs")
small, medium, large = b"x" * 200, b"y" * 16384, b"z" * 262144
for run in range(1, runs + 1):
    con.execute("INSERT INTO runs (id, started_at, total_tasks, status) VALUES (?, 0, ?, 'completed')", (run, tasks))
    rows = []
    for i in range(tasks):
        r = random.random()
        out = large if r < 0.01 else medium if r < 0.10 else small
        command = f"echo {i}"
        rows.append((run, f"t{i}", command, "passed", 0, random.randint(1, 500), out, i, fingerprint(command)))
    con.executemany("INSERT INTO tasks (run_id, name, command, status, exit_code, duration_ms, stdout, position, fingerprint) VALUES (?,?,?,?,?,?,?,?,?)", rows)
    con.commit()
con.close()
PY
fi
rows=$(sqlite3 "$db" "SELECT COUNT(*) FROM tasks")
size=$(du -h "$db" | cut -f1)
time_it() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
with=() without=()
for r in 1 2 3 4 5; do
  sync; with+=("$(time_it "$taskrun" run "$file" --dry-run --jobs 8 --db "$db")")
  without+=("$(time_it "$taskrun" run "$file" --dry-run --jobs 8 --db "$WORK/none.db")")
done
med() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "$TASKS tasks, $rows rows in a $size database: dry run $(med "${with[@]}") ms with history, $(med "${without[@]}") ms without (medians of 5)"
