// A Context for pack tests: records what a pack emits and what it hands on
// (inner commands, shell text, SQL), and builds Invocations from word lists.
#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/action.h"
#include "shell/internal/invocation.h"
#include "shell/internal/packs/packs.h"

namespace dualkey::shell::testing {

struct SqlCall {
  std::string sql;
  SqlDialect dialect;
  std::string target;
  int depth;
};

struct ScriptCall {
  std::string script;
  std::string cwd;
  int depth;
};

class RecordingContext : public Context {
 public:
  void Emit(Action action) override { actions.push_back(std::move(action)); }
  void ClassifyInvocation(const Invocation& inner) override { invocations.push_back(inner); }
  void ClassifyScript(std::string_view script, std::string_view cwd, int depth) override {
    scripts.push_back({std::string(script), std::string(cwd), depth});
  }
  // Remote scripts are recorded with the cwd "<remote>".
  void ClassifyRemoteScript(std::string_view script, int depth) override {
    scripts.push_back({std::string(script), "<remote>", depth});
  }
  void ClassifySql(std::string_view sql, SqlDialect dialect, std::string_view target,
                   int depth) override {
    sqls.push_back({std::string(sql), dialect, std::string(target), depth});
  }
  const std::string& home() const override { return home_; }

  // True when any emitted action would be held by the default policy.
  bool AnyDestructive() const {
    for (const Action& action : actions)
      if (IsDestructive(action)) return true;
    return false;
  }
  bool HasClass(std::string_view op_class) const {
    for (const Action& action : actions)
      if (action.op_class == op_class) return true;
    return false;
  }
  const Action* Find(std::string_view op_class) const {
    for (const Action& action : actions)
      if (action.op_class == op_class) return &action;
    return nullptr;
  }
  std::string Classes() const {
    std::string out;
    for (const Action& action : actions) {
      if (!out.empty()) out += ",";
      out += action.op_class;
    }
    return out;
  }

  std::vector<Action> actions;
  std::vector<Invocation> invocations;
  std::vector<ScriptCall> scripts;
  std::vector<SqlCall> sqls;

 private:
  std::string home_ = "/home/dev";
};

inline Invocation MakeInvocation(std::initializer_list<std::string_view> words,
                                 std::string cwd = "/home/dev/app") {
  Invocation inv;
  for (std::string_view word : words) {
    Arg arg;
    arg.text = std::string(word);
    arg.known = word.find('$') == std::string_view::npos;
    inv.argv.push_back(std::move(arg));
  }
  inv.cwd = std::move(cwd);
  return inv;
}

// Looks the command's basename up in a pack table and runs its handler, as
// the dispatcher does. Returns false when the pack has no entry for it.
inline bool RunPack(std::span<const PackEntry> pack, const Invocation& inv, RecordingContext& ctx) {
  std::string_view name = inv.name();
  for (const PackEntry& entry : pack) {
    if (entry.prefix ? name.starts_with(entry.command) : name == entry.command) {
      entry.handler(inv, ctx);
      return true;
    }
  }
  return false;
}

}  // namespace dualkey::shell::testing
