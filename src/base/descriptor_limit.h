// The process's limit on open descriptors, for servers whose every
// connection holds a few of them.
#pragma once

#include <cstddef>
#include <optional>

namespace dualkey::base {

struct DescriptorRoom {
  std::size_t limit = 0;        // the soft limit, after raising it
  std::size_t connections = 0;  // that fit at two descriptors each, 64 kept aside
};

// Raises the soft limit on open descriptors to its hard maximum and says how
// many connections fit under it; nullopt when the limit cannot be read.
std::optional<DescriptorRoom> RaiseDescriptorLimit();

}  // namespace dualkey::base
