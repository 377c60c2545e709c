#include "sql/sql.h"

namespace dualkey::sql {
// Placeholder until the SQL module lands: everything is opaque (held).
std::vector<Action> Classify(std::string_view sql, const Options&) {
  Action action;
  action.channel = Channel::kSql;
  action.op_class = "opaque.sql";
  action.reversibility = Reversibility::kUnknown;
  action.severity = Severity::kHigh;
  action.reason = "SQL is not understood yet";
  return {action};
}
}  // namespace dualkey::sql
