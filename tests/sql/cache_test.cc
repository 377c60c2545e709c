#include <gtest/gtest.h>

#include "policy/policy.h"
#include "sql/sql.h"

namespace dualkey::sql {
namespace {

Verdict VerdictFor(std::string_view statement) {
  return policy::Decide(Classify(statement));
}

TEST(DecisionCache, HitReturnsTheSameVerdict) {
  DecisionCache cache(8);
  EXPECT_EQ(cache.Find("SELECT 1", 1), nullptr);
  ASSERT_TRUE(cache.Insert("SELECT 1", 1, VerdictFor("SELECT 1")));
  const Verdict* hit = cache.Find("SELECT 1", 1);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->decision, Decision::kAllow);
}

TEST(DecisionCache, KeyIsTheExactBytes) {
  DecisionCache cache(8);
  cache.Insert("DELETE FROM t WHERE id = 1", 1, VerdictFor("DELETE FROM t WHERE id = 1"));
  EXPECT_EQ(cache.Find("DELETE FROM t WHERE id = 1 ", 1), nullptr);
  EXPECT_EQ(cache.Find("delete from t where id = 1", 1), nullptr);
}

TEST(DecisionCache, PolicyVersionIsPartOfTheKey) {
  DecisionCache cache(8);
  cache.Insert("DROP TABLE t", 1, VerdictFor("DROP TABLE t"));
  EXPECT_NE(cache.Find("DROP TABLE t", 1), nullptr);
  EXPECT_EQ(cache.Find("DROP TABLE t", 2), nullptr);
}

TEST(DecisionCache, OpaqueVerdictsAreNeverCached) {
  DecisionCache cache(8);
  Verdict opaque = VerdictFor("THIS IS NOT SQL");
  ASSERT_FALSE(opaque.actions.empty());
  ASSERT_TRUE(opaque.actions[0].op_class.starts_with("opaque."));
  opaque.decision = Decision::kAllow;  // even if some policy allowed it
  EXPECT_FALSE(cache.Insert("THIS IS NOT SQL", 1, opaque));
  EXPECT_EQ(cache.Find("THIS IS NOT SQL", 1), nullptr);
}

TEST(DecisionCache, EvictsTheLeastRecentlyUsed) {
  DecisionCache cache(2);
  cache.Insert("SELECT 1", 1, VerdictFor("SELECT 1"));
  cache.Insert("SELECT 2", 1, VerdictFor("SELECT 2"));
  ASSERT_NE(cache.Find("SELECT 1", 1), nullptr);  // 1 is now the most recent
  cache.Insert("SELECT 3", 1, VerdictFor("SELECT 3"));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_NE(cache.Find("SELECT 1", 1), nullptr);
  EXPECT_EQ(cache.Find("SELECT 2", 1), nullptr);
  EXPECT_NE(cache.Find("SELECT 3", 1), nullptr);
}

TEST(DecisionCache, OversizedStatementsAreNotCached) {
  DecisionCache cache(4, 16);
  std::string big = "SELECT " + std::string(64, '1');
  EXPECT_FALSE(cache.Insert(big, 1, VerdictFor("SELECT 1")));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(DecisionCache, ReinsertUpdatesInPlace) {
  DecisionCache cache(4);
  cache.Insert("SELECT 1", 1, VerdictFor("SELECT 1"));
  Verdict held = VerdictFor("DROP TABLE t");
  cache.Insert("SELECT 1", 1, held);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.Find("SELECT 1", 1)->decision, Decision::kHold);
}

}  // namespace
}  // namespace dualkey::sql
