// The MCP channel: a `tools/call` (server, tool, arguments, and the server's
// self-declared annotations) becomes Actions. Arguments that carry SQL, shell
// commands, paths or URLs go through those channels' own classifiers; the
// tool's name says what it does when its arguments do not. Annotations are
// hints written by the server: destructiveHint adds caution, readOnlyHint is
// never trusted on its own.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "core/action.h"

namespace dualkey::packs {
class Catalog;
}

namespace dualkey::mcp {

struct ToolCall {
  std::string server;
  std::string tool;
  nlohmann::json arguments = nlohmann::json::object();
  bool destructive_hint = false;
  bool read_only_hint = false;
};

// The corpus/hook shape: {"server","tool","arguments","annotations"?}.
Result<ToolCall> ParseToolCallJson(std::string_view text);

struct Options {
  std::string cwd;  // where the client runs (for relative paths, shell tools)
  std::string home;
  const packs::Catalog* packs = nullptr;  // packs in force for shell payloads; null: built-in
};

// Never empty: a call nothing can be said about yields "opaque.mcp" (held).
std::vector<Action> Classify(const ToolCall& call, const Options& options);

}  // namespace dualkey::mcp
