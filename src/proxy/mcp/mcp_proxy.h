// `dualkey mcp`: a proxy between an MCP client and a real MCP server. Every
// `tools/call` is classified (the mcp channel, with the annotations the server
// gave in `tools/list`) before it reaches the server; a held call is answered
// with an error tool result naming its approval, and never forwarded.
// Everything else passes through untouched, in both directions.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "base/relay_limits.h"

namespace dualkey::mcpproxy {

// Streamable HTTP's limits (base::RelayLimits): the server may take 300 s
// for its answer's header (a tool may work for minutes; an event stream is
// never cut for being quiet); 256 client connections, 128 from one address
// (one thread each).
struct ProxyOptions : base::RelayLimits {
  ProxyOptions() {
    upstream_timeout_seconds = 300;
    max_connections = 256;
    max_connections_per_client = 128;
  }

  // stdio: the server's command line (argv[0] looked up on PATH).
  std::vector<std::string> server_command;
  // Streamable HTTP: the server's endpoint (http:// or https://) and where the
  // client connects to us (host:port; port 0 picks one, printed on stdout).
  std::string upstream_url;
  std::string listen = "127.0.0.1:0";
  // The server's name in the mcp channel input (what policies and approvals
  // see). Empty: the name the server gives in `initialize`, else the program.
  std::string server_name;
  // Who asks, for the daemon's approvals and breaker. Empty: "mcp:<server>".
  std::string agent;
  std::string socket_path;  // the daemon; empty: install::DefaultSocketPath()
  std::string cwd;          // where the client runs; empty: ours
  std::string home;         // empty: $HOME
  std::size_t max_message_bytes = 16u << 20;
  int daemon_timeout_ms = 5000;
  bool verbose = false;  // one line per decision on stderr
};

// Runs until the client or the server goes. Returns the server's exit status
// when it ended first (128+signal when killed), 0 when the client did, 2 when
// the server cannot be started.
int RunStdioProxy(const ProxyOptions& options);

// Serves until SIGINT/SIGTERM. Returns 0, or 2 when it cannot listen or the
// upstream URL is unusable.
int RunHttpProxy(const ProxyOptions& options);

}  // namespace dualkey::mcpproxy
