// CLI glue for `dualkey hook`, `dualkey install` and `dualkey doctor`: the
// logic lives in src/hook/ (hook.h, install.h).
#include <pwd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "client/client.h"
#include "hook/hook.h"
#include "hook/install.h"

namespace dualkey::cli {
namespace {

std::string Home() {
  const char* home = std::getenv("HOME");
  return home != nullptr && *home == '/' ? home : "";
}

std::string SelfPath() {
  char buffer[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  if (n <= 0) return "dualkey";
  return std::string(buffer, static_cast<std::size_t>(n));
}

void WriteAll(int fd, const std::string& text) {
  const char* data = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    ssize_t n = write(fd, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    left -= static_cast<std::size_t>(n);
  }
}

// Reads at most `limit` + 1 bytes: enough to tell that the input is too big.
std::string ReadStdin(std::size_t limit) {
  std::string input;
  char buffer[65536];
  while (input.size() <= limit) {
    ssize_t n = read(STDIN_FILENO, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    input.append(buffer, static_cast<std::size_t>(n));
  }
  return input;
}

int Emit(const hook::CommandOutput& output) {
  std::cout << output.out << std::flush;
  std::cerr << output.err << std::flush;
  return output.exit_code;
}

}  // namespace

int RunHook(const HookOptions& options) {
  hook::Agent agent;
  if (!hook::ParseAgent(options.agent, &agent)) {
    // Unknown protocol: exit 2 with a reason is what every agent reads as a block.
    WriteAll(STDERR_FILENO, "dualkey: unknown agent '" + options.agent +
                                "' (claude, cursor, codex or gemini); the tool call is blocked\n");
    return 2;
  }
  hook::ArmWatchdog(agent, hook::kWatchdogSeconds);
  hook::Environment env;
  env.home = Home();
  env.process_cwd = CurrentDirectory();
  // The daemon decides whenever it answers (client::Client's rules: on a
  // protected install the layout's socket only, its peer verified, and the
  // environment's overrides ignored); otherwise the local verdict stands.
  client::ClientOptions client_options;
  client_options.timeout_ms = 3000;
  client::Client client = client::Client::ForThisProcess(client_options);
  std::unique_ptr<hook::RemoteDecider> decider =
      options.probe ? hook::DaemonProbe(client) : hook::DaemonDecider(client);
  env.daemon = decider.get();
  if (client.protected_install()) {
    // Observe mode there comes from the system policy only; its log goes
    // where the account's home is, not where $XDG_STATE_HOME points.
    if (passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_dir != nullptr)
      env.observe_log = std::string(pw->pw_dir) + "/.local/state/dualkey/observe.jsonl";
  } else if (const char* state = std::getenv("XDG_STATE_HOME"); state != nullptr && *state == '/') {
    env.observe_log = std::string(state) + "/dualkey/observe.jsonl";
  } else if (!env.home.empty()) {
    env.observe_log = env.home + "/.local/state/dualkey/observe.jsonl";
  }
  hook::HookReply reply = hook::Handle(agent, ReadStdin(hook::kMaxInputBytes), env);
  WriteAll(STDOUT_FILENO, reply.out);
  WriteAll(STDERR_FILENO, reply.err);
  return reply.exit_code;
}

int RunInstall(const InstallOptions& options) {
  hook::InstallRequest request;
  if (!hook::ParseAgent(options.agent, &request.agent)) {
    std::cerr << "dualkey: unknown agent '" << options.agent
              << "' (claude, cursor, codex or gemini)\n";
    return 2;
  }
  request.project = options.project;
  request.uninstall = options.uninstall;
  request.dry_run = options.dry_run;
  request.binary = options.binary.empty() ? SelfPath() : options.binary;
  request.project_dir = options.project_dir.empty() ? CurrentDirectory() : options.project_dir;
  request.home = Home();
  request.agent_version = options.agent_version;
  return Emit(hook::Install(request));
}

// `dualkey hook AGENT` (main.cc answers the plain form before parsing): the subcommand and its
// options.
std::unique_ptr<Command> NewHookCommand() {
  class Hook final : public Command {
   public:
    void Add(CLI::App& app) override {
      hook_cmd = app.add_subcommand(
          "hook",
          "Answer an agent's pre-tool-use hook: reads its JSON on stdin, replies in its protocol.\n"
          "Wired into the agent by `dualkey install AGENT`.");
      hook_cmd->add_option("agent", hook.agent, "claude, cursor, codex or gemini")->required();
      hook_cmd->add_flag(
          "--probe", hook.probe,
          "ask without registering anything (what `dualkey doctor` runs): no pending "
          "approval, no breaker count, never uses an approval");
    }
    bool Parsed() const override { return hook_cmd->parsed(); }
    int Run() override { return RunHook(hook); }

   private:
    HookOptions hook;
    CLI::App* hook_cmd = nullptr;
  };
  return std::make_unique<Hook>();
}

// `dualkey install AGENT` and `dualkey install mcp --client AGENT`: the subcommand and its options.
std::unique_ptr<Command> NewInstallCommand() {
  class Install final : public Command {
   public:
    void Add(CLI::App& app) override {
      install_cmd = app.add_subcommand(
          "install",
          "Wire dualkey into an agent's hook config (idempotent, keeps other settings, backs up).");
      install_cmd
          ->add_option("agent", install.agent,
                       "claude, cursor, codex or gemini; or mcp (with --client) to wrap that "
                       "client's MCP servers in `dualkey mcp`")
          ->required();
      install_cmd->add_flag("--project", install.project,
                            "the project's config instead of the user's");
      install_cmd->add_flag(
          "--user", [&](std::int64_t) { install.project = false; }, "the user's config (default)");
      install_cmd->add_flag("--uninstall", install.uninstall, "remove dualkey's hook again");
      install_cmd->add_flag("--dry-run", install.dry_run, "show what would change, change nothing");
      install_cmd->add_option("--binary", install.binary, "dualkey binary the hook calls");
      install_cmd->add_option("--dir", install.project_dir, "project directory (default: here)");
      install_cmd->add_option("--agent-version", install.agent_version,
                              "the agent's version, for options newer versions have "
                              "(default: ask the agent; 'none' to skip)");

      install_cmd->add_option("--client", install_mcp.client,
                              "install mcp: the MCP client whose servers to wrap: claude, cursor, "
                              "gemini or codex");
      install_cmd->add_flag("--json", install_mcp.json, "install mcp: print JSON");
    }
    bool Parsed() const override { return install_cmd->parsed(); }
    int Run() override {
      if (install.agent != "mcp") return RunInstall(install);
      install_mcp.project = install.project;
      install_mcp.uninstall = install.uninstall;
      install_mcp.dry_run = install.dry_run;
      install_mcp.binary = install.binary;
      install_mcp.project_dir = install.project_dir;
      return RunInstallMcp(install_mcp);
    }

   private:
    InstallOptions install;
    InstallMcpOptions install_mcp;
    CLI::App* install_cmd = nullptr;
  };
  return std::make_unique<Install>();
}

}  // namespace dualkey::cli
