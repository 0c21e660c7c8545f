#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs dependencies, checks formatting, then
# builds and runs every test three ways: plain (RelWithDebInfo), with AddressSanitizer + UBSan,
# and the concurrency tests with ThreadSanitizer. Then runs each fuzz target briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
start=$SECONDS
jobs=$(nproc)

echo "== format check"
mapfile -t sources < <(git ls-files '*.cpp' '*.h' 2>/dev/null || find src include tests fuzz -name '*.cpp' -o -name '*.h')
clang-format --dry-run --Werror "${sources[@]}"
echo "== layout check"
scripts/check-layout.sh

echo "== build and test (plain)"
scripts/build.sh test -DCMAKE_BUILD_TYPE=RelWithDebInfo
ctest --test-dir build/test --output-on-failure -j "$jobs" --timeout 300

echo "== build and test (address,undefined sanitizers)"
scripts/build.sh asan -DCMAKE_BUILD_TYPE=Debug -DPERSONAGEN_SANITIZE=address,undefined
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build/asan --output-on-failure -j "$jobs" --timeout 600

echo "== build and test the concurrency tests (thread sanitizer)"
scripts/build.sh tsan -DCMAKE_BUILD_TYPE=Debug -DPERSONAGEN_SANITIZE=thread
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp" \
  ctest --test-dir build/tsan --output-on-failure -j "$jobs" --timeout 600 \
  -R 'TestServerTest|CurlTransportTest|RequestPool|E2E|FaultMatrix'

if [ -x scripts/fuzz.sh ]; then
  echo "== fuzz (short, fixed time per target)"
  scripts/fuzz.sh "${FUZZ_SECONDS:-10}"
fi

echo "== all tests passed in $((SECONDS - start))s"
