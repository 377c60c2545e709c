#!/usr/bin/env bash
# Builds dualkey and runs the whole test suite: unit and integration tests,
# the labelled cases, the shared corpus gate, the attack suite and short
# fuzz runs, by default under the sanitizers (see below). ctest prints the
# summary last. Every long step says what it is doing and shows its progress.
set -euo pipefail
cd "$(dirname "$0")/.."
# The suite runs under the sanitizers: every test binary under ASan+UBSan (in
# the fuzz tree, no extra library compile), the release tree for the binary
# users get, the package test and the tree checks (scripts/test-sanitized.sh;
# then the concurrent tests under TSan, a third library compile, while CI's
# 90 minutes allow; DUALKEY_TSAN_SUITE=1 always, =0 never).
# DUALKEY_RELEASE_SUITE=1: the quicker release-only suite below (every test in
# the gcc tree, no sanitizer) for a fast local run.
if [[ ${DUALKEY_RELEASE_SUITE:-0} != 1 ]]; then exec scripts/test-sanitized.sh; fi
jobs=$(nproc)
start=$SECONDS
step() { printf '\n==> [%s] %s (%ds so far)\n' "$1" "$2" "$((SECONDS - start))"; }

step 1/4 "Debian packages"
scripts/install-deps.sh

# libFuzzer targets need clang; built apart, with ASan+UBSan.
step 2/4 "fuzz targets (clang, ASan+UBSan; about 6 minutes on 2 cores the first time)"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DDUALKEY_FUZZ=ON -DDUALKEY_TESTS=OFF \
  -DDUALKEY_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$jobs"

step 3/4 "dualkey, the tests and the benchmarks"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDUALKEY_FUZZ_BIN_DIR="$PWD/build-fuzz"
cmake --build build -j"$jobs"

step 4/4 "the test suite"
ctest --test-dir build --output-on-failure -j"$jobs" --timeout 600
printf '\n==> done in %ds\n' "$((SECONDS - start))"
