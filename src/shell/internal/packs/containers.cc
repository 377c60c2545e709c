#include "shell/internal/packs/packs.h"

namespace dualkey::shell {

// TODO(packs): filled by the family's author.
std::span<const PackEntry> ContainerPack() { return {}; }

}  // namespace dualkey::shell
