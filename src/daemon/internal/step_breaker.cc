// The breaker's gate (chain.h): a frozen agent is held.
#include "daemon/internal/chain.h"

namespace dualkey::daemon::internal {
namespace {

bool IsRead(const Action& action) {
  return action.severity == Severity::kNone && !action.op_class.starts_with("opaque.");
}

}  // namespace

bool FreezeStep::FreezeApplies(const Verdict& verdict) {
  for (const Action& action : verdict.actions)
    if (!IsRead(action)) return true;
  return false;
}

std::string FreezeStep::FrozenReason(const std::string& agent) {
  return "the breaker froze agent '" + agent +
         "' after a burst of destructive attempts; a human must run `dualkey breaker reset " +
         agent + "` (see `dualkey breaker status`)";
}

std::optional<Outcome> FreezeStep::Run(Exchange& x) {
  bool frozen = false;
  if (Status st = store_.IsFrozen(x.agent, &frozen); !st.ok())
    return Outcome::Held("the approval store is unreachable: " + st.message());
  if (!frozen || !FreezeApplies(x.verdict)) return std::nullopt;
  Outcome out;
  out.reply.decision = Decision::kHold;
  out.reply.reason = FrozenReason(x.agent);
  out.reply.frozen = true;
  return out;
}

}  // namespace dualkey::daemon::internal
