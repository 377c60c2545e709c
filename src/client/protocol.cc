#include "client/protocol.h"

#include <sodium.h>

#include <utility>

#include "base/json_text.h"

namespace dualkey::client {
namespace {

using nlohmann::json;

std::string Base64(std::string_view bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

bool Unbase64(std::string_view text, std::string* out) {
  out->assign(text.size() / 4 * 3 + 3, '\0');
  std::size_t length = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out->data()), out->size(), text.data(),
                        text.size(), nullptr, &length, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0)
    return false;
  out->resize(length);
  return true;
}

// Reads fields of one object; the first problem wins. Requests fail with
// kInvalidArgument, replies with kCorruption (the peer, not the caller, is
// at fault).
class Reader {
 public:
  Reader(const json& j, Status::Code code) : j_(j), code_(code) {
    if (!j_.is_object()) Fail("not a JSON object");
  }

  void Text(std::string_view key, std::string* out, bool required = false) {
    if (!status_.ok()) return;
    if (Status s = GetText(j_, key, out, required); !s.ok()) Fail(s.message());
  }
  void Bool(std::string_view key, bool* out) {
    const json* v = Find(key);
    if (v == nullptr) return;
    if (!v->is_boolean()) return Fail("\"" + std::string(key) + "\" must be true or false");
    *out = v->get<bool>();
  }
  template <typename Int>
  void Number(std::string_view key, Int* out) {
    const json* v = Find(key);
    if (v == nullptr) return;
    if (!v->is_number_integer()) return Fail("\"" + std::string(key) + "\" must be an integer");
    *out = v->get<Int>();
  }
  void Strings(std::string_view key, std::vector<std::string>* out) {
    const json* v = Find(key);
    if (v == nullptr) return;
    if (!v->is_array()) return Fail("\"" + std::string(key) + "\" must be a list of strings");
    out->clear();
    for (const json& item : *v) {
      if (!item.is_string()) return Fail("\"" + std::string(key) + "\" must be a list of strings");
      out->push_back(item.get<std::string>());
    }
  }
  void DecisionField(std::string_view key, std::optional<Decision>* out, bool required) {
    const json* v = Find(key);
    if (v == nullptr) {
      if (required) Fail("\"" + std::string(key) + "\" is missing");
      return;
    }
    Decision d;
    if (!v->is_string() || !ParseDecisionName(v->get_ref<const std::string&>(), &d))
      return Fail("\"" + std::string(key) + "\" is one of allow, hold, hold2, deny");
    *out = d;
  }
  void ChannelField(std::string_view key, Channel* out) {
    const json* v = Find(key);
    if (!status_.ok()) return;
    if (v == nullptr || !v->is_string() || !ParseChannel(v->get_ref<const std::string&>(), out))
      Fail("\"" + std::string(key) + "\" is one of shell, sql, http, mcp, file");
  }
  const json* Object(std::string_view key) {
    const json* v = Find(key);
    if (v != nullptr && !v->is_object()) {
      Fail("\"" + std::string(key) + "\" must be an object");
      return nullptr;
    }
    return v;
  }
  const json* Array(std::string_view key, bool required) {
    const json* v = Find(key);
    if (v == nullptr) {
      if (required) Fail("\"" + std::string(key) + "\" is missing");
      return nullptr;
    }
    if (!v->is_array()) {
      Fail("\"" + std::string(key) + "\" must be a list");
      return nullptr;
    }
    return v;
  }

  void Fail(std::string message) {
    if (!status_.ok()) return;
    status_ = code_ == Status::Code::kCorruption
                  ? Status::Corruption("the daemon's reply is malformed: " + message)
                  : Status::InvalidArgument(std::move(message));
  }
  const Status& status() const { return status_; }

 private:
  const json* Find(std::string_view key) {
    if (!status_.ok() || !j_.is_object()) return nullptr;
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  const json& j_;
  Status::Code code_;
  Status status_;
};

Reader RequestReader(const json& j) {
  return Reader(j, Status::Code::kInvalidArgument);
}

json Op(std::string_view op) {
  return json{{"op", std::string(op)}};
}

void PutAction(json& j, const ActionRef& a) {
  j["channel"] = std::string(ToString(a.channel));
  PutText(j, "input", a.input);
  PutText(j, "cwd", a.cwd);
  PutText(j, "agent", a.agent);
}

void ReadAction(Reader& r, ActionRef* a, std::string_view op) {
  r.ChannelField("channel", &a->channel);
  if (!r.status().ok()) {
    r.Fail(std::string(op) + " needs a \"channel\" (shell, sql, http, mcp or file)");
    return;
  }
  r.Text("input", &a->input, /*required=*/true);
  r.Text("cwd", &a->cwd);
  r.Text("agent", &a->agent);
}

// Reply decoding starts here: {"ok": false} is the peer's error.
Status ReplyPrelude(const json& j) {
  return ReplyStatus(j);
}

json Ok() {
  return json{{"ok", true}};
}

constexpr std::pair<std::string_view, Status::Code> kCodeNames[] = {
    {"not_found", Status::Code::kNotFound},
    {"invalid_argument", Status::Code::kInvalidArgument},
    {"permission_denied", Status::Code::kPermissionDenied},
    {"failed_precondition", Status::Code::kFailedPrecondition},
    {"resource_exhausted", Status::Code::kResourceExhausted},
    {"unavailable", Status::Code::kUnavailable},
    {"io_error", Status::Code::kIOError},
    {"corruption", Status::Code::kCorruption},
    {"internal", Status::Code::kInternal},
};

Status MakeStatus(Status::Code code, std::string message) {
  switch (code) {
    case Status::Code::kOk:
      return Status::Ok();
    case Status::Code::kNotFound:
      return Status::NotFound(std::move(message));
    case Status::Code::kInvalidArgument:
      return Status::InvalidArgument(std::move(message));
    case Status::Code::kPermissionDenied:
      return Status::PermissionDenied(std::move(message));
    case Status::Code::kFailedPrecondition:
      return Status::FailedPrecondition(std::move(message));
    case Status::Code::kResourceExhausted:
      return Status::ResourceExhausted(std::move(message));
    case Status::Code::kUnavailable:
      return Status::Unavailable(std::move(message));
    case Status::Code::kIOError:
      return Status::IOError(std::move(message));
    case Status::Code::kCorruption:
      return Status::Corruption(std::move(message));
    case Status::Code::kInternal:
      return Status::Internal(std::move(message));
  }
  return Status::Internal(std::move(message));
}

}  // namespace

bool ParseDecisionName(std::string_view text, Decision* out) {
  static constexpr std::pair<std::string_view, Decision> kNames[] = {{"allow", Decision::kAllow},
                                                                     {"hold", Decision::kHold},
                                                                     {"hold2", Decision::kHold2},
                                                                     {"deny", Decision::kDeny}};
  for (const auto& [name, decision] : kNames) {
    if (name == text) {
      *out = decision;
      return true;
    }
  }
  return false;
}

void PutText(json& j, std::string_view key, std::string_view bytes) {
  const std::string name(key);
  if (base::IsValidUtf8(bytes)) {
    j[name] = std::string(bytes);
    return;
  }
  j[name] = base::ToValidUtf8(bytes);
  j[name + "_b64"] = Base64(bytes);
}

Status GetText(const json& j, std::string_view key, std::string* out, bool required) {
  if (!j.is_object()) return Status::InvalidArgument("not a JSON object");
  const std::string name(key);
  if (auto exact = j.find(name + "_b64"); exact != j.end() && !exact->is_null()) {
    if (!exact->is_string() || !Unbase64(exact->get_ref<const std::string&>(), out))
      return Status::InvalidArgument("\"" + name + "_b64\" is not base64");
    return Status::Ok();
  }
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    if (required) return Status::InvalidArgument("needs a \"" + name + "\" string");
    return Status::Ok();
  }
  if (!it->is_string()) return Status::InvalidArgument("\"" + name + "\" must be a string");
  *out = it->get<std::string>();
  return Status::Ok();
}

// --- requests ---------------------------------------------------------------

json ToJson(const CheckRequest& r) {
  json j = Op(kOpCheck);
  PutAction(j, r.action);
  if (!r.home.empty()) PutText(j, "home", r.home);
  if (!r.file_operation.empty()) j["file_operation"] = r.file_operation;
  if (r.min_decision) j["min_decision"] = std::string(ToString(*r.min_decision));
  if (!r.detail.empty()) PutText(j, "detail", r.detail);
  if (r.defer_consume) j["defer_consume"] = true;
  if (!r.allowed_by.empty()) {
    json by = json::object();
    if (!r.allowed_by.fact.empty()) PutText(by, "fact", r.allowed_by.fact);
    if (!r.allowed_by.snapshot_id.empty()) by["snapshot_id"] = r.allowed_by.snapshot_id;
    if (!r.allowed_by.measured.empty()) PutText(by, "measured", r.allowed_by.measured);
    j["allowed_by"] = std::move(by);
  }
  return j;
}

json ProbeJson(const CheckRequest& r) {
  json j = ToJson(r);
  j["op"] = std::string(kOpProbe);
  return j;
}

json ToJson(const ConsumeRequest& r) {
  json j = Op(kOpConsume);
  PutAction(j, r.action);
  if (!r.snapshot_id.empty()) j["snapshot_id"] = r.snapshot_id;
  return j;
}

json ToJson(const PendingRequest&) {
  return Op(kOpPending);
}
json ToJson(const StatusRequest&) {
  return Op(kOpStatus);
}

json ToJson(const ApproveRequest& r) {
  json j = Op(kOpApprove);
  j["id"] = r.id;
  j["approver"] = r.approver;
  j["totp"] = r.totp;
  if (r.passkey) j["passkey"] = ToJson(*r.passkey);
  return j;
}

json ToJson(const DenyRequest& r) {
  json j = Op(kOpDeny);
  j["id"] = r.id;
  j["approver"] = r.approver;
  j["reason"] = r.reason;
  return j;
}

json ToJson(const BreakerResetRequest& r) {
  json j = Op(kOpBreakerReset);
  PutText(j, "agent", r.agent);
  j["approver"] = r.approver;
  j["totp"] = r.totp;
  if (r.passkey) j["passkey"] = ToJson(*r.passkey);
  return j;
}

json ToJson(const BreakerStatusRequest& r) {
  json j = Op(kOpBreakerStatus);
  if (!r.agent.empty()) PutText(j, "agent", r.agent);
  return j;
}

Status FromJson(const json& j, CheckRequest* out) {
  Reader r = RequestReader(j);
  ReadAction(r, &out->action, "check");
  r.Text("home", &out->home);
  r.Text("file_operation", &out->file_operation);
  r.DecisionField("min_decision", &out->min_decision, false);
  r.Text("detail", &out->detail);
  r.Bool("defer_consume", &out->defer_consume);
  if (const json* by = r.Object("allowed_by")) {
    Reader b(*by, Status::Code::kInvalidArgument);
    b.Text("fact", &out->allowed_by.fact);
    b.Text("snapshot_id", &out->allowed_by.snapshot_id);
    b.Text("measured", &out->allowed_by.measured);
    if (Status s = b.status(); !s.ok())
      return Status::InvalidArgument("allowed_by: " + s.message());
  }
  return r.status();
}

Status FromJson(const json& j, ConsumeRequest* out) {
  Reader r = RequestReader(j);
  ReadAction(r, &out->action, "consume");
  r.Text("snapshot_id", &out->snapshot_id);
  return r.status();
}

Status FromJson(const json& j, ApproveRequest* out) {
  Reader r = RequestReader(j);
  r.Text("id", &out->id);
  r.Text("approver", &out->approver);
  r.Text("totp", &out->totp);
  if (!r.status().ok()) return r.status();
  Result<std::optional<PasskeyAnswer>> passkey = PasskeyOf(j);
  if (!passkey.ok()) return passkey.status();
  out->passkey = *passkey;
  return Status::Ok();
}

Status FromJson(const json& j, DenyRequest* out) {
  Reader r = RequestReader(j);
  r.Text("id", &out->id);
  r.Text("approver", &out->approver);
  r.Text("reason", &out->reason);
  return r.status();
}

Status FromJson(const json& j, BreakerResetRequest* out) {
  Reader r = RequestReader(j);
  r.Text("agent", &out->agent);
  r.Text("approver", &out->approver);
  r.Text("totp", &out->totp);
  if (!r.status().ok()) return r.status();
  Result<std::optional<PasskeyAnswer>> passkey = PasskeyOf(j);
  if (!passkey.ok()) return passkey.status();
  out->passkey = *passkey;
  return Status::Ok();
}

json ToJson(const PasskeyAnswer& r) {
  return json{{"nonce", r.nonce},
              {"credential_id", r.credential_id},
              {"client_data_json", r.client_data_json},
              {"authenticator_data", r.authenticator_data},
              {"signature", r.signature}};
}

Result<std::optional<PasskeyAnswer>> PasskeyOf(const json& request) {
  if (!request.is_object()) return std::optional<PasskeyAnswer>();
  auto found = request.find("passkey");
  if (found == request.end() || found->is_null()) return std::optional<PasskeyAnswer>();
  Reader r(*found, Status::Code::kInvalidArgument);
  PasskeyAnswer answer;
  r.Text("nonce", &answer.nonce, /*required=*/true);
  r.Text("credential_id", &answer.credential_id, true);
  r.Text("client_data_json", &answer.client_data_json, true);
  r.Text("authenticator_data", &answer.authenticator_data, true);
  r.Text("signature", &answer.signature, true);
  if (!r.status().ok())
    return Status::InvalidArgument("\"passkey\": " + std::string(r.status().message()));
  return std::optional<PasskeyAnswer>(std::move(answer));
}

Status FromJson(const json& j, BreakerStatusRequest* out) {
  Reader r = RequestReader(j);
  r.Text("agent", &out->agent);
  return r.status();
}

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

json ToJson(const ReportRequest& r) {
  json j = Op(kOpReport);
  j["source"] = base::ToValidUtf8(r.source);
  json decisions = json::array();
  for (const ReportedDecision& d : r.decisions) {
    json item{{"time_ms", d.time_ms},
              {"decision", std::string(ToString(d.decision))},
              {"forwarded", d.forwarded},
              {"added_us", d.added_us}};
    PutAction(item, d.action);
    PutText(item, "class", d.op_class);
    PutText(item, "reason", d.reason);
    decisions.push_back(std::move(item));
  }
  j["decisions"] = std::move(decisions);
  json gaps = json::array();
  for (const ReportGap& g : r.gaps) {
    json item{{"lost", g.lost},
              {"lost_destructive", g.lost_destructive},
              {"from_ms", g.from_ms},
              {"to_ms", g.to_ms}};
    PutText(item, "reason", g.reason);
    gaps.push_back(std::move(item));
  }
  j["gaps"] = std::move(gaps);
  return j;
}

Status FromJson(const json& j, ReportRequest* out) {
  Reader r = RequestReader(j);
  r.Text("source", &out->source, /*required=*/true);
  const json* decisions = r.Array("decisions", /*required=*/false);
  const json* gaps = r.Array("gaps", /*required=*/false);
  if (!r.status().ok()) return r.status();
  if (decisions != nullptr) {
    for (const json& item : *decisions) {
      Reader d = RequestReader(item);
      ReportedDecision decision;
      ReadAction(d, &decision.action, "report");
      d.Number("time_ms", &decision.time_ms);
      std::optional<Decision> verdict;
      d.DecisionField("decision", &verdict, /*required=*/true);
      if (verdict) decision.decision = *verdict;
      d.Text("class", &decision.op_class);
      d.Text("reason", &decision.reason);
      d.Bool("forwarded", &decision.forwarded);
      d.Number("added_us", &decision.added_us);
      if (!d.status().ok()) return d.status();
      out->decisions.push_back(std::move(decision));
    }
  }
  if (gaps != nullptr) {
    for (const json& item : *gaps) {
      Reader g = RequestReader(item);
      ReportGap gap;
      g.Number("lost", &gap.lost);
      g.Number("lost_destructive", &gap.lost_destructive);
      g.Number("from_ms", &gap.from_ms);
      g.Number("to_ms", &gap.to_ms);
      g.Text("reason", &gap.reason);
      if (!g.status().ok()) return g.status();
      out->gaps.push_back(std::move(gap));
    }
  }
  return Status::Ok();
}

json ToJson(const ReportReply& r) {
  json j = Ok();
  j["recorded"] = r.recorded;
  if (r.packed) j["packed"] = true;
  return j;
}

Status FromJson(const json& j, ReportReply* out) {
  if (Status s = ReplyPrelude(j); !s.ok()) return s;
  Reader r(j, Status::Code::kCorruption);
  r.Number("recorded", &out->recorded);
  r.Bool("packed", &out->packed);
  return r.status();
}

json ErrorJson(const Status& status) {
  json j{{"ok", false}, {"error", status.message()}};
  for (const auto& [name, code] : kCodeNames)
    if (code == status.code()) j["status"] = std::string(name);
  return j;
}

Status ReplyStatus(const json& reply) {
  if (!reply.is_object()) return Status::Corruption("the daemon's reply is not a JSON object");
  auto ok = reply.find("ok");
  if (ok == reply.end() || !ok->is_boolean())
    return Status::Corruption("the daemon's reply has no \"ok\"");
  if (ok->get<bool>()) return Status::Ok();
  std::string message = "the daemon refused the request";
  if (auto error = reply.find("error"); error != reply.end() && error->is_string())
    message = error->get<std::string>();
  Status::Code code = Status::Code::kFailedPrecondition;
  if (auto name = reply.find("status"); name != reply.end() && name->is_string())
    for (const auto& [known, c] : kCodeNames)
      if (known == name->get_ref<const std::string&>()) code = c;
  return MakeStatus(code, std::move(message));
}

std::string EncodeLine(const json& value) {
  std::string line = base::JsonDump(value);
  line.push_back('\n');
  return line;
}

Result<json> DecodeLine(std::string_view line) {
  std::string error;
  std::optional<json> value = base::JsonParse(line, &error);
  if (!value) return Status::InvalidArgument(error);
  if (!value->is_object()) return Status::InvalidArgument("not a JSON object");
  return std::move(*value);
}

}  // namespace dualkey::client
