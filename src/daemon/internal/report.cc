// The report op: decisions the PostgreSQL proxy, the HTTP gateway and the
// MCP proxy made on their own, and the gaps they counted, into the audit
// log. Each becomes one "decision" (or "audit_gap") record naming the peer
// that sent it, with secrets redacted (base/redact.h) before it is written.
// Decisions go in as written, a batch with one write (group commit syncs
// them within 100 ms); gaps are synced. A record that cannot be written
// stops the batch: the reply says how many were, and the sender keeps the
// rest.
//
// A batch comes "packed" (client/report_wire.h) or, from an older sender,
// as "decisions" objects. A packed batch that nothing but the metrics
// listens to is written without a JSON tree per record: each record's
// canonical text is put together here (sorted keys, escaped as
// base::JsonDump escapes), the log takes it as it is, and the metrics count
// it from the decoded fields. Anything else goes the general way
// (Core::RecordAll), with the same record as the result.
#include <charconv>
#include <chrono>
#include <iostream>

#include "base/json_text.h"
#include "base/redact.h"
#include "client/protocol.h"
#include "client/report_wire.h"
#include "daemon/internal/core.h"

namespace dualkey::daemon::internal {
namespace {

using nlohmann::json;

// What a reported decision is recorded as, before "time_ms" and "peer".
struct Reported : client::DecisionView {
  Reported(std::string_view from, const client::DecisionView& d)
      : client::DecisionView(d), source(from) {}
  std::string_view source;  // valid UTF-8
};

json DecisionFields(const Reported& d) {
  json fields{{"source", std::string(d.source)},
              {"channel", std::string(ToString(d.channel))},
              {"decision", std::string(ToString(d.decision))},
              {"class", base::ToValidUtf8(d.op_class.empty() ? "none" : d.op_class)},
              {"forwarded", d.forwarded},
              {"decided_ms", d.time_ms}};
  if (d.added_us >= 0) fields["added_us"] = d.added_us;
  client::PutText(fields, "agent", d.agent.empty() ? "unknown" : d.agent);
  client::PutText(fields, "input", base::RedactSecrets(d.input));
  client::PutText(fields, "cwd", d.cwd);
  if (!d.reason.empty()) client::PutText(fields, "reason", base::RedactSecrets(d.reason));
  return fields;
}

void AppendKey(std::string* out, std::string_view key) {
  if (out->back() != '{') out->push_back(',');
  out->push_back('"');
  out->append(key);
  out->append("\":");
}

void AppendNumber(std::string* out, std::int64_t n) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
  out->append(digits, end);
}

// The canonical text of DecisionFields(d) with "time_ms" and "peer" added
// (what base::JsonDump makes of it), or false when a text is not valid
// UTF-8 (that record goes the general way: it needs FIELD_b64).
bool CanonicalDecision(const Reported& d, std::string_view peer_json, std::int64_t now,
                       std::string* out) {
  const std::string_view agent = d.agent.empty() ? "unknown" : d.agent;
  const std::string_view op_class = d.op_class.empty() ? "none" : d.op_class;
  if (!base::IsValidUtf8(agent) || !base::IsValidUtf8(d.cwd) || !base::IsValidUtf8(op_class))
    return false;
  const std::string input = base::RedactSecrets(d.input);
  std::string reason;
  if (!d.reason.empty()) reason = base::RedactSecrets(d.reason);
  if (!base::IsValidUtf8(input) || !base::IsValidUtf8(reason)) return false;
  out->clear();
  out->reserve(input.size() + reason.size() + d.cwd.size() + peer_json.size() + 256);
  out->push_back('{');
  // In key order (std::map's, as JsonDump writes them).
  if (d.added_us >= 0) {
    AppendKey(out, "added_us");
    AppendNumber(out, d.added_us);
  }
  AppendKey(out, "agent");
  client::AppendJsonString(out, agent);
  AppendKey(out, "channel");
  client::AppendJsonString(out, ToString(d.channel));
  AppendKey(out, "class");
  client::AppendJsonString(out, op_class);
  AppendKey(out, "cwd");
  client::AppendJsonString(out, d.cwd);
  AppendKey(out, "decided_ms");
  AppendNumber(out, d.time_ms);
  AppendKey(out, "decision");
  client::AppendJsonString(out, ToString(d.decision));
  AppendKey(out, "forwarded");
  out->append(d.forwarded ? "true" : "false");
  AppendKey(out, "input");
  client::AppendJsonString(out, input);
  AppendKey(out, "peer");
  out->append(peer_json);
  if (!reason.empty()) {
    AppendKey(out, "reason");
    client::AppendJsonString(out, reason);
  }
  AppendKey(out, "source");
  client::AppendJsonString(out, d.source);
  AppendKey(out, "time_ms");
  AppendNumber(out, now);
  out->push_back('}');
  return true;
}

// Records `decisions` as one batch; returns how many were written.
std::size_t RecordDecisions(Core& core, const Peer& peer, const std::vector<Reported>& decisions) {
  if (decisions.empty()) return 0;
  if (core.Heard("decision")) {
    std::vector<Core::Recording> records;
    records.reserve(decisions.size());
    for (const Reported& d : decisions) records.push_back({"decision", DecisionFields(d)});
    return core.RecordAll(std::move(records), &peer, audit::Log::Durability::kWritten);
  }
  // Nothing listens but the metrics: the records' text without a tree.
  const std::int64_t now = Core::NowMs();
  const json peer_json = peer.ToJson();
  const std::string peer_text = base::JsonDump(peer_json);
  std::vector<audit::Record> lines(decisions.size());
  for (std::size_t i = 0; i < decisions.size(); ++i) {
    lines[i].kind = "decision";
    lines[i].canonical = true;
    if (!CanonicalDecision(decisions[i], peer_text, now, &lines[i].fields)) {
      json fields = DecisionFields(decisions[i]);
      fields["time_ms"] = now;
      fields["peer"] = peer_json;
      lines[i].fields = base::JsonDump(fields);
    }
  }
  const auto started = std::chrono::steady_clock::now();
  std::size_t recorded = 0;
  const Status appended = core.log().AppendAll(lines, &recorded, audit::Log::Durability::kWritten);
  const std::string error = appended.message();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  // The batch's time, once (as Core::RecordAll counts it).
  core.metrics().ObserveAuditWrite(seconds, recorded > 0);
  for (std::size_t i = 0; i < recorded; ++i) {
    const Reported& d = decisions[i];
    core.metrics().OnDecision(d.source, ToString(d.channel), d.op_class, ToString(d.decision),
                              d.reason, d.forwarded, d.added_us);
  }
  if (recorded < decisions.size()) {
    if (recorded > 0) core.metrics().ObserveAuditWrite(seconds, false);
    if (!core.options().quiet) std::cerr << "dualkey serve: audit append failed: " << error << "\n";
  }
  return recorded;
}

}  // namespace

void AddReportOps(Dispatcher& dispatcher, Core& core) {
  dispatcher.Add(client::kOpReport, [&core](const Peer& peer, const json& body) -> Result<json> {
    // An HTTP caller has no credentials to record beside what it claims.
    if (peer.via == Peer::Via::kHttp)
      return Status::PermissionDenied("report is served on the Unix socket only");
    client::ReportRequest request;
    if (Status s = client::FromJson(body, &request); !s.ok()) return s;
    const std::string source = base::ToValidUtf8(request.source);
    client::ReportReply reply;
    std::vector<Reported> decisions;
    std::vector<client::PackedDecision> packed_decisions;
    decisions.reserve(request.decisions.size());
    for (const client::ReportedDecision& d : request.decisions)
      decisions.emplace_back(source, client::ViewOf(d));
    if (auto packed = body.find("packed"); packed != body.end()) {
      reply.packed = true;
      std::uint64_t count = 0;
      if (auto c = body.find("count"); c != body.end() && c->is_number_unsigned())
        count = c->get<std::uint64_t>();
      // A packed decision takes more than 20 bytes.
      if (!packed->is_string() || count > packed->get_ref<const std::string&>().size() / 20)
        return Status::InvalidArgument("\"packed\" is a string and \"count\" its decisions");
      std::string_view rest = packed->get_ref<const std::string&>();
      packed_decisions.resize(count);
      for (client::PackedDecision& d : packed_decisions)
        if (Status s = client::NextPacked(&rest, &d); !s.ok()) return s;
      if (!rest.empty())
        return Status::InvalidArgument("\"packed\" holds more than \"count\" decisions");
      decisions.reserve(decisions.size() + packed_decisions.size());
      for (const client::PackedDecision& d : packed_decisions) decisions.emplace_back(source, d);
    }
    // One write for the batch; what was not written stays with the sender.
    reply.recorded = RecordDecisions(core, peer, decisions);
    if (reply.recorded < decisions.size()) return client::ToJson(reply);
    std::string error;
    for (const client::ReportGap& g : request.gaps) {
      json fields{{"source", source},
                  {"lost", g.lost},
                  {"lost_destructive", g.lost_destructive},
                  {"from_ms", g.from_ms},
                  {"to_ms", g.to_ms}};
      client::PutText(fields, "reason", g.reason);
      if (!core.Record("audit_gap", std::move(fields), &peer, audit::Log::Durability::kSynced,
                       &error))
        return client::ToJson(reply);
      ++reply.recorded;
    }
    return client::ToJson(reply);
  });
}

}  // namespace dualkey::daemon::internal
