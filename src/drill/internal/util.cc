#include <thread>

#include "base/json_text.h"
#include "drill/internal/attempt.h"

namespace dualkey::drill::internal {

const char* ToString(Outcome outcome) {
  switch (outcome) {
    case Outcome::kHeld:
      return "held";
    case Outcome::kAllowed:
      return "allowed";
    case Outcome::kError:
      return "error";
  }
  return "error";
}

void ForEach(std::size_t n, int jobs, const std::function<void(std::size_t)>& work,
             const std::atomic<bool>* stop) {
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    while (stop == nullptr || !*stop) {
      const std::size_t i = next++;
      if (i >= n) return;
      work(i);
    }
  };
  const int threads = std::max(1, std::min<int>(jobs, static_cast<int>(n)));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
}

std::string OneLine(const std::string& text, std::size_t max) {
  std::string out;
  for (char c : base::ToValidUtf8(text)) {
    out.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
    if (out.size() >= max) {
      while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80)
        out.pop_back();
      if (!out.empty() && (static_cast<unsigned char>(out.back()) & 0x80) != 0) out.pop_back();
      return out + "...";
    }
  }
  return out;
}

}  // namespace dualkey::drill::internal
