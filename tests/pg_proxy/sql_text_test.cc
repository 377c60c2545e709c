// What the proxy classifies of a statement's bytes (proxy/pg/internal/sql_text.h).
#include "proxy/pg/internal/sql_text.h"

#include <gtest/gtest.h>

#include "base/json_text.h"

namespace dualkey::pgproxy {
namespace {

TEST(SqlText, Utf8IsReadAsItIsWithoutACopy) {
  std::string storage;
  const std::string sql = "SELECT 'caf\xc3\xa9'";
  const std::string_view text = SqlForClassification(sql, &storage);
  EXPECT_EQ(text.data(), sql.data());
  EXPECT_FALSE(WasReread(sql, text));
}

TEST(SqlText, OtherBytesAreReadOneCharacterEachBehindTheMarker) {
  std::string storage;
  const std::string sql = "DELETE FROM t WHERE a = '\xe9\xff'";
  const std::string_view text = SqlForClassification(sql, &storage);
  EXPECT_TRUE(WasReread(sql, text));
  EXPECT_TRUE(base::IsValidUtf8(text));
  EXPECT_EQ(text, std::string(kLatin1Marker) + "DELETE FROM t WHERE a = '\xc3\xa9\xc3\xbf'");
}

// Collapsing bad bytes into one U+FFFD would let "$\x95$" and "$\x95\x95$"
// read as the same dollar-quote tag: a string that ends early for the
// classifier and late for the server. One character per byte never does.
TEST(SqlText, DistinctBytesNeverReadAlike) {
  std::string a, b;
  const std::string one = "SELECT $\x95$ x $\x95\x95$", two = "SELECT $\x95$ x $\x95$";
  EXPECT_NE(SqlForClassification(one, &a), SqlForClassification(two, &b));
  // A valid statement that spells out the marker is re-read as well, so it
  // cannot stand for an invalid one.
  std::string c, d;
  const std::string spelled = std::string(kLatin1Marker) + "SELECT '\xc3\xa9'";
  const std::string bytes = "SELECT '\xe9'";
  EXPECT_NE(SqlForClassification(spelled, &c), SqlForClassification(bytes, &d));
}

TEST(SqlText, BackslashesAfterNonAsciiBytesAreFlagged) {
  EXPECT_TRUE(HasEncodingDependentEscape("SELECT E'\x95\\'; DROP TABLE t; --'"));
  EXPECT_TRUE(HasEncodingDependentEscape("SELECT E'\x95\\\\'"));
  EXPECT_FALSE(HasEncodingDependentEscape("SELECT E'\\''"));
  EXPECT_FALSE(HasEncodingDependentEscape("SELECT 'caf\xc3\xa9 \\n'"));
  EXPECT_FALSE(HasEncodingDependentEscape("SELECT '\\"));
  EXPECT_FALSE(HasEncodingDependentEscape(""));
}

}  // namespace
}  // namespace dualkey::pgproxy
