#!/usr/bin/env bash
# Runs taskrun beside make, ninja and xargs on the same generated work and
# prints markdown tables:
#   noop    N independent `/bin/sh -c true` tasks at P jobs
#   chain   CHAIN tasks, each after the previous (-j 2)
#   bigout  one task printing BIG bytes: wall time and peak RSS, beside a
#           plain copy of the same stream to /dev/null
# Tools run round-robin (run r of every tool, then run r+1), because the
# speed of a shared VM drifts over minutes; compare rows of one run only.
#
#   apt-get install -y hyperfine time make ninja-build   # what it uses
#   bench/compare.sh                    # builds release, all sections
#   NS=5000 JOBS="2 8" RUNS=5 bench/compare.sh noop
set -euo pipefail
cd "$(dirname "$0")/.."

NS=${NS:-"1000 5000"}
JOBS=${JOBS:-"2 8"}
CHAIN=${CHAIN:-500}
BIG=${BIG:-200000000}
RUNS=${RUNS:-5}
WORK=${BENCH_WORK:-/tmp/taskrun-bench-own}
SECTIONS=${*:-noop chain bigout}
mkdir -p "$WORK"

cargo build --release --quiet
taskrun=$PWD/target/release/taskrun
have() { command -v "$1" >/dev/null 2>&1; }
[ -x /usr/bin/time ] || { echo "compare.sh needs GNU time (apt-get install -y time)" >&2; exit 1; }

# One wall-clock measurement of a command, in seconds.
wall() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1 || echo "compare.sh: failed: $*" >&2
  end=$(date +%s%N)
  awk -v ns=$((end - start)) 'BEGIN { printf "%.4f", ns / 1e9 }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { m = v[int((NR + 1) / 2)]; printf "%.3f [%.3f-%.3f]", m, v[1], v[NR] }'; }

# generate NAME N CHAINED: the same work for every tool.
generate() {
  local name=$1 n=$2 chained=$3 i
  : >"$WORK/$name.taskrun"; : >"$WORK/$name.cmds"
  printf 'all:' >"$WORK/$name.mk"
  # ninja runs every command through /bin/sh -c, like the others; the
  # outputs are never made, so every edge runs on every invocation.
  printf 'rule r\n  command = true\n' >"$WORK/$name.ninja"
  for ((i = 0; i < n; i++)); do
    if [ "$chained" = 1 ] && [ "$i" -gt 0 ]; then
      echo "t$i: true [after:t$((i - 1))]" >>"$WORK/$name.taskrun"
      echo "build t$i: r || t$((i - 1))" >>"$WORK/$name.ninja"
      printf 't%d: t%d\n\t@true;\n' "$i" "$((i - 1))" >>"$WORK/$name.mk.rules"
    else
      echo "t$i: true" >>"$WORK/$name.taskrun"
      echo "build t$i: r" >>"$WORK/$name.ninja"
      printf 't%d:\n\t@true;\n' "$i" >>"$WORK/$name.mk.rules"
    fi
    echo "true" >>"$WORK/$name.cmds"
    printf ' t%d' "$i" >>"$WORK/$name.mk"
  done
  { echo; echo ".PHONY: all $(seq -f 't%g' 0 $((n - 1)) | tr '\n' ' ')"; cat "$WORK/$name.mk.rules"; } >>"$WORK/$name.mk"
  rm -f "$WORK/$name.mk.rules"
}

# measure NAME P: every tool on one generated set, round-robin.
measure() {
  local name=$1 p=$2 r tool xargs_p=$2
  [[ $name == chain-* ]] && xargs_p=1
  declare -A times=()
  for ((r = 0; r < RUNS; r++)); do
    for tool in taskrun make ninja xargs; do
      case $tool in
        # A fresh history each time, as ninja gets a fresh log: one that
        # grew with every measurement would be measured too.
        taskrun) rm -f "$WORK/taskrun.db"*; \
                 times[$tool]+="$(wall "$taskrun" run "$WORK/$name.taskrun" --jobs "$p" --timeout 0 --db "$WORK/taskrun.db") " ;;
        make) have make && times[$tool]+="$(wall make -rR -s -j "$p" -f "$WORK/$name.mk") " ;;
        ninja) have ninja && { rm -f "$WORK/.ninja_log" "$WORK/.ninja_deps"; \
                 times[$tool]+="$(wall ninja -C "$WORK" -f "$name.ninja" -j "$p") "; } ;;
        # xargs knows no dependencies: the chain's floor is running the
        # tasks back to back.
        xargs) times[$tool]+="$(wall xargs -P "$xargs_p" -I{} /bin/sh -c {} <"$WORK/$name.cmds") " ;;
      esac
    done
  done
  for tool in taskrun make ninja xargs; do
    [ -n "${times[$tool]:-}" ] || continue
    echo "| $tool | $name | $p | $(echo "${times[$tool]}" | tr ' ' '\n' | grep . | median) |"
  done
  # The machine's speed drifts between rounds more than the tools differ:
  # the ratio within each round, and its median, compare them better.
  if [ -n "${times[ninja]:-}" ]; then
    echo "| taskrun / ninja (per round) | $name | $p | $(paste <(echo "${times[taskrun]}" | tr ' ' '\n' | grep .) \
      <(echo "${times[ninja]}" | tr ' ' '\n' | grep .) | awk '{ print $1 / $2 }' | median) |"
  fi
}

echo "Machine: $(nproc) cores, $(uname -r), /bin/sh -> $(readlink -f /bin/sh); $RUNS runs per row, median [min-max] seconds."
echo
for section in $SECTIONS; do
  case $section in
    noop)
      echo "| tool | work | jobs | wall s |"; echo "|---|---|---:|---|"
      for n in $NS; do generate "noop-$n" "$n" 0; for p in $JOBS; do measure "noop-$n" "$p"; done; done
      echo ;;
    chain)
      echo "| tool | work | jobs | wall s |"; echo "|---|---|---:|---|"
      generate "chain-$CHAIN" "$CHAIN" 1; measure "chain-$CHAIN" 2
      echo ;;
    bigout)
      echo "big: head -c $BIG /dev/zero | tr '\\0' a" >"$WORK/big.taskrun"
      echo "| what | wall s | peak RSS MiB |"; echo "|---|---|---:|"
      for what in taskrun copy; do
        walls=""; rss=0
        for ((r = 0; r < RUNS; r++)); do
          if [ "$what" = taskrun ]; then rm -f "$WORK/taskrun.db"*; set -- "$taskrun" run "$WORK/big.taskrun" --timeout 0 --db "$WORK/taskrun.db"
          else set -- sh -c "head -c $BIG /dev/zero | tr '\\0' a > /dev/null"; fi
          start=$(date +%s%N)
          kb=$( { /usr/bin/time -f '%M' "$@" >/dev/null; } 2>&1 | tail -n 1)
          end=$(date +%s%N)
          walls+="$(awk -v ns=$((end - start)) 'BEGIN { printf "%.4f", ns / 1e9 }') "
          [ "$kb" -gt "$rss" ] && rss=$kb
        done
        echo "| $what | $(echo "$walls" | tr ' ' '\n' | grep . | median) | $((rss / 1024)) |"
      done
      echo ;;
    *) echo "compare.sh: unknown section $section (noop chain bigout)" >&2; exit 2 ;;
  esac
done
