// A check of TOML text before it reaches toml++: the packaged toml++ 3.3.0
// reaches __builtin_unreachable (undefined behaviour) in its whitespace test
// for many non-ASCII characters (U+00A1 and up) met outside a string, a
// character TOML 1.0 allows there in no case. Found by fuzz/pack_parse_fuzz
// under UBSan. Every TOML dualkey reads from a file passes here first.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dualkey::base {

// Nothing when every byte outside strings and comments is ASCII; otherwise
// "line N: ..." naming the first offending character's line.
std::optional<std::string> TomlBareNonAscii(std::string_view text);

}  // namespace dualkey::base
