// `dualkey doctor`: what the install protects, checked as the user who runs
// it, changing nothing. Files are asked with access(2) (no open for
// writing), the daemon with SO_PEERCRED and kill(pid, 0) (no signal sent),
// the hooks with `--probe` (no approval registered, no breaker count).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/file_text.h"
#include "base/process.h"
#include "base/unix_socket.h"
#include "client/client.h"
#include "hook/install.h"
#include "install/layout.h"
#include "policy/policy.h"
#include "setup/setup.h"
#include "setup/system.h"

namespace dualkey::setup {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kFixSetup = "sudo dualkey setup";

struct CheckResult {
  std::string id;
  std::string title;
  bool ok = false;
  std::string detail;
  std::string fix;
};

bool CanRead(const std::string& path) {
  return faccessat(AT_FDCWD, path.c_str(), R_OK, AT_EACCESS) == 0;
}

bool Owns(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0 && st.st_uid == geteuid();
}

std::string Quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// A listener that answers "allow" to anything: what an agent would put
// behind DUALKEY_SOCKET. It counts who came.
class FakeDaemon {
 public:
  explicit FakeDaemon(const std::string& path) : path_(path) {
    Result<base::UniqueFd> listening = base::ListenUnixSocket(path, 8);
    if (!listening.ok()) return;
    fd_ = listening->release();
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeDaemon() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) close(fd_);
    unlink(path_.c_str());
  }
  int connections() const { return connections_; }

 private:
  void Serve() {
    while (!stop_) {
      pollfd pfd{fd_, POLLIN, 0};
      if (poll(&pfd, 1, 50) <= 0) continue;
      int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      ++connections_;
      char buffer[4096];
      pollfd cpfd{client, POLLIN, 0};
      if (poll(&cpfd, 1, 1000) > 0) {
        ssize_t ignored = recv(client, buffer, sizeof(buffer), 0);
        (void)ignored;
      }
      const std::string reply =
          "{\"ok\":true,\"decision\":\"allow\",\"reason\":\"a fake daemon\"}\n";
      ssize_t ignored = send(client, reply.data(), reply.size(), MSG_NOSIGNAL);
      (void)ignored;
      close(client);
    }
  }
  std::string path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

std::string ClaudeSample(const std::string& command, const std::string& cwd) {
  return json{{"session_id", "dualkey-doctor"},
              {"cwd", cwd},
              {"permission_mode", "default"},
              {"hook_event_name", "PreToolUse"},
              {"tool_name", "Bash"},
              {"tool_input", {{"command", command}}},
              {"tool_use_id", "dualkey-doctor"}}
      .dump();
}

// Runs `binary hook claude --probe` with what an agent could put in the
// environment of later shells (DUALKEY_SOCKET at a fake daemon answering
// allow, XDG_CONFIG_HOME holding a policy in observe mode, state elsewhere)
// and a destructive sample. The guard must still hold it.
CheckResult CheckEnvironmentOverrides(const std::string& binary, const std::string& home,
                                      bool protected_install) {
  CheckResult check{"environment", "environment overrides are ignored", false, "", kFixSetup};
  char pattern[] = "/tmp/dualkey-doctor-XXXXXX";
  const char* dir = mkdtemp(pattern);
  if (dir == nullptr) {
    check.detail = std::string("cannot make a scratch directory: ") + std::strerror(errno);
    return check;
  }
  const std::string scratch = dir;
  std::error_code ec;
  fs::create_directories(scratch + "/config/dualkey", ec);
  std::ofstream(scratch + "/config/dualkey/policy.toml") << "mode = \"observe\"\n";
  int connections = 0;
  base::ProcessResult run;
  {
    FakeDaemon fake(scratch + "/fake.sock");
    const std::string command = "DUALKEY_SOCKET=" + Quote(scratch + "/fake.sock") +
                                " DUALKEY_STATE_DIR=" + Quote(scratch + "/state") +
                                " XDG_STATE_HOME=" + Quote(scratch + "/xdg-state") +
                                " XDG_CONFIG_HOME=" + Quote(scratch + "/config") + " " +
                                Quote(binary) + " hook claude --probe";
    run = base::RunShell(command, ClaudeSample("rm -rf ~", home), home, 10000);
    connections = fake.connections();
  }
  fs::remove_all(scratch, ec);
  const bool blocked = run.exit_code == 2 ||
                       (run.exit_code == 0 && run.out.find("\"ask\"") != std::string::npos) ||
                       (run.exit_code == 0 && run.out.find("\"deny\"") != std::string::npos);
  std::vector<std::string> honoured;
  if (connections > 0)
    honoured.push_back("DUALKEY_SOCKET (the hook asked a listener of the user's)");
  if (!blocked)
    honoured.push_back("XDG_CONFIG_HOME/DUALKEY_SOCKET let `rm -rf ~` through (exit " +
                       std::to_string(run.exit_code) + ")");
  check.ok = honoured.empty();
  if (check.ok) {
    check.detail =
        "with DUALKEY_SOCKET, DUALKEY_STATE_DIR and XDG_* pointing at the user's own "
        "files, the hook still held `rm -rf ~`";
  } else {
    std::string list;
    for (const std::string& h : honoured) list += (list.empty() ? "" : "; ") + h;
    check.detail = "honoured: " + list +
                   (protected_install
                        ? ". A line in ~/.bashrc written by an agent switches the guard off for "
                          "every later shell; this build's clients do not ignore the environment "
                          "in protected mode"
                        : ". In single-user mode the environment decides where dualkey looks, so "
                          "an agent can point it elsewhere");
    check.fix = protected_install ? "sudo dualkey setup (with a dualkey whose clients ignore the "
                                    "environment in protected mode)"
                                  : kFixSetup;
  }
  return check;
}

// What the daemon says about its system policy (SIGHUP reloads it).
CheckResult DaemonPolicyCheck(const client::StatusReply& status) {
  CheckResult check{"policy_reload", "the daemon's policy loaded without errors", true, "",
                    "fix the file, then: sudo systemctl reload dualkey (or kill -HUP the daemon)"};
  auto list = [](const std::vector<std::string>& errors) {
    std::string text;
    for (const std::string& e : errors) text += (text.empty() ? "" : "; ") + e;
    return text;
  };
  const std::string path = status.policy_path.empty() ? "the system policy" : status.policy_path;
  if (!status.policy_errors.empty()) {
    check.ok = false;
    check.detail = path + " does not load, so the daemon holds every destructive action: " +
                   list(status.policy_errors);
  } else if (status.policy_reload_failed_ms != 0) {
    check.ok = false;
    check.detail = "the daemon refused its last reload of " + path +
                   " and keeps the previous policy in force: " + list(status.policy_reload_errors);
  } else {
    check.detail = path + " is in force";
  }
  return check;
}

}  // namespace

int Doctor(const DoctorOptions& options, std::ostream& out, std::ostream& err) {
  std::vector<CheckResult> checks;
  const std::optional<sys::Account> me = sys::LookupUid(geteuid());
  const std::string user = me ? me->name : std::to_string(geteuid());
  Result<install::Layout> loaded = install::CurrentLayout();
  install::Layout layout;
  bool protected_install = false;
  if (!loaded.ok()) {
    checks.push_back({"install", "protected install", false,
                      "the install file cannot be trusted: " + loaded.status().message() +
                          " (every client holds what it cannot check)",
                      kFixSetup});
    layout = install::SingleUserLayout();
  } else {
    layout = *loaded;
    protected_install = layout.protected_install;
    checks.push_back(
        {"install", "protected install", protected_install,
         protected_install
             ? layout.install_file +
                   " is root's: every client runs in protected mode (daemon user " +
                   layout.daemon_user + ")"
             : "single-user mode: dualkey's state is yours (" + layout.state_dir +
                   "), so it protects against an agent's mistakes, not against an agent that "
                   "works around it",
         kFixSetup});
  }
  const std::string state = layout.state_dir;
  const bool own_state = Owns(state) || hook::UserCanReplace(state);

  // What the agent could read or change, as this user.
  const std::string store = state + "/state.sqlite3";
  auto file_check = [&](const std::string& id, const std::string& title, const std::string& path,
                        bool read) {
    bool exposed = own_state || (read ? CanRead(path) : hook::UserCanReplace(path));
    std::string detail;
    if (exposed)
      detail = std::string("you can ") + (read ? "read " : "write ") + path +
               (own_state ? " (the state directory is yours)" : "");
    else
      detail = path + " is out of your reach";
    checks.push_back({id, title, !exposed, detail, kFixSetup});
  };
  file_check("secrets", "cannot read approver secrets", store, true);
  file_check("store", "cannot write the approval store", store, false);
  file_check("audit_log", "cannot write the audit log", state + "/audit.jsonl", false);
  file_check("audit_key", "cannot read the audit signing key", state + "/audit.key", true);
  std::string vault = state + "/vault";
  if (!protected_install) {
    if (const char* env = std::getenv("DUALKEY_VAULT"); env != nullptr && *env == '/') vault = env;
  }
  file_check("vault", "cannot write the vault", vault, false);

  // Policy: the system file must be root's; the user's own file must only
  // tighten (lock_user), since an agent running as the user can edit it.
  {
    const std::string system_policy = layout.config_dir + "/policy.toml";
    policy::Policy policy = policy::Load(policy::DefaultSources(options.home, options.home));
    const bool system_writable = hook::UserCanReplace(system_policy);
    const bool locked = policy.lock_user;
    std::string detail;
    if (system_writable)
      detail = "you can write " + system_policy;
    else if (!locked)
      detail = "your own policy file (" + policy::DefaultSources("", options.home).user_path +
               ") can loosen dualkey, observe mode included: the system policy does not set "
               "lock_user = true";
    else
      detail = system_policy + " is root's and locks your policy file to tightening only";
    checks.push_back(
        {"policy", "cannot loosen the policy", !system_writable && locked, detail, kFixSetup});
  }

  // The daemon on the socket: who listens, can this user stop it or take
  // the socket's place.
  std::string daemon_pid_text;
  {
    CheckResult check{"daemon", "the socket's listener is the daemon's own user", false, "",
                      kFixSetup};
    const sys::Peer peer = sys::SocketPeer(layout.socket_path);
    if (!peer.connected) {
      check.detail = "no daemon answers on " + layout.socket_path + " (" + peer.error +
                     "): hooks keep holds held, but nothing can be approved";
    } else {
      daemon_pid_text = std::to_string(peer.pid);
      const bool right_user = protected_install ? (peer.uid == layout.daemon_uid || peer.uid == 0)
                                                : peer.uid != geteuid();
      const bool can_signal = kill(peer.pid, 0) == 0;
      const bool can_replace = hook::UserCanReplace(layout.socket_path, /*self=*/false);
      const std::optional<sys::Account> owner = sys::LookupUid(peer.uid);
      const std::string who = "pid " + std::to_string(peer.pid) + ", user " +
                              (owner ? owner->name : std::to_string(peer.uid));
      if (!right_user) {
        check.detail = protected_install
                           ? "a foreign process (" + who + ") holds " + layout.socket_path +
                                 ", not " + layout.daemon_user + ": clients must refuse it"
                           : "the daemon runs as you (" + who +
                                 "): an agent running as you can stop it or answer in its place";
      } else if (can_signal) {
        check.detail = "you can stop the daemon (" + who + ")";
      } else if (can_replace) {
        check.detail = "you can replace the socket " + layout.socket_path;
      } else {
        check.ok = true;
        check.detail = "the daemon (" + who + ") listens on " + layout.socket_path +
                       "; you can neither stop it nor take its socket";
      }
    }
    checks.push_back(check);
  }
  // The policy the daemon holds: a reload it refused, or errors in force.
  if (!daemon_pid_text.empty()) {
    Result<client::StatusReply> status = client::Client::ForLayout(loaded).DaemonStatus();
    if (status.ok()) checks.push_back(DaemonPolicyCheck(*status));
  }

  // The hooks, as the agents run them, with a probe.
  hook::DoctorRequest hooks_request;
  hooks_request.home = options.home;
  hooks_request.project_dir = options.project_dir;
  hooks_request.probe = options.probe;
  const std::vector<hook::ConfigCheck> hooks = hook::CheckHooks(hooks_request);
  int installed = 0, unprotected = 0;
  std::map<std::string, std::pair<bool, bool>> agents;  // agent -> (hooked, only user-editable)
  std::string hook_binary;
  std::vector<std::string> build_tree;
  for (const hook::ConfigCheck& check : hooks) {
    if (!check.installed) continue;
    ++installed;
    if (!check.all_protected) ++unprotected;
    auto& [hooked, editable] = agents[std::string(hook::ToString(check.agent))];
    if (!hooked) editable = true;
    hooked = true;
    editable = editable && check.user_can_edit;
    for (const hook::HookCheck& h : check.hooks) {
      if (hook_binary.empty() || check.scope == "managed")
        hook_binary = hook::HookBinary(h.command);
      if (!h.build_tree_warning.empty()) build_tree.push_back(h.build_tree_warning);
    }
  }
  {
    CheckResult check{"hooks", "the agents' hooks are installed and answering", false, "",
                      "dualkey install AGENT (or sudo dualkey setup)"};
    if (installed == 0) {
      check.detail = "no agent has dualkey's hook";
    } else if (unprotected > 0) {
      check.detail = std::to_string(unprotected) +
                     " installed hook(s) do not hold `rm -rf ~` "
                     "(see below)";
    } else {
      check.ok = true;
      std::string list;
      for (const auto& [agent, state_pair] : agents)
        list += (list.empty() ? "" : ", ") + agent +
                (state_pair.second ? " (in a file you can edit)" : " (managed)");
      check.detail = "answering: " + list;
    }
    if (!build_tree.empty()) {
      check.ok = false;
      check.detail += "; " + build_tree.front();
      check.fix = kFixSetup;
    }
    checks.push_back(check);
  }
  // Whatever binary the hooks run: can this user swap it?
  if (hook_binary.empty() && protected_install) {
    // The binary setup installed (a package's /usr/bin/dualkey is used in
    // place): its record in /etc/dualkey says which.
    std::string text;
    if (base::ReadFile("/etc/dualkey/setup.json", &text)) {
      const json record = json::parse(text, nullptr, false);
      if (record.is_object() && record.value("binary", "").starts_with("/"))
        hook_binary = record.value("binary", "");
    }
    if (hook_binary.empty()) hook_binary = "/usr/local/bin/dualkey";
  }
  if (!hook_binary.empty()) {
    const bool replaceable = hook::UserCanReplace(hook_binary);
    checks.push_back({"binary", "cannot replace the dualkey binary", !replaceable,
                      replaceable ? "you can replace " + hook_binary +
                                        ", which every hook runs: a program that allows "
                                        "everything could take its place"
                                  : hook_binary + " is out of your reach",
                      kFixSetup});
  }
  if (!hook_binary.empty() && access(hook_binary.c_str(), X_OK) == 0)
    checks.push_back(CheckEnvironmentOverrides(hook_binary, options.home, protected_install));

  // The audit log's signer, for `dualkey audit verify --pubkey`.
  std::string public_key;
  {
    std::string text;
    if (protected_install && base::ReadFile(layout.config_dir + "/audit.pub", &text))
      public_key = text.substr(0, text.find('\n'));
    if (public_key.empty()) {
      std::ifstream in(state + "/audit.jsonl");
      std::string line;
      if (in && std::getline(in, line)) {
        json header = json::parse(line, nullptr, false);
        if (header.is_object()) public_key = header.value("public_key", "");
      }
    }
  }

  int missing = 0;
  for (const CheckResult& c : checks) missing += c.ok ? 0 : 1;
  if (options.json) {
    json report{{"protected", missing == 0},
                {"mode", protected_install ? "protected" : "single-user"},
                {"user", user},
                {"missing", missing},
                {"installed", installed}};
    json list = json::array();
    for (const CheckResult& c : checks) {
      json entry{{"id", c.id}, {"check", c.title}, {"ok", c.ok}, {"detail", c.detail}};
      if (!c.ok) entry["fix"] = c.fix;
      list.push_back(entry);
    }
    report["checks"] = list;
    json agent_list = json::array();
    for (const hook::ConfigCheck& check : hooks)
      if (check.installed || !check.error.empty() || check.scope != "managed")
        agent_list.push_back(hook::ToJson(check));
    report["agents"] = agent_list;
    if (!public_key.empty()) report["audit_public_key"] = public_key;
    out << report.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return missing == 0 ? 0 : 1;
  }
  out << "dualkey doctor: " << user << ", "
      << (protected_install ? "protected install (daemon user " + layout.daemon_user + ")"
                            : std::string("single-user mode"))
      << "\n";
  for (const CheckResult& c : checks) {
    out << "  " << (c.ok ? "[pass] " : "[FAIL] ") << c.title << ": " << c.detail << "\n";
    if (!c.ok) out << "         fix: " << c.fix << "\n";
  }
  out << "\nhooks (each run as the agent runs it, with --probe: nothing is registered):\n";
  for (const hook::ConfigCheck& check : hooks) {
    if (check.scope == "managed" && !check.installed && check.error.empty()) continue;
    std::string text = hook::ToText(check);
    std::string indented;
    std::size_t start = 0;
    while (start < text.size()) {
      std::size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      indented += "  " + text.substr(start, end - start) + "\n";
      start = end + 1;
    }
    out << indented;
  }
  if (!public_key.empty())
    out << "\naudit public key: " << public_key << "\n  (check the log against it: dualkey audit "
        << "verify --pubkey " << public_key << ")\n";
  if (missing == 0)
    out << "\ndualkey doctor: every protection is in place.\n";
  else
    out << "\ndualkey doctor: " << missing << " protection(s) missing"
        << (protected_install ? "" : " (single-user mode: for real use, run sudo dualkey setup)")
        << ".\n";
  (void)err;
  return missing == 0 ? 0 : 1;
}

}  // namespace dualkey::setup
