// CLI glue for the daemon and the humans around it: serve, pending, approve,
// deny, watch, approver add/remove/rotate/list, breaker reset/status.
#include <pwd.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "approval/approval.h"
#include "base/json_text.h"
#include "cli/commands.h"
#include "cli/serve_log.h"
#include "client/client.h"
#include "client/words.h"
#include "daemon/daemon.h"
#include "install/layout.h"
#include "policy/policy.h"

namespace dualkey::cli {
namespace {

using nlohmann::json;

bool ProtectedInstall() {
  Result<install::Layout> layout = install::CurrentLayout();
  return !layout.ok() || layout->protected_install;
}

client::Client ClientFor(const DaemonOptions& options) {
  client::ClientOptions client_options;
  client_options.socket_path = options.socket;
  client_options.timeout_ms = 10000;
  // `--state DIR` names a daemon: in single-user mode, the socket in it
  // (unless --socket or $DUALKEY_SOCKET says otherwise).
  const char* env = std::getenv("DUALKEY_SOCKET");
  if (client_options.socket_path.empty() && !options.state_dir.empty() &&
      (env == nullptr || *env == '\0') && !ProtectedInstall())
    client_options.socket_path = options.state_dir + "/dualkey.sock";
  return client::Client::ForThisProcess(client_options);
}

std::string StateDir(const DaemonOptions& options) {
  return options.state_dir.empty() ? install::DefaultStateDir() : options.state_dir;
}

// A failed request, said once.
void Report(const Status& status) {
  std::cerr << "dualkey: " << status.message() << "\n";
  if (status.Is(Status::Code::kNotFound) || status.Is(Status::Code::kUnavailable))
    std::cerr << "  start it with `dualkey serve`\n";
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

std::string Clock(std::int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&seconds, &tm);
  std::ostringstream out;
  out << std::put_time(&tm, "%H:%M:%S");
  return out.str();
}

void PrintRequest(const client::Approval& r) {
  std::cout << r.id << "  code " << r.code << "  " << r.state << "  agent " << r.agent << "  needs "
            << r.approvals_needed << " approver(s)";
  if (!r.approvers.empty()) std::cout << ", approved by " << base::JsonDump(json(r.approvers));
  std::cout << "  expires " << Ago(r.expires_ms) << "\n"
            << "    " << r.channel << ": " << r.input << "\n";
  if (!r.cwd.empty()) std::cout << "    cwd: " << r.cwd << "\n";
  std::cout << "    why: " << r.reason << "\n";
  if (r.failed_codes > 0) {
    std::cout << "    ! " << r.failed_codes << " wrong code(s) for this request";
    if (r.locked_until_ms > 0) std::cout << "; locked until " << Clock(r.locked_until_ms);
    std::cout << "\n";
  }
}

int Pending(const DaemonOptions& options) {
  Result<client::PendingReply> reply = ClientFor(options).Pending();
  if (!reply.ok()) {
    Report(reply.status());
    return 2;
  }
  if (options.json) {
    json list = json::array();
    for (const auto& r : reply->requests) list.push_back(client::ToJson(r));
    std::cout << base::JsonDump(list) << "\n";
    return 0;
  }
  if (reply->requests.empty()) std::cout << "nothing is waiting for approval\n";
  for (const auto& r : reply->requests) {
    PrintRequest(r);
    // The same words the approver's page shows.
    if (r.words.is_object()) std::cout << client::HoldWordsText(r.words, "    ");
  }
  // Wrong codes are how guessing shows: say so, approvers included.
  bool header = false;
  for (const client::FailedCodes& f : reply->failed_codes) {
    if (!f.scope.starts_with("approver:")) continue;
    if (!header) std::cout << "wrong TOTP codes in the last day:\n";
    header = true;
    std::cout << "  " << f.scope.substr(9) << ": " << f.failures << " wrong code(s), last "
              << Clock(f.last_failure_ms);
    if (f.locked_until_ms > 0) std::cout << "; locked until " << Clock(f.locked_until_ms);
    std::cout << "\n";
  }
  if (header)
    std::cout << "  (if these were not your typos, something is guessing codes: see `dualkey "
                 "audit tail`)\n";
  return 0;
}

int Approve(const DaemonOptions& options) {
  const std::string approver = options.as.empty() ? UserName() : options.as;
  std::string code;
  if (!TotpCode(options, approver, &code)) return 2;
  Result<client::ApprovalReply> reply =
      ClientFor(options).Approve(client::ApproveRequest{options.id, approver, code, std::nullopt});
  if (!reply.ok()) {
    Report(reply.status());
    return 1;
  }
  const client::Approval& r = reply->request;
  if (r.state == "approved")
    std::cout << "approved " << r.id << ": the identical action will pass once, until "
              << Ago(r.expires_ms) << "\n";
  else
    std::cout << "recorded " << approver << "'s approval of " << r.id << "; it needs "
              << r.approvals_needed << " distinct approvers\n";
  return 0;
}

int Deny(const DaemonOptions& options) {
  Result<client::ApprovalReply> reply = ClientFor(options).Deny(client::DenyRequest{
      options.id, options.as.empty() ? UserName() : options.as, options.reason});
  if (!reply.ok()) {
    Report(reply.status());
    return 1;
  }
  std::cout << "denied " << reply->request.id << "\n";
  return 0;
}

int BreakerReset(const DaemonOptions& options) {
  const std::string approver = options.as.empty() ? UserName() : options.as;
  std::string code;
  if (!TotpCode(options, approver, &code)) return 2;
  Result<client::BreakerResetReply> reply = ClientFor(options).BreakerReset(
      client::BreakerResetRequest{options.agent, approver, code, std::nullopt});
  if (!reply.ok()) {
    Report(reply.status());
    return 1;
  }
  std::cout << "breaker reset: agent " << options.agent << " may act again\n";
  return 0;
}

// Who is frozen, since when, why, and how to unfreeze. Exit 0 when no agent
// is frozen, 1 when one is (scripts can wait on it), 2 when the daemon
// could not be asked.
int BreakerStatus(const DaemonOptions& options) {
  Result<client::BreakerStatusReply> reply =
      ClientFor(options).BreakerStatus(client::BreakerStatusRequest{options.agent});
  if (!reply.ok()) {
    Report(reply.status());
    return 2;
  }
  bool any_frozen = false;
  for (const auto& a : reply->agents) any_frozen = any_frozen || a.frozen;
  if (options.json) {
    json out = client::ToJson(*reply);
    out.erase("ok");
    std::cout << base::JsonDump(out) << "\n";
    return any_frozen ? 1 : 0;
  }
  std::cout << "breaker: " << reply->attempts << " distinct destructive attempts within "
            << reply->window_seconds << " s freeze an agent (asking again about one held "
            << "action is not a new attempt)\n";
  if (reply->agents.empty()) std::cout << "no agent is frozen or has recent attempts\n";
  for (const auto& a : reply->agents) {
    if (a.frozen) {
      std::cout << a.agent << ": FROZEN since " << Clock(a.since_ms) << " (" << Ago(a.since_ms)
                << ")\n    why: " << a.why << "\n    reset: " << a.reset
                << " (needs that approver's TOTP code)\n";
    } else {
      std::cout << a.agent << ": not frozen, " << a.recent_attempts << " of " << reply->attempts
                << " attempts in the current window";
      if (!a.why.empty()) std::cout << " (last change: " << a.why << ")";
      std::cout << "\n";
    }
  }
  return any_frozen ? 1 : 0;
}

// A live view: one line per request and decision, as they happen.
int Watch(const DaemonOptions& options) {
  static std::atomic<bool> stop{false};
  struct sigaction action {};
  action.sa_handler = [](int) { stop = true; };
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  const Status status = ClientFor(options).Watch(
      [&](const json& event) {
        if (options.json) {
          std::cout << base::JsonDump(event) << std::endl;
          return;
        }
        const std::string kind = event.value("event", "");
        std::cout << Clock(event.value("time_ms", std::int64_t{0})) << "  " << std::left
                  << std::setw(9) << kind;
        if (kind == "auth_failed" || kind == "auth_locked")
          std::cout << " ! " << event.value("approver", "") << " for " << event.value("subject", "")
                    << "  " << event.value("why", "");
        else if (event.contains("decision"))
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
      &stop);
  if (!status.ok()) {
    std::cerr << "dualkey watch: " << status.message() << "\n";
    return 1;
  }
  return 0;
}

constexpr const char* kSingleUserWarning =
    "note: single-user mode: the store and this secret are readable by any program running as\n"
    "you, an agent included. `sudo dualkey setup` makes approvals something an agent cannot\n"
    "forge.\n";

void PrintEnrolment(const DaemonOptions& options, const client::ApproverReply& reply) {
  const std::string name = reply.name.empty() ? options.name : reply.name;
  if (options.json) {
    std::cout << base::JsonDump(json{{"name", name}, {"secret", reply.secret}, {"uri", reply.uri}})
              << "\n";
    return;
  }
  std::cout
      << approval::TerminalQr(reply.uri) << "\n"
      << "Scan this with an authenticator app on your phone (not on this machine), or enter:\n"
      << "  " << reply.uri << "\n\n"
      << "Approve with: dualkey approve ID --as " << name << "\n";
}

// The daemon could not be reached at all (not set up, not running), as
// opposed to refusing or being a foreign process.
bool NoDaemon(const Status& status) {
  return status.Is(Status::Code::kNotFound) || status.Is(Status::Code::kUnavailable);
}

// Without a daemon, single-user mode may add the very first approver
// straight to the store: there is nobody yet whose code could vouch.
int ApproverAddDirect(const DaemonOptions& options, const Status& why) {
  if (ProtectedInstall()) {
    std::cerr << "dualkey approver add: " << why.message()
              << "\n  approvers are managed through the daemon on this machine; start it "
                 "(systemctl start dualkey)\n";
    return 1;
  }
  const std::string location =
      options.store.empty() ? StateDir(options) + "/state.sqlite3" : options.store;
  Result<std::unique_ptr<approval::Store>> store = approval::OpenStore(location);
  if (!store.ok()) {
    std::cerr << "dualkey approver add: cannot open the store " << location << ": "
              << store.status().message() << "\n";
    return 1;
  }
  const std::string secret = approval::NewTotpSecret();
  if (Status st = (*store)->AddApprover(options.name, secret, /*only_if_first=*/true); !st.ok()) {
    std::cerr << "dualkey approver add: " << st.message() << "\n  the daemon is not running ("
              << why.message()
              << "); it checks the code that enrolling another approver needs: start it with "
                 "`dualkey serve`\n";
    return 1;
  }
  client::ApproverReply reply;
  reply.name = options.name;
  reply.secret = secret;
  reply.uri = approval::TotpUri(options.name, secret);
  PrintEnrolment(options, reply);
  std::cerr << kSingleUserWarning;
  return 0;
}

// A raw op through the client, decoded; the transport's failure in `transport`.
template <typename Reply>
Result<Reply> AskAs(const client::Client& client, const json& request, Status* transport) {
  Result<json> raw = client.Call(request);
  if (!raw.ok()) {
    if (transport != nullptr) *transport = raw.status();
    return raw.status();
  }
  return client::Decode<Reply>(*raw);
}

int ApproverAdd(const DaemonOptions& options) {
  const client::Client client = ClientFor(options);
  Status transport;
  Result<client::ApproverListReply> list =
      AskAs<client::ApproverListReply>(client, json{{"op", client::kOpApproverList}}, &transport);
  if (!list.ok() && !transport.ok() && NoDaemon(transport))
    return ApproverAddDirect(options, transport);
  client::ApproverRequest request{options.name, "", "", std::nullopt};
  if (list.ok() && !list->approvers.empty()) {
    // Vouched for by an existing approver's fresh code.
    request.approver = options.as.empty() ? UserName() : options.as;
    if (!TotpCode(options, request.approver, &request.totp)) return 2;
  }
  Result<client::ApproverReply> reply = AskAs<client::ApproverReply>(
      client, client::ToJson(request, client::kOpApproverAdd), nullptr);
  if (!reply.ok()) {
    Report(reply.status());
    return 1;
  }
  PrintEnrolment(options, *reply);
  if (reply->first && !client.protected_install()) std::cerr << kSingleUserWarning;
  return 0;
}

int ApproverRemove(const DaemonOptions& options) {
  client::ApproverRequest request{options.name, options.as.empty() ? UserName() : options.as, "",
                                  std::nullopt};
  if (!TotpCode(options, request.approver, &request.totp)) return 2;
  Result<client::ApproverReply> reply = AskAs<client::ApproverReply>(
      ClientFor(options), client::ToJson(request, client::kOpApproverRemove), nullptr);
  if (!reply.ok()) {
    Report(reply.status());
    return 1;
  }
  if (options.json)
    std::cout << base::JsonDump(json{{"name", options.name}, {"removed", true}}) << "\n";
  else
    std::cout << "removed approver " << options.name << "\n";
  return 0;
}

int ApproverRotate(const DaemonOptions& options) {
  // Your own phone by default: rotating alice asks for alice's code.
  client::ApproverRequest request{options.name, options.as.empty() ? options.name : options.as, "",
                                  std::nullopt};
  if (!TotpCode(options, request.approver, &request.totp)) return 2;
  Result<client::ApproverReply> reply = AskAs<client::ApproverReply>(
      ClientFor(options), client::ToJson(request, client::kOpApproverRotate), nullptr);
  if (!reply.ok()) {
    Report(reply.status());
    return 1;
  }
  PrintEnrolment(options, *reply);
  if (!options.json) std::cout << "The old secret of " << options.name << " no longer works.\n";
  return 0;
}

// A one-time link to the approver's page, where NAME's browser creates the
// passkey. Root or the daemon's user starts it alone; anyone else needs an
// existing approver's code (--as).
int ApproverPasskey(const DaemonOptions& options) {
  json request{{"op", "passkey_enrol_begin"}, {"name", options.name}};
  if (!options.as.empty()) {
    std::string code;
    if (!TotpCode(options, options.as, &code)) return 2;
    request["approver"] = options.as;
    request["totp"] = code;
  }
  Result<json> reply = ClientFor(options).Call(request);
  if (reply.ok() && !reply->value("ok", false)) reply = client::ReplyStatus(*reply);
  if (!reply.ok()) {
    Report(reply.status());
    return 1;
  }
  if (options.json) {
    std::cout << base::JsonDump(*reply) << "\n";
    return 0;
  }
  std::cout << "Open this link in " << options.name
            << "'s browser within 10 minutes to create the passkey (it works once):\n  "
            << reply->value("link", "") << "\n";
  return 0;
}

int NotifyTest(const DaemonOptions& options) {
  Result<json> reply = ClientFor(options).Call(json{{"op", "notify_test"}});
  if (reply.ok() && !reply->value("ok", false)) reply = client::ReplyStatus(*reply);
  if (!reply.ok()) {
    Report(reply.status());
    return 1;
  }
  if (options.json) {
    std::cout << base::JsonDump(*reply) << "\n";
  } else {
    for (const json& r : (*reply)["results"])
      std::cout << (r.value("sent", false) ? "sent     " : "FAILED   ") << r.value("target", "")
                << (r.contains("why") ? " (" + r.value("why", "") + ")" : "") << "\n";
  }
  return reply->value("all_sent", false) ? 0 : 1;
}

int ApproverList(const DaemonOptions& options) {
  std::vector<std::string> names;
  Status transport;
  Result<client::ApproverListReply> list = AskAs<client::ApproverListReply>(
      ClientFor(options), json{{"op", client::kOpApproverList}}, &transport);
  if (list.ok()) {
    names = list->approvers;
  } else if (!transport.ok() && NoDaemon(transport) && !ProtectedInstall()) {
    const std::string location =
        options.store.empty() ? StateDir(options) + "/state.sqlite3" : options.store;
    Result<std::unique_ptr<approval::Store>> store = approval::OpenStore(location);
    const Status listed = store.ok() ? (*store)->Approvers(&names) : store.status();
    if (!listed.ok()) {
      std::cerr << "dualkey approver list: " << listed.message() << "\n";
      return 1;
    }
  } else {
    Report(list.status());
    return 1;
  }
  if (options.json) {
    std::cout << base::JsonDump(json(names)) << "\n";
    return 0;
  }
  for (const std::string& name : names) std::cout << name << "\n";
  return 0;
}

}  // namespace

int RunServe(daemon::ServeOptions options, const LogOptions& log) {
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
  if (!options.quiet) options.on_event = LogToStderr(log);
  return daemon::Serve(options);
}

int RunDaemonCommand(const DaemonOptions& options) {
  if (options.action == "pending") return Pending(options);
  if (options.action == "approve") return Approve(options);
  if (options.action == "deny") return Deny(options);
  if (options.action == "watch") return Watch(options);
  if (options.action == "approver-add") return ApproverAdd(options);
  if (options.action == "approver-remove") return ApproverRemove(options);
  if (options.action == "approver-rotate") return ApproverRotate(options);
  if (options.action == "approver-list") return ApproverList(options);
  if (options.action == "approver-passkey") return ApproverPasskey(options);
  if (options.action == "notify-test") return NotifyTest(options);
  if (options.action == "breaker-reset") return BreakerReset(options);
  if (options.action == "breaker-status") return BreakerStatus(options);
  std::cerr << "dualkey: unknown command\n";
  return 2;
}

}  // namespace dualkey::cli
