#include "setup/setup.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "approval/approval.h"
#include "base/toml_text.h"
#include "client/client.h"
#include "hook/install.h"
#include "install/layout.h"
#include "setup/internal/units.h"
#include "setup/system.h"

namespace dualkey::setup {
namespace {

using nlohmann::json;

constexpr const char* kDefaultBinary = "/usr/local/bin/dualkey";
constexpr const char* kPackageBinary = "/usr/bin/dualkey";  // the Debian package's
constexpr const char* kConfigDir = "/etc/dualkey";
constexpr const char* kStateDir = "/var/lib/dualkey";
constexpr const char* kRuntimeDir = "/run/dualkey";
constexpr const char* kSocket = "/run/dualkey/dualkey.sock";
constexpr const char* kPidFile = "/run/dualkey/dualkey.pid";
constexpr const char* kSetupRecord = "/etc/dualkey/setup.json";
constexpr const char* kAuditPub = "/etc/dualkey/audit.pub";
constexpr const char* kPolicyFile = "/etc/dualkey/policy.toml";
constexpr int kDaemonStartMs = 10000;

// The system policy setup writes when there is none. lock_user makes the
// user's own policy file (which an agent running as the user can edit) a
// layer that can only tighten, observe mode included.
constexpr const char* kDefaultPolicy =
    "# dualkey's system policy: root's, read by the daemon and every hook.\n"
    "# Layers: built-in < this file < ~/.config/dualkey/policy.toml < .dualkey.toml.\n"
    "# Written by `sudo dualkey setup`; edit freely (`dualkey policy check` validates).\n"
    "\n"
    "# An agent runs as its user and can edit that user's policy file: with\n"
    "# lock_user the user layer (observe mode included) can only tighten.\n"
    "lock_user = true\n"
    "\n"
    "# [[rules]]\n"
    "# name = \"production needs two humans\"\n"
    "# targets = [\"*prod*\"]\n"
    "# decision = \"hold2\"\n";

std::string Now() {
  time_t now = time(nullptr);
  tm local{};
  localtime_r(&now, &local);
  char buffer[32];
  strftime(buffer, sizeof(buffer), "%Y%m%d-%H%M%S", &local);
  return buffer;
}

bool ValidUserName(const std::string& name) {
  if (name.empty() || name.size() > 32) return false;
  if (!(std::islower(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  for (char c : name)
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '-'))
      return false;
  return true;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

std::string SelfPath() {
  char buffer[4096];
  ssize_t n = readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  if (n <= 0) return "";
  std::string path(buffer, static_cast<std::size_t>(n));
  if (path.ends_with(" (deleted)")) path.resize(path.size() - 10);
  return path;
}

std::vector<hook::Agent> ParseAgents(const std::vector<std::string>& names, std::string* error) {
  std::vector<hook::Agent> agents;
  if (names.empty()) return {std::begin(hook::kAllAgents), std::end(hook::kAllAgents)};
  for (const std::string& list : names) {
    std::stringstream stream(list);
    std::string name;
    while (std::getline(stream, name, ',')) {
      hook::Agent agent;
      if (!hook::ParseAgent(name, &agent)) {
        *error = "unknown agent '" + name + "' (claude, cursor, codex or gemini)";
        return {};
      }
      agents.push_back(agent);
    }
  }
  return agents;
}

// The public key of the audit log's signer, from its header line.
std::string AuditPublicKey(const std::string& log_path) {
  std::ifstream in(log_path);
  std::string line;
  if (!in || !std::getline(in, line)) return "";
  json header = json::parse(line, nullptr, false);
  if (!header.is_object() || !header.contains("public_key") || !header["public_key"].is_string())
    return "";
  return header["public_key"].get<std::string>();
}

// The reply to `request` from the daemon this install runs (client::Client,
// so the listener must be the daemon's user or root), or nullopt with
// `error` when it cannot be asked; a daemon that does not know the op
// answers ok=false.
std::optional<json> AskDaemon(const sys::Account& daemon, const std::string& daemon_user,
                              const json& request, std::string* error, int timeout_ms = 5000) {
  install::Layout layout;
  layout.protected_install = true;
  layout.daemon_user = daemon_user;
  layout.daemon_uid = daemon.uid;
  layout.daemon_gid = daemon.gid;
  layout.state_dir = kStateDir;
  layout.socket_path = kSocket;
  layout.config_dir = kConfigDir;
  client::ClientOptions options;
  options.timeout_ms = timeout_ms;
  const client::Client client = client::Client::ForLayout(layout, options);
  Result<json> reply = client.Call(request);
  if (!reply.ok()) {
    *error = reply.status().message();
    return std::nullopt;
  }
  if (!reply->is_object()) {
    *error = "the daemon answered something that is not a JSON object";
    return std::nullopt;
  }
  return *reply;
}

bool UnknownOp(const json& reply) {
  return !reply.value("ok", false) &&
         reply.value("error", "").find("unknown op") != std::string::npos;
}

class Setup {
 public:
  Setup(const Options& options, std::ostream& out, std::ostream& err)
      : options_(options),
        out_(out),
        err_(err),
        binary_(InstalledBinary(options).empty() ? kDefaultBinary : InstalledBinary(options)) {}

  // A package's binary, used in place: --installed-binary, or this very
  // binary when it is the package's /usr/bin/dualkey.
  static std::string InstalledBinary(const Options& options) {
    if (!options.installed_binary.empty()) return options.installed_binary;
    if (options.binary.empty() && SelfPath() == kPackageBinary) return kPackageBinary;
    return "";
  }

  int Run();

 private:
  // One line of the report: done (changed now), ok (already so), would
  // (dry run), warn, skipped, failed.
  void Record(const std::string& step, const std::string& status, const std::string& detail) {
    steps_.push_back({{"step", step}, {"status", status}, {"detail", detail}});
    if (status == "done" || status == "would") ++changes_;
    if (status == "failed") failed_ = true;
    if (options_.json) return;
    std::string tag = "[" + status + "]";
    tag.resize(10, ' ');
    out_ << "  " << tag << step << ": " << detail << "\n" << std::flush;
  }
  bool Check(const std::string& step, const Status& status) {
    if (status.ok()) return true;
    Record(step, "failed", status.message());
    return false;
  }
  const char* Did() const { return options_.dry_run ? "would" : "done"; }

  bool ResolveUsers();
  void StepDaemonUser();
  void StepDirectories();
  void StepPolicy();
  void StepBinary();
  void StepInstallFile();
  void StepDaemon();
  bool StartDirect();
  bool WaitForDaemon(std::string* why, pid_t pid = 0);
  void StepSystemdUnits(bool binary_changed);
  void StepAuditKey();
  void StepHooks();
  void StepSingleUserState();
  void StepApprover();
  int StepDoctor();
  void StopDaemon(const char* step);
  int Remove();
  int Finish(int doctor_status);
  json UnhookReport() const;

  const Options& options_;
  std::ostream& out_;
  std::ostream& err_;
  // The binary hooks, units and the daemon run: /usr/local/bin/dualkey (a
  // copy setup makes), or a package's /usr/bin/dualkey used in place.
  const std::string binary_;
  json steps_ = json::array();
  int changes_ = 0;
  bool failed_ = false;
  std::vector<hook::Agent> agents_;
  std::optional<sys::Account> user_;    // whose agents are wired
  std::optional<sys::Account> daemon_;  // the daemon's account
  std::string daemon_user_;             // resolved: --daemon-user, the recorded one, or "dualkey"
  std::string source_binary_;
  bool binary_changed_ = false;
  bool systemd_ = false;
  json approver_;
  json doctor_;
  std::string doctor_text_;
  std::map<std::string, bool> managed_hooked_;  // agent -> the managed config has our hook
};

bool Setup::ResolveUsers() {
  std::string name = options_.user;
  if (name.empty()) {
    if (const char* sudo_user = std::getenv("SUDO_USER"); sudo_user != nullptr) name = sudo_user;
  }
  json record;
  if (std::string text; sys::ReadFile(kSetupRecord, &text))
    record = json::parse(text, nullptr, false);
  if (!record.is_object()) record = json::object();
  if (name.empty() && (options_.remove || options_.stop)) name = record.value("user", "");
  daemon_user_ = options_.daemon_user;
  if (daemon_user_.empty()) daemon_user_ = record.value("daemon_user", "");
  if (daemon_user_.empty()) daemon_user_ = "dualkey";
  if (name.empty() && !options_.remove && !options_.stop && !options_.system_only) {
    err_ << "dualkey setup: whose agents should dualkey guard? Run it with sudo from that "
            "user's shell (sudo dualkey setup), or name them: --user NAME\n";
    return false;
  }
  if (!name.empty()) {
    user_ = sys::LookupUser(name);
    if (!user_) {
      err_ << "dualkey setup: no such user '" << name << "'\n";
      return false;
    }
    if (user_->uid == 0 && !options_.remove && !options_.stop) {
      err_ << "dualkey setup: the agents' user is root. An agent running as root can read and "
              "change everything dualkey keeps, so no install can protect it: run your agents "
              "as an ordinary user and name that user with --user NAME\n";
      return false;
    }
  }
  if (!ValidUserName(daemon_user_)) {
    err_ << "dualkey setup: '" << daemon_user_
         << "' is not a valid system user name (lowercase letters, digits, _ and -)\n";
    return false;
  }
  if (user_ && user_->name == daemon_user_) {
    err_ << "dualkey setup: the daemon must run as its own user, not as " << user_->name
         << " (whose agents it guards)\n";
    return false;
  }
  daemon_ = sys::LookupUser(daemon_user_);
  if (daemon_ && daemon_->uid == 0) {
    err_ << "dualkey setup: the daemon user '" << daemon_user_ << "' is root\n";
    return false;
  }
  return true;
}

void Setup::StepDaemonUser() {
  if (daemon_) {
    Record("daemon user", "ok",
           daemon_->name + " exists (uid " + std::to_string(daemon_->uid) + ")");
    return;
  }
  if (options_.dry_run) {
    Record("daemon user", "would", "create the system user " + daemon_user_);
    return;
  }
  if (!Check("daemon user", sys::CreateSystemUser(daemon_user_, kStateDir))) return;
  daemon_ = sys::LookupUser(daemon_user_);
  if (!daemon_) {
    Record("daemon user", "failed", "useradd succeeded but " + daemon_user_ + " is not found");
    return;
  }
  Record(
      "daemon user", "done",
      "created the system user " + daemon_->name + " (uid " + std::to_string(daemon_->uid) + ")");
}

void Setup::StepDirectories() {
  struct Dir {
    std::string path;
    bool daemons;
    mode_t mode;
    const char* what;
  };
  const std::vector<Dir> dirs = {
      {kConfigDir, false, 0755, "system policy and install file, root's"},
      {std::string(kConfigDir) + "/packs", false, 0755, "system packs, root's"},
      {kStateDir, true, 0700, "store, approver secrets, audit log and key, vault"},
      {kRuntimeDir, true, 0755, "the daemon's socket"},
  };
  for (const Dir& dir : dirs) {
    const uid_t uid = dir.daemons && daemon_ ? daemon_->uid : 0;
    const gid_t gid = dir.daemons && daemon_ ? daemon_->gid : 0;
    if (options_.dry_run || (dir.daemons && !daemon_)) {
      struct stat st {};
      const bool right =
          lstat(dir.path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
          (st.st_mode & 07777) == dir.mode && (!dir.daemons || daemon_) && st.st_uid == uid &&
          (dir.path != kStateDir || sys::TreeProblems(dir.path, uid, gid, 1).empty());
      if (right) {
        Record(dir.path, "ok", dir.what);
      } else {
        Record(dir.path, "would",
               std::string(Exists(dir.path) ? "fix" : "create") + " (" + dir.what + ", mode " +
                   (dir.mode == 0700 ? "0700" : "0755") + ", owner " +
                   (dir.daemons ? daemon_user_ : "root") + ")");
      }
      continue;
    }
    bool changed = false;
    const bool existed = Exists(dir.path);
    if (!Check(dir.path, sys::EnsureDirectory(dir.path, uid, gid, dir.mode, &changed))) continue;
    int fixed = 0;
    if (dir.path == kStateDir) {
      // Everything under the state directory is the daemon's alone. A tree
      // left by --remove (root's) or by hand is handed back.
      if (!Check(dir.path, sys::OwnTree(dir.path, uid, gid, 0700, 0600, &fixed))) continue;
    }
    if (!changed && fixed == 0) {
      Record(dir.path, "ok", dir.what);
    } else {
      std::string detail = existed ? "fixed owner/mode" : "created";
      if (fixed > 0)
        detail += " (" + std::to_string(fixed) + " entries handed to " + daemon_->name + ")";
      Record(dir.path, "done", detail + ": " + dir.what);
    }
  }
}

void Setup::StepPolicy() {
  struct stat st {};
  if (lstat(kPolicyFile, &st) != 0) {
    if (options_.dry_run) {
      Record(kPolicyFile, "would", "write the default system policy (lock_user = true)");
      return;
    }
    bool changed = false;
    if (Check(kPolicyFile,
              sys::WriteFileAtomically(kPolicyFile, kDefaultPolicy, 0, 0, 0644, &changed)))
      Record(kPolicyFile, "done", "wrote the default system policy (lock_user = true)");
    return;
  }
  // An administrator's file is kept; it must be root's, and it should lock
  // the user layer.
  std::string detail = "kept";
  if (!S_ISREG(st.st_mode)) {
    Record(kPolicyFile, "failed", "is not a regular file");
    return;
  }
  if (st.st_uid != 0 || (st.st_mode & 022) != 0) {
    if (options_.dry_run) {
      Record(kPolicyFile, "would", "make it root's and writable by root alone");
    } else {
      bool changed = false;
      if (!Check(kPolicyFile,
                 sys::EnsureOwnerMode(kPolicyFile, 0, 0, st.st_mode & 0755 & ~022, &changed)))
        return;
      detail = "made root's and writable by root alone";
    }
  }
  std::string text;
  sys::ReadFile(kPolicyFile, &text);
  std::optional<bool> lock;
  try {
    toml::table table = base::ParseToml(text, kPolicyFile);
    if (auto value = table["lock_user"].value<bool>()) lock = *value;
  } catch (const toml::parse_error& e) {
    Record(kPolicyFile, "warn",
           "does not parse (" + std::string(e.description()) +
               "): every destructive action stays held until it does (dualkey policy check)");
    return;
  }
  if (!lock) {
    if (options_.dry_run) {
      Record(kPolicyFile, "would", "add lock_user = true (the user's policy may only tighten)");
      return;
    }
    const std::string updated =
        "# Added by `dualkey setup`: the user's policy file (which an agent running as the\n"
        "# user can edit) may only tighten.\nlock_user = true\n\n" +
        text;
    bool changed = false;
    if (Check(kPolicyFile, sys::WriteFileAtomically(kPolicyFile, updated, 0, 0, 0644, &changed)))
      Record(kPolicyFile, "done", "added lock_user = true: the user's policy may only tighten");
    return;
  }
  if (!*lock) {
    Record(kPolicyFile, "warn",
           "sets lock_user = false: an agent can loosen the policy through the user's file "
           "(~/.config/dualkey/policy.toml); kept as the administrator wrote it");
    return;
  }
  Record(kPolicyFile, detail == "kept" ? "ok" : (options_.dry_run ? "would" : "done"),
         detail + " (lock_user = true)");
}

void Setup::StepBinary() {
  if (!InstalledBinary(options_).empty()) {
    // A package installed it (dpkg's, root's): used where it is, never copied.
    struct stat st {};
    if (lstat(binary_.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
        (st.st_mode & 022) != 0) {
      Record("binary", "failed",
             binary_ + " is not a root-owned file that only root can write: it cannot be trusted");
      return;
    }
    Record("binary", "ok", binary_ + " (installed by the package, root's)");
    return;
  }
  source_binary_ = options_.binary.empty() ? SelfPath() : options_.binary;
  if (source_binary_.empty() || !Exists(source_binary_)) {
    Record("binary", "failed", "cannot find the dualkey binary to install (--binary PATH)");
    return;
  }
  if (source_binary_ == binary_.c_str()) {
    Record("binary", "ok", std::string(binary_.c_str()) + " (running it)");
    return;
  }
  struct stat st {};
  const bool same = lstat(binary_.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 &&
                    (st.st_mode & 022) == 0 && sys::SameContents(source_binary_, binary_.c_str());
  if (same) {
    Record("binary", "ok", std::string(binary_.c_str()) + " is this build (root's)");
    return;
  }
  if (options_.dry_run) {
    Record("binary", "would",
           std::string(Exists(binary_.c_str()) ? "replace " : "install ") + binary_.c_str() +
               " with " + source_binary_);
    binary_changed_ = true;
    return;
  }
  bool changed = false;
  if (!Check("binary", sys::InstallBinary(source_binary_, binary_.c_str(), &changed))) return;
  binary_changed_ = changed;
  Record("binary", changed ? "done" : "ok",
         std::string(changed ? "installed " : "") + binary_.c_str() +
             " (root's: the agent cannot replace it, and hooks outlive the clone)");
}

void Setup::StepInstallFile() {
  install::Layout layout;
  layout.protected_install = true;
  layout.daemon_user = daemon_user_;
  layout.state_dir = kStateDir;
  layout.socket_path = kSocket;
  layout.config_dir = kConfigDir;
  const std::string text = install::FormatInstallFile(layout);
  std::string current;
  if (sys::ReadFile(std::string(install::kInstallFile), &current) && current == text) {
    struct stat st {};
    if (lstat(std::string(install::kInstallFile).c_str(), &st) == 0 && st.st_uid == 0 &&
        (st.st_mode & 07777) == 0644) {
      Record(std::string(install::kInstallFile), "ok", "protected mode on for every client");
      return;
    }
  }
  if (options_.dry_run || !daemon_) {
    Record(std::string(install::kInstallFile), "would",
           "write it: every client switches to protected mode");
    return;
  }
  bool changed = false;
  if (!Check(
          std::string(install::kInstallFile),
          sys::WriteFileAtomically(std::string(install::kInstallFile), text, 0, 0, 0644, &changed)))
    return;
  Record(std::string(install::kInstallFile), changed ? "done" : "ok",
         "protected mode on: clients take paths from here and ignore DUALKEY_*/XDG_*");
  // What --remove needs to know even when run without sudo's SUDO_USER.
  json record{{"user", user_ ? user_->name : ""},
              {"daemon_user", daemon_user_},
              {"binary", binary_.c_str()}};
  bool ignored = false;
  (void)sys::WriteFileAtomically(kSetupRecord, record.dump(2) + "\n", 0, 0, 0644, &ignored);
}

bool Setup::WaitForDaemon(std::string* why, pid_t pid) {
  for (int waited = 0; waited < kDaemonStartMs; waited += 50) {
    if (pid > 0 && !sys::ProcessAlive(pid)) {
      *why = "the daemon exited at once";
      break;
    }
    std::string error;
    if (AskDaemon(*daemon_, daemon_user_, json{{"op", "status"}}, &error, 2000)) return true;
    timespec ts{0, 50 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
  if (why->empty())
    *why = "the daemon did not answer on " + std::string(kSocket) + " within " +
           std::to_string(kDaemonStartMs / 1000) + " s";
  std::string log;
  if (sys::ReadFile(std::string(kStateDir) + "/serve.log", &log) && !log.empty()) {
    if (log.size() > 600) log = log.substr(log.size() - 600);
    *why += "; its log (" + std::string(kStateDir) + "/serve.log) ends: " + log;
  }
  return false;
}

// No systemd: the daemon as a process of its own (setsid, reparented to
// init), privileges dropped before exec, its pid in the pid file.
bool Setup::StartDirect() {
  const std::string log_path = std::string(kStateDir) + "/serve.log";
  int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (log_fd < 0 || fchown(log_fd, daemon_->uid, daemon_->gid) != 0) {
    Record("daemon", "failed", "cannot open " + log_path + ": " + std::strerror(errno));
    if (log_fd >= 0) close(log_fd);
    return false;
  }
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    close(log_fd);
    Record("daemon", "failed", std::string("pipe: ") + std::strerror(errno));
    return false;
  }
  const bool use_setpriv = sys::HaveProgram("setpriv");
  std::vector<std::string> argv;
  if (use_setpriv) {
    // Read access to the files it must save into the vault: nothing more.
    argv = {"setpriv",
            "--reuid",
            std::to_string(daemon_->uid),
            "--regid",
            std::to_string(daemon_->gid),
            "--init-groups",
            "--inh-caps",
            "-all,+dac_read_search",
            "--ambient-caps",
            "-all,+dac_read_search",
            "--bounding-set",
            "-all,+dac_read_search",
            "--no-new-privs",
            "--"};
  }
  for (const char* arg : {binary_.c_str(), "serve", "--state", kStateDir, "--socket", kSocket})
    argv.push_back(arg);
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const std::string home = "HOME=" + std::string(kStateDir);
  const std::string user = "USER=" + daemon_->name;
  const std::string logname = "LOGNAME=" + daemon_->name;
  std::vector<const char*> envp = {
      home.c_str(),    user.c_str(),
      logname.c_str(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "LANG=C.UTF-8",  nullptr};

  pid_t child = fork();
  if (child < 0) {
    close(log_fd);
    close(report[0]);
    close(report[1]);
    Record("daemon", "failed", std::string("fork: ") + std::strerror(errno));
    return false;
  }
  if (child == 0) {
    setsid();
    pid_t grandchild = fork();
    if (grandchild != 0) {
      if (grandchild > 0) {
        ssize_t ignored = write(report[1], &grandchild, sizeof(grandchild));
        (void)ignored;
      }
      _exit(grandchild > 0 ? 0 : 1);
    }
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    if (chdir(kStateDir) != 0) _exit(126);
    umask(077);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!use_setpriv) {
      if (initgroups(daemon_->name.c_str(), daemon_->gid) != 0 ||
          setresgid(daemon_->gid, daemon_->gid, daemon_->gid) != 0 ||
          setresuid(daemon_->uid, daemon_->uid, daemon_->uid) != 0 ||
          prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        _exit(126);
      execve(binary_.c_str(), args.data(), const_cast<char* const*>(envp.data()));
    } else {
      // setpriv is found through PATH; the daemon itself is an absolute path.
      for (const char* dir : {"/usr/bin/setpriv", "/bin/setpriv", "/usr/sbin/setpriv"})
        execve(dir, args.data(), const_cast<char* const*>(envp.data()));
    }
    _exit(127);
  }
  close(log_fd);
  close(report[1]);
  pid_t daemon_pid = 0;
  ssize_t n = read(report[0], &daemon_pid, sizeof(daemon_pid));
  close(report[0]);
  int raw = 0;
  while (waitpid(child, &raw, 0) < 0 && errno == EINTR) {
  }
  if (n != sizeof(daemon_pid) || daemon_pid <= 0) {
    Record("daemon", "failed", "could not start the daemon process");
    return false;
  }
  bool ignored = false;
  (void)sys::WriteFileAtomically(kPidFile, std::to_string(daemon_pid) + "\n", 0, 0, 0644, &ignored);
  std::string why;
  if (!WaitForDaemon(&why, daemon_pid)) {
    sys::StopProcess(daemon_pid, 1000);
    unlink(kPidFile);
    Record("daemon", "failed", why);
    return false;
  }
  Record("daemon", "done",
         "started `dualkey serve` as " + daemon_->name + " (pid " + std::to_string(daemon_pid) +
             ", pid file " + kPidFile + ", log " + std::string(kStateDir) +
             "/serve.log; no systemd here: `sudo dualkey setup` starts it again after a reboot, "
             "`sudo dualkey setup --stop` stops it)");
  return true;
}

void Setup::StepSystemdUnits(bool binary_changed) {
  internal::UnitValues values;
  values.daemon_user = daemon_user_;
  values.daemon_group = daemon_ ? sys::GroupName(daemon_->gid) : daemon_user_;
  bool units_changed = false;
  for (const internal::Unit& unit : internal::RenderUnits(values)) {
    const std::string path = std::string(internal::kUnitDirectory) + "/" + unit.name;
    std::string current;
    if (sys::ReadFile(path, &current) && current == unit.text) continue;
    if (options_.dry_run) {
      Record(path, "would", "write the unit");
      continue;
    }
    bool changed = false;
    if (!Check(path, sys::WriteFileAtomically(path, unit.text, 0, 0, 0644, &changed))) return;
    units_changed = true;
    Record(path, "done", "wrote the unit");
  }
  if (options_.dry_run) {
    Record("daemon", "would", "systemctl enable --now dualkey.service");
    return;
  }
  if (units_changed) sys::RunProgram({"systemctl", "daemon-reload"});
  sys::Ran enabled = sys::RunProgram({"systemctl", "is-enabled", "--quiet", "dualkey.service"});
  if (enabled.exit_code != 0) {
    sys::Ran enable = sys::RunProgram({"systemctl", "enable", "dualkey.service"});
    if (enable.exit_code != 0) {
      Record("daemon", "failed", "systemctl enable dualkey.service: " + enable.err);
      return;
    }
  }
  sys::Ran active = sys::RunProgram({"systemctl", "is-active", "--quiet", "dualkey.service"});
  std::string action;
  if (active.exit_code != 0)
    action = "start";
  else if (units_changed || binary_changed)
    action = "restart";
  if (!action.empty()) {
    sys::Ran run = sys::RunProgram({"systemctl", action, "dualkey.service"});
    if (run.exit_code != 0) {
      Record(
          "daemon", "failed",
          "systemctl " + action + " dualkey.service: " + run.err + " (see journalctl -u dualkey)");
      return;
    }
    std::string why;
    if (!WaitForDaemon(&why)) {
      Record("daemon", "failed", why + " (see journalctl -u dualkey)");
      return;
    }
    Record("daemon", "done",
           "systemctl " + action + " dualkey.service: `dualkey serve` runs as " + daemon_->name +
               " (enabled at boot)");
    return;
  }
  Record("daemon", "ok", "dualkey.service is enabled and running as " + daemon_->name);
}

void Setup::StepDaemon() {
  if (!daemon_) {
    Record("daemon", options_.dry_run ? "would" : "skipped",
           "start `dualkey serve` as " + daemon_user_);
    return;
  }
  if (systemd_) {
    StepSystemdUnits(binary_changed_);
    return;
  }
  // Running already, as the daemon user, from the installed binary?
  std::optional<pid_t> pid = sys::ReadPidFile(kPidFile);
  const sys::Peer peer = sys::SocketPeer(kSocket);
  if (pid && sys::ProcessAlive(*pid) && sys::ProcessUid(*pid) == daemon_->uid) {
    const std::string exe = sys::ProcessExe(*pid);
    const bool current = exe == binary_.c_str() && !binary_changed_;
    std::string error;
    if (current && peer.connected && peer.uid == daemon_->uid &&
        AskDaemon(*daemon_, daemon_user_, json{{"op", "status"}}, &error, 2000)) {
      Record("daemon", "ok",
             "`dualkey serve` runs as " + daemon_->name + " (pid " + std::to_string(*pid) + ")");
      return;
    }
    if (options_.dry_run) {
      Record("daemon", "would", "restart the daemon (pid " + std::to_string(*pid) + ")");
      return;
    }
    sys::StopProcess(*pid, 3000);
  } else if (pid && options_.dry_run) {
    Record("daemon", "would", "start the daemon (the pid file names a process that is gone)");
    return;
  }
  if (peer.connected && peer.uid != daemon_->uid) {
    // Someone else holds the socket: clients refuse it (wrong peer); it is
    // replaced by the real daemon.
    const std::string who = "pid " + std::to_string(peer.pid) + ", uid " + std::to_string(peer.uid);
    if (options_.dry_run) {
      Record("daemon", "would",
             "replace a foreign listener on " + std::string(kSocket) + " (" + who + ")");
      return;
    }
    Record("socket", "warn",
           "a foreign process (" + who + ") listened on " + std::string(kSocket) +
               "; its socket file is replaced");
  }
  if (options_.dry_run) {
    Record("daemon", "would", "start `dualkey serve` as " + daemon_->name + " (no systemd here)");
    return;
  }
  unlink(kSocket);
  unlink(kPidFile);
  StartDirect();
}

void Setup::StepAuditKey() {
  std::string key;
  std::string error;
  if (daemon_) {
    if (std::optional<json> info =
            AskDaemon(*daemon_, daemon_user_, json{{"op", "audit_info"}}, &error);
        info && info->value("ok", false))
      key = info->value("public_key", "");
  }
  if (key.empty()) key = AuditPublicKey(std::string(kStateDir) + "/audit.jsonl");
  if (key.empty()) {
    Record(kAuditPub, options_.dry_run ? "would" : "skipped",
           "pin the audit log's public key (the daemon writes the log when it first starts)");
    return;
  }
  std::string current;
  if (sys::ReadFile(kAuditPub, &current) && current == key + "\n") {
    Record(kAuditPub, "ok", "audit public key " + key);
    return;
  }
  if (!current.empty() && current != key + "\n") {
    // The key changed: the log was replaced or the key file recreated. Keep
    // the pinned key; verification against it shows what happened.
    Record(kAuditPub, "warn",
           "the audit log is signed by " + key + " but " + kAuditPub + " pins " +
               current.substr(0, current.find('\n')) +
               ": the log or its key was replaced. Check: dualkey audit verify --file " +
               std::string(kStateDir) + "/audit.jsonl");
    return;
  }
  if (options_.dry_run) {
    Record(kAuditPub, "would", "pin the audit public key " + key);
    return;
  }
  bool changed = false;
  if (Check(kAuditPub, sys::WriteFileAtomically(kAuditPub, key + "\n", 0, 0, 0644, &changed)))
    Record(kAuditPub, "done", "pinned the audit public key " + key);
}

void Setup::StepHooks() {
  const std::string stamp = Now();
  // Managed, root-owned configs: the user (and an agent running as them)
  // cannot remove these.
  for (hook::Agent agent : agents_) {
    hook::InstallRequest request;
    request.agent = agent;
    request.binary = binary_.c_str();
    request.config_path = hook::ManagedConfigPath(agent);
    request.dry_run = options_.dry_run;
    request.timestamp = stamp;
    request.uninstall = options_.remove;
    hook::CommandOutput result = hook::Install(request);
    const std::string step = std::string(hook::ToString(agent)) + " hook (managed)";
    managed_hooked_[std::string(hook::ToString(agent))] = result.exit_code == 0 && !options_.remove;
    if (result.exit_code != 0) {
      Record(step, "warn",
             request.config_path + ": " + result.err.substr(0, result.err.find('\n')));
      continue;
    }
    Record(
        step, result.changed ? Did() : "ok",
        request.config_path + (options_.remove ? "" : " (root's: cannot be removed by the user)"));
    if (options_.remove && !options_.dry_run) {
      // A managed file that held nothing but our hook goes, and its
      // directory with it when empty.
      std::string text;
      if (sys::ReadFile(request.config_path, &text) &&
          (text == "{}\n" || text.find_first_not_of(" \t\r\n") == std::string::npos)) {
        unlink(request.config_path.c_str());
        const std::string dir = request.config_path.substr(0, request.config_path.rfind('/'));
        rmdir(dir.c_str());
      }
    }
  }
  // The user's own configs too: older agents without managed settings read
  // only these. Edited as the user, so no root write follows their symlinks.
  if (!user_) {
    Record("hooks (user)", "skipped", "no user named (--user NAME)");
    return;
  }
  std::string output;
  const Options options = options_;
  const std::vector<hook::Agent> agents = agents_;
  const int status = sys::RunAs(
      *user_,
      [&](std::string* out) {
        json results = json::array();
        for (hook::Agent agent : agents) {
          hook::InstallRequest request;
          request.agent = agent;
          request.binary = binary_.c_str();
          request.home = user_->home;
          request.dry_run = options.dry_run;
          request.uninstall = options.remove;
          request.timestamp = stamp;
          hook::CommandOutput result = hook::Install(request);
          results.push_back({{"agent", hook::ToString(agent)},
                             {"exit_code", result.exit_code},
                             {"changed", result.changed},
                             {"path", hook::ConfigPath(agent, false, "", user_->home)},
                             {"error", result.err}});
        }
        *out = results.dump();
        return 0;
      },
      &output);
  json results = json::parse(output, nullptr, false);
  if (status != 0 || !results.is_array()) {
    Record("hooks (user)", "failed", "could not run as " + user_->name);
    return;
  }
  for (const json& r : results) {
    const std::string step = r.value("agent", "") + " hook (" + user_->name + ")";
    if (r.value("exit_code", 2) != 0) {
      Record(step, "warn", r.value("error", ""));
      continue;
    }
    Record(step, r.value("changed", false) ? Did() : "ok", r.value("path", ""));
  }
}

// A single-user state left in the user's home: its approvers' secrets were
// readable by the user's agents all along, so nothing is carried over.
void Setup::StepSingleUserState() {
  if (!user_) return;
  const std::string old_state = user_->home + "/.local/state/dualkey";
  if (!Exists(old_state + "/state.sqlite3")) return;
  Record("single-user state", "warn",
         old_state +
             " is not used any more. Its approvers' TOTP secrets were readable by "
             "your agents: enrol approvers anew here and re-scan their phones; stop a "
             "`dualkey serve` still running as " +
             user_->name + ".");
}

void Setup::StepApprover() {
  const std::string store = std::string(kStateDir) + "/state.sqlite3";
  if (!daemon_ || (options_.dry_run && (geteuid() != 0 || !Exists(store)))) {
    Record("approver", options_.dry_run ? "would" : "skipped",
           options_.approver.empty() ? "enrol the first approver (asked on the terminal)"
                                     : "enrol " + options_.approver + " as the first approver");
    return;
  }
  // Through the daemon, as root, when it has approver administration; an
  // older daemon: in its store, as its user.
  std::string output, error;
  int status = 0;
  json listed;
  std::optional<json> reply =
      AskDaemon(*daemon_, daemon_user_, json{{"op", "approver_list"}}, &error);
  const bool daemon_admin = reply && !UnknownOp(*reply) && !options_.dry_run;
  if (reply && reply->value("ok", false)) {
    listed = *reply;
  } else if (daemon_admin) {
    listed = json{{"error", reply->value("error", "")}};
    status = 1;
  } else {
    status = sys::RunAs(
        *daemon_,
        [&](std::string* out) {
          Result<std::unique_ptr<approval::Store>> opened = approval::OpenStore(store);
          std::vector<std::string> names;
          const Status listed = opened.ok() ? (*opened)->Approvers(&names) : opened.status();
          if (!listed.ok()) {
            *out = json{{"error", listed.message()}}.dump();
            return 1;
          }
          *out = json{{"approvers", names}}.dump();
          return 0;
        },
        &output);
    listed = json::parse(output, nullptr, false);
  }
  if (status != 0 || !listed.is_object() || !listed.contains("approvers")) {
    Record(
        "approver", "failed",
        "cannot read the approvers: " + (listed.is_object() ? listed.value("error", "") : output));
    return;
  }
  std::vector<std::string> names = listed["approvers"].get<std::vector<std::string>>();
  if (!names.empty()) {
    std::string list;
    for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
    Record("approver", "ok", "enrolled: " + list);
    return;
  }
  if (options_.dry_run) {
    Record("approver", "would",
           options_.approver.empty() ? "enrol the first approver (asked on the terminal)"
                                     : "enrol " + options_.approver + " as the first approver");
    return;
  }
  std::string name = options_.approver;
  if (name.empty() && !options_.json && isatty(STDIN_FILENO)) {
    const char* sudo_user = std::getenv("SUDO_USER");
    const std::string suggestion = sudo_user != nullptr ? sudo_user : "";
    out_ << "\nThe first approver is the human who approves held actions with a TOTP code\n"
            "from their phone. Name"
         << (suggestion.empty() ? "" : " [" + suggestion + "]") << ": " << std::flush;
    std::getline(std::cin, name);
    if (name.empty()) name = suggestion;
  }
  if (name.empty()) {
    Record("approver", "warn",
           "no approver yet: until one is enrolled nothing held can be approved. "
           "Fix: sudo dualkey setup --approver NAME");
    return;
  }
  // Only root gets here. Through the daemon (it audits the enrolment), or,
  // with an older daemon, as the daemon's user in its store.
  json added;
  reply = AskDaemon(*daemon_, daemon_user_, json{{"op", "approver_add"}, {"name", name}}, &error);
  if (reply && !UnknownOp(*reply)) {
    added = reply->value("ok", false) ? *reply : json{{"error", reply->value("error", "")}};
    status = reply->value("ok", false) ? 0 : 1;
  } else {
    status = sys::RunAs(
        *daemon_,
        [&](std::string* out) {
          Result<std::unique_ptr<approval::Store>> opened = approval::OpenStore(store);
          const std::string secret = approval::NewTotpSecret();
          const Status enrolled =
              opened.ok() ? (*opened)->AddApprover(name, secret) : opened.status();
          if (!enrolled.ok()) {
            *out = json{{"error", enrolled.message()}}.dump();
            return 1;
          }
          *out = json{{"uri", approval::TotpUri(name, secret)}}.dump();
          return 0;
        },
        &output);
    added = json::parse(output, nullptr, false);
  }
  if (status != 0 || !added.is_object() || !added.contains("uri")) {
    Record("approver", "failed",
           "cannot enrol " + name + ": " + (added.is_object() ? added.value("error", "") : output));
    return;
  }
  const std::string uri = added["uri"].get<std::string>();
  approver_ = {{"name", name}, {"otpauth_uri", uri}};
  Record("approver", "done", "enrolled " + name + " (root only enrols the first approver)");
  if (!options_.json)
    out_ << "\n"
         << approval::TerminalQr(uri) << "\n"
         << "Scan this with an authenticator app on " << name
         << "'s phone (not on this machine), or enter:\n  " << uri << "\n"
         << "It is shown once. Approve with: dualkey approve ID --as " << name << "\n\n";
}

int Setup::StepDoctor() {
  if (options_.no_doctor || options_.dry_run || !user_) return 0;
  if (!options_.json) out_ << "\ndualkey doctor (as " << user_->name << "):\n" << std::flush;
  std::string output;
  const bool json_mode = options_.json;
  const std::string home = user_->home;
  const int status = sys::RunAs(
      *user_,
      [&](std::string* out) {
        DoctorOptions doctor;
        doctor.home = home;
        doctor.json = json_mode;
        std::ostringstream text, errors;
        const int code = Doctor(doctor, text, errors);
        *out = text.str() + errors.str();
        return code;
      },
      &output);
  if (options_.json) {
    doctor_ = json::parse(output, nullptr, false);
    if (doctor_.is_discarded()) doctor_ = output;
  } else {
    out_ << output << std::flush;
  }
  return status < 0 ? 1 : status;
}

json Setup::UnhookReport() const {
  json report = json::array();
  for (hook::Agent agent : agents_) {
    const std::string name(hook::ToString(agent));
    const bool managed = managed_hooked_.count(name) && managed_hooked_.at(name);
    std::string why;
    bool can = true;
    switch (agent) {
      case hook::Agent::kClaude:
        can = !managed;
        why = managed ? "managed settings: the user's settings cannot remove or disable it "
                        "(disableAllHooks there leaves managed hooks running)"
                      : "only the user's own settings hold the hook";
        break;
      case hook::Agent::kGemini:
        can = true;
        why = managed ? "system settings override the user's, but Gemini CLI started with "
                        "GEMINI_CLI_SYSTEM_SETTINGS_PATH pointing elsewhere does not read them"
                      : "only the user's own settings hold the hook";
        break;
      case hook::Agent::kCodex:
        can = !managed;
        why = managed ? "requirements.toml hooks are managed: trusted by policy, not disableable "
                        "in /hooks (Codex versions without hooks in requirements.toml read only "
                        "the user's hooks.json, which the user can edit)"
                      : "only the user's own hooks.json holds the hook";
        break;
      case hook::Agent::kCursor:
        can = true;
        why =
            "the Linux path of Cursor's enterprise hooks (/etc/cursor/hooks.json) is "
            "unconfirmed; the user's ~/.cursor/hooks.json can be edited by the user";
        break;
    }
    report.push_back({{"agent", name}, {"user_can_unhook", can}, {"why", why}});
  }
  return report;
}

void Setup::StopDaemon(const char* step) {
  if (systemd_) {
    for (const char* unit :
         {"dualkey-gateway.service", "dualkey-pg-proxy.service", "dualkey.service"}) {
      sys::Ran active = sys::RunProgram({"systemctl", "is-active", "--quiet", unit});
      sys::Ran enabled = sys::RunProgram({"systemctl", "is-enabled", "--quiet", unit});
      if (active.exit_code != 0 && (enabled.exit_code != 0 || options_.stop)) continue;
      if (options_.dry_run) {
        Record(step, "would",
               std::string("systemctl ") + (options_.stop ? "stop " : "disable --now ") + unit);
        continue;
      }
      sys::Ran run = options_.stop ? sys::RunProgram({"systemctl", "stop", unit})
                                   : sys::RunProgram({"systemctl", "disable", "--now", unit});
      Record(step, run.exit_code == 0 ? "done" : "failed",
             std::string(options_.stop ? "stopped " : "disabled and stopped ") + unit);
    }
  }
  std::optional<pid_t> pid = sys::ReadPidFile(kPidFile);
  std::vector<pid_t> pids;
  // The pid file lies in the daemon user's directory: only a process of
  // that user (or a dualkey binary) is stopped on its word.
  if (pid && sys::ProcessAlive(*pid) &&
      ((daemon_ && sys::ProcessUid(*pid) == daemon_->uid) ||
       sys::ProcessExe(*pid).starts_with(binary_.c_str())))
    pids.push_back(*pid);
  // With --remove, nothing of the daemon user may be left running.
  if (daemon_ && !options_.stop)
    for (pid_t p : sys::ProcessesOf(daemon_->uid))
      if (std::find(pids.begin(), pids.end(), p) == pids.end()) pids.push_back(p);
  if (pids.empty()) {
    if (!systemd_) Record(step, "ok", "no daemon process runs");
  }
  for (pid_t p : pids) {
    if (options_.dry_run) {
      Record(step, "would", "stop pid " + std::to_string(p));
      continue;
    }
    const bool gone = sys::StopProcess(p, 5000);
    Record(step, gone ? "done" : "failed",
           (gone ? "stopped pid " : "could not stop pid ") + std::to_string(p));
  }
  if (!options_.dry_run && Exists(kPidFile)) unlink(kPidFile);
}

int Setup::Remove() {
  if (!options_.json)
    out_ << "dualkey setup --remove" << (options_.dry_run ? " (dry run)" : "") << ":\n";
  StopDaemon("daemon");
  // Units.
  bool units_removed = false;
  for (const internal::Unit& unit : internal::RenderUnits({})) {
    const std::string path = std::string(internal::kUnitDirectory) + "/" + unit.name;
    if (!Exists(path)) continue;
    if (options_.dry_run) {
      Record(path, "would", "remove");
      continue;
    }
    if (unlink(path.c_str()) == 0) {
      units_removed = true;
      Record(path, "done", "removed");
    } else {
      Record(path, "failed", std::strerror(errno));
    }
  }
  if (units_removed && systemd_) sys::RunProgram({"systemctl", "daemon-reload"});
  StepHooks();
  // /etc/dualkey: the install file goes (clients are back in single-user
  // mode); the policy stays if someone changed it.
  const std::string kept_pub = std::string(kStateDir) + "/audit.pub";
  for (const std::string& path : {std::string(install::kInstallFile), std::string(kSetupRecord),
                                  std::string(kAuditPub), std::string(kPolicyFile)}) {
    if (!Exists(path)) continue;
    std::string text;
    sys::ReadFile(path, &text);
    if (path == kPolicyFile && text != kDefaultPolicy) {
      Record(path, "ok", "kept (it is not the default setup wrote)");
      continue;
    }
    if (options_.dry_run) {
      Record(path, "would", "remove");
      continue;
    }
    if (path == kAuditPub && Exists(kStateDir)) {
      bool ignored = false;
      (void)sys::WriteFileAtomically(kept_pub, text, 0, 0, 0600, &ignored);
    }
    if (unlink(path.c_str()) == 0)
      Record(path, "done",
             path == kAuditPub ? "removed (a copy is kept as " + kept_pub + ")" : "removed");
    else
      Record(path, "failed", std::strerror(errno));
  }
  for (const std::string& dir : {std::string(kConfigDir) + "/packs", std::string(kConfigDir)})
    if (!options_.dry_run && Exists(dir) && rmdir(dir.c_str()) == 0)
      Record(dir, "done", "removed (empty)");
  // The binary.
  struct stat st {};
  if (!InstalledBinary(options_).empty()) {
    Record(binary_, "ok", "kept (the package removes it)");
  } else if (lstat(binary_.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0) {
    if (options_.dry_run) {
      Record(binary_.c_str(), "would", "remove");
    } else if (unlink(binary_.c_str()) == 0) {
      Record(binary_.c_str(), "done", "removed");
    } else {
      Record(binary_.c_str(), "failed", std::strerror(errno));
    }
  }
  // /run/dualkey: the socket and the pid file.
  if (Exists(kRuntimeDir)) {
    if (options_.dry_run) {
      Record(kRuntimeDir, "would", "remove (socket, pid file)");
    } else {
      unlink(kSocket);
      unlink(kPidFile);
      if (rmdir(kRuntimeDir) == 0)
        Record(kRuntimeDir, "done", "removed");
      else
        Record(kRuntimeDir, "warn", std::string("not removed: ") + std::strerror(errno));
    }
  }
  // The state: kept (vault, audit log), but root's alone once its user is
  // gone, so that a later account with the same uid does not own it.
  if (Exists(kStateDir)) {
    if (options_.dry_run) {
      Record(kStateDir, "would", "keep (vault, audit log, approvals) and make it root's alone");
    } else {
      int fixed = 0;
      if (Check(kStateDir, sys::OwnTree(kStateDir, 0, 0, 0700, 0600, &fixed)))
        Record(kStateDir, fixed > 0 ? "done" : "ok",
               "kept: vault, audit log and approvals, root's alone now (`sudo dualkey setup` "
               "hands them back to the daemon)");
    }
  }
  if (daemon_) {
    if (options_.dry_run) {
      Record("daemon user", "would", "delete " + daemon_->name);
    } else if (Check("daemon user", sys::DeleteUser(daemon_->name))) {
      Record("daemon user", "done", "deleted " + daemon_->name);
    }
  }
  return Finish(0);
}

int Setup::Finish(int doctor_status) {
  const int status = failed_ ? 2 : doctor_status != 0 ? 1 : 0;
  if (options_.json) {
    json report{{"action", options_.remove ? "remove"
                           : options_.stop ? "stop"
                                           : "setup"},
                {"dry_run", options_.dry_run},
                {"changed", changes_ > 0},
                {"steps", steps_},
                {"exit_code", status}};
    if (!approver_.is_null()) report["approver"] = approver_;
    if (!options_.remove && !options_.stop) report["unhook"] = UnhookReport();
    if (!doctor_.is_null()) report["doctor"] = doctor_;
    out_ << report.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return status;
  }
  if (failed_) {
    out_ << "\ndualkey setup: a step failed (above); nothing done so far is lost: fix it and run "
            "the same command again.\n";
  } else if (changes_ == 0) {
    out_ << "\ndualkey setup: nothing to do: "
         << (options_.remove ? "dualkey's protected install is not here."
             : options_.stop ? "no daemon runs."
                             : "the protected install is already in place.")
         << "\n";
  } else if (options_.dry_run) {
    out_ << "\ndualkey setup: dry run: " << changes_
         << " change(s) above would be made; nothing was.\n";
  } else if (options_.remove) {
    out_ << "\ndualkey setup --remove: done. Kept: " << kStateDir
         << " (vault, audit log). Agents are back to single-user mode (dualkey install AGENT).\n";
  }
  return status;
}

int Setup::Run() {
  std::string error;
  agents_ = ParseAgents(options_.agents, &error);
  if (agents_.empty()) {
    err_ << "dualkey setup: " << error << "\n";
    return 2;
  }
  if (geteuid() != 0 && !options_.dry_run) {
    err_ << "dualkey setup " << (options_.remove ? "--remove " : "")
         << "changes the system (a user, /etc/dualkey, /var/lib/dualkey, the agents' managed "
            "settings): run it as root, e.g. sudo dualkey setup. --dry-run shows what it "
            "would do.\n";
    return 2;
  }
  if (!ResolveUsers()) return 2;
  systemd_ = sys::SystemdRunning();
  if (options_.remove) return Remove();
  if (options_.stop) {
    if (!options_.json) out_ << "dualkey setup --stop:\n";
    StopDaemon("daemon");
    return Finish(0);
  }
  if (!options_.json)
    // --system-only (a package's postinst) may name no user: nobody's agents yet.
    out_ << "dualkey setup" << (options_.dry_run ? " (dry run)" : "") << ": "
         << (user_ ? "protecting " + user_->name + "'s agents"
                   : std::string("the system part only (no user's agents wired)"))
         << "; the daemon runs as " << daemon_user_ << " ("
         << (systemd_ ? "systemd" : "no systemd here: a process with a pid file") << ")\n"
         << std::flush;
  StepDaemonUser();
  if (failed_) return Finish(0);
  StepDirectories();
  StepPolicy();
  StepBinary();
  if (failed_) return Finish(0);
  StepInstallFile();
  if (failed_) return Finish(0);
  if (options_.system_only) {
    // A package's maintainer script: the system part only. Under systemd the
    // package's own units run the daemon; elsewhere it is started here.
    if (systemd_)
      Record("daemon", "skipped", "the package's dualkey.service runs it");
    else
      StepDaemon();
    if (!failed_ && !systemd_) StepAuditKey();
    return Finish(0);
  }
  StepDaemon();
  if (!failed_) StepAuditKey();
  StepHooks();
  StepSingleUserState();
  if (!failed_) StepApprover();
  if (!options_.json && !options_.dry_run) {
    out_ << "\nWho can still unhook an agent (hooks in files the user can edit can be removed by "
            "an agent running as them, which dualkey holds as tampering but cannot prevent):\n";
    for (const json& entry : UnhookReport())
      out_ << "  " << entry["agent"].get<std::string>() << ": "
           << (entry["user_can_unhook"].get<bool>() ? "the user can" : "the user cannot") << " ("
           << entry["why"].get<std::string>() << ")\n";
  }
  const int doctor_status = failed_ ? 0 : StepDoctor();
  if (!options_.json && !failed_ && !options_.dry_run) {
    if (changes_ == 0)
      out_ << "\ndualkey setup: nothing to do: the protected install is already in place.\n";
    else
      out_ << "\ndualkey setup: done (" << changes_
           << " change(s)). Restart your agents so they "
              "read their hooks again. Undo with: sudo dualkey setup --remove\n";
    return failed_ ? 2 : doctor_status != 0 ? 1 : 0;
  }
  return Finish(doctor_status);
}

}  // namespace

int Run(const Options& options, std::ostream& out, std::ostream& err) {
  Setup setup(options, out, err);
  return setup.Run();
}

}  // namespace dualkey::setup
