// Content-defined chunking, FastCDC style (Xia et al.): a gear rolling hash,
// cut points skipped below the minimum size, and normalized chunking (a
// stricter mask before the average size, a looser one after) so chunk sizes
// cluster around the average. An edit moves only the cut points near it, so
// the rest of a changed file deduplicates.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dualkey::vault::internal {

class Chunker {
 public:
  // `average` is rounded down to a power of two; min = average/4, max = average*4.
  explicit Chunker(std::uint32_t average);

  // The length of the next chunk of `data[0, size)`. When `size` is below the
  // maximum chunk size and `at_end` is false, returns 0 when no cut point was
  // found yet (more data is needed); at the end, the rest is a chunk.
  std::size_t Next(const std::uint8_t* data, std::size_t size, bool at_end) const;

  std::size_t min_size() const { return min_; }
  std::size_t max_size() const { return max_; }

 private:
  std::size_t min_, average_, max_;
  std::uint64_t mask_strict_, mask_loose_;
};

}  // namespace dualkey::vault::internal
