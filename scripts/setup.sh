#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: installs what dualkey needs, builds
# build/dualkey and runs the main job, `dualkey demo`: the 47-command incident
# replayed against a throwaway production through dualkey's real integrations.
# Its last line says what was lost.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
exec build/dualkey demo "$@"
