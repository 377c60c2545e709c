// The report op: decisions the PostgreSQL proxy, the HTTP gateway and the
// MCP proxy made on their own, and the gaps they counted, into the audit
// log. A batch of decisions becomes one "decisions" entry (a few, for long
// statements) naming the peer that sent it, each decision an item of it,
// with secrets redacted (base/redact.h) before it is written
// (docs/audit-format.md; audit::Read gives each item back as a "decision"
// entry). Decisions go in as written, with one write (group commit syncs
// them within 100 ms); gaps are synced ("audit_gap" records). An entry that
// cannot be written stops the batch: the reply says how many decisions
// were, and the sender keeps the rest. A named sender's batch that repeats
// what it sent before (its reply was lost) is skipped as far as the log has
// it (SenderMarks).
//
// One entry for a batch, rather than one per decision, is what keeps the
// audit of every statement cheap: one chain hash and mac per batch, the
// peer and source written once, and a log a third the size. Each item's
// canonical text is put together here (sorted keys, escaped as
// base::JsonDump escapes) without a JSON tree; the log takes it as it is.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include "base/json_text.h"
#include "base/redact.h"
#include "client/protocol.h"
#include "client/report_wire.h"
#include "daemon/internal/core.h"

namespace dualkey::daemon::internal {
namespace {

using nlohmann::json;

// What a reported decision is recorded as, in a "decisions" entry.
struct Reported : client::DecisionView {
  Reported(std::string_view from, const client::DecisionView& d)
      : client::DecisionView(d), source(from) {}
  std::string_view source;  // valid UTF-8; the same for every decision of a batch
};

// One decision's fields in its entry (the batch's "source", "peer" and
// "time_ms" are the entry's): the general way, for texts that are not
// valid UTF-8 (they need FIELD_b64) and for listeners.
json ItemFields(const Reported& d) {
  json fields{{"channel", std::string(ToString(d.channel))},
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

void AppendNumber(std::string* out, std::int64_t n) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
  out->append(digits, end);
}

// The text of the fields a run of decisions shares ("agent" to "cwd", and
// "decision" with "forwarded"), with the keys that follow them, made once
// a run: a proxy's batch is mostly one agent's reads.
class SharedFields {
 public:
  // False when a shared text is not valid UTF-8 (the item goes the general way).
  bool For(const Reported& d, std::string_view agent, std::string_view op_class) {
    if (!made_ || agent != agent_ || op_class != op_class_ || d.cwd != cwd_ ||
        d.channel != channel_) {
      made_ = true;
      agent_ = agent;
      op_class_ = op_class;
      cwd_ = d.cwd;
      channel_ = d.channel;
      valid_ = base::IsValidUtf8(agent) && base::IsValidUtf8(d.cwd) && base::IsValidUtf8(op_class);
      names_ = "\"agent\":";
      client::AppendJsonString(&names_, agent);
      names_ += ",\"channel\":";
      client::AppendJsonString(&names_, ToString(d.channel));
      names_ += ",\"class\":";
      client::AppendJsonString(&names_, op_class);
      names_ += ",\"cwd\":";
      client::AppendJsonString(&names_, d.cwd);
      names_ += ",\"decided_ms\":";
    }
    if (!outcome_made_ || d.decision != decision_ || d.forwarded != forwarded_) {
      outcome_made_ = true;
      decision_ = d.decision;
      forwarded_ = d.forwarded;
      outcome_ = ",\"decision\":";
      client::AppendJsonString(&outcome_, ToString(d.decision));
      outcome_ +=
          d.forwarded ? ",\"forwarded\":true,\"input\":" : ",\"forwarded\":false,\"input\":";
    }
    return valid_;
  }
  // "agent" to "decided_ms", its value to follow.
  std::string_view names() const { return names_; }
  // "decision" to "input", its value to follow.
  std::string_view outcome() const { return outcome_; }

 private:
  bool made_ = false, valid_ = false, outcome_made_ = false;
  std::string_view agent_, op_class_, cwd_;  // point into the batch, which outlives this
  Channel channel_ = Channel::kSql;
  Decision decision_ = Decision::kAllow;
  bool forwarded_ = false;
  std::string names_, outcome_;
};

// Appends the canonical text of ItemFields(d) (what base::JsonDump makes of
// it) to `out`, or returns false, appending nothing, when a text is not
// valid UTF-8 (that item goes the general way). `shared` keeps what the
// previous item's fields had.
bool AppendCanonicalItem(const Reported& d, SharedFields& shared, std::string* out) {
  const std::string_view agent = d.agent.empty() ? "unknown" : d.agent;
  const std::string_view op_class = d.op_class.empty() ? "none" : d.op_class;
  if (!shared.For(d, agent, op_class)) return false;
  // Most texts hold nothing to redact: used as they are, not copied.
  const std::optional<std::string> redacted_input = base::RedactSecretsIfAny(d.input);
  const std::string_view input = redacted_input ? std::string_view(*redacted_input) : d.input;
  std::optional<std::string> redacted_reason;
  if (!d.reason.empty()) redacted_reason = base::RedactSecretsIfAny(d.reason);
  const std::string_view reason = redacted_reason ? std::string_view(*redacted_reason) : d.reason;
  if (!base::IsValidUtf8(input) || !base::IsValidUtf8(reason)) return false;
  // In key order (std::map's, as JsonDump writes them).
  if (d.added_us >= 0) {
    out->append("{\"added_us\":");
    AppendNumber(out, d.added_us);
    out->push_back(',');
  } else {
    out->push_back('{');
  }
  out->append(shared.names());
  AppendNumber(out, d.time_ms);
  out->append(shared.outcome());
  client::AppendJsonString(out, input);
  if (!reason.empty()) {
    out->append(",\"reason\":");
    client::AppendJsonString(out, reason);
  }
  out->push_back('}');
  return true;
}

// An entry holds decisions up to about this many bytes of text: a batch of
// long statements becomes a few entries, so that no line of the log grows
// past what its readers hold at once.
constexpr std::size_t kEntryBytes = 256 * 1024;

// Records `decisions` (one sender's batch) as "decisions" entries, with one
// write; returns how many decisions were written (whole entries: a prefix).
std::size_t RecordDecisions(Core& core, const Peer& peer, std::span<const Reported> decisions) {
  if (decisions.empty()) return 0;
  const std::int64_t now = Core::NowMs();
  const json peer_json = peer.ToJson();
  std::string tail = "],\"peer\":" + base::JsonDump(peer_json) + ",\"source\":";
  client::AppendJsonString(&tail, decisions.front().source);
  tail += ",\"time_ms\":";
  AppendNumber(&tail, now);
  tail += "}";
  std::vector<audit::Record> entries;
  std::vector<std::size_t> ends;  // decisions up to the end of each entry
  SharedFields shared;
  for (std::size_t i = 0; i < decisions.size(); ++i) {
    if (entries.empty() || entries.back().fields.size() >= kEntryBytes) {
      if (!entries.empty()) {
        entries.back().fields += tail;
        ends.push_back(i);
      }
      entries.push_back(audit::Record{"decisions", "{\"decisions\":[", /*canonical=*/true});
      entries.back().fields.reserve(std::min<std::size_t>(kEntryBytes, 256 * decisions.size()) +
                                    tail.size() + 64);
    }
    std::string& text = entries.back().fields;
    if (text.back() != '[') text.push_back(',');
    if (!AppendCanonicalItem(decisions[i], shared, &text))
      text += base::JsonDump(ItemFields(decisions[i]));
  }
  entries.back().fields += tail;
  ends.push_back(decisions.size());

  const auto started = std::chrono::steady_clock::now();
  std::size_t entries_written = 0;
  const Status appended =
      core.log().AppendAll(entries, &entries_written, audit::Log::Durability::kWritten);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::size_t recorded = entries_written == 0 ? 0 : ends[entries_written - 1];
  // The batch's time, once: a histogram of per-record write latency would
  // count one write as many.
  core.metrics().ObserveAuditWrite(seconds, recorded > 0);
  // Counted a run of alike decisions at a time (a proxy's batch is mostly
  // one or two runs: its reads).
  std::vector<std::int64_t> added;
  for (std::size_t i = 0; i < recorded;) {
    const Reported& d = decisions[i];
    const bool rate_limited = d.reason.starts_with("rate limit:");
    added.clear();
    std::size_t j = i;
    for (; j < recorded; ++j) {
      const Reported& e = decisions[j];
      if (e.channel != d.channel || e.decision != d.decision || e.forwarded != d.forwarded ||
          e.op_class != d.op_class || e.reason.starts_with("rate limit:") != rate_limited)
        break;
      added.push_back(e.added_us);
    }
    core.metrics().OnDecisions(d.source, ToString(d.channel), d.op_class, ToString(d.decision),
                               d.reason, d.forwarded, added);
    i = j;
  }
  const bool heard = core.Heard("decision");
  for (std::size_t i = 0; heard && i < recorded; ++i) {
    // Listeners get each decision as audit::Read gives it back.
    json fields = ItemFields(decisions[i]);
    fields["source"] = std::string(decisions[i].source);
    fields["peer"] = peer_json;
    fields["time_ms"] = now;
    core.Announce("decision", fields);
  }
  if (recorded < decisions.size()) {
    if (recorded > 0) core.metrics().ObserveAuditWrite(seconds, false);
    core.ReportAppendFailure("decisions", appended.message());
  }
  return recorded;
}

// Where each sender's numbered stream stands in the log (client/protocol.h,
// ReportRequest): a batch sent again after its reply was lost is not
// written twice. Keyed by the peer's uid and pid as well as the sender's
// name, so that another process cannot move a proxy's mark (and so have its
// decisions skipped). Kept in memory: a resend that straddles a restart of
// the daemon is written again (twice, never lost).
class SenderMarks {
 public:
  struct Mark {
    std::uint64_t next = 0;  // the number of the first decision not yet written
    std::uint64_t lost_next = 0;
    std::uint64_t lost_destructive_next = 0;
    std::int64_t seen_ms = 0;
  };
  // Held while one batch of a sender is written, so that a resend on a new
  // connection waits for the first attempt to finish.
  std::unique_lock<std::mutex> Lock() { return std::unique_lock(mu_); }
  // The mark of `sender` from `peer` (a new one at 0); the lock must be held.
  Mark& Of(const Peer& peer, const std::string& sender, std::int64_t now_ms) {
    const std::string key =
        std::to_string(peer.uid) + ":" + std::to_string(peer.pid) + ":" + sender;
    if (marks_.size() >= kMaxSenders && marks_.find(key) == marks_.end()) {
      // The one heard from least recently goes (a proxy that exited).
      auto oldest = marks_.begin();
      for (auto it = marks_.begin(); it != marks_.end(); ++it)
        if (it->second.seen_ms < oldest->second.seen_ms) oldest = it;
      marks_.erase(oldest);
    }
    Mark& mark = marks_[key];
    mark.seen_ms = now_ms;
    return mark;
  }

 private:
  static constexpr std::size_t kMaxSenders = 4096;
  std::mutex mu_;
  std::map<std::string, Mark> marks_;
};

// The batch's decisions: "decisions" objects (an older sender), then the
// "packed" ones. Their texts point into `request`, `body` and `storage`.
Status ReadDecisions(const json& body, const client::ReportRequest& request,
                     std::string_view source, std::vector<client::PackedDecision>* storage,
                     std::vector<Reported>* decisions, bool* packed_batch) {
  decisions->reserve(request.decisions.size());
  for (const client::ReportedDecision& d : request.decisions)
    decisions->emplace_back(source, client::ViewOf(d));
  auto packed = body.find("packed");
  *packed_batch = packed != body.end();
  if (!*packed_batch) return Status::Ok();
  std::uint64_t count = 0;
  if (auto c = body.find("count"); c != body.end() && c->is_number_unsigned())
    count = c->get<std::uint64_t>();
  // A packed decision takes more than 20 bytes.
  if (!packed->is_string() || count > packed->get_ref<const std::string&>().size() / 20)
    return Status::InvalidArgument("\"packed\" is a string and \"count\" its decisions");
  std::string_view rest = packed->get_ref<const std::string&>();
  storage->resize(count);
  for (client::PackedDecision& d : *storage)
    if (Status s = client::NextPacked(&rest, &d); !s.ok()) return s;
  if (!rest.empty())
    return Status::InvalidArgument("\"packed\" holds more than \"count\" decisions");
  decisions->reserve(decisions->size() + storage->size());
  for (const client::PackedDecision& d : *storage) decisions->emplace_back(source, d);
  return Status::Ok();
}

// Records the gaps not recorded before (in part: the rest); false when one
// could not be written. Each recorded or skipped gap counts in `recorded`.
bool RecordGaps(Core& core, const Peer& peer, std::string_view source,
                const std::vector<client::ReportGap>& gaps, SenderMarks::Mark* mark,
                std::uint64_t* recorded) {
  std::string error;
  for (client::ReportGap g : gaps) {
    const std::uint64_t end = g.first_lost + g.lost;
    const std::uint64_t destructive_end = g.first_lost_destructive + g.lost_destructive;
    if (end <= mark->lost_next) {  // recorded already
      ++*recorded;
      continue;
    }
    if (g.first_lost < mark->lost_next) {  // in part: the rest
      g.lost = end - mark->lost_next;
      g.lost_destructive = destructive_end > mark->lost_destructive_next
                               ? destructive_end - mark->lost_destructive_next
                               : 0;
    }
    json fields{{"source", std::string(source)},
                {"lost", g.lost},
                {"lost_destructive", g.lost_destructive},
                {"from_ms", g.from_ms},
                {"to_ms", g.to_ms}};
    client::PutText(fields, "reason", g.reason);
    if (!core.Record("audit_gap", std::move(fields), &peer, audit::Log::Durability::kSynced,
                     &error))
      return false;
    mark->lost_next = end;
    mark->lost_destructive_next = std::max(mark->lost_destructive_next, destructive_end);
    ++*recorded;
  }
  return true;
}

Result<json> HandleReport(Core& core, SenderMarks& marks, const Peer& peer, const json& body) {
  // An HTTP caller has no credentials to record beside what it claims.
  if (peer.via == Peer::Via::kHttp)
    return Status::PermissionDenied("report is served on the Unix socket only");
  client::ReportRequest request;
  if (Status s = client::FromJson(body, &request); !s.ok()) return s;
  const std::string source = base::ToValidUtf8(request.source);
  client::ReportReply reply;
  std::vector<client::PackedDecision> storage;
  std::vector<Reported> decisions;
  if (Status s = ReadDecisions(body, request, source, &storage, &decisions, &reply.packed); !s.ok())
    return s;
  std::unique_lock<std::mutex> held;
  SenderMarks::Mark unnamed;  // a sender without a name: nothing to skip
  SenderMarks::Mark* mark = &unnamed;
  if (!request.sender.empty()) {
    held = marks.Lock();
    mark = &marks.Of(peer, request.sender, Core::NowMs());
  }
  // What this sender sent before and the log has: skipped, counted.
  std::size_t skip = 0;
  if (request.first < mark->next)
    skip = static_cast<std::size_t>(
        std::min<std::uint64_t>(mark->next - request.first, decisions.size()));
  // One write for the batch; what was not written stays with the sender.
  const std::size_t written =
      RecordDecisions(core, peer, std::span<const Reported>(decisions).subspan(skip));
  reply.recorded = skip + written;
  mark->next = std::max(mark->next, request.first + reply.recorded);
  if (reply.recorded == decisions.size())
    RecordGaps(core, peer, source, request.gaps, mark, &reply.recorded);
  return client::ToJson(reply);
}

}  // namespace

void AddReportOps(Dispatcher& dispatcher, Core& core) {
  auto marks = std::make_shared<SenderMarks>();
  dispatcher.Add(client::kOpReport, [&core, marks](const Peer& peer, const json& body) {
    return HandleReport(core, *marks, peer, body);
  });
}

}  // namespace dualkey::daemon::internal
