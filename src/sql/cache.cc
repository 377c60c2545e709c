#include <functional>

#include "sql/sql.h"

namespace dualkey::sql {

DecisionCache::DecisionCache(std::size_t capacity, std::size_t max_statement_bytes)
    : capacity_(capacity == 0 ? 1 : capacity), max_statement_bytes_(max_statement_bytes) {
  index_.reserve(capacity_);
}

std::size_t DecisionCache::KeyHash::operator()(const Key& key) const noexcept {
  return std::hash<std::string_view>{}(key.statement) ^ (key.version * 0x9e3779b97f4a7c15ULL);
}

const Verdict* DecisionCache::Find(std::string_view statement, std::uint64_t policy_version) {
  auto it = index_.find(Key{policy_version, statement});
  if (it == index_.end()) return nullptr;
  entries_.splice(entries_.begin(), entries_, it->second);  // most recent; iterators stay valid
  return &it->second->verdict;
}

bool DecisionCache::Insert(std::string_view statement, std::uint64_t policy_version,
                           Verdict verdict) {
  if (statement.size() > max_statement_bytes_) return false;
  for (const Action& action : verdict.actions)
    if (action.op_class.starts_with("opaque.")) return false;
  if (auto it = index_.find(Key{policy_version, statement}); it != index_.end()) {
    it->second->verdict = std::move(verdict);
    entries_.splice(entries_.begin(), entries_, it->second);
    return true;
  }
  if (index_.size() >= capacity_) {
    const Entry& oldest = entries_.back();
    index_.erase(Key{oldest.version, oldest.statement});
    entries_.pop_back();
  }
  entries_.push_front(Entry{policy_version, std::string(statement), std::move(verdict)});
  index_.emplace(Key{policy_version, entries_.front().statement}, entries_.begin());
  return true;
}

}  // namespace dualkey::sql
