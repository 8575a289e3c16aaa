#!/usr/bin/env bash
# Times Rhai scripting: generating N tasks from a script and validating
# them (`taskrun check`), and evaluating a retry policy over a run of N
# failed tasks (`taskrun retry --policy`, the policy declining every task,
# so that nothing runs and only the policy is measured).
#
#   apt-get install -y sqlite3        # what it uses
#   bench/script.sh                   # N=10000
#   N=100000 REPEAT=3 bench/script.sh
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-10000}
REPEAT=${REPEAT:-5}
WORK=${BENCH_WORK:-/tmp/taskrun-bench-own}/script
mkdir -p "$WORK"
cargo build --release --quiet
taskrun=$PWD/target/release/taskrun

cat >"$WORK/generate.rhai" <<RHAI
for i in 0..$N {
    let t = task(\`t\${i}\`, \`echo \${i}\`);
    if i > 0 { t.after(\`t\${i - 1}\`); }
    if i > 10 { t.after(\`t\${i - 10}\`).timeout("30s"); }
}
RHAI

# A run of N failed tasks, written with the sqlite3 client.
db=$WORK/policy.db
if [ ! -f "$db" ]; then
  printf 'seed: true\n' >"$WORK/seed.txt"
  "$taskrun" run "$WORK/seed.txt" --db "$db" --quiet >/dev/null
  sqlite3 "$db" "
    UPDATE tasks SET status = 'failed', exit_code = 1 WHERE run_id = 1;
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N - 1)
    INSERT INTO tasks (run_id, name, command, status, exit_code, position, deps, attempt,
                       stdout, stderr, duration_ms)
    SELECT 1, 't' || i, 'make t' || i, 'failed', 1, i, '', 1, '', 'error: it broke', 10 FROM n;
    UPDATE runs SET total_tasks = $N WHERE id = 1;"
fi
cat >"$WORK/policy.rhai" <<'RHAI'
fn should_retry(task) {
    import "taskrun/retry" as retry;
    retry::transient_network(task) && retry::attempts_below(task, 3)
}
RHAI

measure() {  # label, then the command
  local label=$1; shift
  local times=() start end
  for _ in $(seq "$REPEAT"); do
    start=$(date +%s%N)
    "$@" >/dev/null
    end=$(date +%s%N)
    times+=("$(( (end - start) / 1000000 ))")
  done
  local sorted
  sorted=$(printf '%s\n' "${times[@]}" | sort -n)
  echo "| $label | $(echo "$sorted" | head -n 1) | $(echo "$sorted" | sed -n "$(( (REPEAT + 1) / 2 ))p") |"
}

echo "| what (N = $N) | best ms | median ms |"
echo "|---|---:|---:|"
measure "generate and validate N tasks (\`check\` of a script)" "$taskrun" check "$WORK/generate.rhai"
measure "policy over N failed tasks (\`retry --policy\`, all declined)" "$taskrun" retry 1 --db "$db" --policy "$WORK/policy.rhai"
