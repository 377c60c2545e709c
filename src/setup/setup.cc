// `sudo dualkey setup`: the run, and the steps that make users, directories,
// the policy, the binary and the install file (internal/steps.h).
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
#include "base/file_text.h"
#include "base/toml_text.h"
#include "client/client.h"
#include "hook/install.h"
#include "install/layout.h"
#include "setup/internal/steps.h"
#include "setup/internal/units.h"
#include "setup/system.h"

namespace dualkey::setup {
namespace internal {

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

std::string AuditPublicKey(const std::string& log_path) {
  std::ifstream in(log_path);
  std::string line;
  if (!in || !std::getline(in, line)) return "";
  json header = json::parse(line, nullptr, false);
  if (!header.is_object() || !header.contains("public_key") || !header["public_key"].is_string())
    return "";
  return header["public_key"].get<std::string>();
}

std::optional<json> AskDaemon(const sys::Account& daemon, const std::string& daemon_user,
                              const json& request, std::string* error, int timeout_ms) {
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

bool Setup::ResolveUsers() {
  std::string name = options_.user;
  if (name.empty()) {
    if (const char* sudo_user = std::getenv("SUDO_USER"); sudo_user != nullptr) name = sudo_user;
  }
  json record;
  if (std::string text; base::ReadFile(kSetupRecord, &text))
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
  base::ReadFile(kPolicyFile, &text);
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
  if (base::ReadFile(std::string(install::kInstallFile), &current) && current == text) {
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

}  // namespace internal

int Run(const Options& options, std::ostream& out, std::ostream& err) {
  internal::Setup setup(options, out, err);
  return setup.Run();
}

}  // namespace dualkey::setup
