#!/usr/bin/env bash
# What kill -9 costs: requests sent per persona when a run is killed KILLS times and resumed
# each time, against nginx + echo with a delay, counted from nginx's log. Two modes on the same
# binary:
#   journal          as shipped: a resume keeps what the journal vouches for (issue 9 item 6)
#   checkpoint-only  checkpoint.journal is deleted after each kill, so a resume goes back to the
#                    last checkpoint: what every resume did before the journal
# Usage: bench/kill9.sh
# Environment: PERSONAS=5000 KILLS=10 JOBS=64 DELAY=0.2 (seconds per reply)
#   KILL_MIN=0.5 KILL_MAX=2.5 (seconds a run lives before its kill) SEED=1
#   PERSONAGEN=PATH (else build/bench-release is built, as bench/run.sh does)
# A benchmark: it reports, and fails only when a run loses or duplicates a persona.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/build/bench/kill9
mkdir -p "$work"
personas=${PERSONAS:-5000} kills=${KILLS:-10} jobs=${JOBS:-64} delay=${DELAY:-0.2}
kill_min=${KILL_MIN:-0.5} kill_max=${KILL_MAX:-2.5}
RANDOM=${SEED:-1}
say() { echo "kill9: $*" >&2; }

scripts/install-deps.sh nginx libnginx-mod-http-echo curl python3 procps
source bench/server.sh
personagen_binary "$work"
start_server "$work/nginx"
input=$(personas_file "$root/build/bench" "$personas")
url=$base/counted/delay/$delay/v1

# seconds between KILL_MIN and KILL_MAX, from bash's seeded RANDOM
pause() { awk -v a="$kill_min" -v b="$kill_max" -v r="$RANDOM" 'BEGIN { print a + (b - a) * r / 32767 }'; }

measure() {
  local mode=$1 out=$work/out-$1 landed=0 before after
  rm -rf "$out"
  before=$(wc -l <"$work/nginx/counted.log" 2>/dev/null || echo 0)
  local args=(synth -i "$input" -t math -o "$out" -q -j "$jobs" --base-url "$url" --model bench)
  for ((k = 0; k < kills; k++)); do
    "$pg" "${args[@]}" &
    local pid=$!
    sleep "$(pause)"
    if kill -9 "$pid" 2>/dev/null; then landed=$((landed + 1)); fi
    wait "$pid" 2>/dev/null || true
    [ "$mode" = checkpoint-only ] && rm -f "$out/checkpoint.journal"
  done
  "$pg" "${args[@]}" || { say "$mode: the final run failed"; exit 1; }
  after=$(wc -l <"$work/nginx/counted.log")
  local records
  records=$(cat "$out"/math-*.jsonl | wc -l)
  [ "$records" = "$personas" ] || { say "$mode: $records records for $personas personas"; exit 1; }
  local sent=$((after - before))
  printf '| %s | %d | %d | %d | %d | %.3f |\n' "$mode" "$personas" "$landed" "$jobs" "$sent" \
    "$(awk -v s="$sent" -v p="$personas" 'BEGIN { print s / p }')"
}

echo "| mode | personas | kills landed | -j | requests sent | requests per persona |"
echo "|---|---|---|---|---|---|"
measure journal
measure checkpoint-only
