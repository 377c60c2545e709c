// The default store: one SQLite file in the state directory. WAL with
// synchronous=FULL and every mutation in its own BEGIN IMMEDIATE
// transaction, so a call that returned true survives a crash, and daemons
// (or threads) sharing the file serialise on the write lock.
#include <sqlite3.h>

#include <array>
#include <mutex>

#include "approval/approval.h"
#include "approval/internal.h"

namespace dualkey::approval::internal {
namespace {

enum Query : int {
  kFindLive,
  kCodeTaken,
  kInsert,
  kFindByIdOrCode,
  kUpdateDecision,
  kConsume,
  kPending,
  kExpire,
  kAddApprover,
  kApproverSecret,
  kApproverNames,
  kUseStep,
  kApproverExists,
  kSetFrozen,
  kIsFrozen,
  kHasApproval,
  kFreezes,
  kRelease,
  kApproverCount,
  kRemoveApprover,
  kRotateApprover,
  kAuthRow,
  kAuthUpsert,
  kAuthForgive,
  kAuthList,
  kAuthForget,
  kSealRemember,
  kSealLast,
  kItemInsert,
  kItemReplace,
  kItemGet,
  kItemList,
  kItemListAll,
  kItemDelete,
  kItemTake,
  kItemAdvance,
  kItemPurge,
  kItemDeleteOwned,
  kQueryCount
};

std::string Sql(Query query) {
  const std::string columns = kRequestColumns;
  switch (query) {
    case kFindLive:
      return "SELECT " + columns +
             " FROM requests WHERE action_hash = ?1 AND state IN ('pending', 'approved')"
             " AND expires_ms > ?2 ORDER BY created_ms, rowid LIMIT 1";
    case kCodeTaken:
      return "SELECT 1 FROM requests WHERE id = ?1 OR code = ?2";
    case kInsert:
      return "INSERT INTO requests (" + columns +
             ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
    case kFindByIdOrCode:
      return "SELECT " + columns + " FROM requests WHERE id = ?1 OR code = ?1";
    case kUpdateDecision:
      return "UPDATE requests SET approvers = ?2, state = ?3, denied_by = ?4, deny_reason = ?5"
             " WHERE id = ?1";
    case kConsume:
      return "UPDATE requests SET state = 'consumed' WHERE id = (SELECT id FROM requests"
             " WHERE action_hash = ?1 AND state = 'approved' AND expires_ms > ?2"
             " ORDER BY created_ms, rowid LIMIT 1) AND state = 'approved' RETURNING " +
             columns;
    case kPending:
      return "SELECT " + columns +
             " FROM requests WHERE state = 'pending' AND expires_ms > ?1"
             " ORDER BY created_ms, rowid";
    case kExpire:
      return "UPDATE requests SET state = 'expired' WHERE state IN ('pending', 'approved')"
             " AND expires_ms <= ?1 RETURNING " +
             columns;
    case kAddApprover:
      return "INSERT INTO approvers (name, secret, last_step) VALUES (?1, ?2, -1)"
             " ON CONFLICT (name) DO NOTHING";
    case kApproverSecret:
      return "SELECT secret, last_step FROM approvers WHERE name = ?1";
    case kApproverNames:
      return "SELECT name FROM approvers ORDER BY name";
    case kUseStep:
      return "UPDATE approvers SET last_step = ?2 WHERE name = ?1 AND last_step < ?2";
    case kApproverExists:
      return "SELECT 1 FROM approvers WHERE name = ?1";
    case kSetFrozen:
      return "INSERT INTO frozen_agents (agent, frozen, why, updated_ms) VALUES (?1, ?2, ?3, ?4)"
             " ON CONFLICT (agent) DO UPDATE SET frozen = excluded.frozen, why = excluded.why,"
             " updated_ms = excluded.updated_ms";
    case kIsFrozen:
      return "SELECT frozen FROM frozen_agents WHERE agent = ?1";
    case kHasApproval:
      return "SELECT id FROM requests WHERE action_hash = ?1 AND state = 'approved'"
             " AND expires_ms > ?2 LIMIT 1";
    case kFreezes:
      return "SELECT agent, frozen, why, updated_ms FROM frozen_agents ORDER BY updated_ms";
    case kRelease:
      return "UPDATE requests SET state = 'approved' WHERE id = ?1 AND state = 'consumed'";
    case kApproverCount:
      return "SELECT count(*) FROM approvers";
    case kRemoveApprover:
      return "DELETE FROM approvers WHERE name = ?1";
    case kRotateApprover:
      return "UPDATE approvers SET secret = ?2 WHERE name = ?1";
    case kAuthRow:
      return "SELECT failures, locked_until_ms, last_failure_ms FROM auth_failures WHERE scope = "
             "?1";
    case kAuthUpsert:
      return "INSERT INTO auth_failures (scope, failures, locked_until_ms, last_failure_ms)"
             " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (scope) DO UPDATE SET"
             " failures = excluded.failures, locked_until_ms = excluded.locked_until_ms,"
             " last_failure_ms = excluded.last_failure_ms";
    case kAuthForgive:
      return "UPDATE auth_failures SET failures = ?2, locked_until_ms = ?3, last_failure_ms = ?4"
             " WHERE scope = ?1 AND failures = ?5 AND locked_until_ms = ?6"
             " AND last_failure_ms = ?7";
    case kAuthList:
      return "SELECT scope, failures, locked_until_ms, last_failure_ms FROM auth_failures"
             " WHERE failures > 0 AND (last_failure_ms > ?1 OR locked_until_ms > ?2)"
             " ORDER BY scope";
    case kAuthForget:
      return "DELETE FROM auth_failures WHERE locked_until_ms <= ?1"
             " AND (failures = 0 OR last_failure_ms <= ?2)";
    case kSealRemember:
      return "INSERT INTO audit_checkpoints (log_id, seq, hash, sig, public_key, time_ms)"
             " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (log_id, seq) DO UPDATE SET"
             " hash = excluded.hash, sig = excluded.sig, public_key = excluded.public_key,"
             " time_ms = excluded.time_ms";
    case kSealLast:
      return "SELECT seq, hash, sig, public_key, time_ms FROM audit_checkpoints"
             " WHERE log_id = ?1 ORDER BY seq DESC LIMIT 1";
    case kItemInsert:
      return "INSERT INTO items (kind, key, owner, value, counter, expires_ms)"
             " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (kind, key) DO NOTHING";
    case kItemReplace:
      return "INSERT INTO items (kind, key, owner, value, counter, expires_ms)"
             " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (kind, key) DO UPDATE SET"
             " owner = excluded.owner, value = excluded.value, counter = excluded.counter,"
             " expires_ms = excluded.expires_ms";
    case kItemGet:
      return "SELECT kind, key, owner, value, counter, expires_ms FROM items"
             " WHERE kind = ?1 AND key = ?2 AND (expires_ms = 0 OR expires_ms > ?3)";
    case kItemList:
      return "SELECT kind, key, owner, value, counter, expires_ms FROM items"
             " WHERE kind = ?1 AND owner = ?2 AND (expires_ms = 0 OR expires_ms > ?3) ORDER BY key";
    case kItemListAll:
      return "SELECT kind, key, owner, value, counter, expires_ms FROM items"
             " WHERE kind = ?1 AND (expires_ms = 0 OR expires_ms > ?2) ORDER BY key";
    case kItemDelete:
      return "DELETE FROM items WHERE kind = ?1 AND key = ?2";
    case kItemTake:
      return "DELETE FROM items WHERE kind = ?1 AND key = ?2 AND (expires_ms = 0 OR expires_ms > "
             "?3)"
             " RETURNING kind, key, owner, value, counter, expires_ms";
    case kItemAdvance:
      return "UPDATE items SET counter = ?4 WHERE kind = ?1 AND key = ?2 AND counter = ?3";
    case kItemPurge:
      return "DELETE FROM items WHERE expires_ms > 0 AND expires_ms <= ?1";
    case kItemDeleteOwned:
      return "DELETE FROM items WHERE kind = ?1 AND owner = ?2";
    case kQueryCount:
      break;
  }
  return {};
}

// A cached prepared statement in use: bound, stepped, reset when done.
class Use {
 public:
  explicit Use(sqlite3_stmt* statement) : statement_(statement) {}
  ~Use() {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;

  Use& Bind(int index, const std::string& text) {
    sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Use& Bind(int index, std::int64_t value) {
    sqlite3_bind_int64(statement_, index, value);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(statement_); }
  std::string Text(int column) const {
    const auto* text = sqlite3_column_text(statement_, column);
    return text ? std::string(reinterpret_cast<const char*>(text),
                              static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)))
                : std::string();
  }
  std::int64_t Int(int column) const { return sqlite3_column_int64(statement_, column); }

  bool ReadRequest(Request* out) const {
    out->id = Text(0);
    out->code = Text(1);
    out->action_hash = Text(2);
    out->agent = Text(3);
    out->channel = Text(4);
    out->input = Text(5);
    out->cwd = Text(6);
    out->reason = Text(7);
    out->approvals_needed = static_cast<int>(Int(8));
    out->approvers = SplitApprovers(Text(9));
    out->created_ms = Int(11);
    out->expires_ms = Int(12);
    out->denied_by = Text(13);
    out->deny_reason = Text(14);
    return ParseState(Text(10), &out->state);
  }

 private:
  sqlite3_stmt* statement_;
};

class SqliteStore final : public Store {
 public:
  ~SqliteStore() override {
    for (sqlite3_stmt* statement : statements_) sqlite3_finalize(statement);
    sqlite3_close(db_);
  }

  static std::unique_ptr<Store> Open(const std::string& path, std::string* error) {
    std::unique_ptr<SqliteStore> store(new SqliteStore());
    if (!store->Init(path, error)) return nullptr;
    return store;
  }

  bool Hold(const Request& request, Request* out, std::string* error) override {
    Request fresh;
    if (!PrepareNewRequest(request, &fresh, error)) return false;
    std::lock_guard lock(mu_);
    if (!Begin(error)) return false;
    Request existing;
    bool found = false;
    {
      Use find(statements_[kFindLive]);
      find.Bind(1, fresh.action_hash).Bind(2, fresh.created_ms);
      const int rc = find.Step();
      if (rc == SQLITE_ROW) {
        if (!find.ReadRequest(&existing)) return Fail("corrupt request row", error);
        found = true;
      } else if (rc != SQLITE_DONE) {
        return Fail(nullptr, error);
      }
    }
    if (found) {
      Rollback();  // nothing written
      if (out) *out = std::move(existing);
      return true;
    }
    // Codes are short, so a collision with any request ever stored is
    // possible; draw again rather than make a code ambiguous.
    for (int attempt = 0;; ++attempt) {
      Use taken(statements_[kCodeTaken]);
      taken.Bind(1, fresh.id).Bind(2, fresh.code);
      const int rc = taken.Step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return Fail(nullptr, error);
      if (attempt == 16) return Fail("could not draw a unique request code", error);
      fresh.id = NewRequestId();
      fresh.code = NewRequestCode();
    }
    {
      Use insert(statements_[kInsert]);
      insert.Bind(1, fresh.id)
          .Bind(2, fresh.code)
          .Bind(3, fresh.action_hash)
          .Bind(4, fresh.agent)
          .Bind(5, fresh.channel)
          .Bind(6, fresh.input)
          .Bind(7, fresh.cwd)
          .Bind(8, fresh.reason)
          .Bind(9, static_cast<std::int64_t>(fresh.approvals_needed))
          .Bind(10, JoinApprovers(fresh.approvers))
          .Bind(11, std::string(ToString(fresh.state)))
          .Bind(12, fresh.created_ms)
          .Bind(13, fresh.expires_ms)
          .Bind(14, fresh.denied_by)
          .Bind(15, fresh.deny_reason);
      if (insert.Step() != SQLITE_DONE) return Fail(nullptr, error);
    }
    if (!fresh.details.empty()) {
      Use put(statements_[kItemReplace]);
      put.Bind(1, std::string("hold"))
          .Bind(2, fresh.id)
          .Bind(3, fresh.agent)
          .Bind(4, fresh.details)
          .Bind(5, std::int64_t{0})
          .Bind(6, fresh.expires_ms + kHoldDetailsKeepMs);
      if (put.Step() != SQLITE_DONE) return Fail(nullptr, error);
    }
    if (!Commit(error)) return false;
    if (out) *out = std::move(fresh);
    return true;
  }

  bool ConsumeApproval(const std::string& action_hash, std::int64_t now_ms, Request* out,
                       std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Begin(error)) return false;
    Request consumed;
    bool found = false;
    {
      Use consume(statements_[kConsume]);
      consume.Bind(1, action_hash).Bind(2, now_ms);
      const int rc = consume.Step();
      if (rc == SQLITE_ROW) {
        found = consume.ReadRequest(&consumed);
        if (!found) return Fail("corrupt request row", error);
        if (consume.Step() != SQLITE_DONE) return Fail(nullptr, error);
      } else if (rc != SQLITE_DONE) {
        return Fail(nullptr, error);
      }
    }
    if (!found) {
      Rollback();
      if (error) *error = std::string(kNoApproval);
      return false;
    }
    if (!Commit(error)) return false;
    if (out) *out = std::move(consumed);
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
    if (!Begin(error)) return false;
    {
      Use release(statements_[kRelease]);
      release.Bind(1, id);
      if (release.Step() != SQLITE_DONE) return Fail(nullptr, error);
    }
    if (sqlite3_changes(db_) != 1)
      return Fail(("request " + id + " is not consumed").c_str(), error);
    return Commit(error);
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
    Use find(statements_[kFindByIdOrCode]);
    find.Bind(1, NormaliseIdOrCode(id_or_code));
    const int rc = find.Step();
    if (rc == SQLITE_DONE) {
      if (error) *error = "no request " + DisplaySafe(id_or_code);
      return false;
    }
    if (rc != SQLITE_ROW) return Error(error);
    Request found;
    if (!find.ReadRequest(&found)) {
      if (error) *error = "corrupt request row";
      return false;
    }
    if (out) *out = std::move(found);
    return true;
  }

  bool Pending(std::int64_t now_ms, std::vector<Request>* out, std::string* error) override {
    std::lock_guard lock(mu_);
    std::vector<Request> rows;
    Use pending(statements_[kPending]);
    pending.Bind(1, now_ms);
    if (!ReadRows(pending, &rows, error)) return false;
    if (out) *out = std::move(rows);
    return true;
  }

  bool Expire(std::int64_t now_ms, std::vector<Request>* expired, std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Begin(error)) return false;
    std::vector<Request> rows;
    {
      Use expire(statements_[kExpire]);
      expire.Bind(1, now_ms);
      if (!ReadRows(expire, &rows, error)) {
        Rollback();
        return false;
      }
    }
    {
      // Failure counts nobody needs any more (see LockoutPolicy).
      Use forget(statements_[kAuthForget]);
      forget.Bind(1, now_ms).Bind(2, now_ms - LockoutPolicy{}.forget_after_ms);
      if (forget.Step() != SQLITE_DONE) return Fail(nullptr, error);
    }
    if (!Commit(error)) return false;
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
    if (!Begin(error)) return false;
    if (only_if_first) {
      std::int64_t count = 0;
      if (!CountApprovers(&count, error)) return false;
      if (count > 0)
        return Fail(
            "an approver is already enrolled; another needs an existing approver's code "
            "(--as NAME --code CODE)",
            error);
    }
    if (!Spend(spend, error)) return false;
    {
      Use add(statements_[kAddApprover]);
      add.Bind(1, name).Bind(2, secret);
      if (add.Step() != SQLITE_DONE) return Fail(nullptr, error);
    }
    if (sqlite3_changes(db_) == 0) {
      Rollback();
      if (error) *error = "approver " + name + " already exists";
      return false;
    }
    return Commit(error);
  }

  bool RemoveApprover(const std::string& name, const TotpSpend* spend,
                      std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Begin(error)) return false;
    bool exists = false;
    if (!ApproverExists(name, &exists, error)) return false;
    if (!exists) return Fail(("no approver " + DisplaySafe(name)).c_str(), error);
    std::int64_t count = 0;
    if (!CountApprovers(&count, error)) return false;
    if (count <= 1)
      return Fail(("cannot remove " + DisplaySafe(name) +
                   ", the last approver: nobody could approve; enrol another first")
                      .c_str(),
                  error);
    if (!Spend(spend, error)) return false;
    {
      Use remove(statements_[kRemoveApprover]);
      remove.Bind(1, name);
      if (remove.Step() != SQLITE_DONE) return Fail(nullptr, error);
    }
    {
      // An approver removed takes their passkeys along.
      Use passkeys(statements_[kItemDeleteOwned]);
      passkeys.Bind(1, std::string("passkey")).Bind(2, name);
      if (passkeys.Step() != SQLITE_DONE) return Fail(nullptr, error);
    }
    return Commit(error);
  }

  bool RotateApprover(const std::string& name, const std::string& secret, const TotpSpend* spend,
                      std::string* error) override {
    std::vector<unsigned char> key;
    if (!Base32Decode(secret, &key) || key.size() < 10) {
      if (error) *error = "the TOTP secret must be base32, at least 80 bits";
      return false;
    }
    std::lock_guard lock(mu_);
    if (!Begin(error)) return false;
    bool exists = false;
    if (!ApproverExists(name, &exists, error)) return false;
    if (!exists) return Fail(("no approver " + DisplaySafe(name)).c_str(), error);
    if (!Spend(spend, error)) return false;
    {
      Use rotate(statements_[kRotateApprover]);
      rotate.Bind(1, name).Bind(2, secret);
      if (rotate.Step() != SQLITE_DONE) return Fail(nullptr, error);
    }
    return Commit(error);
  }

  bool ApproverSecret(const std::string& name, std::string* secret, std::string* error,
                      std::int64_t* last_step) override {
    std::lock_guard lock(mu_);
    Use find(statements_[kApproverSecret]);
    find.Bind(1, name);
    const int rc = find.Step();
    if (rc == SQLITE_DONE) {
      if (error) *error = "no approver " + DisplaySafe(name);
      return false;
    }
    if (rc != SQLITE_ROW) return Error(error);
    if (secret) *secret = find.Text(0);
    if (last_step) *last_step = find.Int(1);
    return true;
  }

  bool BeginAuthAttempt(const std::vector<std::string>& scopes, std::int64_t now_ms,
                        const LockoutPolicy& policy, bool* locked, std::vector<Lockout>* before,
                        std::vector<Lockout>* after, std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Begin(error)) return false;
    std::vector<Lockout> rows;
    for (const std::string& scope : SortedScopes(scopes)) {
      Lockout row;
      row.scope = DisplaySafe(scope);
      Use find(statements_[kAuthRow]);
      find.Bind(1, row.scope);
      const int rc = find.Step();
      if (rc == SQLITE_ROW) {
        row.failures = static_cast<int>(find.Int(0));
        row.locked_until_ms = find.Int(1);
        row.last_failure_ms = find.Int(2);
      } else if (rc != SQLITE_DONE) {
        return Fail(nullptr, error);
      }
      rows.push_back(std::move(row));
    }
    *locked = false;
    for (const Lockout& row : rows) *locked = *locked || IsLocked(row, now_ms);
    if (*locked) {
      Rollback();
      if (before) *before = rows;
      if (after) *after = std::move(rows);
      return true;
    }
    std::vector<Lockout> counted;
    for (const Lockout& row : rows) {
      Lockout next = CountFailure(row, now_ms, policy);
      Use upsert(statements_[kAuthUpsert]);
      upsert.Bind(1, next.scope)
          .Bind(2, static_cast<std::int64_t>(next.failures))
          .Bind(3, next.locked_until_ms)
          .Bind(4, next.last_failure_ms);
      if (upsert.Step() != SQLITE_DONE) return Fail(nullptr, error);
      counted.push_back(std::move(next));
    }
    if (!Commit(error)) return false;
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
    if (!Begin(error)) return false;
    for (std::size_t i = 0; i < before.size(); ++i) {
      Use forgive(statements_[kAuthForgive]);
      forgive.Bind(1, after[i].scope)
          .Bind(2, static_cast<std::int64_t>(before[i].failures))
          .Bind(3, before[i].locked_until_ms)
          .Bind(4, before[i].last_failure_ms)
          .Bind(5, static_cast<std::int64_t>(after[i].failures))
          .Bind(6, after[i].locked_until_ms)
          .Bind(7, after[i].last_failure_ms);
      if (forgive.Step() != SQLITE_DONE) return Fail(nullptr, error);
    }
    return Commit(error);
  }

  bool Lockouts(std::int64_t now_ms, const LockoutPolicy& policy, std::vector<Lockout>* out,
                std::string* error) override {
    std::lock_guard lock(mu_);
    Use list(statements_[kAuthList]);
    list.Bind(1, now_ms - policy.forget_after_ms).Bind(2, now_ms);
    std::vector<Lockout> rows;
    int rc;
    while ((rc = list.Step()) == SQLITE_ROW) {
      rows.push_back(
          Lockout{list.Text(0), static_cast<int>(list.Int(1)), list.Int(2), list.Int(3)});
    }
    if (rc != SQLITE_DONE) return Error(error);
    if (out) *out = std::move(rows);
    return true;
  }

  bool RememberAuditSeal(const AuditSeal& seal, std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Begin(error)) return false;
    {
      Use remember(statements_[kSealRemember]);
      remember.Bind(1, seal.log_id)
          .Bind(2, static_cast<std::int64_t>(seal.seq))
          .Bind(3, seal.hash)
          .Bind(4, seal.sig)
          .Bind(5, seal.public_key)
          .Bind(6, seal.time_ms);
      if (remember.Step() != SQLITE_DONE) return Fail(nullptr, error);
    }
    return Commit(error);
  }

  bool LastAuditSeal(const std::string& log_id, AuditSeal* out, bool* found,
                     std::string* error) override {
    std::lock_guard lock(mu_);
    Use last(statements_[kSealLast]);
    last.Bind(1, log_id);
    const int rc = last.Step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error(error);
    *found = rc == SQLITE_ROW;
    if (*found && out) {
      out->log_id = log_id;
      out->seq = static_cast<std::uint64_t>(last.Int(0));
      out->hash = last.Text(1);
      out->sig = last.Text(2);
      out->public_key = last.Text(3);
      out->time_ms = last.Int(4);
    }
    return true;
  }

  bool Approvers(std::vector<std::string>* names, std::string* error) override {
    std::lock_guard lock(mu_);
    Use list(statements_[kApproverNames]);
    std::vector<std::string> rows;
    int rc;
    while ((rc = list.Step()) == SQLITE_ROW) rows.push_back(list.Text(0));
    if (rc != SQLITE_DONE) return Error(error);
    if (names) *names = std::move(rows);
    return true;
  }

  bool UseTotpStep(const std::string& name, std::int64_t step, std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Begin(error)) return false;
    {
      Use use(statements_[kUseStep]);
      use.Bind(1, name).Bind(2, step);
      if (use.Step() != SQLITE_DONE) return Fail(nullptr, error);
    }
    if (sqlite3_changes(db_) == 1) return Commit(error);
    bool exists;
    {
      Use find(statements_[kApproverExists]);
      find.Bind(1, name);
      const int rc = find.Step();
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Fail(nullptr, error);
      exists = rc == SQLITE_ROW;
    }
    Rollback();
    if (error) {
      *error = exists ? "this TOTP code was already used; wait for the next one"
                      : "no approver " + DisplaySafe(name);
    }
    return false;
  }

  bool SetFrozen(const std::string& agent, bool frozen, const std::string& why, std::string* error,
                 const TotpSpend* spend) override {
    std::lock_guard lock(mu_);
    if (!Begin(error)) return false;
    if (!Spend(spend, error)) return false;
    {
      Use set(statements_[kSetFrozen]);
      set.Bind(1, DisplaySafe(agent))
          .Bind(2, static_cast<std::int64_t>(frozen ? 1 : 0))
          .Bind(3, DisplaySafe(why))
          .Bind(4, NowMs());
      if (set.Step() != SQLITE_DONE) return Fail(nullptr, error);
    }
    return Commit(error);
  }

  bool HasApproval(const std::string& action_hash, std::int64_t now_ms, bool* approved,
                   std::string* error, std::string* id) override {
    std::lock_guard lock(mu_);
    Use find(statements_[kHasApproval]);
    find.Bind(1, action_hash).Bind(2, now_ms);
    const int rc = find.Step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error(error);
    *approved = rc == SQLITE_ROW;
    if (id != nullptr) *id = *approved ? find.Text(0) : std::string();
    return true;
  }

  bool IsFrozen(const std::string& agent, bool* frozen, std::string* error) override {
    std::lock_guard lock(mu_);
    Use find(statements_[kIsFrozen]);
    find.Bind(1, DisplaySafe(agent));
    const int rc = find.Step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error(error);
    if (frozen) *frozen = rc == SQLITE_ROW && find.Int(0) != 0;
    return true;
  }

  bool Freezes(std::vector<Freeze>* out, std::string* error) override {
    std::lock_guard lock(mu_);
    Use list(statements_[kFreezes]);
    std::vector<Freeze> rows;
    int rc;
    while ((rc = list.Step()) == SQLITE_ROW)
      rows.push_back(Freeze{list.Text(0), list.Int(1) != 0, list.Text(2), list.Int(3)});
    if (rc != SQLITE_DONE) return Error(error);
    *out = std::move(rows);
    return true;
  }

  bool PutItem(const Item& item, bool replace, std::int64_t now_ms, std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Begin(error)) return false;
    {
      Use purge(statements_[kItemPurge]);
      purge.Bind(1, now_ms);
      if (purge.Step() != SQLITE_DONE) return Fail(nullptr, error);
    }
    {
      Use put(statements_[replace ? kItemReplace : kItemInsert]);
      put.Bind(1, item.kind)
          .Bind(2, item.key)
          .Bind(3, item.owner)
          .Bind(4, item.value)
          .Bind(5, item.counter)
          .Bind(6, item.expires_ms);
      if (put.Step() != SQLITE_DONE) return Fail(nullptr, error);
    }
    if (!replace && sqlite3_changes(db_) == 0) return Fail("exists", error);
    return Commit(error);
  }

  bool GetItem(const std::string& kind, const std::string& key, std::int64_t now_ms, Item* out,
               bool* found, std::string* error) override {
    std::lock_guard lock(mu_);
    Use get(statements_[kItemGet]);
    get.Bind(1, kind).Bind(2, key).Bind(3, now_ms);
    const int rc = get.Step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error(error);
    *found = rc == SQLITE_ROW;
    if (*found && out != nullptr) *out = ReadItem(get);
    return true;
  }

  bool ListItems(const std::string& kind, const std::string& owner, std::int64_t now_ms,
                 std::vector<Item>* out, std::string* error) override {
    std::lock_guard lock(mu_);
    Use list(statements_[owner.empty() ? kItemListAll : kItemList]);
    if (owner.empty())
      list.Bind(1, kind).Bind(2, now_ms);
    else
      list.Bind(1, kind).Bind(2, owner).Bind(3, now_ms);
    std::vector<Item> rows;
    int rc;
    while ((rc = list.Step()) == SQLITE_ROW) rows.push_back(ReadItem(list));
    if (rc != SQLITE_DONE) return Error(error);
    *out = std::move(rows);
    return true;
  }

  bool DeleteItem(const std::string& kind, const std::string& key, bool* deleted,
                  std::string* error) override {
    std::lock_guard lock(mu_);
    Use remove(statements_[kItemDelete]);
    remove.Bind(1, kind).Bind(2, key);
    if (remove.Step() != SQLITE_DONE) return Error(error);
    if (deleted != nullptr) *deleted = sqlite3_changes(db_) > 0;
    return true;
  }

  bool TakeItem(const std::string& kind, const std::string& key, std::int64_t now_ms, Item* out,
                bool* found, std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Begin(error)) return false;
    {
      Use take(statements_[kItemTake]);
      take.Bind(1, kind).Bind(2, key).Bind(3, now_ms);
      const int rc = take.Step();
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Fail(nullptr, error);
      *found = rc == SQLITE_ROW;
      if (*found) {
        if (out != nullptr) *out = ReadItem(take);
        if (take.Step() != SQLITE_DONE) return Fail(nullptr, error);
      }
    }
    return Commit(error);
  }

  bool AdvanceItemCounter(const std::string& kind, const std::string& key, std::int64_t from,
                          std::int64_t to, bool* advanced, std::string* error) override {
    std::lock_guard lock(mu_);
    if (!Begin(error)) return false;
    {
      Use advance(statements_[kItemAdvance]);
      advance.Bind(1, kind).Bind(2, key).Bind(3, from).Bind(4, to);
      if (advance.Step() != SQLITE_DONE) return Fail(nullptr, error);
    }
    *advanced = sqlite3_changes(db_) == 1;
    return Commit(error);
  }

 private:
  SqliteStore() { statements_.fill(nullptr); }

  static Item ReadItem(const Use& use) {
    return Item{use.Text(0), use.Text(1), use.Text(2), use.Text(3), use.Int(4), use.Int(5)};
  }

  bool Init(const std::string& path, std::string* error) {
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      if (error) *error = "cannot open " + path + ": " + sqlite3_errmsg(db_);
      return false;
    }
    sqlite3_extended_result_codes(db_, 1);
    // Another daemon may hold the write lock for a moment; wait, not fail.
    sqlite3_busy_timeout(db_, 10000);
    if (!Exec("PRAGMA journal_mode = WAL", error) || !Exec("PRAGMA synchronous = FULL", error) ||
        !Exec("PRAGMA foreign_keys = ON", error)) {
      return false;
    }
    if (!Exec("BEGIN IMMEDIATE", error)) return false;
    for (const char* statement : kSchema) {
      if (!Exec(statement, error)) {
        Rollback();
        return false;
      }
    }
    if (!Exec("COMMIT", error)) {
      Rollback();
      return false;
    }
    for (int query = 0; query < kQueryCount; ++query) {
      const std::string sql = Sql(static_cast<Query>(query));
      if (sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                             SQLITE_PREPARE_PERSISTENT, &statements_[query],
                             nullptr) != SQLITE_OK) {
        if (error) *error = std::string("cannot prepare a query: ") + sqlite3_errmsg(db_);
        return false;
      }
    }
    return true;
  }

  bool Exec(const char* sql, std::string* error) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
      if (error) *error = std::string("sqlite: ") + (message ? message : sqlite3_errmsg(db_));
      sqlite3_free(message);
      return false;
    }
    return true;
  }

  bool Begin(std::string* error) { return Exec("BEGIN IMMEDIATE", error); }
  bool Commit(std::string* error) {
    if (Exec("COMMIT", error)) return true;
    Rollback();
    return false;
  }
  void Rollback() {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  bool Error(std::string* error) {
    if (error) *error = std::string("sqlite: ") + sqlite3_errmsg(db_);
    return false;
  }
  // Rolls back the open transaction; `why` or the connection's last error.
  bool Fail(const char* why, std::string* error) {
    if (error) *error = why ? std::string(why) : std::string("sqlite: ") + sqlite3_errmsg(db_);
    Rollback();
    return false;
  }

  bool ReadRows(Use& use, std::vector<Request>* rows, std::string* error) {
    int rc;
    while ((rc = use.Step()) == SQLITE_ROW) {
      Request row;
      if (!use.ReadRequest(&row)) {
        if (error) *error = "corrupt request row";
        return false;
      }
      rows->push_back(std::move(row));
    }
    return rc == SQLITE_DONE || Error(error);
  }

  // Inside an open transaction: uses up a verified TOTP step, or fails (and
  // rolls back) when it was used meanwhile.
  bool Spend(const TotpSpend* spend, std::string* error) {
    if (spend == nullptr || spend->step < 0) return true;
    {
      Use use(statements_[kUseStep]);
      use.Bind(1, spend->approver).Bind(2, spend->step);
      if (use.Step() != SQLITE_DONE) return Fail(nullptr, error);
    }
    if (sqlite3_changes(db_) == 1) return true;
    return Fail("this TOTP code was already used; wait for the next one", error);
  }

  bool CountApprovers(std::int64_t* count, std::string* error) {
    Use counter(statements_[kApproverCount]);
    if (counter.Step() != SQLITE_ROW) return Fail(nullptr, error);
    *count = counter.Int(0);
    return true;
  }

  bool ApproverExists(const std::string& name, bool* exists, std::string* error) {
    Use find(statements_[kApproverExists]);
    find.Bind(1, name);
    const int rc = find.Step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Fail(nullptr, error);
    *exists = rc == SQLITE_ROW;
    return true;
  }

  // Approve and Deny: read, apply the shared state machine, write back.
  template <typename Apply>
  bool Decide(const std::string& id_or_code, Request* out, std::string* error, Apply apply,
              const TotpSpend* spend = nullptr) {
    std::lock_guard lock(mu_);
    if (!Begin(error)) return false;
    Request request;
    {
      Use find(statements_[kFindByIdOrCode]);
      find.Bind(1, NormaliseIdOrCode(id_or_code));
      const int rc = find.Step();
      if (rc == SQLITE_DONE) return Fail(("no request " + DisplaySafe(id_or_code)).c_str(), error);
      if (rc != SQLITE_ROW) return Fail(nullptr, error);
      if (!find.ReadRequest(&request)) return Fail("corrupt request row", error);
    }
    std::string why;
    const Transition transition = apply(&request, &why);
    if (transition == Transition::kFail) return Fail(why.c_str(), error);
    if (transition == Transition::kUpdate && !Spend(spend, error)) return false;
    {
      Use update(statements_[kUpdateDecision]);
      update.Bind(1, request.id)
          .Bind(2, JoinApprovers(request.approvers))
          .Bind(3, std::string(ToString(request.state)))
          .Bind(4, request.denied_by)
          .Bind(5, request.deny_reason);
      if (update.Step() != SQLITE_DONE) return Fail(nullptr, error);
    }
    if (!Commit(error)) return false;
    if (out) *out = request;
    if (transition == Transition::kUpdateAndFail) {
      if (error) *error = why;
      return false;
    }
    return true;
  }

  std::mutex mu_;
  sqlite3* db_ = nullptr;
  std::array<sqlite3_stmt*, kQueryCount> statements_;
};

}  // namespace

std::unique_ptr<Store> OpenSqliteStore(const std::string& path, std::string* error) {
  return SqliteStore::Open(path, error);
}

}  // namespace dualkey::approval::internal
