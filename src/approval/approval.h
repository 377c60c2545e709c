// Approvals bound to the exact action: a held action becomes a pending
// request with an id and a short code; humans approve it with a TOTP code the
// agent does not have; the identical action then passes exactly once, before
// it expires. State lives in a Store: SQLite (WAL, durable before any reply)
// by default, PostgreSQL when several daemons share one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dualkey::approval {

// SHA-256 (hex) over the action's identity: channel, normalised input,
// working directory or target, and agent. A one-character change differs.
std::string ActionHash(std::string_view channel, std::string_view input, std::string_view cwd,
                       std::string_view agent);

enum class State { kPending, kApproved, kDenied, kConsumed, kExpired };
std::string_view ToString(State state);

// ConsumeApproval's error when no approval exists (not a failure).
inline constexpr std::string_view kNoApproval = "no approval for this action";

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
};

// Every call is atomic and durable before it returns (a reply may rely on it).
// Errors: false / empty optional with `error` set; never throws.
class Store {
 public:
  virtual ~Store() = default;

  // Registers a held action. When a live (pending or approved, unexpired)
  // request with the same action_hash exists, returns that one instead.
  virtual bool Hold(const Request& request, Request* out, std::string* error) = 0;

  // If an approved, unexpired request with this hash exists, marks it
  // consumed and returns true: exactly once, even across daemons sharing
  // the store. `out` gets the consumed request. When there is simply none,
  // returns false with `error` set to kNoApproval; any other error is a
  // store failure.
  virtual bool ConsumeApproval(const std::string& action_hash, std::int64_t now_ms, Request* out,
                               std::string* error) = 0;

  // Whether an approved, unexpired request with this hash is waiting, without
  // consuming it: the daemon saves what the action destroys to the vault
  // first, and consumes only once the save is durable. `id`, when given,
  // receives the approved request's id.
  virtual bool HasApproval(const std::string& action_hash, std::int64_t now_ms, bool* approved,
                           std::string* error, std::string* id = nullptr) = 0;

  // Adds `approver` to the request (by id or code); it becomes approved once
  // approvals_needed distinct approvers have approved. Fails for unknown,
  // expired, denied or consumed requests, or the same approver twice.
  virtual bool Approve(const std::string& id_or_code, const std::string& approver,
                       std::int64_t now_ms, Request* out, std::string* error) = 0;
  virtual bool Deny(const std::string& id_or_code, const std::string& approver,
                    const std::string& reason, std::int64_t now_ms, Request* out,
                    std::string* error) = 0;
  virtual bool Get(const std::string& id_or_code, Request* out, std::string* error) = 0;
  // Pending, unexpired requests, oldest first.
  virtual bool Pending(std::int64_t now_ms, std::vector<Request>* out, std::string* error) = 0;
  // Marks pending/approved requests past their expiry as expired; returns them.
  virtual bool Expire(std::int64_t now_ms, std::vector<Request>* expired, std::string* error) = 0;

  // Approvers and their TOTP secrets (base32).
  virtual bool AddApprover(const std::string& name, const std::string& secret,
                           std::string* error) = 0;
  virtual bool ApproverSecret(const std::string& name, std::string* secret, std::string* error) = 0;
  virtual bool Approvers(std::vector<std::string>* names, std::string* error) = 0;
  // Records that `name` used TOTP time step `step`; false if that step (or a
  // later one) was already used: a code works once.
  virtual bool UseTotpStep(const std::string& name, std::int64_t step, std::string* error) = 0;

  // The breaker: a frozen agent stays frozen across restarts.
  virtual bool SetFrozen(const std::string& agent, bool frozen, const std::string& why,
                         std::string* error) = 0;
  virtual bool IsFrozen(const std::string& agent, bool* frozen, std::string* error) = 0;
  // Every agent the breaker has frozen (or that was reset since), with when
  // its state last changed and why, oldest first: `breaker status`.
  struct Freeze {
    std::string agent;
    bool frozen = false;
    std::string why;
    std::int64_t updated_ms = 0;
  };
  virtual bool Freezes(std::vector<Freeze>* out, std::string* error) = 0;
};

// "postgresql://..." or "postgres://..." opens PostgreSQL (libpq); anything
// else is a SQLite file path. Creates the schema if missing.
std::unique_ptr<Store> OpenStore(const std::string& location, std::string* error);

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
