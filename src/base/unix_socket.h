// Unix stream sockets by path, for the daemon's socket and everything that
// speaks to it. A path of any length works: sockaddr_un holds 107 bytes, and
// a state directory under a long home or build directory (a CI checkout, a
// test's scratch directory) easily exceeds that. Such a path is reached
// through the directory's descriptor (/proc/self/fd/N/name), as systemd does.
#pragma once

#include <string>

#include "base/fd.h"
#include "base/status.h"

namespace dualkey::base {

// A stream socket connected to `path` (close-on-exec, blocking).
// kNotFound when nothing is there (ENOENT), kUnavailable when something is
// but nobody accepts (ECONNREFUSED and the like), kInvalidArgument for an
// empty path. Messages read "PATH: reason".
Result<UniqueFd> ConnectUnixSocket(const std::string& path);

// A stream socket bound to `path` and listening. The caller removes a stale
// socket file first; the file's mode follows the umask.
Result<UniqueFd> ListenUnixSocket(const std::string& path, int backlog);

}  // namespace dualkey::base
