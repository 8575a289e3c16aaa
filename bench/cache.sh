#!/usr/bin/env bash
# The cache's figures (issue 14's goals), printed as markdown:
#   warm   N cacheable tasks (`cp in/K.txt out/K.txt`, one 4 KiB input and
#          one output each), all up to date, beside ninja's no-op on the
#          same edges (`rule cp`, `build out/K.txt: cp in/K.txt`) at -j JOBS;
#          checks with sqlite3 that every measured run recorded N `cached`
#          rows. Interleaved: one taskrun run, then one ninja run, RUNS times,
#          on one database that grows by a run and N rows each time.
#   grow   the warm run on copies of two databases (taken fresh each time):
#          one holding the 2 runs that set the cache up, one after GROW
#          more warm runs: whether the growing history changes the figure.
#   cold   the key of one task with a BIG-byte input (`t: true
#          [inputs:big]`) on a new database (an empty stat cache), minus
#          the same run of `t: true`, beside `openssl dgst -sha256 big`;
#          the file is read once before, so both hash from the page cache.
#   noop   with nothing declared: N `true` tasks (compare.sh's no-op set) on
#          a new database each time, $TASKRUN beside each build in BASE (a
#          space-separated list of other taskrun binaries, e.g. one built
#          from the commit before the cache), interleaved, and callgrind's
#          instruction count of each one's own process (CALLGRIND=3 runs,
#          0 to skip) when valgrind is there.
# The warm and grow sections need ninja and sqlite3 and stop with a
# message when ninja is missing; the cold one needs openssl.
#
#   apt-get install -y ninja-build sqlite3 openssl    # what it uses
#   bench/cache.sh                          # builds release, all sections
#   N=1000 RUNS=5 bench/cache.sh warm
#   TASKRUN=/path/to/taskrun bench/cache.sh warm   # another build
#   BASE=/tmp/before/release/taskrun bench/cache.sh noop
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-5000}
JOBS=${JOBS:-2}
RUNS=${RUNS:-15}
GROW=${GROW:-30}
BIG=${BIG:-1073741824}
WORK=${BENCH_WORK:-/tmp/taskrun-bench-cache}
CALLGRIND=${CALLGRIND:-3}
SECTIONS=${*:-warm grow cold}
mkdir -p "$WORK"

if [ -z "${TASKRUN:-}" ]; then
  cargo build --release --quiet
  TASKRUN=$PWD/target/release/taskrun
fi
have() { command -v "$1" >/dev/null 2>&1; }
need() {
  have "$1" && return 0
  echo "cache.sh: SKIPPING '$section': $1 is missing (apt-get install -y $2)" >&2
  return 1
}

# Wall seconds of one run of a command; a failure is said, not hidden.
wall() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1 || echo "cache.sh: failed: $*" >&2
  end=$(date +%s%N)
  awk -v ns=$((end - start)) 'BEGIN { printf "%.4f", ns / 1e9 }'
}
# median [min-max] of the numbers on stdin, in the unit they are in.
spread() { sort -g | awk '{ v[NR] = $1 } END { printf "%.1f [%.1f-%.1f]", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ms() { awk '{ printf "%.2f\n", $1 * 1000 }'; }

# The warm set: N inputs of 4 KiB (their mtimes a minute old, so that the
# stat cache trusts their hashes under the racy rule), the task file and
# build.ninja, both stored or built once and run once more, so that the
# measured runs are no-ops with a trusted stat cache.
setup_warm() {
  local dir=$WORK/warm-$N i
  rm -rf "$dir"; mkdir -p "$dir/in" "$dir/out"
  head -c $((N * 4096)) /dev/urandom | split -a 6 -d -b 4096 - "$dir/in/x"
  for ((i = 0; i < N; i++)); do mv "$dir/in/x$(printf %06d "$i")" "$dir/in/$i.txt"; done
  touch -d '1 minute ago' "$dir"/in/*.txt
  for ((i = 0; i < N; i++)); do
    echo "t$i: cp in/$i.txt out/$i.txt [inputs:in/$i.txt] [outputs:out/$i.txt]"
  done >"$dir/tasks.txt"
  { printf 'rule cp\n  command = cp $in $out\n'
    for ((i = 0; i < N; i++)); do echo "build out/ninja-$i.txt: cp in/$i.txt"; done; } >"$dir/build.ninja"
  (cd "$dir" && "$TASKRUN" run tasks.txt --jobs "$JOBS" --timeout 0 --db taskrun.db >/dev/null)
  (cd "$dir" && ninja -j "$JOBS" >/dev/null)
  # The outputs were hashed as they were written: a hash is trusted once
  # the file is older than its hashing by 2 s, so wait and hash again.
  sleep 3
  (cd "$dir" && "$TASKRUN" run tasks.txt --jobs "$JOBS" --timeout 0 --db taskrun.db >/dev/null)
  check_cached "$dir/taskrun.db"
  cp "$dir/taskrun.db" "$WORK/warm-$N-set-up.db"
}

# Fails loudly unless the newest run of DB recorded N cached tasks.
check_cached() {
  local got
  got=$(sqlite3 "$1" "SELECT count(*) FROM tasks WHERE status = 'cached' AND run_id = (SELECT max(id) FROM runs)")
  [ "$got" = "$N" ] || { echo "cache.sh: the last run of $1 has $got cached tasks, not $N" >&2; exit 1; }
}

warm_run() { (cd "$1" && wall "$TASKRUN" run tasks.txt --jobs "$JOBS" --timeout 0 --db "${2:-taskrun.db}"); }

echo "Machine: $(nproc) cores, $(uname -r); $TASKRUN; N=$N, -j $JOBS."
echo
for section in $SECTIONS; do
  case $section in
    warm)
      need ninja ninja-build && need sqlite3 sqlite3 || continue
      setup_warm
      dir=$WORK/warm-$N
      t=() g=()
      for ((r = 0; r < RUNS; r++)); do
        t+=("$(warm_run "$dir")"); check_cached "$dir/taskrun.db"
        g+=("$(cd "$dir" && wall ninja -j "$JOBS")")
      done
      (cd "$dir" && ninja -j "$JOBS" | grep -q 'no work to do') || echo "cache.sh: ninja had work to do" >&2
      echo "Warm no-op, $RUNS interleaved rounds, median [min-max] ms (µs a task is the median's):"
      echo
      echo "| tool | ms | µs a task |"; echo "|---|---|---:|"
      for tool in taskrun ninja; do
        if [ $tool = taskrun ]; then v=("${t[@]}"); else v=("${g[@]}"); fi
        m=$(printf '%s\n' "${v[@]}" | median)
        echo "| $tool | $(printf '%s\n' "${v[@]}" | ms | spread) | $(awk -v m="$m" -v n="$N" 'BEGIN { printf "%.1f", m * 1e6 / n }') |"
      done
      echo "| taskrun / ninja (per round) | $(paste <(printf '%s\n' "${t[@]}") <(printf '%s\n' "${g[@]}") | awk '{ print $1 / $2 }' \
        | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f [%.2f-%.2f]", v[int((NR + 1) / 2)], v[1], v[NR] }') | |"
      echo
      echo "taskrun's runs in order (ms; the database grows by a run each): $(printf '%s\n' "${t[@]}" | ms | tr '\n' ' ')"
      echo "database: $(du -h "$dir/taskrun.db" | cut -f1), $(sqlite3 "$dir/taskrun.db" 'SELECT count(*) FROM runs') runs"
      echo ;;
    grow)
      need sqlite3 sqlite3 || continue
      dir=$WORK/warm-$N
      [ -f "$WORK/warm-$N-set-up.db" ] || { need ninja ninja-build || continue; setup_warm; }
      cp "$WORK/warm-$N-set-up.db" "$dir/grown.db"
      for ((r = 0; r < GROW; r++)); do (cd "$dir" && "$TASKRUN" run tasks.txt --jobs "$JOBS" --timeout 0 --db "$dir/grown.db" >/dev/null); done
      check_cached "$dir/grown.db"
      small=() big=()
      for ((r = 0; r < RUNS; r++)); do
        cp "$WORK/warm-$N-set-up.db" "$dir/measured.db"; small+=("$(warm_run "$dir" "$dir/measured.db")")
        cp "$dir/grown.db" "$dir/measured.db"; big+=("$(warm_run "$dir" "$dir/measured.db")"); check_cached "$dir/measured.db"
      done
      rm -f "$dir/measured.db"*
      echo "Warm no-op on a copy of a database of 2 runs and of $((GROW + 2)) runs ($(du -h "$dir/grown.db" | cut -f1)), $RUNS interleaved, median [min-max] ms:"
      echo
      echo "| database | ms |"; echo "|---|---|"
      echo "| 2 runs | $(printf '%s\n' "${small[@]}" | ms | spread) |"
      echo "| $((GROW + 2)) runs | $(printf '%s\n' "${big[@]}" | ms | spread) |"
      echo ;;
    cold)
      need openssl openssl || continue
      dir=$WORK/cold
      mkdir -p "$dir"
      [ "$(stat -c %s "$dir/big" 2>/dev/null || echo 0)" = "$BIG" ] || head -c "$BIG" /dev/urandom >"$dir/big"
      touch -d '1 minute ago' "$dir/big"
      cat "$dir/big" >/dev/null
      echo 't: true [inputs:big]' >"$dir/hash.txt"
      echo 't: true' >"$dir/plain.txt"
      h=() p=() o=()
      for ((r = 0; r < RUNS; r++)); do
        rm -rf "$dir"/db* "$dir/.taskrun"; h+=("$(cd "$dir" && wall "$TASKRUN" run hash.txt --db db)")
        sqlite3 "$dir/db" "SELECT count(*) FROM file_stat_cache" | grep -qx 1 || echo "cache.sh: the input was not hashed" >&2
        rm -rf "$dir"/db* "$dir/.taskrun"; p+=("$(cd "$dir" && wall "$TASKRUN" run plain.txt --db db)")
        o+=("$(wall openssl dgst -sha256 "$dir/big")")
      done
      mh=$(printf '%s\n' "${h[@]}" | median); mp=$(printf '%s\n' "${p[@]}" | median); mo=$(printf '%s\n' "${o[@]}" | median)
      echo "Cold hashing of $BIG bytes (page-cached), $RUNS interleaved, median [min-max] ms:"
      echo
      echo "| what | ms | MB/s |"; echo "|---|---|---:|"
      echo "| taskrun, t: true [inputs:big], new db | $(printf '%s\n' "${h[@]}" | ms | spread) | |"
      echo "| taskrun, t: true, new db | $(printf '%s\n' "${p[@]}" | ms | spread) | |"
      echo "| taskrun's key (the difference of the medians) | $(awk -v a="$mh" -v b="$mp" 'BEGIN { printf "%.1f", (a - b) * 1000 }') | $(awk -v a="$mh" -v b="$mp" -v n="$BIG" 'BEGIN { printf "%.0f", n / (a - b) / 1e6 }') |"
      echo "| openssl dgst -sha256 | $(printf '%s\n' "${o[@]}" | ms | spread) | $(awk -v a="$mo" -v n="$BIG" 'BEGIN { printf "%.0f", n / a / 1e6 }') |"
      echo "| taskrun / openssl throughput | $(awk -v a="$mh" -v b="$mp" -v o="$mo" 'BEGIN { printf "%.2f", o / (a - b) }') | |"
      echo ;;
    noop)
      [ -n "${BASE:-}" ] || { echo "cache.sh: SKIPPING 'noop': set BASE to the taskrun binaries to compare with" >&2; continue; }
      dir=$WORK/noop
      mkdir -p "$dir"
      for ((i = 0; i < N; i++)); do echo "t$i: true"; done >"$dir/tasks.txt"
      bins=("$TASKRUN" $BASE)
      declare -A times=() instr=()
      for ((r = 0; r < RUNS; r++)); do
        for b in "${!bins[@]}"; do
          rm -f "$dir"/db*
          times[$b]+="$(cd "$dir" && wall "${bins[$b]}" run tasks.txt --jobs "$JOBS" --timeout 0 --db db) "
        done
      done
      if have valgrind && [ "$CALLGRIND" -gt 0 ]; then
        for ((r = 0; r < CALLGRIND; r++)); do
          for b in "${!bins[@]}"; do
            rm -f "$dir"/db* "$dir"/callgrind.out
            (cd "$dir" && valgrind --tool=callgrind --trace-children=no --callgrind-out-file=callgrind.out \
              "${bins[$b]}" run tasks.txt --jobs "$JOBS" --timeout 0 --db db >/dev/null 2>&1)
            instr[$b]+="$(awk '/^summary:/ { print $2 }' "$dir/callgrind.out") "
          done
        done
      fi
      echo "No-op, nothing declared: $N \`true\` tasks at -j $JOBS on a new database, $RUNS interleaved, median [min-max];"
      echo "instructions of the taskrun process (callgrind, median of $CALLGRIND):"
      echo
      echo "| build | ms | / first (per round) | instructions | / first |"; echo "|---|---|---:|---:|---:|"
      t0=$(echo "${times[0]}" | tr ' ' '\n' | grep . | median); i0=$(echo "${instr[0]:-}" | tr ' ' '\n' | grep . | median || true)
      for b in "${!bins[@]}"; do
        tb=$(echo "${times[$b]}" | tr ' ' '\n' | grep . | median); ib=$(echo "${instr[$b]:-}" | tr ' ' '\n' | grep . | median || true)
        echo "| ${bins[$b]} | $(echo "${times[$b]}" | tr ' ' '\n' | grep . | ms | spread) | $(paste <(echo "${times[$b]}" | tr ' ' '\n' | grep .) <(echo "${times[0]}" | tr ' ' '\n' | grep .) \
          | awk '{ print $1 / $2 }' | median | awk '{ printf "%.3f", $1 }') \
| ${ib:--} | $( [ -n "$ib" ] && awk -v a="$ib" -v b="$i0" 'BEGIN { printf "%.3f", a / b }' || echo -) |"
      done
      echo ;;
    *) echo "cache.sh: unknown section $section (warm grow cold noop)" >&2; exit 2 ;;
  esac
done
