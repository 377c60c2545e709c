#!/usr/bin/env bash
# Runs clang-tidy with the repository's .clang-tidy over every C++ file of
# the tree the build compiles (src/, tests/, bench/, fuzz/, tools/) and fails
# on any finding (WarningsAsErrors).
# usage: scripts/check-tidy.sh [BUILD_DIR]   (default build-fuzz)
# BUILD_DIR needs compile_commands.json (every CMake tree here writes one) and
# its generated files (built packs: build the tree, or at least
# `cmake --build BUILD_DIR --target dualkey_packs`). A clang tree is best: the
# flags are clang's. Takes about 12 minutes of CPU; -j follows nproc.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-fuzz}
if [ ! -f "$dir/compile_commands.json" ]; then
  echo "check-tidy.sh: $dir/compile_commands.json is missing: configure that tree first" >&2
  exit 2
fi
tidy=$(command -v run-clang-tidy || command -v run-clang-tidy-14 || true)
if [ -z "$tidy" ]; then
  echo "check-tidy.sh: run-clang-tidy is not installed (Debian: clang-tidy)" >&2
  exit 2
fi
root=$(pwd -P)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
"$tidy" -p "$dir" -j "$(nproc)" -quiet "^$root/(src|tests|bench|fuzz|tools)/" >"$log" 2>&1 || status=$?
# Only the findings (run-clang-tidy also echoes each command and the
# "N warnings generated" counts of headers it was told to ignore), without
# the colours run-clang-tidy always asks for.
sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '(warning|error): ' | sort -u || true
if [ "$status" -ne 0 ]; then
  echo "check-tidy.sh: clang-tidy found the above (checks: .clang-tidy)" >&2
  exit 1
fi
echo "check-tidy.sh: clean ($(grep -c '"file"' "$dir/compile_commands.json") compile commands)"
