// CLI glue for `dualkey hook`, `dualkey install` and `dualkey doctor`: the
// logic lives in src/hook/ (hook.h, install.h).
#include <pwd.h>
#include <unistd.h>

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

std::string CurrentDirectory() {
  char buffer[PATH_MAX];
  if (getcwd(buffer, sizeof(buffer)) == nullptr) return {};
  return buffer;
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

}  // namespace dualkey::cli
