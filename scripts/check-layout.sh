#!/usr/bin/env bash
# Checks the rules of ARCHITECTURE.md's "The layout" that a compiler does not: which folder of
# src/ may include which, that only net/ includes curl, that include/personagen/ includes nothing
# of ours but itself, and that synth/ never writes to the terminal. Prints one line per breach
# and exits 1 if there is any. Usage: scripts/check-layout.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# Each folder and the folders it may include, besides itself and personagen/ (include/).
declare -A allowed=(
  [util]=""
  [input]="util"
  [net]="util"
  [store]="util input net"
  [synth]="util input net store"
  [dedup]="util input net store"
  [report]="util input net store dedup"
  [app]="util input net store synth dedup report"
)

breaches=0
breach() {
  echo "layout: $*" >&2
  breaches=$((breaches + 1))
}

for dir in src/*/; do
  layer=$(basename "$dir")
  [ -n "${allowed[$layer]+set}" ] || { breach "$dir is not a known subsystem (see ARCHITECTURE.md)"; continue; }
  while IFS=: read -r file line include; do
    target=${include%%/*}
    case " $layer personagen ${allowed[$layer]} " in
      *" $target "*) ;;
      *) breach "$file:$line includes \"$include\": $layer/ may not include $target/" ;;
    esac
  done < <(grep -Ho -n '^#include "[a-z_]*/[^"]*"' "$dir"* | sed 's/#include "\(.*\)"/\1/')
done

while IFS=: read -r file line _; do
  case "$file" in src/net/*) ;; *) breach "$file:$line includes curl: only src/net/ may" ;; esac
done < <(grep -Hn '#include <curl/' -r src include || true)

while IFS=: read -r file line include; do
  case "$include" in
    *'"personagen/'*) ;;
    *) breach "$file:$line: include/personagen/ may include only the standard library and itself" ;;
  esac
done < <(grep -Hn '#include "' include/personagen/*.h || true)

# The code of synth/, without comments and string literals, must not name a standard stream.
for file in src/synth/*; do
  while IFS=: read -r line _; do
    breach "$file:$line: synth/ never writes to the terminal; report through RunStatus"
  done < <(perl -pe 's{"(?:[^"\\]|\\.)*"}{""}g; s{//.*}{}' "$file" |
    grep -nE '\b(stderr|stdout|stdin|std::cout|std::cerr|std::clog|printf|fprintf|puts|fputs|isatty)\b' ||
    true)
done

[ "$breaches" -eq 0 ] || exit 1
echo "layout ok"
