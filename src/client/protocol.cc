// The daemon's wire protocol (protocol.h): names, text fields, requests,
// the report batch, errors and lines. Replies are replies.cc's.
#include "client/protocol.h"

#include <utility>

#include "base/json_text.h"
#include "client/internal/codec.h"
#include "client/report_wire.h"

namespace dualkey::client {

using nlohmann::json;
using namespace internal;  // NOLINT(google-build-using-namespace): this module's own codec

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

namespace {

// What `r` read, then the request's optional passkey answer.
Status WithPasskey(const Reader& r, const json& j, std::optional<PasskeyAnswer>* passkey) {
  if (!r.status().ok()) return r.status();
  Result<std::optional<PasskeyAnswer>> answer = PasskeyOf(j);
  if (!answer.ok()) return answer.status();
  *passkey = *answer;
  return Status::Ok();
}

}  // namespace

Status FromJson(const json& j, ApproveRequest* out) {
  Reader r = RequestReader(j);
  r.Text("id", &out->id);
  r.Text("approver", &out->approver);
  r.Text("totp", &out->totp);
  return WithPasskey(r, j, &out->passkey);
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
  return WithPasskey(r, j, &out->passkey);
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

json ToJson(const ReportGap& g) {
  json item{{"lost", g.lost},
            {"lost_destructive", g.lost_destructive},
            {"from_ms", g.from_ms},
            {"to_ms", g.to_ms},
            {"first_lost", g.first_lost},
            {"first_lost_destructive", g.first_lost_destructive}};
  PutText(item, "reason", g.reason);
  return item;
}

json ToJson(const ReportRequest& r) {
  json j = Op(kOpReport);
  j["source"] = base::ToValidUtf8(r.source);
  if (!r.sender.empty()) {
    j["sender"] = base::ToValidUtf8(r.sender);
    j["first"] = r.first;
  }
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
    gaps.push_back(ToJson(g));
  }
  j["gaps"] = std::move(gaps);
  return j;
}

Status FromJson(const json& j, ReportRequest* out) {
  Reader r = RequestReader(j);
  r.Text("source", &out->source, /*required=*/true);
  r.Text("sender", &out->sender);
  r.Number("first", &out->first);
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
      g.Number("first_lost", &gap.first_lost);
      g.Number("first_lost_destructive", &gap.first_lost_destructive);
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
  // A report batch (report_wire.h) is almost all one long string.
  if (line.size() >= 1024 && line.find("\"packed\"") != std::string_view::npos) {
    if (std::optional<json> report = ParseReportLine(line)) return std::move(*report);
  }
  std::string error;
  std::optional<json> value = base::JsonParse(line, &error);
  if (!value) return Status::InvalidArgument(error);
  if (!value->is_object()) return Status::InvalidArgument("not a JSON object");
  return std::move(*value);
}

}  // namespace dualkey::client
