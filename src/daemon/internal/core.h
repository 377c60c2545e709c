// What every part of the daemon shares: who is asking (Peer), the state
// (Core: options, layout, store, audit log, watchers) and the op table
// (Dispatcher). The transport (transport.cc, http_listener.cc) turns bytes
// into (Peer, request) pairs; handlers registered per op turn those into
// replies. Adding an op is a handler in its own file plus one Add* call in
// daemon.cc's Serve.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "approval/approval.h"
#include "audit/audit.h"
#include "base/status.h"
#include "client/protocol.h"
#include "daemon/daemon.h"
#include "daemon/internal/metrics.h"
#include "daemon/internal/system_policy.h"
#include "install/layout.h"

namespace dualkey::daemon::internal {

// Who sent a request: the caller's process on the Unix socket (SO_PEERCRED),
// a loopback HTTP client (no credentials), or the daemon itself (expiries).
struct Peer {
  enum class Via : std::uint8_t { kUnix, kHttp, kDaemon };
  Via via = Via::kDaemon;
  bool known = false;  // credentials were read (a Unix peer); never privileged otherwise
  pid_t pid = 0;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  // Root or the daemon's own account: an administrator of this daemon. An
  // agent runs as the developer's user, which is neither on a protected
  // install.
  bool admin = false;
  // {"via": "unix", "uid": 1000, "pid": 4242}: what the audit log records.
  nlohmann::json ToJson() const;
};

class Core {
 public:
  Core(ServeOptions options, install::Layout layout, std::unique_ptr<approval::Store> store,
       std::unique_ptr<audit::Log> log);

  const ServeOptions& options() const { return options_; }
  const install::Layout& layout() const { return layout_; }
  approval::Store& store() { return *store_; }
  audit::Log& log() { return *log_; }
  // The system policy layer, read at start and on reload (SIGHUP).
  SystemPolicy& system_policy() { return system_policy_; }
  // Counters fed by every audit record; served at GET /metrics.
  Metrics& metrics() { return metrics_; }

  // A peer on the Unix socket, with `admin` decided.
  Peer UnixPeer(pid_t pid, uid_t uid, gid_t gid) const;

  // Audits an event, naming the peer that caused it, and tells the watchers.
  // Returns false if it could not be made durable (the caller must not
  // report success then). Records of decisions that change state (holds,
  // approvals, consumptions, breaker trips) are synced before the reply; a
  // plain allow is written to the file before the reply (it survives kill -9
  // of the daemon) and synced within 100 ms by group commit.
  // `failure`, when given, receives why the record was not made durable.
  bool Record(std::string_view kind, nlohmann::json fields, const Peer* peer = nullptr,
              audit::Log::Durability durability = audit::Log::Durability::kSynced,
              std::string* failure = nullptr);
  // Whether anything but the metrics takes records of `kind` as they are
  // made (the event callback, an observer, a watcher): a caller that
  // appends canonical text to log() itself (the report op's batches) makes
  // their JSON for Announce only then.
  bool Heard(std::string_view kind) const;
  // What Record does after the append, but the metrics: `fields` (with
  // "time_ms" and "peer") to the event callback, the observers and the
  // watchers. For records appended to log() directly.
  void Announce(std::string_view kind, nlohmann::json& fields);
  // Says that records of `kind` could not be appended, and why (the event
  // callback, else stderr unless quiet).
  void ReportAppendFailure(std::string_view kind, const std::string& error);

  // Watchers get every audited event as one line.
  void Subscribe(int fd);
  void Unsubscribe(int fd);

  // In-process observers (the page's live view, the webhook notifier) get
  // each audited event of the kinds they name, after it was recorded. Add
  // them before the daemon serves; they must be quick and never block (the
  // decision path calls them).
  using Observer = std::function<void(std::string_view kind, const nlohmann::json& fields)>;
  void Observe(std::vector<std::string> kinds, Observer observer);

  // The origin the approver's page is served at (passkeys are bound to it);
  // set once the HTTP listener knows its port. Empty: no page.
  void SetWebOrigin(std::string origin);
  std::string web_origin() const;

  static std::int64_t NowMs();

 private:
  void Broadcast(const std::string& line);
  // What follows a record's append: metrics, events, observers, watchers.
  void AfterRecord(std::string_view kind, nlohmann::json& fields, bool durable,
                   const std::string& error, std::string* failure);

  const ServeOptions options_;
  const install::Layout layout_;
  std::unique_ptr<approval::Store> store_;
  std::unique_ptr<audit::Log> log_;
  const uid_t own_uid_;
  SystemPolicy system_policy_;
  Metrics metrics_;
  std::mutex watch_mutex_;
  std::vector<int> watchers_;
  std::atomic<int> watching_{0};
  struct Observing {
    std::vector<std::string> kinds;
    Observer observer;
  };
  std::vector<Observing> observers_;  // fixed before serving
  mutable std::mutex web_mutex_;
  std::string web_origin_;
};

// The op table. A handler returns its reply (with "ok": true) or a Status,
// which the dispatcher turns into {"ok": false, "error", "status"}.
using Handler =
    std::function<Result<nlohmann::json>(const Peer& peer, const nlohmann::json& request)>;

class Dispatcher {
 public:
  // `decides`: the op answers a decision, so every error reply of it also
  // says "decision": "hold" (a client that reads only the decision stays
  // closed).
  void Add(std::string_view op, Handler handler, bool decides = false);
  bool Has(std::string_view op) const { return handlers_.contains(op); }

  // Never throws; an exception in a handler is an internal error (and a
  // hold for deciding ops).
  nlohmann::json Handle(const Peer& peer, const nlohmann::json& request) const;

 private:
  struct Entry {
    Handler handler;
    bool decides = false;
  };
  std::map<std::string, Entry, std::less<>> handlers_;
};

// Each group of ops registers itself (decision.cc, approvals.cc, breaker.cc,
// admin.cc: pending, approve, breaker_reset and approver administration,
// every second factor through approval::Authorize).
// A later Add for the same op replaces the earlier one, so a module that
// takes an op over (approver administration, say) registers after these.
class Breaker;
class DecisionPath;
void AddDecisionOps(Dispatcher& dispatcher, DecisionPath& decisions);
void AddApprovalOps(Dispatcher& dispatcher, Core& core);
void AddBreakerOps(Dispatcher& dispatcher, Core& core, Breaker& breaker);
void AddStatusOps(Dispatcher& dispatcher, Core& core);
// report: decisions the proxies, the gateway and the MCP proxy made on their own (report.cc).
void AddReportOps(Dispatcher& dispatcher, Core& core);

// A stored request as the protocol shows it (approvals.cc).
client::Approval ToApproval(const approval::Request& r);

}  // namespace dualkey::daemon::internal
