#include "policy/policy.h"

#include <fnmatch.h>

#include <algorithm>

namespace dualkey::policy {
namespace {

Rule BuiltinRule(std::string name, std::vector<std::string> classes, int destructive,
                 Decision decision, std::string message, bool snapshot = false) {
  Rule rule;
  rule.snapshot = snapshot;
  rule.name = std::move(name);
  rule.classes = std::move(classes);
  rule.destructive = destructive;
  rule.decision = decision;
  rule.message = std::move(message);
  return rule;
}

bool Glob(const std::string& pattern, const std::string& text) {
  // No FNM_PATHNAME: `*` crosses '/', so "/srv/*" covers everything below.
  return fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

bool AnyGlob(const std::vector<std::string>& patterns, const std::string& text) {
  for (const std::string& pattern : patterns)
    if (Glob(pattern, text)) return true;
  return false;
}

bool Matches(const Rule& rule, const Action& action, const Subject& subject,
             const std::vector<std::string>& env) {
  if (!rule.channels.empty() && std::find(rule.channels.begin(), rule.channels.end(),
                                          ToString(action.channel)) == rule.channels.end())
    return false;
  if (!rule.classes.empty() && !AnyGlob(rule.classes, action.op_class)) return false;
  if (!rule.targets.empty()) {
    bool any = false;
    for (const std::string& target : action.targets) any = any || AnyGlob(rule.targets, target);
    if (!any) return false;
  }
  if (!rule.agents.empty() && !AnyGlob(rule.agents, subject.agent)) return false;
  if (!rule.envs.empty()) {
    bool any = false;
    for (const std::string& label : env) any = any || AnyGlob(rule.envs, label);
    if (!any) return false;
  }
  if (action.severity < rule.min_severity) return false;
  if (rule.destructive != -1 && IsDestructive(action) != (rule.destructive == 1)) return false;
  return true;
}

}  // namespace

bool IsGuardTamper(const Action& action) {
  const std::string_view op_class = action.op_class;
  return op_class.starts_with(kGuardTamperClass) &&
         (op_class.size() == kGuardTamperClass.size() || op_class[kGuardTamperClass.size()] == '.');
}

namespace {

// Strictness with "snapshot" in its place: above allow, below hold.
int Rank(Decision decision, bool snapshot) {
  switch (decision) {
    case Decision::kAllow:
      return 0;
    case Decision::kHold:
      return snapshot ? 1 : 2;
    case Decision::kHold2:
      return 3;
    case Decision::kDeny:
      return 4;
  }
  return 4;
}

// Losing a backup removes the last way back: no layer may allow it unattended.
bool IsBackupLoss(const Action& action) {
  return action.op_class.starts_with("backup.") && IsDestructive(action);
}

}  // namespace

bool SnapshotCapable(std::string_view op_class) {
  return op_class == "db.delete.unbounded" || op_class == "db.update.unbounded" ||
         op_class == "db.truncate" || op_class == "db.write.bounded";
}

Policy Builtin() {
  Layer layer;
  layer.kind = LayerKind::kBuiltin;
  layer.path = "built-in";
  layer.rules = {
      BuiltinRule("backups", {"backup.*"}, 1, Decision::kHold2,
                  "deleting backups removes the last way back: two humans must approve"),
      BuiltinRule("disk-wipes", {"disk.wipe*", "disk.format*"}, -1, Decision::kHold2,
                  "wiping or formatting a disk destroys everything on it: two humans must approve"),
      // The actions' own reasons say enough for these.
      BuiltinRule("opaque", {"opaque.*"}, -1, Decision::kHold, ""),
      // Rows of one table: a proxy that can save them first may run the
      // statement without a human when they are few ([snapshot] thresholds).
      BuiltinRule("small-destruction",
                  {"db.delete.unbounded", "db.update.unbounded", "db.truncate"}, 1, Decision::kHold,
                  "", /*snapshot=*/true),
      BuiltinRule("destructive", {}, 1, Decision::kHold, ""),
      BuiltinRule("everything-else", {}, -1, Decision::kAllow, ""),
  };
  Policy policy;
  policy.layers.push_back(std::move(layer));
  return policy;
}

namespace {

bool TightenOnly(const Policy& policy, const Layer& layer) {
  return layer.kind == LayerKind::kProject || (layer.kind == LayerKind::kUser && policy.lock_user);
}

// Labels only a tighten-only layer declares. Such a label may make a rule
// match that tightens, never one that loosens: an agent that writes
// `env = ["sandbox"]` into .dualkey.toml must not switch on a system rule
// that allows everything in sandboxes.
std::vector<std::string> TrustedLabels(const Policy& policy, bool* any_untrusted) {
  std::vector<std::string> untrusted;
  for (const Layer& layer : policy.layers)
    if (TightenOnly(policy, layer))
      untrusted.insert(untrusted.end(), layer.env.begin(), layer.env.end());
  std::vector<std::string> trusted;
  for (const Layer& layer : policy.layers)
    if (!TightenOnly(policy, layer))
      trusted.insert(trusted.end(), layer.env.begin(), layer.env.end());
  *any_untrusted = false;
  std::vector<std::string> out;
  for (const std::string& label : policy.env) {
    const bool declared_trusted = std::find(trusted.begin(), trusted.end(), label) != trusted.end();
    const bool declared_untrusted =
        std::find(untrusted.begin(), untrusted.end(), label) != untrusted.end();
    if (declared_untrusted && !declared_trusted)
      *any_untrusted = true;
    else
      out.push_back(label);
  }
  return out;
}

ActionDecision ExplainOne(const Policy& policy, const Action& action, const Subject& subject,
                          const std::vector<std::string>& env);

}  // namespace

std::vector<ActionDecision> Explain(const Policy& policy, const std::vector<Action>& actions,
                                    const Subject& subject) {
  std::vector<ActionDecision> out;
  out.reserve(actions.size());
  bool any_untrusted = false;
  std::vector<std::string> trusted;
  if (!policy.env.empty()) trusted = TrustedLabels(policy, &any_untrusted);
  for (const Action& action : actions) {
    ActionDecision all = ExplainOne(policy, action, subject, policy.env);
    if (any_untrusted) {
      ActionDecision without = ExplainOne(policy, action, subject, trusted);
      if (without.decision > all.decision) all = std::move(without);
    }
    out.push_back(std::move(all));
  }
  return out;
}

namespace {

ActionDecision ExplainOne(const Policy& policy, const Action& action, const Subject& subject,
                          const std::vector<std::string>& env) {
  {
    ActionDecision result;
    result.action = action;
    bool decided = false;
    for (const Layer& layer : policy.layers) {
      const bool tighten_only =
          layer.kind == LayerKind::kProject || (layer.kind == LayerKind::kUser && policy.lock_user);
      for (std::size_t i = 0; i < layer.rules.size(); ++i) {
        const Rule& rule = layer.rules[i];
        if (!Matches(rule, action, subject, env)) continue;
        Step step;
        step.layer = layer.kind;
        step.path = layer.path;
        step.rule = rule.name.empty() ? "#" + std::to_string(i + 1) : rule.name;
        step.line = rule.line;
        step.decision = rule.decision;
        step.snapshot = rule.snapshot;
        const int rank = Rank(rule.decision, rule.snapshot);
        const int current = Rank(result.decision, result.snapshot);
        if (!decided) {
          result.decision = rule.decision;
          result.snapshot = rule.snapshot;
          result.message = rule.message;
        } else if (tighten_only && rank < current) {
          step.note = "this layer can only tighten: a looser rule is ignored";
        } else if (!tighten_only || rank > current) {
          result.decision = rule.decision;
          result.snapshot = rule.snapshot;
          if (!rule.message.empty()) result.message = rule.message;
        }
        decided = true;
        step.result = result.decision;
        step.result_snapshot = result.snapshot;
        result.steps.push_back(std::move(step));
        break;  // first matching rule of each layer speaks for the layer
      }
    }
    if (result.snapshot && !SnapshotCapable(action.op_class)) {
      // A snapshot cannot undo this (a schema, a database, a backup...).
      result.snapshot = false;
      Step step;
      step.layer = LayerKind::kBuiltin;
      step.path = "built-in";
      step.rule = "snapshot-scope";
      step.decision = result.decision;
      step.result = result.decision;
      step.note = "a snapshot cannot undo " + action.op_class + ": held for a human";
      result.steps.push_back(std::move(step));
    }
    auto floor = [&](Decision minimum, std::string note) {
      if (Rank(result.decision, result.snapshot) >= Rank(minimum, false)) return;
      result.decision = minimum;
      result.snapshot = false;
      Step step;
      step.layer = LayerKind::kBuiltin;
      step.path = "built-in";
      step.rule = "floor";
      step.decision = minimum;
      step.result = minimum;
      step.note = std::move(note);
      result.steps.push_back(std::move(step));
    };
    if (IsBackupLoss(action)) floor(Decision::kHold, "backup.* can never be set below hold");
    // An agent that can change the guard, its keys or its hooks can approve
    // itself: two humans, whatever any layer says.
    if (IsGuardTamper(action)) floor(Decision::kHold2, "guard.tamper can never be set below hold2");
    if (!policy.errors.empty() && IsDestructive(action))
      floor(Decision::kHold, "a policy file failed to load: destructive actions stay held");
    if (result.message.empty()) result.message = action.reason;
    return result;
  }
}

// Why an action is allowed, in words that stay true for every class: a
// bounded DELETE is small, not "disposable"; a user's rule is the user's.
std::string AllowReason(const ActionDecision& d) {
  if (d.action.severity == Severity::kNone) return "nothing destructive found";
  for (auto step = d.steps.rbegin(); step != d.steps.rend(); ++step) {
    if (step->layer == LayerKind::kBuiltin || step->decision != Decision::kAllow) continue;
    return "allowed by the " + std::string(ToString(step->layer)) + " policy's rule '" +
           step->rule + "' (" + step->path +
           (step->line > 0 ? ":" + std::to_string(step->line) : "") + "): " + d.action.reason;
  }
  if (d.action.severity == Severity::kLow) return "low impact: " + d.action.reason;
  return "allowed: " + d.action.reason;
}

}  // namespace

void Raise(Verdict* verdict, std::optional<Decision> minimum, std::string_view detail) {
  const bool raised_allow =
      minimum && *minimum > verdict->decision && verdict->decision == Decision::kAllow;
  if (minimum && *minimum > verdict->decision) {
    verdict->decision = *minimum;
    verdict->observe_only = false;
  }
  // The caller knows more than the policy: no snapshot stands in.
  if (minimum && *minimum >= Decision::kHold) verdict->snapshot = false;
  if (detail.empty()) return;
  if (!raised_allow) {
    verdict->reason += " (" + std::string(detail) + ")";
    return;
  }
  // The allow's reason was about why it could pass; what matters now is what
  // it would destroy: the detail, then the most severe action's own words.
  const Action* worst = nullptr;
  for (const Action& action : verdict->actions)
    if (worst == nullptr || action.severity > worst->severity) worst = &action;
  verdict->reason = std::string(detail);
  if (worst != nullptr && !worst->reason.empty()) verdict->reason += "; " + worst->reason;
}

Verdict Decide(const Policy& policy, std::vector<Action> actions, const Subject& subject) {
  Verdict verdict;
  std::vector<ActionDecision> decisions = Explain(policy, actions, subject);
  const ActionDecision* decisive = nullptr;
  for (const ActionDecision& d : decisions) {
    const int rank = Rank(d.decision, d.snapshot);
    const int best = decisive ? Rank(decisive->decision, decisive->snapshot) : -1;
    if (rank > best || (rank == best && d.action.severity > decisive->action.severity))
      decisive = &d;
  }
  if (decisive == nullptr) {
    verdict.reason = "nothing destructive found";
  } else {
    verdict.decision = decisive->decision;
    // The strictest action is a snapshot-hold: so is every other held one.
    verdict.snapshot = decisive->decision == Decision::kHold && decisive->snapshot;
    if (verdict.decision == Decision::kAllow) {
      verdict.reason = AllowReason(*decisive);
    } else {
      verdict.reason = decisive->action.reason;
      if (!decisive->message.empty() && decisive->message != decisive->action.reason)
        verdict.reason += " (" + decisive->message + ")";
    }
  }
  if (!policy.errors.empty() && verdict.decision != Decision::kAllow)
    verdict.reason += " [policy error: " + policy.errors.front() + "]";
  verdict.observe_only = policy.mode == Mode::kObserve && policy.errors.empty();
  verdict.actions = std::move(actions);
  return verdict;
}

Verdict Decide(std::vector<Action> actions) {
  static const Policy builtin = Builtin();
  return Decide(builtin, std::move(actions), {});
}

Verdict FailClosed(std::string reason) {
  Verdict verdict;
  verdict.decision = Decision::kHold;
  verdict.reason = std::move(reason);
  return verdict;
}

std::string_view ToString(LayerKind kind) {
  switch (kind) {
    case LayerKind::kBuiltin:
      return "built-in";
    case LayerKind::kSystem:
      return "system";
    case LayerKind::kUser:
      return "user";
    case LayerKind::kProject:
      return "project";
  }
  return "unknown";
}

std::string_view DecisionName(Decision decision, bool snapshot) {
  if (decision == Decision::kHold && snapshot) return "snapshot";
  return ToString(decision);
}

}  // namespace dualkey::policy
