#!/usr/bin/env bash
# Benchmarks dedup at scale (issue 15): N personas in memory, out of core under --memory, and in
# the four stages over PARTS parts on this machine; wall time, peak RSS and temporary disk of
# each, whether the three kept sets are byte-identical, and the bytes per record of each
# intermediate. Prints Markdown tables; bench/RESULTS.md holds the latest run and the
# extrapolation to a billion personas.
# Usage: bench/dedup_scale.sh
# Environment:
#   PERSONAS=10000000  personas (bench/gen_personas.py; made once and kept, about 1.1 GB at 10M)
#   MEMORY=2G          the out-of-core run's --memory, and each stage's
#   PARTS=4            parts of the staged run (the input is cut into PARTS files for it)
#   BAND_JOBS=2        buckets jobs, each a range of the bands
#   WORK=DIR           where everything goes (default $TMPDIR/personagen-bench-dedup, else /tmp/...)
#   PERSONAGEN=PATH    benchmark this binary instead of building build/bench-release (Release)
# Benchmarks report figures; a missed target never makes this script fail.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${PERSONAS:-10000000}
memory=${MEMORY:-2G}
parts=${PARTS:-4}
band_jobs=${BAND_JOBS:-2}
work=${WORK:-${TMPDIR:-/tmp}/personagen-bench-dedup}
mkdir -p "$work"
say() { echo "bench: $*" >&2; }

[ -x /usr/bin/time ] || scripts/install-deps.sh time python3
source bench/server.sh
personagen_binary "$work"

personas=$work/personas-$n.jsonl
if [ ! -f "$personas" ] || [ "$(wc -l <"$personas")" != "$n" ]; then
  say "writing $n personas to $personas"
  bench/gen_personas.py "$n" "$personas"
fi

# run NAME DIR COMMAND...: runs COMMAND under /usr/bin/time while sampling, every half second,
# the size of DIR (the temporary or work directory) and the command's anonymous memory (RssAnon:
# its RSS less the files it maps, which buckets does with the signatures' values; the kernel may
# drop those pages at any time); appends "NAME wall cpu rss_mb anon_mb disk_mb" to $work/times.
run() {
  local name=$1 dir=$2 rc=0 peak=0 anon=0 size timer sampler wall cpu rss
  shift 2
  mkdir -p "$dir"
  /usr/bin/time -v -o "$work/$name.time" "$@" 2>"$work/$name.stderr" &
  timer=$!
  (while :; do
    du -sb "$dir" 2>/dev/null | cut -f1 >>"$work/$name.du"
    for child in $(pgrep -P "$timer"); do
      awk '/^RssAnon:/ { print $2 }' "/proc/$child/status" 2>/dev/null >>"$work/$name.anon"
    done
    sleep 0.5
  done) &
  sampler=$!
  wait "$timer" || rc=$?
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
  [ "$rc" = 0 ] || say "$name: exit $rc: $(tail -c 300 "$work/$name.stderr")"
  while read -r size; do [ "${size:-0}" -gt "$peak" ] && peak=$size; done <"$work/$name.du"
  while read -r size; do [ "${size:-0}" -gt "$anon" ] && anon=$size; done <"$work/$name.anon"
  read -r wall cpu rss < <(time_figures "$work/$name.time")
  awk -v f="$name $wall $cpu $rss" -v anon="$anon" -v disk="$peak" \
    'BEGIN { printf "%s %.1f %.1f\n", f, anon / 1024, disk / 1048576 }' >>"$work/times"
}

rm -f "$work/times" "$work"/*.du "$work"/*.anon
rm -rf "$work/tmp" "$work/stages" "$work/out"
mkdir -p "$work/out"

say "in memory ($n personas)"
run memory "$work/tmp" "$pg" -q dedup -i "$personas" -o "$work/out/memory.jsonl" --memory 64G

say "out of core under --memory $memory"
run out-of-core "$work/tmp" "$pg" -q dedup -i "$personas" -o "$work/out/ooc.jsonl" \
  --memory "$memory" --tmp "$work/tmp"

say "staged: $parts parts, $band_jobs bucket jobs, one after another on this machine"
mkdir -p "$work/stages"
split -n "l/$parts" -d -a 3 --additional-suffix=.jsonl "$personas" "$work/stages/in-"
inputs=("$work"/stages/in-*.jsonl)
w=$work/stages/work
bands=12  # dedup's default banding for 128 permutations at 0.9: 12 bands of 10 rows
per=$(((bands + band_jobs - 1) / band_jobs))
for ((i = 0; i < parts; i++)); do
  run "signatures-$i" "$w" "$pg" -q dedup signatures -i "${inputs[@]}" --part "$i/$parts" -o "$w" \
    --memory "$memory" --tmp "$w/tmp"
done
for ((b = 0; b < bands; b += per)); do
  last=$((b + per - 1 < bands - 1 ? b + per - 1 : bands - 1))
  run "buckets-$b-$last" "$w" "$pg" -q dedup buckets -o "$w" --bands "$b-$last" \
    --memory "$memory" --tmp "$w/tmp"
done
run clusters "$w" "$pg" -q dedup clusters -o "$w" --memory "$memory" --tmp "$w/tmp"
for ((i = 0; i < parts; i++)); do
  run "filter-$i" "$w" "$pg" -q dedup filter -i "${inputs[@]}" --part "$i/$parts" -o "$w" \
    --output "$work/out/staged-$i.jsonl"
done
cat "$work"/out/staged-*.jsonl >"$work/out/staged.jsonl"

same() { cmp -s "$work/out/memory.jsonl" "$1" && echo "identical" || echo "DIFFERENT"; }
kept=$(wc -l <"$work/out/memory.jsonl")
echo
echo "dedup of $n personas ($(du -h "$personas" | cut -f1)); kept $kept in memory;"
echo "out of core: $(same "$work/out/ooc.jsonl"); staged: $(same "$work/out/staged.jsonl")"
echo
echo "| run | wall s | CPU s | peak RSS MB | peak anonymous MB | peak disk MB |"
echo "|---|---:|---:|---:|---:|---:|"
awk '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }' "$work/times"
echo
echo "Intermediates in the work directory (bytes per input record):"
echo
echo "| files | MB | bytes/record |"
echo "|---|---:|---:|"
for pattern in 'signatures/*/exact*' 'signatures/*/band*' 'signatures/*/values*' 'buckets/*/*' 'clusters/*'; do
  bytes=$( (compgen -G "$w/$pattern" || true) | xargs -r du -cb | tail -n 1 | cut -f1)
  awk -v p="$pattern" -v b="${bytes:-0}" -v n="$n" \
    'BEGIN { printf "| %s | %.1f | %.1f |\n", p, b / 1048576, b / n }'
done
