// drill_begin, drill_breaker_reset, drill_end, drill_sign: the daemon's side
// of `dualkey drill` (see internal/drill.h for what a session may do).
#include "daemon/internal/drill.h"

#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>

#include "approval/approval.h"
#include "audit/audit.h"
#include "base/json_text.h"
#include "client/drill_certificate.h"
#include "client/protocol.h"
#include "daemon/internal/breaker.h"
#include "token/token.h"

namespace dualkey::daemon::internal {
namespace {

using nlohmann::json;

constexpr std::int64_t kDefaultTtlMs = 10 * 60'000;
constexpr std::int64_t kMaxTtlMs = 30 * 60'000;
constexpr std::size_t kMaxSessions = 4;
// Wrong codes before a session closes itself: the secret went only to an
// administrator, so a wrong code is someone else guessing.
constexpr int kMaxFailures = 3;

struct Session {
  std::string id;
  std::string approver;  // "drill-<id>": also the prefix of the drill's agents
  std::string secret;    // TOTP, base32
  std::int64_t begun_ms = 0;
  std::int64_t expires_ms = 0;
  std::int64_t last_step = -1;  // a code works once
  int failures = 0;
  json begun_by;
};

std::string RandomId() {
  static constexpr char kAlphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";
  unsigned char bytes[10];
  if (getrandom(bytes, sizeof(bytes), 0) != static_cast<ssize_t>(sizeof(bytes))) return "";
  std::string id;
  for (unsigned char b : bytes) id.push_back(kAlphabet[b % 32]);
  return id;
}

class Drills {
 public:
  Drills(Core& core, Breaker& breaker) : core_(core), breaker_(breaker) {}

  Result<json> Begin(const Peer& peer, const json& body) {
    if (!peer.admin)
      return Refused(peer, "drill_begin",
                     "a drill session can be begun only by root or the daemon's own user: run "
                     "`sudo dualkey drill`");
    std::int64_t ttl = kDefaultTtlMs;
    if (body.contains("ttl_seconds")) {
      if (!body["ttl_seconds"].is_number_integer())
        return Status::InvalidArgument("ttl_seconds is a whole number of seconds");
      ttl = std::clamp<std::int64_t>(body["ttl_seconds"].get<std::int64_t>() * 1000, 10'000,
                                     kMaxTtlMs);
    }
    std::lock_guard lock(mutex_);
    ExpireLocked();
    if (sessions_.size() >= kMaxSessions)
      return Status::ResourceExhausted("too many drill sessions are open; end one first");
    Session session;
    session.id = RandomId();
    session.secret = approval::NewTotpSecret();
    if (session.id.empty() || session.secret.empty())
      return Status::Internal("the random number generator failed");
    session.approver = "drill-" + session.id;
    session.begun_ms = Core::NowMs();
    session.expires_ms = session.begun_ms + ttl;
    session.begun_by = peer.ToJson();
    json fields{{"name", session.approver},
                {"drill", true},
                {"session", session.id},
                {"scope", "breaker resets of agents " + session.approver + "*; never approvals"},
                {"expires_ms", session.expires_ms}};
    if (!core_.Record("approver_added", std::move(fields), &peer))
      return Status::IOError("the audit log could not be written: no drill session was begun");
    json reply{{"ok", true},
               {"session", session.id},
               {"approver", session.approver},
               {"agent_prefix", session.approver},
               {"secret", session.secret},
               {"begun_ms", session.begun_ms},
               {"expires_ms", session.expires_ms}};
    sessions_[session.id] = std::move(session);
    return reply;
  }

  // One code resets every listed agent of the drill (a drill freezes several
  // of its own identities, and a code works once).
  Result<json> BreakerReset(const Peer& peer, const json& body) {
    std::string id, totp;
    if (Status s = Strings(body, {{"session", &id}, {"totp", &totp}}); !s.ok()) return s;
    std::vector<std::string> agents;
    if (body.contains("agent") && body["agent"].is_string())
      agents.push_back(body["agent"].get<std::string>());
    if (body.contains("agents") && body["agents"].is_array())
      for (const json& a : body["agents"])
        if (a.is_string()) agents.push_back(a.get<std::string>());
    if (agents.empty()) return Status::InvalidArgument("missing \"agent\" (or \"agents\")");
    std::lock_guard lock(mutex_);
    ExpireLocked();
    Session* session = Find(id);
    if (session == nullptr) return Status::NotFound("no open drill session " + id);
    for (const std::string& agent : agents)
      if (!agent.starts_with(session->approver))
        return Status::PermissionDenied(
            "a drill's test approver resets only the drill's own agents (" + session->approver +
            "*), not '" + base::ToValidUtf8(agent) + "'");
    if (Status s = CheckCode(*session, totp, peer); !s.ok()) return s;
    json reset = json::array();
    for (const std::string& agent : agents) {
      json fields{{"approver", session->approver}, {"drill", true}, {"session", session->id}};
      client::PutText(fields, "agent", agent);
      if (!core_.Record("breaker_reset", std::move(fields), &peer))
        return Status::IOError("the audit log could not be written: the breaker of " + agent +
                               " was not reset");
      if (Status st = core_.store().SetFrozen(agent, false, "reset by " + session->approver);
          !st.ok())
        return Status::Unavailable("the store failed: " + st.message());
      breaker_.Forget(agent);
      reset.push_back(agent);
    }
    return json{{"ok", true}, {"reset", reset}, {"frozen", false}};
  }

  Result<json> End(const Peer& peer, const json& body) {
    std::string id;
    if (Status s = Strings(body, {{"session", &id}}); !s.ok()) return s;
    if (!peer.admin)
      return Refused(peer, "drill_end",
                     "a drill session can be ended only by root or the daemon's own user");
    std::lock_guard lock(mutex_);
    Session* session = Find(id);
    if (session == nullptr) return Status::NotFound("no open drill session " + id);
    Remove(id, "the drill ended", &peer);
    return json{{"ok", true}, {"session", id}, {"removed", true}};
  }

  Result<json> Sign(const Peer& peer, const json& body) {
    if (!peer.admin)
      return Refused(peer, "drill_sign",
                     "only root or the daemon's own user may have a drill certificate signed");
    if (!body.contains("certificate") || !body["certificate"].is_object())
      return Status::InvalidArgument("drill_sign needs a \"certificate\" object");
    const json& certificate = body["certificate"];
    if (!certificate.contains("session") || !certificate["session"].is_string())
      return Status::InvalidArgument("the certificate names no drill session");
    const std::string id = certificate["session"].get<std::string>();
    {
      std::lock_guard lock(mutex_);
      ExpireLocked();
      if (Find(id) == nullptr)
        return Status::FailedPrecondition("the certificate's drill session " + id +
                                          " is not open: a certificate is signed only for a "
                                          "drill this daemon is watching");
    }
    const std::string key_path = core_.options().state_dir + "/audit.key";
    const std::int64_t signed_ms = Core::NowMs();
    const std::string message = client::CertificateMessage(certificate, signed_ms);
    Result<audit::DetachedSignature> signature = audit::SignWithKeyFile(key_path, message);
    if (!signature.ok())
      return Status::Unavailable("the audit key cannot be used: " + signature.status().message());
    json fields{{"session", id},
                {"sha256", token::Sha256Hex(message)},
                {"public_key", signature->public_key}};
    for (const char* key : {"verdict", "attempts", "held", "allowed"})
      if (certificate.contains("results") && certificate["results"].is_object() &&
          certificate["results"].contains(key))
        fields[key] = certificate["results"][key];
    if (!core_.Record("drill_certificate", std::move(fields), &peer))
      return Status::IOError("the audit log could not be written: the certificate was not signed");
    return json{{"ok", true},
                {"alg", "ed25519"},
                {"public_key", signature->public_key},
                {"signed_ms", signed_ms},
                {"signature", signature->signature}};
  }

 private:
  static Status Strings(const json& body,
                        std::initializer_list<std::pair<const char*, std::string*>> fields) {
    for (const auto& [key, out] : fields) {
      if (!body.contains(key) || !body[key].is_string())
        return Status::InvalidArgument(std::string("missing \"") + key + "\"");
      *out = body[key].get<std::string>();
    }
    return Status::Ok();
  }

  Result<json> Refused(const Peer& peer, const char* op, const std::string& why) {
    core_.Record("drill_refused", json{{"op", op}, {"why", why}}, &peer);
    return Status::PermissionDenied(why);
  }

  Session* Find(const std::string& id) {
    auto found = sessions_.find(id);
    return found == sessions_.end() ? nullptr : &found->second;
  }

  Status CheckCode(Session& session, const std::string& totp, const Peer& peer) {
    std::int64_t step = 0;
    if (!approval::CheckTotp(session.secret, totp, Core::NowMs() / 1000, &step)) {
      ++session.failures;
      core_.Record("auth_failed",
                   json{{"approver", session.approver},
                        {"drill", true},
                        {"failures", session.failures},
                        {"why", "wrong or expired TOTP code"}},
                   &peer);
      if (session.failures >= kMaxFailures)
        Remove(session.id, "closed after " + std::to_string(session.failures) + " wrong codes",
               &peer);
      return Status::PermissionDenied("wrong or expired code for the drill's test approver");
    }
    if (step <= session.last_step)
      return Status::FailedPrecondition("this code was already used; wait for the next one");
    session.last_step = step;
    return Status::Ok();
  }

  void Remove(const std::string& id, const std::string& why, const Peer* peer) {
    auto found = sessions_.find(id);
    if (found == sessions_.end()) return;
    core_.Record(
        "approver_removed",
        json{{"name", found->second.approver}, {"drill", true}, {"session", id}, {"why", why}},
        peer);
    sessions_.erase(found);
  }

  void ExpireLocked() {
    const std::int64_t now = Core::NowMs();
    std::vector<std::string> expired;
    for (const auto& [id, session] : sessions_)
      if (session.expires_ms <= now) expired.push_back(id);
    for (const std::string& id : expired) Remove(id, "expired", nullptr);
  }

  Core& core_;
  Breaker& breaker_;
  std::mutex mutex_;
  std::map<std::string, Session> sessions_;
};

}  // namespace

void AddDrillOps(Dispatcher& dispatcher, Core& core, Breaker& breaker) {
  auto drills = std::make_shared<Drills>(core, breaker);
  dispatcher.Add("drill_begin", [drills](const Peer& peer, const json& body) {
    return drills->Begin(peer, body);
  });
  dispatcher.Add("drill_breaker_reset", [drills](const Peer& peer, const json& body) {
    return drills->BreakerReset(peer, body);
  });
  dispatcher.Add("drill_end",
                 [drills](const Peer& peer, const json& body) { return drills->End(peer, body); });
  dispatcher.Add("drill_sign",
                 [drills](const Peer& peer, const json& body) { return drills->Sign(peer, body); });
}

}  // namespace dualkey::daemon::internal
