// A real MCP client (the official SDK) driven one JSON line at a time, so the
// C++ tests can act between calls (approve, inspect files and tables).
//   stdin:  {"op":"connect","transport":"stdio","command":"...","args":[...],"cwd":"..."}
//           {"op":"connect","transport":"http","url":"http://127.0.0.1:PORT/mcp"}
//           {"op":"list"}   {"op":"call","name":"...","arguments":{...}}
//           {"op":"ping"}   {"op":"close"}
//   stdout: one JSON line per command: {"ok":true,...} or {"ok":false,"error":"..."}
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import readline from "node:readline";

const client = new Client({ name: "dualkey-test-client", version: "1.0.0" });
let transport = null;

function reply(value) {
  process.stdout.write(JSON.stringify(value) + "\n");
}

async function handle(command) {
  switch (command.op) {
    case "connect": {
      if (command.transport === "http") {
        transport = new StreamableHTTPClientTransport(new URL(command.url));
      } else {
        transport = new StdioClientTransport({
          command: command.command,
          args: command.args ?? [],
          cwd: command.cwd,
          env: { ...process.env, ...(command.env ?? {}) },
          stderr: "inherit",
        });
      }
      await client.connect(transport);
      return { ok: true, server: client.getServerVersion() ?? null };
    }
    case "list": {
      const result = await client.listTools();
      return { ok: true, tools: result.tools };
    }
    case "call": {
      const result = await client.callTool(
        { name: command.name, arguments: command.arguments ?? {} },
        undefined,
        { timeout: command.timeout_ms ?? 20000 },
      );
      return { ok: true, result };
    }
    case "ping": {
      await client.ping();
      return { ok: true };
    }
    case "close": {
      await client.close();
      return { ok: true };
    }
    default:
      return { ok: false, error: `unknown op ${command.op}` };
  }
}

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  let command;
  try {
    command = JSON.parse(line);
  } catch (error) {
    reply({ ok: false, error: `bad command: ${error.message}` });
    continue;
  }
  try {
    reply(await handle(command));
  } catch (error) {
    reply({ ok: false, error: String(error?.message ?? error), code: error?.code ?? null });
  }
  if (command.op === "close") break;
}
process.exit(0);
