#include "sql/internal/rules.h"

#include <utility>

namespace dualkey::sql::internal {
namespace {

constexpr FunctionRule kFunctionRules[] = {
    {"pg_terminate_backend", "db.admin.terminate", Severity::kHigh, Reversibility::kIrreversible,
     "terminates server connections; their open transactions are lost"},
    {"pg_cancel_backend", "db.admin.cancel", Severity::kMedium, Reversibility::kIrreversible,
     "cancels queries running on other connections"},
    {"pg_drop_replication_slot", "db.admin.destructive", Severity::kHigh,
     Reversibility::kIrreversible, "drops a replication slot; its consumer loses its position"},
    {"pg_replication_origin_drop", "db.admin.destructive", Severity::kHigh,
     Reversibility::kIrreversible, "drops a replication origin and its progress"},
    {"pg_promote", "db.admin.destructive", Severity::kHigh, Reversibility::kIrreversible,
     "promotes a standby to primary (a failover)"},
    {"lo_unlink", "db.delete.largeobject", Severity::kHigh, Reversibility::kIrreversible,
     "deletes large objects"},
    {"lo_truncate", "db.delete.largeobject", Severity::kHigh, Reversibility::kIrreversible,
     "truncates large objects"},
    {"lo_truncate64", "db.delete.largeobject", Severity::kHigh, Reversibility::kIrreversible,
     "truncates large objects"},
    {"lo_export", "db.file.write", Severity::kMedium, Reversibility::kIrreversible,
     "writes a large object over a file on the database server"},
    {"pg_file_write", "db.file.write", Severity::kHigh, Reversibility::kIrreversible,
     "writes a file on the database server"},
    {"pg_file_unlink", "db.file.delete", Severity::kHigh, Reversibility::kIrreversible,
     "deletes a file on the database server"},
    {"pg_file_rename", "db.file.write", Severity::kMedium, Reversibility::kRecoverable,
     "renames a file on the database server"},
    {"load_extension", "opaque.exec", Severity::kHigh, Reversibility::kUnknown,
     "loads a native library into the database process"},
    {"sys_exec", "opaque.exec", Severity::kHigh, Reversibility::kUnknown,
     "runs a shell command on the database server"},
    {"sys_eval", "opaque.exec", Severity::kHigh, Reversibility::kUnknown,
     "runs a shell command on the database server"},
};

// Settings that switch off a safety net, and the values that do it. Data:
// extend here when a new one appears.
struct DangerousSettingRule {
  std::string_view name;
  std::vector<std::string_view> values;
  std::string_view reason;
};

const std::vector<DangerousSettingRule>& DangerousSettingRules() {
  static const std::vector<DangerousSettingRule> rules = {
      {"session_replication_role",
       {"replica", "local"},
       "replica mode skips triggers and foreign-key checks"},
      {"foreign_key_checks", {"0", "off", "false", "no"}, "switches off foreign-key checks"},
      {"foreign_keys", {"0", "off", "false", "no"}, "switches off foreign-key checks"},
      {"unique_checks", {"0", "off", "false", "no"}, "switches off unique checks"},
      {"sql_log_bin",
       {"0", "off", "false", "no"},
       "stops binary logging, so replicas and point-in-time recovery miss the changes"},
      {"writable_schema",
       {"1", "on", "true", "yes"},
       "lets statements rewrite the schema table directly (corruption risk)"},
      {"ignore_check_constraints", {"1", "on", "true", "yes"}, "switches off CHECK constraints"},
      {"zero_damaged_pages",
       {"1", "on", "true", "yes"},
       "makes the server zero out damaged pages, destroying their rows"},
  };
  return rules;
}

std::string_view TrimBlanks(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Does a setting's value mean `wanted` to PostgreSQL? Blanks around it are
// ignored, and a boolean may be written as a prefix ("t", "fal", "of").
bool ValueMatches(std::string_view value, std::string_view wanted) {
  value = TrimBlanks(value);
  if (IEquals(value, wanted)) return true;
  // "o" alone is ambiguous (on/off) and refused by PostgreSQL.
  const bool boolean_word = IEquals(wanted, "true") || IEquals(wanted, "false") ||
                            IEquals(wanted, "yes") || IEquals(wanted, "no") ||
                            IEquals(wanted, "off");
  if (!boolean_word || value.empty() || value.size() > wanted.size()) return false;
  if (IEquals(wanted, "off") && value.size() < 2) return false;
  return IEquals(value, wanted.substr(0, value.size()));
}

}  // namespace

Action MakeAction(std::string_view op_class, Severity severity, Reversibility reversibility,
                  std::vector<std::string> targets, std::string reason) {
  return dualkey::MakeAction(Channel::kSql, std::string(op_class), std::move(targets),
                             reversibility, severity, std::move(reason));
}

Action Opaque(std::string reason, std::vector<std::string> targets) {
  return MakeAction("opaque.sql", Severity::kHigh, Reversibility::kUnknown, std::move(targets),
                    std::move(reason));
}

Action OpaqueExec(std::string reason, std::vector<std::string> targets) {
  return MakeAction("opaque.exec", Severity::kHigh, Reversibility::kUnknown, std::move(targets),
                    std::move(reason));
}

const FunctionRule* FindFunctionRule(std::string_view name) {
  for (const FunctionRule& rule : kFunctionRules) {
    if (IEquals(rule.name, name)) return &rule;
  }
  return nullptr;
}

std::string DangerousSetting(std::string_view name, std::string_view value) {
  for (const DangerousSettingRule& rule : DangerousSettingRules()) {
    if (!IEquals(name, rule.name)) continue;
    for (std::string_view wanted : rule.values)
      if (ValueMatches(value, wanted)) return std::string(rule.reason);
  }
  return {};
}

bool SettingCanBeDangerous(std::string_view name) {
  for (const DangerousSettingRule& rule : DangerousSettingRules())
    if (IEquals(name, rule.name)) return true;
  return false;
}

bool ValueHarmlessForAnySetting(std::string_view value) {
  for (const DangerousSettingRule& rule : DangerousSettingRules())
    if (!DangerousSetting(rule.name, value).empty()) return false;
  return true;
}

const Session::Named* Session::FindPrepared(std::string_view name) const {
  for (const auto& entry : prepared) {
    if (IEquals(entry.name, name)) return &entry;
  }
  return nullptr;
}

const Session::Named* Session::FindFunction(std::string_view name) const {
  for (const auto& entry : functions) {
    if (IEquals(entry.name, name)) return &entry;
  }
  return nullptr;
}

const Session::Named* Session::FindView(std::string_view name) const {
  for (const auto& entry : views) {
    if (IEquals(entry.name, name)) return &entry;
  }
  return nullptr;
}

bool Session::IsTempTable(std::string_view qualified_name) const {
  std::string_view name = qualified_name;
  if (auto dot = name.find('.'); dot != std::string_view::npos) {
    if (!IEquals(name.substr(0, dot), "pg_temp")) return false;  // another schema
    name = name.substr(dot + 1);
  }
  for (const auto& temp : temp_tables) {
    if (IEquals(temp, name)) return true;
  }
  return false;
}

void Session::Put(std::vector<Named>& table, std::string name, std::vector<Action> actions) {
  for (auto& entry : table) {
    if (IEquals(entry.name, name)) {
      entry.actions = std::move(actions);
      return;
    }
  }
  table.push_back({std::move(name), std::move(actions)});
}

std::vector<Action> Effects(std::span<const Action> actions) {
  std::vector<Action> effects;
  for (const Action& action : actions) {
    if (action.severity == Severity::kNone && !IsDestructive(action)) continue;
    effects.push_back(action);
  }
  return effects;
}

}  // namespace dualkey::sql::internal
