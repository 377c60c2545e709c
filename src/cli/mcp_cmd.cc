// `dualkey mcp` (the MCP proxy, proxy/mcp/mcp_proxy.h) and `dualkey install mcp`
// (hook/install_mcp.h): argument checks and output, nothing more.
#include <unistd.h>

#include <CLI/CLI.hpp>
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
  request.project_dir = options.project_dir.empty() ? CurrentDirectory() : options.project_dir;
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

// `dualkey mcp`: the subcommand and its options.
std::unique_ptr<Command> NewMcpCommand() {
  class Mcp final : public Command {
   public:
    void Add(CLI::App& app) override {
      mcp_cmd = app.add_subcommand(
          "mcp",
          "Guard an MCP server: sit between the client and the server, hold destructive "
          "tools/call.\n"
          "  dualkey mcp -- npx -y @modelcontextprotocol/server-filesystem ~/work     (stdio)\n"
          "  dualkey mcp --upstream https://mcp.example.com/mcp --listen 127.0.0.1:8808  (HTTP)\n"
          "Every tools/call is classified first (SQL, shell, paths, URLs in its arguments, the\n"
          "tool's name; the server's annotations as hints). Allowed calls pass untouched; a held\n"
          "call never reaches the server: the client gets an error result naming the approval,\n"
          "and after `dualkey approve ID` the identical call passes once. Everything else\n"
          "(initialize, lists, notifications, progress, cancellation) passes through unchanged.\n"
          "`dualkey install mcp --client claude` wraps every server of a client for you.");
      mcp_cmd->add_option(
          "--upstream", mcp.upstream_url,
          "the server's Streamable HTTP endpoint (http:// or https://) instead of a "
          "command");
      mcp_cmd->add_option("--listen", mcp.listen,
                          "with --upstream: where the client connects, HOST:PORT (default "
                          "127.0.0.1:0, a free port; the URL is printed on stdout)");
      mcp_cmd->add_option(
          "--server-name", mcp.server_name,
          "the server's name for policies and approvals (default: the name it gives "
          "in initialize)");
      mcp_cmd->add_option("--agent", mcp.agent, "who asks, for approvals (default: mcp:SERVER)");
      mcp_cmd->add_option("--socket", mcp.socket_path,
                          "the daemon's socket (default: $DUALKEY_SOCKET or STATE/dualkey.sock)");
      mcp_cmd->add_option("--cwd", mcp.cwd, "the client's working directory (default: here)");
      mcp_cmd->add_option("--max-message-bytes", mcp.max_message_bytes,
                          "larger client messages are refused (default 16 MiB)");
      mcp_cmd->add_option("--header-timeout", mcp.header_timeout_seconds,
                          "with --upstream: seconds to send a whole request header (10)");
      mcp_cmd->add_option("--idle-timeout", mcp.idle_timeout_seconds,
                          "with --upstream: seconds a kept-alive connection may wait for its next "
                          "request, and a body or a write to the client may take (60)");
      mcp_cmd->add_option("--upstream-connect-timeout", mcp.upstream_connect_timeout_seconds,
                          "with --upstream: seconds to connect to the server (10)");
      mcp_cmd->add_option("--upstream-timeout", mcp.upstream_timeout_seconds,
                          "with --upstream: seconds the server has to start its answer (300)");
      mcp_cmd->add_option("--max-connections", mcp.max_connections,
                          "with --upstream: open client connections at most (256)");
      mcp_cmd->add_option("--max-connections-per-client", mcp.max_connections_per_client,
                          "with --upstream: open connections from one address at most (128)");
      mcp_cmd->add_flag("-v,--verbose", mcp.verbose, "one line per decision on stderr");
      mcp_cmd->add_option("server", mcp.server_command, "the server's command line, after --");
    }
    bool Parsed() const override { return mcp_cmd->parsed(); }
    int Run() override { return RunMcp(mcp); }

   private:
    mcpproxy::ProxyOptions mcp;
    CLI::App* mcp_cmd = nullptr;
  };
  return std::make_unique<Mcp>();
}

}  // namespace dualkey::cli
