// `dualkey install` and `dualkey doctor`: wire `dualkey hook AGENT` into each
// agent's own config file (in place, idempotent, backed up, every other
// setting kept), and check through the installed command line exactly as the
// agent would run it that a destructive sample is stopped and a harmless one
// passes.
#pragma once

#include <string>
#include <vector>

#include "hook/hook.h"

namespace dualkey::hook {

// What a command prints and returns, so the CLI glue stays thin and tests
// need no process.
struct CommandOutput {
  int exit_code = 0;
  std::string out;
  std::string err;
};

struct InstallRequest {
  Agent agent = Agent::kClaude;
  bool project = false;  // the project's config instead of the user's
  bool uninstall = false;
  bool dry_run = false;
  std::string binary;       // dualkey binary the hook runs (absolute path)
  std::string project_dir;  // for project configs
  std::string home;
  // Claude Code version, for options newer versions have (onFailure "block"
  // needs 2.1.295). Empty: ask `claude --version`; "none": do not ask.
  std::string agent_version;
  std::string timestamp;  // backup suffix; empty: now (YYYYMMDD-HHMMSS)
};

// Exit status: 0 changed or already as asked, 2 on errors (an unreadable or
// malformed config is never overwritten).
CommandOutput Install(const InstallRequest& request);

// The config file dualkey edits for an agent.
std::string ConfigPath(Agent agent, bool project, const std::string& project_dir,
                       const std::string& home);

// The hook command line written into configs: `BINARY hook AGENT`, quoted
// for the shell when needed.
std::string HookCommand(const std::string& binary, Agent agent);

struct DoctorRequest {
  std::string home;
  std::string project_dir;  // project configs are looked up here too
  bool json = false;
  int timeout_ms = 10000;  // per sample run
};

// Exit status: 0 when at least one agent has dualkey installed and every
// installed hook is really protecting; 1 otherwise.
CommandOutput Doctor(const DoctorRequest& request);

// Version "2.1.300 (Claude Code)" -> {2,1,300}; empty when none is found.
std::vector<int> ParseVersion(const std::string& text);

}  // namespace dualkey::hook
