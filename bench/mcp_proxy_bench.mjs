// Latency of tools/call through `dualkey mcp` against the same server
// directly: the official SDK client, server-everything over stdio, `get-sum`
// (allowed by dualkey's policy, so every call is classified and forwarded).
// Usage: node mcp_proxy_bench.mjs DUALKEY_BINARY [CALLS]
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { fileURLToPath } from "node:url";
import path from "node:path";

const dualkey = process.argv[2];
const calls = Number(process.argv[3] ?? 2000);
const here = path.dirname(fileURLToPath(import.meta.url));
const server = path.join(here, "node_modules/@modelcontextprotocol/server-everything/dist/index.js");

async function measure(command, args) {
  const client = new Client({ name: "bench", version: "1" });
  await client.connect(new StdioClientTransport({ command, args, stderr: "ignore" }));
  await client.listTools();
  const sample = async () => {
    const start = process.hrtime.bigint();
    const result = await client.callTool({ name: "get-sum", arguments: { a: 1, b: 2 } });
    const took = Number(process.hrtime.bigint() - start) / 1000;
    if (result.isError) throw new Error("the call was refused: " + JSON.stringify(result));
    return took;
  };
  for (let i = 0; i < 200; ++i) await sample();  // warm-up: JIT, caches
  const times = [];
  for (let i = 0; i < calls; ++i) times.push(await sample());
  await client.close();
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  return { p50: at(0.5), p99: at(0.99) };
}

// Interleaved rounds so drift on a shared machine hits both sides alike.
const rounds = 3;
const direct = [], proxied = [];
for (let r = 0; r < rounds; ++r) {
  direct.push(await measure("node", [server, "stdio"]));
  proxied.push(await measure(dualkey, ["mcp", "--socket", "/nonexistent/bench.sock", "--", "node", server, "stdio"]));
}
const median = (list, key) => list.map((x) => x[key]).sort((a, b) => a - b)[Math.floor(list.length / 2)];
const d50 = median(direct, "p50"), d99 = median(direct, "p99");
const p50 = median(proxied, "p50"), p99 = median(proxied, "p99");
console.log(`calls=${calls} rounds=${rounds} (median of rounds)`);
console.log(`direct  p50_us=${d50.toFixed(0)} p99_us=${d99.toFixed(0)}`);
console.log(`proxied p50_us=${p50.toFixed(0)} p99_us=${p99.toFixed(0)}`);
console.log(`added_p50_us=${(p50 - d50).toFixed(0)} added_p99_us=${(p99 - d99).toFixed(0)}`);
