#include "vault/internal/chunker.h"

#include <array>
#include <bit>

namespace dualkey::vault::internal {
namespace {

// 256 fixed pseudo-random 64-bit values (SplitMix64 from a fixed seed): part of
// the on-disk format, since they decide where chunks are cut.
constexpr std::array<std::uint64_t, 256> MakeGear() {
  std::array<std::uint64_t, 256> table{};
  std::uint64_t state = 0x6475616c6b657931ULL;  // "dualkey1"
  for (auto& value : table) {
    state += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    value = z ^ (z >> 31);
  }
  return table;
}
constexpr std::array<std::uint64_t, 256> kGear = MakeGear();

// The top `bits` bits: with a left-shifting gear hash, the high bits depend on
// the last 64 bytes, the low bits only on the last few.
constexpr std::uint64_t HighMask(int bits) {
  return bits <= 0 ? 0 : (~std::uint64_t{0}) << (64 - bits);
}

}  // namespace

Chunker::Chunker(std::uint32_t average, int normalization) {
  if (average < 256) average = 256;
  average_ = std::bit_floor(average);
  max_ = average_ * 4;
  const int bits = std::countr_zero(average_);
  if (normalization <= 0) {
    min_ = average_ / 2;
    mask_strict_ = mask_loose_ = HighMask(bits - 1);
  } else {
    const int level = normalization > 2 ? 2 : normalization;
    min_ = average_ / 4;
    mask_strict_ = HighMask(bits + level);
    mask_loose_ = HighMask(bits - level);
  }
}

std::size_t Chunker::Next(const std::uint8_t* data, std::size_t size, bool at_end) const {
  if (size <= min_) return at_end ? size : 0;
  const std::size_t limit = size < max_ ? size : max_;
  const std::size_t normal = limit < average_ ? limit : average_;
  std::uint64_t hash = 0;
  std::size_t i = min_;
  for (; i < normal; ++i) {
    hash = (hash << 1) + kGear[data[i]];
    if ((hash & mask_strict_) == 0) return i + 1;
  }
  for (; i < limit; ++i) {
    hash = (hash << 1) + kGear[data[i]];
    if ((hash & mask_loose_) == 0) return i + 1;
  }
  if (limit == max_) return max_;
  return at_end ? size : 0;
}

}  // namespace dualkey::vault::internal
