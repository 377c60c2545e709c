// The file-write channel: what an agent's Write/Edit/MultiEdit/apply_patch
// tool would do to one path, as Actions. A write that replaces a file outside
// the project, or that touches backups, system or data paths, credentials, an
// agent's hook config or dualkey's own policy and state is worth a human's look.
#pragma once

#include <string_view>
#include <vector>

#include "core/action.h"

namespace dualkey::file {

// What a file tool does to its path.
enum class Operation {
  kCreate,  // writes a file that does not exist yet
  kWrite,   // creates or replaces the whole file (truncates what was there)
  kEdit,    // changes part of an existing file
  kDelete,  // removes the file
};

// "create", "write", "edit", "delete"; false for anything else.
bool ParseOperation(std::string_view text, Operation* out);
std::string_view ToString(Operation operation);

// Pure string work: the file system is never consulted. `cwd` is the project
// directory the agent runs in (empty if unknown: relative paths are then taken
// to be inside it); `home` the user's home. Always returns at least one Action
// (severity kNone for an ordinary write inside the project), so callers can
// show what was checked. An empty path or unknown operation yields an
// "opaque.file" Action, which the policy holds.
std::vector<Action> ClassifyFileWrite(std::string_view path, std::string_view operation,
                                      std::string_view cwd, std::string_view home);

}  // namespace dualkey::file
