// Test helpers for the file system, git and disk packs: build Invocations by
// hand and record what a pack emits through a Context. The namespace is
// packs_a_test (not testing) so it cannot collide with other test helpers
// linked into the same test binary.
#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/action.h"
#include "shell/internal/invocation.h"
#include "shell/internal/packs/packs.h"

namespace dualkey::shell::packs_a_test {

class RecordingContext : public Context {
 public:
  explicit RecordingContext(std::string home = "/home/dev") : home_(std::move(home)) {}

  void Emit(Action action) override { actions.push_back(std::move(action)); }
  void ClassifyInvocation(const Invocation& inner) override { invocations.push_back(inner); }
  void ClassifyScript(std::string_view script, std::string_view, int) override {
    scripts.emplace_back(script);
  }
  void ClassifyRemoteScript(std::string_view script, int) override { scripts.emplace_back(script); }
  void ClassifySql(std::string_view sql, SqlDialect, std::string_view, int) override {
    sql_texts.emplace_back(sql);
  }
  const std::string& home() const override { return home_; }

  // The strictest severity emitted; kNone when nothing was.
  Severity MaxSeverity() const {
    Severity max = Severity::kNone;
    for (const Action& action : actions)
      if (action.severity > max) max = action.severity;
    return max;
  }
  // True when the default policy would hold the command.
  bool Held() const {
    for (const Action& action : actions)
      if (IsDestructive(action)) return true;
    return false;
  }
  bool HasClass(std::string_view op_class) const {
    for (const Action& action : actions)
      if (action.op_class == op_class) return true;
    return false;
  }

  std::vector<Action> actions;
  std::vector<Invocation> invocations;
  std::vector<std::string> scripts;
  std::vector<std::string> sql_texts;

 private:
  std::string home_;
};

inline Arg Word(std::string text) {
  return Arg{std::move(text)};
}
inline Arg Unknown(std::string text) {
  return Arg{std::move(text), /*known=*/false};
}
inline Arg Glob(std::string text) {
  return Arg{std::move(text), true, /*glob=*/true};
}
inline Arg Temp(std::string text) {
  return Arg{std::move(text), true, false, /*temp=*/true};
}

inline Invocation Make(std::vector<Arg> argv, std::string cwd = "") {
  Invocation inv;
  inv.argv = std::move(argv);
  inv.cwd = std::move(cwd);
  return inv;
}

// Splits on spaces: only for arguments without quoting needs.
inline Invocation Words(std::string_view line, std::string cwd = "") {
  std::vector<Arg> argv;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    std::size_t end = line.find(' ', i);
    if (end == std::string_view::npos) end = line.size();
    if (end > i) argv.push_back(Word(std::string(line.substr(i, end - i))));
    i = end;
  }
  return Make(std::move(argv), std::move(cwd));
}

// Looks the command's basename up in a pack, as the dispatcher does, and runs it.
inline bool Run(std::span<const PackEntry> pack, const Invocation& inv, Context& ctx) {
  std::string_view name = inv.name();
  for (const PackEntry& entry : pack) {
    if (entry.prefix ? name.starts_with(entry.command) : name == entry.command) {
      entry.handler(inv, ctx);
      return true;
    }
  }
  return false;
}

}  // namespace dualkey::shell::packs_a_test
