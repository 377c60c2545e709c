// libFuzzer: the vault's decoders (index objects, snapshot envelopes and
// manifest bodies) must never crash on any bytes, and the chunker must always
// cut within its bounds.
#include <zstd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "vault/internal/chunker.h"
#include "vault/internal/format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dualkey::vault::internal;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error, body;
  std::vector<PackEntries> packs;
  (void)DecodeIndex(text, &packs, &error);
  std::array<std::uint8_t, 32> key{};
  (void)OpenSnapshot(text, key.data(), &body, &error);
  // Bodies only reach the decoder after their signature verified; still, no
  // crash on any frame (bounded here so the fuzzer does not chase huge sizes).
  unsigned long long content = ZSTD_getFrameContentSize(data, size);
  if (content != ZSTD_CONTENTSIZE_ERROR && content != ZSTD_CONTENTSIZE_UNKNOWN &&
      content < (1u << 20)) {
    Manifest manifest;
    (void)DecodeManifestBody(text, false, &manifest, &error);
  }
  // A manifest body made from fuzz text: decoding must not crash either.
  std::string compressed(ZSTD_compressBound(size), '\0');
  std::size_t n = ZSTD_compress(compressed.data(), compressed.size(), data, size, 1);
  if (!ZSTD_isError(n)) {
    compressed.resize(n);
    Manifest manifest;
    (void)DecodeManifestBody(compressed, false, &manifest, &error);
  }
  Chunker chunker(4096, size % 3);
  std::size_t pos = 0;
  while (pos < size) {
    std::size_t cut = chunker.Next(data + pos, size - pos, true);
    if (cut == 0 || cut > size - pos || cut > chunker.max_size()) std::abort();
    pos += cut;
  }
  return 0;
}
