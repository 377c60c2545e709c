#include <gtest/gtest.h>

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
       })
    EXPECT_EQ(ReadShapeKey(sql), "") << sql;
}

}  // namespace
}  // namespace dualkey::sql
