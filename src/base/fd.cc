#include "base/fd.h"

#include <cerrno>

namespace dualkey::base {

bool WriteFully(int fd, std::string_view data, std::size_t* written) {
  if (written != nullptr) *written = 0;
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
    if (written != nullptr) *written += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace dualkey::base
