// Newline-delimited messages on a stream socket (the daemon's protocol, for
// the daemon and its client alike).
#pragma once

#include <atomic>
#include <cstddef>
#include <string>

namespace dualkey::base {

// Sends `data` whole (it already ends in '\n'). `flags` |= MSG_DONTWAIT for
// watchers, whom a slow terminal must not let stall the daemon.
bool WriteAll(int fd, const std::string& data, int flags = 0);

// Reads one line (without its '\n') into `line`, keeping what follows in
// `buffer`. False on EOF, error, timeout, a line over `max_line_bytes`, or (with
// `stop`) once *stop is true.
bool ReadLine(int fd, std::string* buffer, std::string* line, int timeout_ms,
              const std::atomic<bool>* stop = nullptr, std::size_t max_line_bytes = 1 << 20);

}  // namespace dualkey::base
