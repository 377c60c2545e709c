// The shell guard: parses a command line the way bash would, follows every
// wrapper and interpreter to the commands that would really run, and turns
// them into Actions. Anything it cannot see through becomes an opaque Action,
// which the policy holds.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/action.h"

namespace dualkey::packs {
class Catalog;
}

namespace dualkey::shell {

struct Options {
  std::string cwd;   // absolute working directory; empty if unknown
  std::string home;  // the user's home directory (for ~ and $HOME)
  // The packs in force (packs/catalog.h); null: the built-in packs only.
  const packs::Catalog* packs = nullptr;
};

// One command that would run, for display: "rm -rf /srv/data" at depth 1
// under `sudo`.
struct ExecutedCommand {
  std::string text;
  std::string cwd;
  int depth = 0;
};

struct Analysis {
  bool parsed = true;
  std::string parse_error;  // "offset 12: unterminated double quote"
  std::vector<ExecutedCommand> commands;
  std::vector<Action> actions;
};

// Never throws; input size, nesting and work are bounded.
Analysis Analyze(std::string_view command_line, const Options& options);

// True when a pack (built-in C++ or data pack) names the command `name`
// (a basename): "kubectl", "gh", "rm". Unknown commands are still read for
// their verbs; this only says whether a word is a known program.
bool IsKnownCommand(std::string_view name);

}  // namespace dualkey::shell
