// `sudo dualkey setup` as steps: the Setup class and what its parts share.
// setup.cc resolves the users, writes directories, policy, binary and the
// install file, and runs the steps in order; service.cc starts and stops the
// daemon (systemd units or a direct process) and pins its audit key;
// agents.cc wires the hooks and enrols the first approver, then runs doctor;
// remove.cc undoes it all.
#pragma once

#include <sys/types.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "base/status.h"
#include "hook/install.h"
#include "setup/setup.h"
#include "setup/system.h"

namespace dualkey::setup::internal {

using nlohmann::json;

inline constexpr const char* kDefaultBinary = "/usr/local/bin/dualkey";
inline constexpr const char* kPackageBinary = "/usr/bin/dualkey";  // the Debian package's
inline constexpr const char* kConfigDir = "/etc/dualkey";
inline constexpr const char* kStateDir = "/var/lib/dualkey";
inline constexpr const char* kRuntimeDir = "/run/dualkey";
inline constexpr const char* kSocket = "/run/dualkey/dualkey.sock";
inline constexpr const char* kPidFile = "/run/dualkey/dualkey.pid";
inline constexpr const char* kSetupRecord = "/etc/dualkey/setup.json";
inline constexpr const char* kAuditPub = "/etc/dualkey/audit.pub";
inline constexpr const char* kPolicyFile = "/etc/dualkey/policy.toml";
inline constexpr int kDaemonStartMs = 10000;

// The system policy setup writes when there is none. lock_user makes the
// user's own policy file (which an agent running as the user can edit) a
// layer that can only tighten, observe mode included.
inline constexpr const char* kDefaultPolicy =
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

bool ValidUserName(const std::string& name);
bool Exists(const std::string& path);
// This executable, from /proc/self/exe.
std::string SelfPath();
std::vector<hook::Agent> ParseAgents(const std::vector<std::string>& names, std::string* error);
// The public key of the audit log's signer, from its header line.
std::string AuditPublicKey(const std::string& log_path);
// The reply to `request` from the daemon this install runs (client::Client,
// so the listener must be the daemon's user or root), or nullopt with
// `error` when it cannot be asked; a daemon that does not know the op
// answers ok=false.
std::optional<json> AskDaemon(const sys::Account& daemon, const std::string& daemon_user,
                              const json& request, std::string* error, int timeout_ms = 5000);
bool UnknownOp(const json& reply);

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

}  // namespace dualkey::setup::internal
