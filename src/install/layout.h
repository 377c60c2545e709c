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
};

// The layout in force for this process. Protected when kInstallFile exists;
// an install file that exists but cannot be trusted (not owned by root,
// writable by anyone else, in a directory others can write, unparsable, or
// naming a user that does not exist) is an error, and callers fail closed:
// it is never read as "single-user mode".
Result<Layout> CurrentLayout();

// The same with the install file at `path` (tests of the loader); no file
// there means single-user mode.
Result<Layout> LoadLayout(std::string_view path);

// Single-user mode's paths: $DUALKEY_STATE_DIR, else $XDG_STATE_HOME/dualkey,
// else ~/.local/state/dualkey; the socket $DUALKEY_SOCKET, else
// <state dir>/dualkey.sock.
Layout SingleUserLayout();

// The contents setup writes to kInstallFile for `layout`.
std::string FormatInstallFile(const Layout& layout);

}  // namespace dualkey::install
