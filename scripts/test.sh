#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs dependencies, checks formatting, builds
# twice (plain and with AddressSanitizer + UBSan) and runs every test in both builds.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
start=$SECONDS

echo "== format check"
mapfile -t sources < <(git ls-files '*.cpp' '*.h' 2>/dev/null || find src include tests -name '*.cpp' -o -name '*.h')
clang-format --dry-run --Werror "${sources[@]}"

echo "== build (release) and test"
scripts/build.sh release -DCMAKE_BUILD_TYPE=RelWithDebInfo
ctest --test-dir build/release --output-on-failure -j 2 --timeout 300

echo "== build (address,undefined sanitizers) and test"
scripts/build.sh asan -DCMAKE_BUILD_TYPE=Debug -DPERSONAGEN_SANITIZE=address,undefined
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build/asan --output-on-failure -j 2 --timeout 600

echo "== all tests passed in $((SECONDS - start))s"
