// The daemon's assembly: options and layout, the store and the audit log,
// the op table, the Unix socket and the HTTP listener, the expiry loop.
// Who does what:
//   internal/transport.cc     the Unix socket, SO_PEERCRED, watch streams
//   http_listener.cc          POST /v1/<op>
//   internal/core.cc          Peer, Core (store, audit, watchers), Dispatcher
//   internal/decision.cc      check, probe, consume: runs the chain of steps
//   internal/chain.h          the steps: classify, raise, breaker, allow, approval
//                             and vault save, rate limit, register hold, audit
//                             (step_*.cc, each testable alone)
//   internal/breaker.cc       the breaker's trip (freeze, audited); breaker_status
//                             (the counting and the rate limit: src/breaker/)
//   internal/approvals.cc     deny, status
//   admin.cc                  pending, approve, breaker_reset, approver_*, audit_info:
//                             every human's code through approval::Authorize
//   passkey_ops.cc            passkey challenges, enrolment, sign-in (Authorize too)
//   web.cc                    the approver's page on the HTTP listener
//   notify.cc                 webhooks told when a hold appears
//   audit_seal.cc             the audit log against the store's memory of it
//   drill.cc                  drill sessions and certificates (`dualkey drill`)
// The wire format is protocol.h (documented in docs/daemon.md).
#include "daemon/daemon.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>

#include "daemon/internal/admin.h"
#include "daemon/internal/breaker.h"
#include "daemon/internal/core.h"
#include "daemon/internal/decision.h"
#include "daemon/internal/drill.h"
#include "daemon/internal/http_listener.h"
#include "daemon/internal/notify.h"
#include "daemon/internal/passkey.h"
#include "daemon/internal/transport.h"
#include "daemon/internal/web.h"
#include "install/layout.h"
#include "webauthn/webauthn.h"

namespace dualkey::daemon {
namespace {

using nlohmann::json;

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};
void OnSignal(int) {
  g_stop = true;
}
void OnReload(int) {
  g_reload = true;
}

// Reads the system policy again (at start and on SIGHUP). A broken file is
// refused once a good one was in force: the previous policy stays, and the
// journal, the audit log and `doctor` (the status op) say why.
void ReloadPolicy(internal::Core& core, bool at_start) {
  internal::SystemPolicy& system = core.system_policy();
  const internal::SystemPolicy::Outcome outcome = system.Reload(internal::Core::NowMs());
  json fields = system.StatusJson();
  fields["applied"] = outcome.applied;
  fields["at_start"] = at_start;
  // A clean start needs no record; every reload and every error gets one.
  if (!at_start || !outcome.errors.empty()) core.Record("policy_reload", fields);
  const std::string path = fields.value("path", "");
  std::string why;
  for (const std::string& e : outcome.errors) why += "\n  " + e;
  if (!outcome.applied)
    std::cerr << "dualkey serve: policy reload REFUSED, the previous policy stays in force: "
              << path << " has errors:" << why << "\n";
  else if (!outcome.errors.empty())
    std::cerr << "dualkey serve: POLICY ERROR: " << path
              << " does not load; every destructive action is held until it is fixed and "
                 "reloaded (SIGHUP):"
              << why << "\n";
  else if (!at_start && !core.options().quiet)
    std::cerr << "dualkey serve: policy reloaded from " << path << " (" << fields.value("rules", 0)
              << " rules)\n";
}

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

bool MakeDirectory(const std::string& path, std::string* error) {
  std::string partial;
  for (std::size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      partial = path.substr(0, i);
      if (mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
        *error = "cannot create " + partial + ": " + std::strerror(errno);
        return false;
      }
    }
  }
  chmod(path.c_str(), 0700);
  return true;
}

// The metrics text: the counters, and the state read now.
std::string RenderMetrics(internal::Core& core) {
  std::vector<internal::Metrics::Gauge> gauges;
  std::vector<approval::Request> pending;
  const std::int64_t now = internal::Core::NowMs();
  const bool store_ok = core.store().Pending(now, &pending).ok();
  std::int64_t oldest = now;
  for (const approval::Request& r : pending) oldest = std::min(oldest, r.created_ms);
  gauges.push_back({"dualkey_pending_holds", "Held actions waiting for a human.",
                    static_cast<double>(pending.size())});
  gauges.push_back({"dualkey_pending_oldest_age_seconds",
                    "Age of the oldest held action waiting for a human (0: none).",
                    static_cast<double>(now - oldest) / 1000.0});
  gauges.push_back(
      {"dualkey_store_up", "1 when the approval store answers.", store_ok ? 1.0 : 0.0});
  const json policy = core.system_policy().StatusJson();
  gauges.push_back({"dualkey_policy_errors",
                    "1 when the policy in force has errors (every destructive action is held).",
                    policy["errors"].empty() ? 0.0 : 1.0});
  gauges.push_back({"dualkey_policy_reload_refused",
                    "1 when the last reload was refused (the previous policy is in force).",
                    policy.contains("reload_failed_ms") ? 1.0 : 0.0});
  gauges.push_back({"dualkey_policy_loaded_timestamp_seconds", "When the policy in force was read.",
                    static_cast<double>(policy.value("loaded_ms", std::int64_t{0})) / 1000.0});
  return core.metrics().Render(gauges);
}

void ExpireLoop(internal::Core& core, internal::DecisionPath& decisions,
                internal::AuditSealer& sealer) {
  while (!g_stop) {
    for (int i = 0; i < 50 && !g_stop; ++i) {
      if (g_reload.exchange(false)) ReloadPolicy(core, /*at_start=*/false);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::vector<approval::Request> expired;
    if (!core.store().Expire(internal::Core::NowMs(), &expired).ok()) continue;
    decisions.Expired(expired);
    for (const auto& r : expired) {
      json fields{{"approval_id", r.id}, {"agent", r.agent}};
      client::PutText(fields, "input", r.input);
      core.Record("expiry", std::move(fields));
    }
    sealer.Tick();
  }
}

}  // namespace

int Serve(const ServeOptions& given) {
  Result<install::Layout> layout = install::CurrentLayout();
  if (!layout.ok()) {
    std::cerr << "dualkey serve: " << layout.status().message() << "\n";
    return 1;
  }
  ServeOptions options = given;
  if (options.state_dir.empty()) options.state_dir = layout->state_dir;
  if (options.socket_path.empty())
    options.socket_path = layout->protected_install && options.state_dir == layout->state_dir
                              ? layout->socket_path
                              : options.state_dir + "/dualkey.sock";
  if (options.vault_dir.empty() && !layout->protected_install && layout->sandbox_dir.empty())
    options.vault_dir = Env("DUALKEY_VAULT");
  std::string error;
  if (!MakeDirectory(options.state_dir, &error)) {
    std::cerr << "dualkey serve: " << error << "\n";
    return 1;
  }
  const std::string store_location =
      options.store.empty() ? options.state_dir + "/state.sqlite3" : options.store;
  Result<std::unique_ptr<approval::Store>> opened = approval::OpenStore(store_location);
  if (!opened.ok()) {
    std::cerr << "dualkey serve: cannot open the store " << store_location << ": "
              << opened.status().message() << "\n";
    return 1;
  }
  std::unique_ptr<approval::Store> store = std::move(opened).value();
  audit::OpenOptions audit_options;
  audit_options.path = options.state_dir + "/audit.jsonl";
  audit_options.key_path = options.state_dir + "/audit.key";
  std::vector<std::string> audit_warnings;
  Result<std::unique_ptr<audit::Log>> log =
      internal::OpenAuditLog(audit_options, *store, &audit_warnings);
  if (!log.ok()) {
    std::cerr << "dualkey serve: cannot open the audit log: " << log.status().message() << "\n";
    return 1;
  }
  for (const std::string& warning : audit_warnings)
    std::cerr << "dualkey serve: AUDIT LOG: " << warning << "\n";
  Result<std::unique_ptr<internal::UnixListener>> listener =
      internal::UnixListener::Open(options.socket_path);
  if (!listener.ok()) {
    std::cerr << "dualkey serve: " << listener.status().message() << "\n";
    return 1;
  }

  g_stop = false;
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  g_reload = false;
  struct sigaction reload {};
  reload.sa_handler = OnReload;
  sigaction(SIGHUP, &reload, nullptr);
  signal(SIGPIPE, SIG_IGN);

  internal::Core core(options, *layout, std::move(store), std::move(log).value());
  internal::Breaker breaker(core);
  internal::DecisionPath decisions(core, breaker);
  internal::Dispatcher dispatcher;
  internal::AddDecisionOps(dispatcher, decisions);
  internal::AddApprovalOps(dispatcher, core);
  internal::AddBreakerOps(dispatcher, core, breaker);
  internal::AddStatusOps(dispatcher, core);
  internal::AddReportOps(dispatcher, core);
  internal::AddAdminOps(dispatcher, core, breaker);
  internal::AddDrillOps(dispatcher, core, breaker);
  internal::AddPasskeyOps(dispatcher, core);
  std::vector<internal::NotifyTarget> notify_targets;
  for (const std::string& spec : options.notify) {
    Result<internal::NotifyTarget> target = internal::ParseNotifyTarget(spec);
    if (!target.ok()) {
      std::cerr << "dualkey serve: " << target.status().message() << "\n";
      return 2;
    }
    notify_targets.push_back(*target);
  }
  internal::Notifier notifier(core, std::move(notify_targets));
  notifier.Attach(dispatcher);
  // The approver's page rides on the HTTP listener; its origin is known once
  // the listener has its port. Its observer is added before anything is served.
  std::unique_ptr<internal::WebPage> web;
  if (!options.http_listen.empty())
    web = std::make_unique<internal::WebPage>(core, dispatcher, "", !options.tls_cert.empty());
  internal::AuditSealer sealer(core.log(), core.store(), audit_options.path);
  ReloadPolicy(core, /*at_start=*/true);

  std::unique_ptr<internal::HttpListener> http;
  std::string http_address;
  std::string web_origin;
  if (!options.http_listen.empty()) {
    internal::HttpListenerOptions http_options;
    const std::size_t colon = options.http_listen.rfind(':');
    http_options.address =
        colon == std::string::npos ? "127.0.0.1" : options.http_listen.substr(0, colon);
    const std::string port =
        colon == std::string::npos ? options.http_listen : options.http_listen.substr(colon + 1);
    http_options.port = std::atoi(port.c_str());
    if (http_options.address.starts_with('[') && http_options.address.ends_with(']'))
      http_options.address = http_options.address.substr(1, http_options.address.size() - 2);
    http_options.tls_cert = options.tls_cert;
    http_options.tls_key = options.tls_key;
    http_options.metrics = [&core] { return RenderMetrics(core); };
    if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos) {
      std::cerr << "dualkey serve: --http wants ADDRESS:PORT, e.g. 127.0.0.1:8790\n";
      return 2;
    }
    http_options.web = [&web](const internal::WebRequest& request) { return web->Handle(request); };
    // HTTP callers have no credentials to show: never administrators.
    Result<std::unique_ptr<internal::HttpListener>> started =
        internal::HttpListener::Start(http_options, [&dispatcher](const json& request) {
          internal::Peer peer;
          peer.via = internal::Peer::Via::kHttp;
          return dispatcher.Handle(peer, request);
        });
    if (!started.ok()) {
      std::cerr << "dualkey serve: " << started.status().message() << "\n";
      return 1;
    }
    http = std::move(started).value();
    http_address = (http->tls() ? "https://" : "http://") + http_options.address + ":" +
                   std::to_string(http->port());
    if (!options.web_origin.empty() && webauthn::RpIdOfOrigin(options.web_origin).empty()) {
      std::cerr << "dualkey serve: --web-origin wants scheme://host[:port], e.g. "
                   "https://dualkey.example.com\n";
      return 2;
    }
    // Passkeys are bound to a host name (an RP id), never an IP address:
    // the page's own origin is localhost unless one is given.
    const std::string origin = !options.web_origin.empty()
                                   ? options.web_origin
                                   : std::string(http->tls() ? "https" : "http") +
                                         "://localhost:" + std::to_string(http->port());
    core.SetWebOrigin(origin);
    web_origin = origin;
    if (!options.quiet && !options.on_event)
      std::cerr << "dualkey serve: HTTP" << (http->tls() ? "S" : "") << " on "
                << http_options.address << ":" << http->port()
                << "; the approver's page: " << origin << "/\n";
  }
  // Once every listener is up. With a log (`dualkey serve`), the start
  // event is the line that says where it listens.
  const std::string mode = layout->protected_install      ? "protected"
                           : !layout->sandbox_dir.empty() ? "sandbox"
                                                          : "single-user";
  json started{{"pid", getpid()},
               {"socket", options.socket_path},
               {"store", store_location},
               {"audit", audit_options.path},
               {"mode", mode},
               {"protected", layout->protected_install}};
  if (!http_address.empty()) started["http"] = http_address;
  if (!web_origin.empty()) started["page"] = web_origin + "/";
  if (!layout->sandbox_dir.empty()) started["sandbox"] = layout->sandbox_dir;
  core.Record("start", std::move(started));
  if (!options.quiet && !options.on_event)
    std::cerr << "dualkey serve: listening on " << options.socket_path
              << (http_address.empty() ? "" : " and " + http_address) << " (store "
              << store_location << ", audit " << audit_options.path << ", "
              << (layout->protected_install      ? "protected install"
                  : !layout->sandbox_dir.empty() ? "sandbox " + layout->sandbox_dir
                                                 : "single-user mode")
              << ")\n";
  std::thread expirer([&] { ExpireLoop(core, decisions, sealer); });
  (*listener)->Run(core, dispatcher, g_stop);
  listener->reset();
  if (web) web->Stop();
  http.reset();
  expirer.join();
  notifier.Stop();
  core.Record("stop", json{{"pid", getpid()}});
  sealer.Close();
  return 0;
}

}  // namespace dualkey::daemon
