// Turns Actions into a Verdict. For now the built-in defaults only:
// destructive or irreversible actions, backups and anything opaque are held;
// reads, builds and tests are allowed. Configurable layers come on top.
#pragma once

#include <string>
#include <vector>

#include "core/action.h"

namespace dualkey::policy {

// The strictest decision over all actions; no action at all means allow.
Verdict Decide(std::vector<Action> actions);

// For input that could not be understood at all: held, with the reason.
Verdict FailClosed(std::string reason);

}  // namespace dualkey::policy
