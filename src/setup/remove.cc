// `sudo dualkey setup --remove`: undoes the install, keeping the vault and
// the audit log.
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

namespace dualkey::setup::internal {

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
    base::ReadFile(path, &text);
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

}  // namespace dualkey::setup::internal
