#include "base/toml_text.h"

#include <gtest/gtest.h>

namespace dualkey::base {
namespace {

TEST(TomlText, NonAsciiInStringsAndCommentsIsFine) {
  EXPECT_FALSE(TomlBareNonAscii("name = \"café\" # ünïcode\n'lit' = 'ß'\n"));
  EXPECT_FALSE(TomlBareNonAscii("m = \"\"\"\nmulti é \\\"\"\" \n\"\"\"\nl = '''\né'''\n"));
  EXPECT_FALSE(TomlBareNonAscii("\xEF\xBB\xBFkey = 1\n"));  // a byte order mark
}

TEST(TomlText, NonAsciiOutsideAStringIsNamedWithItsLine) {
  // U+FEDF where a key may start: toml++ 3.3.0 reaches undefined behaviour here.
  std::optional<std::string> bad = TomlBareNonAscii("a = 1\n\xEF\xBB\x9F'D=/; [m\n");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->rfind("line 2:", 0), 0u) << *bad;
  EXPECT_TRUE(TomlBareNonAscii("k = 1 \xC2\xA1\n"));
  // An escaped quote does not end a basic string; a literal one has none.
  EXPECT_FALSE(TomlBareNonAscii("k = \"a\\\"é\"\n"));
  EXPECT_TRUE(TomlBareNonAscii("k = 'a\\' é\n"));
}

}  // namespace
}  // namespace dualkey::base
