// What a human needs to decide about a held action, worked out once when the
// daemon holds it and stored with the pending request (approval::Request::
// details): the commands that would really run (wrappers and interpreters
// unwrapped), every action with its class, targets, reversibility and
// severity, the blast radius (files, directories and bytes under the
// targets, counted within a time and entry budget; the rows a trusted
// component estimated; remote resources), and what the vault saves first.
// The page and `dualkey pending --json` show it; both show the same words.
#pragma once

#include <string>
#include <vector>

#include "client/protocol.h"
#include "core/action.h"
#include "shell/shell.h"

namespace dualkey::daemon::internal {

// JSON text (see above). Bounded: at most ~50 ms and 20,000 directory
// entries on disk, and a few dozen actions and commands.
// `uid`: the asking process's (SO_PEERCRED), shown as the agent's OS user;
// -1 when unknown (HTTP).
std::string HoldDetails(const client::CheckRequest& request, const Verdict& verdict,
                        const std::vector<shell::ExecutedCommand>& commands, long long uid);

}  // namespace dualkey::daemon::internal
