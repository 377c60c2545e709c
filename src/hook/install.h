// `dualkey install` and `dualkey doctor`: wire `dualkey hook AGENT` into each
// agent's own config file (in place, idempotent, backed up, every other
// setting kept), and check through the installed command line exactly as the
// agent would run it that a destructive sample is stopped and a harmless one
// passes.
#pragma once

#include <nlohmann/json.hpp>
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
  bool changed = false;  // a file was (or, in a dry run, would be) written
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
  // Edit this file instead of the user's or project's config: the agent's
  // managed (system-wide, root-owned) config; see ManagedConfigPath.
  std::string config_path;
};

// Exit status: 0 changed or already as asked, 2 on errors (an unreadable or
// malformed config is never overwritten).
CommandOutput Install(const InstallRequest& request);

// The config file dualkey edits for an agent.
std::string ConfigPath(Agent agent, bool project, const std::string& project_dir,
                       const std::string& home);

// The agent's system-wide config that an ordinary user cannot edit, where a
// hook there cannot be removed or disabled from the user's own settings:
//   claude  /etc/claude-code/managed-settings.json (managed settings; user
//           settings' disableAllHooks leaves managed hooks running)
//   gemini  /etc/gemini-cli/settings.json (system settings override all others)
//   cursor  /etc/cursor/hooks.json (enterprise hooks; Linux path UNCONFIRMED)
//   codex   /etc/codex/requirements.toml (managed hooks, trusted by policy and
//           not disableable in /hooks; Codex with hooks in requirements.toml)
std::string ManagedConfigPath(Agent agent);

// The dualkey binary a hook command line runs ("'/a b/dualkey' hook claude"
// -> "/a b/dualkey"); empty when it cannot be told.
std::string HookBinary(const std::string& command);

// Why `binary` will not outlive the clone it was built in: it lies inside a
// CMake build tree or a git checkout. Empty when it does not.
std::string BuildTreeWarning(const std::string& binary);

// The hook command line written into configs: `BINARY hook AGENT`, quoted
// for the shell when needed.
std::string HookCommand(const std::string& binary, Agent agent);

struct DoctorRequest {
  std::string home;
  std::string project_dir;  // project configs are looked up here too
  bool json = false;
  int timeout_ms = 10000;  // per sample run
  // Run each hook as `COMMAND --probe`: it asks the daemon with a probe that
  // registers no approval and counts toward no breaker.
  bool probe = true;
  bool managed = true;  // look at the agents' managed configs too
  // Run each hook with the samples; false: only find the hooks and read
  // their configs (`dualkey drill` runs its own attempts).
  bool run_samples = true;
};

// One agent's hooks in one config file, run with a harmless and a
// destructive sample exactly as the agent would run them.
struct HookCheck {
  std::string command;
  std::string harmless_outcome, harmless_detail;
  std::string destructive_outcome, destructive_detail;
  bool fail_closed = false;
  std::string fail_closed_text;
  bool is_protected = false;
  std::string build_tree_warning;  // the binary will not outlive its clone
};
struct ConfigCheck {
  Agent agent = Agent::kClaude;
  std::string scope;  // "managed", "user" or "project"
  std::string path;
  bool installed = false;
  std::string error;  // unreadable or malformed
  // The invoking user can edit or replace this file (and so can an agent
  // running as them): the hook there can be removed.
  bool user_can_edit = false;
  std::vector<HookCheck> hooks;
  bool all_protected = false;
};
std::vector<ConfigCheck> CheckHooks(const DoctorRequest& request);
nlohmann::json ToJson(const ConfigCheck& check);
std::string ToText(const ConfigCheck& check);

// Whether the current process's user can write `path` or replace it (its
// directory, or one above it, is writable by them). Changes nothing.
// `self` false: only replacing counts (a socket must be writable to connect).
bool UserCanReplace(const std::string& path, bool self = true);

// Exit status: 0 when at least one agent has dualkey installed and every
// installed hook is really protecting; 1 otherwise. (The hooks part of
// `dualkey doctor`; the whole doctor is setup::Doctor.)
CommandOutput Doctor(const DoctorRequest& request);

// How the agent reads what its hook did, per its protocol: "allowed",
// "asked", "blocked" or "failed-open" (the call runs: a crash, a timeout, an
// exit code the agent ignores, an answer it does not support). `detail`
// says what was seen ("exit 2", "exit 0, ask").
std::string InterpretHookRun(Agent agent, bool started, bool timed_out, int exit_code,
                             const std::string& out, const std::string& err, std::string* detail);

// Version "2.1.300 (Claude Code)" -> {2,1,300}; empty when none is found.
std::vector<int> ParseVersion(const std::string& text);

}  // namespace dualkey::hook
