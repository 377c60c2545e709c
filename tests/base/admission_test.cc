#include "base/admission.h"

#include <gtest/gtest.h>

#include <vector>

namespace dualkey::base {
namespace {

TEST(Admission, TheLongestIdleConnectionMakesRoom) {
  Admission admission({/*total=*/3, /*per_address=*/3});
  std::vector<int> closed;
  std::string refusal;
  auto a = admission.Admit(
      "10.0.0.1", [&] { closed.push_back(1); }, &refusal);
  auto b = admission.Admit(
      "10.0.0.2", [&] { closed.push_back(2); }, &refusal);
  auto c = admission.Admit(
      "10.0.0.3", [&] { closed.push_back(3); }, &refusal);
  ASSERT_TRUE(a && b && c);
  a->SetIdle(false);  // serving a request
  b->SetIdle(false);
  b->SetIdle(true);  // idle again: now idle for less time than c
  auto d = admission.Admit(
      "10.0.0.4", [&] { closed.push_back(4); }, &refusal);
  ASSERT_TRUE(d);
  EXPECT_EQ(closed, std::vector<int>{3});
  EXPECT_EQ(admission.open(), 3u);
  c.reset();  // the evicted connection ends later: nothing is released twice
  EXPECT_EQ(admission.open(), 3u);
}

TEST(Admission, BusyConnectionsAreNeverClosedAndTheNewcomerIsRefused) {
  Admission admission({2, 2});
  std::string refusal;
  int closes = 0;
  auto a = admission.Admit(
      "h", [&] { ++closes; }, &refusal);
  auto b = admission.Admit(
      "h", [&] { ++closes; }, &refusal);
  a->SetIdle(false);
  b->SetIdle(false);
  EXPECT_FALSE(admission.Admit(
      "other", [] {}, &refusal));
  EXPECT_NE(refusal.find("busy"), std::string::npos);
  EXPECT_EQ(closes, 0);
  b.reset();
  EXPECT_TRUE(admission.Admit(
      "other", [] {}, &refusal));
}

TEST(Admission, ThePerAddressLimitEvictsOnlyThatAddress) {
  Admission admission({10, 2});
  std::vector<std::string> closed;
  std::string refusal;
  auto other = admission.Admit(
      "good", [&] { closed.push_back("good"); }, &refusal);
  auto f1 = admission.Admit(
      "flood", [&] { closed.push_back("f1"); }, &refusal);
  auto f2 = admission.Admit(
      "flood", [&] { closed.push_back("f2"); }, &refusal);
  auto f3 = admission.Admit(
      "flood", [&] { closed.push_back("f3"); }, &refusal);
  ASSERT_TRUE(f3);
  EXPECT_EQ(closed, std::vector<std::string>{"f1"});
  EXPECT_TRUE(admission.EvictOldestIdle());
  EXPECT_EQ(closed.back(), "good");
}

}  // namespace
}  // namespace dualkey::base
