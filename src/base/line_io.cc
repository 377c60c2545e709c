#include "base/line_io.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

namespace dualkey::base {

bool WriteAll(int fd, const std::string& data, int flags) {
  const char* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    ssize_t n = send(fd, p, left, MSG_NOSIGNAL | flags);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return true;
}

bool ReadLine(int fd, std::string* buffer, std::string* line, int timeout_ms,
              const std::atomic<bool>* stop, std::size_t max_line_bytes) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::size_t scanned = 0;
  while (true) {
    std::size_t newline = buffer->find('\n', scanned);
    if (newline != std::string::npos) {
      if (newline + 1 == buffer->size()) {
        // The usual case, one request at a time: the line is the buffer,
        // handed over rather than copied (a batch of reports is ~100 KB).
        buffer->pop_back();
        line->swap(*buffer);
        buffer->clear();
      } else {
        line->assign(*buffer, 0, newline);
        buffer->erase(0, newline + 1);
      }
      return true;
    }
    scanned = buffer->size();
    if (buffer->size() > max_line_bytes) return false;
    while (true) {
      if (stop != nullptr && *stop) return false;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) return false;
      pollfd pfd{fd, POLLIN, 0};
      int ready = poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 200)));
      if (ready > 0) break;
      if (ready < 0 && errno != EINTR) return false;
    }
    char chunk[65536];
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buffer->append(chunk, static_cast<std::size_t>(n));
  }
}

}  // namespace dualkey::base
