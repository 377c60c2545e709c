// The daemon's assembly: options and layout, the store and the audit log,
// the op table, the Unix socket and the HTTP listener, the expiry loop.
// Who does what:
//   internal/transport.cc     the Unix socket, SO_PEERCRED, watch streams
//   http_listener.cc          POST /v1/<op>
//   internal/core.cc          Peer, Core (store, audit, watchers), Dispatcher
//   internal/decision.cc      check, probe, consume (the decision path)
//   internal/breaker.cc       the breaker and rate limit; breaker_reset/status
//   internal/approvals.cc     deny, status
//   admin.cc                  pending, approve, breaker_reset, approver_*, audit_info:
//                             every human's code through approval::Authorize
//   audit_seal.cc             the audit log against the store's memory of it
// The wire format is protocol.h (documented in docs/daemon.md).
#include "daemon/daemon.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

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
#include "daemon/internal/http_listener.h"
#include "daemon/internal/transport.h"
#include "install/layout.h"

namespace dualkey::daemon {
namespace {

using nlohmann::json;

std::atomic<bool> g_stop{false};
void OnSignal(int) {
  g_stop = true;
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

void ExpireLoop(internal::Core& core, internal::DecisionPath& decisions,
                internal::AuditSealer& sealer) {
  while (!g_stop) {
    for (int i = 0; i < 50 && !g_stop; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::vector<approval::Request> expired;
    std::string error;
    if (!core.store().Expire(internal::Core::NowMs(), &expired, &error)) continue;
    decisions.Expired(expired);
    for (const auto& r : expired) {
      json fields{{"approval_id", r.id}, {"agent", r.agent}};
      PutText(fields, "input", r.input);
      core.Record("expiry", std::move(fields));
    }
    sealer.Tick();
  }
}

}  // namespace

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
  if (options.vault_dir.empty() && !layout->protected_install)
    options.vault_dir = Env("DUALKEY_VAULT");
  std::string error;
  if (!MakeDirectory(options.state_dir, &error)) {
    std::cerr << "dualkey serve: " << error << "\n";
    return 1;
  }
  const std::string store_location =
      options.store.empty() ? options.state_dir + "/state.sqlite3" : options.store;
  std::unique_ptr<approval::Store> store = approval::OpenStore(store_location, &error);
  if (!store) {
    std::cerr << "dualkey serve: cannot open the store " << store_location << ": " << error << "\n";
    return 1;
  }
  audit::OpenOptions audit_options;
  audit_options.path = options.state_dir + "/audit.jsonl";
  audit_options.key_path = options.state_dir + "/audit.key";
  std::vector<std::string> audit_warnings;
  std::unique_ptr<audit::Log> log =
      internal::OpenAuditLog(audit_options, *store, &audit_warnings, &error);
  if (!log) {
    std::cerr << "dualkey serve: cannot open the audit log: " << error << "\n";
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
  signal(SIGPIPE, SIG_IGN);

  internal::Core core(options, *layout, std::move(store), std::move(log));
  internal::Breaker breaker(core);
  internal::DecisionPath decisions(core, breaker);
  internal::Dispatcher dispatcher;
  internal::AddDecisionOps(dispatcher, decisions);
  internal::AddApprovalOps(dispatcher, core);
  internal::AddBreakerOps(dispatcher, core, breaker);
  internal::AddStatusOps(dispatcher, core);
  internal::AddAdminOps(dispatcher, core, breaker);
  internal::AuditSealer sealer(core.log(), core.store(), audit_options.path);

  core.Record(
      "start",
      json{{"pid", getpid()}, {"store", store_location}, {"protected", layout->protected_install}});
  if (!options.quiet)
    std::cerr << "dualkey serve: listening on " << options.socket_path << " (store "
              << store_location << ", audit " << audit_options.path
              << (layout->protected_install ? ", protected install" : ", single-user mode")
              << ")\n";
  std::unique_ptr<internal::HttpListener> http;
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
    if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos) {
      std::cerr << "dualkey serve: --http wants ADDRESS:PORT, e.g. 127.0.0.1:8790\n";
      return 2;
    }
    // HTTP callers have no credentials to show: never administrators.
    http = internal::HttpListener::Start(
        http_options,
        [&dispatcher](const json& request) {
          internal::Peer peer;
          peer.via = internal::Peer::Via::kHttp;
          return dispatcher.Handle(peer, request);
        },
        &error);
    if (!http) {
      std::cerr << "dualkey serve: " << error << "\n";
      return 1;
    }
    if (!options.quiet)
      std::cerr << "dualkey serve: HTTP" << (http->tls() ? "S" : "") << " on "
                << http_options.address << ":" << http->port() << "\n";
  }
  std::thread expirer([&] { ExpireLoop(core, decisions, sealer); });
  (*listener)->Run(core, dispatcher, g_stop);
  listener->reset();
  http.reset();
  expirer.join();
  core.Record("stop", json{{"pid", getpid()}});
  sealer.Close();
  return 0;
}

}  // namespace dualkey::daemon
