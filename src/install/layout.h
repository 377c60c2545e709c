// Where dualkey keeps its state, socket and system configuration, and whether
// this machine has a protected install.
//
// `sudo dualkey setup` writes kInstallFile (root-owned, 0644). Its presence
// switches every client of the daemon (hooks, `check`, the proxies, the CLI)
// into protected mode: paths come from that file only; DUALKEY_SOCKET,
// DUALKEY_STATE_DIR and XDG_* are ignored (an agent can set those), and the
// process listening on the socket must run as the named daemon user or root.
// Without the file dualkey runs in single-user mode: state under the user's
// home, found through the environment, which protects against an agent's
// mistakes but not against an agent working around it (`doctor` says so).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "base/status.h"

namespace dualkey::install {

inline constexpr std::string_view kInstallFile = "/etc/dualkey/install.toml";

struct Layout {
  bool protected_install = false;
  std::string install_file;  // the file it came from; empty in single-user mode
  // System policy (policy.toml) and packs (packs/); root-owned.
  std::string config_dir = "/etc/dualkey";
  // The store, approver secrets, audit log and key, vault: 0700, owned by the daemon user.
  std::string state_dir;
  std::string socket_path;
  // Protected mode: the daemon's account. Peers of the socket must be this uid or root.
  std::string daemon_user;
  uid_t daemon_uid = static_cast<uid_t>(-1);
  gid_t daemon_gid = static_cast<gid_t>(-1);
  // The daemon's HTTP listener ("127.0.0.1:8790"), empty when none.
  std::string http_listen;
  // `--sandbox DIR` (PinSandbox): a self-contained dualkey under DIR. Not a
  // protected install; nothing is taken from the environment or the home.
  std::string sandbox_dir;
};

// The layout in force for this process. Protected when kInstallFile exists;
// an install file that exists but cannot be trusted (not owned by root,
// writable by anyone else, in a directory others can write, unparsable, or
// naming a user that does not exist) is an error, and callers fail closed:
// it is never read as "single-user mode".
Result<Layout> CurrentLayout();

// Where things live when not configured. A protected install: the layout's
// state directory and socket (CurrentLayout()), whatever the environment
// says. Single-user mode: $DUALKEY_STATE_DIR, else $XDG_STATE_HOME/dualkey,
// else ~/.local/state/dualkey; the socket $DUALKEY_SOCKET, else
// <state dir>/dualkey.sock. To ask the daemon, use client/client.h.
std::string DefaultStateDir();
std::string DefaultSocketPath();

// The same with the install file at `path` (tests of the loader); no file
// there means single-user mode.
Result<Layout> LoadLayout(std::string_view path);

// Single-user mode's paths: $DUALKEY_STATE_DIR, else $XDG_STATE_HOME/dualkey,
// else ~/.local/state/dualkey; the socket $DUALKEY_SOCKET, else
// <state dir>/dualkey.sock.
Layout SingleUserLayout();

// ---- A sandbox: the demo's own dualkey --------------------------------------
// `dualkey --sandbox DIR COMMAND ...` runs COMMAND against a self-contained
// dualkey under DIR, which is what `dualkey demo` builds for itself and pins
// every process it starts to: state DIR/state, socket DIR/state/dualkey.sock,
// system policy DIR/etc/policy.toml, no user layer; nothing from DUALKEY_*,
// XDG_* or the home. It is an argument, not the environment, so nothing the
// user (or an agent) exported can reach the demo's processes, and the demo's
// settings reach nobody else.
//
// On a protected install a sandbox would be a way around the system daemon
// (a hook pinned to a daemon the agent runs answers "allow"), so there it is
// honoured only where it cannot weaken a decision:
// - in a process started by `dualkey demo` running this same binary (its
//   parent, read from /proc: an agent's tool calls are children of the
//   agent, never of the demo, whatever their command line says), and
// - for kAnswers: the commands a human uses to look at and answer the
//   sandbox's own daemon (pending, approve, deny, watch, breaker, audit,
//   vault, token, approver), which decide nothing for the real install.
// Anything else gets an error from CurrentLayout(), and its clients fail
// closed (held) with that message.
enum class SandboxUse { kDecides, kAnswers };

// Pins this process to the sandbox at `dir` (absolute). Call once at
// start-up, before any thread: CurrentLayout() reads it from then on.
void PinSandbox(std::string dir, SandboxUse use);

// kAnswers for the subcommands above, else kDecides.
SandboxUse SandboxUseOf(std::string_view subcommand);

// The sandbox's layout (no checks).
Layout SandboxLayout(const std::string& dir);

// The same decision CurrentLayout() makes for a pinned process, given the
// machine's own layout: tests of the rule.
Result<Layout> SandboxFor(const Result<Layout>& machine, const std::string& dir, SandboxUse use,
                          bool started_by_demo);

// Whether this process's parent is `dualkey demo` running this same binary.
bool StartedByDemo();

// The contents setup writes to kInstallFile for `layout`.
std::string FormatInstallFile(const Layout& layout);

}  // namespace dualkey::install
