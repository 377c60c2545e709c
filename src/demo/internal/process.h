// Child processes for the demo: the daemon, the proxy and the gateway run as
// real `dualkey` processes, PostgreSQL as its own server. RAII: a Child is
// stopped (SIGTERM, then SIGKILL) when it goes out of scope.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace dualkey::demo::internal {

struct SpawnOptions {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // extra "NAME=value" entries on top of ours
  bool inherit_env = true;       // false: `env` is the whole environment
  std::string log_path;          // stdout and stderr go here ("" = /dev/null)
  std::string cwd;
  int run_as_uid = -1;  // drop to this user (and run_as_gid) before exec
  int run_as_gid = -1;
};

class Child {
 public:
  static std::optional<Child> Spawn(const SpawnOptions& options, std::string* error);
  Child(Child&& other) noexcept : pid_(other.pid_) { other.pid_ = -1; }
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { Stop(); }

  pid_t pid() const { return pid_; }
  bool Running();
  // SIGTERM, up to `grace_ms`, then SIGKILL. Returns the exit status (or -1).
  int Stop(int grace_ms = 3000);

 private:
  explicit Child(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
};

struct RunResult {
  int status = -1;  // exit status; -1 when it could not run or timed out
  std::string out;  // stdout
  std::string err;  // stderr
  double ms = 0;    // wall time
};

// Runs to completion with `input` on stdin, killing it after `timeout_ms`.
RunResult Run(const SpawnOptions& options, const std::string& input, int timeout_ms);

}  // namespace dualkey::demo::internal
