// The daemon's wire protocol: the replies, each ToJson and FromJson pair
// (protocol.h).
#include <utility>

#include "base/json_text.h"
#include "client/internal/codec.h"
#include "client/protocol.h"

namespace dualkey::client {

using nlohmann::json;
using namespace internal;  // NOLINT(google-build-using-namespace): this module's own codec

// --- replies ----------------------------------------------------------------

json ToJson(const CheckReply& r) {
  json j = Ok();
  j["decision"] = std::string(ToString(r.decision));
  j["reason"] = r.reason;
  if (r.observed) j["observe"] = std::string(ToString(*r.observed));
  if (!r.approval_id.empty()) j["approval_id"] = r.approval_id;
  if (!r.code.empty()) j["code"] = r.code;
  if (r.approvals_needed > 0) j["approvals_needed"] = r.approvals_needed;
  if (r.expires_ms > 0) j["expires_ms"] = r.expires_ms;
  if (r.reasked) j["reasked"] = true;
  if (r.approved) {
    j["approved"] = true;
    j["approvers"] = r.approvers;
  }
  if (r.approval_ready) j["approval_ready"] = true;
  if (!r.snapshot_id.empty()) j["snapshot_id"] = r.snapshot_id;
  if (!r.fact.empty()) PutText(j, "fact", r.fact);
  if (r.frozen) j["frozen"] = true;
  return j;
}

Status FromJson(const json& j, CheckReply* out) {
  if (Status s = ReplyPrelude(j); !s.ok()) return s;
  Reader r(j, Status::Code::kCorruption);
  std::optional<Decision> decision;
  r.DecisionField("decision", &decision, /*required=*/true);
  if (decision) out->decision = *decision;
  r.Text("reason", &out->reason);
  r.DecisionField("observe", &out->observed, false);
  r.Text("approval_id", &out->approval_id);
  r.Text("code", &out->code);
  r.Number("approvals_needed", &out->approvals_needed);
  r.Number("expires_ms", &out->expires_ms);
  r.Bool("reasked", &out->reasked);
  r.Bool("approved", &out->approved);
  r.Strings("approvers", &out->approvers);
  r.Bool("approval_ready", &out->approval_ready);
  r.Text("snapshot_id", &out->snapshot_id);
  r.Text("fact", &out->fact);
  r.Bool("frozen", &out->frozen);
  // An allow that claims an approval must name it; anything else is not
  // a reply this client can act on.
  if (r.status().ok() && out->approval_ready && out->approval_id.empty())
    r.Fail("approval_ready without an approval_id");
  return r.status();
}

json ToJson(const ProbeReply& r) {
  json j = Ok();
  j["probe"] = true;
  j["decision"] = std::string(ToString(r.decision));
  j["reason"] = r.reason;
  if (r.observed) j["observe"] = std::string(ToString(*r.observed));
  j["frozen"] = r.frozen;
  j["would"] = r.would;
  if (!r.approval_id.empty()) j["approval_id"] = r.approval_id;
  j["counts_for_breaker"] = r.counts_for_breaker;
  j["would_trip_breaker"] = r.would_trip_breaker;
  j["rate_limited"] = r.rate_limited;
  return j;
}

Status FromJson(const json& j, ProbeReply* out) {
  if (Status s = ReplyPrelude(j); !s.ok()) return s;
  Reader r(j, Status::Code::kCorruption);
  bool probe = false;
  r.Bool("probe", &probe);
  // A daemon that took the probe for a check would have registered it.
  if (r.status().ok() && !probe) r.Fail("not a probe's reply");
  std::optional<Decision> decision;
  r.DecisionField("decision", &decision, /*required=*/true);
  if (decision) out->decision = *decision;
  r.Text("reason", &out->reason);
  r.DecisionField("observe", &out->observed, false);
  r.Bool("frozen", &out->frozen);
  r.Text("would", &out->would);
  r.Text("approval_id", &out->approval_id);
  r.Bool("counts_for_breaker", &out->counts_for_breaker);
  r.Bool("would_trip_breaker", &out->would_trip_breaker);
  r.Bool("rate_limited", &out->rate_limited);
  return r.status();
}

json ToJson(const Approval& a) {
  json j{{"id", a.id},
         {"code", a.code},
         {"agent", a.agent},
         {"channel", a.channel},
         {"cwd", a.cwd},
         {"reason", a.reason},
         {"approvals_needed", a.approvals_needed},
         {"approvers", a.approvers},
         {"state", a.state},
         {"created_ms", a.created_ms},
         {"expires_ms", a.expires_ms},
         {"denied_by", a.denied_by},
         {"deny_reason", a.deny_reason}};
  PutText(j, "input", a.input);
  if (a.failed_codes > 0) j["failed_codes"] = a.failed_codes;
  if (a.locked_until_ms > 0) j["locked_until_ms"] = a.locked_until_ms;
  if (!a.details.is_null()) j["details"] = a.details;
  if (!a.words.is_null()) j["words"] = a.words;
  return j;
}

Status FromJson(const json& j, Approval* out) {
  Reader r(j, Status::Code::kCorruption);
  r.Text("id", &out->id, /*required=*/true);
  r.Text("code", &out->code);
  r.Text("agent", &out->agent);
  r.Text("channel", &out->channel);
  r.Text("input", &out->input);
  r.Text("cwd", &out->cwd);
  r.Text("reason", &out->reason);
  r.Number("approvals_needed", &out->approvals_needed);
  r.Strings("approvers", &out->approvers);
  r.Text("state", &out->state);
  r.Number("created_ms", &out->created_ms);
  r.Number("expires_ms", &out->expires_ms);
  r.Text("denied_by", &out->denied_by);
  r.Text("deny_reason", &out->deny_reason);
  r.Number("failed_codes", &out->failed_codes);
  r.Number("locked_until_ms", &out->locked_until_ms);
  if (auto d = j.find("details"); d != j.end() && d->is_object()) out->details = *d;
  if (auto w = j.find("words"); w != j.end() && w->is_object()) out->words = *w;
  return r.status();
}

json ToJson(const PendingReply& r) {
  json list = json::array();
  for (const Approval& a : r.requests) list.push_back(ToJson(a));
  json failed = json::array();
  for (const FailedCodes& f : r.failed_codes) {
    json item{{"scope", base::ToValidUtf8(f.scope)},
              {"failures", f.failures},
              {"last_failure_ms", f.last_failure_ms}};
    if (f.locked_until_ms > 0) item["locked_until_ms"] = f.locked_until_ms;
    failed.push_back(std::move(item));
  }
  json j = Ok();
  j["requests"] = std::move(list);
  j["failed_codes"] = std::move(failed);
  return j;
}

Status FromJson(const json& j, PendingReply* out) {
  if (Status s = ReplyPrelude(j); !s.ok()) return s;
  Reader r(j, Status::Code::kCorruption);
  const json* list = r.Array("requests", /*required=*/true);
  if (!r.status().ok()) return r.status();
  for (const json& item : *list) {
    Approval a;
    if (Status s = FromJson(item, &a); !s.ok()) return s;
    out->requests.push_back(std::move(a));
  }
  // Older daemons send no failed_codes.
  if (const json* failed = r.Array("failed_codes", /*required=*/false)) {
    for (const json& item : *failed) {
      Reader f(item, Status::Code::kCorruption);
      FailedCodes codes;
      f.Text("scope", &codes.scope, /*required=*/true);
      f.Number("failures", &codes.failures);
      f.Number("last_failure_ms", &codes.last_failure_ms);
      f.Number("locked_until_ms", &codes.locked_until_ms);
      if (!f.status().ok()) return f.status();
      out->failed_codes.push_back(std::move(codes));
    }
  }
  return r.status();
}

json ToJson(const ApproverRequest& r, std::string_view op) {
  json j{{"op", std::string(op)}, {"name", r.name}};
  if (!r.approver.empty()) j["approver"] = r.approver;
  if (!r.totp.empty()) j["totp"] = r.totp;
  if (r.passkey) j["passkey"] = ToJson(*r.passkey);
  return j;
}

Status FromJson(const json& j, ApproverRequest* out) {
  Reader r(j, Status::Code::kInvalidArgument);
  r.Text("name", &out->name, /*required=*/true);
  r.Text("approver", &out->approver);
  r.Text("totp", &out->totp);
  // The CLI's words are accepted too.
  if (out->approver.empty()) r.Text("as", &out->approver);
  if (out->totp.empty()) r.Text("code", &out->totp);
  if (!r.status().ok()) return r.status();
  Result<std::optional<PasskeyAnswer>> passkey = PasskeyOf(j);
  if (!passkey.ok()) return passkey.status();
  out->passkey = *passkey;
  return Status::Ok();
}

json ToJson(const ApproverReply& r) {
  json j = Ok();
  j["name"] = base::ToValidUtf8(r.name);
  if (!r.secret.empty()) j["secret"] = r.secret;
  if (!r.uri.empty()) j["uri"] = r.uri;
  if (r.first) j["first"] = true;
  if (r.removed) j["removed"] = true;
  return j;
}

Status FromJson(const json& j, ApproverReply* out) {
  if (Status s = ReplyPrelude(j); !s.ok()) return s;
  Reader r(j, Status::Code::kCorruption);
  r.Text("name", &out->name);
  r.Text("secret", &out->secret);
  r.Text("uri", &out->uri);
  r.Bool("first", &out->first);
  r.Bool("removed", &out->removed);
  return r.status();
}

json ToJson(const ApproverListReply& r) {
  json names = json::array();
  for (const std::string& name : r.approvers) names.push_back(base::ToValidUtf8(name));
  json j = Ok();
  j["approvers"] = std::move(names);
  return j;
}

Status FromJson(const json& j, ApproverListReply* out) {
  if (Status s = ReplyPrelude(j); !s.ok()) return s;
  Reader r(j, Status::Code::kCorruption);
  r.Strings("approvers", &out->approvers);
  if (!j.contains("approvers")) return Status::Corruption("the reply has no \"approvers\"");
  return r.status();
}

json ToJson(const AuditInfoReply& r) {
  json j = Ok();
  j["public_key"] = r.public_key;
  j["path"] = base::ToValidUtf8(r.path);
  j["last_checkpoint"] = json{{"seq", r.checkpoint_seq}, {"hash", r.checkpoint_hash}};
  return j;
}

Status FromJson(const json& j, AuditInfoReply* out) {
  if (Status s = ReplyPrelude(j); !s.ok()) return s;
  Reader r(j, Status::Code::kCorruption);
  r.Text("public_key", &out->public_key, /*required=*/true);
  r.Text("path", &out->path);
  if (const json* last = r.Object("last_checkpoint")) {
    Reader c(*last, Status::Code::kCorruption);
    c.Number("seq", &out->checkpoint_seq);
    c.Text("hash", &out->checkpoint_hash);
    if (!c.status().ok()) return c.status();
  }
  return r.status();
}

json ToJson(const ApprovalReply& r) {
  json j = Ok();
  j["request"] = ToJson(r.request);
  return j;
}

Status FromJson(const json& j, ApprovalReply* out) {
  if (Status s = ReplyPrelude(j); !s.ok()) return s;
  Reader r(j, Status::Code::kCorruption);
  const json* request = r.Object("request");
  if (!r.status().ok()) return r.status();
  if (request == nullptr) return Status::Corruption("the daemon's reply has no \"request\"");
  return FromJson(*request, &out->request);
}

json ToJson(const BreakerResetReply& r) {
  json j = Ok();
  PutText(j, "agent", r.agent);
  j["frozen"] = r.frozen;
  return j;
}

Status FromJson(const json& j, BreakerResetReply* out) {
  if (Status s = ReplyPrelude(j); !s.ok()) return s;
  Reader r(j, Status::Code::kCorruption);
  r.Text("agent", &out->agent);
  r.Bool("frozen", &out->frozen);
  return r.status();
}

json ToJson(const BreakerStatusReply& r) {
  json agents = json::array();
  for (const BreakerAgent& a : r.agents) {
    json entry{{"frozen", a.frozen},
               {"since_ms", a.since_ms},
               {"why", a.why},
               {"recent_attempts", a.recent_attempts},
               {"reset", a.reset}};
    PutText(entry, "agent", a.agent);
    agents.push_back(std::move(entry));
  }
  json j = Ok();
  j["attempts"] = r.attempts;
  j["window_seconds"] = r.window_seconds;
  j["agents"] = std::move(agents);
  return j;
}

Status FromJson(const json& j, BreakerStatusReply* out) {
  if (Status s = ReplyPrelude(j); !s.ok()) return s;
  Reader r(j, Status::Code::kCorruption);
  r.Number("attempts", &out->attempts);
  r.Number("window_seconds", &out->window_seconds);
  const json* agents = r.Array("agents", /*required=*/true);
  if (!r.status().ok()) return r.status();
  for (const json& item : *agents) {
    Reader e(item, Status::Code::kCorruption);
    BreakerAgent a;
    e.Text("agent", &a.agent, /*required=*/true);
    e.Bool("frozen", &a.frozen);
    e.Number("since_ms", &a.since_ms);
    e.Text("why", &a.why);
    e.Number("recent_attempts", &a.recent_attempts);
    e.Text("reset", &a.reset);
    if (!e.status().ok()) return e.status();
    out->agents.push_back(std::move(a));
  }
  return Status::Ok();
}

json ToJson(const StatusReply& r) {
  json j = Ok();
  j["pid"] = r.pid;
  j["socket"] = r.socket;
  j["protected"] = r.protected_install;
  j["uid"] = r.uid;
  json policy{{"loaded_ms", r.policy_loaded_ms}};
  PutText(policy, "path", r.policy_path);
  json errors = json::array(), reload_errors = json::array();
  for (const std::string& e : r.policy_errors) errors.push_back(base::ToValidUtf8(e));
  for (const std::string& e : r.policy_reload_errors) reload_errors.push_back(base::ToValidUtf8(e));
  policy["errors"] = std::move(errors);
  if (r.policy_reload_failed_ms != 0) {
    policy["reload_failed_ms"] = r.policy_reload_failed_ms;
    policy["reload_errors"] = std::move(reload_errors);
  }
  j["policy"] = std::move(policy);
  return j;
}

Status FromJson(const json& j, StatusReply* out) {
  if (Status s = ReplyPrelude(j); !s.ok()) return s;
  Reader r(j, Status::Code::kCorruption);
  r.Number("pid", &out->pid);
  r.Text("socket", &out->socket);
  r.Bool("protected", &out->protected_install);
  r.Number("uid", &out->uid);
  if (!r.status().ok()) return r.status();
  if (auto policy = j.find("policy"); policy != j.end() && policy->is_object()) {
    Reader p(*policy, Status::Code::kCorruption);
    p.Text("path", &out->policy_path);
    p.Number("loaded_ms", &out->policy_loaded_ms);
    p.Strings("errors", &out->policy_errors);
    p.Number("reload_failed_ms", &out->policy_reload_failed_ms);
    p.Strings("reload_errors", &out->policy_reload_errors);
    return p.status();
  }
  return r.status();
}

}  // namespace dualkey::client
