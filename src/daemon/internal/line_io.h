// Newline-delimited messages on a stream socket, for the daemon and its
// client alike.
#pragma once

#include <atomic>
#include <string>

namespace dualkey::daemon::internal {

// Sends `data` whole (it already ends in '\n'). `flags` |= MSG_DONTWAIT for
// watchers, whom a slow terminal must not let stall the daemon.
bool WriteAll(int fd, const std::string& data, int flags = 0);

// Reads one line (without its '\n') into `line`, keeping what follows in
// `buffer`. False on EOF, error, timeout, a line over kMaxLineBytes, or (with
// `stop`) once *stop is true.
bool ReadLine(int fd, std::string* buffer, std::string* line, int timeout_ms,
              const std::atomic<bool>* stop = nullptr);

}  // namespace dualkey::daemon::internal
