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
