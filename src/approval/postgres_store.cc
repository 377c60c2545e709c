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
using Result = std::unique_ptr<PGresult, ResultDeleter>;

std::int64_t ToInt(const char* text) {
  return std::strtoll(text, nullptr, 10);
}

std::string Trimmed(const char* message) {
  std::string text = message ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

bool ReadRequest(const PGresult* result, int row, Request* out) {
  auto text = [&](int column) { return std::string(PQgetvalue(result, row, column)); };
  out->id = text(0);
  out->code = text(1);
  out->action_hash = text(2);
  out->agent = text(3);
  out->channel = text(4);
  out->input = text(5);
  out->cwd = text(6);
  out->reason = text(7);
  out->approvals_needed = static_cast<int>(ToInt(PQgetvalue(result, row, 8)));
  out->approvers = SplitApprovers(text(9));
  out->created_ms = ToInt(PQgetvalue(result, row, 11));
  out->expires_ms = ToInt(PQgetvalue(result, row, 12));
  out->denied_by = text(13);
  out->deny_reason = text(14);
  return ParseState(text(10), &out->state);
}

bool ReadRequests(const PGresult* result, std::vector<Request>* out, std::string* error) {
  const int rows = PQntuples(result);
  out->clear();
  out->reserve(static_cast<std::size_t>(rows));
  for (int row = 0; row < rows; ++row) {
    Request request;
    if (!ReadRequest(result, row, &request)) {
      if (error) *error = "corrupt request row";
      return false;
    }
    out->push_back(std::move(request));
  }
  return true;
}

const std::string kColumns = kRequestColumns;

class PostgresStore final : public Store {
 public:
  ~PostgresStore() override {
    if (conn_ != nullptr) PQfinish(conn_);
  }

  static std::unique_ptr<Store> Open(const std::string& uri, std::string* error) {
    std::unique_ptr<PostgresStore> store(new PostgresStore());
    if (!store->Init(uri, error)) return nullptr;
    return store;
  }

  bool Hold(const Request& request, Request* out, std::string* error) override {
    Request fresh;
    if (!PrepareNewRequest(request, &fresh, error)) return false;
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    // A code collision with a concurrent daemon surfaces as a unique
    // violation at INSERT: draw again in a new transaction.
    for (int attempt = 0; attempt < 8; ++attempt) {
      if (!Command("BEGIN", {}, error)) return false;
      // Two daemons holding the same action at once must agree on one request.
      Result locked = Query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                            {fresh.action_hash}, error);
      if (!locked) return Abort();
      Result live = Query("SELECT " + kColumns +
                              " FROM requests WHERE action_hash = $1"
                              " AND state IN ('pending', 'approved') AND expires_ms > $2"
                              " ORDER BY created_ms, id LIMIT 1",
                          {fresh.action_hash, std::to_string(fresh.created_ms)}, error);
      if (!live) return Abort();
      if (PQntuples(live.get()) == 1) {
        Request existing;
        if (!ReadRequest(live.get(), 0, &existing)) {
          if (error) *error = "corrupt request row";
          return Abort();
        }
        if (!Command("COMMIT", {}, error)) return Abort();
        if (out) *out = std::move(existing);
        return true;
      }
      Result taken =
          Query("SELECT 1 FROM requests WHERE id = $1 OR code = $2", {fresh.id, fresh.code}, error);
      if (!taken) return Abort();
      bool inserted = false;
      if (PQntuples(taken.get()) == 0) {
        std::string why;
        inserted = Command("INSERT INTO requests (" + kColumns +
                               ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
                               " $14, $15)",
                           {fresh.id, fresh.code, fresh.action_hash, fresh.agent, fresh.channel,
                            fresh.input, fresh.cwd, fresh.reason,
                            std::to_string(fresh.approvals_needed), JoinApprovers(fresh.approvers),
                            std::string(ToString(fresh.state)), std::to_string(fresh.created_ms),
                            std::to_string(fresh.expires_ms), fresh.denied_by, fresh.deny_reason},
                           &why);
        if (!inserted && last_sqlstate_ != "23505") {  // anything but unique_violation
          if (error) *error = why;
          return Abort();
        }
      }
      if (inserted && !fresh.details.empty() &&
          !Command("INSERT INTO items (kind, key, owner, value, counter, expires_ms)"
                   " VALUES ('hold', $1, $2, $3, 0, $4) ON CONFLICT (kind, key) DO UPDATE SET"
                   " value = excluded.value, expires_ms = excluded.expires_ms",
                   {fresh.id, DisplaySafe(fresh.agent), DisplaySafe(fresh.details),
                    std::to_string(fresh.expires_ms + kHoldDetailsKeepMs)},
                   error))
        return Abort();
      if (inserted) {
        if (!Command("COMMIT", {}, error)) return Abort();
        if (out) *out = std::move(fresh);
        return true;
      }
      Abort();
      fresh.id = NewRequestId();
      fresh.code = NewRequestCode();
    }
    if (error) *error = "could not draw a unique request code";
    return false;
  }

  bool ConsumeApproval(const std::string& action_hash, std::int64_t now_ms, Request* out,
                       std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    // One statement, so one implicit transaction: the row lock makes a
    // concurrent consumer either skip the row or see it already consumed.
    Result consumed = Query(
        "UPDATE requests SET state = 'consumed' WHERE id = ("
        " SELECT id FROM requests WHERE action_hash = $1 AND state = 'approved'"
        " AND expires_ms > $2 ORDER BY created_ms, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
        " AND state = 'approved' RETURNING " +
            kColumns,
        {action_hash, std::to_string(now_ms)}, error);
    if (!consumed) return false;
    if (PQntuples(consumed.get()) != 1) {
      if (error) *error = std::string(kNoApproval);
      return false;
    }
    Request request;
    if (!ReadRequest(consumed.get(), 0, &request)) {
      if (error) *error = "corrupt request row";
      return false;
    }
    if (out) *out = std::move(request);
    return true;
  }

  bool Approve(const std::string& id_or_code, const std::string& approver, std::int64_t now_ms,
               Request* out, std::string* error, const TotpSpend* spend) override {
    if (!ValidName(approver)) {
      if (error) *error = "invalid approver name";
      return false;
    }
    return Decide(
        id_or_code, out, error,
        [&](Request* request, std::string* why) {
          return ApplyApproval(request, approver, now_ms, why);
        },
        spend);
  }

  bool ReleaseConsumption(const std::string& id, std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    Result released = Query(
        "UPDATE requests SET state = 'approved' WHERE id = $1 AND state = 'consumed'", {id}, error);
    if (!released) return false;
    if (std::string(PQcmdTuples(released.get())) != "1") {
      if (error) *error = "request " + id + " is not consumed";
      return false;
    }
    return true;
  }

  bool Deny(const std::string& id_or_code, const std::string& approver, const std::string& reason,
            std::int64_t now_ms, Request* out, std::string* error) override {
    if (!ValidName(approver)) {
      if (error) *error = "invalid approver name";
      return false;
    }
    return Decide(id_or_code, out, error, [&](Request* request, std::string* why) {
      return ApplyDenial(request, approver, reason, now_ms, why);
    });
  }

  bool Get(const std::string& id_or_code, Request* out, std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    const std::string key = DisplaySafe(NormaliseIdOrCode(id_or_code));
    Result found =
        Query("SELECT " + kColumns + " FROM requests WHERE id = $1 OR code = $1", {key}, error);
    if (!found) return false;
    if (PQntuples(found.get()) != 1) {
      if (error) *error = "no request " + key;
      return false;
    }
    Request request;
    if (!ReadRequest(found.get(), 0, &request)) {
      if (error) *error = "corrupt request row";
      return false;
    }
    if (out) *out = std::move(request);
    return true;
  }

  bool Pending(std::int64_t now_ms, std::vector<Request>* out, std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    Result pending = Query("SELECT " + kColumns +
                               " FROM requests WHERE state = 'pending' AND expires_ms > $1"
                               " ORDER BY created_ms, id",
                           {std::to_string(now_ms)}, error);
    if (!pending) return false;
    std::vector<Request> rows;
    if (!ReadRequests(pending.get(), &rows, error)) return false;
    if (out) *out = std::move(rows);
    return true;
  }

  bool Expire(std::int64_t now_ms, std::vector<Request>* expired, std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    Result rows_result = Query(
        "UPDATE requests SET state = 'expired'"
        " WHERE state IN ('pending', 'approved') AND expires_ms <= $1"
        " RETURNING " +
            kColumns,
        {std::to_string(now_ms)}, error);
    if (!rows_result) return false;
    std::vector<Request> rows;
    if (!ReadRequests(rows_result.get(), &rows, error)) return false;
    // Failure counts nobody needs any more (see LockoutPolicy).
    if (!Command("DELETE FROM auth_failures WHERE locked_until_ms <= $1"
                 " AND (failures = 0 OR last_failure_ms <= $2)",
                 {std::to_string(now_ms), std::to_string(now_ms - LockoutPolicy{}.forget_after_ms)},
                 error))
      return false;
    if (expired) *expired = std::move(rows);
    return true;
  }

  bool AddApprover(const std::string& name, const std::string& secret, std::string* error,
                   bool only_if_first, const TotpSpend* spend) override {
    std::vector<unsigned char> key;
    if (!ValidName(name)) {
      if (error) *error = "invalid approver name";
      return false;
    }
    if (!Base32Decode(secret, &key) || key.size() < 10) {
      if (error) *error = "the TOTP secret must be base32, at least 80 bits";
      return false;
    }
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    if (!Command("BEGIN", {}, error)) return false;
    // Enrolments and removals take turns: "is there an approver yet" and
    // "is this the last one" must not race between daemons.
    if (!Command("SELECT pg_advisory_xact_lock(7360508357174116401)", {}, error)) return Abort();
    if (only_if_first) {
      Result count = Query("SELECT count(*) FROM approvers", {}, error);
      if (!count) return Abort();
      if (ToInt(PQgetvalue(count.get(), 0, 0)) > 0) {
        if (error)
          *error =
              "an approver is already enrolled; another needs an existing approver's code "
              "(--as NAME --code CODE)";
        return Abort();
      }
    }
    if (!Spend(spend, error)) return Abort();
    Result added = Query(
        "INSERT INTO approvers (name, secret, last_step) VALUES ($1, $2, -1)"
        " ON CONFLICT (name) DO NOTHING",
        {name, secret}, error);
    if (!added) return Abort();
    if (std::string(PQcmdTuples(added.get())) != "1") {
      if (error) *error = "approver " + name + " already exists";
      return Abort();
    }
    return Command("COMMIT", {}, error) || Abort();
  }

  bool RemoveApprover(const std::string& name, const TotpSpend* spend,
                      std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    const std::string key = DisplaySafe(name);
    if (!Command("BEGIN", {}, error)) return false;
    if (!Command("SELECT pg_advisory_xact_lock(7360508357174116401)", {}, error)) return Abort();
    Result found = Query(
        "SELECT (SELECT count(*) FROM approvers WHERE name = $1),"
        " (SELECT count(*) FROM approvers)",
        {key}, error);
    if (!found) return Abort();
    if (ToInt(PQgetvalue(found.get(), 0, 0)) != 1) {
      if (error) *error = "no approver " + key;
      return Abort();
    }
    if (ToInt(PQgetvalue(found.get(), 0, 1)) <= 1) {
      if (error)
        *error = "cannot remove " + key +
                 ", the last approver: nobody could approve; enrol another first";
      return Abort();
    }
    if (!Spend(spend, error)) return Abort();
    if (!Command("DELETE FROM approvers WHERE name = $1", {key}, error)) return Abort();
    if (!Command("DELETE FROM items WHERE kind = 'passkey' AND owner = $1", {key}, error))
      return Abort();
    return Command("COMMIT", {}, error) || Abort();
  }

  bool RotateApprover(const std::string& name, const std::string& secret, const TotpSpend* spend,
                      std::string* error) override {
    std::vector<unsigned char> bytes;
    if (!Base32Decode(secret, &bytes) || bytes.size() < 10) {
      if (error) *error = "the TOTP secret must be base32, at least 80 bits";
      return false;
    }
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    const std::string key = DisplaySafe(name);
    if (!Command("BEGIN", {}, error)) return false;
    if (!Spend(spend, error)) return Abort();
    Result rotated =
        Query("UPDATE approvers SET secret = $2 WHERE name = $1", {key, secret}, error);
    if (!rotated) return Abort();
    if (std::string(PQcmdTuples(rotated.get())) != "1") {
      if (error) *error = "no approver " + key;
      return Abort();
    }
    return Command("COMMIT", {}, error) || Abort();
  }

  bool ApproverSecret(const std::string& name, std::string* secret, std::string* error,
                      std::int64_t* last_step) override {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    const std::string key = DisplaySafe(name);
    Result found = Query("SELECT secret, last_step FROM approvers WHERE name = $1", {key}, error);
    if (!found) return false;
    if (PQntuples(found.get()) != 1) {
      if (error) *error = "no approver " + key;
      return false;
    }
    if (secret) *secret = PQgetvalue(found.get(), 0, 0);
    if (last_step) *last_step = ToInt(PQgetvalue(found.get(), 0, 1));
    return true;
  }

  bool BeginAuthAttempt(const std::vector<std::string>& scopes, std::int64_t now_ms,
                        const LockoutPolicy& policy, bool* locked, std::vector<Lockout>* before,
                        std::vector<Lockout>* after, std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    if (!Command("BEGIN", {}, error)) return false;
    std::vector<Lockout> rows;
    // Rows are created, then locked in sorted order: attempts from several
    // daemons at once count one after another, never twice from one state.
    for (const std::string& scope : SortedScopes(scopes)) {
      Lockout row;
      row.scope = DisplaySafe(scope);
      if (!Command("INSERT INTO auth_failures (scope, failures, locked_until_ms, last_failure_ms)"
                   " VALUES ($1, 0, 0, 0) ON CONFLICT (scope) DO NOTHING",
                   {row.scope}, error))
        return Abort();
      Result found = Query(
          "SELECT failures, locked_until_ms, last_failure_ms FROM auth_failures WHERE scope = $1"
          " FOR UPDATE",
          {row.scope}, error);
      if (!found) return Abort();
      if (PQntuples(found.get()) == 1) {
        row.failures = static_cast<int>(ToInt(PQgetvalue(found.get(), 0, 0)));
        row.locked_until_ms = ToInt(PQgetvalue(found.get(), 0, 1));
        row.last_failure_ms = ToInt(PQgetvalue(found.get(), 0, 2));
      }
      rows.push_back(std::move(row));
    }
    *locked = false;
    for (const Lockout& row : rows) *locked = *locked || IsLocked(row, now_ms);
    if (*locked) {
      Abort();
      if (before) *before = rows;
      if (after) *after = std::move(rows);
      return true;
    }
    std::vector<Lockout> counted;
    for (const Lockout& row : rows) {
      Lockout next = CountFailure(row, now_ms, policy);
      if (!Command("UPDATE auth_failures SET failures = $2, locked_until_ms = $3,"
                   " last_failure_ms = $4 WHERE scope = $1",
                   {next.scope, std::to_string(next.failures), std::to_string(next.locked_until_ms),
                    std::to_string(next.last_failure_ms)},
                   error))
        return Abort();
      counted.push_back(std::move(next));
    }
    if (!Command("COMMIT", {}, error)) return Abort();
    if (before) *before = std::move(rows);
    if (after) *after = std::move(counted);
    return true;
  }

  bool ForgiveAuthAttempt(const std::vector<Lockout>& before, const std::vector<Lockout>& after,
                          std::string* error) override {
    if (before.size() != after.size()) {
      if (error) *error = "ForgiveAuthAttempt: rows do not pair up";
      return false;
    }
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    if (!Command("BEGIN", {}, error)) return false;
    for (std::size_t i = 0; i < before.size(); ++i) {
      if (!Command(
              "UPDATE auth_failures SET failures = $2, locked_until_ms = $3,"
              " last_failure_ms = $4 WHERE scope = $1 AND failures = $5"
              " AND locked_until_ms = $6 AND last_failure_ms = $7",
              {after[i].scope, std::to_string(before[i].failures),
               std::to_string(before[i].locked_until_ms), std::to_string(before[i].last_failure_ms),
               std::to_string(after[i].failures), std::to_string(after[i].locked_until_ms),
               std::to_string(after[i].last_failure_ms)},
              error))
        return Abort();
    }
    return Command("COMMIT", {}, error) || Abort();
  }

  bool Lockouts(std::int64_t now_ms, const LockoutPolicy& policy, std::vector<Lockout>* out,
                std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    Result found = Query(
        "SELECT scope, failures, locked_until_ms, last_failure_ms FROM auth_failures"
        " WHERE failures > 0 AND (last_failure_ms > $1 OR locked_until_ms > $2) ORDER BY scope",
        {std::to_string(now_ms - policy.forget_after_ms), std::to_string(now_ms)}, error);
    if (!found) return false;
    std::vector<Lockout> rows;
    for (int row = 0; row < PQntuples(found.get()); ++row) {
      rows.push_back(Lockout{
          PQgetvalue(found.get(), row, 0), static_cast<int>(ToInt(PQgetvalue(found.get(), row, 1))),
          ToInt(PQgetvalue(found.get(), row, 2)), ToInt(PQgetvalue(found.get(), row, 3))});
    }
    if (out) *out = std::move(rows);
    return true;
  }

  bool RememberAuditSeal(const AuditSeal& seal, std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    return Command(
        "INSERT INTO audit_checkpoints (log_id, seq, hash, sig, public_key, time_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (log_id, seq) DO UPDATE SET"
        " hash = excluded.hash, sig = excluded.sig, public_key = excluded.public_key,"
        " time_ms = excluded.time_ms",
        {DisplaySafe(seal.log_id), std::to_string(seal.seq), seal.hash, seal.sig, seal.public_key,
         std::to_string(seal.time_ms)},
        error);
  }

  bool LastAuditSeal(const std::string& log_id, AuditSeal* out, bool* found,
                     std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    Result last = Query(
        "SELECT seq, hash, sig, public_key, time_ms FROM audit_checkpoints WHERE log_id = $1"
        " ORDER BY seq DESC LIMIT 1",
        {DisplaySafe(log_id)}, error);
    if (!last) return false;
    *found = PQntuples(last.get()) == 1;
    if (*found && out) {
      out->log_id = log_id;
      out->seq = static_cast<std::uint64_t>(ToInt(PQgetvalue(last.get(), 0, 0)));
      out->hash = PQgetvalue(last.get(), 0, 1);
      out->sig = PQgetvalue(last.get(), 0, 2);
      out->public_key = PQgetvalue(last.get(), 0, 3);
      out->time_ms = ToInt(PQgetvalue(last.get(), 0, 4));
    }
    return true;
  }

  bool Approvers(std::vector<std::string>* names, std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    Result found = Query("SELECT name FROM approvers ORDER BY name", {}, error);
    if (!found) return false;
    std::vector<std::string> rows;
    for (int row = 0; row < PQntuples(found.get()); ++row) {
      rows.emplace_back(PQgetvalue(found.get(), row, 0));
    }
    if (names) *names = std::move(rows);
    return true;
  }

  bool UseTotpStep(const std::string& name, std::int64_t step, std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    const std::string key = DisplaySafe(name);
    // Conditional UPDATE: of two daemons checking the same code, one wins.
    Result used = Query("UPDATE approvers SET last_step = $2 WHERE name = $1 AND last_step < $2",
                        {key, std::to_string(step)}, error);
    if (!used) return false;
    if (std::string(PQcmdTuples(used.get())) == "1") return true;
    Result exists = Query("SELECT 1 FROM approvers WHERE name = $1", {key}, error);
    if (!exists) return false;
    if (error) {
      *error = PQntuples(exists.get()) == 1
                   ? "this TOTP code was already used; wait for the next one"
                   : "no approver " + key;
    }
    return false;
  }

  bool SetFrozen(const std::string& agent, bool frozen, const std::string& why, std::string* error,
                 const TotpSpend* spend) override {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    const bool spending = spend != nullptr && spend->step >= 0;
    if (spending && !Command("BEGIN", {}, error)) return false;
    if (!Spend(spend, error)) return Abort();
    if (!Command(
            "INSERT INTO frozen_agents (agent, frozen, why, updated_ms) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (agent) DO UPDATE SET frozen = excluded.frozen, why = excluded.why,"
            " updated_ms = excluded.updated_ms",
            {DisplaySafe(agent), frozen ? "1" : "0", DisplaySafe(why), std::to_string(NowMs())},
            error))
      return spending ? Abort() : false;
    return !spending || Command("COMMIT", {}, error) || Abort();
  }

  bool HasApproval(const std::string& action_hash, std::int64_t now_ms, bool* approved,
                   std::string* error, std::string* id) override {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    Result found = Query(
        "SELECT id FROM requests WHERE action_hash = $1 AND state = 'approved' AND expires_ms > $2"
        " LIMIT 1",
        {action_hash, std::to_string(now_ms)}, error);
    if (!found) return false;
    *approved = PQntuples(found.get()) == 1;
    if (id != nullptr) *id = *approved ? std::string(PQgetvalue(found.get(), 0, 0)) : std::string();
    return true;
  }

  bool IsFrozen(const std::string& agent, bool* frozen, std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    Result found =
        Query("SELECT frozen FROM frozen_agents WHERE agent = $1", {DisplaySafe(agent)}, error);
    if (!found) return false;
    if (frozen) {
      *frozen = PQntuples(found.get()) == 1 && ToInt(PQgetvalue(found.get(), 0, 0)) != 0;
    }
    return true;
  }

  bool Freezes(std::vector<Freeze>* out, std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    Result found = Query(
        "SELECT agent, frozen, why, updated_ms FROM frozen_agents ORDER BY updated_ms", {}, error);
    if (!found) return false;
    std::vector<Freeze> rows;
    for (int row = 0; row < PQntuples(found.get()); ++row)
      rows.push_back(
          Freeze{PQgetvalue(found.get(), row, 0), ToInt(PQgetvalue(found.get(), row, 1)) != 0,
                 PQgetvalue(found.get(), row, 2), ToInt(PQgetvalue(found.get(), row, 3))});
    *out = std::move(rows);
    return true;
  }

  bool PutItem(const Item& item, bool replace, std::int64_t now_ms, std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    if (!Command("DELETE FROM items WHERE expires_ms > 0 AND expires_ms <= $1",
                 {std::to_string(now_ms)}, error))
      return false;
    Result put = Query(
        "INSERT INTO items (kind, key, owner, value, counter, expires_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, key) " +
            std::string(replace ? "DO UPDATE SET owner = excluded.owner, value = excluded.value,"
                                  " counter = excluded.counter, expires_ms = excluded.expires_ms"
                                : "DO NOTHING"),
        {DisplaySafe(item.kind), DisplaySafe(item.key), DisplaySafe(item.owner),
         DisplaySafe(item.value), std::to_string(item.counter), std::to_string(item.expires_ms)},
        error);
    if (!put) return false;
    if (!replace && std::string(PQcmdTuples(put.get())) != "1") {
      if (error) *error = "exists";
      return false;
    }
    return true;
  }

  bool GetItem(const std::string& kind, const std::string& key, std::int64_t now_ms, Item* out,
               bool* found, std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    Result got = Query("SELECT " + kItemColumns +
                           " FROM items WHERE kind = $1 AND key = $2"
                           " AND (expires_ms = 0 OR expires_ms > $3)",
                       {DisplaySafe(kind), DisplaySafe(key), std::to_string(now_ms)}, error);
    if (!got) return false;
    *found = PQntuples(got.get()) == 1;
    if (*found && out != nullptr) *out = ReadItem(got.get(), 0);
    return true;
  }

  bool ListItems(const std::string& kind, const std::string& owner, std::int64_t now_ms,
                 std::vector<Item>* out, std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    Result list = Query("SELECT " + kItemColumns +
                            " FROM items WHERE kind = $1 AND ($2 = '' OR owner = $2)"
                            " AND (expires_ms = 0 OR expires_ms > $3) ORDER BY key",
                        {DisplaySafe(kind), DisplaySafe(owner), std::to_string(now_ms)}, error);
    if (!list) return false;
    out->clear();
    for (int row = 0; row < PQntuples(list.get()); ++row) out->push_back(ReadItem(list.get(), row));
    return true;
  }

  bool DeleteItem(const std::string& kind, const std::string& key, bool* deleted,
                  std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    Result removed = Query("DELETE FROM items WHERE kind = $1 AND key = $2",
                           {DisplaySafe(kind), DisplaySafe(key)}, error);
    if (!removed) return false;
    if (deleted != nullptr) *deleted = std::string(PQcmdTuples(removed.get())) != "0";
    return true;
  }

  bool TakeItem(const std::string& kind, const std::string& key, std::int64_t now_ms, Item* out,
                bool* found, std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    // One statement: of two daemons taking the same item, one gets it.
    Result taken = Query(
        "DELETE FROM items WHERE kind = $1 AND key = $2"
        " AND (expires_ms = 0 OR expires_ms > $3) RETURNING " +
            kItemColumns,
        {DisplaySafe(kind), DisplaySafe(key), std::to_string(now_ms)}, error);
    if (!taken) return false;
    *found = PQntuples(taken.get()) == 1;
    if (*found && out != nullptr) *out = ReadItem(taken.get(), 0);
    return true;
  }

  bool AdvanceItemCounter(const std::string& kind, const std::string& key, std::int64_t from,
                          std::int64_t to, bool* advanced, std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    Result updated = Query(
        "UPDATE items SET counter = $4 WHERE kind = $1 AND key = $2"
        " AND counter = $3",
        {DisplaySafe(kind), DisplaySafe(key), std::to_string(from), std::to_string(to)}, error);
    if (!updated) return false;
    *advanced = std::string(PQcmdTuples(updated.get())) == "1";
    return true;
  }

 private:
  PostgresStore() = default;

  inline static const std::string kItemColumns = "kind, key, owner, value, counter, expires_ms";
  static Item ReadItem(const PGresult* result, int row) {
    return Item{PQgetvalue(result, row, 0),        PQgetvalue(result, row, 1),
                PQgetvalue(result, row, 2),        PQgetvalue(result, row, 3),
                ToInt(PQgetvalue(result, row, 4)), ToInt(PQgetvalue(result, row, 5))};
  }

  bool Init(const std::string& uri, std::string* error) {
    if (!Pq().loaded) {
      if (error)
        *error =
            "the PostgreSQL client library libpq.so.5 (Debian package libpq5) cannot be loaded";
      return false;
    }
    // Ours first: settings in the URI override them (expand_dbname).
    const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* values[] = {"10", "dualkey", uri.c_str(), nullptr};
    conn_ = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
      if (error) *error = "cannot connect to PostgreSQL: " + Trimmed(PQerrorMessage(conn_));
      return false;
    }
    return Prepare(error);
  }

  // Session settings and the schema; run again after a reconnect.
  bool Prepare(std::string* error) {
    // Durable before any reply, whatever the server's default.
    if (!Command("SET synchronous_commit = on", {}, error)) return false;
    if (!Command("SET client_min_messages = warning", {}, error)) return false;
    if (schema_ready_) return true;
    // CREATE TABLE IF NOT EXISTS races between daemons starting together.
    if (!Command("BEGIN", {}, error)) return false;
    if (!Command("SELECT pg_advisory_xact_lock(7360508357174116400)", {}, error)) return Abort();
    for (const char* statement : kSchema) {
      if (!Command(statement, {}, error)) return Abort();
    }
    if (!Command("COMMIT", {}, error)) return Abort();
    schema_ready_ = true;
    return true;
  }

  bool Connected(std::string* error) {
    if (PQstatus(conn_) == CONNECTION_OK) return true;
    PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK) {
      if (error) *error = "lost the PostgreSQL connection: " + Trimmed(PQerrorMessage(conn_));
      return false;
    }
    return Prepare(error);
  }

  // Runs one parameterised statement; null (with `error`) unless it succeeded.
  Result Query(const std::string& sql, const std::vector<std::string>& params, std::string* error) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const std::string& param : params) values.push_back(param.c_str());
    Result result(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, /*resultFormat=*/0));
    last_sqlstate_.clear();
    const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
    if (result) {
      const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
      if (state) last_sqlstate_ = state;
    }
    if (error) {
      *error = "postgresql: " +
               Trimmed(result ? PQresultErrorMessage(result.get()) : PQerrorMessage(conn_));
    }
    return nullptr;
  }

  bool Command(const std::string& sql, const std::vector<std::string>& params, std::string* error) {
    return Query(sql, params, error) != nullptr;
  }

  // Ends a failed transaction; always returns false for `return Abort();`.
  bool Abort() {
    Result ignored(PQexec(conn_, "ROLLBACK"));
    return false;
  }

  // Inside an open transaction: uses up a verified TOTP step (a conditional
  // UPDATE: of two daemons spending one code, one wins), or fails.
  bool Spend(const TotpSpend* spend, std::string* error) {
    if (spend == nullptr || spend->step < 0) return true;
    Result used = Query("UPDATE approvers SET last_step = $2 WHERE name = $1 AND last_step < $2",
                        {DisplaySafe(spend->approver), std::to_string(spend->step)}, error);
    if (!used) return false;
    if (std::string(PQcmdTuples(used.get())) == "1") return true;
    if (error) *error = "this TOTP code was already used; wait for the next one";
    return false;
  }

  template <typename Apply>
  bool Decide(const std::string& id_or_code, Request* out, std::string* error, Apply apply,
              const TotpSpend* spend = nullptr) {
    std::lock_guard lock(mu_);
    if (!Connected(error)) return false;
    const std::string key = DisplaySafe(NormaliseIdOrCode(id_or_code));
    if (!Command("BEGIN", {}, error)) return false;
    Result found =
        Query("SELECT " + kColumns + " FROM requests WHERE id = $1 OR code = $1 FOR UPDATE", {key},
              error);
    if (!found) return Abort();
    if (PQntuples(found.get()) != 1) {
      if (error) *error = "no request " + key;
      return Abort();
    }
    Request request;
    if (!ReadRequest(found.get(), 0, &request)) {
      if (error) *error = "corrupt request row";
      return Abort();
    }
    std::string why;
    const Transition transition = apply(&request, &why);
    if (transition == Transition::kFail) {
      if (error) *error = why;
      return Abort();
    }
    if (transition == Transition::kUpdate && !Spend(spend, error)) return Abort();
    if (!Command("UPDATE requests SET approvers = $2, state = $3, denied_by = $4,"
                 " deny_reason = $5 WHERE id = $1",
                 {request.id, JoinApprovers(request.approvers),
                  std::string(ToString(request.state)), request.denied_by, request.deny_reason},
                 error)) {
      return Abort();
    }
    if (!Command("COMMIT", {}, error)) return Abort();
    if (out) *out = request;
    if (transition == Transition::kUpdateAndFail) {
      if (error) *error = why;
      return false;
    }
    return true;
  }

  std::mutex mu_;
  PGconn* conn_ = nullptr;
  bool schema_ready_ = false;
  std::string last_sqlstate_;
};

}  // namespace

std::unique_ptr<Store> OpenPostgresStore(const std::string& uri, std::string* error) {
  return PostgresStore::Open(uri, error);
}

}  // namespace dualkey::approval::internal
