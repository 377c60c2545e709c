// The drill's processes: hooks run the way the agent runs them (`/bin/sh -c`
// COMMAND, JSON on stdin), as the user whose agents are drilled, with that
// user's environment; helpers (an MCP wrapper, a copy of the gateway) as the
// account the real ones run as. Safe to call from several threads: the child
// calls only async-signal-safe functions before exec.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace dualkey::drill::internal {

// Who a child runs as. `set` false: this process's own user.
struct Identity {
  bool set = false;
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  std::string home;
};
// The account's identity (its supplementary groups included).
std::optional<Identity> IdentityOf(const std::string& user);
std::optional<Identity> IdentityOfUid(uid_t uid);

// A clean environment for `who`: HOME, USER, LOGNAME, PATH, LANG, SHELL,
// plus `extra` ("NAME=value").
std::vector<std::string> EnvironmentFor(const Identity& who,
                                        const std::vector<std::string>& extra = {});

struct Spawn {
  std::vector<std::string> argv;  // argv[0] looked up in PATH when it has no '/'
  std::vector<std::string> env;   // the whole environment; empty: inherit ours
  std::string cwd;                // empty: ours
  Identity as;                    // !as.set: ours
};

struct Ran {
  bool started = false;
  bool timed_out = false;
  int exit_code = -1;  // -1 when killed or not started
  std::string out, err;
  std::string why;  // when it did not start
};

// Runs to completion with `stdin_text`, killing it after `timeout_ms`.
Ran Run(const Spawn& spawn, const std::string& stdin_text, int timeout_ms);

// A long-running child with its stdin and stdout as pipes and its stderr
// in `log_path` (or /dev/null). Stopped (stdin closed, then SIGTERM, then
// SIGKILL) when destroyed.
class Child {
 public:
  static Result<std::unique_ptr<Child>> Start(const Spawn& spawn, const std::string& log_path);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  bool Write(const std::string& text, int timeout_ms);
  // One line from stdout, without its '\n'; nullopt on end of file or time out.
  std::optional<std::string> ReadLine(int timeout_ms);
  void CloseStdin();
  // Exit status after `grace_ms` (SIGTERM, then SIGKILL); -1 when killed.
  int Stop(int grace_ms = 2000);
  bool Running();

 private:
  Child() = default;
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  std::string buffer_;
  bool reaped_ = false;
  int status_ = -1;
};

}  // namespace dualkey::drill::internal
