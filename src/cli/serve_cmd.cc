// CLI glue for the daemon and the humans around it: serve, pending, approve,
// deny, watch, approver add/list, breaker reset.
#include <pwd.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "approval/approval.h"
#include "cli/commands.h"
#include "policy/policy.h"
#include "daemon/daemon.h"

namespace dualkey::cli {
namespace {

using nlohmann::json;

std::string Socket(const DaemonOptions& options) {
  return options.socket.empty() ? daemon::DefaultSocketPath() : options.socket;
}

std::string UserName() {
  if (const char* user = std::getenv("USER"); user != nullptr && *user != '\0') return user;
  if (passwd* pw = getpwuid(getuid()); pw != nullptr) return pw->pw_name;
  return "admin";
}

// Asks for the TOTP code on the terminal when it was not given.
bool TotpCode(const DaemonOptions& options, const std::string& approver, std::string* code) {
  if (!options.code.empty()) {
    *code = options.code;
    return true;
  }
  if (!isatty(STDIN_FILENO)) {
    std::cerr << "dualkey: give the approver's current TOTP code with --code\n";
    return false;
  }
  std::cerr << "TOTP code for " << approver << ": " << std::flush;
  std::getline(std::cin, *code);
  return !code->empty();
}

std::optional<json> Ask(const DaemonOptions& options, const json& request) {
  std::string error;
  std::optional<json> reply = daemon::Call(Socket(options), request, 10000, &error);
  if (!reply) {
    std::cerr << "dualkey: " << error << "\n  start it with `dualkey serve`\n";
    return std::nullopt;
  }
  if (!reply->value("ok", false)) {
    std::cerr << "dualkey: " << reply->value("error", "the daemon refused the request") << "\n";
    return std::nullopt;
  }
  return reply;
}

std::string Ago(std::int64_t ms) {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  std::int64_t seconds = (ms - now) / 1000;
  std::ostringstream out;
  if (seconds >= 0)
    out << "in " << seconds / 60 << "m" << seconds % 60 << "s";
  else
    out << -seconds / 60 << "m" << -seconds % 60 << "s ago";
  return out.str();
}

void PrintRequest(const json& r) {
  std::cout << r.value("id", "") << "  code " << r.value("code", "") << "  " << r.value("state", "")
            << "  agent " << r.value("agent", "") << "  needs " << r.value("approvals_needed", 1)
            << " approver(s)";
  if (!r["approvers"].empty()) std::cout << ", approved by " << r["approvers"].dump();
  std::cout << "  expires " << Ago(r.value("expires_ms", std::int64_t{0})) << "\n"
            << "    " << r.value("channel", "") << ": " << r.value("input", "") << "\n";
  if (!r.value("cwd", "").empty()) std::cout << "    cwd: " << r.value("cwd", "") << "\n";
  std::cout << "    why: " << r.value("reason", "") << "\n";
}

int Pending(const DaemonOptions& options) {
  std::optional<json> reply = Ask(options, json{{"op", "pending"}});
  if (!reply) return 2;
  if (options.json) {
    std::cout << (*reply)["requests"].dump() << "\n";
    return 0;
  }
  if ((*reply)["requests"].empty()) std::cout << "nothing is waiting for approval\n";
  for (const json& r : (*reply)["requests"]) PrintRequest(r);
  return 0;
}

int Approve(const DaemonOptions& options) {
  const std::string approver = options.as.empty() ? UserName() : options.as;
  std::string code;
  if (!TotpCode(options, approver, &code)) return 2;
  std::optional<json> reply = Ask(
      options, json{{"op", "approve"}, {"id", options.id}, {"approver", approver}, {"totp", code}});
  if (!reply) return 1;
  const json& r = (*reply)["request"];
  if (r.value("state", "") == "approved")
    std::cout << "approved " << r.value("id", "") << ": the identical action will pass once, until "
              << Ago(r.value("expires_ms", std::int64_t{0})) << "\n";
  else
    std::cout << "recorded " << approver << "'s approval of " << r.value("id", "") << "; it needs "
              << r.value("approvals_needed", 2) << " distinct approvers\n";
  return 0;
}

int Deny(const DaemonOptions& options) {
  std::optional<json> reply =
      Ask(options, json{{"op", "deny"},
                        {"id", options.id},
                        {"approver", options.as.empty() ? UserName() : options.as},
                        {"reason", options.reason}});
  if (!reply) return 1;
  std::cout << "denied " << (*reply)["request"].value("id", "") << "\n";
  return 0;
}

int BreakerReset(const DaemonOptions& options) {
  const std::string approver = options.as.empty() ? UserName() : options.as;
  std::string code;
  if (!TotpCode(options, approver, &code)) return 2;
  std::optional<json> reply = Ask(options, json{{"op", "breaker_reset"},
                                                {"agent", options.agent},
                                                {"approver", approver},
                                                {"totp", code}});
  if (!reply) return 1;
  std::cout << "breaker reset: agent " << options.agent << " may act again\n";
  return 0;
}

std::string Clock(std::int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&seconds, &tm);
  std::ostringstream out;
  out << std::put_time(&tm, "%H:%M:%S");
  return out.str();
}

// A live view: one line per request and decision, as they happen.
int Watch(const DaemonOptions& options) {
  std::string error;
  // The watch stream is read with the raw client: one JSON event per line.
  int status = daemon::Watch(
      Socket(options),
      [&](const json& event) {
        if (options.json) {
          std::cout << event.dump() << std::endl;
          return;
        }
        const std::string kind = event.value("event", "");
        std::cout << Clock(event.value("time_ms", std::int64_t{0})) << "  " << std::left
                  << std::setw(9) << kind;
        if (event.contains("decision"))
          std::cout << std::setw(6) << event.value("decision", "") << " "
                    << event.value("agent", "") << "  " << event.value("input", "").substr(0, 80);
        else if (event.contains("approval_id"))
          std::cout << event.value("approval_id", "") << "  "
                    << event.value("input", "").substr(0, 80);
        else if (event.contains("agent"))
          std::cout << "agent " << event.value("agent", "");
        if (event.contains("reason") && kind != "approval")
          std::cout << "\n          " << event.value("reason", "");
        std::cout << std::endl;
      },
      &error);
  if (status != 0) std::cerr << "dualkey watch: " << error << "\n";
  return status;
}

int ApproverAdd(const DaemonOptions& options) {
  std::string error;
  const std::string state =
      options.state_dir.empty() ? daemon::DefaultStateDir() : options.state_dir;
  const std::string location = options.store.empty() ? state + "/state.sqlite3" : options.store;
  std::unique_ptr<approval::Store> store = approval::OpenStore(location, &error);
  if (!store) {
    std::cerr << "dualkey approver add: cannot open the store " << location << ": " << error
              << "\n";
    return 1;
  }
  const std::string secret = approval::NewTotpSecret();
  if (!store->AddApprover(options.name, secret, &error)) {
    std::cerr << "dualkey approver add: " << error << "\n";
    return 1;
  }
  const std::string uri = approval::TotpUri(options.name, secret);
  std::cout
      << approval::TerminalQr(uri) << "\n"
      << "Scan this with an authenticator app on your phone (not on this machine), or enter:\n"
      << "  " << uri << "\n\n"
      << "Approve with: dualkey approve ID --as " << options.name << "\n";
  return 0;
}

int ApproverList(const DaemonOptions& options) {
  std::string error;
  const std::string state =
      options.state_dir.empty() ? daemon::DefaultStateDir() : options.state_dir;
  const std::string location = options.store.empty() ? state + "/state.sqlite3" : options.store;
  std::unique_ptr<approval::Store> store = approval::OpenStore(location, &error);
  std::vector<std::string> names;
  if (!store || !store->Approvers(&names, &error)) {
    std::cerr << "dualkey approver list: " << error << "\n";
    return 1;
  }
  for (const std::string& name : names) std::cout << name << "\n";
  return 0;
}

}  // namespace

int RunServe(daemon::ServeOptions options) {
  // The daemon's own limits come from the machine's policy (system and user
  // layers); a flag on the command line wins.
  const char* home = std::getenv("HOME");
  policy::Policy policy = policy::Load(policy::DefaultSources("", home != nullptr ? home : ""));
  for (const std::string& error : policy.errors)
    std::cerr << "dualkey serve: policy: " << error << " (using the default limits for it)\n";
  const policy::Limits& limits = policy.limits;
  if (options.breaker_attempts < 0) options.breaker_attempts = limits.breaker_attempts;
  if (options.breaker_window_seconds < 0)
    options.breaker_window_seconds = limits.breaker_window_seconds;
  if (options.rate_burst < 0) options.rate_burst = limits.rate_burst;
  if (options.rate_per_minute < 0) options.rate_per_minute = limits.rate_per_minute;
  return daemon::Serve(options);
}

int RunDaemonCommand(const DaemonOptions& options) {
  if (options.action == "pending") return Pending(options);
  if (options.action == "approve") return Approve(options);
  if (options.action == "deny") return Deny(options);
  if (options.action == "watch") return Watch(options);
  if (options.action == "approver-add") return ApproverAdd(options);
  if (options.action == "approver-list") return ApproverList(options);
  if (options.action == "breaker-reset") return BreakerReset(options);
  std::cerr << "dualkey: unknown command\n";
  return 2;
}

}  // namespace dualkey::cli
