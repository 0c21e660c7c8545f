#!/usr/bin/env bash
# Profiles scenario A (no delay) on a smaller input, to show where personagen spends its CPU;
# with TASK=solve, scenario H (synth -t solve, K = 3) instead.
# Usage: bench/profile.sh
# Environment:
#   PROFILERS="perf callgrind"  perf: sampled cpu-clock with DWARF call graphs (user + kernel);
#                               callgrind: exact instruction counts in user space, unaffected by
#                               other load on the machine (about 50 times slower)
#   N=20000 J=64                personas and requests in flight
#   DELAY=SECONDS               profile against the delayed location (e.g. DELAY=1 J=4096 is
#                               scenario C); without it, the no-delay one
#   TASK=solve                  synth -t solve --samples 3 on N records (3N requests) against
#                               /solve/v1 (no DELAY); default: synth -t math on N personas
#   PERSONAGEN=PATH             profile this binary instead of building build/bench-prof
#                               (Release flags plus -g -fno-omit-frame-pointer)
# Writes build/bench/profile-{perf,callgrind}[-delayD]-jJ.txt (the self and the inclusive top).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$PWD/build/bench
mkdir -p "$work"
profilers=${PROFILERS:-perf callgrind}
n=${N:-20000}
j=${J:-64}

scripts/install-deps.sh nginx libnginx-mod-http-echo curl python3 procps linux-perf valgrind
if [ -n "${PERSONAGEN:-}" ]; then
  pg=$(realpath "$PERSONAGEN")
else
  echo "bench: building build/bench-prof (Release with symbols and frame pointers)" >&2
  scripts/build.sh bench-prof -DCMAKE_BUILD_TYPE=Release -DPERSONAGEN_TESTS=OFF \
    "-DCMAKE_CXX_FLAGS=-Wno-error=restrict -g -fno-omit-frame-pointer" >"$work/build-prof.log" 2>&1 ||
    { tail -n 30 "$work/build-prof.log" >&2; exit 1; }
  pg=$PWD/build/bench-prof/personagen
fi
source bench/server.sh
task=${TASK:-math} path="" label=""
case $task in
  math) input=$(personas_file "$work" "$n") what="$n personas" task_args=(-t math) ;;
  solve)
    [ -z "${DELAY:-}" ] || { echo "bench: TASK=solve has no DELAY" >&2; exit 2; }
    input=$(records_file "$work" "$n") what="$n lines ($((n * 3)) requests)"
    task_args=(-t solve --samples 3) path=/solve label=-solve ;;
  *) echo "bench: unknown TASK $task (math, solve)" >&2; exit 2 ;;
esac
start_server "$work/nginx-profile"
export OPENAI_BASE_URL=$base${DELAY:+/delay/$DELAY}$path/v1
synth=("$pg" -q synth -i "$input" "${task_args[@]}" -o "$work/out/profile" -j "$j" --model bench
  --shard-size 100000000)

# simplify N: the first N non-empty lines of its input, with C++ names shortened for reading
# (template arguments become <>) and trailing padding gone. Reads all its input, so that no
# profiler in the pipe dies of a closed pipe.
simplify() {
  python3 -c '
import re, sys
limit, printed = int(sys.argv[1]), 0
for line in sys.stdin:
    out, depth = [], 0
    for ch in line.rstrip():
        if ch == "<":
            depth += 1
            if depth == 1:
                out.append("<>")
        elif ch == ">" and depth > 0:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    text = re.sub(r"\s+-\s+-\s*$", "", "".join(out)).replace("json_abi_v3_11_2::", "")
    if text.strip() and printed < limit:
        print(text)
        printed += 1
' "$1"
}

suffix=$label${DELAY:+-delay$DELAY}-j$j
for profiler in $profilers; do
  rm -rf "$work/out/profile"
  case $profiler in
    perf)
      perf record -q -e cpu-clock -F 2000 --call-graph dwarf,16384 -o "$work/perf.data" \
        -- "${synth[@]}"
      {
        echo "# perf: $what, -j $j, $OPENAI_BASE_URL; cpu-clock samples (user + kernel)"
        echo "## self"
        perf report -i "$work/perf.data" --no-children --stdio --sort symbol -g none \
          --percent-limit 0.5 2>/dev/null | grep -v '^#' | simplify 40
        echo "## inclusive (children)"
        perf report -i "$work/perf.data" --children --stdio --sort symbol -g none \
          --percent-limit 2 2>/dev/null | grep -v '^#' | simplify 60
      } >"$work/profile-perf$suffix.txt"
      ;;
    callgrind)
      valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" "${synth[@]}" \
        2>"$work/callgrind.log"
      {
        echo "# callgrind: $what, -j $j, $OPENAI_BASE_URL; instructions in user space"
        echo "## self"
        callgrind_annotate "$work/callgrind.out" 2>/dev/null | simplify 60
        echo "## inclusive"
        callgrind_annotate --inclusive=yes "$work/callgrind.out" 2>/dev/null | simplify 80
      } >"$work/profile-callgrind$suffix.txt"
      ;;
    *) echo "bench: unknown profiler $profiler (perf, callgrind)" >&2; exit 2 ;;
  esac
  rm -rf "$work/out/profile"
  echo "bench: wrote $work/profile-$profiler$suffix.txt" >&2
done
