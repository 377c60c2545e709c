// The guard: one entry point from any channel's input to a Verdict. It picks
// the channel's adapter (shell, SQL, ...), applies the policy, and fails
// closed for channels or inputs it does not understand.
#pragma once

#include <string>
#include <vector>

#include "core/action.h"
#include "policy/policy.h"
#include "shell/shell.h"

namespace dualkey::guard {

struct Request {
  Channel channel = Channel::kShell;
  std::string input;  // shell: the command line; sql: the SQL text; http/mcp: JSON
  std::string cwd;    // shell: absolute working directory, empty if unknown
  std::string home;   // shell: the user's home directory
  std::string agent;  // who asks: "claude", "cursor", "codex", "gemini", "" if unknown
  // file: what a file-writing tool does to `input` (a path): "write" (create
  // or replace), "edit" (change part), "delete".
  std::string file_operation;
};

struct Result {
  Verdict verdict;
  // Shell only: what would run, for display.
  std::vector<shell::ExecutedCommand> commands;
  std::string parse_error;
};

// Decides with the policy layers that apply where the request runs (system,
// user, and the project's .dualkey.toml above request.cwd).
Result Check(const Request& request);

// Decides with a policy the caller loaded (a daemon loads it once).
Result Check(const Request& request, const policy::Policy& policy);

}  // namespace dualkey::guard
