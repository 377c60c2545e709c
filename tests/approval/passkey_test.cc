// Passkeys as a second factor inside Authorize, against a real SQLite store
// and a software authenticator with real keys: a challenge is bound to one
// action and works once; another approver's passkey, another action's
// challenge, a replay and a cloned counter are refused and counted toward
// the same lockouts as wrong TOTP codes.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "../webauthn/authenticator.h"
#include "approval/approval.h"
#include "store_testing.h"

namespace dualkey::approval {

using dualkey::testing::Ok;
using dualkey::testing::OpenOrNull;
namespace {

using dualkey::testing::SoftAuthenticator;

class PasskeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/dualkey-passkey-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    std::string error;
    store_ = OpenOrNull(dir_ + "/state.sqlite3", &error);
    ASSERT_NE(store_, nullptr) << error;
    ASSERT_TRUE(Ok(store_->AddApprover("alice", NewTotpSecret()), &error)) << error;
    ASSERT_TRUE(Ok(store_->AddApprover("bob", NewTotpSecret()), &error)) << error;
    rp_.id = "localhost";
    rp_.origin = "http://localhost:8790";
    Enrol("alice", alice_key_);
    Enrol("bob", bob_key_);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Enrol(const std::string& name, SoftAuthenticator& key) {
    const std::string challenge = PasskeyChallengeBytes("enrol", "passkey_enrol:" + name);
    Result<webauthn::Credential> credential =
        webauthn::VerifyRegistration(rp_, challenge, key.Register(challenge));
    ASSERT_TRUE(credential.ok()) << credential.status().ToString();
    std::string error;
    ASSERT_TRUE(AddPasskey(*store_, Passkey{name, *credential, "test", Now()}, &error)) << error;
  }

  static std::int64_t Now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  SecondFactor Answer(SoftAuthenticator& key, const std::string& approver,
                      const std::string& binding) {
    Result<PasskeyChallenge> challenge = IssuePasskeyChallenge(*store_, approver, binding, Now());
    EXPECT_TRUE(challenge.ok()) << challenge.status().ToString();
    SecondFactor factor;
    factor.rp = rp_;
    factor.binding = binding;
    factor.passkey = PasskeyProof{challenge->nonce, key.Assert(challenge->challenge)};
    return factor;
  }

  std::string dir_;
  std::unique_ptr<Store> store_;
  webauthn::RelyingParty rp_;
  SoftAuthenticator alice_key_{webauthn::kEs256, "alice-key"};
  SoftAuthenticator bob_key_{webauthn::kEdDsa, "bob-key"};
};

TEST_F(PasskeyTest, AnAnswerBoundToTheActionAuthorisesOnceAndNeverAgain) {
  const std::string binding = "request:ap_1\nhash-1";
  SecondFactor factor = Answer(alice_key_, "alice", binding);
  AuthResult result = Authorize(*store_, "alice", factor, "request:ap_1", Now());
  ASSERT_TRUE(result.status.ok()) << result.status.ToString();
  EXPECT_EQ(result.spend.step, -1) << "a passkey has no TOTP step to spend";
  AuthResult replay = Authorize(*store_, "alice", factor, "request:ap_1", Now());
  EXPECT_TRUE(replay.status.Is(Status::Code::kPermissionDenied)) << replay.status.ToString();
  EXPECT_TRUE(replay.counted) << "a replay counts toward the lockout";
}

TEST_F(PasskeyTest, AnotherActionsChallengeIsRefused) {
  SecondFactor factor = Answer(alice_key_, "alice", "request:ap_1\nhash-1");
  factor.binding = "request:ap_2\nhash-2";
  AuthResult result = Authorize(*store_, "alice", factor, "request:ap_2", Now());
  EXPECT_TRUE(result.status.Is(Status::Code::kPermissionDenied)) << result.status.ToString();
  EXPECT_NE(result.status.message().find("another action"), std::string::npos)
      << result.status.message();
}

TEST_F(PasskeyTest, AnotherApproversPasskeyIsRefused) {
  // Bob answers a challenge issued for alice, with his own passkey.
  SecondFactor factor = Answer(bob_key_, "alice", "request:ap_1\nhash-1");
  AuthResult result = Authorize(*store_, "alice", factor, "request:ap_1", Now());
  EXPECT_TRUE(result.status.Is(Status::Code::kPermissionDenied)) << result.status.ToString();
  // And a challenge issued for bob cannot approve as alice.
  SecondFactor bobs = Answer(bob_key_, "bob", "request:ap_1\nhash-1");
  result = Authorize(*store_, "alice", bobs, "request:ap_1", Now());
  EXPECT_TRUE(result.status.Is(Status::Code::kPermissionDenied)) << result.status.ToString();
}

TEST_F(PasskeyTest, AnotherOriginOrNoUserVerificationIsRefused) {
  const std::string binding = "breaker:claude";
  Result<PasskeyChallenge> challenge = IssuePasskeyChallenge(*store_, "alice", binding, Now());
  ASSERT_TRUE(challenge.ok());
  SoftAuthenticator::Options evil;
  evil.origin = "http://evil.example";
  SecondFactor factor;
  factor.rp = rp_;
  factor.binding = binding;
  factor.passkey = PasskeyProof{challenge->nonce, alice_key_.Assert(challenge->challenge, evil)};
  EXPECT_TRUE(Authorize(*store_, "alice", factor, binding, Now())
                  .status.Is(Status::Code::kPermissionDenied));

  challenge = IssuePasskeyChallenge(*store_, "alice", binding, Now());
  SoftAuthenticator::Options presence_only;
  presence_only.flags = 0x01;
  factor.passkey =
      PasskeyProof{challenge->nonce, alice_key_.Assert(challenge->challenge, presence_only)};
  EXPECT_TRUE(Authorize(*store_, "alice", factor, binding, Now())
                  .status.Is(Status::Code::kPermissionDenied));
}

TEST_F(PasskeyTest, AClonedAuthenticatorsCounterIsRefused) {
  SecondFactor first = Answer(alice_key_, "alice", "signin:alice");
  ASSERT_TRUE(Authorize(*store_, "alice", first, "signin:alice", Now()).status.ok());
  Result<PasskeyChallenge> challenge =
      IssuePasskeyChallenge(*store_, "alice", "signin:alice", Now());
  SecondFactor clone;
  clone.rp = rp_;
  clone.passkey = PasskeyProof{challenge->nonce, alice_key_.Assert(challenge->challenge, {}, 1)};
  AuthResult result = Authorize(*store_, "alice", clone, "signin:alice", Now());
  EXPECT_TRUE(result.status.Is(Status::Code::kPermissionDenied)) << result.status.ToString();
}

TEST_F(PasskeyTest, WrongAnswersLockOutLikeWrongCodes) {
  const std::string binding = "request:ap_9\nhash-9";
  AuthResult last;
  for (int i = 0; i < 6; ++i) {
    SecondFactor factor = Answer(alice_key_, "alice", binding);
    factor.passkey->assertion.signature[10] ^= 1;
    last = Authorize(*store_, "alice", factor, "request:ap_9", Now());
    ASSERT_FALSE(last.status.ok());
  }
  EXPECT_TRUE(last.locked || last.locked_until_ms > 0) << last.status.ToString();
  // Even a right answer waits out the lockout.
  AuthResult right =
      Authorize(*store_, "alice", Answer(alice_key_, "alice", binding), "request:ap_9", Now());
  EXPECT_FALSE(right.status.ok());
}

TEST_F(PasskeyTest, RemovingAnApproverTakesTheirPasskeysAlong) {
  std::vector<Passkey> keys;
  std::string error;
  ASSERT_TRUE(Passkeys(*store_, "bob", &keys, &error));
  ASSERT_EQ(keys.size(), 1u);
  ASSERT_TRUE(Ok(store_->RemoveApprover("bob", nullptr), &error)) << error;
  ASSERT_TRUE(Passkeys(*store_, "bob", &keys, &error));
  EXPECT_TRUE(keys.empty());
}

TEST_F(PasskeyTest, ChallengesAreBoundedPerApprover) {
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(IssuePasskeyChallenge(*store_, "alice", "signin:alice", Now()).ok());
  std::vector<Item> waiting;
  std::string error;
  ASSERT_TRUE(Ok(store_->ListItems("challenge", "alice", Now(), &waiting), &error));
  EXPECT_LE(waiting.size(), 32u);
}

}  // namespace
}  // namespace dualkey::approval
