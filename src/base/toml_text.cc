#include "base/toml_text.h"

namespace dualkey::base {

std::optional<std::string> TomlBareNonAscii(std::string_view text) {
  std::size_t line = 1;
  std::size_t i = 0;
  // A UTF-8 byte order mark at the very start is allowed (toml++ skips it).
  if (text.starts_with("\xEF\xBB\xBF")) i = 3;
  auto closes = [&](std::string_view quote) {
    // Skips to the end of a string opened by `quote`; false when unterminated.
    const bool basic = quote[0] == '"';
    while (i < text.size()) {
      if (text[i] == '\n') ++line;
      if (basic && text[i] == '\\') {
        i += 2;
        continue;
      }
      if (text.substr(i, quote.size()) == quote) {
        i += quote.size();
        // A multi-line string may end with up to two more quotes of its kind.
        if (quote.size() == 3)
          for (int extra = 0; extra < 2 && i < text.size() && text[i] == quote[0]; ++extra) ++i;
        return true;
      }
      if (quote.size() == 1 && text[i] == '\n') return true;  // toml++ reports it
      ++i;
    }
    return true;
  };
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++line;
      ++i;
    } else if (c == '#') {
      while (i < text.size() && text[i] != '\n') ++i;
    } else if (c == '"' || c == '\'') {
      const std::string_view quote =
          text.substr(i, 3) == std::string_view(c == '"' ? "\"\"\"" : "'''") ? text.substr(i, 3)
                                                                             : text.substr(i, 1);
      i += quote.size();
      closes(quote);
    } else if (c >= 0x80) {
      return "line " + std::to_string(line) +
             ": a character that is not ASCII outside a string or comment (TOML allows none "
             "there; quote the key or value)";
    } else {
      ++i;
    }
  }
  return std::nullopt;
}

}  // namespace dualkey::base
