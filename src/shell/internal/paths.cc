#include "shell/internal/paths.h"

namespace dualkey::shell {
// Placeholder until the fs pack's author lands the real resolver.
ResolvedPath ResolvePath(const Arg& arg, std::string_view, std::string_view) {
  return {arg.text, PathKind::kUnknown, arg.glob};
}
std::string NormalizePath(std::string_view absolute) { return std::string(absolute); }
std::string_view ToString(PathKind) { return "unknown"; }
}  // namespace dualkey::shell
