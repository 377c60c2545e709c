// What dualkey protects, by path: its own state, keys, socket, policy and
// binary; the agents' hook configurations; the startup files that set the
// environment later shells (and hooks) run with; credential files. One
// vocabulary for every channel: the shell classifier, the file channel (an
// agent's Write/Edit tools), MCP, and the evaluator when it follows code
// into interpreters (TextMentions).
//
// Pure string work on normalised absolute paths; the few locations that come
// from the environment (XDG_STATE_HOME, XDG_CONFIG_HOME, DUALKEY_STATE_DIR,
// DUALKEY_SOCKET) and the running binary's path are read once per process.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dualkey::protect {

enum class Kind : std::uint8_t {
  kNone,
  kGuardState,   // dualkey's state: the audit log, the vault, pid files
  kGuardSecret,  // inside the state: the store (approver secrets), audit and signing keys,
                 // dualkey's credential store; reading these is tampering too
  kGuardSocket,  // the daemon's socket and its directory
  kGuardPolicy,  // policy files and packs: ~/.config/dualkey, /etc/dualkey, .dualkey.toml
  kGuardBinary,  // /usr/local/bin/dualkey, the running dualkey binary
  kAgentHooks,   // the agents' hook configurations (Claude Code, Cursor, Codex, Gemini CLI)
  kStartupFile,  // ~/.bashrc, ~/.profile, /etc/environment, environment.d ...
};

struct Place {
  Kind kind = Kind::kNone;
  std::string_view what;  // "dualkey's policy", for reasons
};

// True for the kinds whose change is guard tampering whatever is written.
inline bool IsGuard(Kind kind) {
  return kind == Kind::kGuardState || kind == Kind::kGuardSecret || kind == Kind::kGuardSocket ||
         kind == Kind::kGuardPolicy || kind == Kind::kGuardBinary || kind == Kind::kAgentHooks;
}

// What `path` (absolute, normalised) is. `home` is the user's home.
Place Classify(std::string_view path, std::string_view home);

// True when deleting, moving or changing the modes of `dir` recursively
// reaches a guard location below it (`rm -rf ~/.config`, `rm -rf .claude`).
// The guard location found is returned in `place`.
bool ContainsGuard(std::string_view dir, std::string_view home, Place* place);

// Text that, written to a startup file, changes what later shells and hooks
// run: it sets DUALKEY_*, XDG_CONFIG_HOME or XDG_STATE_HOME, or puts a
// directory in PATH ahead of the others (export PATH=/x:$PATH, path+=,
// fish_add_path without -a).
bool SetsGuardEnvironment(std::string_view text);

// Scans free text (an interpreter's code, a script) for a guard location:
// "~/.claude/settings.json", "$HOME/.config/dualkey", "/var/lib/dualkey",
// "audit.key" ... `home` spells the home directory in absolute mentions.
// Returns the first one found, kNone otherwise.
Place TextMentions(std::string_view text, std::string_view home);

// Code that writes, deletes, renames or changes modes (open(..., 'w'),
// json.dump, unlink, rename, os.system, writeFileSync, ...): with a mention
// of a guard location, it is tampering. Code without any only reads.
bool CodeWrites(std::string_view code);

// A literal path as a file tool names it, made absolute: a leading ~ is the
// home, a relative path is under `cwd`; "." and ".." are folded. Returns the
// path unchanged when it cannot be made absolute (no cwd).
std::string ResolveLiteral(std::string_view path, std::string_view cwd, std::string_view home);

// A credential file (~/.aws/credentials, .env, ~/.ssh/id_*, CLI token files).
bool IsCredentialFile(std::string_view path, std::string_view home);

}  // namespace dualkey::protect
