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
#
# It shows one record of each task (persona -> output, cut to a line or two) and ends by saying
# where everything is and what to try next against a real endpoint. BIN_DIR=build/test (say)
# uses binaries already built there instead of building build/release.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS=0
bin_dir=${BIN_DIR:-build/release}
if [ -z "${BIN_DIR:-}" ]; then
  scripts/install-deps.sh
  scripts/build.sh release >/dev/null
fi
bin=$bin_dir/personagen
out=${OUT:-out/demo}
method=${METHOD:-persona-few-shot}
limit=${LIMIT:-0}
mkdir -p "$out"  # --summary files go beside the task directories, and must have a place to go

# $OPENAI_BASE_URL as the demo prints it: any user:password@ before the host masked as ***@.
shown_url=$(printf '%s' "${OPENAI_BASE_URL:-}" | sed -E 's#^([A-Za-z][A-Za-z0-9+.-]*://)?[^/@]*@#\1***@#')

if [ -z "${OPENAI_BASE_URL:-}" ]; then
  echo "demo: \$OPENAI_BASE_URL is not set: using the bundled local test server (canned replies, no real LLM)." >&2
  port_file=$(mktemp -u)
  "$bin_dir"/personagen-test-server --port 0 --port-file "$port_file" >/dev/null &
  server=$!
  trap 'kill $server 2>/dev/null; rm -f "$port_file"' EXIT
  for _ in $(seq 100); do [ -s "$port_file" ] && break; sleep 0.1; done
  [ -s "$port_file" ] || { echo "demo: the test server did not start" >&2; exit 1; }
  export OPENAI_BASE_URL="http://127.0.0.1:$(cat "$port_file")/v1"
  export OPENAI_MODEL=${OPENAI_MODEL:-test-model}
else
  echo "demo: using $shown_url" >&2
  : "${OPENAI_MODEL:?set OPENAI_MODEL to the model to use}"
  [ "$limit" = 0 ] && limit=10
fi

tasks=(math reasoning instruction knowledge npc tool)
for task in "${tasks[@]}"; do
  "$bin" synth -i examples/personas.jsonl -t "$task" -m "$method" --limit "$limit" \
    -o "$out/$task" --summary "$out/$task.summary.json"
done

# One record of each task, as a reader would first look at it: the persona, then the start of
# what the model made of it (JSON outputs compacted onto one line).
echo
echo "demo: one record of each task (persona -> output):"
for task in "${tasks[@]}"; do
  shard=$(compgen -G "$out/$task/$task-*.jsonl" | head -n 1 || true)
  [ -n "$shard" ] || continue
  head -n 1 "$shard" | jq -r --arg task "$task" '
    def line(n): gsub("\\s+"; " ") | if length > n then .[:n] + "..." else . end;
    "  \($task | . + " " * (12 - length))\(.persona | line(86))\n" +
    "  \(" " * 12)-> \(.output | line(150))"'
done
echo

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

echo
echo "demo: done in ${SECONDS}s. Everything is in $out/:"
echo "  $out/<task>/        each task's records: JSONL shards, manifest.json, a dataset card"
echo "  $out/sft.jsonl      the verified (problem, solution) pairs as chat messages"
echo "  $out/report.html    the report page (open it in a browser; $out/report.json has every figure)"
echo "  look at records:    jq -c '{persona, output}' $out/math/math-*.jsonl | head -3"
echo
if [ -n "${server:-}" ]; then
  echo "Next, against a real endpoint (any OpenAI-compatible server: OpenAI, vLLM, llama.cpp):"
  echo "  export OPENAI_API_KEY=...     # if it needs a key"
  echo "  $bin check --base-url https://api.openai.com/v1 --model gpt-4o-mini"
  echo "  $bin synth -i examples/personas.jsonl -t math --limit 10 -o out/math \\"
  echo "    --base-url https://api.openai.com/v1 --model gpt-4o-mini"
else
  echo "Next, a bigger run on this endpoint (check it first):"
  echo "  $bin check --base-url $shown_url --model $OPENAI_MODEL"
  echo "  $bin synth -i examples/personas.jsonl -t math -o out/math \\"
  echo "    --base-url $shown_url --model $OPENAI_MODEL"
fi
