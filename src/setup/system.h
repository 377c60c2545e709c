// What setup does to the machine, one small operation at a time: accounts,
// root-owned files written atomically, trees handed to the daemon user,
// code run as another user, processes found and stopped. Each operation
// first looks, so that repeating it changes nothing.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace dualkey::setup::sys {

struct Account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
  std::string shell;
};
std::optional<Account> LookupUser(const std::string& name);
std::optional<Account> LookupUid(uid_t uid);
std::string GroupName(gid_t gid);

// A program run to completion (argv[0] looked up in PATH), output captured.
struct Ran {
  bool started = false;
  int exit_code = -1;
  std::string out, err;
};
Ran RunProgram(const std::vector<std::string>& argv, int timeout_ms = 60000);
bool HaveProgram(const std::string& name);

// `useradd --system` with its own group, home `home` (not created), no login.
Status CreateSystemUser(const std::string& name, const std::string& home);
// `userdel` (the group with it); the home is left alone.
Status DeleteUser(const std::string& name);

// Makes `path` a directory owned by uid:gid with `mode`, creating missing
// parents (0755, root's). Sets *changed when it created or fixed anything.
// A symlink is refused: it could point anywhere.
Status EnsureDirectory(const std::string& path, uid_t uid, gid_t gid, mode_t mode, bool* changed);

// Writes `text` to `path` (temporary file, fsync, rename) owned by
// uid:gid with `mode`, unless it already holds exactly that.
Status WriteFileAtomically(const std::string& path, const std::string& text, uid_t uid, gid_t gid,
                           mode_t mode, bool* changed);

// Owner and mode of `path` set if they differ (no symlink followed).
Status EnsureOwnerMode(const std::string& path, uid_t uid, gid_t gid, mode_t mode, bool* changed);

// Hands a tree to uid:gid: directories `dir_mode`, files `file_mode`,
// never following a symlink. Counts what it changed.
Status OwnTree(const std::string& root, uid_t uid, gid_t gid, mode_t dir_mode, mode_t file_mode,
               int* fixed);

// What in a tree is not owned by uid:gid or has group/other access: the
// first few, as "path (owner 1000, mode 0644)".
std::vector<std::string> TreeProblems(const std::string& root, uid_t uid, gid_t gid,
                                      std::size_t limit = 5);

// Installs `source` at `target` (root, 0755) unless identical bytes are
// already there; atomic (a running copy keeps its old inode).
Status InstallBinary(const std::string& source, const std::string& target, bool* changed);
bool SameContents(const std::string& a, const std::string& b);

// Runs `fn` in a child process that has dropped to `account` (its groups,
// gid and uid, no new privileges, HOME and USER set). What fn writes to
// `output` comes back. Returns fn's exit status, or -1 when the child
// could not run.
int RunAs(const Account& account, const std::function<int(std::string* output)>& fn,
          std::string* output);

// Processes, from /proc. A zombie is not alive.
bool ProcessAlive(pid_t pid);
std::optional<uid_t> ProcessUid(pid_t pid);
std::string ProcessExe(pid_t pid);  // "/usr/local/bin/dualkey" (" (deleted)" when replaced)
std::vector<pid_t> ProcessesOf(uid_t uid);
// SIGTERM, then SIGKILL after `grace_ms`; true when it is gone.
bool StopProcess(pid_t pid, int grace_ms);
std::optional<pid_t> ReadPidFile(const std::string& path);

// Who listens on a Unix socket (SO_PEERCRED); connected=false when no one.
struct Peer {
  bool connected = false;
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string error;
};
Peer SocketPeer(const std::string& path);

// PID 1 is systemd (sd_booted: /run/systemd/system exists).
bool SystemdRunning();

}  // namespace dualkey::setup::sys
