#!/usr/bin/env bash
# scripts/test.sh with the TSan tree as well: the concurrent tests run again
# under ThreadSanitizer (another compile of the library; not yet in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
DUALKEY_TSAN_SUITE=1 exec scripts/test.sh
