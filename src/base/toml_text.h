// TOML text made safe for toml++: the packaged toml++ 3.3.0 reaches
// __builtin_unreachable (undefined behaviour) in its whitespace test for many
// characters that are not ASCII (U+00A1 and up), and it runs that test on
// characters it is still scanning when a document is malformed, strings
// included (found by fuzz/pack_parse_fuzz under UBSan). So toml++ is only
// ever given ASCII: characters that are not ASCII inside strings become
// escapes (a literal string becomes the equivalent basic string), in comments
// they are dropped, anywhere else they are an error, as TOML 1.0 has it.
// Every TOML dualkey reads passes here first.
#pragma once

#include <string>
#include <string_view>

namespace dualkey::base {

// `out` gets an ASCII document with the same values as `text`; false with
// "line N: ..." in `error` when `text` is not UTF-8 or has a character that
// is not ASCII outside a string or comment.
bool TomlToAscii(std::string_view text, std::string* out, std::string* error);

}  // namespace dualkey::base

// toml++'s parse of the ASCII form of `text` (TomlToAscii). Text that has
// no ASCII form throws toml::parse_error like a syntax error, at its line,
// so callers handle both alike. ParseTomlFile reads `path` first (an
// unreadable file throws too, as toml::parse_file does).
#include <toml++/toml.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

namespace dualkey::base {

inline toml::table ParseToml(std::string_view text, std::string_view path) {
  std::string ascii, error;
  if (!TomlToAscii(text, &ascii, &error)) {
    toml::source_index line = 1;
    if (error.starts_with("line "))
      line = static_cast<toml::source_index>(std::atoi(error.c_str() + 5));
    const std::size_t colon = error.find(": ");
    const std::string what = colon == std::string::npos ? error : error.substr(colon + 2);
    throw toml::parse_error(what.c_str(), toml::source_position{line, 1},
                            std::make_shared<const std::string>(path));
  }
  return toml::parse(ascii, path);
}

inline toml::table ParseTomlFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw toml::parse_error("the file cannot be opened", toml::source_position{1, 1},
                            std::make_shared<const std::string>(path));
  std::stringstream text;
  text << in.rdbuf();
  return ParseToml(text.str(), path);
}

}  // namespace dualkey::base
