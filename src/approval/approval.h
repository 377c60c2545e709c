// Approvals bound to the exact action: a held action becomes a pending
// request with an id and a short code; humans approve it with a TOTP code the
// agent does not have; the identical action then passes exactly once, before
// it expires. State lives in a Store: SQLite (WAL, durable before any reply)
// by default, PostgreSQL when several daemons share one.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "webauthn/webauthn.h"

namespace dualkey::approval {

// SHA-256 (hex) over the action's identity: channel, normalised input,
// working directory or target, and agent. A one-character change differs.
std::string ActionHash(std::string_view channel, std::string_view input, std::string_view cwd,
                       std::string_view agent);

enum class State { kPending, kApproved, kDenied, kConsumed, kExpired };
std::string_view ToString(State state);

// A verified TOTP step, spent in the same store transaction as the effect it
// authorises: a code works once, and an effect that fails leaves it unspent.
struct TotpSpend {
  std::string approver;
  std::int64_t step = -1;  // -1: nothing to spend
};

// Limits on failed second factors, counted per scope ("approver:alice",
// "request:ap_...", "breaker:claude"): a handful of failures, then a lockout
// that doubles with each further failure.
struct LockoutPolicy {
  int free_failures = 5;                          // failures before the first lockout
  std::int64_t first_lockout_ms = 30'000;         // after the 5th failure: 30 s, then 60 s...
  std::int64_t max_lockout_ms = 60 * 60'000;      // ...at most an hour
  std::int64_t forget_after_ms = 24 * 3'600'000;  // a day without failures starts over
};

// A scope's failed second factors, as the store keeps them.
struct Lockout {
  std::string scope;
  int failures = 0;
  std::int64_t locked_until_ms = 0;  // refused without checking until then (0: not locked)
  std::int64_t last_failure_ms = 0;
};

// A signed checkpoint of an audit log, remembered by the store so that a
// log deleted, replaced or shortened while the daemon was stopped is noticed
// when it starts (and, on PostgreSQL, kept off the host that wrote it).
struct AuditSeal {
  std::string log_id;  // which log: "host:/path/to/audit.jsonl"
  std::uint64_t seq = 0;
  std::string hash;
  std::string sig;
  std::string public_key;  // the key that signed it (hex)
  std::int64_t time_ms = 0;
};

struct Request {
  std::string id;    // "ap_" + 10 base32 chars, unique
  std::string code;  // short human code, e.g. "K7F-3QM" (unique among live requests)
  std::string action_hash;
  std::string agent;
  std::string channel;
  std::string input;
  std::string cwd;
  std::string reason;
  int approvals_needed = 1;            // 2 for hold2
  std::vector<std::string> approvers;  // distinct names that approved so far
  State state = State::kPending;
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;
  std::string denied_by;
  std::string deny_reason;
  // What a human needs to decide, as the daemon saw it when it held the
  // action (JSON text: actions, the commands that would really run, blast
  // radius, what the vault saves first). Hold stores it beside the request
  // (an Item of kind "hold"); Get and Pending leave it empty.
  std::string details;
};

// A small record the daemon keeps beside requests: passkeys ("passkey"),
// WebAuthn challenges ("challenge"), passkey enrolments ("enrol") and what a
// hold shows ("hold"). `expires_ms` 0: never; an expired item is gone for
// every call and purged when items are put.
struct Item {
  std::string kind;
  std::string key;
  std::string owner;  // an approver, an agent, or ""
  std::string value;  // text (JSON for structured values)
  std::int64_t counter = 0;
  std::int64_t expires_ms = 0;
};

// Every call is atomic and durable before it returns (a reply may rely on it).
// Errors are values, never exceptions; callers branch on the code:
//   kNotFound            no such request, approver or approval (not a failure)
//   kInvalidArgument     a malformed name or secret
//   kFailedPrecondition  the state does not allow it: expired, decided, the
//                        same approver twice, a TOTP code already used, the
//                        last approver, an item that exists
//   kUnavailable         the store failed (cannot be reached, or refused)
//   kCorruption          a stored row does not decode
class Store {
 public:
  virtual ~Store() = default;

  // Registers a held action. When a live (pending or approved, unexpired)
  // request with the same action_hash exists, returns that one instead.
  virtual Status Hold(const Request& request, Request* out) = 0;

  // If an approved, unexpired request with this hash exists, marks it
  // consumed: exactly once, even across daemons sharing the store. `out`
  // gets the consumed request. kNotFound when there is simply none; any
  // other error is a store failure.
  virtual Status ConsumeApproval(const std::string& action_hash, std::int64_t now_ms,
                                 Request* out) = 0;

  // Whether an approved, unexpired request with this hash is waiting, without
  // consuming it: the daemon saves what the action destroys to the vault
  // first, and consumes only once the save is durable. `id`, when given,
  // receives the approved request's id.
  virtual Status HasApproval(const std::string& action_hash, std::int64_t now_ms, bool* approved,
                             std::string* id = nullptr) = 0;

  // Adds `approver` to the request (by id or code); it becomes approved once
  // approvals_needed distinct approvers have approved. Fails for unknown,
  // expired, denied or consumed requests, or the same approver twice. With
  // `spend`, the approver's TOTP step is used up in the same transaction
  // (and the approval fails, unchanged, when it was already used).
  virtual Status Approve(const std::string& id_or_code, const std::string& approver,
                         std::int64_t now_ms, Request* out, const TotpSpend* spend = nullptr) = 0;
  // Undoes a consumption whose audit record could not be written: the action
  // did not run, so its approval stays usable. kFailedPrecondition when it
  // is not consumed.
  virtual Status ReleaseConsumption(const std::string& id) = 0;
  virtual Status Deny(const std::string& id_or_code, const std::string& approver,
                      const std::string& reason, std::int64_t now_ms, Request* out) = 0;
  virtual Status Get(const std::string& id_or_code, Request* out) = 0;
  // Pending, unexpired requests, oldest first.
  virtual Status Pending(std::int64_t now_ms, std::vector<Request>* out) = 0;
  // Marks pending/approved requests past their expiry as expired; returns them.
  virtual Status Expire(std::int64_t now_ms, std::vector<Request>* expired) = 0;

  // Approvers and their TOTP secrets (base32). `only_if_first`: add only when
  // there is no approver yet (atomically: two first enrolments cannot both
  // win). `spend`: use up the authorising approver's step in the same
  // transaction.
  virtual Status AddApprover(const std::string& name, const std::string& secret,
                             bool only_if_first = false, const TotpSpend* spend = nullptr) = 0;
  // Removes an approver; refuses to remove the last one (nobody could approve,
  // and enrolment would be open to the daemon's user again).
  virtual Status RemoveApprover(const std::string& name, const TotpSpend* spend) = 0;
  // Replaces an approver's secret (a lost or exposed phone).
  virtual Status RotateApprover(const std::string& name, const std::string& secret,
                                const TotpSpend* spend) = 0;
  // `last_step`, when given, receives the last TOTP step the approver used.
  virtual Status ApproverSecret(const std::string& name, std::string* secret,
                                std::int64_t* last_step = nullptr) = 0;
  virtual Status Approvers(std::vector<std::string>* names) = 0;
  // Records that `name` used TOTP time step `step`; kFailedPrecondition if
  // that step (or a later one) was already used: a code works once.
  virtual Status UseTotpStep(const std::string& name, std::int64_t step) = 0;

  // Failed second factors (see Authorize). BeginAuthAttempt, atomically over
  // `scopes`: when any is locked, sets *locked and changes nothing; otherwise
  // counts this attempt as a failure in every scope, before the code is
  // checked, so that an attempt the store cannot record is never checked.
  // `after` gets the scopes' rows as they now are (locked or counted).
  // ForgiveAuthAttempt puts rows back to `before` for a code that proved
  // right, unless another attempt changed them meanwhile.
  virtual Status BeginAuthAttempt(const std::vector<std::string>& scopes, std::int64_t now_ms,
                                  const LockoutPolicy& policy, bool* locked,
                                  std::vector<Lockout>* before, std::vector<Lockout>* after) = 0;
  virtual Status ForgiveAuthAttempt(const std::vector<Lockout>& before,
                                    const std::vector<Lockout>& after) = 0;
  // Scopes with failures not yet forgotten, for `pending` and `watch`.
  virtual Status Lockouts(std::int64_t now_ms, const LockoutPolicy& policy,
                          std::vector<Lockout>* out) = 0;

  // The breaker: a frozen agent stays frozen across restarts. `spend`: a
  // reset's TOTP step, used up in the same transaction.
  virtual Status SetFrozen(const std::string& agent, bool frozen, const std::string& why,
                           const TotpSpend* spend = nullptr) = 0;
  virtual Status IsFrozen(const std::string& agent, bool* frozen) = 0;
  // Every agent the breaker has frozen (or that was reset since), with when
  // its state last changed and why, oldest first: `breaker status`.
  struct Freeze {
    std::string agent;
    bool frozen = false;
    std::string why;
    std::int64_t updated_ms = 0;
  };
  virtual Status Freezes(std::vector<Freeze>* out) = 0;

  // Audit log checkpoints (see AuditSeal). Remember keeps every seal;
  // LastAuditSeal gives the highest seq remembered for the log (found false
  // when there is none).
  // Items (see Item). PutItem with `replace` false fails (kFailedPrecondition)
  // when the key is taken. TakeItem deletes and returns a live item: what is taken
  // once cannot be taken again, even by another daemon. AdvanceItemCounter
  // sets the counter to `to` only while it is still `from`.
  virtual Status PutItem(const Item& item, bool replace, std::int64_t now_ms) = 0;
  virtual Status GetItem(const std::string& kind, const std::string& key, std::int64_t now_ms,
                         Item* out, bool* found) = 0;
  // Live items of a kind, of one owner ("" for every owner), oldest key first.
  virtual Status ListItems(const std::string& kind, const std::string& owner, std::int64_t now_ms,
                           std::vector<Item>* out) = 0;
  virtual Status DeleteItem(const std::string& kind, const std::string& key, bool* deleted) = 0;
  virtual Status TakeItem(const std::string& kind, const std::string& key, std::int64_t now_ms,
                          Item* out, bool* found) = 0;
  virtual Status AdvanceItemCounter(const std::string& kind, const std::string& key,
                                    std::int64_t from, std::int64_t to, bool* advanced) = 0;

  virtual Status RememberAuditSeal(const AuditSeal& seal) = 0;
  virtual Status LastAuditSeal(const std::string& log_id, AuditSeal* out, bool* found) = 0;
};

// "postgresql://..." or "postgres://..." opens PostgreSQL (libpq); anything
// else is a SQLite file path. Creates the schema if missing.
Result<std::unique_ptr<Store>> OpenStore(const std::string& location);

// Approver names: 1..128 bytes of valid UTF-8 without control characters.
bool ValidApproverName(std::string_view name);

// Whether `approver` could approve `request` now (kFailedPrecondition with
// the reason when not). Lets a caller refuse before checking a code or
// writing an audit record.
Status CanApprove(const Request& request, const std::string& approver, std::int64_t now_ms);

// ---- Authorization: the one place a human's second factor is checked ----
//
// Used by the daemon (approve, breaker reset, approver administration) and by
// `vault prune`. The order is what makes guessing useless: a locked scope is
// refused without looking at the code; otherwise the attempt is counted as a
// failure in the store first (an attempt that cannot be counted is not
// checked), then the code is compared in constant time over the three
// accepted steps, and a right, unused code is forgiven. The code is not
// spent here: the caller writes its audit record, then spends `spend` in the
// same store transaction as the effect.
struct AuthResult {
  Status status;                     // ok; kPermissionDenied (wrong code, unknown approver),
                                     // kResourceExhausted (locked out), kFailedPrecondition (code
                                     // already used), kInvalidArgument, kUnavailable (store)
  TotpSpend spend;                   // when ok: the step to spend with the effect
  bool counted = false;              // a failed attempt was counted: audit it
  bool locked = false;               // refused without checking: a scope is locked
  int failures = 0;                  // most failures among the scopes, after this attempt
  std::int64_t locked_until_ms = 0;  // latest lockout among the scopes (0: none)
  std::string locked_scope;          // the scope that is locked, when one is
};
AuthResult Authorize(Store& store, const std::string& approver, std::string_view code,
                     const std::string& subject, std::int64_t now_ms,
                     const LockoutPolicy& policy = {});

// ---- Passkeys (WebAuthn) as a second factor -------------------------------
//
// A passkey answers a challenge the daemon issued for one action: the
// challenge is SHA-256 over a server nonce and the action's binding (for an
// approval "request:ID\nACTION_HASH"; otherwise the Authorize subject), so
// an answer is worth nothing for another action, and the nonce works once.
struct Passkey {
  std::string approver;
  webauthn::Credential credential;
  std::string label;
  std::int64_t created_ms = 0;
};
bool AddPasskey(Store& store, const Passkey& passkey, std::string* error);
// An approver's passkeys ("" for everyone's).
bool Passkeys(Store& store, const std::string& approver, std::vector<Passkey>* out,
              std::string* error);
bool RemovePasskey(Store& store, const std::string& credential_id, std::string* error);

struct PasskeyChallenge {
  std::string nonce;      // base64url; names the challenge
  std::string challenge;  // raw bytes the authenticator signs over
  std::int64_t expires_ms = 0;
};
inline constexpr std::int64_t kChallengeTtlMs = 3 * 60'000;
// A challenge for `approver` bound to `binding`, valid kChallengeTtlMs. At
// most a few dozen wait per approver: the oldest give way.
Result<PasskeyChallenge> IssuePasskeyChallenge(Store& store, const std::string& approver,
                                               const std::string& binding, std::int64_t now_ms);
// What the authenticator must sign for `nonce` and `binding`.
std::string PasskeyChallengeBytes(std::string_view nonce, std::string_view binding);

// The passkey answer to a challenge, decoded.
struct PasskeyProof {
  std::string nonce;
  webauthn::Assertion assertion;
};

// A human's second factor: a TOTP code or a passkey's answer. `binding` is
// what the passkey's challenge must be bound to ("" = the subject); `rp` is
// the page's relying party.
struct SecondFactor {
  std::string totp;
  std::optional<PasskeyProof> passkey;
  std::string binding;
  webauthn::RelyingParty rp;
};
// The same order and lockouts as the TOTP Authorize; for a passkey the
// challenge is taken (used up) and the signature counter advanced before
// success, and `spend` stays empty (nothing more to spend with the effect).
AuthResult Authorize(Store& store, const std::string& approver, const SecondFactor& factor,
                     const std::string& subject, std::int64_t now_ms,
                     const LockoutPolicy& policy = {});

// TOTP, RFC 6238 (HMAC-SHA1, 30 s steps, 6 digits).
std::string NewTotpSecret();  // 160 random bits, base32
std::string TotpCode(const std::string& secret_base32, std::int64_t unix_seconds);
// Accepts the current step and one either side; returns the matched step
// in `step` (for UseTotpStep), or false.
bool CheckTotp(const std::string& secret_base32, std::string_view code, std::int64_t unix_seconds,
               std::int64_t* step);
std::string TotpUri(const std::string& name, const std::string& secret_base32);
// The URI as a QR code drawn with Unicode half blocks, for a terminal.
std::string TerminalQr(const std::string& text);

}  // namespace dualkey::approval
