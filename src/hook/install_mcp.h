// `dualkey install mcp --client AGENT`: rewrites each stdio MCP server in an
// agent's own config as `dualkey mcp --server-name NAME -- COMMAND ARGS...`,
// in place, idempotently, with a backup; --uninstall restores the original
// command and arguments (they are kept, in order, after the `--`).
#pragma once

#include <string>
#include <vector>

#include "hook/install.h"

namespace dualkey::hook {

struct InstallMcpRequest {
  Agent client = Agent::kClaude;
  bool project = false;  // the project's config (.mcp.json, .cursor/mcp.json, ...)
  bool uninstall = false;
  bool dry_run = false;
  bool json = false;   // print one JSON object
  std::string binary;  // absolute path of dualkey written into the configs
  std::string project_dir;
  std::string home;
  std::string timestamp;  // backup suffix; empty: now
};

// The files dualkey edits for a client, in order (Claude Code's ~/.claude.json
// holds user servers and per-project ones).
std::vector<std::string> McpConfigPaths(Agent client, bool project, const std::string& project_dir,
                                        const std::string& home);

// The stdio MCP servers a client's config files name, read as `install mcp`
// reads them (nothing is written): each with the command line the client
// runs and whether it already goes through `dualkey mcp`.
struct McpServer {
  std::string config;  // the file
  std::string scope;   // "user", "project", "project /path" (Claude's per-project servers)
  std::string name;
  std::string command;  // as the client runs it
  std::vector<std::string> args;
  bool wrapped = false;  // `dualkey mcp ... -- SERVER...`
  std::string status;    // "already wrapped", "not wrapped", "skipped: ..." (HTTP servers...)
};
struct McpConfigRead {
  std::string path;
  bool exists = false;
  std::string error;  // unreadable or malformed
  std::vector<McpServer> servers;
};
std::vector<McpConfigRead> ListMcpServers(Agent client, bool project,
                                          const std::string& project_dir, const std::string& home);

// Exit status: 0 when every file is as asked (changed or already so), 2 when a
// file cannot be read, parsed or written (it is then left untouched).
CommandOutput InstallMcp(const InstallMcpRequest& request);

}  // namespace dualkey::hook
