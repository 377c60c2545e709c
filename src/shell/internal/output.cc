#include "shell/internal/output.h"

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <span>
#include <vector>

#include "base/text.h"

namespace dualkey::shell {
namespace {

constexpr std::size_t kMaxWidth = 4096;

int OctalDigit(char c) {
  return c >= '0' && c <= '7' ? c - '0' : -1;
}

// One backslash escape at text[*i] (on the backslash). `echo_style`: \0NNN
// (echo -e, %b) rather than \NNN (printf's format).
void DecodeEscape(std::string_view text, std::size_t* i, bool echo_style, std::string* out,
                  bool* stop) {
  std::size_t k = *i + 1;
  if (k >= text.size()) {
    out->push_back('\\');
    *i = k;
    return;
  }
  char c = text[k];
  auto simple = [&](char value) {
    out->push_back(value);
    *i = k + 1;
  };
  switch (c) {
    case 'n':
      return simple('\n');
    case 't':
      return simple('\t');
    case 'r':
      return simple('\r');
    case 'a':
      return simple('\a');
    case 'b':
      return simple('\b');
    case 'f':
      return simple('\f');
    case 'v':
      return simple('\v');
    case 'e':
    case 'E':
      return simple('\x1b');
    case '\\':
      return simple('\\');
    case '"':
      return simple('"');
    case '\'':
      return simple('\'');
    case 'c':
      if (stop != nullptr) *stop = true;
      *i = text.size();
      return;
    case 'x': {
      int value = 0, digits = 0;
      std::size_t j = k + 1;
      while (j < text.size() && digits < 2 && base::HexValue(text[j]) >= 0) {
        value = value * 16 + base::HexValue(text[j++]);
        ++digits;
      }
      if (digits == 0) {
        out->append("\\x");
        *i = k + 1;
        return;
      }
      out->push_back(static_cast<char>(value));
      *i = j;
      return;
    }
    default:
      break;
  }
  if (OctalDigit(c) >= 0) {
    std::size_t j = k;
    int max_digits = 3;
    if (echo_style) {
      if (c != '0') {  // echo -e only knows \0NNN
        out->push_back('\\');
        out->push_back(c);
        *i = k + 1;
        return;
      }
      ++j;  // the leading 0
    }
    int value = 0, digits = 0;
    while (j < text.size() && digits < max_digits && OctalDigit(text[j]) >= 0) {
      value = value * 8 + OctalDigit(text[j++]);
      ++digits;
    }
    out->push_back(static_cast<char>(value & 0xff));
    *i = j;
    return;
  }
  out->push_back('\\');
  out->push_back(c);
  *i = k + 1;
}

bool ParseInteger(std::string_view text, long long* out) {
  std::size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  if (i + 1 < text.size() && (text[i] == '\'' || text[i] == '"')) {
    *out = static_cast<unsigned char>(text[i + 1]);  // 'c: the character's code
    return true;
  }
  if (i >= text.size()) return text.empty() ? (*out = 0, true) : false;
  long long value = 0;
  int base = 10;
  if (text[i] == '0' && i + 1 < text.size() && (text[i + 1] == 'x' || text[i + 1] == 'X')) {
    base = 16;
    i += 2;
  } else if (text[i] == '0') {
    base = 8;
  }
  std::size_t digits = 0;
  for (; i < text.size(); ++i, ++digits) {
    int d = base == 16 ? base::HexValue(text[i])
                       : (std::isdigit(static_cast<unsigned char>(text[i])) ? text[i] - '0' : -1);
    if (d < 0 || d >= base) return false;
    if (value > (1LL << 56)) return false;
    value = value * base + d;
  }
  if (digits == 0 && base != 8) return false;
  *out = negative ? -value : value;
  return true;
}

void Pad(std::string* out, std::string_view body, std::size_t width, bool left) {
  if (body.size() >= width) {
    out->append(body);
    return;
  }
  if (left) {
    out->append(body);
    out->append(width - body.size(), ' ');
  } else {
    out->append(width - body.size(), ' ');
    out->append(body);
  }
}

}  // namespace

std::string DecodeEchoEscapes(std::string_view text, bool* stop) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '\\') {
      out.push_back(text[i++]);
      continue;
    }
    bool stopped = false;
    DecodeEscape(text, &i, /*echo_style=*/true, &out, &stopped);
    if (stopped) {
      if (stop != nullptr) *stop = true;
      break;
    }
  }
  return out;
}

std::optional<std::string> FormatPrintf(std::string_view format,
                                        std::span<const std::string> args) {
  std::string out;
  std::size_t next_arg = 0;
  auto take = [&]() -> std::string_view {
    if (next_arg < args.size()) return args[next_arg++];
    return {};
  };
  for (int pass = 0;; ++pass) {
    const std::size_t used_before = next_arg;
    bool stop = false;
    std::size_t i = 0;
    while (i < format.size() && !stop) {
      const char c = format[i];
      if (c == '\\') {
        DecodeEscape(format, &i, /*echo_style=*/false, &out, &stop);
        continue;
      }
      if (c != '%') {
        out.push_back(c);
        ++i;
        continue;
      }
      if (i + 1 < format.size() && format[i + 1] == '%') {
        out.push_back('%');
        i += 2;
        continue;
      }
      // %[flags][width][.precision]conversion
      std::size_t j = i + 1;
      bool left = false, zero = false;
      while (j < format.size() &&
             std::string_view("-+ #0").find(format[j]) != std::string_view::npos) {
        left = left || format[j] == '-';
        zero = zero || format[j] == '0';
        ++j;
      }
      std::size_t width = 0;
      if (j < format.size() && format[j] == '*') {
        long long w = 0;
        if (!ParseInteger(take(), &w)) return std::nullopt;
        if (w < 0) {
          left = true;
          w = -w;
        }
        width = static_cast<std::size_t>(w);
        ++j;
      } else {
        while (j < format.size() && std::isdigit(static_cast<unsigned char>(format[j])))
          width = width * 10 + static_cast<std::size_t>(format[j++] - '0');
      }
      std::optional<std::size_t> precision;
      if (j < format.size() && format[j] == '.') {
        ++j;
        std::size_t p = 0;
        if (j < format.size() && format[j] == '*') {
          long long w = 0;
          if (!ParseInteger(take(), &w) || w < 0) return std::nullopt;
          p = static_cast<std::size_t>(w);
          ++j;
        } else {
          while (j < format.size() && std::isdigit(static_cast<unsigned char>(format[j])))
            p = p * 10 + static_cast<std::size_t>(format[j++] - '0');
        }
        precision = p;
      }
      if (width > kMaxWidth) return std::nullopt;
      // Length modifiers are accepted and ignored (%ld, %lld).
      while (j < format.size() && (format[j] == 'l' || format[j] == 'h' || format[j] == 'z' ||
                                   format[j] == 'j' || format[j] == 't' || format[j] == 'L'))
        ++j;
      if (j >= format.size()) return std::nullopt;
      const char conversion = format[j];
      i = j + 1;
      std::string body;
      switch (conversion) {
        case 's':
        case 'q':
        case 'Q': {
          std::string_view arg = take();
          body.assign(precision ? arg.substr(0, *precision) : arg);
          break;
        }
        case 'b': {
          bool stopped = false;
          body = DecodeEchoEscapes(take(), &stopped);
          if (stopped) stop = true;
          break;
        }
        case 'c': {
          std::string_view arg = take();
          if (!arg.empty()) body.push_back(arg[0]);
          break;
        }
        case 'd':
        case 'i':
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
          long long value = 0;
          if (!ParseInteger(take(), &value)) return std::nullopt;
          char buffer[64];
          const char* spec = conversion == 'x'   ? "%llx"
                             : conversion == 'X' ? "%llX"
                             : conversion == 'o' ? "%llo"
                                                 : "%lld";
          std::snprintf(buffer, sizeof(buffer), spec, value);
          body = buffer;
          if (zero && !left && body.size() < width) {
            const bool negative = !body.empty() && body[0] == '-';
            body.insert(negative ? 1 : 0, width - body.size(), '0');
          }
          break;
        }
        default:
          return std::nullopt;  // floats, %n, %(...)T: not worth predicting
      }
      Pad(&out, body, width, left);
      if (out.size() > kMaxPredictedOutput) return std::nullopt;
    }
    if (stop || next_arg >= args.size() || next_arg == used_before) break;
    if (out.size() > kMaxPredictedOutput || pass > 4096) return std::nullopt;
  }
  if (out.size() > kMaxPredictedOutput) return std::nullopt;
  return out;
}

std::optional<std::string> DecodeBase64(std::string_view text) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  bool padding = false;
  for (char c : text) {
    int value;
    if (c >= 'A' && c <= 'Z')
      value = c - 'A';
    else if (c >= 'a' && c <= 'z')
      value = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      value = c - '0' + 52;
    else if (c == '+' || c == '-')
      value = 62;
    else if (c == '/' || c == '_')
      value = 63;
    else if (c == '=') {
      padding = true;
      continue;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      continue;
    } else {
      return std::nullopt;
    }
    if (padding) return std::nullopt;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

PredictedOutput PredictOutput(const Invocation& inv, const FileReader& read_file, bool redirected) {
  PredictedOutput result;
  if (inv.argv.empty()) {
    // `< file` alone (and `$(< file)`): the file's content.
    for (const FileRedirect& redirect : inv.redirects) {
      if (redirect.kind != RedirectKind::kRead || read_file == nullptr) continue;
      CodeFile file = read_file(redirect.target, inv.cwd);
      if (file.state == CodeFile::State::kText) result.text = std::move(file.text);
      return result;
    }
    result.text = std::string();
    return result;
  }
  for (const Arg& arg : inv.argv)
    if (!arg.known) return result;
  // Output that goes to a file or elsewhere does not reach the pipe.
  for (const FileRedirect& redirect : inv.redirects) {
    if (redirected) break;
    if ((redirect.kind == RedirectKind::kTruncate || redirect.kind == RedirectKind::kAppend) &&
        (redirect.fd == -1 || redirect.fd == 1)) {
      result.text = std::string();
      return result;
    }
  }
  const std::string_view name = inv.name();
  const std::span<const Arg> args = std::span<const Arg>(inv.argv).subspan(1);
  if (name == "echo") {
    bool newline = true, escapes = false;
    std::size_t i = 0;
    for (; i < args.size(); ++i) {
      std::string_view text = args[i].text;
      if (text.size() < 2 || text[0] != '-' ||
          text.find_first_not_of("neE", 1) != std::string_view::npos)
        break;
      for (char c : text.substr(1)) {
        if (c == 'n') newline = false;
        if (c == 'e') escapes = true;
        if (c == 'E') escapes = false;
      }
    }
    std::string out;
    bool stopped = false;
    for (std::size_t k = i; k < args.size() && !stopped; ++k) {
      if (k > i) out.push_back(' ');
      out += escapes ? DecodeEchoEscapes(args[k].text, &stopped) : args[k].text;
      if (out.size() > kMaxPredictedOutput) return result;
    }
    if (newline && !stopped) out.push_back('\n');
    result.text = std::move(out);
    return result;
  }
  if (name == "printf") {
    std::size_t i = 0;
    if (i < args.size() && args[i].text == "--") ++i;
    if (i < args.size() && args[i].text == "-v") return result;  // assigns, prints nothing here
    if (i >= args.size()) return result;
    std::vector<std::string> rest;
    for (std::size_t k = i + 1; k < args.size(); ++k) rest.push_back(args[k].text);
    result.text = FormatPrintf(args[i].text, rest);
    return result;
  }
  if (name == ":" || name == "true" || name == "false") {
    result.text = std::string();
    return result;
  }
  if (name == "pwd") {
    if (!inv.cwd.empty()) result.text = inv.cwd + "\n";
    return result;
  }
  if (name == "mktemp") {
    result.text = "/tmp/tmp.XXXXXXXXXX\n";
    result.temp = true;
    return result;
  }
  if (name == "cat" || name == "tee") {
    std::string out;
    bool any_file = false;
    for (const Arg& arg : args) {
      if (arg.text == "-" || name == "tee") continue;
      if (arg.text.size() > 1 && arg.text[0] == '-') return result;  // -n, -A ...: not modelled
      any_file = true;
      if (read_file == nullptr) return result;
      CodeFile file = read_file(arg, inv.cwd);
      if (file.state != CodeFile::State::kText) return result;
      out += file.text;
      if (out.size() > kMaxPredictedOutput) return result;
    }
    if (name == "tee" || !any_file) {
      std::optional<std::string> in = inv.StdinText();
      if (!in) return result;
      out += *in;
    }
    result.text = std::move(out);
    return result;
  }
  if (name == "base64" || name == "base32") {
    bool decode = false;
    for (const Arg& arg : args) {
      if (arg.text == "-d" || arg.text == "--decode" || arg.text == "-D" || arg.text == "-di" ||
          arg.text == "-id")
        decode = true;
      else if (!arg.text.starts_with("-"))
        return result;  // a file operand
    }
    if (!decode || name == "base32") return result;
    std::optional<std::string> in = inv.StdinText();
    if (!in) return result;
    result.text = DecodeBase64(*in);
    return result;
  }
  return result;
}

}  // namespace dualkey::shell
