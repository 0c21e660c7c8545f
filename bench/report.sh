#!/usr/bin/env bash
# Benchmarks `personagen report` (issue 14): one pass over 1M synth-like records, its wall time
# and peak RSS against the targets (<= 30 s, < 500 MB), printed as one Markdown table.
# Usage: bench/report.sh
# Environment:
#   RECORDS=1000000   records in the input (bench/gen_records.py --full: math records of 40 to
#                     80 words, 30% of them opening with one of four templates, 5% near
#                     duplicates, with finish_reason, usage, attempts and task)
#   WORK=DIR          where the input, the JSON and the time report go (default
#                     $TMPDIR/personagen-bench-report, else /tmp/...; never the repository: 1M
#                     records are about 730 MB). The input is made once and kept.
#   PERSONAGEN=PATH   benchmark this binary instead of building build/bench-release (Release)
# Benchmarks report figures; a missed target never makes this script fail.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${RECORDS:-1000000}
work=${WORK:-${TMPDIR:-/tmp}/personagen-bench-report}
mkdir -p "$work"
say() { echo "bench: $*" >&2; }

[ -x /usr/bin/time ] || scripts/install-deps.sh time python3
source bench/server.sh
personagen_binary "$work"

records=$work/records-full-$n.jsonl
if [ ! -f "$records" ] || [ "$(wc -l <"$records")" != "$n" ]; then
  say "writing $n records to $records"
  bench/gen_records.py "$n" "$records" --full
fi

say "personagen report over $n records"
rm -f "$work/report.json"
rc=0
/usr/bin/time -v -o "$work/report.time" "$pg" report -i "$records" --json "$work/report.json" \
  --quiet 2>"$work/report.stderr" || rc=$?
read -r wall cpu rss_mb < <(time_figures "$work/report.time")
[ "$rc" = 0 ] || say "report: exit $rc: $(head -c 300 "$work/report.stderr")"

# The records the report counted: "records" of the first "run" object in the JSON.
counted=$(python3 - "$work/report.json" <<'EOF' 2>/dev/null || echo "?"
import json, sys


def find(node):
    if isinstance(node, dict):
        if isinstance(node.get("run"), dict) and "records" in node["run"]:
            return node["run"]["records"]
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = find(child)
        if found is not None:
            return found
    return None


found = find(json.load(open(sys.argv[1])))
print("?" if found is None else found)
EOF
)
met=$(awk -v w="$wall" -v m="$rss_mb" -v rc="$rc" -v c="$counted" -v n="$n" \
  'BEGIN { print (rc == 0 && c == n && w <= 30 && m < 500) ? "yes" : "no" }')
rate=$(awk -v n="$n" -v s="$wall" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
mb=$(du -m "$records" | cut -f1)

echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'). Machine: $(nproc) cores ($(awk -F': ' \
  '/^model name/ { print $2; exit }' /proc/cpuinfo)), load average $(cut -d' ' -f1-3 /proc/loadavg). \
Binary: $pg. Input: $records ($mb MB)."
echo
echo "| records | wall s | records/s | CPU s | peak RSS MB | records counted | exit | target | met? |"
echo "|---|---|---|---|---|---|---|---|---|"
echo "| $n | $wall | $rate | $cpu | $rss_mb | $counted | $rc | <= 30 s, < 500 MB | $met |"
