// ASCII text helpers every classifier shares: case-folding and
// case-insensitive comparison of names (headers, hosts, SQL keywords, command
// words, file names), and what a C-style one-letter escape stands for. ASCII
// only on purpose: a name that differs outside ASCII is another name, and no
// locale can change what a comparison answers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dualkey::base {

// 'A'..'Z' to 'a'..'z'; every other byte as it is.
inline char Lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// The value of a hexadecimal digit (0-9, a-f, A-F); -1 for any other byte.
constexpr int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// True when `word` is exactly one of the entries of `table` (an array of
// string_views, say).
template <typename Table>
bool InTable(const Table& table, std::string_view word) {
  for (std::string_view entry : table)
    if (entry == word) return true;
  return false;
}

// The text with Lower applied to each byte.
std::string ToLower(std::string_view text);

// Equal, starts with, ends with, contains: ASCII letters compared without case.
bool IEquals(std::string_view a, std::string_view b);
bool IStartsWith(std::string_view text, std::string_view prefix);
bool IEndsWith(std::string_view text, std::string_view suffix);
bool IContains(std::string_view hay, std::string_view needle);

// The lines of a text, split at each '\n' (kept out): "a\nb" and "a\nb\n"
// give a, b and a, b, "" (an empty text is one empty line). Views into text.
std::vector<std::string_view> SplitLines(std::string_view text);

// RFC 3986 percent-encoding: unreserved characters (ASCII letters, digits,
// - _ . ~) stay, every other byte is %XX in upper-case hex. What form
// bodies (curl --data-urlencode) and AWS SigV4 canonical requests use.
std::string PercentEncode(std::string_view text);

// The text as one POSIX shell word in single quotes: 'it'\''s'. Callers
// that leave plain words bare decide what plain is.
std::string ShellSingleQuote(std::string_view text);

// The control character a one-letter backslash escape stands for in C, JSON
// and MySQL strings: \n \t \r \b. 0 for any other letter (the caller decides
// what its own language makes of it).
char ControlEscape(char letter);

}  // namespace dualkey::base
