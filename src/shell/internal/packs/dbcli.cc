#include "shell/internal/packs/packs.h"

namespace dualkey::shell {

// TODO(packs): filled by the family's author.
std::span<const PackEntry> DbCliPack() { return {}; }

}  // namespace dualkey::shell
