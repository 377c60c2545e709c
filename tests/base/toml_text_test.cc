#include "base/toml_text.h"

#include <gtest/gtest.h>
#include <toml++/toml.h>

namespace dualkey::base {
namespace {

std::string Ascii(std::string_view text) {
  std::string out, error;
  EXPECT_TRUE(TomlToAscii(text, &out, &error)) << error;
  for (char c : out) EXPECT_LT(static_cast<unsigned char>(c), 0x80) << out;
  return out;
}

TEST(TomlText, StringsKeepTheirValuesInAscii) {
  const std::string text =
      "a = \"café \\\"q\\\" \\\\\"\n"
      "b = 'ß \\ \" lit'\n"
      "c = \"\"\"\nmulti é\n\"\"\"\n"
      "d = '''\nraw \\ ü \"\"\" '''\n"
      "e = '''x''''\n"
      "\"ké\" = 1 # ünïcode comment\n"
      "f = \"\\U0001F600 😀\"\n";
  toml::table want = toml::parse(text);  // this text is safe for toml++ as it is
  toml::table got = toml::parse(Ascii(text));
  for (const char* key : {"a", "b", "c", "d", "e", "f"})
    EXPECT_EQ(got[key].value<std::string>(), want[key].value<std::string>()) << key;
  EXPECT_EQ(got["ké"].value<int64_t>(), 1);
  EXPECT_EQ(Ascii("\xEF\xBB\xBFkey = 1\n"), "key = 1\n");  // a byte order mark
}

TEST(TomlText, NonAsciiOutsideAStringIsNamedWithItsLine) {
  std::string out, error;
  // U+FEDF where a key may start: toml++ 3.3.0 reaches undefined behaviour here.
  EXPECT_FALSE(TomlToAscii("a = 1\n\xEF\xBB\x9F'D=/; [m\n", &out, &error));
  EXPECT_EQ(error.rfind("line 2:", 0), 0u) << error;
  EXPECT_FALSE(TomlToAscii("k = 1 \xC2\xA1\n", &out, &error));
  EXPECT_FALSE(TomlToAscii("k = \"\xC3\x28\"\n", &out, &error));  // not UTF-8
}

TEST(TomlText, MalformedDocumentsReachTomlppAsAscii) {
  // toml++ scans the string as part of a malformed value: found by the fuzzer.
  const std::string text = "D=2-\"$D::::::::::::::::>:::::::::\xC6\x81:::::::\"";
  Ascii(text);
  std::string out, error;
  ASSERT_TRUE(TomlToAscii(text, &out, &error));
  EXPECT_THROW((void)toml::parse(out), toml::parse_error);
}

}  // namespace
}  // namespace dualkey::base

namespace dualkey::base {
namespace {

TEST(TomlText, ParseTomlThrowsLikeASyntaxErrorAtTheLine) {
  EXPECT_EQ(ParseToml("k = \"é\"\n", "x.toml")["k"].value<std::string>(), "é");
  try {
    (void)ParseToml("a = 1\nb = 2 \xC2\xA1\n", "x.toml");
    FAIL() << "no error";
  } catch (const toml::parse_error& e) {
    EXPECT_EQ(e.source().begin.line, 2u);
    EXPECT_EQ(*e.source().path, "x.toml");
  }
  EXPECT_THROW((void)ParseTomlFile("/nonexistent/dualkey.toml"), toml::parse_error);
}

}  // namespace
}  // namespace dualkey::base
