#include <array>
#include <cstdint>
#include <functional>
#include <string_view>

#include "base/text.h"
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

namespace {

enum class ShapeByte : std::uint8_t { kOther, kSpace, kWordStart, kDigit, kKept, kSemicolon };

// What each byte is to ReadShapeKey. Only what a plain SELECT of columns,
// names, numbers and comparisons needs is kept; anything else (quotes, '$',
// ':', '@', '?', parentheses, brackets, backslashes, bytes past ASCII) makes
// the statement no shape.
constexpr std::array<ShapeByte, 256> kShapeBytes = [] {
  std::array<ShapeByte, 256> table{};
  for (unsigned char c : std::string_view(" \t\n\r")) table[c] = ShapeByte::kSpace;
  for (int c = 'a'; c <= 'z'; ++c) table[c] = table[c - 'a' + 'A'] = ShapeByte::kWordStart;
  table['_'] = ShapeByte::kWordStart;
  for (int c = '0'; c <= '9'; ++c) table[c] = ShapeByte::kDigit;
  for (unsigned char c : std::string_view(",.=<>!+-*/%")) table[c] = ShapeByte::kKept;
  table[';'] = ShapeByte::kSemicolon;
  return table;
}();

bool IsWordByte(char c) {
  const ShapeByte kind = kShapeBytes[static_cast<unsigned char>(c)];
  return kind == ShapeByte::kWordStart || kind == ShapeByte::kDigit;
}

// The key of a statement with comments, from its tokens (the lexer drops
// comments): its tokens joined by spaces, numbers '?', after a '#' that
// ReadShapeKey's own keys never hold, so that the two kinds never meet.
std::string LexedShapeKey(std::string_view statement) {
  if (statement.size() > 4096) return "";
  std::vector<internal::Token> tokens;
  std::string error;
  if (!internal::Lex(statement, Dialect::kPostgres, &tokens, &error) || tokens.empty()) return "";
  if (!internal::IsWord(tokens[0], "SELECT")) return "";
  std::string key = "#";
  key.reserve(statement.size() + 1);
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
    if (key.size() > 1) key.push_back(' ');
    if (t.kind == internal::TokenKind::kNumber) {
      key.push_back('?');
    } else {
      key.append(t.text);
    }
  }
  return key;
}

}  // namespace

// One pass over the bytes, no tokens (the proxy runs this on every SELECT
// it has not seen word for word; lexing it was most of the time the proxy
// spent deciding one). The key is the statement with each run of
// whitespace one space, each number '?' and a final ';' dropped: two
// statements with one key differ only in the digits of their numbers and
// in how much whitespace separates their tokens, which tokenizes them
// alike. A digit run that a letter or '_' follows (1e5, 0x1F, 1_000) is no
// shape: there the digits could change the tokens. A statement with a
// comment is keyed by its tokens instead (LexedShapeKey).
std::string ReadShapeKey(std::string_view statement) {
  if (statement.size() > 4096) return "";
  std::size_t i = 0;
  while (i < statement.size() &&
         kShapeBytes[static_cast<unsigned char>(statement[i])] == ShapeByte::kSpace)
    ++i;
  std::string key;
  key.reserve(statement.size() - i);
  bool first_word = true;
  while (i < statement.size()) {
    const char c = statement[i];
    switch (kShapeBytes[static_cast<unsigned char>(c)]) {
      case ShapeByte::kSpace:
        if (key.back() != ' ') key.push_back(' ');
        ++i;
        break;
      case ShapeByte::kWordStart: {
        std::size_t end = i + 1;
        while (end < statement.size() && IsWordByte(statement[end])) ++end;
        const std::string_view word = statement.substr(i, end - i);
        if (first_word ? !base::IEquals(word, "SELECT") : base::IEquals(word, "INTO")) return "";
        first_word = false;
        key.append(word);
        i = end;
        break;
      }
      case ShapeByte::kDigit: {
        if (first_word) return "";
        while (i < statement.size() &&
               kShapeBytes[static_cast<unsigned char>(statement[i])] == ShapeByte::kDigit)
          ++i;
        if (i < statement.size() &&
            kShapeBytes[static_cast<unsigned char>(statement[i])] == ShapeByte::kWordStart)
          return "";
        key.push_back('?');
        break;
      }
      case ShapeByte::kKept:
        // Comments (an ORM's tags, say): the lexer reads past them.
        if (i + 1 < statement.size() &&
            ((c == '-' && statement[i + 1] == '-') || (c == '/' && statement[i + 1] == '*')))
          return LexedShapeKey(statement);
        if (first_word) return "";
        key.push_back(c);
        ++i;
        break;
      case ShapeByte::kSemicolon:
        // One statement only: nothing but whitespace after it.
        for (++i; i < statement.size(); ++i)
          if (kShapeBytes[static_cast<unsigned char>(statement[i])] != ShapeByte::kSpace) return "";
        break;
      case ShapeByte::kOther:
        return "";
    }
  }
  if (first_word) return "";
  while (key.back() == ' ') key.pop_back();
  return key;
}

}  // namespace dualkey::sql
