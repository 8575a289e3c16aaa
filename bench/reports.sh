#!/usr/bin/env bash
# What the reports cost: the same runs with no report option, with
# --output stream, --output grouped, --events FILE, --log-dir DIR and
# --junit FILE, round-robin, median [min-max] wall seconds:
#   noop    N no-op tasks at P jobs (the per-event cost)
#   lines   one task printing LINES short lines (the per-line cost)
#   bigout  one task printing BIG bytes in long lines (the per-byte cost)
#
#   bench/reports.sh                 # builds release, all sections
#   N=5000 RUNS=5 bench/reports.sh noop
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-5000}
P=${P:-8}
LINES=${LINES:-1000000}
BIG=${BIG:-200000000}
RUNS=${RUNS:-5}
WORK=${BENCH_WORK:-/tmp/taskrun-bench-reports}
SECTIONS=${*:-noop lines bigout}
mkdir -p "$WORK"

cargo build --release --quiet
taskrun=$PWD/target/release/taskrun

wall() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1 || echo "reports.sh: failed: $*" >&2
  end=$(date +%s%N)
  awk -v ns=$((end - start)) 'BEGIN { printf "%.4f", ns / 1e9 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { m = v[int((NR + 1) / 2)]; printf "%.3f [%.3f-%.3f]", m, v[1], v[NR] }'; }

# measure NAME FILE JOBS: one table for the task file, every option.
measure() {
  local name=$1 file=$2 jobs=$3 r option
  local options=("none" "--output stream" "--output grouped" "--events $WORK/events.jsonl" "--log-dir $WORK/logs" "--junit $WORK/report.xml")
  declare -A times
  for ((r = 0; r < RUNS; r++)); do
    for option in "${options[@]}"; do
      # The logs are kept: every run appends to them, as in real use
      # (recreating 5000 files just deleted is slow on ext4, which skips
      # recently freed inodes, and would measure that instead).
      rm -rf "$WORK/db"
      local args=()
      [ "$option" = none ] || read -ra args <<<"$option"
      times[$option]+="$(wall "$taskrun" run "$file" --jobs "$jobs" --db "$WORK/db" "${args[@]}") "
    done
  done
  echo "### $name"
  echo
  echo "| option | wall s, median [min-max] of $RUNS |"
  echo "|---|---|"
  for option in "${options[@]}"; do
    echo "| \`${option/$WORK\//}\` | $(tr ' ' '\n' <<<"${times[$option]}" | grep . | median) |"
  done
  echo
}

for section in $SECTIONS; do
  case $section in
    noop)
      : >"$WORK/noop.txt"
      for ((i = 0; i < N; i++)); do echo "t$i: true" >>"$WORK/noop.txt"; done
      measure "$N no-op tasks, --jobs $P" "$WORK/noop.txt" "$P" ;;
    lines)
      echo "lines: seq $LINES" >"$WORK/lines.txt"
      measure "one task printing $LINES lines (seq)" "$WORK/lines.txt" 1 ;;
    bigout)
      echo "big: head -c $BIG /dev/zero | tr '\\0' x | fold -w 1000" >"$WORK/big.txt"
      measure "one task printing $BIG bytes in 1000-byte lines" "$WORK/big.txt" 1 ;;
    *) echo "unknown section $section" >&2; exit 2 ;;
  esac
done
