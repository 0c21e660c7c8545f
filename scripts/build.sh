#!/usr/bin/env bash
# Configures and builds into build/<name>. Usage: scripts/build.sh [name] [extra cmake args...]
#   scripts/build.sh release -DCMAKE_BUILD_TYPE=Release
#   scripts/build.sh asan -DPERSONAGEN_SANITIZE=address,undefined
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:-release}
shift || true
cmake -S . -B "build/$name" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "build/$name" -j "$(nproc)"
