#!/usr/bin/env bash
# Runs one libFuzzer target for a while over the seed corpus; new inputs go
# to a scratch directory, never into the source tree.
# usage: fuzz/run.sh BINARY SECONDS [SEED_DIR under fuzz/, default corpus]
set -euo pipefail
bin=$1 seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d)
export LSAN_OPTIONS="suppressions=$here/../scripts/sanitizers/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
trap 'rm -rf "$scratch"' EXIT
"$bin" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 "$scratch" "$here/${3:-corpus}" 2>&1 | tail -n 25
exit "${PIPESTATUS[0]}"
