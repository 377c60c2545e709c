#include "policy/policy.h"

#include <gtest/gtest.h>

namespace dualkey::policy {
namespace {

Action Make(std::string op_class, Severity severity) {
  Action action;
  action.op_class = std::move(op_class);
  action.severity = severity;
  action.reason = "because " + action.op_class;
  return action;
}

TEST(DefaultPolicy, NoActionsIsAllow) {
  Verdict verdict = Decide({});
  EXPECT_EQ(verdict.decision, Decision::kAllow);
}

TEST(DefaultPolicy, ReadsAndDisposableDeletesAreAllowed) {
  EXPECT_EQ(Decide({Make("read.only", Severity::kNone)}).decision, Decision::kAllow);
  EXPECT_EQ(Decide({Make("fs.delete.scoped", Severity::kLow)}).decision, Decision::kAllow);
}

TEST(DefaultPolicy, DestructiveIsHeld) {
  EXPECT_EQ(Decide({Make("fs.delete.recursive", Severity::kHigh)}).decision, Decision::kHold);
  EXPECT_EQ(Decide({Make("db.drop", Severity::kCritical)}).decision, Decision::kHold);
}

TEST(DefaultPolicy, OpaqueIsHeldWhateverItsSeverity) {
  EXPECT_EQ(Decide({Make("opaque.exec", Severity::kNone)}).decision, Decision::kHold);
  EXPECT_EQ(Decide({Make("opaque.sql", Severity::kLow)}).decision, Decision::kHold);
}

TEST(DefaultPolicy, BackupDeletesAreHeldButBackupCreationIsNot) {
  EXPECT_EQ(Decide({Make("backup.delete", Severity::kLow)}).decision, Decision::kHold2);
  EXPECT_EQ(Decide({Make("backup.create", Severity::kNone)}).decision, Decision::kAllow);
}

TEST(DefaultPolicy, StrictestActionDecidesAndGivesTheReason) {
  Verdict verdict =
      Decide({Make("read.only", Severity::kNone), Make("fs.delete.recursive", Severity::kHigh),
              Make("fs.delete.scoped", Severity::kLow)});
  EXPECT_EQ(verdict.decision, Decision::kHold);
  EXPECT_EQ(verdict.reason, "because fs.delete.recursive");
  EXPECT_EQ(verdict.actions.size(), 3u);
}

TEST(DefaultPolicy, DiskWipesNeedTwoHumans) {
  EXPECT_EQ(Decide({Make("disk.wipe", Severity::kCritical)}).decision, Decision::kHold2);
  EXPECT_EQ(Decide({Make("disk.format", Severity::kCritical)}).decision, Decision::kHold2);
}

// An allow's reason is true of every class: a bounded DELETE is small, not
// "disposable data".
TEST(DefaultPolicy, AnAllowSaysWhyInWordsThatHoldForEveryClass) {
  Action bounded = Make("db.write.bounded", Severity::kLow);
  bounded.reason = "DELETE of orders limited by its WHERE clause";
  Verdict verdict = Decide({bounded});
  ASSERT_EQ(verdict.decision, Decision::kAllow);
  EXPECT_EQ(verdict.reason, "low impact: DELETE of orders limited by its WHERE clause");
  EXPECT_EQ(verdict.reason.find("disposable"), std::string::npos);
  EXPECT_EQ(Decide({Make("read.only", Severity::kNone)}).reason, "nothing destructive found");
}

// The PostgreSQL proxy counted the rows: the hold's reason says what is at
// stake, not why the statement alone would have passed.
TEST(DefaultPolicy, ARaisedAllowSaysWhatIsAtStake) {
  Action bounded = Make("db.write.bounded", Severity::kLow);
  bounded.reason = "DELETE of orders limited by its WHERE clause";
  Verdict verdict = Decide({bounded});
  Raise(&verdict, Decision::kHold, "deletes 2,999 rows of public.orders (of 8,000)");
  EXPECT_EQ(verdict.decision, Decision::kHold);
  EXPECT_EQ(verdict.reason,
            "deletes 2,999 rows of public.orders (of 8,000); DELETE of orders limited by its "
            "WHERE clause");
  EXPECT_EQ(verdict.reason.find("low impact"), std::string::npos);

  // Already held: the detail is added, the decision never lowered.
  Verdict held = Decide({Make("db.drop", Severity::kCritical)});
  Raise(&held, Decision::kAllow, "drops 3 tables");
  EXPECT_EQ(held.decision, Decision::kHold);
  EXPECT_EQ(held.reason, "because db.drop (drops 3 tables)");
  Verdict untouched = Decide({bounded});
  Raise(&untouched, std::nullopt, "");
  EXPECT_EQ(untouched.decision, Decision::kAllow);

  // A "snapshot" hold raised to a hold: the caller knows more, so no
  // snapshot may stand in for the human any more.
  Verdict snapshot = Decide({Make("db.delete.unbounded", Severity::kHigh)});
  ASSERT_TRUE(snapshot.snapshot);
  Raise(&snapshot, Decision::kHold, "deletes 2,999 rows of public.orders (of 8,000)");
  EXPECT_EQ(snapshot.decision, Decision::kHold);
  EXPECT_FALSE(snapshot.snapshot);
}

TEST(DefaultPolicy, FailClosedHolds) {
  Verdict verdict = FailClosed("state unreachable");
  EXPECT_EQ(verdict.decision, Decision::kHold);
  EXPECT_EQ(verdict.reason, "state unreachable");
}

}  // namespace
}  // namespace dualkey::policy
