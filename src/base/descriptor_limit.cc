#include "base/descriptor_limit.h"

#include <sys/resource.h>

namespace dualkey::base {

std::optional<DescriptorRoom> RaiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  DescriptorRoom room;
  room.limit = static_cast<std::size_t>(limit.rlim_cur);
  room.connections =
      limit.rlim_cur > 128 ? static_cast<std::size_t>((limit.rlim_cur - 64) / 2) : 32;
  return room;
}

}  // namespace dualkey::base
