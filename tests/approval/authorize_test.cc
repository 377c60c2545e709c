// Authorize, the one place a human's TOTP code is checked: lockouts before
// the code is looked at, the attempt counted first, right codes forgiven,
// used codes refused; against a real SQLite store.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "approval/approval.h"
#include "store_testing.h"

namespace dualkey::approval {

using dualkey::testing::Ok;
using dualkey::testing::OpenOrNull;
namespace {

constexpr std::int64_t kNow = 1'700'000'000'000;

class AuthorizeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/dualkey-authorize-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    std::string error;
    store_ = OpenOrNull(dir_ + "/state.sqlite3", &error);
    ASSERT_NE(store_, nullptr) << error;
    secret_ = NewTotpSecret();
    ASSERT_TRUE(Ok(store_->AddApprover("alice", secret_), &error)) << error;
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string Code(std::int64_t ms) const { return TotpCode(secret_, ms / 1000); }
  std::string Wrong(std::int64_t ms) const {
    std::string code = Code(ms);
    code[0] = code[0] == '9' ? '0' : static_cast<char>(code[0] + 1);
    return code;
  }

  std::string dir_;
  std::unique_ptr<Store> store_;
  std::string secret_;
};

TEST_F(AuthorizeTest, ARightCodeIsAcceptedNotSpentAndForgiven) {
  AuthResult result = Authorize(*store_, "alice", Code(kNow), "request:ap_1", kNow);
  ASSERT_TRUE(result.status.ok()) << result.status.ToString();
  EXPECT_EQ(result.spend.approver, "alice");
  EXPECT_EQ(result.spend.step, kNow / 1000 / 30);
  EXPECT_FALSE(result.counted);
  std::vector<Lockout> rows;
  std::string error;
  ASSERT_TRUE(Ok(store_->Lockouts(kNow, LockoutPolicy{}, &rows), &error));
  EXPECT_TRUE(rows.empty()) << "a right code leaves no failure behind";
  // Not spent: it is the caller's to spend with the effect.
  EXPECT_TRUE(Authorize(*store_, "alice", Code(kNow), "request:ap_1", kNow).status.ok());
  ASSERT_TRUE(Ok(store_->UseTotpStep("alice", result.spend.step), &error));
  AuthResult reused = Authorize(*store_, "alice", Code(kNow), "request:ap_1", kNow);
  EXPECT_TRUE(reused.status.Is(Status::Code::kFailedPrecondition)) << reused.status.ToString();
  EXPECT_TRUE(reused.counted) << "a replayed code counts as a failure";
}

TEST_F(AuthorizeTest, WrongCodesLockTheApproverAndTheSubjectThenEvenTheRightCodeWaits) {
  for (int i = 1; i <= 5; ++i) {
    AuthResult result = Authorize(*store_, "alice", Wrong(kNow), "request:ap_1", kNow + i);
    EXPECT_TRUE(result.status.Is(Status::Code::kPermissionDenied)) << result.status.ToString();
    EXPECT_TRUE(result.counted);
    EXPECT_EQ(result.failures, i);
  }
  AuthResult locked = Authorize(*store_, "alice", Code(kNow), "request:ap_1", kNow + 10);
  EXPECT_TRUE(locked.status.Is(Status::Code::kResourceExhausted)) << locked.status.ToString();
  EXPECT_TRUE(locked.locked);
  EXPECT_FALSE(locked.counted);
  EXPECT_EQ(locked.locked_until_ms, kNow + 5 + 30'000);
  EXPECT_NE(locked.status.message().find("not checked"), std::string::npos);
  // The approver is locked for every subject, not just this one.
  EXPECT_TRUE(Authorize(*store_, "alice", Code(kNow), "breaker:claude", kNow + 10).locked);
  // Once the lockout ends, the right code works again.
  const std::int64_t later = kNow + 31'000;
  EXPECT_TRUE(Authorize(*store_, "alice", Code(later), "request:ap_1", later).status.ok());
}

TEST_F(AuthorizeTest, UnknownApproversCountAgainstTheSubject) {
  for (int i = 1; i <= 5; ++i) {
    AuthResult result = Authorize(*store_, "mallory", "123456", "request:ap_2", kNow);
    EXPECT_TRUE(result.status.Is(Status::Code::kPermissionDenied));
    EXPECT_TRUE(result.counted);
  }
  // The held action is locked for everyone now, alice included.
  EXPECT_TRUE(Authorize(*store_, "alice", Code(kNow), "request:ap_2", kNow).locked);
  EXPECT_TRUE(Authorize(*store_, "alice", Code(kNow), "request:ap_3", kNow).status.ok());
}

TEST_F(AuthorizeTest, MalformedCodesAreFailuresAndNamesAreNeeded) {
  EXPECT_TRUE(Authorize(*store_, "", Code(kNow), "request:ap_1", kNow)
                  .status.Is(Status::Code::kInvalidArgument));
  for (const char* code : {"", "12345", "1234567", "abcdef", "12 456"}) {
    AuthResult result = Authorize(*store_, "alice", code, "request:ap_9", kNow);
    EXPECT_TRUE(result.status.Is(Status::Code::kPermissionDenied)) << code;
    EXPECT_TRUE(result.counted) << code;
  }
}

TEST_F(AuthorizeTest, AnAttemptThatCannotBeCountedIsNotChecked) {
  // A store that cannot be written (here: read-only) never checks the code,
  // so a full disk cannot lift the limit.
  std::string error;
  store_.reset();
  std::filesystem::permissions(dir_ + "/state.sqlite3", std::filesystem::perms::owner_read);
  auto read_only = OpenOrNull("file:" + dir_ + "/state.sqlite3?mode=ro", &error);
  if (read_only == nullptr) GTEST_SKIP() << "cannot open the store read-only: " << error;
  AuthResult result = Authorize(*read_only, "alice", Code(kNow), "request:ap_1", kNow);
  EXPECT_TRUE(result.status.Is(Status::Code::kUnavailable)) << result.status.ToString();
  EXPECT_NE(result.status.message().find("not checked"), std::string::npos);
}

}  // namespace
}  // namespace dualkey::approval
