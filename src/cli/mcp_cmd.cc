// `dualkey mcp` (the MCP proxy, proxy/mcp/mcp_proxy.h) and `dualkey install mcp`
// (hook/install_mcp.h): argument checks and output, nothing more.
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "hook/install_mcp.h"
#include "proxy/mcp/mcp_proxy.h"

namespace dualkey::cli {
namespace {

std::string SelfPath() {
  char buffer[4096];
  ssize_t n = readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  if (n <= 0) return "dualkey";
  return std::string(buffer, static_cast<std::size_t>(n));
}

std::string CurrentDir() {
  char buffer[4096];
  return getcwd(buffer, sizeof(buffer)) != nullptr ? buffer : "";
}

}  // namespace

int RunMcp(const mcpproxy::ProxyOptions& options) {
  const bool http = !options.upstream_url.empty();
  if (http == !options.server_command.empty()) {
    std::cerr << "dualkey mcp: give either a server command after -- (stdio) or --upstream URL "
                 "(Streamable HTTP), not "
              << (http ? "both" : "neither") << ".\n"
              << "  dualkey mcp -- npx -y @modelcontextprotocol/server-filesystem ~/work\n"
              << "  dualkey mcp --upstream https://mcp.example.com/mcp\n";
    return 2;
  }
  if (options.max_message_bytes < 1024) {
    std::cerr << "dualkey mcp: --max-message-bytes must be at least 1024\n";
    return 2;
  }
  return http ? mcpproxy::RunHttpProxy(options) : mcpproxy::RunStdioProxy(options);
}

int RunInstallMcp(const InstallMcpOptions& options) {
  hook::InstallMcpRequest request;
  if (options.client.empty() || !hook::ParseAgent(options.client, &request.client)) {
    std::cerr
        << "dualkey install mcp: --client must be claude, cursor, gemini or codex\n"
        << "  dualkey install mcp --client claude            wrap every server in ~/.claude.json\n"
        << "  dualkey install mcp --client cursor --project  ... in .cursor/mcp.json here\n"
        << "  dualkey install mcp --client claude --uninstall\n";
    return 2;
  }
  request.project = options.project;
  request.uninstall = options.uninstall;
  request.dry_run = options.dry_run;
  request.json = options.json;
  request.binary = options.binary.empty() ? SelfPath() : options.binary;
  request.project_dir = options.project_dir.empty() ? CurrentDir() : options.project_dir;
  const char* home = std::getenv("HOME");
  request.home = home != nullptr ? home : "";
  if (request.home.empty() && !request.project) {
    std::cerr << "dualkey install mcp: $HOME is not set\n";
    return 2;
  }
  hook::CommandOutput output = hook::InstallMcp(request);
  std::cout << output.out;
  std::cerr << output.err;
  return output.exit_code;
}

}  // namespace dualkey::cli
