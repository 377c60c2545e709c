// Blast radius on facts: before a held statement goes to a human, the
// proxy asks the catalog whether it destroys anything at all (the object a
// DROP names does not exist, the table a whole-table write empties is
// already empty), and, where the policy says "snapshot", whether what it
// destroys is small enough to save and run without a human.
//
// The checks run on the session's own server connection, between the
// client's statements, so they see what the statement will see: inside the
// client's transaction (a savepoint, rolled back), with its search_path and
// temporary tables. Where that cannot be done (the server still owes
// answers to an unfinished extended-protocol batch, the transaction is
// aborted, a statement before it in the same message changes what the
// checks would see) there is no fact, and the statement is held as before.
#include <cmath>
#include <set>

#include "proxy/pg/internal/facts.h"
#include "proxy/pg/internal/session.h"
#include "proxy/pg/internal/wire.h"

namespace dualkey::pgproxy {
namespace {

constexpr int kCheckStatementTimeoutMs = 5000;
constexpr int kCheckLockTimeoutMs = 2000;
constexpr auto kIdleDeadline = std::chrono::seconds(10);
// The checks time out on the server first; this is for a server that does
// not answer at all.
constexpr auto kOwnQueryDeadline = std::chrono::seconds(15);

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// Column names as the SET list and the catalog spell them (the SET list's
// unquoted names are folded to lower case by the server).
bool SameColumn(std::string_view written, std::string_view catalog) {
  return written == catalog || Lower(written) == catalog;
}

// One check (built here: GCC 12 miscompiles braced lists in coroutines).
std::vector<std::string> One(std::string check) {
  std::vector<std::string> out;
  out.push_back(std::move(check));
  return out;
}

const char* Verb(sql::StatementShape::Kind kind) {
  switch (kind) {
    case sql::StatementShape::Kind::kDelete:
      return "deletes";
    case sql::StatementShape::Kind::kUpdate:
      return "overwrites";
    case sql::StatementShape::Kind::kTruncate:
      return "truncates";
    default:
      return "destroys";
  }
}

std::string SnapshotKind(sql::StatementShape::Kind kind) {
  switch (kind) {
    case sql::StatementShape::Kind::kDelete:
      return "delete";
    case sql::StatementShape::Kind::kUpdate:
      return "update";
    case sql::StatementShape::Kind::kTruncate:
      return "truncate";
    default:
      return "other";
  }
}

// The names the checks ask about must be the names the server will act on.
// The classifier read the statement with PostgreSQL's own parser; the
// proxy's reading (statement.cc) must agree with it exactly.
bool SameNames(const Verdict& verdict, const sql::StatementShape& shape) {
  if (!shape.names_exact) return false;
  std::set<std::string> parsed, read;
  for (const Action& action : verdict.actions) {
    if (!IsDestructive(action)) continue;
    for (const std::string& target : action.targets)
      if (!target.starts_with("database:")) parsed.insert(target);
  }
  for (const std::string& object : shape.objects) {
    const std::string name =
        shape.kind == sql::StatementShape::Kind::kDropDatabase ? object : sql::DecodedName(object);
    if (name.empty()) return false;
    read.insert(name);
  }
  return !read.empty() && parsed == read;
}

// One statement of the message that needs a fact before it may run.
struct Item {
  const sql::StatementShape* shape = nullptr;
  bool drop = false;      // DROP: every object must be missing
  bool snapshot = false;  // a small snapshot may stand in for the human
  Event event = Event::kDelete;
  bool satisfied = false;  // a fact or a snapshot covers it
  std::vector<std::string> facts;
};

}  // namespace

// Wakes whoever waits (WaitIdle, Inject): each re-checks what it waits for.
void Session::NotifyIdle() {
  if (idle_waiter_ != nullptr) idle_waiter_->cancel();
}

Task<bool> Session::WaitIdle(std::string* why) {
  if (unsynced_extended_) {
    *why = "the server is in the middle of the client's extended-protocol batch";
    co_return false;
  }
  if (bind_of_unnamed_) {
    *why = "a query of its own would replace the unnamed statement the client binds";
    co_return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + kIdleDeadline;
  while (syncs_outstanding_ > 0 || server_mid_message_ || pending_injections_ > 0) {
    if (closed_) {
      *why = "the session closed";
      co_return false;
    }
    asio::steady_timer timer(strand_);
    timer.expires_at(deadline);
    idle_waiter_ = &timer;
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    idle_waiter_ = nullptr;
    if (!ec) {
      *why = "the session's earlier statements did not finish within 10 s";
      co_return false;
    }
  }
  co_return true;
}

Task<bool> Session::RunOwnQuery(const std::string& sql, OwnQuery* query, std::string* why) {
  own_query_ = query;
  const std::string message = wire::BuildQuery(sql);
  co_await upstream_->Write(message);
  asio::steady_timer timer(strand_);
  timer.expires_after(kOwnQueryDeadline);
  bool timed_out = false;
  while (!query->result().done && !closed_ && !timed_out) {
    idle_waiter_ = &timer;
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    idle_waiter_ = nullptr;
    timed_out = !ec;
  }
  own_query_ = nullptr;
  if (!query->result().done) {
    // The server still owes the answer: what follows it on this connection
    // could no longer be told apart. Fail closed.
    *why = closed_ ? "the session closed" : "the server did not answer the check within 15 s";
    shared_.Say("session " + std::to_string(id_) + " (" + agent_ + "): " + *why +
                "; session closed");
    Close();
    co_return false;
  }
  co_return true;
}

Task<bool> Session::RunChecks(const std::vector<std::string>& checks, OwnQuery* query,
                              std::size_t* first, std::string* why) {
  const char status = transaction_status_;
  if (status != 'I' && status != 'T') {
    *why = "the transaction is aborted";
    co_return false;
  }
  const WrappedChecks wrapped =
      WrapChecks(checks, status, kCheckStatementTimeoutMs, kCheckLockTimeoutMs);
  if (!co_await RunOwnQuery(wrapped.sql, query, why)) co_return false;
  *first = wrapped.first;
  const OwnQueryResult& r = query->result();
  // Exactly the statements sent, each answered: nothing of the client's
  // text (a WHERE clause) reshaped the batch.
  if (r.error.empty() && r.statements.size() == wrapped.expected && r.status == status)
    co_return true;
  *why = r.error.empty() ? std::string("unexpected answer from the server")
                         : r.error + (r.error_code.empty() ? "" : " [" + r.error_code + "]");
  if (transaction_status_ != status) {
    // A check failed part way: put the session back as it was.
    OwnQuery cleanup;
    std::string ignored;
    const bool restored = co_await RunOwnQuery(wrapped.cleanup, &cleanup, &ignored);
    if (!restored || cleanup.result().status != status) {
      *why += "; the session could not be put back as it was and was closed";
      Close();
    }
  }
  co_return false;
}

Task<FactOutcome> Session::EstablishFacts(std::string_view sql, const Verdict& verdict) {
  FactOutcome out;
  const std::vector<sql::StatementShape> shapes = sql::AnalyseStatements(sql);
  if (shapes.empty() || shapes.size() > 32) co_return out;
  std::vector<Item> items;
  bool effect_before = false;
  for (const sql::StatementShape& shape : shapes) {
    const Verdict& single = Classify(shape.text);
    const Decision decision = single.Enforced();
    const bool reads_only = OnlyReads(single);
    const bool snapshot = single.snapshot && verdict.snapshot;
    const bool same_names = SameNames(single, shape);
    if (decision == Decision::kAllow) {
      if (!reads_only && !shape.opens_transaction) effect_before = true;
      continue;
    }
    if (decision != Decision::kHold) co_return out;
    // A statement before it could change what the checks would see (a SET
    // search_path, a CREATE, a ROLLBACK): no fact.
    if (effect_before || !same_names) co_return out;
    Item item;
    item.shape = &shape;
    item.snapshot = snapshot;
    switch (shape.kind) {
      case sql::StatementShape::Kind::kDropTable:
      case sql::StatementShape::Kind::kDropOther:
      case sql::StatementShape::Kind::kDropDatabase:
        item.drop = true;
        if (shape.objects.empty()) co_return out;
        for (const std::string& object : shape.objects)
          if (ObjectExistsQuery(shape.drop_kind, object).empty()) co_return out;
        break;
      case sql::StatementShape::Kind::kDelete:
      case sql::StatementShape::Kind::kUpdate:
        if (shape.with || shape.objects.size() != 1) co_return out;
        item.event =
            shape.kind == sql::StatementShape::Kind::kDelete ? Event::kDelete : Event::kUpdate;
        break;
      case sql::StatementShape::Kind::kTruncate:
        // CASCADE empties other tables too; RESTART IDENTITY resets sequences.
        if (shape.cascade || shape.restart_identity || shape.objects.empty()) co_return out;
        item.event = Event::kTruncate;
        break;
      default:
        co_return out;
    }
    items.push_back(std::move(item));
    effect_before = true;  // what it does could change what a later one sees
  }
  if (items.empty()) co_return out;
  // Several statements that each need a fact: what the first does could
  // change what the second finds. Only DROPs of missing objects and
  // emptiness of distinct tables stay true together; keep it to one unless
  // all are DROPs.
  bool all_drops = true;
  for (const Item& item : items) all_drops = all_drops && item.drop;
  if (items.size() > 1 && !all_drops) co_return out;

  std::string why;
  if (!co_await WaitIdle(&why)) {
    out.detail = "dualkey could not check the catalog: " + why;
    co_return out;
  }
  // In an aborted transaction the statement fails anyway; nothing to check.
  if (transaction_status_ != 'I' && transaction_status_ != 'T') co_return out;

  // First round: does each object exist, and what is each table like.
  std::vector<std::string> checks;
  for (const Item& item : items) {
    for (const std::string& object : item.shape->objects)
      checks.push_back(item.drop ? ObjectExistsQuery(item.shape->drop_kind, object)
                                 : DescribeTableQuery(object, item.event, server_version_));
  }
  OwnQuery first_round;
  std::size_t first = 0;
  if (!co_await RunChecks(checks, &first_round, &first, &why)) {
    out.detail = "dualkey could not check the catalog (" + why + ")";
    co_return out;
  }
  std::vector<TableFacts> tables;
  std::size_t answer = first;
  for (Item& item : items) {
    bool all_missing = true;
    for (const std::string& object : item.shape->objects) {
      const OwnQueryResult::Statement& result = first_round.result().statements[answer++];
      if (item.drop) {
        std::optional<bool> exists = ReadBoolean(result);
        if (!exists) {
          out.detail = "dualkey could not read the catalog's answer about " + object;
          co_return out;
        }
        all_missing = all_missing && !*exists;
        continue;
      }
      std::string error;
      std::optional<TableFacts> facts = ReadTableFacts(result, &error);
      if (!facts) {
        out.detail = "dualkey could not check the catalog (" + error + ")";
        co_return out;
      }
      tables.push_back(*facts);
    }
    if (item.drop) {
      if (!all_missing) co_return out;  // it destroys something: a human decides
      item.satisfied = true;
      std::string names;
      for (const std::string& object : item.shape->objects)
        names += (names.empty() ? "" : ", ") + object;
      item.facts.push_back(Lower(item.shape->drop_kind) + " " + names +
                           (item.shape->objects.size() > 1 ? " do" : " does") + " not exist");
    }
  }

  // Second round, for the one row-destroying statement: is its table empty,
  // or is what it destroys small enough to save and run.
  Item* rows_item = nullptr;
  for (Item& item : items)
    if (!item.drop) rows_item = &item;
  if (rows_item != nullptr) {
    const sql::StatementShape& shape = *rows_item->shape;
    const policy::Limits& limits = shared_.policy.limits;
    std::vector<std::string> unknown;  // why a table's rows cannot be judged from facts
    std::vector<const TableFacts*> present;
    for (const TableFacts& table : tables) {
      if (!table.exists) {
        rows_item->facts.push_back("table " + shape.objects[&table - tables.data()] +
                                   " does not exist");
        continue;
      }
      const std::string name = table.schema + "." + table.name;
      if (table.relkind != 'r' && table.relkind != 'p')
        unknown.push_back(name + " is not a table");
      else if (table.statement_triggers > 0)
        unknown.push_back(name + " has triggers that fire on the statement itself");
      else if (table.rules > 0)
        unknown.push_back(name + " has rewrite rules");
      present.push_back(&table);
    }
    if (!unknown.empty()) {
      out.detail = "no fact stands in for a human: " + unknown.front();
      co_return out;
    }
    // Can a snapshot of this statement put everything back exactly?
    std::string no_snapshot;
    if (!rows_item->snapshot) {
      no_snapshot = "the policy does not allow a snapshot for it";
    } else if (shape.kind != sql::StatementShape::Kind::kTruncate && !shape.where.empty() &&
               (shape.has_parameters || shape.complex || shape.where_calls)) {
      no_snapshot = "its WHERE clause has parameters, joins, function calls or subqueries";
    } else {
      for (const TableFacts* table : present) {
        const std::string name = table->schema + "." + table->name;
        if (table->row_triggers > 0)
          no_snapshot = name + " has row triggers (they may change other tables)";
        else if (table->cascading_references > 0)
          no_snapshot = "foreign keys of other tables cascade from " + name;
        else if (table->has_children)
          no_snapshot = name + " has inheritance children";
        else if (table->columns.empty())
          no_snapshot = name + " has no columns to save";
        else if (shape.kind == sql::StatementShape::Kind::kUpdate) {
          if (table->key.empty()) {
            no_snapshot = name + " has no primary key to put overwritten rows back by";
          } else if (shape.set_columns.empty()) {
            no_snapshot = "the columns its SET assigns could not be read";
          } else {
            for (const std::string& column : shape.set_columns)
              for (const std::string& key : table->key)
                if (SameColumn(column, key)) no_snapshot = "it changes the primary key of " + name;
          }
        }
        if (!no_snapshot.empty()) break;
      }
    }
    const bool may_snapshot =
        no_snapshot.empty() && limits.snapshot_max_rows > 0 && limits.snapshot_max_bytes > 0;

    std::unique_ptr<SnapshotWriter> writer;
    std::int64_t total_rows = 0, total_bytes = 0;
    std::string over;
    std::vector<std::string> measured;
    bool any_rows = false;
    for (std::size_t t = 0; t < present.size(); ++t) {
      const TableFacts& table = *present[t];
      const std::string name = table.schema + "." + table.name;
      const std::string target = table.Qualified();
      const std::string where = shape.kind == sql::StatementShape::Kind::kTruncate ||
                                        shape.where.empty() || shape.has_parameters || shape.complex
                                    ? std::string()
                                    : " WHERE " + shape.where;
      const std::string alias = where.empty() || shape.alias.empty() ? "" : " " + shape.alias;
      if (!may_snapshot) {
        // Only the fact: is there anything at all?
        OwnQuery round;
        const std::vector<std::string> exists =
            One("SELECT EXISTS (SELECT 1 FROM " + target + alias + where + ")");
        if (!co_await RunChecks(exists, &round, &first, &why)) {
          out.detail = "dualkey could not check the catalog (" + why + ")";
          co_return out;
        }
        std::optional<bool> has_rows = ReadBoolean(round.result().statements[first]);
        if (!has_rows) {
          out.detail = "dualkey could not read the catalog's answer about " + name;
          co_return out;
        }
        if (*has_rows) {
          if (!no_snapshot.empty() && rows_item->snapshot)
            out.detail = "no snapshot stood in for a human: " + no_snapshot;
          co_return out;
        }
        rows_item->facts.push_back("table " + name + " is empty");
        continue;
      }
      // The rows it destroys, saved while they are counted: at most one
      // more row than the limit is read.
      const std::int64_t max_rows = static_cast<std::int64_t>(limits.snapshot_max_rows);
      const std::int64_t max_bytes = static_cast<std::int64_t>(limits.snapshot_max_bytes);
      if (!writer) {
        SnapshotRequest request;
        request.kind = SnapshotKind(shape.kind);
        request.database = database_;
        request.statement = std::string(sql);
        request.agent = agent_;
        request.objects = shape.objects;
        std::string error;
        {
          std::lock_guard lock(shared_.sink_mutex);
          writer = shared_.sink->Begin(request, &error);
        }
        if (!writer) {
          out.detail =
              "no snapshot stood in for a human: the snapshot could not be started (" + error + ")";
          co_return out;
        }
      }
      const std::string part = t == 0 ? "rows.copy" : "rows." + std::to_string(t) + ".copy";
      std::int64_t rows = 0, bytes = 0;
      std::string write_error;
      SnapshotWriter* w = writer.get();
      OwnQuery copy([&, w](std::string_view chunk) {
        for (char c : chunk) rows += c == '\n';
        bytes += static_cast<std::int64_t>(chunk.size());
        if (total_rows + rows > max_rows || total_bytes + bytes > max_bytes) return false;
        return w->Append(part, chunk, &write_error);
      });
      std::string columns;
      for (const std::string& column : table.columns)
        columns += (columns.empty() ? "" : ", ") +
                   (alias.empty() ? std::string() : shape.alias + ".") + sql::SqlIdentifier(column);
      const std::vector<std::string> copy_sql =
          One("COPY (SELECT " + columns + " FROM " + target + alias + where + " LIMIT " +
              std::to_string(max_rows + 1) + ") TO STDOUT");
      if (!co_await RunChecks(copy_sql, &copy, &first, &why)) {
        out.detail =
            "no snapshot stood in for a human: the snapshot could not be taken (" + why + ")";
        co_return out;
      }
      if (!write_error.empty()) {
        out.detail = "no snapshot stood in for a human: the snapshot could not be saved (" +
                     write_error + ")";
        co_return out;
      }
      total_rows += rows;
      total_bytes += bytes;
      if (total_rows > max_rows) {
        over = std::string(Verb(shape.kind)) + " more than " + Thousands(max_rows) + " rows of " +
               name + ", over the policy's [snapshot] max_rows of " + Thousands(max_rows);
        break;
      }
      if (total_bytes > max_bytes) {
        over = std::string(Verb(shape.kind)) + " more than " + Thousands(max_bytes) + " bytes of " +
               name + ", over the policy's [snapshot] max_bytes of " + Thousands(max_bytes);
        break;
      }
      if (rows == 0) {
        rows_item->facts.push_back("table " + name + " is empty");
        continue;
      }
      any_rows = true;
      // The share of its table: all of it for a whole-table statement.
      if (limits.snapshot_max_table_fraction < 1.0) {
        bool within = false;
        if (!where.empty() && limits.snapshot_max_table_fraction > 0) {
          // At least rows / fraction rows in the table keeps the share small.
          const std::int64_t needed = static_cast<std::int64_t>(
              std::ceil(static_cast<double>(rows) / limits.snapshot_max_table_fraction));
          OwnQuery round;
          const std::vector<std::string> count =
              One("SELECT pg_catalog.count(*) FROM (SELECT 1 FROM " + target + " LIMIT " +
                  std::to_string(needed) + ") s");
          if (!co_await RunChecks(count, &round, &first, &why)) {
            out.detail = "dualkey could not check the catalog (" + why + ")";
            co_return out;
          }
          const auto& answer_rows = round.result().statements[first].rows;
          within = !answer_rows.empty() && !answer_rows[0].empty() && answer_rows[0][0] &&
                   *answer_rows[0][0] == std::to_string(needed);
        }
        if (!within) {
          over = std::string(Verb(shape.kind)) + " more than " +
                 std::to_string(static_cast<int>(limits.snapshot_max_table_fraction * 100)) +
                 "% of " + name + ", over the policy's [snapshot] max_table_fraction";
          break;
        }
      }
      // Make the part exist, and say how its rows go back.
      if (!writer->Append(part, "", &write_error)) {
        out.detail = "no snapshot stood in for a human: the snapshot could not be saved (" +
                     write_error + ")";
        co_return out;
      }
      RestoreEntry restore;
      restore.schema = table.schema;
      restore.table = table.name;
      restore.part = part;
      restore.columns = table.columns;
      if (shape.kind == sql::StatementShape::Kind::kUpdate) {
        restore.mode = "update";
        restore.key = table.key;
      }
      if (!writer->Append("objects.txt", RestoreEntryLine(restore), &write_error)) {
        out.detail = "no snapshot stood in for a human: the snapshot could not be saved (" +
                     write_error + ")";
        co_return out;
      }
      measured.push_back(Thousands(rows) + (rows == 1 ? " row, " : " rows, ") + Thousands(bytes) +
                         " bytes of " + name);
    }
    if (!over.empty()) {
      if (writer) writer->Abort();
      out.detail = "no snapshot stood in for a human: it " + over;
      co_return out;
    }
    if (any_rows) {
      std::string error;
      std::optional<std::string> id = writer->Commit(&error);
      if (!id) {
        writer->Abort();
        out.detail =
            "no snapshot stood in for a human: the snapshot could not be saved (" + error + ")";
        co_return out;
      }
      out.snapshot_id = *id;
      for (const std::string& m : measured) out.measured += (out.measured.empty() ? "" : "; ") + m;
      LogEvent("snapshot", std::string(sql), "snapshot_id", *id, "");
      shared_.Say("snapshot " + *id + " saved before " + SnapshotKind(shape.kind) + " (" +
                  out.measured + "): runs without a human");
    } else if (writer) {
      writer->Abort();
    }
  }
  for (const Item& item : items)
    for (const std::string& fact : item.facts) out.fact += (out.fact.empty() ? "" : "; ") + fact;
  out.kind =
      out.snapshot_id.empty() ? FactOutcome::Kind::kNothingDestroyed : FactOutcome::Kind::kSnapshot;
  if (out.kind == FactOutcome::Kind::kNothingDestroyed && out.fact.empty())
    out.kind = FactOutcome::Kind::kNone;  // nothing was established
  co_return out;
}

}  // namespace dualkey::pgproxy
