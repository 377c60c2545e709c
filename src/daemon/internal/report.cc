// The report op: decisions the PostgreSQL proxy, the HTTP gateway and the
// MCP proxy made on their own, and the gaps they counted, into the audit
// log. Each becomes one "decision" (or "audit_gap") record naming the peer
// that sent it, with secrets redacted (base/redact.h) before it is written.
// Decisions go in as written, a batch with one write (group commit syncs
// them within 100 ms); gaps are synced. A record that cannot be written stops the batch: the reply
// says how many were, and the sender keeps the rest.
#include "base/json_text.h"
#include "base/redact.h"
#include "daemon/internal/core.h"
#include "daemon/internal/protocol.h"

namespace dualkey::daemon::internal {

using nlohmann::json;

void AddReportOps(Dispatcher& dispatcher, Core& core) {
  dispatcher.Add(kOpReport, [&core](const Peer& peer, const json& body) -> Result<json> {
    // An HTTP caller has no credentials to record beside what it claims.
    if (peer.via == Peer::Via::kHttp)
      return Status::PermissionDenied("report is served on the Unix socket only");
    ReportRequest request;
    if (Status s = FromJson(body, &request); !s.ok()) return s;
    ReportReply reply;
    std::vector<Core::Recording> records;
    records.reserve(request.decisions.size());
    for (const ReportedDecision& d : request.decisions) {
      json fields{{"source", base::ToValidUtf8(request.source)},
                  {"channel", std::string(ToString(d.action.channel))},
                  {"decision", std::string(ToString(d.decision))},
                  {"class", base::ToValidUtf8(d.op_class.empty() ? "none" : d.op_class)},
                  {"forwarded", d.forwarded},
                  {"decided_ms", d.time_ms}};
      if (d.added_us >= 0) fields["added_us"] = d.added_us;
      PutText(fields, "agent", d.action.agent.empty() ? "unknown" : d.action.agent);
      PutText(fields, "input", base::RedactSecrets(d.action.input));
      PutText(fields, "cwd", d.action.cwd);
      if (!d.reason.empty()) PutText(fields, "reason", base::RedactSecrets(d.reason));
      records.push_back({"decision", std::move(fields)});
    }
    // One write for the batch; what was not written stays with the sender.
    const std::size_t total = records.size();
    reply.recorded = core.RecordAll(std::move(records), &peer, audit::Log::Durability::kWritten);
    if (reply.recorded < total) return ToJson(reply);
    std::string error;
    for (const ReportGap& g : request.gaps) {
      json fields{{"source", base::ToValidUtf8(request.source)},
                  {"lost", g.lost},
                  {"lost_destructive", g.lost_destructive},
                  {"from_ms", g.from_ms},
                  {"to_ms", g.to_ms}};
      PutText(fields, "reason", g.reason);
      if (!core.Record("audit_gap", std::move(fields), &peer, audit::Log::Durability::kSynced,
                       &error))
        return ToJson(reply);
      ++reply.recorded;
    }
    return ToJson(reply);
  });
}

}  // namespace dualkey::daemon::internal
