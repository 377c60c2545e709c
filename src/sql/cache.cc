#include <functional>

#include "sql/internal/lexer.h"
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

std::string ReadShapeKey(std::string_view statement) {
  if (statement.size() > 4096) return "";
  std::vector<internal::Token> tokens;
  std::string error;
  if (!internal::Lex(statement, Dialect::kPostgres, &tokens, &error) || tokens.empty()) return "";
  if (!internal::IsWord(tokens[0], "SELECT")) return "";
  std::string key;
  key.reserve(statement.size());
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const internal::Token& t = tokens[i];
    switch (t.kind) {
      case internal::TokenKind::kString:
      case internal::TokenKind::kQuotedIdent:
      case internal::TokenKind::kParam:
        return "";
      case internal::TokenKind::kSemicolon:
        if (i + 1 != tokens.size()) return "";  // one statement only
        continue;
      case internal::TokenKind::kPunct:
        if (t.text != "," && t.text != ".") return "";
        break;
      case internal::TokenKind::kWord:
        if (internal::IsWord(t, "INTO")) return "";
        break;
      default:
        break;
    }
    if (!key.empty()) key.push_back(' ');
    if (t.kind == internal::TokenKind::kNumber) {
      key.push_back('?');
    } else {
      key.append(t.text);
    }
  }
  return key;
}

}  // namespace dualkey::sql
