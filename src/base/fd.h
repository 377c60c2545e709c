// File descriptors: one that closes itself, and writing all of a buffer.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <string_view>
#include <utility>

namespace dualkey::base {

// Owns a descriptor (-1: none) and closes it on every path out.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    Reset();
    fd_ = std::exchange(other.fd_, -1);
    return *this;
  }
  ~UniqueFd() { Reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// Writes all of `data` to `fd` (::write, again after EINTR). False with
// errno set when a write fails; `written` (if given) counts what went.
bool WriteFully(int fd, std::string_view data, std::size_t* written = nullptr);

}  // namespace dualkey::base
