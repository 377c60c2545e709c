#include "core/action.h"

#include <cstddef>
#include <utility>

namespace dualkey {

Action MakeAction(Channel channel, std::string op_class, std::vector<std::string> targets,
                  Reversibility reversibility, Severity severity, std::string reason) {
  return Action{.channel = channel,
                .op_class = std::move(op_class),
                .targets = std::move(targets),
                .reversibility = reversibility,
                .severity = severity,
                .reason = std::move(reason),
                .origin = {}};  // packs name their rule; a channel's own classifier does not
}

bool IsDestructive(const Action& action) {
  if (action.severity >= Severity::kMedium) return true;
  // Anything we could not see through is never treated as harmless.
  if (action.op_class.starts_with("opaque.")) return true;
  if (action.op_class.starts_with("backup.") && action.op_class != "backup.create" &&
      action.op_class != "backup.read")
    return true;
  return false;
}

std::string_view ToString(Channel channel) {
  switch (channel) {
    case Channel::kShell:
      return "shell";
    case Channel::kSql:
      return "sql";
    case Channel::kHttp:
      return "http";
    case Channel::kMcp:
      return "mcp";
    case Channel::kFile:
      return "file";
  }
  return "unknown";
}

std::string_view ToString(Decision decision) {
  switch (decision) {
    case Decision::kAllow:
      return "allow";
    case Decision::kHold:
      return "hold";
    case Decision::kHold2:
      return "hold2";
    case Decision::kDeny:
      return "deny";
  }
  return "hold";
}

std::string_view ToString(Reversibility reversibility) {
  switch (reversibility) {
    case Reversibility::kReversible:
      return "reversible";
    case Reversibility::kRecoverable:
      return "recoverable";
    case Reversibility::kIrreversible:
      return "irreversible";
    case Reversibility::kUnknown:
      return "unknown";
  }
  return "unknown";
}

std::string_view ToString(Severity severity) {
  switch (severity) {
    case Severity::kNone:
      return "none";
    case Severity::kLow:
      return "low";
    case Severity::kMedium:
      return "medium";
    case Severity::kHigh:
      return "high";
    case Severity::kCritical:
      return "critical";
  }
  return "unknown";
}

namespace {

template <typename Enum, std::size_t N>
bool ParseName(std::string_view text, const Enum (&values)[N], Enum* out) {
  for (Enum value : values) {
    if (ToString(value) == text) {
      *out = value;
      return true;
    }
  }
  return false;
}

}  // namespace

bool ParseChannel(std::string_view text, Channel* out) {
  static constexpr Channel kAll[] = {Channel::kShell, Channel::kSql, Channel::kHttp, Channel::kMcp,
                                     Channel::kFile};
  return ParseName(text, kAll, out);
}

bool ParseDecision(std::string_view text, Decision* out) {
  static constexpr Decision kAll[] = {Decision::kAllow, Decision::kHold, Decision::kHold2,
                                      Decision::kDeny};
  return ParseName(text, kAll, out);
}

bool ParseReversibility(std::string_view text, Reversibility* out) {
  static constexpr Reversibility kAll[] = {Reversibility::kReversible, Reversibility::kRecoverable,
                                           Reversibility::kIrreversible, Reversibility::kUnknown};
  return ParseName(text, kAll, out);
}

bool ParseSeverity(std::string_view text, Severity* out) {
  static constexpr Severity kAll[] = {Severity::kNone, Severity::kLow, Severity::kMedium,
                                      Severity::kHigh, Severity::kCritical};
  return ParseName(text, kAll, out);
}

}  // namespace dualkey
