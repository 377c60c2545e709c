#include "base/json_text.h"

#include <gtest/gtest.h>

#include "base/status.h"

namespace dualkey::base {
namespace {

TEST(JsonText, ValidUtf8IsRecognised) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("rm -rf /srv"));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  EXPECT_FALSE(IsValidUtf8("\xC3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
}

TEST(JsonText, FirstInvalidUtf8SaysWhere) {
  EXPECT_EQ(FirstInvalidUtf8("plain ascii"), std::string_view::npos);
  EXPECT_EQ(FirstInvalidUtf8("caf\xC3\xA9"), std::string_view::npos);
  EXPECT_EQ(FirstInvalidUtf8("caf\xC3\xA9\xFF"), 5u);
  EXPECT_EQ(FirstInvalidUtf8("\xC3"), 0u);
  EXPECT_EQ(FirstInvalidUtf8("ab\xED\xA0\x80"), 2u);
}

// ASCII is skipped eight bytes at a time: a bad byte (or a valid
// multi-byte sequence) anywhere in a long ASCII text, at every offset
// within a word and across word boundaries, is still found where it is.
TEST(JsonText, BadBytesAreFoundAtEveryOffsetOfLongAsciiText) {
  const std::string ascii(40, 'a');
  for (std::size_t at = 0; at <= ascii.size(); ++at) {
    std::string bad = ascii;
    bad.insert(at, "\xFF");
    EXPECT_EQ(FirstInvalidUtf8(bad), at) << at;
    std::string truncated = ascii;
    truncated.insert(at, "\xE2\x82");  // a three-byte sequence cut short
    EXPECT_EQ(FirstInvalidUtf8(truncated), at) << at;
    std::string good = ascii;
    good.insert(at, "\xE2\x82\xAC");
    EXPECT_TRUE(IsValidUtf8(good)) << at;
    EXPECT_EQ(FirstInvalidUtf8(good + "\xC0"), good.size()) << at;
  }
}

TEST(JsonText, InvalidRunsBecomeOneReplacementCharacter) {
  EXPECT_EQ(ToValidUtf8("a\xFF\xFE"
                        "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(ToValidUtf8("ok"), "ok");
  EXPECT_EQ(ToValidUtf8("\xE2\x82"), "\xEF\xBF\xBD");
}

TEST(JsonText, DumpNeverThrowsOnInvalidUtf8) {
  nlohmann::json value{{"input", std::string("DROP TABLE \xFF t")}};
  std::string text;
  ASSERT_NO_THROW(text = JsonDump(value));
  EXPECT_NE(text.find("\xEF\xBF\xBD"), std::string::npos);
  EXPECT_TRUE(IsValidUtf8(text));
}

TEST(JsonText, ParseReportsInvalidUtf8AsAnError) {
  std::string error;
  EXPECT_FALSE(JsonParse("{\"a\":\"\xFF\"}", &error).has_value());
  EXPECT_NE(error.find("UTF-8"), std::string::npos);
  EXPECT_FALSE(JsonParse("{", &error).has_value());
  auto ok = JsonParse("{\"a\":1}");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ((*ok)["a"], 1);
}

TEST(Status, CodesAndMessages) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  Status missing = Status::NotFound("no approval for this action");
  EXPECT_FALSE(missing.ok());
  EXPECT_TRUE(missing.Is(Status::Code::kNotFound));
  EXPECT_EQ(missing.ToString(), "not found: no approval for this action");
  Result<int> value = 42;
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, 42);
  Result<int> failed = Status::Unavailable("store down");
  EXPECT_FALSE(failed.ok());
  EXPECT_TRUE(failed.status().Is(Status::Code::kUnavailable));
}

}  // namespace
}  // namespace dualkey::base
