// Child processes, the one way dualkey runs them: a command run to
// completion (stdin fed, stdout and stderr captured, killed after a
// deadline), or a long-running child stopped when its handle goes. Either
// may run as another user, in another directory, with an environment of its
// own. Safe to call from several threads: the child calls only
// async-signal-safe functions between fork and exec.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace dualkey::base {

// Who a child runs as. `set` false: this process's own user.
struct Identity {
  bool set = false;
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups; empty: none
  std::string home;
};
// The account's identity (its supplementary groups included).
std::optional<Identity> IdentityOf(const std::string& user);
std::optional<Identity> IdentityOfUid(uid_t uid);

// A clean environment for `who`: HOME, USER, LOGNAME, PATH, LANG, SHELL,
// plus `extra` ("NAME=value"; replaces an entry of the same name).
std::vector<std::string> EnvironmentFor(const Identity& who,
                                        const std::vector<std::string>& extra = {});

struct Spawn {
  std::vector<std::string> argv;   // argv[0] looked up in PATH when it has no '/'
  std::vector<std::string> env;    // the whole environment; empty: inherit ours
  std::string cwd;                 // empty: ours
  Identity as;                     // !as.set: ours
  bool own_process_group = false;  // setpgid(0, 0): a terminal's Ctrl-C does not reach it
  bool die_with_parent = false;    // SIGKILL when the thread that started it ends
};

struct ProcessResult {
  bool started = false;
  bool timed_out = false;
  int exit_code = -1;  // -1 when killed by a signal or not started
  std::string out;     // capped at 1 MiB
  std::string err;     // capped at 1 MiB
  std::string why;     // when it did not start, or could not become `as` or enter `cwd`
  double ms = 0;       // wall time
};

// Runs to completion with `stdin_text` on its stdin, killing it after
// `timeout_ms`. A child that exits without reading its stdin does not kill us.
ProcessResult Run(const Spawn& spawn, const std::string& stdin_text, int timeout_ms);

// `argv` executed directly (no shell); `cwd` empty keeps ours.
ProcessResult RunProcess(const std::vector<std::string>& argv, const std::string& stdin_text,
                         const std::string& cwd, int timeout_ms);

// `/bin/sh -c command_line`, the way an agent runs its hook.
ProcessResult RunShell(const std::string& command_line, const std::string& stdin_text,
                       const std::string& cwd, int timeout_ms);

// A long-running child. With `Stdio::kPipes` its stdin and stdout are pipes
// to us and its stderr goes to `log_path`; with `Stdio::kLog` its stdin is
// /dev/null and both outputs go to `log_path` ("" = /dev/null). Stopped when
// destroyed.
class Child {
 public:
  enum class Stdio { kPipes, kLog };
  static Result<std::unique_ptr<Child>> Start(const Spawn& spawn, const std::string& log_path,
                                              Stdio stdio = Stdio::kPipes);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  bool Write(const std::string& text, int timeout_ms);
  // One line from stdout, without its '\n'; nullopt on end of file or time out.
  std::optional<std::string> ReadLine(int timeout_ms);
  void CloseStdin();
  // Closes stdin (a piped child gets half of `grace_ms` to end by itself),
  // then SIGTERM, then SIGKILL at `grace_ms`. The exit status; -1 when killed.
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

}  // namespace dualkey::base
