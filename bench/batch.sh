#!/usr/bin/env bash
# Benchmarks `personagen batch export` and `batch import` (issue 12) at 100k and 1M requests:
# lines/s and peak RSS of each, and prints one Markdown table. No server: export writes the
# requests, bench/gen_batch_results.py answers them (shuffled), import turns them into records.
# Usage: bench/batch.sh
# Environment:
#   SIZES="100000 1000000"  the persona counts, one request each (task math, zero-shot)
#   PERSONAGEN=PATH         benchmark this binary instead of building build/bench-release
# Inputs and each size's batch directory (build/bench/batch-N) are kept; a run starts each
# directory afresh. Benchmarks report figures; a missed target never makes this script fail.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$PWD/build/bench
mkdir -p "$work"
read -ra sizes <<<"${SIZES:-100000 1000000}"
say() { echo "bench: $*" >&2; }

[ -x /usr/bin/time ] || scripts/install-deps.sh time python3
source bench/server.sh
personagen_binary "$work"
for n in $(printf '%s\n' "${sizes[@]}" | sort -rn); do personas_file "$work" "$n" >/dev/null; done

# timed NAME COMMAND...: runs COMMAND under GNU time -v (its report in $work/NAME.time, stderr in
# $work/NAME.stderr); sets wall (s), cpu (user + system s), rss_mb and rc.
timed() {
  local name=$1
  shift
  rc=0
  /usr/bin/time -v -o "$work/$name.time" "$@" 2>"$work/$name.stderr" || rc=$?
  read -r wall cpu rss_mb < <(time_figures "$work/$name.time")
  [ "$rc" = 0 ] || say "$name: exit $rc: $(head -c 300 "$work/$name.stderr")"
}
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
lines() { (cat "$@" 2>/dev/null || true) | wc -l; }

rows=()
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for n in "${sizes[@]}"; do
  dir=$work/batch-$n
  rm -rf "$dir"
  say "$n: batch export"
  timed "export-$n" "$pg" batch export -i "$work/personas-$n.jsonl" -t math -m zero-shot \
    --model bench-model -o "$dir" -q
  export_row="$(printf '%s | %s | %s' "$wall" "$(rate "$n" "$wall")" "$rss_mb")"
  export_rc=$rc
  requests=$(lines "$dir"/requests-*.jsonl)
  disk_mb=$(du -cb "$dir"/requests-*.jsonl | awk 'END { printf "%.1f", $1 / 1048576 }')
  files=$(find "$dir" -name 'requests-*.jsonl' | wc -l)

  say "$n: bench/gen_batch_results.py"
  start=$(date +%s.%N)
  bench/gen_batch_results.py "$dir" "$dir"
  gen_s=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

  say "$n: batch import"
  timed "import-$n" "$pg" batch import -i "$dir"/results-*.jsonl -o "$dir" -q
  import_row="$(printf '%s | %s | %s | %s' "$wall" "$(rate "$n" "$wall")" "$cpu" "$rss_mb")"
  import_rc=$rc
  records=$(lines "$dir"/math-*.jsonl)
  failed=$(lines "$dir/failures.jsonl")

  say "$n: batch import again (nothing to add)"
  timed "reimport-$n" "$pg" batch import -i "$dir"/results-*.jsonl -o "$dir"
  said=$(grep -m1 . "$work/reimport-$n.stderr" | cut -c1-120 || true)
  again="$wall s, $rss_mb MB, exit $rc: $said"
  [ "$(lines "$dir"/math-*.jsonl)" = "$records" ] || again="$again; RECORDS CHANGED"

  notes="exports $requests requests in $files files; $records records, $failed failed"
  [ "$records" = "$n" ] && [ "$failed" = 0 ] || notes="$notes (MISMATCH)"
  [ "$export_rc" = 0 ] || notes="$notes; export exit $export_rc"
  [ "$import_rc" = 0 ] || notes="$notes; import exit $import_rc"
  rows+=("| $n | $export_row | $gen_s | $import_row | $disk_mb | $again | $notes |")
done

echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'). Machine: $(nproc) cores ($(awk -F': ' \
  '/^model name/ { print $2; exit }' /proc/cpuinfo)), load average before $load_before, after \
$(cut -d' ' -f1-3 /proc/loadavg). Binary: $pg."
echo
echo "| requests | export s | export lines/s | export peak RSS MB | gen results s | import s |\
 import lines/s | import CPU s | import peak RSS MB | requests files MB | import again |\
 notes |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
