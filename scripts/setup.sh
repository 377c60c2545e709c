#!/usr/bin/env bash
# One command on a fresh Debian 12 machine, as root or as a user with sudo:
# installs the Debian packages dualkey needs (the only step that needs root;
# it asks sudo only when you are not root), builds build/dualkey (only that:
# the tests and benchmarks are built by scripts/test.sh), and runs the main
# job, `dualkey demo`: the 47-command incident replayed against a throwaway
# production through dualkey's real integrations. Its last line says what
# was lost.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
step() { printf '\n==> [%s] %s (%ds so far)\n' "$1" "$2" "$((SECONDS - start))"; }

step 1/3 "Debian packages (apt; a second run takes a second)"
scripts/install-deps.sh

step 2/3 "building build/dualkey only (about 5-10 minutes on 2 cores the first time)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)" --target dualkey

step 3/3 "dualkey demo"
status=0
build/dualkey demo "$@" || status=$?
cat <<'NEXT'

Next:
  build/dualkey check -- 'rm -rf ~'      what would this do, would dualkey let it run?
  scripts/test.sh                        build and run the whole test suite
  sudo build/dualkey setup               the protected install, for real use: the daemon
                                         runs as its own user, so an agent running as you
                                         cannot approve its own actions or switch dualkey off
NEXT
exit "$status"
