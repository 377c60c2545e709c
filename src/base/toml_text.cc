#include "base/toml_text.h"

#include <cstdint>
#include <cstdio>

namespace dualkey::base {
namespace {

// Decodes one UTF-8 sequence at text[i] (a byte >= 0x80); 0 when invalid.
std::size_t DecodeUtf8(std::string_view text, std::size_t i, std::uint32_t* cp) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  std::size_t length = 0;
  std::uint32_t value = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    value = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    value = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    value = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    value = (value << 6) | (byte(i + k) & 0x3F);
  }
  if ((length == 3 && value < 0x800) || (length == 4 && (value < 0x10000 || value > 0x10FFFF)) ||
      (value >= 0xD800 && value <= 0xDFFF))
    return 0;
  *cp = value;
  return length;
}

void AppendEscape(std::uint32_t cp, std::string* out) {
  char escape[16];
  if (cp <= 0xFFFF)
    std::snprintf(escape, sizeof escape, "\\u%04X", static_cast<unsigned>(cp));
  else
    std::snprintf(escape, sizeof escape, "\\U%08X", static_cast<unsigned>(cp));
  out->append(escape);
}

class Converter {
 public:
  Converter(std::string_view text, std::string* out, std::string* error)
      : text_(text), out_(out), error_(error) {}

  bool Run() {
    if (text_.starts_with("\xEF\xBB\xBF")) i_ = 3;  // a byte order mark: toml++ skips it
    while (i_ < text_.size()) {
      const char c = text_[i_];
      if (c == '#') {
        Comment();
      } else if (c == '"' || c == '\'') {
        if (!String(c)) return false;
      } else if (static_cast<unsigned char>(c) >= 0x80) {
        return Fail("a character that is not ASCII outside a string or comment (quote it)");
      } else {
        Copy();
      }
    }
    return true;
  }

 private:
  bool Fail(const std::string& why) {
    *error_ = "line " + std::to_string(line_) + ": " + why;
    return false;
  }
  void Copy() {
    if (text_[i_] == '\n') ++line_;
    out_->push_back(text_[i_++]);
  }
  void Comment() {
    while (i_ < text_.size() && text_[i_] != '\n') {
      if (static_cast<unsigned char>(text_[i_]) < 0x80) out_->push_back(text_[i_]);
      ++i_;
    }
  }
  // One string from its opening quote to its closing one (or the end of the
  // line or text, where toml++ reports the error).
  bool String(char quote) {
    const bool multi = text_.substr(i_, 3) == std::string(3, quote);
    const bool literal = quote == '\'';
    i_ += multi ? 3 : 1;
    out_->append(multi ? "\"\"\"" : "\"");
    while (i_ < text_.size()) {
      const char c = text_[i_];
      if (!multi && c == '\n') return true;  // unterminated: toml++ says so
      if (c == quote && (!multi || text_.substr(i_, 3) == std::string(3, quote))) {
        if (multi) {
          i_ += 3;
          // Up to two more quotes belong to the content.
          for (int extra = 0; extra < 2 && i_ < text_.size() && text_[i_] == quote; ++extra) {
            out_->append(literal ? "'" : "\\\"");
            ++i_;
          }
          out_->append("\"\"\"");
        } else {
          ++i_;
          out_->push_back('"');
        }
        return true;
      }
      if (static_cast<unsigned char>(c) >= 0x80) {
        std::uint32_t cp = 0;
        const std::size_t length = DecodeUtf8(text_, i_, &cp);
        if (length == 0) return Fail("the text is not UTF-8");
        AppendEscape(cp, out_);
        i_ += length;
        continue;
      }
      if (literal) {
        if (c == '\\' || c == '"') out_->push_back('\\');
        Copy();
        continue;
      }
      if (c == '\\') {
        if (i_ + 1 < text_.size() && static_cast<unsigned char>(text_[i_ + 1]) >= 0x80)
          return Fail("an escape of a character that is not ASCII");
        Copy();
        if (i_ < text_.size()) Copy();
        continue;
      }
      Copy();
    }
    return true;
  }

  std::string_view text_;
  std::string* out_;
  std::string* error_;
  std::size_t i_ = 0;
  std::size_t line_ = 1;
};

}  // namespace

bool TomlToAscii(std::string_view text, std::string* out, std::string* error) {
  out->clear();
  out->reserve(text.size());
  return Converter(text, out, error).Run();
}

}  // namespace dualkey::base
