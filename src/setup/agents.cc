// `sudo dualkey setup`: the agents' hooks, the single-user state carried
// over, the first approver, and doctor at the end.
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

void Setup::StepHooks() {
  const std::string stamp = base::LocalStamp();
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
      if (base::ReadFile(request.config_path, &text) &&
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

}  // namespace dualkey::setup::internal
