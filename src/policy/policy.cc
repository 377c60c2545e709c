#include "policy/policy.h"

namespace dualkey::policy {

namespace {

Decision DefaultDecision(const Action& action) {
  return IsDestructive(action) ? Decision::kHold : Decision::kAllow;
}

}  // namespace

Verdict Decide(std::vector<Action> actions) {
  Verdict verdict;
  const Action* decisive = nullptr;
  for (const Action& action : actions) {
    Decision decision = DefaultDecision(action);
    if (decisive == nullptr || decision > verdict.decision ||
        (decision == verdict.decision && action.severity > decisive->severity)) {
      verdict.decision = decision;
      decisive = &action;
    }
  }
  if (decisive == nullptr) {
    verdict.reason = "nothing destructive found";
  } else if (verdict.decision == Decision::kAllow) {
    verdict.reason = decisive->severity == Severity::kNone
                         ? "nothing destructive found"
                         : "only disposable data is affected: " + decisive->reason;
  } else {
    verdict.reason = decisive->reason;
  }
  verdict.actions = std::move(actions);
  return verdict;
}

Verdict FailClosed(std::string reason) {
  Verdict verdict;
  verdict.decision = Decision::kHold;
  verdict.reason = std::move(reason);
  return verdict;
}

}  // namespace dualkey::policy
