#!/usr/bin/env bash
# Builds dualkey and runs the whole test suite: unit and integration tests,
# the labelled cases, the shared corpus gate and short fuzz runs. ctest prints
# the summary last.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
scripts/install-deps.sh
# libFuzzer targets need clang; built apart, with ASan+UBSan.
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DDUALKEY_FUZZ=ON -DDUALKEY_TESTS=OFF \
  -DDUALKEY_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$jobs" >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDUALKEY_FUZZ_BIN_DIR="$PWD/build-fuzz"
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs" --timeout 600
