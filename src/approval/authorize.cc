// Authorize: the one place a human's TOTP code is checked, for the daemon
// and for `vault prune`. See approval.h for the order of the steps and why.
#include <ctime>

#include "approval/approval.h"
#include "approval/internal.h"
#include "base/time_text.h"

namespace dualkey::approval {
namespace {

std::string Clock(std::int64_t ms) {
  return base::FormatTime(ms, "%H:%M:%S", base::TimeZone::kLocal);
}

std::string Duration(std::int64_t ms) {
  const std::int64_t seconds = (ms + 999) / 1000;
  if (seconds < 120) return std::to_string(seconds) + " s";
  return std::to_string((seconds + 59) / 60) + " min";
}

// The worst of the rows: most failures, latest lockout.
void Summarise(const std::vector<Lockout>& rows, std::int64_t now_ms, AuthResult* result) {
  for (const Lockout& row : rows) {
    result->failures = std::max(result->failures, row.failures);
    if (row.locked_until_ms > now_ms && row.locked_until_ms > result->locked_until_ms) {
      result->locked_until_ms = row.locked_until_ms;
      result->locked_scope = row.scope;
    }
  }
}

// What a person reads after a failed code: how many so far, what comes next.
std::string Consequence(const AuthResult& result, std::int64_t now_ms,
                        const LockoutPolicy& policy) {
  std::string text =
      " (" + std::to_string(result.failures) + " wrong code" + (result.failures == 1 ? "" : "s");
  if (result.locked_until_ms > now_ms) {
    text += "; " + result.locked_scope + " is locked for " +
            Duration(result.locked_until_ms - now_ms) + ", until " + Clock(result.locked_until_ms);
  } else if (result.failures < policy.free_failures) {
    const int left = policy.free_failures - result.failures;
    text += "; " + std::to_string(left) + " more before a lockout";
  }
  return text + ")";
}

}  // namespace

AuthResult Authorize(Store& store, const std::string& approver, std::string_view code,
                     const std::string& subject, std::int64_t now_ms, const LockoutPolicy& policy) {
  SecondFactor factor;
  factor.totp = std::string(code);
  return Authorize(store, approver, factor, subject, now_ms, policy);
}

AuthResult Authorize(Store& store, const std::string& approver, const SecondFactor& factor,
                     const std::string& subject, std::int64_t now_ms, const LockoutPolicy& policy) {
  const std::string_view code = factor.totp;
  AuthResult result;
  if (approver.empty()) {
    result.status = Status::InvalidArgument("an approver's name is needed (--as NAME)");
    return result;
  }
  std::string secret;
  std::int64_t last_step = -1;
  const Status found = store.ApproverSecret(approver, &secret, &last_step);
  if (!found.ok() && !found.Is(Status::Code::kNotFound)) {
    result.status = Status::Unavailable("cannot read the approval store (" + found.message() +
                                        "); the code was not checked and is unspent");
    return result;
  }
  const bool known = found.ok();
  std::vector<std::string> scopes = {subject};
  // Unknown names can never succeed; counting them against the subject
  // still limits and records the noise, without a row per invented name.
  if (known) scopes.push_back("approver:" + approver);

  bool locked = false;
  std::vector<Lockout> before, after;
  if (Status begun = store.BeginAuthAttempt(scopes, now_ms, policy, &locked, &before, &after);
      !begun.ok()) {
    result.status =
        Status::Unavailable("cannot record the attempt in the approval store (" + begun.message() +
                            "); the code was not checked and is unspent");
    return result;
  }
  Summarise(after, now_ms, &result);
  if (locked) {
    result.locked = true;
    result.status = Status::ResourceExhausted(
        "too many wrong codes: " + result.locked_scope + " is locked for " +
        Duration(result.locked_until_ms - now_ms) + ", until " + Clock(result.locked_until_ms) +
        " (" + std::to_string(result.failures) +
        " failures); the code was not checked. If you did not type them, someone is guessing: "
        "see `dualkey pending` and the audit log");
    return result;
  }
  result.counted = true;  // provisional until the code proves right
  if (!known) {
    result.status =
        Status::PermissionDenied("unknown approver '" + internal::DisplaySafe(approver) + "'" +
                                 Consequence(result, now_ms, policy));
    return result;
  }
  std::int64_t step = -1;
  if (factor.passkey) {
    // A passkey: the same lockouts, counted first; the challenge is used up
    // and the counter advanced whatever the effect does next.
    Status checked = internal::CheckPasskey(store, approver, factor, subject, now_ms);
    if (!checked.ok()) {
      result.status =
          checked.Is(Status::Code::kPermissionDenied)
              ? Status::PermissionDenied(checked.message() + Consequence(result, now_ms, policy))
              : checked;
      return result;
    }
  } else if (!CheckTotp(secret, code, now_ms / 1000, &step)) {
    result.status = Status::PermissionDenied("wrong or expired TOTP code for approver '" +
                                             approver + "'" + Consequence(result, now_ms, policy));
    return result;
  }
  if (!factor.passkey && step <= last_step) {
    // A code seen once (a terminal, a process list) is worth nothing again.
    result.status =
        Status::FailedPrecondition(internal::kTotpUsed + Consequence(result, now_ms, policy));
    return result;
  }
  if (Status forgiven = store.ForgiveAuthAttempt(before, after); !forgiven.ok()) {
    result.status =
        Status::Unavailable("the approval store could not be written (" + forgiven.message() +
                            "); nothing changed and the code is unspent");
    return result;
  }
  result.counted = false;
  result.failures = 0;
  result.locked_until_ms = 0;
  result.locked_scope.clear();
  for (const Lockout& row : before) result.failures = std::max(result.failures, row.failures);
  result.spend = factor.passkey ? TotpSpend{approver, -1} : TotpSpend{approver, step};
  result.status = Status::Ok();
  return result;
}

}  // namespace dualkey::approval
