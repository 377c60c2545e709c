// What happens to each statement: the verdict from the caches or the
// classifier, the blast-radius estimate of bounded writes, catalog facts and
// small snapshots for held ones (session_facts.cc), the daemon for the rest,
// and the DO block that raises the error in place of a held statement.
#include <cctype>
#include <cinttypes>

#include "guard/guard.h"
#include "proxy/pg/internal/session.h"
#include "proxy/pg/internal/sql_text.h"

namespace dualkey::pgproxy {
namespace {

// A literal safe inside a PL/pgSQL string whatever standard_conforming_strings
// and client_encoding say: no backslashes, quotes doubled, no control
// characters, no '$', and ASCII only (the DO block is read in the client's
// encoding; a non-ASCII character could be invalid there and turn the held
// statement's error into another). Each non-ASCII character becomes '?'.
std::string PlainLiteral(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\'') {
      out += "''";
    } else if (c == '\\') {
      out.push_back('/');
    } else if (c == '$') {
      out.push_back('S');
    } else if (u < 0x20 || u == 0x7f) {
      out.push_back(' ');
    } else if (u >= 0x80) {
      if (u >= 0xC0 || (u < 0xC0 && out.back() != '?')) out.push_back('?');
    } else {
      out.push_back(c);
    }
    if (out.size() > 4000) break;
  }
  return out + "'";
}

std::string RaiseSql(const char* code, std::string_view message, std::string_view hint) {
  return "DO $dualkey$BEGIN RAISE EXCEPTION USING ERRCODE = '" + std::string(code) +
         "', MESSAGE = " + PlainLiteral(message) + ", HINT = " + PlainLiteral(hint) +
         "; END$dualkey$";
}

bool HasClass(const Verdict& verdict, std::string_view op_class) {
  for (const Action& a : verdict.actions)
    if (a.op_class == op_class) return true;
  return false;
}

// The first `n` words of a statement, lower case (quoted names keep their
// case): enough to tell PREPARE name / DEALLOCATE name apart.
std::vector<std::string> FirstWords(std::string_view statement, std::size_t n) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (words.size() < n && i < statement.size()) {
    while (i < statement.size() && std::isspace(static_cast<unsigned char>(statement[i]))) ++i;
    if (i >= statement.size()) break;
    std::string word;
    if (statement[i] == '"') {
      for (++i; i < statement.size(); ++i) {
        if (statement[i] == '"' && i + 1 < statement.size() && statement[i + 1] == '"') {
          word.push_back('"');
          ++i;
        } else if (statement[i] == '"') {
          ++i;
          break;
        } else {
          word.push_back(statement[i]);
        }
      }
    } else {
      while (i < statement.size() && (std::isalnum(static_cast<unsigned char>(statement[i])) ||
                                      statement[i] == '_' || statement[i] == '$'))
        word.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(statement[i++]))));
      if (word.empty()) break;
    }
    words.push_back(std::move(word));
  }
  return words;
}

bool ContainsWord(std::string_view text, std::string_view lower_word) {
  for (std::size_t i = 0; i + lower_word.size() <= text.size(); ++i) {
    bool match = true;
    for (std::size_t k = 0; k < lower_word.size() && match; ++k)
      match = std::tolower(static_cast<unsigned char>(text[i + k])) == lower_word[k];
    if (match) return true;
  }
  return false;
}

}  // namespace

std::string Thousands(std::int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return n < 0 ? "-" + out : out;
}

bool OnlyReads(const Verdict& verdict) {
  if (verdict.Enforced() != Decision::kAllow) return false;
  for (const Action& a : verdict.actions)
    if (a.op_class != "read.only") return false;
  return true;
}

bool Session::ForwardsNow(std::string_view raw,
                          const std::vector<std::int32_t>* /*parameter_types*/) {
  if (HasEncodingDependentEscape(raw)) return false;
  const auto started = std::chrono::steady_clock::now();
  // The statement as the classifier reads it (sql_text.h): valid UTF-8.
  std::string storage;
  const std::string_view sql = SqlForClassification(raw, &storage);
  const Verdict* verdict = &Classify(sql);
  if (verdict->Enforced() != Decision::kAllow && !prepared_.empty()) {
    // EXECUTE of a statement this session prepared: judged by what it runs.
    const std::string combined = WithPrepared(sql);
    if (!combined.empty()) verdict = &Classify(combined);
  }
  const bool now = verdict->Enforced() == Decision::kAllow &&
                   !(BlastRadiusOn() && HasClass(*verdict, "db.write.bounded"));
  if (now && (HasClass(*verdict, "db.prepare") || HasClass(*verdict, "db.session")))
    RememberPrepared(sql);
  if (now) {
    const auto added = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started);
    if (!ReportLocal(sql, *verdict, Decision::kAllow, /*forwarded=*/true, added.count())) {
      audit_refused_ = true;  // Decide holds it
      return false;
    }
  }
  return now;
}

bool Session::ReportLocal(std::string_view sql, const Verdict& verdict, Decision decision,
                          bool forwarded, std::int64_t added_us, const std::string& reason) {
  if (!shared_.reporter) return true;
  return shared_.reporter->ReportLocal({Channel::kSql, sql, cwd_, agent_}, verdict, decision,
                                       forwarded, added_us, reason);
}

void Session::RememberPrepared(std::string_view sql) {
  constexpr std::size_t kMaxPrepared = 256;
  for (const sql::StatementShape& shape : sql::AnalyseStatements(sql)) {
    std::vector<std::string> words = FirstWords(shape.text, 3);
    if (words.empty()) continue;
    if (words[0] == "prepare" && words.size() > 1) {
      if (prepared_.size() < kMaxPrepared || prepared_.count(words[1]) > 0)
        prepared_[words[1]] = shape.text;
    } else if (words[0] == "deallocate" && words.size() > 1) {
      const std::string& name = words[1] == "prepare" && words.size() > 2 ? words[2] : words[1];
      if (name == "all")
        prepared_.clear();
      else
        prepared_.erase(name);
    } else if (words[0] == "discard" && words.size() > 1 && words[1] == "all") {
      prepared_.clear();
    }
  }
}

std::string Session::WithPrepared(std::string_view sql) const {
  if (!ContainsWord(sql, "execute")) return {};
  std::string combined;
  for (const auto& [name, statement] : prepared_) combined += statement + ";\n";
  return combined + std::string(sql);
}

// --- deciding ------------------------------------------------------------
// (Built outside the coroutines: GCC 12 miscompiles braced lists in them.)
client::ActionRef Session::ActionOf(std::string_view sql) const {
  client::ActionRef action;
  action.channel = Channel::kSql;
  action.input = std::string(sql);
  action.cwd = cwd_;
  action.agent = agent_;
  return action;
}

client::CheckRequest Session::CheckRequest(std::string_view sql, const std::string& detail) const {
  // defer_consume: an approved statement's approval is used up only after
  // the snapshot of what it destroys is saved (ConsumeRequest).
  client::CheckRequest request;
  request.action = ActionOf(sql);
  request.defer_consume = true;
  if (!detail.empty()) {
    request.min_decision = Decision::kHold;
    request.detail = base::ToValidUtf8(detail);  // may quote the database's errors
  }
  return request;
}

client::ConsumeRequest Session::ConsumeRequest(std::string_view sql,
                                               const std::string& snapshot_id) const {
  client::ConsumeRequest request;
  request.action = ActionOf(sql);
  request.snapshot_id = snapshot_id;
  return request;
}

client::CheckRequest Session::AllowedRequest(std::string_view sql, const FactOutcome& facts) const {
  client::CheckRequest request = CheckRequest(sql, "");
  request.allowed_by.fact = facts.fact;
  request.allowed_by.snapshot_id = facts.snapshot_id;
  request.allowed_by.measured = facts.measured;
  return request;
}

void Session::LogEvent(const std::string& event, const std::string& statement,
                       const std::string& key, const std::string& value,
                       const std::string& approval_id) {
  shared_.Log({{"event", event},
               {"session", id_},
               {"agent", agent_},
               {"database", database_},
               {key, value},
               {"approval_id", approval_id},
               {"statement", statement.substr(0, 2000)}});
}

// Allowed here after a closer look (under the blast-radius thresholds):
// reported, or held when a destructive one cannot be recorded.
Session::Outcome Session::AllowedHere(std::string_view sql, const Verdict& verdict) {
  if (ReportLocal(sql, verdict, Decision::kAllow, /*forwarded=*/true, -1)) return Outcome{};
  const std::string why =
      "dualkey held this statement: the policy allows it, but its decision cannot be recorded in "
      "the audit log now (the daemon is unreachable or the audit queue is full)";
  ReportLocal(sql, verdict, Decision::kHold, /*forwarded=*/false, -1, why);
  return Hold(kHeldCode, why,
              "Start `dualkey serve` (or wait for it) and send the statement again.");
}

Session::Outcome Session::Hold(const char* code, const std::string& message,
                               const std::string& hint) {
  Outcome o;
  o.forward = false;
  o.raise_sql = RaiseSql(code, message, hint);
  return o;
}

bool Session::BlastRadiusOn() const {
  return shared_.options.hold_rows_over > 0 || shared_.options.hold_fraction_over > 0;
}

// The verdict of a statement: from the caches (the exact text, or a plain
// SELECT's shape: "... WHERE aid = 7" and "... aid = 48211" share one), or
// classified now and cached. Valid until the next call.
const Verdict& Session::Classify(std::string_view sql) {
  if (const Verdict* cached = cache_.Find(sql, 0)) return *cached;
  const std::string shape = sql::ReadShapeKey(sql);
  if (!shape.empty()) {
    const Verdict* same_shape = shape_cache_.Find(shape, 0);
    if (same_shape != nullptr && OnlyReads(*same_shape)) return *same_shape;
  }
  guard::Request request;
  request.channel = Channel::kSql;
  request.input = std::string(sql);
  request.cwd = cwd_;
  request.agent = agent_;
  uncached_ = guard::Check(request, shared_.policy).verdict;
  if (!shape.empty() && OnlyReads(uncached_)) {
    if (shape_cache_.Insert(shape, 0, uncached_)) return *shape_cache_.Find(shape, 0);
  } else if (cache_.Insert(sql, 0, uncached_)) {
    return *cache_.Find(sql, 0);
  }
  return uncached_;
}

Task<Session::Outcome> Session::Decide(std::string_view raw,
                                       const std::vector<std::int32_t>* parameter_types) {
  const bool blast = BlastRadiusOn();
  // From here on, the statement as the classifier reads it (sql_text.h):
  // what the daemon is asked about, approves and audits.
  std::string storage;
  const std::string_view statement = SqlForClassification(raw, &storage);
  // EXECUTE of a statement this session prepared is judged, and shown to
  // the human, with its PREPARE.
  std::string combined;
  if (!prepared_.empty() && Classify(statement).Enforced() != Decision::kAllow)
    combined = WithPrepared(statement);
  const std::string_view sql = combined.empty() ? statement : std::string_view(combined);
  // Read as Latin-1, here or in the PREPARE it runs (a marker anywhere only
  // costs a question: that is the safe side).
  const bool reread = WasReread(raw, statement) ||
                      (!combined.empty() && combined.find(kLatin1Marker) != std::string::npos);
  const Verdict verdict = Classify(sql);  // a copy: what follows awaits
  if (audit_refused_) {
    audit_refused_ = false;
    const std::string why =
        "dualkey held this statement: the policy allows it, but its decision cannot be recorded "
        "in the audit log now (the daemon is unreachable or the audit queue is full); reads "
        "still run";
    ReportLocal(sql, verdict, Decision::kHold, /*forwarded=*/false, -1, why);
    co_return Hold(kHeldCode, why,
                   "Start `dualkey serve` (or wait for it) and send the statement again.");
  }
  std::string detail;
  std::vector<sql::StatementShape> shapes;
  bool over_threshold = false;
  if (HasEncodingDependentEscape(raw)) {
    over_threshold = true;
    detail =
        "a non-ASCII byte right before a backslash and a quote reads differently under the "
        "SJIS, BIG5, GBK, UHC, GB18030 and JOHAB client encodings, so dualkey cannot tell "
        "where its strings end";
  } else if (verdict.Enforced() == Decision::kAllow && reread && blast &&
             HasClass(verdict, "db.write.bounded")) {
    over_threshold = true;
    detail = "the statement is not UTF-8, so the rows it touches cannot be estimated";
  } else if (verdict.Enforced() == Decision::kAllow) {
    if (!(blast && HasClass(verdict, "db.write.bounded"))) co_return AllowedHere(sql, verdict);
    shapes = sql::AnalyseStatements(sql);
    for (const sql::StatementShape& shape : shapes) {
      if (shape.kind != sql::StatementShape::Kind::kDelete &&
          shape.kind != sql::StatementShape::Kind::kUpdate)
        continue;
      std::string estimate_detail;
      bool over = false;
      co_await EstimateRows(shape, parameter_types, &estimate_detail, &over);
      if (over) {
        over_threshold = true;
        detail += (detail.empty() ? "" : "; ") + estimate_detail;
      }
    }
    if (!over_threshold) co_return AllowedHere(sql, verdict);
  }

  // Held: first the facts. A statement that destroys nothing, or little
  // enough that a snapshot stands in for the human, runs without one and
  // without counting toward the breaker; the daemon audits what allowed it.
  // Not for a statement that is not UTF-8: the checks would be sent as
  // UTF-8 and could ask about other names and rows than the server's.
  FactOutcome facts;
  if (!over_threshold && verdict.decision == Decision::kHold && !verdict.observe_only) {
    if (reread)
      facts.detail =
          "the statement is not UTF-8, so no catalog fact or snapshot stands in for a human";
    else
      facts = co_await EstablishFacts(sql, verdict);
  }
  if (closed_) co_return Hold(kHeldCode, "dualkey closed the session", "");
  client::CheckRequest request = facts.kind != FactOutcome::Kind::kNone
                                     ? AllowedRequest(sql, facts)
                                     : CheckRequest(sql, over_threshold ? detail : facts.detail);
  const std::string socket = shared_.daemon.socket_path();
  // (No structured bindings over co_await: GCC 12 destroys them twice.)
  DaemonAnswer answer = co_await AskDaemon(std::move(request));
  if (!answer.first) {
    const std::string why =
        "dualkey held this statement: the dualkey daemon could not be reached (" + answer.second +
        ")";
    ReportLocal(sql, verdict, Decision::kHold, /*forwarded=*/false, -1, why);
    co_return Hold(kHeldCode, why,
                   "Start `dualkey serve` (socket " + socket + ") and send the statement again.");
  }
  const client::CheckReply& reply = *answer.first;
  LogEvent("decision", std::string(sql), "decision", std::string(ToString(reply.decision)),
           reply.approval_id);
  if (reply.decision == Decision::kAllow) {
    Outcome o;
    if (facts.kind != FactOutcome::Kind::kNone) {
      o.by_fact = true;
      LogEvent("allowed", std::string(sql), facts.snapshot_id.empty() ? "fact" : "snapshot_id",
               facts.snapshot_id.empty() ? facts.fact : facts.snapshot_id, "");
    }
    co_return o;
  }
  if (reply.approval_ready) {
    // Approved: save what it destroys, then use the approval up. A failed
    // save leaves the approval for the next try.
    const std::string approval_id = reply.approval_id;
    if (shapes.empty()) shapes = sql::AnalyseStatements(sql);
    std::string snapshot_error;
    std::optional<std::string> snapshot_id;
    if (reread) ShapesOfBytes(&shapes, &snapshot_error);
    if (snapshot_error.empty())
      snapshot_id = co_await Snapshot(shapes, std::string(sql), approval_id, &snapshot_error);
    if (!snapshot_id && !snapshot_error.empty()) {
      shared_.Say("session " + std::to_string(id_) + ": snapshot failed: " + snapshot_error);
      co_return Hold(
          kHeldCode,
          "dualkey held this approved statement: the snapshot of what it destroys "
          "failed (" +
              snapshot_error + "); it did not run",
          "Fix the cause and send the statement again; approval " + approval_id + " still stands.");
    }
    DaemonAnswer used = co_await ConsumeOnDaemon(ConsumeRequest(sql, snapshot_id.value_or("")));
    if (!used.first || used.first->decision != Decision::kAllow)
      co_return Hold(kHeldCode,
                     "dualkey held this approved statement: the approval could not be used (" +
                         (used.first ? used.first->reason : used.second) + ")",
                     "Ask for a new approval: send the statement again.");
    LogEvent("consumed", std::string(sql), "snapshot_id", snapshot_id.value_or(""), approval_id);
    Outcome o;
    o.approved = true;
    co_return o;
  }
  co_return HeldByDaemon(reply, verdict.reason);
}

Session::Outcome Session::HeldByDaemon(const client::CheckReply& reply,
                                       const std::string& fallback_reason) {
  const std::string reason = reply.reason.empty() ? fallback_reason : reply.reason;
  const std::string& id = reply.approval_id;
  if (reply.decision == Decision::kDeny)
    return Hold(kDeniedCode, "dualkey denied this statement: " + reason,
                "A human decided or the policy denies it; do not retry unchanged.");
  if (reply.frozen)
    return Hold(kHeldCode, "dualkey held this statement: " + reason,
                "A human must reset the breaker (dualkey breaker reset " + agent_ +
                    "; see dualkey breaker status); then send the statement again.");
  if (id.empty())
    return Hold(kHeldCode, "dualkey held this statement: " + reason,
                "Nothing can be approved until the cause is fixed; then send it again.");
  std::string message = "dualkey held this statement for approval " + id;
  if (!reply.code.empty()) message += " (code " + reply.code + ")";
  message += ": " + reason + ". A human must run: dualkey approve " + id;
  return Hold(kHeldCode, message,
              "After the approval, send the identical statement again on this token; it then "
              "runs once.");
}

void Session::ShapesOfBytes(std::vector<sql::StatementShape>* shapes, std::string* error) {
  for (sql::StatementShape& shape : *shapes) {
    if (shape.kind == sql::StatementShape::Kind::kOther ||
        shape.kind == sql::StatementShape::Kind::kDropOther)
      continue;
    for (const std::string& name : shape.objects) {
      for (char c : name) {
        if (static_cast<unsigned char>(c) >= 0x80) {
          *error = "the statement is not UTF-8 and names " + base::ToValidUtf8(name) +
                   ", which dualkey cannot look up as the server would; send it as UTF-8";
          return;
        }
      }
    }
    shape.complex = true;
  }
}

SideConnection& Session::Side() {
  if (!side_)
    side_ =
        std::make_unique<SideConnection>(shared_.options.upstream, shared_.upstream_tls, database_);
  return *side_;
}

std::optional<std::int64_t> Session::Number(const SideConnection::Result& r) {
  if (!r.error.empty() || r.rows.empty() || r.rows[0].empty() || !r.rows[0][0]) return std::nullopt;
  try {
    return static_cast<std::int64_t>(std::stod(*r.rows[0][0]));
  } catch (...) {
    return std::nullopt;
  }
}

// Rows a DELETE/UPDATE touches: the planner's estimate, or an exact count
// where the table is small. Any failure counts as over the threshold (fail
// closed) with the reason in the detail.
Task<void> Session::EstimateRows(const sql::StatementShape& shape,
                                 const std::vector<std::int32_t>* parameter_types,
                                 std::string* detail, bool* over) {
  const Options& o = shared_.options;
  const char* verb = shape.kind == sql::StatementShape::Kind::kDelete ? "deletes" : "updates";
  try {
    SideConnection& side = Side();
    std::string explain;
    if (shape.has_parameters) {
      // A generic plan: PostgreSQL 16 has EXPLAIN (GENERIC_PLAN); before,
      // a prepared statement with plan_cache_mode = force_generic_plan.
      const std::string ping = "SELECT 1";
      co_await side.Query(ping);
      if (side.server_version_num() >= 160000) {
        explain = "EXPLAIN (FORMAT JSON, VERBOSE, GENERIC_PLAN) " + shape.text;
      } else {
        std::vector<std::int32_t> types;
        std::vector<std::int32_t> given;
        if (parameter_types) given = *parameter_types;
        SideConnection::Result described = co_await side.Describe(shape.text, given, &types);
        if (!described.error.empty()) throw std::runtime_error(described.error);
        std::string type_list, nulls;
        for (std::size_t i = 0; i < types.size(); ++i) {
          const std::string format = "SELECT format_type(" + std::to_string(types[i]) + ", NULL)";
          SideConnection::Result name = co_await side.Query(format);
          if (!name.error.empty() || name.rows.empty() || !name.rows[0][0])
            throw std::runtime_error("unknown parameter type");
          type_list += (i ? "," : "") + *name.rows[0][0];
          nulls += std::string(i ? "," : "") + "NULL";
        }
        std::string prepare =
            "DEALLOCATE ALL; SET plan_cache_mode = force_generic_plan; PREPARE dualkey_estimate";
        if (!type_list.empty()) prepare += "(" + type_list + ")";
        prepare += " AS " + shape.text;
        SideConnection::Result prepared = co_await side.Query(prepare);
        if (!prepared.error.empty()) throw std::runtime_error(prepared.error);
        explain = "EXPLAIN (FORMAT JSON, VERBOSE) EXECUTE dualkey_estimate" +
                  (nulls.empty() ? "" : "(" + nulls + ")");
      }
    } else {
      explain = "EXPLAIN (FORMAT JSON, VERBOSE) " + shape.text;
    }
    SideConnection::Result plan = co_await side.Query(explain);
    if (shape.has_parameters && side.server_version_num() < 160000) {
      const std::string reset = "DEALLOCATE ALL; RESET plan_cache_mode";
      co_await side.Query(reset);
    }
    if (!plan.error.empty() || plan.rows.empty() || !plan.rows[0][0])
      throw std::runtime_error(plan.error.empty() ? "no plan" : plan.error);
    json doc = json::parse(*plan.rows[0][0], nullptr, false);
    if (doc.is_discarded() || !doc.is_array() || doc.empty())
      throw std::runtime_error("unreadable plan");
    const json& top = doc[0]["Plan"];
    std::int64_t rows = 0;
    if (top.contains("Plans") && top["Plans"].is_array() && !top["Plans"].empty())
      rows = top["Plans"][0].value("Plan Rows", std::int64_t{0});
    else
      rows = top.value("Plan Rows", std::int64_t{0});
    const std::string schema = top.value("Schema", "");
    const std::string relation = top.value("Relation Name", "");
    const std::string qualified = schema.empty() ? relation : schema + "." + relation;
    std::int64_t table_rows = -1;
    bool exact = false;
    if (!relation.empty()) {
      // A table's size is asked at most once a second per session: a write
      // workload would otherwise pay two more round trips per statement.
      const auto now = std::chrono::steady_clock::now();
      TableSize& known = table_sizes_[qualified];
      if (now - known.measured > kTableSizeTtl) {
        known = TableSize{};
        const std::string size_sql =
            "SELECT c.reltuples::bigint, pg_relation_size(c.oid) / 8192 FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = " +
            sql::SqlLiteral(schema) + " AND c.relname = " + sql::SqlLiteral(relation);
        SideConnection::Result size = co_await side.Query(size_sql);
        if (size.error.empty() && !size.rows.empty() && size.rows[0].size() == 2 &&
            size.rows[0][0] && size.rows[0][1]) {
          known.reltuples = std::stoll(*size.rows[0][0]);
          known.pages = std::stoll(*size.rows[0][1]);
        }
        const bool small = known.reltuples >= 0 ? known.reltuples < o.exact_count_under
                                                : known.pages * 100 < o.exact_count_under;
        if (small && o.exact_count_under > 0) {
          const std::string target =
              sql::SqlIdentifier(schema) + "." + sql::SqlIdentifier(relation);
          const std::string count_all = "SELECT count(*) FROM " + target;
          SideConnection::Result all = co_await side.Query(count_all);
          if (auto n = Number(all)) known.counted = *n;
        }
        known.measured = now;
      }
      table_rows = known.counted >= 0 ? known.counted : known.reltuples;
      // A table too small for either threshold needs no exact count of
      // what the statement touches: it cannot be over.
      // A DELETE whose condition matches every row of a small table is as
      // destructive as one without WHERE (`WHERE taken_at < '2999-01-01'`),
      // which the classifier holds at any size: counted exactly, too.
      const bool every_row_matters =
          shape.kind == sql::StatementShape::Kind::kDelete && known.counted >= 2;
      const bool could_be_over =
          known.counted < 0 || (o.hold_rows_over > 0 && known.counted > o.hold_rows_over) ||
          (o.hold_fraction_over > 0 && known.counted >= 100) || every_row_matters;
      if (known.counted >= 0 && could_be_over) {
        if (!shape.has_parameters && !shape.complex) {
          std::string count = "SELECT count(*) FROM " + shape.objects.at(0) +
                              (shape.alias.empty() ? "" : " " + shape.alias) +
                              (shape.where.empty() ? "" : " WHERE " + shape.where);
          SideConnection::Result counted = co_await side.Query(count);
          if (auto n = Number(counted)) {
            rows = *n;
            exact = true;
          }
        }
      } else if (known.counted >= 0) {
        rows = std::min(rows, known.counted);  // the planner may guess more than there is
      }
    }
    const bool over_rows = o.hold_rows_over > 0 && rows > o.hold_rows_over;
    const bool over_fraction =
        o.hold_fraction_over > 0 && rows >= 100 && table_rows > 0 &&
        static_cast<double>(rows) > o.hold_fraction_over * static_cast<double>(table_rows);
    const bool every_row = exact && shape.kind == sql::StatementShape::Kind::kDelete &&
                           table_rows >= 2 && rows >= table_rows;
    *over = over_rows || over_fraction || every_row;
    *detail = std::string(verb) + (exact ? " " : " ~") + Thousands(rows) + " rows of " + qualified;
    if (table_rows > 0)
      *detail += " (of " + std::string(exact ? "" : "~") + Thousands(table_rows) + ")";
    if (shape.has_parameters) *detail += " (generic plan: parameters unknown)";
    if (every_row) *detail += ": its condition matches every row, as if it had no WHERE";
  } catch (const std::exception& e) {
    *over = true;
    *detail = std::string("could not estimate the rows it ") + verb + ": " + e.what();
    if (side_) side_->Close();
    side_.reset();
  }
}

}  // namespace dualkey::pgproxy
