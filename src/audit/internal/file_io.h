// The audit log's file I/O: whole writes and reads, durable directory
// entries, and reading complete lines backwards from the end of a file.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dualkey::audit::internal {

// "what: strerror(errno)"
std::string Errno(std::string_view what);

// `written` (when given) receives how many bytes did reach the file, so that
// a failed write can be cut off again.
bool WriteAll(int fd, std::string_view data, std::string* error, std::size_t* written = nullptr);
bool PreadAll(int fd, char* buffer, std::size_t size, off_t offset, std::string* error);
// Makes a newly created file's directory entry durable.
void SyncParentDirectory(const std::string& path);

// Reads a file's complete lines from the end towards the start.
class BackwardLines {
 public:
  BackwardLines(int fd, off_t end) : fd_(fd), end_(end), buffer_start_(end) {}

  // The line before the last one returned (without its '\n') and where it
  // starts; false at the start of the file or on a read error (`error`).
  bool Next(std::string* line, off_t* offset, std::string* error);

 private:
  int fd_;
  off_t end_;           // lines before this offset are not returned yet
  off_t buffer_start_;  // buffer_ holds the file from here to end_
  std::string buffer_;
  std::size_t chunk_ = 65536;
};

// Lines that end before `offset` (a line number is this plus one).
std::uint64_t LinesBefore(int fd, off_t offset);

}  // namespace dualkey::audit::internal
