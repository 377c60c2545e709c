// The audit log's file I/O: see file_io.h.
#include "audit/internal/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/fd.h"

namespace dualkey::audit::internal {

std::string Errno(std::string_view what) {
  return std::string(what) + ": " + std::strerror(errno);
}

bool WriteAll(int fd, std::string_view data, std::string* error, std::size_t* written) {
  if (base::WriteFully(fd, data, written)) return true;
  *error = Errno("audit log write failed");
  return false;
}

bool PreadAll(int fd, char* buffer, std::size_t size, off_t offset, std::string* error) {
  while (size > 0) {
    ssize_t n = ::pread(fd, buffer, size, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = n < 0 ? Errno("audit log read failed") : "audit log read failed: file shrank";
      return false;
    }
    buffer += n;
    size -= static_cast<std::size_t>(n);
    offset += n;
  }
  return true;
}

void SyncParentDirectory(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) parent = ".";
  int dir = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return;
  ::fsync(dir);
  ::close(dir);
}

// The Ed25519 key file: the 32-byte seed in hex and a newline, mode 0600.
// Created when missing; refused when others can read it, because whoever

bool BackwardLines::Next(std::string* line, off_t* offset, std::string* error) {
  if (end_ <= 0) return false;
  while (true) {
    // buffer_ holds [buffer_start_, end_); the line ends at end_ - 1 ('\n').
    const std::size_t last = static_cast<std::size_t>(end_ - buffer_start_);
    std::size_t newline = last >= 2 ? buffer_.rfind('\n', last - 2) : std::string::npos;
    if (newline != std::string::npos) {
      const off_t start = buffer_start_ + static_cast<off_t>(newline) + 1;
      line->assign(buffer_, newline + 1, static_cast<std::size_t>(end_ - 1 - start));
      *offset = start;
      end_ = start;
      buffer_.resize(newline + 1);
      chunk_ = 65536;  // grown only within one long line
      return true;
    }
    if (buffer_start_ == 0) {
      line->assign(buffer_, 0, last > 0 ? last - 1 : 0);
      *offset = 0;
      end_ = 0;
      buffer_.clear();
      return true;
    }
    const off_t read_start = std::max<off_t>(0, buffer_start_ - static_cast<off_t>(chunk_));
    std::string chunk(static_cast<std::size_t>(buffer_start_ - read_start), '\0');
    if (!PreadAll(fd_, chunk.data(), chunk.size(), read_start, error)) return false;
    buffer_.insert(0, chunk);
    buffer_start_ = read_start;
    // Within one long line: fewer, larger reads (not quadratic copying).
    chunk_ = std::min<std::size_t>(chunk_ * 4, 16 << 20);
  }
}

std::uint64_t LinesBefore(int fd, off_t offset) {
  std::uint64_t count = 0;
  std::string chunk(1 << 20, '\0');
  std::string ignored;
  for (off_t at = 0; at < offset;) {
    const std::size_t n = static_cast<std::size_t>(std::min<off_t>(offset - at, chunk.size()));
    if (!PreadAll(fd, chunk.data(), n, at, &ignored)) break;
    count += static_cast<std::uint64_t>(std::count(chunk.data(), chunk.data() + n, '\n'));
    at += static_cast<off_t>(n);
  }
  return count;
}

}  // namespace dualkey::audit::internal
