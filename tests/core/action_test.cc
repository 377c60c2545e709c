#include "core/action.h"

#include <gtest/gtest.h>

namespace dualkey {
namespace {

TEST(Action, DecisionsAreOrderedByStrictness) {
  EXPECT_LT(Decision::kAllow, Decision::kHold);
  EXPECT_LT(Decision::kHold, Decision::kHold2);
  EXPECT_LT(Decision::kHold2, Decision::kDeny);
}

TEST(Action, ChannelNamesRoundTrip) {
  for (Channel channel : {Channel::kShell, Channel::kSql, Channel::kHttp, Channel::kMcp}) {
    Channel parsed;
    ASSERT_TRUE(ParseChannel(ToString(channel), &parsed));
    EXPECT_EQ(parsed, channel);
  }
  Channel unused;
  EXPECT_FALSE(ParseChannel("smtp", &unused));
  EXPECT_FALSE(ParseChannel("", &unused));
}

TEST(Action, DestructiveMeansMediumSeverityOpaqueOrBackupLoss) {
  Action action;
  action.op_class = "fs.write";
  action.severity = Severity::kLow;
  EXPECT_FALSE(IsDestructive(action));
  action.severity = Severity::kMedium;
  EXPECT_TRUE(IsDestructive(action));
  action = Action{};
  action.op_class = "opaque.exec";
  EXPECT_TRUE(IsDestructive(action));
  action.op_class = "backup.delete";
  EXPECT_TRUE(IsDestructive(action));
  action.op_class = "backup.create";
  EXPECT_FALSE(IsDestructive(action));
}

}  // namespace
}  // namespace dualkey
