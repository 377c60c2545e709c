#!/usr/bin/env bash
# Added latency per tools/call through `dualkey mcp` vs the same MCP server
# directly, p50 and p99 (SDK client, server-everything over stdio).
#   bench/mcp_proxy_bench.sh [BUILD_DIR] [CALLS]
# Last line: added_p50_us=N added_p99_us=M
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-$here/../build}" && pwd)"
calls="${2:-2000}"
command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "node and npm are needed (scripts/install-deps.sh)" >&2; exit 2; }
[ -x "$build/dualkey" ] || { echo "no $build/dualkey; build it first" >&2; exit 2; }
# The same npm packages as the tests, installed once into the build tree.
node_dir="$build/mcp_proxy_node"
mkdir -p "$node_dir"
cp "$here/../tests/mcp_proxy/node/package.json" "$here/../tests/mcp_proxy/node/package-lock.json" "$node_dir/"
if ! cmp -s "$node_dir/package-lock.json" "$node_dir/node_modules/.dualkey-lock" 2>/dev/null; then
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error) >&2
  cp "$node_dir/package-lock.json" "$node_dir/node_modules/.dualkey-lock"
fi
cp "$here/mcp_proxy_bench.mjs" "$node_dir/"
exec node "$node_dir/mcp_proxy_bench.mjs" "$build/dualkey" "$calls"
