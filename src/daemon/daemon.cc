// The daemon: a Unix socket, one thread per connection (agents are few and
// their requests short), newline-delimited JSON both ways.
//
// Requests ({"op": ...}):
//   check    {channel, input, cwd, home, agent, min_decision?, detail?}
//            -> {decision, reason, approval_id?, code?, ...}
//            (min_decision/detail: a proxy or gateway that knows more, e.g.
//            rows a DELETE touches, raises the decision and says why)
//            defer_consume: true (a proxy that saves what the action destroys
//            first): an approved action is answered {decision: "hold",
//            approval_ready: true} without using the approval up; the caller
//            saves, then sends `consume`
//   consume  {channel, input, cwd, agent, snapshot_id?} -> {decision: "allow",
//            approved, approval_id, snapshot_id?} once, durably audited; a
//            hold when there is no approval (left)
//   pending  {} -> {requests: [...]}
//   approve  {id, approver, totp} -> {request}
//   deny     {id, approver?, reason?} -> {request}
//   breaker_reset {agent, approver, totp}
//   status   {} -> {ok, pid, store, socket}
//   watch    {} -> a stream of events, one per line, until the client leaves
// Every reply carries "ok"; errors are {"ok":false,"error":"..."}. A request
// that cannot be decoded never gets an allow.
#include "daemon/daemon.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "approval/approval.h"
#include "audit/audit.h"
#include "guard/guard.h"
#include "daemon/internal/http_listener.h"
#include "vault/vault.h"

namespace dualkey::daemon {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxLineBytes = 1 << 20;

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

json RequestJson(const approval::Request& r) {
  return json{{"id", r.id},
              {"code", r.code},
              {"agent", r.agent},
              {"channel", r.channel},
              {"input", r.input},
              {"cwd", r.cwd},
              {"reason", r.reason},
              {"approvals_needed", r.approvals_needed},
              {"approvers", r.approvers},
              {"state", approval::ToString(r.state)},
              {"created_ms", r.created_ms},
              {"expires_ms", r.expires_ms},
              {"denied_by", r.denied_by},
              {"deny_reason", r.deny_reason}};
}

json Error(std::string message) {
  return json{{"ok", false}, {"error", std::move(message)}};
}

bool IsRead(const Action& action) {
  return action.severity == Severity::kNone && !action.op_class.starts_with("opaque.");
}

// Lines to and from a socket. `flags` |= MSG_DONTWAIT for watchers, whom a
// slow terminal must not let stall the daemon.
bool WriteLine(int fd, const std::string& line, int flags = 0) {
  std::string data = line + "\n";
  const char* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    ssize_t n = send(fd, p, left, MSG_NOSIGNAL | flags);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return true;
}

std::atomic<bool> g_stop{false};
std::atomic<int> g_active_connections{0};
void OnSignal(int) {
  g_stop = true;
}

// Reads one line; false on EOF, error, timeout, an oversized line, or (with
// `stop`) when the daemon is stopping.
bool ReadLine(int fd, std::string* buffer, std::string* line, int timeout_ms,
              const std::atomic<bool>* stop = nullptr) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    std::size_t newline = buffer->find('\n');
    if (newline != std::string::npos) {
      *line = buffer->substr(0, newline);
      buffer->erase(0, newline + 1);
      return true;
    }
    if (buffer->size() > kMaxLineBytes) return false;
    while (true) {
      if (stop != nullptr && *stop) return false;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) return false;
      pollfd pfd{fd, POLLIN, 0};
      int ready = poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 200)));
      if (ready > 0) break;
      if (ready < 0 && errno != EINTR) return false;
    }
    char chunk[65536];
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buffer->append(chunk, static_cast<std::size_t>(n));
  }
}

class Daemon {
 public:
  Daemon(const ServeOptions& options, std::unique_ptr<approval::Store> store,
         std::unique_ptr<audit::Log> log)
      : options_(options), store_(std::move(store)), log_(std::move(log)) {}

  json Handle(const json& request) {
    if (!request.is_object() || !request.contains("op") || !request["op"].is_string())
      return Error("a request is a JSON object with an \"op\"");
    const std::string op = request["op"];
    try {
      if (op == "check") return Check(request);
      if (op == "consume") return Consume(request);
      if (op == "pending") return Pending();
      if (op == "approve") return Approve(request);
      if (op == "deny") return Deny(request);
      if (op == "breaker_reset") return BreakerReset(request);
      if (op == "status")
        return json{{"ok", true}, {"pid", getpid()}, {"socket", options_.socket_path}};
    } catch (const std::exception& e) {
      // Fail closed: a check that throws answers hold, never allow.
      json error = Error(std::string("internal error: ") + e.what());
      if (op == "check") error["decision"] = "hold";
      return error;
    }
    return Error("unknown op \"" + op + "\"");
  }

  // Audits an event and tells the watchers. Returns false if it could not be
  // made durable (the caller must not report success then).
  // Records of decisions that change state (holds, approvals, consumptions,
  // breaker trips) are synced before the reply; a plain allow is written to
  // the file before the reply (so it survives kill -9 of the daemon) and
  // synced within 100 ms, which keeps an fsync off every harmless command.
  bool Record(const std::string& kind, json fields,
              audit::Log::Durability durability = audit::Log::Durability::kSynced) {
    fields["time_ms"] = NowMs();
    std::string error;
    bool durable = log_->Append(audit::Record{kind, fields.dump()}, &error, durability) != 0;
    if (!durable && !options_.quiet)
      std::cerr << "dualkey serve: audit append failed: " << error << "\n";
    json event = fields;
    event["event"] = kind;
    Broadcast(event.dump());
    return durable;
  }

  void Subscribe(int fd) {
    std::unique_lock<std::mutex> lock(watch_mutex_);
    watchers_.push_back(fd);
  }
  void Unsubscribe(int fd) {
    std::unique_lock<std::mutex> lock(watch_mutex_);
    std::erase(watchers_, fd);
  }

  void ExpireLoop() {
    while (!g_stop) {
      for (int i = 0; i < 50 && !g_stop; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::vector<approval::Request> expired;
      std::string error;
      if (!store_->Expire(NowMs(), &expired, &error)) continue;
      for (const auto& r : expired)
        Record("expiry", json{{"approval_id", r.id}, {"agent", r.agent}, {"input", r.input}});
    }
  }

 private:
  // The second half of a deferred approval: the caller has saved what the
  // action destroys (snapshot_id) and now uses the approval up, once.
  // The action a check or consume request names: its channel and input, or
  // the error to answer.
  static std::optional<std::string> ParseAction(const json& request, const std::string& op,
                                                guard::Request* r) {
    if (!request.contains("channel") || !request["channel"].is_string() ||
        !ParseChannel(request["channel"].get<std::string>(), &r->channel))
      return op + " needs a \"channel\" (shell, sql, http, mcp or file)";
    if (!request.contains("input") || !request["input"].is_string())
      return op + " needs an \"input\" string";
    r->input = request["input"];
    r->cwd = request.value("cwd", "");
    r->agent = request.value("agent", "");
    return std::nullopt;
  }

  json Consume(const json& request) {
    guard::Request r;
    if (std::optional<std::string> bad = ParseAction(request, "consume", &r)) return Error(*bad);
    const Channel channel = r.channel;
    const std::string& input = r.input;
    const std::string& cwd = r.cwd;
    const std::string agent = r.agent.empty() ? "unknown" : r.agent;
    const std::string snapshot_id =
        request.contains("snapshot_id") && request["snapshot_id"].is_string()
            ? request["snapshot_id"].get<std::string>()
            : std::string();
    json base{{"agent", agent}, {"channel", ToString(channel)}, {"input", input}, {"cwd", cwd}};
    const std::string hash = approval::ActionHash(ToString(channel), input, cwd, agent);
    approval::Request consumed;
    std::string error;
    if (!store_->ConsumeApproval(hash, NowMs(), &consumed, &error))
      return Held(base, error == approval::kNoApproval
                            ? "no approval left for this action (used, expired or never given)"
                            : "the approval store failed: " + error);
    json reply = base;
    reply["decision"] = "allow";
    reply["approved"] = true;
    reply["approval_id"] = consumed.id;
    reply["approvers"] = consumed.approvers;
    reply["reason"] = "approved by " + Join(consumed.approvers) + " (used once)";
    if (!snapshot_id.empty()) {
      reply["snapshot_id"] = snapshot_id;
      reply["reason"] = reply["reason"].get<std::string>() + "; saved first as vault snapshot " +
                        snapshot_id + " (dualkey vault restore " + snapshot_id + ")";
    }
    if (!Record("consumed", reply)) return Held(base, "the audit log could not be written");
    reply["ok"] = true;
    return reply;
  }

  json Check(const json& request) {
    guard::Request r;
    if (std::optional<std::string> bad = ParseAction(request, "check", &r)) return Error(*bad);
    const Channel channel = r.channel;
    r.home = request.value("home", "");
    r.file_operation = request.value("file_operation", "");
    guard::Result result = guard::Check(r);
    Verdict verdict = std::move(result.verdict);
    // A trusted component (the PostgreSQL proxy, the HTTP gateway) can know
    // more than the text shows, such as the rows a DELETE would touch: it may
    // raise the decision, never lower it, and say why for the human.
    if (request.contains("min_decision")) {
      static constexpr std::pair<const char*, Decision> kDecisions[] = {{"allow", Decision::kAllow},
                                                                        {"hold", Decision::kHold},
                                                                        {"hold2", Decision::kHold2},
                                                                        {"deny", Decision::kDeny}};
      const json& wanted = request["min_decision"];
      const auto* match = std::find_if(std::begin(kDecisions), std::end(kDecisions), [&](auto& d) {
        return wanted.is_string() && wanted.get<std::string>() == d.first;
      });
      if (match == std::end(kDecisions))
        return Error("min_decision is one of allow, hold, hold2, deny");
      if (match->second > verdict.decision) {
        verdict.decision = match->second;
        verdict.observe_only = false;
      }
    }
    if (request.contains("detail") && request["detail"].is_string() &&
        !request["detail"].get<std::string>().empty())
      verdict.reason += " (" + request["detail"].get<std::string>() + ")";
    const std::string agent = r.agent.empty() ? "unknown" : r.agent;
    json base{{"agent", agent}, {"channel", ToString(channel)}, {"input", r.input}, {"cwd", r.cwd}};

    bool frozen = false;
    std::string error;
    if (!store_->IsFrozen(agent, &frozen, &error))
      return Held(base, "the approval store is unreachable: " + error);
    bool non_read = false;
    for (const Action& action : verdict.actions) non_read = non_read || !IsRead(action);
    if (frozen && non_read) {
      json reply = base;
      reply["decision"] = "hold";
      reply["reason"] = "the breaker froze agent '" + agent +
                        "' after a burst of destructive attempts; a human must run `dualkey "
                        "breaker reset " +
                        agent + "`";
      Record("verdict", reply);
      reply["ok"] = true;
      return reply;
    }

    if (verdict.Enforced() == Decision::kAllow) {
      json reply = base;
      reply["decision"] = "allow";
      reply["reason"] = verdict.reason;
      if (verdict.observe_only) reply["observe"] = ToString(verdict.decision);
      if (!Record("verdict", reply, audit::Log::Durability::kWritten))
        return Held(base, "the audit log could not be written");
      reply["ok"] = true;
      return reply;
    }

    const std::string hash = approval::ActionHash(ToString(channel), r.input, r.cwd, agent);
    if (verdict.decision != Decision::kDeny) {
      // What an approved action destroys goes into the vault before it may
      // run; the approval is consumed only once that save is durable, and a
      // failed save leaves the action held (and the approval usable).
      std::string snapshot_id;
      // Ask the store first: finding the targets stats and expands globs on
      // disk, which only an approved action needs.
      bool approved = false;
      std::string approved_id;
      const bool defer_consume = request.value("defer_consume", false);
      if ((channel == Channel::kShell || channel == Channel::kFile || defer_consume) &&
          !store_->HasApproval(hash, NowMs(), &approved, &error, &approved_id))
        return Held(base, "the approval store failed: " + error);
      if (defer_consume && approved) {
        // Still a hold to anyone who reads only the decision.
        json reply = base;
        reply["decision"] = "hold";
        reply["approval_ready"] = true;
        reply["approval_id"] = approved_id;
        reply["reason"] = "approved; save what it destroys, then consume the approval";
        reply["ok"] = true;
        return reply;
      }
      const std::vector<std::string> targets =
          approved ? vault::FileTargets(verdict.actions) : std::vector<std::string>{};
      if (!targets.empty()) {
        std::string vault_error;
        std::optional<vault::SnapshotInfo> saved =
            SaveToVault(targets, agent, r.input, &vault_error);
        if (!saved)
          return Held(base, "approved, but the vault could not save what it would destroy (" +
                                vault_error + "); it stays held and nothing ran");
        snapshot_id = saved->id;
      }
      approval::Request consumed;
      if (store_->ConsumeApproval(hash, NowMs(), &consumed, &error)) {
        json reply = base;
        reply["decision"] = "allow";
        reply["approved"] = true;
        reply["approval_id"] = consumed.id;
        reply["approvers"] = consumed.approvers;
        reply["reason"] =
            "approved by " + Join(consumed.approvers) + " (used once): " + verdict.reason;
        if (!snapshot_id.empty()) {
          reply["snapshot_id"] = snapshot_id;
          reply["reason"] = reply["reason"].get<std::string>() +
                            "; saved first as vault snapshot " + snapshot_id +
                            " (dualkey vault restore " + snapshot_id + ")";
        }
        if (!Record("consumed", reply)) return Held(base, "the audit log could not be written");
        reply["ok"] = true;
        return reply;
      }
      if (error != approval::kNoApproval) return Held(base, "the approval store failed: " + error);
      error.clear();
    }

    // Held or denied: this is a destructive attempt for the breaker and the
    // rate limit.
    const bool limited = !TakeToken(agent);
    if (verdict.decision == Decision::kDeny || limited) {
      json reply = base;
      reply["decision"] = "deny";
      reply["reason"] = limited ? "rate limit: too many destructive requests from agent '" + agent +
                                      "' (" + verdict.reason + ")"
                                : verdict.reason;
      Record("verdict", reply);
      Attempt(agent);
      reply["ok"] = true;
      return reply;
    }
    approval::Request pending;
    pending.action_hash = hash;
    pending.agent = agent;
    pending.channel = std::string(ToString(channel));
    pending.input = r.input;
    pending.cwd = r.cwd;
    pending.reason = verdict.reason;
    pending.approvals_needed = verdict.decision == Decision::kHold2 ? 2 : 1;
    pending.created_ms = NowMs();
    pending.expires_ms = pending.created_ms + options_.approval_ttl_seconds * 1000LL;
    approval::Request stored;
    if (!store_->Hold(pending, &stored, &error))
      return Held(base, "the approval store failed: " + error);
    json reply = base;
    reply["decision"] = ToString(verdict.decision);
    reply["reason"] = verdict.reason;
    reply["approval_id"] = stored.id;
    reply["code"] = stored.code;
    reply["approvals_needed"] = stored.approvals_needed;
    reply["expires_ms"] = stored.expires_ms;
    Record("hold", reply);
    Attempt(agent);
    reply["ok"] = true;
    return reply;
  }

  // One vault per daemon, opened (and created with the default retention)
  // on first use; a vault that cannot be opened keeps such actions held.
  std::optional<vault::SnapshotInfo> SaveToVault(const std::vector<std::string>& targets,
                                                 const std::string& agent, const std::string& input,
                                                 std::string* error) {
    std::lock_guard lock(vault_mutex_);
    if (!vault_) {
      const std::string dir =
          options_.vault_dir.empty() ? options_.state_dir + "/vault" : options_.vault_dir;
      vault_ = vault::Vault::OpenOrInit(dir, 30, error);
      if (!vault_) return std::nullopt;
    }
    vault::SnapshotMeta meta;
    meta.who = agent;
    meta.action = input;
    meta.kind = "files";
    meta.tags = {"approved-action"};
    std::optional<vault::SnapshotInfo> saved = vault_->PutPaths(targets, meta, nullptr, error);
    if (saved)
      Record("vault_snapshot", json{{"agent", agent},
                                    {"input", input},
                                    {"snapshot_id", saved->id},
                                    {"paths", targets},
                                    {"files", saved->files},
                                    {"bytes", saved->bytes}});
    return saved;
  }

  // A hold we could not register: still held, with the reason.
  json Held(json base, std::string reason) {
    base["decision"] = "hold";
    base["reason"] = std::move(reason);
    Record("verdict", base);
    base["ok"] = true;
    return base;
  }

  json Pending() {
    std::vector<approval::Request> requests;
    std::string error;
    if (!store_->Pending(NowMs(), &requests, &error)) return Error(error);
    json list = json::array();
    for (const auto& r : requests) list.push_back(RequestJson(r));
    return json{{"ok", true}, {"requests", list}};
  }

  // The TOTP code proves a human approver, not the agent, is asking.
  bool CheckApprover(const json& request, std::string* approver, std::string* error) {
    *approver = request.value("approver", "");
    std::string code = request.value("totp", "");
    if (approver->empty()) {
      *error = "an approval needs an \"approver\" name";
      return false;
    }
    std::string secret;
    if (!store_->ApproverSecret(*approver, &secret, error)) {
      *error = "unknown approver '" + *approver + "' (add one with `dualkey approver add NAME`)";
      return false;
    }
    std::int64_t step = 0;
    if (!approval::CheckTotp(secret, code, NowMs() / 1000, &step)) {
      *error = "wrong or expired TOTP code for approver '" + *approver + "'";
      Record("approval_refused", json{{"approver", *approver}, {"why", "bad code"}});
      return false;
    }
    if (!store_->UseTotpStep(*approver, step, error)) {
      *error = "this TOTP code was already used; wait for the next one";
      return false;
    }
    return true;
  }

  json Approve(const json& request) {
    std::string approver, error;
    if (!CheckApprover(request, &approver, &error)) return Error(error);
    approval::Request r;
    if (!store_->Approve(request.value("id", ""), approver, NowMs(), &r, &error))
      return Error(error);
    if (!Record("approval", json{{"approval_id", r.id},
                                 {"approver", approver},
                                 {"state", approval::ToString(r.state)},
                                 {"agent", r.agent},
                                 {"input", r.input}}))
      return Error("the approval is stored but the audit log could not be written");
    return json{{"ok", true}, {"request", RequestJson(r)}};
  }

  json Deny(const json& request) {
    approval::Request r;
    std::string error;
    const std::string approver = request.value("approver", "");
    if (!store_->Deny(request.value("id", ""), approver, request.value("reason", ""), NowMs(), &r,
                      &error))
      return Error(error);
    Record("denial", json{{"approval_id", r.id},
                          {"by", approver},
                          {"reason", r.deny_reason},
                          {"agent", r.agent},
                          {"input", r.input}});
    return json{{"ok", true}, {"request", RequestJson(r)}};
  }

  json BreakerReset(const json& request) {
    std::string approver, error;
    if (!CheckApprover(request, &approver, &error)) return Error(error);
    const std::string agent = request.value("agent", "");
    if (agent.empty()) return Error("breaker_reset needs an \"agent\"");
    if (!store_->SetFrozen(agent, false, "reset by " + approver, &error)) return Error(error);
    {
      std::lock_guard<std::mutex> lock(breaker_mutex_);
      attempts_.erase(agent);
    }
    Record("breaker_reset", json{{"agent", agent}, {"approver", approver}});
    return json{{"ok", true}, {"agent", agent}, {"frozen", false}};
  }

  // Counts a held or denied destructive attempt; trips the breaker.
  void Attempt(const std::string& agent) {
    const std::int64_t now = NowMs();
    bool trip = false;
    {
      std::lock_guard<std::mutex> lock(breaker_mutex_);
      auto& times = attempts_[agent];
      times.push_back(now);
      while (!times.empty() && times.front() < now - options_.breaker_window_seconds * 1000LL)
        times.pop_front();
      trip = static_cast<int>(times.size()) >= options_.breaker_attempts;
    }
    if (!trip) return;
    bool already = false;
    std::string error;
    store_->IsFrozen(agent, &already, &error);
    if (already) return;
    store_->SetFrozen(agent, true, "breaker", &error);
    Record("breaker", json{{"agent", agent},
                           {"attempts", options_.breaker_attempts},
                           {"window_seconds", options_.breaker_window_seconds}});
  }

  bool TakeToken(const std::string& agent) {
    std::lock_guard<std::mutex> lock(breaker_mutex_);
    const double now = static_cast<double>(NowMs()) / 1000.0;
    auto [it, inserted] =
        buckets_.try_emplace(agent, Bucket{static_cast<double>(options_.rate_burst), now});
    Bucket& bucket = it->second;
    bucket.tokens = std::min<double>(
        options_.rate_burst, bucket.tokens + (now - bucket.last) * options_.rate_per_minute / 60.0);
    bucket.last = now;
    if (bucket.tokens < 1.0) return false;
    bucket.tokens -= 1.0;
    return true;
  }

  void Broadcast(const std::string& line) {
    std::lock_guard<std::mutex> lock(watch_mutex_);
    for (int fd : watchers_) WriteLine(fd, line, MSG_DONTWAIT);
  }

  static std::string Join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& name : names) out += (out.empty() ? "" : " and ") + name;
    return out;
  }

  struct Bucket {
    double tokens;
    double last;
  };

  const ServeOptions& options_;
  std::unique_ptr<approval::Store> store_;
  std::unique_ptr<audit::Log> log_;
  std::mutex breaker_mutex_;
  std::map<std::string, std::deque<std::int64_t>> attempts_;
  std::map<std::string, Bucket> buckets_;
  std::mutex watch_mutex_;
  std::vector<int> watchers_;
  std::mutex vault_mutex_;
  std::optional<vault::Vault> vault_;
};

void ServeConnection(Daemon* daemon, int fd) {
  std::string buffer, line;
  while (!g_stop && ReadLine(fd, &buffer, &line, 1000 * 60 * 60, &g_stop)) {
    json request = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (request.is_discarded()) {
      daemon->Record("bad_request", json{{"error", "not JSON"}, {"bytes", line.size()}});
      if (!WriteLine(fd, Error("the request is not valid JSON").dump())) break;
      continue;
    }
    if (request.is_object() && request.value("op", "") == "watch") {
      daemon->Subscribe(fd);
      WriteLine(fd, json{{"ok", true}, {"watching", true}}.dump());
      // Hold the connection until the client leaves or we stop.
      char byte;
      while (!g_stop) {
        pollfd pfd{fd, POLLIN, 0};
        int ready = poll(&pfd, 1, 200);
        if (ready > 0 && recv(fd, &byte, 1, 0) <= 0) break;
      }
      daemon->Unsubscribe(fd);
      break;
    }
    if (!WriteLine(fd,
                   daemon->Handle(request).dump(-1, ' ', false, json::error_handler_t::replace)))
      break;
  }
  close(fd);
  --g_active_connections;
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

}  // namespace

std::string DefaultStateDir() {
  if (std::string dir = Env("DUALKEY_STATE_DIR"); !dir.empty()) return dir;
  if (std::string xdg = Env("XDG_STATE_HOME"); !xdg.empty() && xdg[0] == '/')
    return xdg + "/dualkey";
  std::string home = Env("HOME");
  return (home.empty() ? std::string("/tmp") : home) + "/.local/state/dualkey";
}

std::string DefaultSocketPath() {
  if (std::string socket = Env("DUALKEY_SOCKET"); !socket.empty()) return socket;
  return DefaultStateDir() + "/dualkey.sock";
}

std::optional<json> Call(const std::string& socket_path, const json& request, int timeout_ms,
                         std::string* error) {
  sockaddr_un address{};
  if (socket_path.size() >= sizeof(address.sun_path)) {
    *error = "socket path too long: " + socket_path;
    return std::nullopt;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return std::nullopt;
  }
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    *error =
        "the dualkey daemon is not running (" + socket_path + ": " + std::strerror(errno) + ")";
    close(fd);
    return std::nullopt;
  }
  std::string buffer, line;
  bool ok = WriteLine(fd, request.dump()) && ReadLine(fd, &buffer, &line, timeout_ms);
  close(fd);
  if (!ok) {
    *error = "the dualkey daemon did not answer in time";
    return std::nullopt;
  }
  json reply = json::parse(line, nullptr, false);
  if (reply.is_discarded() || !reply.is_object()) {
    *error = "the dualkey daemon answered something that is not JSON";
    return std::nullopt;
  }
  return reply;
}

int Watch(const std::string& socket_path, const std::function<void(const json&)>& on_event,
          std::string* error) {
  sockaddr_un address{};
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || socket_path.size() >= sizeof(address.sun_path)) {
    *error = "cannot create a socket";
    if (fd >= 0) close(fd);
    return 1;
  }
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    *error = "the dualkey daemon is not running (" + socket_path + ")";
    close(fd);
    return 1;
  }
  g_stop = false;
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigaction(SIGINT, &action, nullptr);
  std::string buffer, line;
  if (!WriteLine(fd, json{{"op", "watch"}}.dump()) || !ReadLine(fd, &buffer, &line, 5000)) {
    *error = "the daemon did not accept the watch";
    close(fd);
    return 1;
  }
  while (!g_stop) {
    if (!ReadLine(fd, &buffer, &line, 1000 * 60 * 60 * 24, &g_stop)) break;
    json event = json::parse(line, nullptr, false);
    if (!event.is_discarded()) on_event(event);
  }
  close(fd);
  return 0;
}

int Serve(const ServeOptions& given) {
  ServeOptions options = given;
  if (options.state_dir.empty()) options.state_dir = DefaultStateDir();
  if (options.socket_path.empty()) options.socket_path = options.state_dir + "/dualkey.sock";
  if (options.vault_dir.empty()) options.vault_dir = Env("DUALKEY_VAULT");
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
  std::unique_ptr<audit::Log> log = audit::Log::Open(audit_options, &error);
  if (!log) {
    std::cerr << "dualkey serve: cannot open the audit log: " << error << "\n";
    return 1;
  }

  int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  if (listener < 0 || options.socket_path.size() >= sizeof(address.sun_path)) {
    std::cerr << "dualkey serve: cannot create the socket " << options.socket_path << "\n";
    return 1;
  }
  // A socket file left by a daemon that died: replace it unless one answers.
  std::string probe_error;
  if (Call(options.socket_path, json{{"op", "status"}}, 500, &probe_error)) {
    std::cerr << "dualkey serve: another daemon is already listening on " << options.socket_path
              << "\n";
    return 1;
  }
  unlink(options.socket_path.c_str());
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, options.socket_path.c_str(), options.socket_path.size() + 1);
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listener, 128) != 0) {
    std::cerr << "dualkey serve: cannot listen on " << options.socket_path << ": "
              << std::strerror(errno) << "\n";
    return 1;
  }
  // Agents (maybe another OS user) must be able to ask; approving needs TOTP.
  chmod(options.socket_path.c_str(), 0666);

  g_stop = false;
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Daemon daemon(options, std::move(store), std::move(log));
  daemon.Record("start", json{{"pid", getpid()}, {"store", store_location}});
  if (!options.quiet)
    std::cerr << "dualkey serve: listening on " << options.socket_path << " (store "
              << store_location << ", audit " << audit_options.path << ")\n";
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
      close(listener);
      unlink(options.socket_path.c_str());
      return 2;
    }
    http = internal::HttpListener::Start(
        http_options, [&daemon](const json& request) { return daemon.Handle(request); }, &error);
    if (!http) {
      std::cerr << "dualkey serve: " << error << "\n";
      close(listener);
      unlink(options.socket_path.c_str());
      return 1;
    }
    if (!options.quiet)
      std::cerr << "dualkey serve: HTTP" << (http->tls() ? "S" : "") << " on "
                << http_options.address << ":" << http->port() << "\n";
  }
  std::thread expirer([&] { daemon.ExpireLoop(); });
  while (!g_stop) {
    pollfd pfd{listener, POLLIN, 0};
    if (poll(&pfd, 1, 200) <= 0) continue;
    int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++g_active_connections;
    std::thread(ServeConnection, &daemon, fd).detach();
  }
  close(listener);
  unlink(options.socket_path.c_str());
  http.reset();
  // Connections notice g_stop within 200 ms; the daemon outlives them.
  while (g_active_connections > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  expirer.join();
  daemon.Record("stop", json{{"pid", getpid()}});
  return 0;
}

}  // namespace dualkey::daemon
