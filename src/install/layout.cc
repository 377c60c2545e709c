#include "install/layout.h"

#include <pwd.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "base/toml_text.h"

namespace dualkey::install {
namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

// Owned by root and writable by no one else: what an unprivileged agent
// cannot have written.
bool RootControlled(const struct stat& st) {
  return st.st_uid == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

// The file and every directory above it must be root-controlled, or an
// agent could have swapped a component.
Status CheckTrusted(const std::string& path) {
  std::string current = path;
  while (true) {
    struct stat st {};
    if (lstat(current.c_str(), &st) != 0)
      return Status::IOError(current + ": " + std::strerror(errno));
    if (!RootControlled(st) && !(S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) && st.st_uid == 0))
      return Status::PermissionDenied(
          current +
          " is not owned by root or is writable by others; a protected install's "
          "configuration must be root's alone (fix: sudo dualkey setup)");
    if (current == "/") break;
    const std::size_t slash = current.find_last_of('/');
    current = slash == 0 ? "/" : current.substr(0, slash);
  }
  return Status::Ok();
}

// The sandbox this process was pinned to at start-up (PinSandbox), set once
// before any thread and only read afterwards.
struct SandboxPin {
  std::string dir;
  SandboxUse use = SandboxUse::kDecides;
};
SandboxPin& Pin() {
  static SandboxPin pin;
  return pin;
}

std::vector<std::string> CommandLineOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::vector<std::string> args;
  std::string arg;
  while (std::getline(in, arg, '\0')) args.push_back(arg);
  return args;
}

}  // namespace

void PinSandbox(std::string dir, SandboxUse use) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  Pin() = SandboxPin{std::move(dir), use};
}

SandboxUse SandboxUseOf(std::string_view subcommand) {
  static constexpr std::string_view kAnswers[] = {
      "pending", "approve", "deny", "watch", "breaker", "audit", "vault", "token", "approver"};
  for (std::string_view answers : kAnswers)
    if (subcommand == answers) return SandboxUse::kAnswers;
  return SandboxUse::kDecides;
}

Layout SandboxLayout(const std::string& dir) {
  Layout layout;
  layout.sandbox_dir = dir;
  layout.config_dir = dir + "/etc";
  layout.state_dir = dir + "/state";
  layout.socket_path = layout.state_dir + "/dualkey.sock";
  return layout;
}

bool StartedByDemo() {
  const pid_t parent = getppid();
  struct stat self {
  }, theirs{};
  if (stat("/proc/self/exe", &self) != 0) return false;
  if (stat(("/proc/" + std::to_string(parent) + "/exe").c_str(), &theirs) != 0) return false;
  if (self.st_dev != theirs.st_dev || self.st_ino != theirs.st_ino) return false;
  const std::vector<std::string> args = CommandLineOf(parent);
  return args.size() >= 2 && args[1] == "demo";
}

Result<Layout> SandboxFor(const Result<Layout>& machine, const std::string& dir, SandboxUse use,
                          bool started_by_demo) {
  if (dir.empty() || dir[0] != '/')
    return Status::InvalidArgument("--sandbox wants an absolute directory (\"" + dir + "\")");
  // Single-user mode already lets the environment point anywhere: a sandbox
  // adds nothing an agent could not do there.
  const bool guarded = !machine.ok() || machine->protected_install;
  if (guarded && use == SandboxUse::kDecides && !started_by_demo)
    return Status::PermissionDenied(
        "this machine has a protected dualkey install: --sandbox " + dir +
        " is honoured only in processes `dualkey demo` starts and in the commands that answer "
        "a sandbox's daemon (pending, approve, deny, watch, breaker, audit, vault, token, "
        "approver); anything it would decide stays held");
  return SandboxLayout(dir);
}

Layout SingleUserLayout() {
  Layout layout;
  if (std::string dir = Env("DUALKEY_STATE_DIR"); !dir.empty()) {
    layout.state_dir = dir;
  } else if (std::string xdg = Env("XDG_STATE_HOME"); !xdg.empty() && xdg[0] == '/') {
    layout.state_dir = xdg + "/dualkey";
  } else {
    std::string home = Env("HOME");
    layout.state_dir = (home.empty() ? std::string("/tmp") : home) + "/.local/state/dualkey";
  }
  std::string socket = Env("DUALKEY_SOCKET");
  layout.socket_path = socket.empty() ? layout.state_dir + "/dualkey.sock" : socket;
  return layout;
}

Result<Layout> LoadLayout(std::string_view path_view) {
  const std::string path(path_view);
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return SingleUserLayout();
    return Status::IOError(path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return Status::PermissionDenied(path + " is not a regular file");
  if (Status trusted = CheckTrusted(path); !trusted.ok()) return trusted;

  Layout layout;
  layout.protected_install = true;
  layout.install_file = path;
  layout.daemon_user = "dualkey";
  layout.state_dir = "/var/lib/dualkey";
  layout.socket_path = "/run/dualkey/dualkey.sock";
  toml::table table;
  try {
    table = base::ParseTomlFile(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream message;
    message << path << ":" << e.source().begin.line << ": " << e.description();
    return Status::Corruption(message.str());
  }
  if (const toml::table* daemon = table["daemon"].as_table()) {
    if (auto v = (*daemon)["user"].value<std::string>()) layout.daemon_user = *v;
    if (auto v = (*daemon)["state_dir"].value<std::string>()) layout.state_dir = *v;
    if (auto v = (*daemon)["socket"].value<std::string>()) layout.socket_path = *v;
    if (auto v = (*daemon)["http"].value<std::string>()) layout.http_listen = *v;
    if (auto v = (*daemon)["config_dir"].value<std::string>()) layout.config_dir = *v;
  }
  for (const std::string* p : {&layout.state_dir, &layout.socket_path, &layout.config_dir})
    if (p->empty() || (*p)[0] != '/')
      return Status::InvalidArgument(path + ": paths must be absolute (\"" + *p + "\")");
  std::vector<char> buffer(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (getpwnam_r(layout.daemon_user.c_str(), &pw, buffer.data(), buffer.size(), &found) != 0 ||
      found == nullptr)
    return Status::FailedPrecondition(path + " names the daemon user '" + layout.daemon_user +
                                      "', which does not exist (fix: sudo dualkey setup)");
  layout.daemon_uid = pw.pw_uid;
  layout.daemon_gid = pw.pw_gid;
  return layout;
}

Result<Layout> CurrentLayout() {
  const SandboxPin& pin = Pin();
  if (!pin.dir.empty()) {
    const Result<Layout> machine = LoadLayout(kInstallFile);
    const bool guarded = !machine.ok() || machine->protected_install;
    return SandboxFor(machine, pin.dir, pin.use,
                      guarded && pin.use == SandboxUse::kDecides && StartedByDemo());
  }
  return LoadLayout(kInstallFile);
}

std::string FormatInstallFile(const Layout& layout) {
  const auto quoted = [](const std::string& s) {
    std::ostringstream out;
    out << toml::value<std::string>(s);
    return out.str();
  };
  std::string out =
      "# Written by `dualkey setup`: this machine has a protected dualkey install.\n"
      "# Every dualkey client reads its paths from here and ignores DUALKEY_* and\n"
      "# XDG_* in the environment. Remove with `sudo dualkey setup --remove`.\n"
      "[daemon]\n";
  out += "user = " + quoted(layout.daemon_user) + "\n";
  out += "state_dir = " + quoted(layout.state_dir) + "\n";
  out += "socket = " + quoted(layout.socket_path) + "\n";
  out += "config_dir = " + quoted(layout.config_dir) + "\n";
  if (!layout.http_listen.empty()) out += "http = " + quoted(layout.http_listen) + "\n";
  return out;
}

std::string DefaultStateDir() {
  Result<install::Layout> layout = install::CurrentLayout();
  // A protected install gone wrong is still a protected install: its paths,
  // never the environment's.
  if (!layout.ok()) return "/var/lib/dualkey";
  return layout->state_dir;
}

std::string DefaultSocketPath() {
  Result<install::Layout> layout = install::CurrentLayout();
  if (!layout.ok()) return "/run/dualkey/dualkey.sock";
  return layout->socket_path;
}

}  // namespace dualkey::install
