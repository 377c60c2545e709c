// Helpers shared by the approval store backends; not part of the public API.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "approval/approval.h"

namespace dualkey::approval::internal {

inline constexpr std::int64_t kDefaultTtlMs = 15 * 60 * 1000;

// Random bytes from the OS CSPRNG (OpenSSL RAND_bytes); false on failure.
bool RandomBytes(unsigned char* out, std::size_t size);
// RFC 4648 base32 without padding, upper case.
std::string Base32Encode(const unsigned char* data, std::size_t size);
// Tolerates lower case, spaces, dashes and '=' padding; false on other input.
bool Base32Decode(std::string_view text, std::vector<unsigned char>* out);
// A TOTP secret a store accepts: base32, at least 80 bits (kInvalidArgument).
Status CheckTotpSecret(std::string_view secret);
// A new approver's name (ValidName) and secret (CheckTotpSecret), as every
// store checks them before it writes anything.
Status CheckNewApprover(std::string_view name, std::string_view secret);

// "ap_" + 10 lower-case base32 chars; "K7F-3QM". Empty on RNG failure.
std::string NewRequestId();
std::string NewRequestCode();
// What a human typed, in the stored form: ids lower case, codes upper case
// with the dash ("k7f3qm" -> "K7F-3QM").
std::string NormaliseIdOrCode(std::string_view text);

// Approver and agent names: 1..128 bytes, no control characters (the
// approvers list is stored newline-separated).
bool ValidName(std::string_view name);
std::string JoinApprovers(const std::vector<std::string>& names);
std::vector<std::string> SplitApprovers(std::string_view joined);

bool ParseState(std::string_view text, State* state);
std::int64_t NowMs();

// Text as a human should see it, storable in any backend: valid UTF-8 is
// kept, NUL and invalid bytes become "\xNN" (PostgreSQL text holds neither).
std::string DisplaySafe(std::string_view text);

// The columns every backend stores for a request, in this order.
inline constexpr const char* kRequestColumns =
    "id, code, action_hash, agent, channel, input, cwd, reason, approvals_needed, approvers, "
    "state, created_ms, expires_ms, denied_by, deny_reason";

// Schema shared by both backends (portable SQL).
inline constexpr const char* kSchema[] = {
    "CREATE TABLE IF NOT EXISTS requests ("
    " id TEXT PRIMARY KEY, code TEXT NOT NULL UNIQUE, action_hash TEXT NOT NULL,"
    " agent TEXT NOT NULL, channel TEXT NOT NULL, input TEXT NOT NULL, cwd TEXT NOT NULL,"
    " reason TEXT NOT NULL, approvals_needed INTEGER NOT NULL, approvers TEXT NOT NULL,"
    " state TEXT NOT NULL, created_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL,"
    " denied_by TEXT NOT NULL, deny_reason TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS requests_by_hash ON requests (action_hash, state)",
    "CREATE INDEX IF NOT EXISTS requests_by_state ON requests (state, created_ms)",
    "CREATE TABLE IF NOT EXISTS approvers ("
    " name TEXT PRIMARY KEY, secret TEXT NOT NULL, last_step BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS frozen_agents ("
    " agent TEXT PRIMARY KEY, frozen INTEGER NOT NULL, why TEXT NOT NULL,"
    " updated_ms BIGINT NOT NULL)",
    // Failed second factors per scope (approver, held action...): the limit
    // holds across connections and across daemons sharing the store.
    "CREATE TABLE IF NOT EXISTS auth_failures ("
    " scope TEXT PRIMARY KEY, failures INTEGER NOT NULL, locked_until_ms BIGINT NOT NULL,"
    " last_failure_ms BIGINT NOT NULL)",
    // Signed audit checkpoints, so a log deleted, replaced or shortened is noticed.
    "CREATE TABLE IF NOT EXISTS audit_checkpoints ("
    " log_id TEXT NOT NULL, seq BIGINT NOT NULL, hash TEXT NOT NULL, sig TEXT NOT NULL,"
    " public_key TEXT NOT NULL, time_ms BIGINT NOT NULL, PRIMARY KEY (log_id, seq))",
    // Small records beside the requests (see Item): passkeys, challenges,
    // what a hold shows.
    "CREATE TABLE IF NOT EXISTS items ("
    " kind TEXT NOT NULL, key TEXT NOT NULL, owner TEXT NOT NULL, value TEXT NOT NULL,"
    " counter BIGINT NOT NULL, expires_ms BIGINT NOT NULL, PRIMARY KEY (kind, key))",
    "CREATE INDEX IF NOT EXISTS items_by_owner ON items (kind, owner)",
};

// How long what a hold shows is kept after the request expires (History
// shows it for decided requests).
inline constexpr std::int64_t kHoldDetailsKeepMs = 7LL * 24 * 3'600'000;

// The lockout rule both backends apply inside their transaction. A row not
// seen for forget_after_ms starts over; a failure past free_failures locks
// the scope for first_lockout_ms, doubling, up to max_lockout_ms.
Lockout CountFailure(const Lockout& row, std::int64_t now_ms, const LockoutPolicy& policy);
// Whether a row refuses attempts at now_ms.
inline bool IsLocked(const Lockout& row, std::int64_t now_ms) {
  return row.locked_until_ms > now_ms;
}
// BeginAuthAttempt's rule over the scopes' rows as read in the backend's
// transaction: true when any is locked (nothing is to be written: `counted`
// is empty); otherwise `counted` holds each row with this attempt counted,
// to be written.
bool CountAttempt(const std::vector<Lockout>& rows, std::int64_t now_ms,
                  const LockoutPolicy& policy, std::vector<Lockout>* counted);
// BeginAuthAttempt's answer once its transaction ended: `before` the rows
// as read, `after` as written (as read when `locked`).
Status HandOverAttempt(bool locked, std::vector<Lockout> rows, std::vector<Lockout> counted,
                       std::vector<Lockout>* before, std::vector<Lockout>* after);
// ForgiveAuthAttempt's rows must pair up.
Status CheckForgiveRows(const std::vector<Lockout>& before, const std::vector<Lockout>& after);
// Scopes sorted and without duplicates: rows are locked in one order, so
// two daemons counting the same scopes cannot deadlock.
std::vector<std::string> SortedScopes(const std::vector<std::string>& scopes);

// The state machine both backends apply inside their transaction, so the
// rules cannot drift apart. kFail: leave the row alone; kUpdate: store
// `request`, succeed; kUpdateAndFail: store `request` (it expired), fail.
enum class Transition { kFail, kUpdate, kUpdateAndFail };
Transition ApplyApproval(Request* request, const std::string& approver, std::int64_t now_ms,
                         std::string* error);
Transition ApplyDenial(Request* request, const std::string& approver, const std::string& reason,
                       std::int64_t now_ms, std::string* error);

// Fills id, code, created_ms and expires_ms when the caller left them empty.
Status PrepareNewRequest(const Request& in, Request* out);

inline constexpr const char* kTotpUsed = "this TOTP code was already used; wait for the next one";

// One row of a query's result, whichever backend read it.
class Row {
 public:
  virtual std::string Text(int column) const = 0;
  virtual std::int64_t Int(int column) const = 0;

 protected:
  ~Row() = default;
};
// A request from a row of kRequestColumns; kCorruption when its state is
// not one we know.
Status DecodeRequest(const Row& row, Request* out);
// The columns every backend stores for an item, in this order.
inline constexpr const char* kItemColumns = "kind, key, owner, value, counter, expires_ms";
Item DecodeItem(const Row& row);

// What is alike in both backends: Approve and Deny (the approver's name
// checked, then the shared state machine applied by the backend's Decide:
// read the request, apply, write back; a template member of `Backend`),
// and a new or rotated approver's name and secret checked before the
// backend's AddCheckedApprover or RotateCheckedApprover writes anything.
template <typename Backend>
class DecidingStore : public Store {
 public:
  Status AddApprover(const std::string& name, const std::string& secret, bool only_if_first,
                     const TotpSpend* spend) final {
    if (Status valid = CheckNewApprover(name, secret); !valid.ok()) return valid;
    return static_cast<Backend*>(this)->AddCheckedApprover(name, secret, only_if_first, spend);
  }
  Status RotateApprover(const std::string& name, const std::string& secret,
                        const TotpSpend* spend) final {
    if (Status valid = CheckTotpSecret(secret); !valid.ok()) return valid;
    return static_cast<Backend*>(this)->RotateCheckedApprover(name, secret, spend);
  }
  Status Approve(const std::string& id_or_code, const std::string& approver, std::int64_t now_ms,
                 Request* out, const TotpSpend* spend) final {
    if (!ValidName(approver)) return Status::InvalidArgument("invalid approver name");
    return static_cast<Backend*>(this)->Decide(
        id_or_code, out,
        [&](Request* request, std::string* why) {
          return ApplyApproval(request, approver, now_ms, why);
        },
        spend);
  }
  Status Deny(const std::string& id_or_code, const std::string& approver, const std::string& reason,
              std::int64_t now_ms, Request* out) final {
    if (!ValidName(approver)) return Status::InvalidArgument("invalid approver name");
    return static_cast<Backend*>(this)->Decide(
        id_or_code, out, [&](Request* request, std::string* why) {
          return ApplyDenial(request, approver, reason, now_ms, why);
        });
  }
};

// Authorize's passkey branch (passkeys.cc): the challenge taken, the
// assertion verified, the counter advanced.
Status CheckPasskey(Store& store, const std::string& approver, const SecondFactor& factor,
                    const std::string& subject, std::int64_t now_ms);

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);
Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& conninfo);

}  // namespace dualkey::approval::internal
