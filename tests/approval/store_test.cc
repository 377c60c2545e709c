// One suite, both backends: every rule of the approval store is checked
// against SQLite and against a real PostgreSQL server.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "approval/approval.h"
#include "pg_harness.h"
#include "store_testing.h"

namespace dualkey::approval {

using dualkey::testing::Ok;
using dualkey::testing::OpenOrNull;
namespace {

using dualkey::testing::PgHarness;

constexpr std::int64_t kNow = 1'700'000'000'000;
constexpr std::int64_t kMinute = 60'000;

// One server per test process (ctest runs each test in its own process).
PgHarness& Postgres() {
  static PgHarness* harness = new PgHarness();
  static const bool registered = [] {
    std::atexit([] { delete harness; });
    return true;
  }();
  (void)registered;
  return *harness;
}

enum class Backend { kSqlite, kPostgres };

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kSqlite) {
      char pattern[] = "/tmp/dualkey-store-XXXXXX";
      ASSERT_NE(mkdtemp(pattern), nullptr);
      dir_ = pattern;
      location_ = dir_ + "/approvals.db";
    } else {
      PgHarness& pg = Postgres();
      if (!pg.ok() && pg.binaries_missing()) GTEST_SKIP() << pg.error();
      ASSERT_TRUE(pg.ok()) << pg.error();
      static int counter = 0;
      location_ = pg.CreateDatabase("approvals_" + std::to_string(getpid()) + "_" +
                                    std::to_string(++counter));
      ASSERT_FALSE(location_.empty()) << pg.error();
    }
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }

  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<Store> Open() {
    std::string error;
    auto store = OpenOrNull(location_, &error);
    EXPECT_NE(store, nullptr) << error;
    return store;
  }

  static Request Held(const std::string& input, int approvals_needed = 1,
                      std::int64_t created = kNow, std::int64_t ttl = 15 * kMinute) {
    Request request;
    request.agent = "claude";
    request.channel = "shell";
    request.input = input;
    request.cwd = "/home/dev/app";
    request.reason = "fs.delete.recursive";
    request.action_hash = ActionHash(request.channel, input, request.cwd, request.agent);
    request.approvals_needed = approvals_needed;
    request.created_ms = created;
    request.expires_ms = created + ttl;
    return request;
  }

  Request MustHold(const Request& request) {
    Request out;
    std::string error;
    EXPECT_TRUE(Ok(store_->Hold(request, &out), &error)) << error;
    return out;
  }

  std::string dir_;
  std::string location_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreTest, HoldCreatesAPendingRequestWithIdAndCode) {
  const Request held = MustHold(Held("rm -rf build"));
  ASSERT_EQ(held.id.size(), 13u);
  EXPECT_EQ(held.id.substr(0, 3), "ap_");
  ASSERT_EQ(held.code.size(), 7u);
  EXPECT_EQ(held.code[3], '-');
  EXPECT_EQ(held.state, State::kPending);
  EXPECT_EQ(held.expires_ms, kNow + 15 * kMinute);
  Request fetched;
  std::string error;
  ASSERT_TRUE(Ok(store_->Get(held.id, &fetched), &error)) << error;
  EXPECT_EQ(fetched.input, "rm -rf build");
  EXPECT_EQ(fetched.cwd, "/home/dev/app");
  EXPECT_EQ(fetched.agent, "claude");
  EXPECT_EQ(fetched.channel, "shell");
  EXPECT_EQ(fetched.reason, "fs.delete.recursive");
  EXPECT_EQ(fetched.action_hash, held.action_hash);
  EXPECT_EQ(fetched.code, held.code);
  EXPECT_EQ(fetched.created_ms, kNow);
}

TEST_P(StoreTest, HoldWithoutTimesUsesTheClockAndDefaultTtl) {
  Request request = Held("rm -rf build");
  request.created_ms = 0;
  request.expires_ms = 0;
  const Request held = MustHold(request);
  EXPECT_GT(held.created_ms, kNow);
  EXPECT_EQ(held.expires_ms - held.created_ms, 15 * kMinute);
}

TEST_P(StoreTest, HoldReturnsTheExistingLiveRequestForTheSameAction) {
  const Request first = MustHold(Held("rm -rf build"));
  const Request again = MustHold(Held("rm -rf build", 1, kNow + kMinute));
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(again.code, first.code);
  const Request other = MustHold(Held("rm -rf build2"));
  EXPECT_NE(other.id, first.id);
  EXPECT_NE(other.code, first.code);
  std::vector<Request> pending;
  std::string error;
  ASSERT_TRUE(Ok(store_->Pending(kNow + kMinute, &pending), &error)) << error;
  EXPECT_EQ(pending.size(), 2u);
}

TEST_P(StoreTest, HoldAfterTheOldRequestExpiredCreatesANewOne) {
  const Request first = MustHold(Held("rm -rf build"));
  const Request later = MustHold(Held("rm -rf build", 1, kNow + 16 * kMinute));
  EXPECT_NE(later.id, first.id);
}

TEST_P(StoreTest, ApprovedActionPassesExactlyOnce) {
  const Request held = MustHold(Held("rm -rf build"));
  std::string error;
  Request approved;
  ASSERT_TRUE(Ok(store_->Approve(held.id, "alice", kNow + 1000, &approved), &error)) << error;
  EXPECT_EQ(approved.state, State::kApproved);
  EXPECT_EQ(approved.approvers, std::vector<std::string>{"alice"});
  Request consumed;
  ASSERT_TRUE(Ok(store_->ConsumeApproval(held.action_hash, kNow + 2000, &consumed), &error))
      << error;
  EXPECT_EQ(consumed.id, held.id);
  EXPECT_EQ(consumed.state, State::kConsumed);
  EXPECT_FALSE(Ok(store_->ConsumeApproval(held.action_hash, kNow + 3000, &consumed), &error));
  Request fetched;
  ASSERT_TRUE(Ok(store_->Get(held.id, &fetched), &error)) << error;
  EXPECT_EQ(fetched.state, State::kConsumed);
  // A consumed approval cannot be approved again either.
  EXPECT_FALSE(Ok(store_->Approve(held.id, "bob", kNow + 4000, nullptr), &error));
}

// Callers branch on the code, never on the message: "no approval" is
// kNotFound, a refused transition kFailedPrecondition, bad input
// kInvalidArgument.
TEST_P(StoreTest, ErrorsCarryCodes) {
  const Request held = MustHold(Held("rm -rf codes"));
  Request out;
  EXPECT_TRUE(
      store_->ConsumeApproval(held.action_hash, kNow + 1000, &out).Is(Status::Code::kNotFound));
  EXPECT_TRUE(store_->Get("ap_nosuchthing", &out).Is(Status::Code::kNotFound));
  EXPECT_TRUE(store_->ApproverSecret("nobody-here", nullptr).Is(Status::Code::kNotFound));
  EXPECT_TRUE(store_->Approve(held.id, "", kNow + 1000, &out).Is(Status::Code::kInvalidArgument));
  ASSERT_TRUE(store_->Approve(held.id, "alice", kNow + 1000, &out).ok());
  EXPECT_TRUE(
      store_->Approve(held.id, "alice", kNow + 2000, &out).Is(Status::Code::kFailedPrecondition));
  EXPECT_TRUE(store_->ReleaseConsumption(held.id).Is(Status::Code::kFailedPrecondition));
  ASSERT_TRUE(store_->ConsumeApproval(held.action_hash, kNow + 3000, &out).ok());
  EXPECT_TRUE(
      store_->ConsumeApproval(held.action_hash, kNow + 4000, &out).Is(Status::Code::kNotFound));
  EXPECT_TRUE(store_->AddApprover("carol", "not base32!").Is(Status::Code::kInvalidArgument));
  ASSERT_TRUE(store_->AddApprover("carol", NewTotpSecret()).ok());
  EXPECT_TRUE(store_->AddApprover("carol", NewTotpSecret()).Is(Status::Code::kFailedPrecondition));
  ASSERT_TRUE(store_->UseTotpStep("carol", 100).ok());
  EXPECT_TRUE(store_->UseTotpStep("carol", 100).Is(Status::Code::kFailedPrecondition));
  EXPECT_TRUE(store_->UseTotpStep("nobody-here", 100).Is(Status::Code::kNotFound));
  Item item{"test", "k", "", "v", 0, 0};
  ASSERT_TRUE(store_->PutItem(item, false, kNow).ok());
  EXPECT_TRUE(store_->PutItem(item, false, kNow).Is(Status::Code::kFailedPrecondition));
}

TEST_P(StoreTest, PendingRequestDoesNotConsume) {
  const Request held = MustHold(Held("rm -rf build"));
  std::string error;
  EXPECT_FALSE(Ok(store_->ConsumeApproval(held.action_hash, kNow + 1000, nullptr), &error));
  EXPECT_FALSE(error.empty());
}

TEST_P(StoreTest, AnotherActionDoesNotConsumeTheApproval) {
  const Request held = MustHold(Held("rm -rf build"));
  std::string error;
  ASSERT_TRUE(Ok(store_->Approve(held.code, "alice", kNow + 1000, nullptr), &error)) << error;
  for (const std::string& other : {ActionHash("shell", "rm -rf build ", "/home/dev/app", "claude"),
                                   ActionHash("shell", "rm -rf build", "/home/dev", "claude"),
                                   ActionHash("shell", "rm -rf build", "/home/dev/app", "codex"),
                                   ActionHash("sql", "rm -rf build", "/home/dev/app", "claude")}) {
    EXPECT_FALSE(Ok(store_->ConsumeApproval(other, kNow + 2000, nullptr), &error));
  }
  // The approval is still there for the exact action.
  EXPECT_TRUE(Ok(store_->ConsumeApproval(held.action_hash, kNow + 2000, nullptr), &error)) << error;
}

TEST_P(StoreTest, ExpiredApprovalDoesNotConsumeAndExpireReportsIt) {
  const Request held = MustHold(Held("rm -rf build", 1, kNow, 5 * kMinute));
  const Request other = MustHold(Held("rm -rf dist", 1, kNow, 30 * kMinute));
  std::string error;
  ASSERT_TRUE(Ok(store_->Approve(held.id, "alice", kNow + kMinute, nullptr), &error)) << error;
  const std::int64_t late = kNow + 5 * kMinute;  // exactly at expiry: no longer valid
  EXPECT_FALSE(Ok(store_->ConsumeApproval(held.action_hash, late, nullptr), &error));
  std::vector<Request> expired;
  ASSERT_TRUE(Ok(store_->Expire(late, &expired), &error)) << error;
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].id, held.id);
  EXPECT_EQ(expired[0].state, State::kExpired);
  // Reported once.
  ASSERT_TRUE(Ok(store_->Expire(late, &expired), &error)) << error;
  EXPECT_TRUE(expired.empty());
  Request fetched;
  ASSERT_TRUE(Ok(store_->Get(other.id, &fetched), &error)) << error;
  EXPECT_EQ(fetched.state, State::kPending);
  ASSERT_TRUE(Ok(store_->Get(held.id, &fetched), &error)) << error;
  EXPECT_EQ(fetched.state, State::kExpired);
}

TEST_P(StoreTest, ApprovingAnExpiredRequestFailsAndMarksIt) {
  const Request held = MustHold(Held("rm -rf build", 1, kNow, kMinute));
  std::string error;
  Request out;
  EXPECT_FALSE(Ok(store_->Approve(held.id, "alice", kNow + 2 * kMinute, &out), &error));
  EXPECT_NE(error.find("expired"), std::string::npos) << error;
  Request fetched;
  ASSERT_TRUE(Ok(store_->Get(held.id, &fetched), &error)) << error;
  EXPECT_EQ(fetched.state, State::kExpired);
  EXPECT_FALSE(Ok(store_->ConsumeApproval(held.action_hash, kNow + 30'000, nullptr), &error));
}

TEST_P(StoreTest, Hold2NeedsTwoDistinctApprovers) {
  const Request held = MustHold(Held("DROP TABLE users", 2));
  std::string error;
  Request out;
  ASSERT_TRUE(Ok(store_->Approve(held.id, "alice", kNow + 1000, &out), &error)) << error;
  EXPECT_EQ(out.state, State::kPending);
  EXPECT_FALSE(Ok(store_->ConsumeApproval(held.action_hash, kNow + 1500, nullptr), &error));
  // The same approver twice does not count as two.
  EXPECT_FALSE(Ok(store_->Approve(held.code, "alice", kNow + 2000, &out), &error));
  EXPECT_NE(error.find("different approver"), std::string::npos) << error;
  EXPECT_FALSE(Ok(store_->ConsumeApproval(held.action_hash, kNow + 2500, nullptr), &error));
  ASSERT_TRUE(Ok(store_->Approve(held.id, "bob", kNow + 3000, &out), &error)) << error;
  EXPECT_EQ(out.state, State::kApproved);
  EXPECT_EQ(out.approvers, (std::vector<std::string>{"alice", "bob"}));
  EXPECT_TRUE(Ok(store_->ConsumeApproval(held.action_hash, kNow + 4000, nullptr), &error)) << error;
  EXPECT_FALSE(Ok(store_->ConsumeApproval(held.action_hash, kNow + 5000, nullptr), &error));
}

TEST_P(StoreTest, ApproveByCodeIgnoresCaseAndDash) {
  const Request held = MustHold(Held("rm -rf build"));
  std::string lower;
  for (char c : held.code) {
    if (c != '-') lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  std::string error;
  Request out;
  ASSERT_TRUE(Ok(store_->Approve(" " + lower + "\n", "alice", kNow + 1000, &out), &error)) << error;
  EXPECT_EQ(out.id, held.id);
  ASSERT_TRUE(Ok(store_->Get("AP_" + held.id.substr(3), &out), &error)) << error;
  EXPECT_EQ(out.id, held.id);
}

TEST_P(StoreTest, ApproveUnknownRequestOrBadNameFails) {
  std::string error;
  EXPECT_FALSE(Ok(store_->Approve("ap_doesnotexis", "alice", kNow, nullptr), &error));
  EXPECT_FALSE(error.empty());
  EXPECT_FALSE(Ok(store_->Get("ZZZ-ZZZ", nullptr), &error));
  const Request held = MustHold(Held("rm -rf build"));
  EXPECT_FALSE(Ok(store_->Approve(held.id, "", kNow, nullptr), &error));
  EXPECT_FALSE(Ok(store_->Approve(held.id, "eve\nalice", kNow, nullptr), &error));
  Request fetched;
  ASSERT_TRUE(Ok(store_->Get(held.id, &fetched), &error)) << error;
  EXPECT_TRUE(fetched.approvers.empty());
}

TEST_P(StoreTest, DenyEndsTheRequest) {
  const Request held = MustHold(Held("rm -rf build"));
  std::string error;
  Request out;
  ASSERT_TRUE(Ok(store_->Deny(held.code, "alice", "not today", kNow + 1000, &out), &error))
      << error;
  EXPECT_EQ(out.state, State::kDenied);
  EXPECT_EQ(out.denied_by, "alice");
  EXPECT_EQ(out.deny_reason, "not today");
  EXPECT_FALSE(Ok(store_->Approve(held.id, "bob", kNow + 2000, nullptr), &error));
  EXPECT_NE(error.find("denied"), std::string::npos) << error;
  EXPECT_FALSE(Ok(store_->ConsumeApproval(held.action_hash, kNow + 3000, nullptr), &error));
  EXPECT_FALSE(Ok(store_->Deny(held.id, "bob", "twice", kNow + 4000, nullptr), &error));
  Request fetched;
  ASSERT_TRUE(Ok(store_->Get(held.id, &fetched), &error)) << error;
  EXPECT_EQ(fetched.state, State::kDenied);
  EXPECT_EQ(fetched.deny_reason, "not today");
  // A denied action held again is a new request, not an approval.
  const Request again = MustHold(Held("rm -rf build", 1, kNow + 5000));
  EXPECT_NE(again.id, held.id);
  EXPECT_EQ(again.state, State::kPending);
}

TEST_P(StoreTest, DenyRevokesAnUnusedApproval) {
  const Request held = MustHold(Held("rm -rf build"));
  std::string error;
  ASSERT_TRUE(Ok(store_->Approve(held.id, "alice", kNow + 1000, nullptr), &error)) << error;
  ASSERT_TRUE(Ok(store_->Deny(held.id, "bob", "changed my mind", kNow + 2000, nullptr), &error))
      << error;
  EXPECT_FALSE(Ok(store_->ConsumeApproval(held.action_hash, kNow + 3000, nullptr), &error));
}

TEST_P(StoreTest, PendingListsLiveUndecidedRequestsOldestFirst) {
  const Request a = MustHold(Held("rm -rf a", 1, kNow + 2));
  const Request b = MustHold(Held("rm -rf b", 1, kNow + 1));
  const Request c = MustHold(Held("rm -rf c", 1, kNow + 3));
  const Request d = MustHold(Held("rm -rf d", 1, kNow, kMinute));
  std::string error;
  ASSERT_TRUE(Ok(store_->Approve(c.id, "alice", kNow + 10, nullptr), &error)) << error;
  std::vector<Request> pending;
  ASSERT_TRUE(Ok(store_->Pending(kNow + 2 * kMinute, &pending), &error)) << error;
  ASSERT_EQ(pending.size(), 2u);  // c approved, d expired
  EXPECT_EQ(pending[0].id, b.id);
  EXPECT_EQ(pending[1].id, a.id);
}

TEST_P(StoreTest, UnusualBytesAreStoredDisplaySafe) {
  // PostgreSQL text holds neither NUL nor invalid UTF-8; both backends
  // store the same visible escape, and the hash still covers the raw bytes.
  const std::string raw = std::string("rm -rf a\0b \xff ", 13) + "caf\xc3\xa9";
  const Request held = MustHold(Held(raw));
  Request fetched;
  std::string error;
  ASSERT_TRUE(Ok(store_->Get(held.id, &fetched), &error)) << error;
  EXPECT_EQ(fetched.input, "rm -rf a\\x00b \\xff caf\xc3\xa9");
  EXPECT_EQ(fetched.action_hash, ActionHash("shell", raw, "/home/dev/app", "claude"));
}

TEST_P(StoreTest, ApproversAndTheirSecrets) {
  std::string error;
  const std::string alice = NewTotpSecret();
  ASSERT_TRUE(Ok(store_->AddApprover("alice", alice), &error)) << error;
  ASSERT_TRUE(Ok(store_->AddApprover("bob", NewTotpSecret()), &error)) << error;
  EXPECT_FALSE(Ok(store_->AddApprover("alice", NewTotpSecret()), &error));
  EXPECT_NE(error.find("exists"), std::string::npos) << error;
  EXPECT_FALSE(Ok(store_->AddApprover("carol", "not base32!"), &error));
  EXPECT_FALSE(Ok(store_->AddApprover("carol", "ABCD"), &error));  // too short
  EXPECT_FALSE(Ok(store_->AddApprover("", NewTotpSecret()), &error));
  std::string secret;
  ASSERT_TRUE(Ok(store_->ApproverSecret("alice", &secret), &error)) << error;
  EXPECT_EQ(secret, alice);
  EXPECT_FALSE(Ok(store_->ApproverSecret("carol", &secret), &error));
  std::vector<std::string> names;
  ASSERT_TRUE(Ok(store_->Approvers(&names), &error)) << error;
  EXPECT_EQ(names, (std::vector<std::string>{"alice", "bob"}));
}

TEST_P(StoreTest, ATotpStepWorksOnce) {
  std::string error;
  ASSERT_TRUE(Ok(store_->AddApprover("alice", NewTotpSecret()), &error)) << error;
  ASSERT_TRUE(Ok(store_->AddApprover("bob", NewTotpSecret()), &error)) << error;
  EXPECT_TRUE(Ok(store_->UseTotpStep("alice", 56666666), &error)) << error;
  EXPECT_FALSE(Ok(store_->UseTotpStep("alice", 56666666), &error));
  EXPECT_NE(error.find("already used"), std::string::npos) << error;
  EXPECT_FALSE(Ok(store_->UseTotpStep("alice", 56666665), &error));        // an older code
  EXPECT_TRUE(Ok(store_->UseTotpStep("bob", 56666666), &error)) << error;  // per approver
  EXPECT_TRUE(Ok(store_->UseTotpStep("alice", 56666667), &error)) << error;
  EXPECT_FALSE(Ok(store_->UseTotpStep("mallory", 56666668), &error));
  EXPECT_NE(error.find("no approver"), std::string::npos) << error;
}

TEST_P(StoreTest, FrozenAgentsStayFrozenAcrossReopen) {
  std::string error;
  bool frozen = true;
  ASSERT_TRUE(Ok(store_->IsFrozen("claude", &frozen), &error)) << error;
  EXPECT_FALSE(frozen);
  ASSERT_TRUE(Ok(store_->SetFrozen("claude", true, "3 destructive holds in 60 s"), &error))
      << error;
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  ASSERT_TRUE(Ok(store_->IsFrozen("claude", &frozen), &error)) << error;
  EXPECT_TRUE(frozen);
  ASSERT_TRUE(Ok(store_->IsFrozen("codex", &frozen), &error)) << error;
  EXPECT_FALSE(frozen);
  ASSERT_TRUE(Ok(store_->SetFrozen("claude", false, "reset by alice"), &error)) << error;
  store_ = Open();
  ASSERT_TRUE(Ok(store_->IsFrozen("claude", &frozen), &error)) << error;
  EXPECT_FALSE(frozen);
}

TEST_P(StoreTest, EverythingSurvivesReopen) {
  std::string error;
  const Request held = MustHold(Held("rm -rf build"));
  const Request waiting = MustHold(Held("DROP TABLE users", 2));
  ASSERT_TRUE(Ok(store_->Approve(held.id, "alice", kNow + 1000, nullptr), &error)) << error;
  ASSERT_TRUE(Ok(store_->Approve(waiting.id, "alice", kNow + 1000, nullptr), &error)) << error;
  ASSERT_TRUE(Ok(store_->AddApprover("alice", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"), &error))
      << error;
  ASSERT_TRUE(Ok(store_->UseTotpStep("alice", 100), &error)) << error;
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  EXPECT_TRUE(Ok(store_->ConsumeApproval(held.action_hash, kNow + 2000, nullptr), &error)) << error;
  Request fetched;
  ASSERT_TRUE(Ok(store_->Get(waiting.code, &fetched), &error)) << error;
  EXPECT_EQ(fetched.approvers, std::vector<std::string>{"alice"});
  EXPECT_EQ(fetched.approvals_needed, 2);
  EXPECT_FALSE(Ok(store_->UseTotpStep("alice", 100), &error));
  std::string secret;
  ASSERT_TRUE(Ok(store_->ApproverSecret("alice", &secret), &error)) << error;
  EXPECT_EQ(secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
  store_ = Open();
  EXPECT_FALSE(Ok(store_->ConsumeApproval(held.action_hash, kNow + 3000, nullptr), &error));
}

// Two daemons on one store: each round, one approval and two threads (one
// per Store instance) racing to consume it many times. Exactly one wins.
TEST_P(StoreTest, TwoDaemonsConsumeOneApprovalExactlyOnce) {
  std::unique_ptr<Store> second = Open();
  ASSERT_NE(second, nullptr);
  constexpr int kRounds = 20;
  constexpr int kAttempts = 25;
  for (int round = 0; round < kRounds; ++round) {
    const Request held = MustHold(Held("rm -rf build" + std::to_string(round)));
    std::string error;
    ASSERT_TRUE(Ok(second->Approve(held.id, "alice", kNow + 1, nullptr), &error)) << error;
    std::atomic<int> ready{0};
    std::atomic<int> wins{0};
    std::atomic<int> errors{0};
    auto race = [&](Store* store) {
      ready.fetch_add(1);
      while (ready.load() < 2) {
      }
      for (int attempt = 0; attempt < kAttempts; ++attempt) {
        std::string why;
        Request out;
        if (Ok(store->ConsumeApproval(held.action_hash, kNow + 2, &out), &why)) {
          wins.fetch_add(out.id == held.id ? 1 : 100);
        } else if (why != "no approval for this action") {
          errors.fetch_add(1);
        }
      }
    };
    std::thread a(race, store_.get());
    std::thread b(race, second.get());
    a.join();
    b.join();
    ASSERT_EQ(wins.load(), 1) << "round " << round;
    EXPECT_EQ(errors.load(), 0) << "round " << round;
  }
}

TEST_P(StoreTest, TwoDaemonsApprovingHold2ConcurrentlyLoseNoApprover) {
  std::unique_ptr<Store> second = Open();
  ASSERT_NE(second, nullptr);
  for (int round = 0; round < 10; ++round) {
    const Request held = MustHold(Held("DROP TABLE t" + std::to_string(round), 2));
    std::atomic<int> ready{0};
    std::atomic<int> ok{0};
    auto approve = [&](Store* store, const char* who) {
      ready.fetch_add(1);
      while (ready.load() < 2) {
      }
      std::string error;
      if (Ok(store->Approve(held.id, who, kNow + 1, nullptr), &error)) ok.fetch_add(1);
    };
    std::thread a(approve, store_.get(), "alice");
    std::thread b(approve, second.get(), "bob");
    a.join();
    b.join();
    EXPECT_EQ(ok.load(), 2);
    Request fetched;
    std::string error;
    ASSERT_TRUE(Ok(store_->Get(held.id, &fetched), &error)) << error;
    EXPECT_EQ(fetched.state, State::kApproved) << "round " << round;
    EXPECT_EQ(fetched.approvers.size(), 2u) << "round " << round;
  }
}

TEST_P(StoreTest, TwoDaemonsHoldingTheSameActionAgreeOnOneRequest) {
  std::unique_ptr<Store> second = Open();
  ASSERT_NE(second, nullptr);
  for (int round = 0; round < 10; ++round) {
    const Request request = Held("rm -rf same" + std::to_string(round));
    std::atomic<int> ready{0};
    Request first_out;
    Request second_out;
    auto hold = [&](Store* store, Request* out) {
      ready.fetch_add(1);
      while (ready.load() < 2) {
      }
      std::string error;
      EXPECT_TRUE(Ok(store->Hold(request, out), &error)) << error;
    };
    std::thread a(hold, store_.get(), &first_out);
    std::thread b(hold, second.get(), &second_out);
    a.join();
    b.join();
    EXPECT_EQ(first_out.id, second_out.id) << "round " << round;
  }
}

TEST_P(StoreTest, TwoDaemonsAcceptOneTotpStepOnce) {
  std::string error;
  ASSERT_TRUE(Ok(store_->AddApprover("alice", NewTotpSecret()), &error)) << error;
  std::unique_ptr<Store> second = Open();
  ASSERT_NE(second, nullptr);
  for (std::int64_t step = 1000; step < 1010; ++step) {
    std::atomic<int> ready{0};
    std::atomic<int> ok{0};
    auto use = [&](Store* store) {
      ready.fetch_add(1);
      while (ready.load() < 2) {
      }
      std::string why;
      if (Ok(store->UseTotpStep("alice", step), &why)) ok.fetch_add(1);
    };
    std::thread a(use, store_.get());
    std::thread b(use, second.get());
    a.join();
    b.join();
    EXPECT_EQ(ok.load(), 1) << "step " << step;
  }
}

// ---- Second factors: lockouts, spending with the effect ----------------------

TEST_P(StoreTest, FailuresLockAScopeAfterAHandfulAndTheLockoutGrows) {
  std::string error;
  LockoutPolicy policy;
  std::vector<Lockout> before, after;
  bool locked = false;
  std::int64_t now = kNow;
  for (int i = 1; i <= policy.free_failures; ++i) {
    ASSERT_TRUE(Ok(store_->BeginAuthAttempt({"approver:alice", "request:ap_1"}, now, policy,
                                            &locked, &before, &after),
                   &error))
        << error;
    EXPECT_FALSE(locked) << "attempt " << i;
    ASSERT_EQ(after.size(), 2u);
    EXPECT_EQ(after[0].failures, i);
  }
  // The fifth failure locked both scopes for 30 s: refused unseen, not counted.
  EXPECT_EQ(after[0].locked_until_ms, now + 30'000);
  ASSERT_TRUE(Ok(
      store_->BeginAuthAttempt({"approver:alice"}, now + 29'000, policy, &locked, &before, &after),
      &error));
  EXPECT_TRUE(locked);
  EXPECT_EQ(after[0].failures, policy.free_failures);
  // After it, one more failure locks for twice as long, and so on.
  ASSERT_TRUE(Ok(
      store_->BeginAuthAttempt({"approver:alice"}, now + 30'000, policy, &locked, &before, &after),
      &error));
  EXPECT_FALSE(locked);
  EXPECT_EQ(after[0].locked_until_ms, now + 30'000 + 60'000);
  // Another scope is untouched; the list shows both that failed.
  ASSERT_TRUE(Ok(store_->BeginAuthAttempt({"approver:bob"}, now, policy, &locked, &before, &after),
                 &error));
  EXPECT_FALSE(locked);
  std::vector<Lockout> rows;
  ASSERT_TRUE(Ok(store_->Lockouts(now + 31'000, policy, &rows), &error)) << error;
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].scope, "approver:alice");
  EXPECT_EQ(rows[0].failures, policy.free_failures + 1);
  // A day without failures starts over.
  ASSERT_TRUE(Ok(store_->BeginAuthAttempt({"approver:alice"}, now + 2 * policy.forget_after_ms,
                                          policy, &locked, &before, &after),
                 &error));
  EXPECT_FALSE(locked);
  EXPECT_EQ(after[0].failures, 1);
}

TEST_P(StoreTest, ForgivingARightCodeRestoresTheCountUnlessItMovedOn) {
  std::string error;
  LockoutPolicy policy;
  std::vector<Lockout> before, after, before2, after2;
  bool locked = false;
  ASSERT_TRUE(
      Ok(store_->BeginAuthAttempt({"approver:alice"}, kNow, policy, &locked, &before, &after),
         &error));
  ASSERT_TRUE(Ok(store_->ForgiveAuthAttempt(before, after), &error)) << error;
  std::vector<Lockout> rows;
  ASSERT_TRUE(Ok(store_->Lockouts(kNow, policy, &rows), &error));
  EXPECT_TRUE(rows.empty()) << rows.size();
  // Two attempts at once: forgiving the first must not erase the second.
  ASSERT_TRUE(
      Ok(store_->BeginAuthAttempt({"approver:alice"}, kNow, policy, &locked, &before, &after),
         &error));
  ASSERT_TRUE(
      Ok(store_->BeginAuthAttempt({"approver:alice"}, kNow + 1, policy, &locked, &before2, &after2),
         &error));
  ASSERT_TRUE(Ok(store_->ForgiveAuthAttempt(before, after), &error)) << error;
  ASSERT_TRUE(Ok(store_->Lockouts(kNow + 1, policy, &rows), &error));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].failures, 2);
}

TEST_P(StoreTest, TwoDaemonsCountEveryFailureOnce) {
  std::unique_ptr<Store> second = Open();
  ASSERT_NE(second, nullptr);
  LockoutPolicy policy;
  policy.free_failures = 1000;  // count only
  std::atomic<int> counted{0};
  auto guess = [&](Store* store) {
    for (int i = 0; i < 25; ++i) {
      std::string why;
      bool locked = false;
      std::vector<Lockout> before, after;
      if (Ok(store->BeginAuthAttempt({"approver:alice", "request:ap_x"}, kNow, policy, &locked,
                                     &before, &after),
             &why))
        counted.fetch_add(1);
    }
  };
  std::thread a(guess, store_.get());
  std::thread b(guess, second.get());
  a.join();
  b.join();
  std::vector<Lockout> rows;
  std::string error;
  ASSERT_TRUE(Ok(store_->Lockouts(kNow, policy, &rows), &error)) << error;
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(counted.load(), 50);
  EXPECT_EQ(rows[0].failures, 50);
  EXPECT_EQ(rows[1].failures, 50);
}

TEST_P(StoreTest, TheCodeIsSpentWithTheEffectOrNotAtAll) {
  std::string error;
  ASSERT_TRUE(Ok(store_->AddApprover("alice", NewTotpSecret()), &error)) << error;
  Request held = MustHold(Held("rm -rf /srv"));
  TotpSpend spend{"alice", 1000};
  Request out;
  ASSERT_TRUE(Ok(store_->Approve(held.id, "alice", kNow, &out, &spend), &error)) << error;
  std::int64_t last_step = -1;
  ASSERT_TRUE(Ok(store_->ApproverSecret("alice", nullptr, &last_step), &error));
  EXPECT_EQ(last_step, 1000);
  // The same step again: the effect fails and nothing changes.
  ASSERT_TRUE(Ok(store_->SetFrozen("claude", true, "breaker"), &error));
  EXPECT_FALSE(Ok(store_->SetFrozen("claude", false, "reset", &spend), &error));
  EXPECT_NE(error.find("already used"), std::string::npos) << error;
  bool frozen = false;
  ASSERT_TRUE(Ok(store_->IsFrozen("claude", &frozen), &error));
  EXPECT_TRUE(frozen);
  // An approval that cannot apply (already approved) leaves the step unspent.
  TotpSpend later{"alice", 1005};
  EXPECT_FALSE(Ok(store_->Approve(held.id, "alice", kNow, &out, &later), &error));
  ASSERT_TRUE(Ok(store_->ApproverSecret("alice", nullptr, &last_step), &error));
  EXPECT_EQ(last_step, 1000);
  EXPECT_TRUE(Ok(store_->SetFrozen("claude", false, "reset", &later), &error)) << error;
}

TEST_P(StoreTest, ReleasingAConsumptionMakesTheApprovalUsableAgain) {
  std::string error;
  Request held = MustHold(Held("rm -rf /srv/r"));
  Request out;
  ASSERT_TRUE(Ok(store_->Approve(held.id, "alice", kNow, &out), &error));
  ASSERT_TRUE(Ok(store_->ConsumeApproval(held.action_hash, kNow, &out), &error)) << error;
  ASSERT_TRUE(Ok(store_->ReleaseConsumption(held.id), &error)) << error;
  EXPECT_FALSE(Ok(store_->ReleaseConsumption(held.id), &error)) << "only a consumed one";
  ASSERT_TRUE(Ok(store_->ConsumeApproval(held.action_hash, kNow, &out), &error)) << error;
  EXPECT_FALSE(Ok(store_->ConsumeApproval(held.action_hash, kNow, &out), &error));
}

TEST_P(StoreTest, ApproverAdministration) {
  std::string error;
  const std::string alice = NewTotpSecret();
  ASSERT_TRUE(Ok(store_->AddApprover("alice", alice, /*only_if_first=*/true), &error)) << error;
  EXPECT_FALSE(Ok(store_->AddApprover("bob", NewTotpSecret(), /*only_if_first=*/true), &error));
  EXPECT_NE(error.find("already enrolled"), std::string::npos) << error;
  TotpSpend spend{"alice", 10};
  ASSERT_TRUE(Ok(store_->AddApprover("bob", NewTotpSecret(), false, &spend), &error)) << error;
  EXPECT_FALSE(Ok(store_->AddApprover("carol", NewTotpSecret(), false, &spend), &error))
      << "the step was spent";
  // Rotation replaces the secret.
  const std::string fresh = NewTotpSecret();
  TotpSpend rotate{"bob", 11};
  ASSERT_TRUE(Ok(store_->RotateApprover("alice", fresh, &rotate), &error)) << error;
  std::string secret;
  ASSERT_TRUE(Ok(store_->ApproverSecret("alice", &secret), &error));
  EXPECT_EQ(secret, fresh);
  EXPECT_FALSE(Ok(store_->RotateApprover("mallory", fresh, nullptr), &error));
  // Removal, but never of the last approver.
  TotpSpend remove{"alice", 12};
  ASSERT_TRUE(Ok(store_->RemoveApprover("bob", &remove), &error)) << error;
  TotpSpend last{"alice", 13};
  EXPECT_FALSE(Ok(store_->RemoveApprover("alice", &last), &error));
  EXPECT_NE(error.find("last approver"), std::string::npos) << error;
  std::int64_t last_step = -1;
  ASSERT_TRUE(Ok(store_->ApproverSecret("alice", nullptr, &last_step), &error));
  EXPECT_EQ(last_step, 12) << "a refused removal spends nothing";
}

TEST_P(StoreTest, AuditSealsAreRememberedPerLog) {
  std::string error;
  AuditSeal seal;
  bool found = true;
  ASSERT_TRUE(
      Ok(store_->LastAuditSeal("host:/var/lib/dualkey/audit.jsonl", &seal, &found), &error));
  EXPECT_FALSE(found);
  for (std::uint64_t seq : {5u, 1005u, 17u}) {
    AuditSeal s{"host:/var/lib/dualkey/audit.jsonl",
                seq,
                std::string(64, 'a' + seq % 6),
                std::string(128, '0'),
                std::string(64, 'f'),
                kNow};
    ASSERT_TRUE(Ok(store_->RememberAuditSeal(s), &error)) << error;
  }
  AuditSeal other{"other:/x",           99999, std::string(64, '1'), std::string(128, '0'),
                  std::string(64, 'e'), kNow};
  ASSERT_TRUE(Ok(store_->RememberAuditSeal(other), &error)) << error;
  ASSERT_TRUE(
      Ok(store_->LastAuditSeal("host:/var/lib/dualkey/audit.jsonl", &seal, &found), &error));
  ASSERT_TRUE(found);
  EXPECT_EQ(seal.seq, 1005u);
  EXPECT_EQ(seal.hash, std::string(64, 'a' + 1005 % 6));
  EXPECT_EQ(seal.public_key, std::string(64, 'f'));
}

// Items (passkeys, challenges, what a hold shows): taken once, counters
// advanced only from the value read, expired ones gone.
TEST_P(StoreTest, ItemsAreTakenOnceAndCountersAdvanceOnlyFromWhatWasRead) {
  std::string error;
  Item challenge{"challenge", "n1", "alice", "request:ap_1", 0, kNow + kMinute};
  ASSERT_TRUE(Ok(store_->PutItem(challenge, false, kNow), &error)) << error;
  EXPECT_FALSE(Ok(store_->PutItem(challenge, false, kNow), &error));
  EXPECT_EQ(error, "exists");
  Item got;
  bool found = false;
  ASSERT_TRUE(Ok(store_->TakeItem("challenge", "n1", kNow, &got, &found), &error)) << error;
  EXPECT_TRUE(found);
  EXPECT_EQ(got.owner, "alice");
  EXPECT_EQ(got.value, "request:ap_1");
  ASSERT_TRUE(Ok(store_->TakeItem("challenge", "n1", kNow, &got, &found), &error)) << error;
  EXPECT_FALSE(found) << "taken once, never twice";

  Item expired{"challenge", "n2", "alice", "x", 0, kNow + kMinute};
  ASSERT_TRUE(Ok(store_->PutItem(expired, false, kNow), &error)) << error;
  ASSERT_TRUE(Ok(store_->TakeItem("challenge", "n2", kNow + 2 * kMinute, &got, &found), &error));
  EXPECT_FALSE(found) << "an expired challenge cannot be taken";

  Item passkey{"passkey", "cred", "alice", "{}", 5, 0};
  ASSERT_TRUE(Ok(store_->PutItem(passkey, false, kNow), &error)) << error;
  bool advanced = false;
  ASSERT_TRUE(Ok(store_->AdvanceItemCounter("passkey", "cred", 4, 9, &advanced), &error));
  EXPECT_FALSE(advanced);
  ASSERT_TRUE(Ok(store_->AdvanceItemCounter("passkey", "cred", 5, 6, &advanced), &error));
  EXPECT_TRUE(advanced);
  ASSERT_TRUE(Ok(store_->GetItem("passkey", "cred", kNow, &got, &found), &error));
  EXPECT_EQ(got.counter, 6);
  std::vector<Item> list;
  ASSERT_TRUE(Ok(store_->ListItems("passkey", "bob", kNow, &list), &error));
  EXPECT_TRUE(list.empty());
  ASSERT_TRUE(Ok(store_->ListItems("passkey", "", kNow, &list), &error));
  EXPECT_EQ(list.size(), 1u);
}

TEST_P(StoreTest, AHoldKeepsItsDetailsBesideIt) {
  Request request = Held("rm -rf /srv/a");
  request.details = R"({"actions":[]})";
  Request stored = MustHold(request);
  Item got;
  bool found = false;
  std::string error;
  ASSERT_TRUE(Ok(store_->GetItem("hold", stored.id, kNow, &got, &found), &error)) << error;
  ASSERT_TRUE(found);
  EXPECT_EQ(got.value, request.details);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

TEST(OpenStore, UnreachablePostgresFailsWithAMessage) {
  std::string error;
  auto store = OpenOrNull("postgresql://dualkey@127.0.0.1:1/none?connect_timeout=2", &error);
  EXPECT_EQ(store, nullptr);
  EXPECT_NE(error.find("PostgreSQL"), std::string::npos) << error;
}

TEST(OpenStore, UnwritableSqlitePathFailsWithAMessage) {
  std::string error;
  EXPECT_EQ(OpenOrNull("/nonexistent-dir/approvals.db", &error), nullptr);
  EXPECT_FALSE(error.empty());
  EXPECT_EQ(OpenOrNull("", &error), nullptr);
}

TEST(OpenStore, TwoSqliteHandlesSeeEachOthersWrites) {
  char pattern[] = "/tmp/dualkey-store-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const std::string path = std::string(pattern) + "/a.db";
  std::string error;
  auto one = OpenOrNull(path, &error);
  auto two = OpenOrNull(path, &error);
  ASSERT_NE(one, nullptr);
  ASSERT_NE(two, nullptr);
  Request request;
  request.action_hash = ActionHash("shell", "rm -rf x", "/", "a");
  request.created_ms = kNow;
  Request held;
  ASSERT_TRUE(Ok(one->Hold(request, &held), &error)) << error;
  ASSERT_TRUE(Ok(two->Approve(held.code, "alice", kNow + 1, nullptr), &error)) << error;
  EXPECT_TRUE(Ok(one->ConsumeApproval(request.action_hash, kNow + 2, nullptr), &error)) << error;
  one.reset();
  two.reset();
  std::filesystem::remove_all(pattern);
}

TEST(SqliteStore, UsesWalWithFullSync) {
  char pattern[] = "/tmp/dualkey-store-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const std::string path = std::string(pattern) + "/a.db";
  std::string error;
  auto store = OpenOrNull(path, &error);
  ASSERT_NE(store, nullptr) << error;
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &statement, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(statement), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(statement, 0)), "wal");
  sqlite3_finalize(statement);
  sqlite3_close(db);
  store.reset();
  std::filesystem::remove_all(pattern);
}

// A writer killed with SIGKILL mid-storm loses nothing it acknowledged:
// every approval reported back over the pipe is there after reopening.
TEST(SqliteStore, KillNineLosesNoAcknowledgedApproval) {
  char pattern[] = "/tmp/dualkey-store-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const std::string path = std::string(pattern) + "/a.db";
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    std::string error;
    auto store = OpenOrNull(path, &error);
    if (!store) _exit(2);
    for (int i = 0;; ++i) {
      Request request;
      request.input = "rm -rf dir" + std::to_string(i);
      request.action_hash = ActionHash("shell", request.input, "/", "agent");
      request.created_ms = kNow;
      Request held;
      if (!Ok(store->Hold(request, &held), &error)) _exit(3);
      if (!Ok(store->Approve(held.id, "alice", kNow + 1, nullptr), &error)) _exit(4);
      const std::string line = held.action_hash + "\n";
      if (write(fds[1], line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(5);
    }
  }
  close(fds[1]);
  std::string acknowledged;
  char buffer[4096];
  while (acknowledged.size() < 65 * 200) {
    const ssize_t n = read(fds[0], buffer, sizeof buffer);
    ASSERT_GT(n, 0) << "the writer died early";
    acknowledged.append(buffer, static_cast<std::size_t>(n));
  }
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  // Drain what was written before the kill.
  ssize_t n;
  while ((n = read(fds[0], buffer, sizeof buffer)) > 0) {
    acknowledged.append(buffer, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  std::string error;
  auto store = OpenOrNull(path, &error);
  ASSERT_NE(store, nullptr) << error;
  int checked = 0;
  for (std::size_t start = 0; start + 65 <= acknowledged.size(); start += 65) {
    const std::string hash = acknowledged.substr(start, 64);
    ASSERT_TRUE(Ok(store->ConsumeApproval(hash, kNow + 2, nullptr), &error)) << error;
    ++checked;
  }
  EXPECT_GE(checked, 200);
  store.reset();
  std::filesystem::remove_all(pattern);
}

}  // namespace
}  // namespace dualkey::approval
