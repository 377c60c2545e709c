// libFuzzer target for the bash parser: any input must parse or fail with an
// error, never crash, hang or trip a sanitizer. Small limits make the depth
// and size guards reachable from short inputs.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "shell/internal/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view source(reinterpret_cast<const char*>(data), size);

  dualkey::shell::ParseResult result = dualkey::shell::Parse(source);
  // The result must be self-consistent: a list exactly when ok, and an error
  // offset inside the input otherwise.
  if (result.ok != (result.list != nullptr)) __builtin_trap();
  if (!result.ok && result.error.offset > size) __builtin_trap();
  if (!result.ok && result.error.message.empty()) __builtin_trap();

  dualkey::shell::ParseLimits tight;
  tight.max_depth = 4;
  tight.max_input_bytes = 64;
  dualkey::shell::ParseResult limited = dualkey::shell::Parse(source, tight);
  if (limited.ok != (limited.list != nullptr)) __builtin_trap();
  // Tighter limits can only turn success into failure, never the reverse.
  if (limited.ok && !result.ok) __builtin_trap();
  return 0;
}
