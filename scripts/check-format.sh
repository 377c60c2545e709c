#!/usr/bin/env bash
# Fails, naming each file, when a C++ file git tracks is not clang-format
# clean (.clang-format). Fix with: clang-format -i FILE...
# usage: scripts/check-format.sh [CLANG_FORMAT]
set -euo pipefail
cd "$(dirname "$0")/.."
format=${1:-clang-format}
command -v "$format" >/dev/null || { echo "check-format: $format is not installed" >&2; exit 2; }
bad=0
while IFS= read -r -d '' file; do
  if ! "$format" --dry-run --Werror "$file" >/dev/null 2>&1; then
    echo "not clang-format clean: $file"
    bad=$((bad + 1))
  fi
done < <(git ls-files -z 'src/*.cc' 'src/*.h' 'tests/*.cc' 'tests/*.h' 'bench/*.cc' 'fuzz/*.cc' 'tools/*.cc')
if [ "$bad" -gt 0 ]; then
  echo "$bad file(s) need: clang-format -i FILE" >&2
  exit 1
fi
echo "every C++ file is clang-format clean"
