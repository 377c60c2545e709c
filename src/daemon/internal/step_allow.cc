// The allow step (chain.h): what the policy or a trusted proxy's fact allows.
#include "daemon/internal/chain.h"

namespace dualkey::daemon::internal {

// Only for SQL, only for a plain hold (never hold2 or deny, nor a hold the
// caller raised), a snapshot only where the policy said "snapshot", and only
// for what a catalog fact or a snapshot of rows can speak for: drops, and
// rows deleted, overwritten or truncated.
bool AllowStep::FactCanAllow(const client::CheckRequest& request, const Verdict& verdict) {
  const client::CheckRequest::AllowedBy& by = request.allowed_by;
  if (by.empty() || request.action.channel != Channel::kSql ||
      verdict.decision != Decision::kHold || verdict.observe_only)
    return false;
  if (by.fact.empty() && !verdict.snapshot) return false;
  for (const Action& action : verdict.actions) {
    if (!IsDestructive(action)) continue;
    const std::string& c = action.op_class;
    if (c != "db.drop" && !c.starts_with("db.drop.") && !policy::SnapshotCapable(c)) return false;
  }
  return true;
}

std::string AllowStep::AllowedReason(const client::CheckRequest& request, const Verdict& verdict) {
  const client::CheckRequest::AllowedBy& by = request.allowed_by;
  std::string reason = verdict.reason + "; allowed without a human:";
  if (!by.fact.empty()) reason += " it destroys nothing (" + by.fact + ")";
  if (!by.snapshot_id.empty() && verdict.snapshot)
    reason +=
        std::string(by.fact.empty() ? "" : ";") + " what it destroys is small (" +
        (by.measured.empty() ? std::string("within the policy's [snapshot] limits") : by.measured) +
        ") and was saved first as vault snapshot " + by.snapshot_id + " (dualkey vault restore " +
        by.snapshot_id + ")";
  return reason;
}

std::optional<Outcome> AllowStep::Run(Exchange& x) {
  const Verdict& verdict = x.verdict;
  if (verdict.Enforced() == Decision::kAllow) {
    // The common case: written before the reply, synced by group commit.
    Outcome out;
    out.reply.decision = Decision::kAllow;
    out.reply.reason = verdict.reason;
    if (verdict.observe_only) out.reply.observed = verdict.decision;
    out.durability = audit::Log::Durability::kWritten;
    out.if_unrecorded = Outcome::IfUnrecorded::kHold;
    return out;
  }
  if (FactCanAllow(x.request, verdict)) {
    // What allowed it is audited; no approval is asked for and the breaker
    // and the rate limit count nothing.
    Outcome out;
    out.reply.decision = Decision::kAllow;
    out.reply.reason = AllowedReason(x.request, verdict);
    out.reply.fact = x.request.allowed_by.fact;
    if (verdict.snapshot) out.reply.snapshot_id = x.request.allowed_by.snapshot_id;
    out.if_unrecorded = Outcome::IfUnrecorded::kHold;
    return out;
  }
  return std::nullopt;
}

}  // namespace dualkey::daemon::internal
