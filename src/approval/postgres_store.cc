// The shared store: several `dualkey serve` instances, possibly on several
// machines, on one PostgreSQL database. Every rule that must hold across
// daemons is enforced by the server: single-use consumption is one
// conditional UPDATE on a row lock, decisions lock the row (FOR UPDATE), and
// holds of the same action serialise on a transaction-scoped advisory lock.
#include "pq/libpq.h"

// libpq is loaded with dlopen (see pq/libpq.h): only a daemon with a
// postgresql:// store pays for it.
namespace {
const dualkey::pq::LibPq& Pq() {
  return dualkey::pq::Api();
}
}  // namespace

#define PQntuples (Pq().ntuples)
#define PQgetvalue (Pq().getvalue)
#define PQstatus (Pq().status)
#define PQerrorMessage (Pq().error_message)
#define PQcmdTuples (Pq().cmd_tuples)
#define PQresultStatus (Pq().result_status)
#define PQresultErrorMessage (Pq().result_error_message)
#define PQresultErrorField (Pq().result_error_field)
#define PQreset (Pq().reset)
#define PQfinish (Pq().finish)
#define PQexecParams (Pq().exec_params)
#define PQexec (Pq().exec)
#define PQconnectdbParams (Pq().connectdb_params)
#define PQclear (Pq().clear)

#include <cstdlib>
#include <memory>
#include <mutex>
#include <type_traits>

#include "approval/approval.h"
#include "approval/internal.h"

namespace dualkey::approval::internal {
namespace {

struct ResultDeleter {
  void operator()(PGresult* result) const {
    if (result != nullptr) PQclear(result);
  }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

std::int64_t ToInt(const char* text) {
  return std::strtoll(text, nullptr, 10);
}

std::string Trimmed(const char* message) {
  std::string text = message ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// One row of a result, as the backends' shared decoding reads it.
class PgRow final : public Row {
 public:
  PgRow(const PGresult* result, int row) : result_(result), row_(row) {}
  std::string Text(int column) const override { return PQgetvalue(result_, row_, column); }
  std::int64_t Int(int column) const override { return ToInt(PQgetvalue(result_, row_, column)); }

 private:
  const PGresult* result_;
  int row_;
};

Status ReadRequest(const PGresult* result, int row, Request* out) {
  return DecodeRequest(PgRow(result, row), out);
}

Status ReadRequests(const PGresult* result, std::vector<Request>* out) {
  const int rows = PQntuples(result);
  out->clear();
  out->reserve(static_cast<std::size_t>(rows));
  for (int row = 0; row < rows; ++row) {
    Request request;
    if (Status read = ReadRequest(result, row, &request); !read.ok()) return read;
    out->push_back(std::move(request));
  }
  return Status::Ok();
}

const std::string kColumns = kRequestColumns;

class PostgresStore final : public DecidingStore<PostgresStore> {
 public:
  ~PostgresStore() override {
    if (conn_ != nullptr) PQfinish(conn_);
  }

  static Result<std::unique_ptr<Store>> Open(const std::string& uri) {
    std::unique_ptr<PostgresStore> store(new PostgresStore());
    if (!store->Init(uri)) return store->last_error_;
    return std::unique_ptr<Store>(std::move(store));
  }

  Status Hold(const Request& request, Request* out) override {
    Request fresh;
    if (Status ready = PrepareNewRequest(request, &fresh); !ready.ok()) return ready;
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    // A code collision with a concurrent daemon surfaces as a unique
    // violation at INSERT: draw again in a new transaction.
    for (int attempt = 0; attempt < 8; ++attempt) {
      if (!Command("BEGIN", {})) return last_error_;
      // Two daemons holding the same action at once must agree on one request.
      PgResult locked =
          Query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", {fresh.action_hash});
      if (!locked) return Abort();
      PgResult live = Query("SELECT " + kColumns +
                                " FROM requests WHERE action_hash = $1"
                                " AND state IN ('pending', 'approved') AND expires_ms > $2"
                                " ORDER BY created_ms, id LIMIT 1",
                            {fresh.action_hash, std::to_string(fresh.created_ms)});
      if (!live) return Abort();
      if (PQntuples(live.get()) == 1) {
        Request existing;
        if (Status read = ReadRequest(live.get(), 0, &existing); !read.ok()) return Abort(read);
        if (!Command("COMMIT", {})) return Abort();
        if (out) *out = std::move(existing);
        return Status::Ok();
      }
      PgResult taken =
          Query("SELECT 1 FROM requests WHERE id = $1 OR code = $2", {fresh.id, fresh.code});
      if (!taken) return Abort();
      bool inserted = false;
      if (PQntuples(taken.get()) == 0) {
        inserted = Command("INSERT INTO requests (" + kColumns +
                               ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
                               " $14, $15)",
                           {fresh.id, fresh.code, fresh.action_hash, fresh.agent, fresh.channel,
                            fresh.input, fresh.cwd, fresh.reason,
                            std::to_string(fresh.approvals_needed), JoinApprovers(fresh.approvers),
                            std::string(ToString(fresh.state)), std::to_string(fresh.created_ms),
                            std::to_string(fresh.expires_ms), fresh.denied_by, fresh.deny_reason});
        if (!inserted && last_sqlstate_ != "23505") return Abort();  // but unique_violation
      }
      if (inserted && !fresh.details.empty() &&
          !Command("INSERT INTO items (kind, key, owner, value, counter, expires_ms)"
                   " VALUES ('hold', $1, $2, $3, 0, $4) ON CONFLICT (kind, key) DO UPDATE SET"
                   " value = excluded.value, expires_ms = excluded.expires_ms",
                   {fresh.id, DisplaySafe(fresh.agent), DisplaySafe(fresh.details),
                    std::to_string(fresh.expires_ms + kHoldDetailsKeepMs)}))
        return Abort();
      if (inserted) {
        if (!Command("COMMIT", {})) return Abort();
        if (out) *out = std::move(fresh);
        return Status::Ok();
      }
      Abort();
      fresh.id = NewRequestId();
      fresh.code = NewRequestCode();
    }
    return Status::Unavailable("could not draw a unique request code");
  }

  Status ConsumeApproval(const std::string& action_hash, std::int64_t now_ms,
                         Request* out) override {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    // One statement, so one implicit transaction: the row lock makes a
    // concurrent consumer either skip the row or see it already consumed.
    PgResult consumed = Query(
        "UPDATE requests SET state = 'consumed' WHERE id = ("
        " SELECT id FROM requests WHERE action_hash = $1 AND state = 'approved'"
        " AND expires_ms > $2 ORDER BY created_ms, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
        " AND state = 'approved' RETURNING " +
            kColumns,
        {action_hash, std::to_string(now_ms)});
    if (!consumed) return last_error_;
    if (PQntuples(consumed.get()) != 1) return Status::NotFound("no approval for this action");
    Request request;
    if (Status read = ReadRequest(consumed.get(), 0, &request); !read.ok()) return read;
    if (out) *out = std::move(request);
    return Status::Ok();
  }

  Status ReleaseConsumption(const std::string& id) override {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    PgResult released =
        Query("UPDATE requests SET state = 'approved' WHERE id = $1 AND state = 'consumed'", {id});
    if (!released) return last_error_;
    if (std::string(PQcmdTuples(released.get())) != "1")
      return Status::FailedPrecondition("request " + id + " is not consumed");
    return Status::Ok();
  }

  Status Get(const std::string& id_or_code, Request* out) override {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    const std::string key = DisplaySafe(NormaliseIdOrCode(id_or_code));
    PgResult found =
        Query("SELECT " + kColumns + " FROM requests WHERE id = $1 OR code = $1", {key});
    if (!found) return last_error_;
    if (PQntuples(found.get()) != 1) return Status::NotFound("no request " + key);
    Request request;
    if (Status read = ReadRequest(found.get(), 0, &request); !read.ok()) return read;
    if (out) *out = std::move(request);
    return Status::Ok();
  }

  Status Pending(std::int64_t now_ms, std::vector<Request>* out) override {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    PgResult pending = Query("SELECT " + kColumns +
                                 " FROM requests WHERE state = 'pending' AND expires_ms > $1"
                                 " ORDER BY created_ms, id",
                             {std::to_string(now_ms)});
    if (!pending) return last_error_;
    std::vector<Request> rows;
    if (Status read = ReadRequests(pending.get(), &rows); !read.ok()) return read;
    if (out) *out = std::move(rows);
    return Status::Ok();
  }

  Status Expire(std::int64_t now_ms, std::vector<Request>* expired) override {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    PgResult rows_result = Query(
        "UPDATE requests SET state = 'expired'"
        " WHERE state IN ('pending', 'approved') AND expires_ms <= $1"
        " RETURNING " +
            kColumns,
        {std::to_string(now_ms)});
    if (!rows_result) return last_error_;
    std::vector<Request> rows;
    if (Status read = ReadRequests(rows_result.get(), &rows); !read.ok()) return read;
    // Failure counts nobody needs any more (see LockoutPolicy).
    if (!Command(
            "DELETE FROM auth_failures WHERE locked_until_ms <= $1"
            " AND (failures = 0 OR last_failure_ms <= $2)",
            {std::to_string(now_ms), std::to_string(now_ms - LockoutPolicy{}.forget_after_ms)}))
      return last_error_;
    if (expired) *expired = std::move(rows);
    return Status::Ok();
  }

  Status AddCheckedApprover(const std::string& name, const std::string& secret, bool only_if_first,
                            const TotpSpend* spend) {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    if (!Command("BEGIN", {})) return last_error_;
    // Enrolments and removals take turns: "is there an approver yet" and
    // "is this the last one" must not race between daemons.
    if (!Command("SELECT pg_advisory_xact_lock(7360508357174116401)", {})) return Abort();
    if (only_if_first) {
      PgResult count = Query("SELECT count(*) FROM approvers", {});
      if (!count) return Abort();
      if (ToInt(PQgetvalue(count.get(), 0, 0)) > 0)
        return Abort(Status::FailedPrecondition(
            "an approver is already enrolled; another needs an existing approver's code "
            "(--as NAME --code CODE)"));
    }
    if (Status spent = Spend(spend); !spent.ok()) return Abort(spent);
    PgResult added = Query(
        "INSERT INTO approvers (name, secret, last_step) VALUES ($1, $2, -1)"
        " ON CONFLICT (name) DO NOTHING",
        {name, secret});
    if (!added) return Abort();
    if (std::string(PQcmdTuples(added.get())) != "1")
      return Abort(Status::FailedPrecondition("approver " + name + " already exists"));
    return Command("COMMIT", {}) ? Status::Ok() : Abort();
  }

  Status RemoveApprover(const std::string& name, const TotpSpend* spend) override {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    const std::string key = DisplaySafe(name);
    if (!Command("BEGIN", {})) return last_error_;
    if (!Command("SELECT pg_advisory_xact_lock(7360508357174116401)", {})) return Abort();
    PgResult found = Query(
        "SELECT (SELECT count(*) FROM approvers WHERE name = $1),"
        " (SELECT count(*) FROM approvers)",
        {key});
    if (!found) return Abort();
    if (ToInt(PQgetvalue(found.get(), 0, 0)) != 1)
      return Abort(Status::NotFound("no approver " + key));
    if (ToInt(PQgetvalue(found.get(), 0, 1)) <= 1)
      return Abort(Status::FailedPrecondition(
          "cannot remove " + key +
          ", the last approver: nobody could approve; enrol another first"));
    if (Status spent = Spend(spend); !spent.ok()) return Abort(spent);
    if (!Command("DELETE FROM approvers WHERE name = $1", {key})) return Abort();
    if (!Command("DELETE FROM items WHERE kind = 'passkey' AND owner = $1", {key})) return Abort();
    return Command("COMMIT", {}) ? Status::Ok() : Abort();
  }

  Status RotateCheckedApprover(const std::string& name, const std::string& secret,
                               const TotpSpend* spend) {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    const std::string key = DisplaySafe(name);
    if (!Command("BEGIN", {})) return last_error_;
    if (Status spent = Spend(spend); !spent.ok()) return Abort(spent);
    PgResult rotated = Query("UPDATE approvers SET secret = $2 WHERE name = $1", {key, secret});
    if (!rotated) return Abort();
    if (std::string(PQcmdTuples(rotated.get())) != "1")
      return Abort(Status::NotFound("no approver " + key));
    return Command("COMMIT", {}) ? Status::Ok() : Abort();
  }

  Status ApproverSecret(const std::string& name, std::string* secret,
                        std::int64_t* last_step) override {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    const std::string key = DisplaySafe(name);
    PgResult found = Query("SELECT secret, last_step FROM approvers WHERE name = $1", {key});
    if (!found) return last_error_;
    if (PQntuples(found.get()) != 1) return Status::NotFound("no approver " + key);
    if (secret) *secret = PQgetvalue(found.get(), 0, 0);
    if (last_step) *last_step = ToInt(PQgetvalue(found.get(), 0, 1));
    return Status::Ok();
  }

  Status BeginAuthAttempt(const std::vector<std::string>& scopes, std::int64_t now_ms,
                          const LockoutPolicy& policy, bool* locked, std::vector<Lockout>* before,
                          std::vector<Lockout>* after) override {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    if (!Command("BEGIN", {})) return last_error_;
    std::vector<Lockout> rows;
    // Rows are created, then locked in sorted order: attempts from several
    // daemons at once count one after another, never twice from one state.
    for (const std::string& scope : SortedScopes(scopes)) {
      Lockout row;
      row.scope = DisplaySafe(scope);
      if (!Command("INSERT INTO auth_failures (scope, failures, locked_until_ms, last_failure_ms)"
                   " VALUES ($1, 0, 0, 0) ON CONFLICT (scope) DO NOTHING",
                   {row.scope}))
        return Abort();
      PgResult found = Query(
          "SELECT failures, locked_until_ms, last_failure_ms FROM auth_failures WHERE scope = $1"
          " FOR UPDATE",
          {row.scope});
      if (!found) return Abort();
      if (PQntuples(found.get()) == 1) {
        row.failures = static_cast<int>(ToInt(PQgetvalue(found.get(), 0, 0)));
        row.locked_until_ms = ToInt(PQgetvalue(found.get(), 0, 1));
        row.last_failure_ms = ToInt(PQgetvalue(found.get(), 0, 2));
      }
      rows.push_back(std::move(row));
    }
    std::vector<Lockout> counted;
    *locked = CountAttempt(rows, now_ms, policy, &counted);
    if (*locked) Rollback();
    for (const Lockout& next : counted)
      if (!Command("UPDATE auth_failures SET failures = $2, locked_until_ms = $3,"
                   " last_failure_ms = $4 WHERE scope = $1",
                   {next.scope, std::to_string(next.failures), std::to_string(next.locked_until_ms),
                    std::to_string(next.last_failure_ms)}))
        return Abort();
    if (!*locked && !Command("COMMIT", {})) return Abort();
    return HandOverAttempt(*locked, std::move(rows), std::move(counted), before, after);
  }

  Status ForgiveAuthAttempt(const std::vector<Lockout>& before,
                            const std::vector<Lockout>& after) override {
    if (Status paired = CheckForgiveRows(before, after); !paired.ok()) return paired;
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    if (!Command("BEGIN", {})) return last_error_;
    for (std::size_t i = 0; i < before.size(); ++i) {
      if (!Command(
              "UPDATE auth_failures SET failures = $2, locked_until_ms = $3,"
              " last_failure_ms = $4 WHERE scope = $1 AND failures = $5"
              " AND locked_until_ms = $6 AND last_failure_ms = $7",
              {after[i].scope, std::to_string(before[i].failures),
               std::to_string(before[i].locked_until_ms), std::to_string(before[i].last_failure_ms),
               std::to_string(after[i].failures), std::to_string(after[i].locked_until_ms),
               std::to_string(after[i].last_failure_ms)}))
        return Abort();
    }
    return Command("COMMIT", {}) ? Status::Ok() : Abort();
  }

  Status Lockouts(std::int64_t now_ms, const LockoutPolicy& policy,
                  std::vector<Lockout>* out) override {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    PgResult found = Query(
        "SELECT scope, failures, locked_until_ms, last_failure_ms FROM auth_failures"
        " WHERE failures > 0 AND (last_failure_ms > $1 OR locked_until_ms > $2) ORDER BY scope",
        {std::to_string(now_ms - policy.forget_after_ms), std::to_string(now_ms)});
    if (!found) return last_error_;
    std::vector<Lockout> rows;
    for (int row = 0; row < PQntuples(found.get()); ++row) {
      rows.push_back(Lockout{
          PQgetvalue(found.get(), row, 0), static_cast<int>(ToInt(PQgetvalue(found.get(), row, 1))),
          ToInt(PQgetvalue(found.get(), row, 2)), ToInt(PQgetvalue(found.get(), row, 3))});
    }
    if (out) *out = std::move(rows);
    return Status::Ok();
  }

  Status RememberAuditSeal(const AuditSeal& seal) override {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    const bool remembered = Command(
        "INSERT INTO audit_checkpoints (log_id, seq, hash, sig, public_key, time_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (log_id, seq) DO UPDATE SET"
        " hash = excluded.hash, sig = excluded.sig, public_key = excluded.public_key,"
        " time_ms = excluded.time_ms",
        {DisplaySafe(seal.log_id), std::to_string(seal.seq), seal.hash, seal.sig, seal.public_key,
         std::to_string(seal.time_ms)});
    return remembered ? Status::Ok() : last_error_;
  }

  Status LastAuditSeal(const std::string& log_id, AuditSeal* out, bool* found) override {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    PgResult last = Query(
        "SELECT seq, hash, sig, public_key, time_ms FROM audit_checkpoints WHERE log_id = $1"
        " ORDER BY seq DESC LIMIT 1",
        {DisplaySafe(log_id)});
    if (!last) return last_error_;
    *found = PQntuples(last.get()) == 1;
    if (*found && out) {
      out->log_id = log_id;
      out->seq = static_cast<std::uint64_t>(ToInt(PQgetvalue(last.get(), 0, 0)));
      out->hash = PQgetvalue(last.get(), 0, 1);
      out->sig = PQgetvalue(last.get(), 0, 2);
      out->public_key = PQgetvalue(last.get(), 0, 3);
      out->time_ms = ToInt(PQgetvalue(last.get(), 0, 4));
    }
    return Status::Ok();
  }

  Status Approvers(std::vector<std::string>* names) override {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    PgResult found = Query("SELECT name FROM approvers ORDER BY name", {});
    if (!found) return last_error_;
    std::vector<std::string> rows;
    for (int row = 0; row < PQntuples(found.get()); ++row) {
      rows.emplace_back(PQgetvalue(found.get(), row, 0));
    }
    if (names) *names = std::move(rows);
    return Status::Ok();
  }

  Status UseTotpStep(const std::string& name, std::int64_t step) override {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    const std::string key = DisplaySafe(name);
    // Conditional UPDATE: of two daemons checking the same code, one wins.
    PgResult used = Query("UPDATE approvers SET last_step = $2 WHERE name = $1 AND last_step < $2",
                          {key, std::to_string(step)});
    if (!used) return last_error_;
    if (std::string(PQcmdTuples(used.get())) == "1") return Status::Ok();
    PgResult exists = Query("SELECT 1 FROM approvers WHERE name = $1", {key});
    if (!exists) return last_error_;
    return PQntuples(exists.get()) == 1 ? Status::FailedPrecondition(kTotpUsed)
                                        : Status::NotFound("no approver " + key);
  }

  Status SetFrozen(const std::string& agent, bool frozen, const std::string& why,
                   const TotpSpend* spend) override {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    const bool spending = spend != nullptr && spend->step >= 0;
    if (spending && !Command("BEGIN", {})) return last_error_;
    if (Status spent = Spend(spend); !spent.ok()) return Abort(spent);
    if (!Command(
            "INSERT INTO frozen_agents (agent, frozen, why, updated_ms) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (agent) DO UPDATE SET frozen = excluded.frozen, why = excluded.why,"
            " updated_ms = excluded.updated_ms",
            {DisplaySafe(agent), frozen ? "1" : "0", DisplaySafe(why), std::to_string(NowMs())}))
      return spending ? Abort() : last_error_;
    return !spending || Command("COMMIT", {}) ? Status::Ok() : Abort();
  }

  Status HasApproval(const std::string& action_hash, std::int64_t now_ms, bool* approved,
                     std::string* id) override {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    PgResult found = Query(
        "SELECT id FROM requests WHERE action_hash = $1 AND state = 'approved' AND expires_ms > $2"
        " LIMIT 1",
        {action_hash, std::to_string(now_ms)});
    if (!found) return last_error_;
    *approved = PQntuples(found.get()) == 1;
    if (id != nullptr) *id = *approved ? std::string(PQgetvalue(found.get(), 0, 0)) : std::string();
    return Status::Ok();
  }

  Status IsFrozen(const std::string& agent, bool* frozen) override {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    PgResult found =
        Query("SELECT frozen FROM frozen_agents WHERE agent = $1", {DisplaySafe(agent)});
    if (!found) return last_error_;
    if (frozen) {
      *frozen = PQntuples(found.get()) == 1 && ToInt(PQgetvalue(found.get(), 0, 0)) != 0;
    }
    return Status::Ok();
  }

  Status Freezes(std::vector<Freeze>* out) override {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    PgResult found =
        Query("SELECT agent, frozen, why, updated_ms FROM frozen_agents ORDER BY updated_ms", {});
    if (!found) return last_error_;
    std::vector<Freeze> rows;
    for (int row = 0; row < PQntuples(found.get()); ++row)
      rows.push_back(
          Freeze{PQgetvalue(found.get(), row, 0), ToInt(PQgetvalue(found.get(), row, 1)) != 0,
                 PQgetvalue(found.get(), row, 2), ToInt(PQgetvalue(found.get(), row, 3))});
    *out = std::move(rows);
    return Status::Ok();
  }

  Status PutItem(const Item& item, bool replace, std::int64_t now_ms) override {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    if (!Command("DELETE FROM items WHERE expires_ms > 0 AND expires_ms <= $1",
                 {std::to_string(now_ms)}))
      return last_error_;
    PgResult put = Query(
        "INSERT INTO items (kind, key, owner, value, counter, expires_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, key) " +
            std::string(replace ? "DO UPDATE SET owner = excluded.owner, value = excluded.value,"
                                  " counter = excluded.counter, expires_ms = excluded.expires_ms"
                                : "DO NOTHING"),
        {DisplaySafe(item.kind), DisplaySafe(item.key), DisplaySafe(item.owner),
         DisplaySafe(item.value), std::to_string(item.counter), std::to_string(item.expires_ms)});
    if (!put) return last_error_;
    if (!replace && std::string(PQcmdTuples(put.get())) != "1")
      return Status::FailedPrecondition("exists");
    return Status::Ok();
  }

  Status GetItem(const std::string& kind, const std::string& key, std::int64_t now_ms, Item* out,
                 bool* found) override {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    PgResult got = Query(std::string("SELECT ") + kItemColumns +
                             " FROM items WHERE kind = $1 AND key = $2"
                             " AND (expires_ms = 0 OR expires_ms > $3)",
                         {DisplaySafe(kind), DisplaySafe(key), std::to_string(now_ms)});
    if (!got) return last_error_;
    *found = PQntuples(got.get()) == 1;
    if (*found && out != nullptr) *out = DecodeItem(PgRow(got.get(), 0));
    return Status::Ok();
  }

  Status ListItems(const std::string& kind, const std::string& owner, std::int64_t now_ms,
                   std::vector<Item>* out) override {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    PgResult list = Query(std::string("SELECT ") + kItemColumns +
                              " FROM items WHERE kind = $1 AND ($2 = '' OR owner = $2)"
                              " AND (expires_ms = 0 OR expires_ms > $3) ORDER BY key",
                          {DisplaySafe(kind), DisplaySafe(owner), std::to_string(now_ms)});
    if (!list) return last_error_;
    out->clear();
    for (int row = 0; row < PQntuples(list.get()); ++row)
      out->push_back(DecodeItem(PgRow(list.get(), row)));
    return Status::Ok();
  }

  Status DeleteItem(const std::string& kind, const std::string& key, bool* deleted) override {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    PgResult removed = Query("DELETE FROM items WHERE kind = $1 AND key = $2",
                             {DisplaySafe(kind), DisplaySafe(key)});
    if (!removed) return last_error_;
    if (deleted != nullptr) *deleted = std::string(PQcmdTuples(removed.get())) != "0";
    return Status::Ok();
  }

  Status TakeItem(const std::string& kind, const std::string& key, std::int64_t now_ms, Item* out,
                  bool* found) override {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    // One statement: of two daemons taking the same item, one gets it.
    PgResult taken = Query(
        "DELETE FROM items WHERE kind = $1 AND key = $2"
        " AND (expires_ms = 0 OR expires_ms > $3) RETURNING " +
            std::string(kItemColumns),
        {DisplaySafe(kind), DisplaySafe(key), std::to_string(now_ms)});
    if (!taken) return last_error_;
    *found = PQntuples(taken.get()) == 1;
    if (*found && out != nullptr) *out = DecodeItem(PgRow(taken.get(), 0));
    return Status::Ok();
  }

  Status AdvanceItemCounter(const std::string& kind, const std::string& key, std::int64_t from,
                            std::int64_t to, bool* advanced) override {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    PgResult updated = Query(
        "UPDATE items SET counter = $4 WHERE kind = $1 AND key = $2"
        " AND counter = $3",
        {DisplaySafe(kind), DisplaySafe(key), std::to_string(from), std::to_string(to)});
    if (!updated) return last_error_;
    *advanced = std::string(PQcmdTuples(updated.get())) == "1";
    return Status::Ok();
  }

 private:
  PostgresStore() = default;

  bool Init(const std::string& uri) {
    if (!Pq().loaded) {
      last_error_ = Status::Unavailable(
          "the PostgreSQL client library libpq.so.5 (Debian package libpq5) cannot be loaded");
      return false;
    }
    // Ours first: settings in the URI override them (expand_dbname).
    const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* values[] = {"10", "dualkey", uri.c_str(), nullptr};
    conn_ = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
      last_error_ =
          Status::Unavailable("cannot connect to PostgreSQL: " + Trimmed(PQerrorMessage(conn_)));
      return false;
    }
    return Prepare();
  }

  // Session settings and the schema; run again after a reconnect.
  bool Prepare() {
    // Durable before any reply, whatever the server's default.
    if (!Command("SET synchronous_commit = on", {})) return false;
    if (!Command("SET client_min_messages = warning", {})) return false;
    if (schema_ready_) return true;
    // CREATE TABLE IF NOT EXISTS races between daemons starting together.
    if (!Command("BEGIN", {})) return false;
    if (!Command("SELECT pg_advisory_xact_lock(7360508357174116400)", {})) return Rollback();
    for (const char* statement : kSchema) {
      if (!Command(statement, {})) return Rollback();
    }
    if (!Command("COMMIT", {})) return Rollback();
    schema_ready_ = true;
    return true;
  }

  // False with last_error_ set when the connection is gone and cannot be
  // made again.
  bool Connected() {
    if (PQstatus(conn_) == CONNECTION_OK) return true;
    PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK) {
      last_error_ =
          Status::Unavailable("lost the PostgreSQL connection: " + Trimmed(PQerrorMessage(conn_)));
      return false;
    }
    return Prepare();
  }

  // Runs one parameterised statement; null (with last_error_) unless it
  // succeeded.
  PgResult Query(const std::string& sql, const std::vector<std::string>& params) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const std::string& param : params) values.push_back(param.c_str());
    PgResult result(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                 values.data(), nullptr, nullptr, /*resultFormat=*/0));
    last_sqlstate_.clear();
    const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
    if (result) {
      const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
      if (state) last_sqlstate_ = state;
    }
    last_error_ =
        Status::Unavailable("postgresql: " + Trimmed(result ? PQresultErrorMessage(result.get())
                                                            : PQerrorMessage(conn_)));
    return nullptr;
  }

  bool Command(const std::string& sql, const std::vector<std::string>& params) {
    return Query(sql, params) != nullptr;
  }

  // Ends a failed transaction; false, for `return Rollback();`.
  bool Rollback() {
    PgResult ignored(PQexec(conn_, "ROLLBACK"));
    return false;
  }
  // Ends a failed transaction; `why`, or the last error.
  Status Abort(Status why) {
    Rollback();
    return why;
  }
  Status Abort() { return Abort(last_error_); }

  // Inside an open transaction: uses up a verified TOTP step (a conditional
  // UPDATE: of two daemons spending one code, one wins), or fails.
  Status Spend(const TotpSpend* spend) {
    if (spend == nullptr || spend->step < 0) return Status::Ok();
    PgResult used = Query("UPDATE approvers SET last_step = $2 WHERE name = $1 AND last_step < $2",
                          {DisplaySafe(spend->approver), std::to_string(spend->step)});
    if (!used) return last_error_;
    if (std::string(PQcmdTuples(used.get())) == "1") return Status::Ok();
    return Status::FailedPrecondition(kTotpUsed);
  }

  friend class DecidingStore<PostgresStore>;

  // Approve and Deny (see DecidingStore): read, apply the shared state
  // machine, write back.
  template <typename Apply>
  Status Decide(const std::string& id_or_code, Request* out, Apply apply,
                const TotpSpend* spend = nullptr) {
    std::lock_guard lock(mu_);
    if (!Connected()) return last_error_;
    const std::string key = DisplaySafe(NormaliseIdOrCode(id_or_code));
    if (!Command("BEGIN", {})) return last_error_;
    PgResult found =
        Query("SELECT " + kColumns + " FROM requests WHERE id = $1 OR code = $1 FOR UPDATE", {key});
    if (!found) return Abort();
    if (PQntuples(found.get()) != 1) return Abort(Status::NotFound("no request " + key));
    Request request;
    if (Status read = ReadRequest(found.get(), 0, &request); !read.ok()) return Abort(read);
    std::string why;
    const Transition transition = apply(&request, &why);
    if (transition == Transition::kFail) return Abort(Status::FailedPrecondition(why));
    if (transition == Transition::kUpdate)
      if (Status spent = Spend(spend); !spent.ok()) return Abort(spent);
    if (!Command("UPDATE requests SET approvers = $2, state = $3, denied_by = $4,"
                 " deny_reason = $5 WHERE id = $1",
                 {request.id, JoinApprovers(request.approvers),
                  std::string(ToString(request.state)), request.denied_by, request.deny_reason}))
      return Abort();
    if (!Command("COMMIT", {})) return Abort();
    if (out) *out = request;
    if (transition == Transition::kUpdateAndFail) return Status::FailedPrecondition(why);
    return Status::Ok();
  }

  std::mutex mu_;
  PGconn* conn_ = nullptr;
  bool schema_ready_ = false;
  std::string last_sqlstate_;
  Status last_error_;  // why the last Query, Command or Connected failed
};

}  // namespace

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& uri) {
  return PostgresStore::Open(uri);
}

}  // namespace dualkey::approval::internal
