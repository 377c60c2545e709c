// What the evaluator's files (evaluate*.cc) share about word text: where
// each character came from, and the name and code tests.
#pragma once

#include <cctype>
#include <string_view>

namespace dualkey::shell::evaluate_words {

// Each character of a word under expansion carries where it came from, since
// only unquoted literal text takes part in brace and tilde expansion, and only
// unquoted text (literal or expanded) in globbing.
constexpr char kLiteral = 'L';   // unquoted literal
constexpr char kExpanded = 'E';  // unquoted result of an expansion
constexpr char kQuoted = 'Q';

inline bool IsNameStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
inline bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

inline bool HasCode(std::string_view value) {
  return value.find("$(") != std::string_view::npos || value.find('`') != std::string_view::npos ||
         value.find("${") != std::string_view::npos;
}

}  // namespace dualkey::shell::evaluate_words
