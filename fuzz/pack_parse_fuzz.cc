// libFuzzer: a user's pack file is untrusted input. Parsing any bytes must
// never crash: it either yields a pack whose binary form reads back to the
// same bytes, or errors. Any bytes as a binary form must read back or be
// refused, never crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "packs/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  dualkey::packs::Pack pack;
  std::vector<std::string> errors;
  if (dualkey::packs::ParsePack(text, "fuzz.toml", &pack, &errors)) {
    const std::string blob = dualkey::packs::Serialize(pack);
    dualkey::packs::Pack back;
    if (!dualkey::packs::Deserialize(blob, &back)) std::abort();
    if (dualkey::packs::Serialize(back) != blob) std::abort();
  } else if (errors.empty()) {
    std::abort();  // a refused pack always says why
  }
  dualkey::packs::Pack any;
  (void)dualkey::packs::Deserialize(text, &any);
  return 0;
}
