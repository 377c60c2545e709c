// CLI glue for the daemon and the humans around it: serve, pending, approve,
// deny, watch, approver add/remove/rotate/list, breaker reset/status.
#include <pwd.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string_view>

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

// `op` on NAME, vouched for by `approver`'s fresh code. Nullopt once it
// said why: `*exit_code` is then 2 (no code) or 1 (refused).
std::optional<client::ApproverReply> AskVouched(const DaemonOptions& options, std::string approver,
                                                std::string_view op, int* exit_code) {
  client::ApproverRequest request{options.name, std::move(approver), "", std::nullopt};
  if (!TotpCode(options, request.approver, &request.totp)) {
    *exit_code = 2;
    return std::nullopt;
  }
  Result<client::ApproverReply> reply =
      AskAs<client::ApproverReply>(ClientFor(options), client::ToJson(request, op), nullptr);
  if (!reply.ok()) {
    Report(reply.status());
    *exit_code = 1;
    return std::nullopt;
  }
  return std::move(*reply);
}

int ApproverRemove(const DaemonOptions& options) {
  int failed = 0;
  if (!AskVouched(options, options.as.empty() ? UserName() : options.as, client::kOpApproverRemove,
                  &failed))
    return failed;
  if (options.json)
    std::cout << base::JsonDump(json{{"name", options.name}, {"removed", true}}) << "\n";
  else
    std::cout << "removed approver " << options.name << "\n";
  return 0;
}

int ApproverRotate(const DaemonOptions& options) {
  // Your own phone by default: rotating alice asks for alice's code.
  int failed = 0;
  const std::optional<client::ApproverReply> reply = AskVouched(
      options, options.as.empty() ? options.name : options.as, client::kOpApproverRotate, &failed);
  if (!reply) return failed;
  PrintEnrolment(options, *reply);
  if (!options.json) std::cout << "The old secret of " << options.name << " no longer works.\n";
  return 0;
}

// `request` to the daemon: its reply when that says ok, else nullopt once
// the failure was reported.
std::optional<json> CallOk(const DaemonOptions& options, const json& request) {
  Result<json> reply = ClientFor(options).Call(request);
  if (reply.ok() && !reply->value("ok", false)) reply = client::ReplyStatus(*reply);
  if (!reply.ok()) {
    Report(reply.status());
    return std::nullopt;
  }
  return std::move(*reply);
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
  const std::optional<json> reply = CallOk(options, request);
  if (!reply) return 1;
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
  std::optional<json> reply = CallOk(options, json{{"op", "notify_test"}});
  if (!reply) return 1;
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

// `dualkey serve`: the subcommand and its options.
std::unique_ptr<Command> NewServeCommand() {
  class Serve final : public Command {
   public:
    void Add(CLI::App& app) override {
      serve_cmd = app.add_subcommand(
          "serve",
          "Run the daemon that holds approvals, the audit log and the breaker.\n"
          "Hooks and `check` ask it when it runs; a held action waits for `dualkey approve`.");
      AddStateDir(serve_cmd, serve.state_dir,
                  "state directory (0700; default ~/.local/state/dualkey)");
      serve_cmd->add_option("--store", serve.store,
                            "postgresql://... to share approvals between daemons");
      serve_cmd->add_option("--socket", serve.socket_path,
                            "Unix socket (default STATE/dualkey.sock)");
      serve_cmd->add_option("--vault", serve.vault_dir,
                            "where approved actions' targets are saved first (default "
                            "$DUALKEY_VAULT or STATE/vault)");
      serve_cmd->add_option("--ttl", serve.approval_ttl_seconds,
                            "seconds an approval stays valid (900)");
      // Unset limits come from the policy's [breaker] and [rate_limit] tables.
      serve.breaker_attempts = serve.breaker_window_seconds = serve.rate_burst = -1;
      serve.rate_per_minute = -1;
      serve_cmd->add_option("--breaker-attempts", serve.breaker_attempts,
                            "held/denied destructive attempts that freeze an agent\n"
                            "(default: policy [breaker] attempts, else 3)");
      serve_cmd->add_option(
          "--breaker-window", serve.breaker_window_seconds,
          "... within seconds (default: policy [breaker] window_seconds, else 60)");
      serve_cmd->add_option(
          "--rate-burst", serve.rate_burst,
          "destructive requests an agent may burst (default: policy [rate_limit] burst, else 20)");
      serve_cmd->add_option(
          "--rate-per-minute", serve.rate_per_minute,
          "then this many per minute (default: policy [rate_limit] per_minute, else 20)");
      serve_cmd->add_option("--http", serve.http_listen,
                            "also listen for HTTP on ADDRESS:PORT (loopback), POST /v1/<op>");
      serve_cmd->add_option("--tls-cert", serve.tls_cert,
                            "PEM certificate chain: serve --http as HTTPS");
      serve_cmd->add_option("--tls-key", serve.tls_key, "PEM private key for --tls-cert");
      serve_cmd->add_option(
          "--web-origin", serve.web_origin,
          "where people open the approver's page, e.g. https://dualkey.example.com behind a\n"
          "reverse proxy (passkeys are bound to it; default: http(s)://localhost:PORT)");
      serve_cmd->add_option("--notify", serve.notify,
                            "tell a webhook when a hold appears (repeatable): slack=URL (Slack-\n"
                            "compatible JSON), ntfy=URL (plain text), json=URL (generic JSON);\n"
                            "secrets in the input are redacted. Try it: dualkey notify test");
      serve_cmd
          ->add_option("--session-minutes", serve.web_session_minutes,
                       "how long a sign-in on the page lasts (default 15)")
          ->check(CLI::Range(1, 24 * 60));
      serve_cmd->add_flag("--quiet", serve.quiet, "no log lines on stderr");
      serve_cmd
          ->add_option("--log-format", serve_log_format,
                       "the log on stderr: one line per hold, approval, denial, refused code,\n"
                       "breaker trip and reset, approved action used, expiry, vault snapshot,\n"
                       "approver change, start and stop (not routine allows): text (default)\n"
                       "or json (one event object per line, as `dualkey watch --json`)")
          ->check(CLI::IsMember({"text", "json"}));
      serve_cmd->add_flag("--log-allows", serve_log.allows,
                          "log routine allows too (one line per allowed command: busy)");
    }
    bool Parsed() const override { return serve_cmd->parsed(); }
    int Run() override {
      serve_log.format = *ParseLogFormat(serve_log_format);
      return RunServe(serve, serve_log);
    }

   private:
    dualkey::daemon::ServeOptions serve;
    std::string serve_log_format = "text";
    LogOptions serve_log;
    CLI::App* serve_cmd = nullptr;
  };
  return std::make_unique<Serve>();
}

// The humans' side of the daemon: `dualkey pending`, `approve`, `deny`,
// `watch`, `approver ...`, `notify test`, `breaker reset|status`: the subcommand and its options.
std::unique_ptr<Command> NewDaemonCommands() {
  class DaemonCommands final : public Command {
   public:
    void Add(CLI::App& app) override {
      auto add_socket = [&](CLI::App* cmd) {
        cmd->add_option("--socket", daemon.socket,
                        "the daemon's socket (single-user mode; default: $DUALKEY_SOCKET or "
                        "STATE/dualkey.sock; a protected install uses its own)");
      };
      CLI::App* pending_cmd =
          app.add_subcommand("pending", "List held actions waiting for approval.");
      add_socket(pending_cmd);
      pending_cmd->add_flag("--json", daemon.json, "print JSON");
      pending_cmd->callback([&] { daemon.action = "pending"; });
      CLI::App* approve_cmd = app.add_subcommand(
          "approve",
          "Approve a held action (by id or code) with your TOTP code; it then runs once.");
      add_socket(approve_cmd);
      approve_cmd->add_option("id", daemon.id, "approval id or code")->required();
      // One vocabulary for who approves and with what, in every command.
      auto add_credentials = [&](CLI::App* cmd, const char* as_help) {
        cmd->add_option("--as,--approver", daemon.as, as_help);
        cmd->add_option(
            "--code,--totp", daemon.code,
            "TOTP code (default: asked on the terminal; a code given here is visible to\n"
            "other programs running as you, an agent included, until it is used)");
      };
      add_credentials(approve_cmd, "approver name (default: $USER)");
      approve_cmd->callback([&] { daemon.action = "approve"; });
      CLI::App* deny_cmd = app.add_subcommand("deny", "Refuse a held action.");
      add_socket(deny_cmd);
      deny_cmd->add_option("id", daemon.id, "approval id or code")->required();
      deny_cmd->add_option("--reason", daemon.reason, "why (told to the agent)");
      deny_cmd->add_option("--as", daemon.as, "your name (default: $USER)");
      deny_cmd->callback([&] { daemon.action = "deny"; });
      CLI::App* watch_cmd = app.add_subcommand("watch", "Live view of requests and decisions.");
      add_socket(watch_cmd);
      watch_cmd->add_flag("--json", daemon.json, "print the raw events");
      watch_cmd->callback([&] { daemon.action = "watch"; });
      CLI::App* approver_cmd = app.add_subcommand(
          "approver",
          "Manage the humans who can approve. Through the daemon, audited:\n"
          "  sudo dualkey approver add alice        the first one: root or the daemon's user only\n"
          "  dualkey approver add bob --as alice    later ones: an existing approver's code\n"
          "  dualkey approver rotate alice          a new secret (lost or exposed phone)\n"
          "  dualkey approver remove bob --as alice\n"
          "Without a running daemon only the very first approver can be added, directly to\n"
          "the store (single-user mode, which does not protect the secrets from an agent).");
      approver_cmd->require_subcommand(1);
      CLI::App* approver_add = approver_cmd->add_subcommand(
          "add", "Add an approver: prints an otpauth URI and a QR code for a phone authenticator.");
      approver_add->add_option("name", daemon.name, "approver name")->required();
      add_credentials(approver_add, "the existing approver who vouches (default: $USER)");
      CLI::App* approver_remove =
          approver_cmd->add_subcommand("remove", "Remove an approver (not the last one).");
      approver_remove->add_option("name", daemon.name, "approver name")->required();
      add_credentials(approver_remove, "the approver who authorises it (default: $USER)");
      CLI::App* approver_rotate = approver_cmd->add_subcommand(
          "rotate", "Give an approver a new TOTP secret; the old one stops working.");
      approver_rotate->add_option("name", daemon.name, "approver name")->required();
      add_credentials(approver_rotate, "the approver who authorises it (default: NAME itself)");
      CLI::App* approver_list = approver_cmd->add_subcommand("list", "List approvers.");
      CLI::App* approver_passkey = approver_cmd->add_subcommand(
          "passkey",
          "Enrol a passkey for an approver: prints a one-time link to the approver's page\n"
          "(serve --http), where their browser creates it. Root or the daemon's user alone;\n"
          "anyone else with an existing approver's code (--as).");
      approver_passkey->add_option("name", daemon.name, "approver name")->required();
      add_credentials(approver_passkey, "the approver who authorises it (default: none, as root)");
      for (CLI::App* sub :
           {approver_add, approver_remove, approver_rotate, approver_list, approver_passkey}) {
        add_socket(sub);
        AddStateDir(sub, daemon.state_dir, "the daemon's state directory");
        sub->add_option("--store", daemon.store, "the store, if not the default SQLite file");
        sub->add_flag("--json", daemon.json, "print JSON");
      }
      approver_add->callback([&] { daemon.action = "approver-add"; });
      approver_remove->callback([&] { daemon.action = "approver-remove"; });
      approver_rotate->callback([&] { daemon.action = "approver-rotate"; });
      approver_list->callback([&] { daemon.action = "approver-list"; });
      approver_passkey->callback([&] { daemon.action = "approver-passkey"; });
      CLI::App* notify_cmd =
          app.add_subcommand("notify", "Notifications the daemon sends when a hold appears.");
      notify_cmd->require_subcommand(1);
      CLI::App* notify_test = notify_cmd->add_subcommand(
          "test",
          "Send a sample to every --notify target of the running daemon, and say how it went.");
      add_socket(notify_test);
      notify_test->add_flag("--json", daemon.json, "print JSON");
      notify_test->callback([&] { daemon.action = "notify-test"; });
      CLI::App* breaker_cmd =
          app.add_subcommand("breaker", "The breaker that freezes a bursting agent.");
      breaker_cmd->require_subcommand(1);
      CLI::App* breaker_reset =
          breaker_cmd->add_subcommand("reset", "Unfreeze an agent (needs your TOTP code).");
      add_socket(breaker_reset);
      breaker_reset->add_option("agent", daemon.agent, "agent name (claude, cursor, ...)")
          ->required();
      add_credentials(breaker_reset, "approver name (default: $USER)");
      breaker_reset->callback([&] { daemon.action = "breaker-reset"; });
      CLI::App* breaker_status = breaker_cmd->add_subcommand(
          "status",
          "Who is frozen, since when, why, and how to reset; recent attempts per agent.\n"
          "Exit status: 0 none frozen, 1 an agent is frozen, 2 the daemon could not be asked.");
      add_socket(breaker_status);
      breaker_status->add_option("agent", daemon.agent, "only this agent");
      breaker_status->add_flag("--json", daemon.json, "print JSON");
      breaker_status->callback([&] { daemon.action = "breaker-status"; });
    }
    bool Parsed() const override { return !daemon.action.empty(); }
    int Run() override { return RunDaemonCommand(daemon); }

   private:
    DaemonOptions daemon;
  };
  return std::make_unique<DaemonCommands>();
}

}  // namespace dualkey::cli
