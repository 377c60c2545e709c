#!/bin/sh
# Added latency of the HTTP gateway per request (p50, p99), plain HTTP and
# HTTPS upstreams on loopback, direct vs through `dualkey gateway http`.
# Last line: added_p50_us=N added_p99_us=M
set -e
cd "$(dirname "$0")/.."
cmake --build build --target dualkey gateway_bench >/dev/null
exec build/gateway_bench "${1:-5000}"
