// The default store: one SQLite file in the state directory. WAL with
// synchronous=FULL and every mutation in its own BEGIN IMMEDIATE
// transaction, so a call that returned ok survives a crash, and daemons
// (or threads) sharing the file serialise on the write lock.
#include <sqlite3.h>

#include <array>
#include <mutex>

#include "approval/approval.h"
#include "approval/internal.h"
#include "approval/internal/sqlite.h"

namespace dualkey::approval::internal {
namespace {

class SqliteStore final : public DecidingStore<SqliteStore> {
 public:
  ~SqliteStore() override {
    for (sqlite3_stmt* statement : statements_) sqlite3_finalize(statement);
    sqlite3_close(db_);
  }

  static Result<std::unique_ptr<Store>> Open(const std::string& path) {
    std::unique_ptr<SqliteStore> store(new SqliteStore());
    if (Status ready = store->Init(path); !ready.ok()) return ready;
    return std::unique_ptr<Store>(std::move(store));
  }

  Status Hold(const Request& request, Request* out) override {
    Request fresh;
    if (Status ready = PrepareNewRequest(request, &fresh); !ready.ok()) return ready;
    std::lock_guard lock(mu_);
    if (Status begun = Begin(); !begun.ok()) return begun;
    Request existing;
    bool found = false;
    {
      Use find(statements_[kFindLive]);
      find.Bind(1, fresh.action_hash).Bind(2, fresh.created_ms);
      const int rc = find.Step();
      if (rc == SQLITE_ROW) {
        if (Status read = find.ReadRequest(&existing); !read.ok()) return Fail(read);
        found = true;
      } else if (rc != SQLITE_DONE) {
        return Fail();
      }
    }
    if (found) {
      Rollback();  // nothing written
      if (out) *out = std::move(existing);
      return Status::Ok();
    }
    // Codes are short, so a collision with any request ever stored is
    // possible; draw again rather than make a code ambiguous.
    for (int attempt = 0;; ++attempt) {
      Use taken(statements_[kCodeTaken]);
      taken.Bind(1, fresh.id).Bind(2, fresh.code);
      const int rc = taken.Step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return Fail();
      if (attempt == 16) return Fail(Status::Unavailable("could not draw a unique request code"));
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
      if (insert.Step() != SQLITE_DONE) return Fail();
    }
    if (!fresh.details.empty()) {
      Use put(statements_[kItemReplace]);
      put.Bind(1, std::string("hold"))
          .Bind(2, fresh.id)
          .Bind(3, fresh.agent)
          .Bind(4, fresh.details)
          .Bind(5, std::int64_t{0})
          .Bind(6, fresh.expires_ms + kHoldDetailsKeepMs);
      if (put.Step() != SQLITE_DONE) return Fail();
    }
    if (Status done = Commit(); !done.ok()) return done;
    if (out) *out = std::move(fresh);
    return Status::Ok();
  }

  Status ConsumeApproval(const std::string& action_hash, std::int64_t now_ms,
                         Request* out) override {
    std::lock_guard lock(mu_);
    if (Status begun = Begin(); !begun.ok()) return begun;
    Request consumed;
    bool found = false;
    {
      Use consume(statements_[kConsume]);
      consume.Bind(1, action_hash).Bind(2, now_ms);
      const int rc = consume.Step();
      if (rc == SQLITE_ROW) {
        if (Status read = consume.ReadRequest(&consumed); !read.ok()) return Fail(read);
        found = true;
        if (consume.Step() != SQLITE_DONE) return Fail();
      } else if (rc != SQLITE_DONE) {
        return Fail();
      }
    }
    if (!found) {
      Rollback();
      return Status::NotFound("no approval for this action");
    }
    if (Status done = Commit(); !done.ok()) return done;
    if (out) *out = std::move(consumed);
    return Status::Ok();
  }

  Status ReleaseConsumption(const std::string& id) override {
    std::lock_guard lock(mu_);
    if (Status begun = Begin(); !begun.ok()) return begun;
    {
      Use release(statements_[kRelease]);
      release.Bind(1, id);
      if (release.Step() != SQLITE_DONE) return Fail();
    }
    if (sqlite3_changes(db_) != 1)
      return Fail(Status::FailedPrecondition("request " + id + " is not consumed"));
    return Commit();
  }

  Status Get(const std::string& id_or_code, Request* out) override {
    std::lock_guard lock(mu_);
    Use find(statements_[kFindByIdOrCode]);
    find.Bind(1, NormaliseIdOrCode(id_or_code));
    const int rc = find.Step();
    if (rc == SQLITE_DONE) return Status::NotFound("no request " + DisplaySafe(id_or_code));
    if (rc != SQLITE_ROW) return Error();
    Request found;
    if (Status read = find.ReadRequest(&found); !read.ok()) return read;
    if (out) *out = std::move(found);
    return Status::Ok();
  }

  Status Pending(std::int64_t now_ms, std::vector<Request>* out) override {
    std::lock_guard lock(mu_);
    std::vector<Request> rows;
    Use pending(statements_[kPending]);
    pending.Bind(1, now_ms);
    if (Status read = ReadRows(pending, &rows); !read.ok()) return read;
    if (out) *out = std::move(rows);
    return Status::Ok();
  }

  Status Expire(std::int64_t now_ms, std::vector<Request>* expired) override {
    std::lock_guard lock(mu_);
    if (Status begun = Begin(); !begun.ok()) return begun;
    std::vector<Request> rows;
    {
      Use expire(statements_[kExpire]);
      expire.Bind(1, now_ms);
      if (Status read = ReadRows(expire, &rows); !read.ok()) return Fail(read);
    }
    {
      // Failure counts nobody needs any more (see LockoutPolicy).
      Use forget(statements_[kAuthForget]);
      forget.Bind(1, now_ms).Bind(2, now_ms - LockoutPolicy{}.forget_after_ms);
      if (forget.Step() != SQLITE_DONE) return Fail();
    }
    if (Status done = Commit(); !done.ok()) return done;
    if (expired) *expired = std::move(rows);
    return Status::Ok();
  }

  Status AddCheckedApprover(const std::string& name, const std::string& secret, bool only_if_first,
                            const TotpSpend* spend) {
    std::lock_guard lock(mu_);
    if (Status begun = Begin(); !begun.ok()) return begun;
    if (only_if_first) {
      std::int64_t count = 0;
      if (Status counted = CountApprovers(&count); !counted.ok()) return counted;
      if (count > 0)
        return Fail(Status::FailedPrecondition(
            "an approver is already enrolled; another needs an existing approver's code "
            "(--as NAME --code CODE)"));
    }
    if (Status spent = Spend(spend); !spent.ok()) return spent;
    {
      Use add(statements_[kAddApprover]);
      add.Bind(1, name).Bind(2, secret);
      if (add.Step() != SQLITE_DONE) return Fail();
    }
    if (sqlite3_changes(db_) == 0) {
      return Fail(Status::FailedPrecondition("approver " + name + " already exists"));
    }
    return Commit();
  }

  Status RemoveApprover(const std::string& name, const TotpSpend* spend) override {
    std::lock_guard lock(mu_);
    if (Status begun = Begin(); !begun.ok()) return begun;
    bool exists = false;
    if (Status found = ApproverExists(name, &exists); !found.ok()) return found;
    if (!exists) return Fail(Status::NotFound("no approver " + DisplaySafe(name)));
    std::int64_t count = 0;
    if (Status counted = CountApprovers(&count); !counted.ok()) return counted;
    if (count <= 1)
      return Fail(Status::FailedPrecondition(
          "cannot remove " + DisplaySafe(name) +
          ", the last approver: nobody could approve; enrol another first"));
    if (Status spent = Spend(spend); !spent.ok()) return spent;
    {
      Use remove(statements_[kRemoveApprover]);
      remove.Bind(1, name);
      if (remove.Step() != SQLITE_DONE) return Fail();
    }
    {
      // An approver removed takes their passkeys along.
      Use passkeys(statements_[kItemDeleteOwned]);
      passkeys.Bind(1, std::string("passkey")).Bind(2, name);
      if (passkeys.Step() != SQLITE_DONE) return Fail();
    }
    return Commit();
  }

  Status RotateCheckedApprover(const std::string& name, const std::string& secret,
                               const TotpSpend* spend) {
    std::lock_guard lock(mu_);
    if (Status begun = Begin(); !begun.ok()) return begun;
    bool exists = false;
    if (Status found = ApproverExists(name, &exists); !found.ok()) return found;
    if (!exists) return Fail(Status::NotFound("no approver " + DisplaySafe(name)));
    if (Status spent = Spend(spend); !spent.ok()) return spent;
    {
      Use rotate(statements_[kRotateApprover]);
      rotate.Bind(1, name).Bind(2, secret);
      if (rotate.Step() != SQLITE_DONE) return Fail();
    }
    return Commit();
  }

  Status ApproverSecret(const std::string& name, std::string* secret,
                        std::int64_t* last_step) override {
    std::lock_guard lock(mu_);
    Use find(statements_[kApproverSecret]);
    find.Bind(1, name);
    const int rc = find.Step();
    if (rc == SQLITE_DONE) return Status::NotFound("no approver " + DisplaySafe(name));
    if (rc != SQLITE_ROW) return Error();
    if (secret) *secret = find.Text(0);
    if (last_step) *last_step = find.Int(1);
    return Status::Ok();
  }

  Status BeginAuthAttempt(const std::vector<std::string>& scopes, std::int64_t now_ms,
                          const LockoutPolicy& policy, bool* locked, std::vector<Lockout>* before,
                          std::vector<Lockout>* after) override {
    std::lock_guard lock(mu_);
    if (Status begun = Begin(); !begun.ok()) return begun;
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
        return Fail();
      }
      rows.push_back(std::move(row));
    }
    std::vector<Lockout> counted;
    *locked = CountAttempt(rows, now_ms, policy, &counted);
    if (*locked) Rollback();
    for (const Lockout& next : counted) {
      Use upsert(statements_[kAuthUpsert]);
      upsert.Bind(1, next.scope)
          .Bind(2, static_cast<std::int64_t>(next.failures))
          .Bind(3, next.locked_until_ms)
          .Bind(4, next.last_failure_ms);
      if (upsert.Step() != SQLITE_DONE) return Fail();
    }
    if (!*locked)
      if (Status done = Commit(); !done.ok()) return done;
    return HandOverAttempt(*locked, std::move(rows), std::move(counted), before, after);
  }

  Status ForgiveAuthAttempt(const std::vector<Lockout>& before,
                            const std::vector<Lockout>& after) override {
    if (Status paired = CheckForgiveRows(before, after); !paired.ok()) return paired;
    std::lock_guard lock(mu_);
    if (Status begun = Begin(); !begun.ok()) return begun;
    for (std::size_t i = 0; i < before.size(); ++i) {
      Use forgive(statements_[kAuthForgive]);
      forgive.Bind(1, after[i].scope)
          .Bind(2, static_cast<std::int64_t>(before[i].failures))
          .Bind(3, before[i].locked_until_ms)
          .Bind(4, before[i].last_failure_ms)
          .Bind(5, static_cast<std::int64_t>(after[i].failures))
          .Bind(6, after[i].locked_until_ms)
          .Bind(7, after[i].last_failure_ms);
      if (forgive.Step() != SQLITE_DONE) return Fail();
    }
    return Commit();
  }

  Status Lockouts(std::int64_t now_ms, const LockoutPolicy& policy,
                  std::vector<Lockout>* out) override {
    std::lock_guard lock(mu_);
    Use list(statements_[kAuthList]);
    list.Bind(1, now_ms - policy.forget_after_ms).Bind(2, now_ms);
    std::vector<Lockout> rows;
    int rc;
    while ((rc = list.Step()) == SQLITE_ROW) {
      rows.push_back(
          Lockout{list.Text(0), static_cast<int>(list.Int(1)), list.Int(2), list.Int(3)});
    }
    if (rc != SQLITE_DONE) return Error();
    if (out) *out = std::move(rows);
    return Status::Ok();
  }

  Status RememberAuditSeal(const AuditSeal& seal) override {
    std::lock_guard lock(mu_);
    if (Status begun = Begin(); !begun.ok()) return begun;
    {
      Use remember(statements_[kSealRemember]);
      remember.Bind(1, seal.log_id)
          .Bind(2, static_cast<std::int64_t>(seal.seq))
          .Bind(3, seal.hash)
          .Bind(4, seal.sig)
          .Bind(5, seal.public_key)
          .Bind(6, seal.time_ms);
      if (remember.Step() != SQLITE_DONE) return Fail();
    }
    return Commit();
  }

  Status LastAuditSeal(const std::string& log_id, AuditSeal* out, bool* found) override {
    std::lock_guard lock(mu_);
    Use last(statements_[kSealLast]);
    last.Bind(1, log_id);
    const int rc = last.Step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error();
    *found = rc == SQLITE_ROW;
    if (*found && out) {
      out->log_id = log_id;
      out->seq = static_cast<std::uint64_t>(last.Int(0));
      out->hash = last.Text(1);
      out->sig = last.Text(2);
      out->public_key = last.Text(3);
      out->time_ms = last.Int(4);
    }
    return Status::Ok();
  }

  Status Approvers(std::vector<std::string>* names) override {
    std::lock_guard lock(mu_);
    Use list(statements_[kApproverNames]);
    std::vector<std::string> rows;
    int rc;
    while ((rc = list.Step()) == SQLITE_ROW) rows.push_back(list.Text(0));
    if (rc != SQLITE_DONE) return Error();
    if (names) *names = std::move(rows);
    return Status::Ok();
  }

  Status UseTotpStep(const std::string& name, std::int64_t step) override {
    std::lock_guard lock(mu_);
    if (Status begun = Begin(); !begun.ok()) return begun;
    {
      Use use(statements_[kUseStep]);
      use.Bind(1, name).Bind(2, step);
      if (use.Step() != SQLITE_DONE) return Fail();
    }
    if (sqlite3_changes(db_) == 1) return Commit();
    bool exists;
    {
      Use find(statements_[kApproverExists]);
      find.Bind(1, name);
      const int rc = find.Step();
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Fail();
      exists = rc == SQLITE_ROW;
    }
    Rollback();
    return exists ? Status::FailedPrecondition(kTotpUsed)
                  : Status::NotFound("no approver " + DisplaySafe(name));
  }

  Status SetFrozen(const std::string& agent, bool frozen, const std::string& why,
                   const TotpSpend* spend) override {
    std::lock_guard lock(mu_);
    if (Status begun = Begin(); !begun.ok()) return begun;
    if (Status spent = Spend(spend); !spent.ok()) return spent;
    {
      Use set(statements_[kSetFrozen]);
      set.Bind(1, DisplaySafe(agent))
          .Bind(2, static_cast<std::int64_t>(frozen ? 1 : 0))
          .Bind(3, DisplaySafe(why))
          .Bind(4, NowMs());
      if (set.Step() != SQLITE_DONE) return Fail();
    }
    return Commit();
  }

  Status HasApproval(const std::string& action_hash, std::int64_t now_ms, bool* approved,
                     std::string* id) override {
    std::lock_guard lock(mu_);
    Use find(statements_[kHasApproval]);
    find.Bind(1, action_hash).Bind(2, now_ms);
    const int rc = find.Step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error();
    *approved = rc == SQLITE_ROW;
    if (id != nullptr) *id = *approved ? find.Text(0) : std::string();
    return Status::Ok();
  }

  Status IsFrozen(const std::string& agent, bool* frozen) override {
    std::lock_guard lock(mu_);
    Use find(statements_[kIsFrozen]);
    find.Bind(1, DisplaySafe(agent));
    const int rc = find.Step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error();
    if (frozen) *frozen = rc == SQLITE_ROW && find.Int(0) != 0;
    return Status::Ok();
  }

  Status Freezes(std::vector<Freeze>* out) override {
    std::lock_guard lock(mu_);
    Use list(statements_[kFreezes]);
    std::vector<Freeze> rows;
    int rc;
    while ((rc = list.Step()) == SQLITE_ROW)
      rows.push_back(Freeze{list.Text(0), list.Int(1) != 0, list.Text(2), list.Int(3)});
    if (rc != SQLITE_DONE) return Error();
    *out = std::move(rows);
    return Status::Ok();
  }

  Status PutItem(const Item& item, bool replace, std::int64_t now_ms) override {
    std::lock_guard lock(mu_);
    if (Status begun = Begin(); !begun.ok()) return begun;
    {
      Use purge(statements_[kItemPurge]);
      purge.Bind(1, now_ms);
      if (purge.Step() != SQLITE_DONE) return Fail();
    }
    {
      Use put(statements_[replace ? kItemReplace : kItemInsert]);
      put.Bind(1, item.kind)
          .Bind(2, item.key)
          .Bind(3, item.owner)
          .Bind(4, item.value)
          .Bind(5, item.counter)
          .Bind(6, item.expires_ms);
      if (put.Step() != SQLITE_DONE) return Fail();
    }
    if (!replace && sqlite3_changes(db_) == 0) return Fail(Status::FailedPrecondition("exists"));
    return Commit();
  }

  Status GetItem(const std::string& kind, const std::string& key, std::int64_t now_ms, Item* out,
                 bool* found) override {
    std::lock_guard lock(mu_);
    Use get(statements_[kItemGet]);
    get.Bind(1, kind).Bind(2, key).Bind(3, now_ms);
    const int rc = get.Step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error();
    *found = rc == SQLITE_ROW;
    if (*found && out != nullptr) *out = DecodeItem(get);
    return Status::Ok();
  }

  Status ListItems(const std::string& kind, const std::string& owner, std::int64_t now_ms,
                   std::vector<Item>* out) override {
    std::lock_guard lock(mu_);
    Use list(statements_[owner.empty() ? kItemListAll : kItemList]);
    if (owner.empty())
      list.Bind(1, kind).Bind(2, now_ms);
    else
      list.Bind(1, kind).Bind(2, owner).Bind(3, now_ms);
    std::vector<Item> rows;
    int rc;
    while ((rc = list.Step()) == SQLITE_ROW) rows.push_back(DecodeItem(list));
    if (rc != SQLITE_DONE) return Error();
    *out = std::move(rows);
    return Status::Ok();
  }

  Status DeleteItem(const std::string& kind, const std::string& key, bool* deleted) override {
    std::lock_guard lock(mu_);
    Use remove(statements_[kItemDelete]);
    remove.Bind(1, kind).Bind(2, key);
    if (remove.Step() != SQLITE_DONE) return Error();
    if (deleted != nullptr) *deleted = sqlite3_changes(db_) > 0;
    return Status::Ok();
  }

  Status TakeItem(const std::string& kind, const std::string& key, std::int64_t now_ms, Item* out,
                  bool* found) override {
    std::lock_guard lock(mu_);
    if (Status begun = Begin(); !begun.ok()) return begun;
    {
      Use take(statements_[kItemTake]);
      take.Bind(1, kind).Bind(2, key).Bind(3, now_ms);
      const int rc = take.Step();
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Fail();
      *found = rc == SQLITE_ROW;
      if (*found) {
        if (out != nullptr) *out = DecodeItem(take);
        if (take.Step() != SQLITE_DONE) return Fail();
      }
    }
    return Commit();
  }

  Status AdvanceItemCounter(const std::string& kind, const std::string& key, std::int64_t from,
                            std::int64_t to, bool* advanced) override {
    std::lock_guard lock(mu_);
    if (Status begun = Begin(); !begun.ok()) return begun;
    {
      Use advance(statements_[kItemAdvance]);
      advance.Bind(1, kind).Bind(2, key).Bind(3, from).Bind(4, to);
      if (advance.Step() != SQLITE_DONE) return Fail();
    }
    *advanced = sqlite3_changes(db_) == 1;
    return Commit();
  }

 private:
  SqliteStore() { statements_.fill(nullptr); }

  Status Init(const std::string& path) {
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK)
      return Status::Unavailable("cannot open " + path + ": " + sqlite3_errmsg(db_));
    sqlite3_extended_result_codes(db_, 1);
    // Another daemon may hold the write lock for a moment; wait, not fail.
    sqlite3_busy_timeout(db_, 10000);
    for (const char* pragma :
         {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL", "PRAGMA foreign_keys = ON"})
      if (Status done = Exec(pragma); !done.ok()) return done;
    if (Status begun = Begin(); !begun.ok()) return begun;
    for (const char* statement : kSchema)
      if (Status done = Exec(statement); !done.ok()) return Fail(done);
    if (Status done = Commit(); !done.ok()) return done;
    for (int query = 0; query < kQueryCount; ++query) {
      const std::string sql = Sql(static_cast<Query>(query));
      if (sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                             SQLITE_PREPARE_PERSISTENT, &statements_[query], nullptr) != SQLITE_OK)
        return Status::Internal(std::string("cannot prepare a query: ") + sqlite3_errmsg(db_));
    }
    return Status::Ok();
  }

  Status Exec(const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) == SQLITE_OK) return Status::Ok();
    Status failed =
        Status::Unavailable(std::string("sqlite: ") + (message ? message : sqlite3_errmsg(db_)));
    sqlite3_free(message);
    return failed;
  }

  Status Begin() { return Exec("BEGIN IMMEDIATE"); }
  Status Commit() {
    Status done = Exec("COMMIT");
    if (!done.ok()) Rollback();
    return done;
  }
  void Rollback() {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  // The connection's last error: the store failed.
  Status Error() { return Status::Unavailable(std::string("sqlite: ") + sqlite3_errmsg(db_)); }
  // Rolls back the open transaction; `why`, or the connection's last error.
  Status Fail(Status why) {
    Rollback();
    return why;
  }
  Status Fail() { return Fail(Error()); }

  Status ReadRows(Use& use, std::vector<Request>* rows) {
    int rc;
    while ((rc = use.Step()) == SQLITE_ROW) {
      Request row;
      if (Status read = use.ReadRequest(&row); !read.ok()) return read;
      rows->push_back(std::move(row));
    }
    return rc == SQLITE_DONE ? Status::Ok() : Error();
  }

  // Inside an open transaction: uses up a verified TOTP step, or fails (and
  // rolls back) when it was used meanwhile.
  Status Spend(const TotpSpend* spend) {
    if (spend == nullptr || spend->step < 0) return Status::Ok();
    {
      Use use(statements_[kUseStep]);
      use.Bind(1, spend->approver).Bind(2, spend->step);
      if (use.Step() != SQLITE_DONE) return Fail();
    }
    if (sqlite3_changes(db_) == 1) return Status::Ok();
    return Fail(Status::FailedPrecondition(kTotpUsed));
  }

  Status CountApprovers(std::int64_t* count) {
    Use counter(statements_[kApproverCount]);
    if (counter.Step() != SQLITE_ROW) return Fail();
    *count = counter.Int(0);
    return Status::Ok();
  }

  Status ApproverExists(const std::string& name, bool* exists) {
    Use find(statements_[kApproverExists]);
    find.Bind(1, name);
    const int rc = find.Step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Fail();
    *exists = rc == SQLITE_ROW;
    return Status::Ok();
  }

  friend class DecidingStore<SqliteStore>;

  // Approve and Deny (see DecidingStore): read, apply the shared state
  // machine, write back.
  template <typename Apply>
  Status Decide(const std::string& id_or_code, Request* out, Apply apply,
                const TotpSpend* spend = nullptr) {
    std::lock_guard lock(mu_);
    if (Status begun = Begin(); !begun.ok()) return begun;
    Request request;
    {
      Use find(statements_[kFindByIdOrCode]);
      find.Bind(1, NormaliseIdOrCode(id_or_code));
      const int rc = find.Step();
      if (rc == SQLITE_DONE) return Fail(Status::NotFound("no request " + DisplaySafe(id_or_code)));
      if (rc != SQLITE_ROW) return Fail();
      if (Status read = find.ReadRequest(&request); !read.ok()) return Fail(read);
    }
    std::string why;
    const Transition transition = apply(&request, &why);
    if (transition == Transition::kFail) return Fail(Status::FailedPrecondition(why));
    if (transition == Transition::kUpdate)
      if (Status spent = Spend(spend); !spent.ok()) return spent;
    {
      Use update(statements_[kUpdateDecision]);
      update.Bind(1, request.id)
          .Bind(2, JoinApprovers(request.approvers))
          .Bind(3, std::string(ToString(request.state)))
          .Bind(4, request.denied_by)
          .Bind(5, request.deny_reason);
      if (update.Step() != SQLITE_DONE) return Fail();
    }
    if (Status done = Commit(); !done.ok()) return done;
    if (out) *out = request;
    if (transition == Transition::kUpdateAndFail) return Status::FailedPrecondition(why);
    return Status::Ok();
  }

  std::mutex mu_;
  sqlite3* db_ = nullptr;
  std::array<sqlite3_stmt*, kQueryCount> statements_;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path) {
  return SqliteStore::Open(path);
}

}  // namespace dualkey::approval::internal
