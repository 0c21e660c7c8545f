#!/usr/bin/env bash
# Installs the Debian packages personagen needs to build and test. Quiet and quick when they are
# already there. Nothing is ever downloaded by the build itself.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git jq
  libcli11-dev nlohmann-json3-dev libcurl4-openssl-dev libspdlog-dev
  zlib1g-dev libzstd-dev libxxhash-dev
  libutf8proc-dev libhnswlib-dev libsimdjson-dev
  libgtest-dev libgmock-dev libcpp-httplib-dev
  clang-format python3-yaml
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
