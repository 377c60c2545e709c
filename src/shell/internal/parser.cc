#include "shell/internal/parser.h"

namespace dualkey::shell {
// Placeholder until the parser lands: fail closed.
ParseResult Parse(std::string_view, const ParseLimits&) {
  ParseResult result;
  result.error = {0, "parser not built yet"};
  return result;
}
}  // namespace dualkey::shell
