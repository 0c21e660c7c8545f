#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang (ASan + UBSan) into build/fuzz/ and runs each
# for a fixed time on a copy of its seed corpus, so nothing new is written into the repository.
# Usage: scripts/fuzz.sh [seconds-per-target (default 20)] [target...]
# Prints one summary line per target with its number of executions; exits non-zero if a target
# crashed, with the crash input's path in the output.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(record_reader template completion config)

# clang's fuzzer runtime lives in libclang-rt-N-dev, N being the major version of Debian's clang.
scripts/install-deps.sh clang
clang_major=$(clang++ -dumpversion | cut -d. -f1)
scripts/install-deps.sh "libclang-rt-${clang_major}-dev"

out=build/fuzz
mkdir -p "$out"

declare -A sources=(
  [record_reader]="src/input/record_reader.cpp src/input/field_parser.cpp src/input/byte_source.cpp
    src/util/file_io.cpp"
  [template]="src/synth/prompt_template.cpp src/util/hash.cpp src/util/file_io.cpp"
  [completion]="src/net/openai_client.cpp src/synth/tasks.cpp src/synth/output_parsers.cpp
    src/synth/persona_parser.cpp src/synth/answer.cpp src/synth/answer_number.cpp src/synth/judge_reply.cpp"
  [config]="src/app/config_toml.cpp"
)
declare -A max_len=([record_reader]=1048576 [template]=65536 [completion]=65536 [config]=65536)

flags=(-std=c++20 -g -O1 "-fsanitize=fuzzer,address,undefined" -fno-sanitize-recover=all
  -Iinclude -Isrc -Ifuzz)

for t in "${targets[@]}"; do
  [ -n "${sources[$t]:-}" ] || { echo "fuzz: unknown target '$t'" >&2; exit 2; }
  echo "== build fuzz_$t"
  # shellcheck disable=SC2086  # the source lists are meant to split
  clang++ "${flags[@]}" "fuzz/fuzz_$t.cpp" ${sources[$t]} -lz -lzstd -lxxhash -lsimdjson \
    -o "$out/fuzz_$t"
done

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
summary=()
failed=0
for t in "${targets[@]}"; do
  echo "== run fuzz_$t for ${seconds}s"
  corpus="$out/corpus/$t"
  rm -rf "$corpus"
  mkdir -p "$corpus" "$out/crashes/$t"
  cp -r "fuzz/corpus/$t/." "$corpus/"
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
  log="$out/fuzz_$t.log"
  status=0
  "$out/fuzz_$t" "$corpus" "${dict[@]}" -max_total_time="$seconds" -max_len="${max_len[$t]}" \
    -timeout=30 -print_final_stats=1 -artifact_prefix="$out/crashes/$t/" >"$log" 2>&1 ||
    status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ "$status" -ne 0 ]; then
    failed=1
    tail -n 60 "$log"
    artifact=$(sed -n 's/.*Test unit written to //p' "$log" | tail -1)
    summary+=("fuzz_$t: FAILED (exit $status) after ${execs:-?} executions; input: ${artifact:-see $log}")
  else
    summary+=("fuzz_$t: ok, ${execs:-?} executions in ${seconds}s")
  fi
done

echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
