// Why a destructive attempt got through: the classifier did not see it, or
// a policy file's rule let it through. The second is a weakness of the
// installation with its own fix (that rule), so the drill names the rule.
#include <algorithm>

#include "drill/internal/attempt.h"

namespace dualkey::drill::internal {

std::string Loosening::Where() const {
  return "rule '" + rule + "' (" + path + (line > 0 ? ":" + std::to_string(line) : "") + ")";
}

std::vector<Loosening> LooseningRules(const policy::Policy& policy, const guard::Request& request) {
  std::vector<Loosening> out;
  const guard::Result result = guard::Check(request, policy);
  if (result.verdict.decision != Decision::kAllow) return out;
  for (const policy::ActionDecision& d :
       policy::Explain(policy, result.verdict.actions, policy::Subject{request.agent})) {
    if (d.decision != Decision::kAllow) continue;
    // The steps run built-in first; a later layer's rule that leaves the
    // decision lower than it found it loosened it.
    // (Only allows are traced, so a snapshot's place between allow and
    // hold does not matter here.)
    bool have_before = false;
    Decision before = Decision::kAllow;
    for (const policy::Step& step : d.steps) {
      const bool lowered = have_before && step.result < before;
      if (lowered && step.layer != policy::LayerKind::kBuiltin) {
        Loosening l{std::string(policy::ToString(step.layer)), step.path, step.rule, step.line};
        const bool known = std::any_of(out.begin(), out.end(), [&](const Loosening& o) {
          return o.path == l.path && o.line == l.line && o.rule == l.rule;
        });
        if (!known) out.push_back(std::move(l));
      }
      before = step.result;
      have_before = true;
    }
  }
  return out;
}

}  // namespace dualkey::drill::internal
