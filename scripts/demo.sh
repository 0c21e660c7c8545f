#!/usr/bin/env bash
# The main job end to end on the bundled examples: installs what is missing, builds,
# synthesizes every task from examples/personas.jsonl into out/demo/<task>/, then builds an SFT
# set from the math problems: solve (3 samples, 2 must agree) -> decontam -> dedup -> chat JSONL,
# and ends with `personagen report` over those records: out/demo/report.html.
#
# Without $OPENAI_BASE_URL it starts the bundled local test server (canned replies) and says so.
# With it, it uses that endpoint, $OPENAI_MODEL and $OPENAI_API_KEY, and LIMIT personas per task
# (default 10) so a first try costs little; with $EMBED_MODEL too, the report embeds a sample with
# that model (the local server always has embeddings).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release >/dev/null
bin=build/release/personagen
out=${OUT:-out/demo}
method=${METHOD:-persona-few-shot}
limit=${LIMIT:-0}
mkdir -p "$out"  # --summary files go beside the task directories, and must have a place to go

if [ -z "${OPENAI_BASE_URL:-}" ]; then
  echo "demo: \$OPENAI_BASE_URL is not set: using the bundled local test server (canned replies, no real LLM)." >&2
  port_file=$(mktemp -u)
  build/release/personagen-test-server --port 0 --port-file "$port_file" >/dev/null &
  server=$!
  trap 'kill $server 2>/dev/null; rm -f "$port_file"' EXIT
  for _ in $(seq 100); do [ -s "$port_file" ] && break; sleep 0.1; done
  [ -s "$port_file" ] || { echo "demo: the test server did not start" >&2; exit 1; }
  export OPENAI_BASE_URL="http://127.0.0.1:$(cat "$port_file")/v1"
  export OPENAI_MODEL=${OPENAI_MODEL:-test-model}
else
  echo "demo: using $OPENAI_BASE_URL" >&2
  : "${OPENAI_MODEL:?set OPENAI_MODEL to the model to use}"
  [ "$limit" = 0 ] && limit=10
fi

for task in math reasoning instruction knowledge npc tool; do
  "$bin" synth -i examples/personas.jsonl -t "$task" -m "$method" --limit "$limit" \
    -o "$out/$task" --summary "$out/$task.summary.json"
done

# The SFT chain (README, "Build an SFT set"): verified solutions of the math problems, without
# those that quote the example test set or repeat another, as chat messages for fine-tuning.
"$bin" synth -t solve -i "$out/math" -o "$out/solve" --extra-body '{"seed": 1}' \
  --summary "$out/solve.summary.json"
"$bin" decontam -i "$out/solve" --field problem --against examples/test-set.jsonl \
  -o "$out/solve.clean.jsonl"
"$bin" dedup -i "$out/solve.clean.jsonl" --field problem -o "$out/solve.dedup.jsonl"
jq -c '{messages: [{role: "user", content: .problem}, {role: "assistant", content: .solution}]}' \
  "$out/solve.dedup.jsonl" >"$out/sft.jsonl"
echo "demo: $(wc -l <"$out/sft.jsonl") verified (problem, solution) pairs in $out/sft.jsonl" \
  "($(cat "$out"/solve/unverified.jsonl 2>/dev/null | wc -l) problems without agreement in $out/solve/unverified.jsonl)"

# The report: every task's records side by side, and the verified solve set, on one page with
# charts (and with embeddings, output similarity against persona similarity).
embed=()
if [ -n "${server:-}" ]; then
  embed=(--embed-model test-embedding)
elif [ -n "${EMBED_MODEL:-}" ]; then
  embed=(--embed-model "$EMBED_MODEL")
fi
"$bin" report -q -i "$out/math" --compare "$out/reasoning" "$out/instruction" "$out/knowledge" \
  "$out/npc" "$out/tool" "$out/solve" --json "$out/report.json" --html "$out/report.html" \
  ${embed[@]+"${embed[@]}"}
echo "demo: the report of these records is in $out/report.html (open it in a browser; every figure"
echo "  is also in $out/report.json); in the terminal: $bin report -i $out/math"

echo
echo "demo: done. Records are in $out/<task>/; for example:"
echo "  jq -c '{persona, output: .output[:80]}' $out/math/math-*.jsonl | head -3"
jq -c '{persona, output: .output[:80]}' "$out"/math/math-*.jsonl | head -3 || true  # head closes the pipe early
