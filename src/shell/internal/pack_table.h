// The dispatcher's lookup (classify.cc): every pack's commands, found by name.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "shell/internal/invocation.h"
#include "shell/internal/packs/packs.h"

namespace dualkey::shell {

// Every pack's commands, found by name. A hook process classifies a handful
// of commands, so its first lookups scan the packs' tables in place (their
// names' lengths first: few strings are read, few pages touched); a process
// that classifies many (the daemon, check --jsonl) builds an open-addressing
// hash table once. Either way entries with the same name come in pack order.
class PackTable {
 public:
  struct Found {
    bool any = false;      // some pack has the name
    bool claimed = false;  // a pack that judges the command itself, not only
                           // the code it carries (carriers.cc leaves a tool's
                           // own verbs to the other packs and the unknown rule)
  };

  // Calls `fn` for every entry registered for `name`.
  template <typename Fn>
  Found ForEach(std::string_view name, Fn&& fn) const {
    Found found;
    const std::span<const PackEntry> carriers = CarrierPack();
    auto visit = [&](const PackEntry& entry) {
      fn(entry);
      found.any = true;
      found.claimed = found.claimed ||
                      !(&entry >= carriers.data() && &entry < carriers.data() + carriers.size());
    };
    if (lookups_.fetch_add(1, std::memory_order_relaxed) < kScanLookups) {
      for (auto pack : kPacks)
        for (const PackEntry& entry : pack())
          if (!entry.prefix && entry.command == name) visit(entry);
    } else {
      std::call_once(built_, [this] { Build(); });
      for (std::size_t i = Hash(name) & (slots_.size() - 1); slots_[i] != nullptr;
           i = (i + 1) & (slots_.size() - 1))
        if (slots_[i]->command == name) visit(*slots_[i]);
    }
    if (found.any) return found;
    for (auto pack : kPacks) {
      for (const PackEntry& entry : pack()) {
        if (entry.prefix && name.starts_with(entry.command)) {
          visit(entry);
          return found;
        }
      }
    }
    return found;
  }

 private:
  using PackFn = std::span<const PackEntry> (*)();
  static constexpr PackFn kPacks[] = {
      WrapperPack,   CarrierPack, InterpreterPack, FsPack,     GitPack,        DiskPack, DbCliPack,
      ContainerPack, IacPack,     CloudPack,       BackupPack, HttpClientPack, RelayPack};
  static constexpr int kScanLookups = 16;

  void Build() const {
    std::size_t count = 0;
    for (auto pack : kPacks) count += pack().size();
    std::size_t capacity = 16;
    while (capacity < count * 3) capacity *= 2;
    slots_.assign(capacity, nullptr);
    for (auto pack : kPacks) {
      for (const PackEntry& entry : pack()) {
        if (entry.prefix) continue;
        std::size_t i = Hash(entry.command) & (slots_.size() - 1);
        while (slots_[i] != nullptr) i = (i + 1) & (slots_.size() - 1);
        slots_[i] = &entry;
      }
    }
  }

  static std::size_t Hash(std::string_view text) {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (char c : text) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    return static_cast<std::size_t>(h ^ (h >> 29));
  }

  mutable std::atomic<int> lookups_{0};
  mutable std::once_flag built_;
  mutable std::vector<const PackEntry*> slots_;
};

inline const PackTable& Packs() {
  static const PackTable table;
  return table;
}

}  // namespace dualkey::shell
