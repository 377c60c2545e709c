// Runs a shell command line the way an agent runs its hook: `/bin/sh -c`,
// JSON on stdin, stdout and stderr captured, killed after a deadline.
#pragma once

#include <string>
#include <vector>

namespace dualkey::base {

struct ProcessResult {
  bool started = false;
  bool timed_out = false;
  int exit_code = -1;  // -1 when killed by a signal or not started
  std::string out;
  std::string err;
};

// `argv` is executed directly (no shell); `cwd` empty keeps ours. Output is
// capped at 1 MiB per stream.
ProcessResult RunProcess(const std::vector<std::string>& argv, const std::string& stdin_text,
                         const std::string& cwd, int timeout_ms);

// `/bin/sh -c command_line`.
ProcessResult RunShell(const std::string& command_line, const std::string& stdin_text,
                       const std::string& cwd, int timeout_ms);

}  // namespace dualkey::base
