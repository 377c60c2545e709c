// Shared vocabulary of the SQL module: how Actions are built, which built-in
// functions destroy or execute something, and the session state that one
// input accumulates (temp tables, prepared statements, functions it defines).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/text.h"
#include "core/action.h"
#include "sql/sql.h"

namespace dualkey::sql::internal {

// Upper bound on nested classification (EXECUTE inside DO inside EXECUTE...).
inline constexpr int kMaxNesting = 8;

Action MakeAction(std::string_view op_class, Severity severity, Reversibility reversibility,
                  std::vector<std::string> targets, std::string reason);
Action Opaque(std::string reason, std::vector<std::string> targets = {});
Action OpaqueExec(std::string reason, std::vector<std::string> targets = {});

// What calling a built-in function does, when it does more than compute.
struct FunctionRule {
  std::string_view name;      // lower case, unqualified
  std::string_view op_class;  // class of the Action it produces
  Severity severity;
  Reversibility reversibility;
  std::string_view what;  // for the reason
};

// The rule for a function name (case-insensitive), or nullptr for ordinary
// functions (which compute and read).
const FunctionRule* FindFunctionRule(std::string_view name);

// Does SET name = value switch off triggers / foreign keys / safety checks?
// Returns the reason, or empty when the setting is harmless.
std::string DangerousSetting(std::string_view name, std::string_view value);
// Is there any value of this setting that DangerousSetting would flag?
bool SettingCanBeDangerous(std::string_view name);
// Is this value harmless whatever setting it is given to? ('view,
// foreign-table' is; 'off' is not: it would switch off foreign-key checks.)
bool ValueHarmlessForAnySetting(std::string_view value);

struct Session {
  explicit Session(const Options& opts) : options(opts) {}
  const Options& options;
  int depth = 0;
  // Unqualified names of temporary tables created earlier in this input.
  std::vector<std::string> temp_tables;
  struct Named {
    std::string name;
    std::vector<Action> actions;
  };
  std::vector<Named> prepared;   // PREPARE name AS ...
  std::vector<Named> functions;  // CREATE FUNCTION/PROCEDURE name ... (body effects)
  std::vector<Named> views;      // CREATE VIEW name AS ... (effects of reading it)

  const Named* FindPrepared(std::string_view name) const;
  const Named* FindFunction(std::string_view name) const;
  const Named* FindView(std::string_view name) const;
  bool IsTempTable(std::string_view qualified_name) const;
  static void Put(std::vector<Named>& table, std::string name, std::vector<Action> actions);
};

// ASCII case-folding and comparison, one definition for every channel.
using base::IEquals;
using base::ToLower;

// Full pipeline for one piece of SQL text (used recursively for EXECUTE
// literals, function bodies and dblink): appends Actions to `out`.
void ClassifyText(std::string_view sql, Dialect dialect, Session& session,
                  std::vector<Action>& out);

// The effects worth carrying from a body (function, DO block, EXECUTE) into
// the statement that runs it: everything except plain reads.
std::vector<Action> Effects(std::span<const Action> actions);

}  // namespace dualkey::sql::internal
