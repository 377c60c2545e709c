#!/usr/bin/env bash
# The whole test suite under the sanitizers (scripts/test.sh, and so CI,
# runs it): unit and integration tests, the labelled cases,
# the shared corpus gate, the attack suite and short fuzz runs. Each test runs
# once, in the tree that can tell the most:
#   build-fuzz (clang, ASan+UBSan): the fuzz targets and every tests/<module>
#     but the package test; the library is compiled there once for both, so
#     ASan+UBSan cost no extra compile of the library.
#   build (gcc, RelWithDebInfo): the binary users get, the benchmarks, the
#     package test, the shared corpus gate, the format and module-fence checks.
#   build-tsan (clang, TSan): the concurrent tests again (daemon, proxies,
#     vault, gateway, faults, client, approval store, audit), last, and only
#     while CI's time allows (below): it is a third compile of the library.
# DUALKEY_TSAN_SUITE: auto (the default) runs the TSan tree when no more than
# DUALKEY_TSAN_START_BY seconds (default 3000) have passed since the start,
# builds it only until DUALKEY_TIME_LIMIT (default 5400, CI's 90 minutes)
# less 20 minutes, and cuts its tests 5 minutes before that limit; a TSan
# tree skipped or cut for time is said loudly in the last lines, and a test
# that failed under TSan fails the run. 1 runs it whatever the time, 0 never.
# Sanitizer reports from any process (test binaries and the dualkey processes
# they start) are written under build-*/sanitizer-reports and fail the run.
# ctest prints each tree's summary; the last lines sum them up. Every long
# step says what it is doing and shows its progress.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
start=$SECONDS
tsan=${DUALKEY_TSAN_SUITE:-auto}
time_limit=${DUALKEY_TIME_LIMIT:-5400}
tsan_start_by=${DUALKEY_TSAN_START_BY:-3000}
steps=$([[ $tsan == 0 ]] && echo 5 || echo 6)
n=0
step() { n=$((n + 1)); printf '\n==> [%d/%d] %s (%ds so far)\n' "$n" "$steps" "$1" "$((SECONDS - start))"; }
# The sanitizer trees keep -O2 but only line tables for debug information:
# enough for every report's file:line (a fuzz crash's too), and the objects
# are a third smaller, so compiling and linking cost less.
# Measured, CPU seconds to compile src/daemon/http_listener.cc under TSan:
# -O2 -g 27.5, -O2 -gline-tables-only 21.2, -O1 -gline-tables-only 20.1,
# -fsyntax-only 7.7; under ASan+UBSan (object size): -O2 -g 27.3 (10.7 MB),
# -O2 -gline-tables-only 24.8 (7.4 MB), -O1 -gline-tables-only 22.8 (7.5 MB).
san_flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -gline-tables-only -DNDEBUG"
  "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -gline-tables-only -DNDEBUG")
# The concurrent tests, run again under TSan.
tsan_modules="daemon;pg_proxy;mcp_proxy;vault;gateway;fault;client;approval;audit"

step "Debian packages"
scripts/install-deps.sh

# libFuzzer targets need clang. The ASan+UBSan tree holds them and the tests.
step "the fuzz targets and the tests (clang, ASan+UBSan)"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DDUALKEY_FUZZ=ON -DDUALKEY_TESTS=ON -DDUALKEY_TEST_EXCLUDE=package \
  -DDUALKEY_TREE_CHECKS=OFF -DDUALKEY_BENCH=OFF "${san_flags[@]}" \
  -DDUALKEY_FUZZ_BIN_DIR="$PWD/build-fuzz" >/dev/null
cmake --build build-fuzz -j"$jobs"

step "dualkey, the package and proxy tests and the benchmarks (gcc, the release build)"
# The PostgreSQL proxy's tests run against this build too: it is all
# coroutines, and GCC 12 has miscompiled coroutine temporaries that clang
# (the sanitizer trees) compiles right (a TLS upstream aborted the proxy).
# -g1 (line tables and function names, enough for a backtrace) rather than
# -g: measured on src/daemon/http_listener.cc, gcc -O2 -g 14.3 CPU s and a
# 12.3 MB object, -O2 -g1 10.7 s and 4.1 MB; the code is the same.
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" \
  "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" "-DDUALKEY_TEST_MODULES=package;pg_proxy" >/dev/null
cmake --build build -j"$jobs"

failed=()
retried=()
notices=()
# run_suite NAME DIR: ctest in DIR, sanitizer reports collected apart.
# A test that fails runs once more (--repeat until-pass:2): under the
# sanitizers, on 2 busy cores, a timing-bound test can miss once. Its first
# failure and output stay in the log, and the last lines name it; a test
# that fails twice fails the run, and so does a fuzz target's short run that
# fails even once.
# A third argument bounds the run (seconds); a run cut there is a notice.
# failed_tries LOG: the name of the test of each failed try in a ctest log.
failed_tries() {
  sed -nE 's/^ *[0-9]*\/?[0-9]* *Test +#[0-9]+: ([^ ]+) \.*\*+(Failed|Timeout|Exception|Subprocess).*/\1/p' "$1"
}
run_suite() {
  local name=$1 dir=$2 limit=${3:-} reports log status=0
  reports="$PWD/$dir/sanitizer-reports"
  log="$PWD/$dir/ctest-output.log"
  rm -rf "$reports" && mkdir -p "$reports"
  local supp="$PWD/scripts/sanitizers"
  ASAN_OPTIONS="log_path=$reports/asan:log_exe_name=1" \
    UBSAN_OPTIONS="log_path=$reports/asan:log_exe_name=1:print_stacktrace=1:halt_on_error=1" \
    LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0" \
    TSAN_OPTIONS="log_path=$reports/tsan:log_exe_name=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp" \
    ${limit:+timeout --kill-after=20 "$limit"} \
    ctest --test-dir "$dir" --output-on-failure -j"$jobs" --timeout 600 --repeat until-pass:2 |
    tee "$log" || status=$?
  local test_name
  if [[ -n $limit ]] && ((status == 124 || status == 137)); then
    # Cut at the time limit: what ran is judged, a test that failed on both
    # of its tries fails the run.
    notices+=("$name: cut after ${limit}s, at CI's time limit; the tests that finished are judged")
    while read -r test_name; do
      failed+=("$name: $test_name")
    done < <(failed_tries "$log" | sort | uniq -d)
  elif ((status != 0)); then
    failed+=("$name: tests")
  fi
  while read -r test_name; do
    retried+=("$name: $test_name")
    # A fuzz run that failed found an input that breaks the code; another
    # run with other random inputs passing proves nothing.
    [[ $test_name == fuzz_* ]] && failed+=("$name: $test_name found a failing input")
  done < <(failed_tries "$log" | sort -u)
  if compgen -G "$reports/*" >/dev/null; then
    printf '\n==> sanitizer reports in %s:\n' "$dir"
    for report in "$reports"/*; do
      printf -- '--- %s\n' "${report#"$PWD"/}"
      head -n 60 "$report"
    done
    failed+=("$name: sanitizer reports")
  fi
}

step "the test suite under ASan+UBSan, and the fuzz targets' short runs"
run_suite asan build-fuzz
step "the package test, the PostgreSQL proxy's tests, the shared corpus gate, format and module fence (release build)"
run_suite release build

# The concurrent tests again under TSan, while CI's time allows.
remaining() { echo $((time_limit - (SECONDS - start) - $1)); }
if [[ $tsan == 1 ]] || { [[ $tsan == auto ]] && ((SECONDS - start <= tsan_start_by)) && (($(remaining 1200) > 60)); }; then
  step "the concurrent tests under TSan (clang; its own tree, build-tsan)"
  CC=clang CXX=clang++ cmake -S . -B build-tsan -DDUALKEY_SANITIZE=thread -DDUALKEY_TESTS=ON \
    -DDUALKEY_TEST_MODULES="$tsan_modules" -DDUALKEY_TREE_CHECKS=OFF -DDUALKEY_BENCH=OFF "${san_flags[@]}" >/dev/null
  build_status=0
  if [[ $tsan == 1 ]]; then
    cmake --build build-tsan -j"$jobs" || build_status=$?
  else
    timeout --kill-after=20 "$(remaining 1200)" cmake --build build-tsan -j"$jobs" || build_status=$?
  fi
  if ((build_status == 124 || build_status == 137)); then
    notices+=("tsan: not run: its build did not finish 20 minutes before the time limit (${time_limit}s)")
  elif ((build_status != 0)); then
    failed+=("tsan: build")
  elif [[ $tsan == 1 ]]; then
    run_suite tsan build-tsan
  else
    run_suite tsan build-tsan "$(remaining 300)"
  fi
elif [[ $tsan == auto ]]; then
  step "the concurrent tests under TSan: skipped for time"
  notices+=("tsan: not run: $((SECONDS - start))s had passed, more than DUALKEY_TSAN_START_BY=${tsan_start_by}s")
fi

printf '\n==> done in %ds\n' "$((SECONDS - start))"
if ((${#retried[@]})); then
  printf '==> failed once (their output is above; each passed on its second try unless listed as FAILED):\n'
  printf '    %s\n' "${retried[@]}"
fi
if ((${#notices[@]})); then
  printf '==> NOTE: %s\n' "${notices[@]}"
fi
if ((${#failed[@]})); then
  printf '==> FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "==> every tree passed"
