#include "shell/internal/packs/packs.h"

namespace dualkey::shell {

// TODO(packs): filled by the family's author.
std::span<const PackEntry> FsPack() { return {}; }

}  // namespace dualkey::shell

namespace dualkey::shell {
void ClassifyRedirect(const FileRedirect&, const Invocation&, Context&) {}
}  // namespace dualkey::shell
