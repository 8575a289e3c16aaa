#!/usr/bin/env bash
# Measures `taskrun check` (read, parse, validate, longest chain) on
# generated task files of 10k, 100k and 1M tasks, each task depending on up
# to 4 random earlier tasks, in each task file format (the same tasks: the
# TOML and JSON files are `taskrun convert` of the line format's). Prints
# one row per size and format: best and median wall time of RUNS runs, and
# peak RSS.
#
#   bench/parse.sh                 # builds release, sizes 10000 100000 1000000
#   SIZES="100000" FORMATS="lines toml" RUNS=15 bench/parse.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"10000 100000 1000000"}
RUNS=${RUNS:-5}
FORMATS=${FORMATS:-"lines toml json"}
WORK=${BENCH_WORK:-/tmp/taskrun-bench}
mkdir -p "$WORK"

cargo build --release --quiet
taskrun=target/release/taskrun

echo "| tasks | format | edges | file MB | best s | median s | peak RSS MB |"
echo "|---:|---|---:|---:|---:|---:|---:|"
for n in $SIZES; do
  lines="$WORK/parse-$n.txt"
  if [ ! -f "$lines" ]; then
    awk -v n="$n" 'BEGIN {
      srand(42)
      for (i = 0; i < n; i++) {
        line = "task_" i ": ./step.sh --id " i " --out build/" i ".o"
        k = (i < 4) ? i : 4
        k = int(rand() * (k + 1))
        if (k > 0) {
          deps = ""
          for (j = 0; j < k; j++) {
            d = int(rand() * i)
            deps = deps (j ? "," : "") "task_" d
          }
          line = line " [after:" deps "]"
        }
        print line
      }
    }' > "$lines"
  fi
  for format in $FORMATS; do
  case $format in
    lines) file=$lines ;;
    *) file="$WORK/parse-$n.$format"
       [ -f "$file" ] || "$taskrun" convert "$lines" --to "$format" > "$file" ;;
  esac
  times=()
  rss=0
  for _ in $(seq "$RUNS"); do
    start=$(date +%s%N)
    kb=$( { /usr/bin/time -f '%M' "$taskrun" check "$file" > "$WORK/summary.txt"; } 2>&1 )
    end=$(date +%s%N)
    times+=("$(awk -v ns=$((end - start)) 'BEGIN { printf "%.3f", ns / 1e9 }')")
    [ "$kb" -gt "$rss" ] && rss=$kb
  done
  sorted=$(printf '%s\n' "${times[@]}" | sort -n)
  best=$(echo "$sorted" | head -n1)
  median=$(echo "$sorted" | sed -n "$(( (RUNS + 1) / 2 ))p")
  edges=$(sed -E 's/.*tasks, ([0-9]+) dependency.*/\1/' "$WORK/summary.txt")
  mb=$(awk -v b="$(stat -c %s "$file")" 'BEGIN { printf "%.1f", b / 1048576 }')
  echo "| $n | $format | $edges | $mb | $best | $median | $((rss / 1024)) |"
  done
done
