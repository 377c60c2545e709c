#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "sql/internal/lexer.h"
#include "sql/sql.h"

namespace dualkey::sql {
namespace {

TEST(ReadShapeKeyTest, PlainSelectsDifferingInNumbersShareAKey) {
  const std::string a = ReadShapeKey("SELECT abalance FROM pgbench_accounts WHERE aid = 48211;");
  const std::string b = ReadShapeKey("SELECT abalance FROM pgbench_accounts  WHERE aid = 7");
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, ReadShapeKey("SELECT abalance FROM pgbench_branches WHERE aid = 7"));
  EXPECT_NE(a, ReadShapeKey("SELECT abalance FROM pgbench_accounts WHERE aid > 7"));
}

TEST(ReadShapeKeyTest, AnythingThatCouldActIsNotAShape) {
  for (const char* sql : {
           "DELETE FROM t WHERE id = 1",
           "SELECT pg_terminate_backend(123)",
           "SELECT * FROM t WHERE name = 'x'",
           "SELECT * INTO copy FROM t WHERE id = 1",
           "SELECT 1; DROP TABLE t",
           "SELECT * FROM (SELECT 1) s",
           "WITH d AS (DELETE FROM t RETURNING *) SELECT 1",
           "SELECT * FROM \"T\" WHERE id = 1",
           "SELECT * FROM t WHERE id = $1",
           "SELECT 'unterminated",
           // Digits a letter follows could be read otherwise with others.
           "SELECT 1e5 FROM t",
           "SELECT 0x1F FROM t",
           "SELECT 1_000 FROM t",
           "SELECT 1abc FROM t",
           // What a comment hides; parameters, dollar quotes, other bytes.
           "SELECT 1 -- x\n; DROP TABLE t",
           "/* x */ DELETE FROM t",
           "SELECT 1 /* x */; DROP TABLE t",
           "SELECT :x FROM t",
           "SELECT @x FROM t",
           "SELECT ? FROM t",
           "SELECT $$x$$",
           "SELECT a$b FROM t",
           "SELECT \xc3\xa9 FROM t",
           "SELECT a FROM t;;",
           "SELECT a\vFROM t",
           "SELECT a FROM t[1]",
           "select * into t2 from t",
           "SELECTa FROM t",
           "",
           "   ",
           ";",
           "1",
           "* FROM t",
       })
    EXPECT_EQ(ReadShapeKey(sql), "") << sql;
}

// An ORM's comment tags do not stop sharing: a statement with comments is
// keyed by its tokens, under a mark no statement without one gets.
TEST(ReadShapeKeyTest, CommentedSelectsShareAKeyOfTheirOwn) {
  const std::string a = ReadShapeKey("SELECT a FROM t WHERE id = 1 /* controller:users */");
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, ReadShapeKey("SELECT a FROM t WHERE id = 22 /* controller:users */"));
  EXPECT_EQ(a, ReadShapeKey("/* tag */ SELECT a FROM t WHERE id = 3"));
  EXPECT_EQ(a, ReadShapeKey("SELECT a FROM t -- note\nWHERE id = 4;"));
  EXPECT_NE(a, ReadShapeKey("SELECT a FROM t WHERE id = 1"));
  EXPECT_NE(a, ReadShapeKey("SELECT a FROM u WHERE id = 1 /* controller:users */"));
}

TEST(ReadShapeKeyTest, CaseAndASingleFinalSemicolonAreKept) {
  EXPECT_EQ(ReadShapeKey("  select a,b.c FROM t WHERE x>=-3.25 ;  "),
            "select a,b.c FROM t WHERE x>=-?.?");
  EXPECT_NE(ReadShapeKey("select a FROM t"), ReadShapeKey("SELECT a FROM t"));
}

// Whatever two statements share a key are read alike by the SQL lexer: the
// same tokens, of the same kinds, but for the text of their numbers; and a
// statement with a key has none of what ReadShapeKey keeps out (strings,
// quoted names, parameters, parentheses, a second statement, INTO).
// Statements are made of pieces chosen to reach each of its cases; the
// second of each pair has the first's digits changed, inside names too, and
// some of its spaces made other whitespace.
TEST(ReadShapeKeyTest, StatementsSharingAKeyLexAlikeButForTheirNumbers) {
  // clang-format off
  const std::vector<std::string> pieces = {
      "SELECT", "select", "a", "t1", "_x", "into", "INTO", "from", "1", "23", "007", ".", ",",
      "=", "<>", "!=", "-", "--", "/", "*", "/*", "*/", "e5", "E", "x", "0x1F", "1.5", "$1", "$",
      "'s'", "\"q\"", "(", ")", ";", " ", "  ", "\n", "\t", "\v", "_", "1_0", "é", ":", "@",
      "?", "%", "+", "[", "::", "e", "9e"};
  // clang-format on
  std::mt19937 random(1207);
  int shapes = 0, shared = 0;
  for (int n = 0; n < 20000; ++n) {
    std::string a = random() % 4 == 0 ? "" : "SELECT ";
    const int count = 1 + static_cast<int>(random() % 9);
    for (int k = 0; k < count; ++k) a += pieces[random() % pieces.size()];
    std::string b;
    for (char c : a) {
      if (c >= '0' && c <= '9' && random() % 2 == 0) c = static_cast<char>('0' + random() % 10);
      if (c == ' ' && random() % 3 == 0) {
        b += "\n\t ";  // other whitespace, as much as there was or more
        continue;
      }
      b += c;
    }
    const std::string key = ReadShapeKey(a);
    if (key.empty()) continue;
    ++shapes;
    std::vector<internal::Token> ta, tb;
    std::string error;
    ASSERT_TRUE(internal::Lex(a, Dialect::kPostgres, &ta, &error)) << a;
    ASSERT_FALSE(ta.empty()) << a;
    EXPECT_TRUE(internal::IsWord(ta[0], "SELECT")) << a;
    for (std::size_t i = 0; i < ta.size(); ++i) {
      const internal::Token& t = ta[i];
      ASSERT_NE(t.kind, internal::TokenKind::kString) << a;
      ASSERT_NE(t.kind, internal::TokenKind::kQuotedIdent) << a;
      ASSERT_NE(t.kind, internal::TokenKind::kParam) << a;
      if (t.kind == internal::TokenKind::kPunct) ASSERT_TRUE(t.text == "," || t.text == ".") << a;
      if (t.kind == internal::TokenKind::kSemicolon) ASSERT_EQ(i + 1, ta.size()) << a;
      if (t.kind == internal::TokenKind::kWord) ASSERT_FALSE(internal::IsWord(t, "INTO")) << a;
    }
    if (ReadShapeKey(b) != key) continue;
    ++shared;
    ASSERT_TRUE(internal::Lex(b, Dialect::kPostgres, &tb, &error)) << b;
    ASSERT_EQ(ta.size(), tb.size()) << a << " | " << b;
    for (std::size_t i = 0; i < ta.size(); ++i) {
      ASSERT_EQ(ta[i].kind, tb[i].kind) << a << " | " << b;
      if (ta[i].kind != internal::TokenKind::kNumber) ASSERT_EQ(ta[i].text, tb[i].text) << a;
    }
  }
  // The pieces reach shapes, and pairs that share them.
  EXPECT_GT(shapes, 1000);
  EXPECT_GT(shared, 500);
}

}  // namespace
}  // namespace dualkey::sql
