// The daemon's decision chain (src/daemon/internal/chain.h), one step at a
// time: each step alone, on a real SQLite approval store, a real audit log
// and real files in a scratch directory. Nothing is mocked.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "approval/approval.h"
#include "audit/audit.h"
#include "breaker/breaker.h"
#include "daemon/internal/chain.h"
#include "daemon/internal/core.h"
#include "daemon/internal/decision.h"
#include "vault/vault.h"

namespace dualkey::daemon::internal {
namespace {

namespace fs = std::filesystem;

class DecisionSteps : public ::testing::Test {
 protected:
  void SetUp() override {
    // The real HOME, given back in TearDown for the tests that follow.
    const char* real_home = std::getenv("HOME");
    saved_home_ = real_home != nullptr ? std::optional<std::string>(real_home) : std::nullopt;
    const char* xdg = std::getenv("XDG_CONFIG_HOME");
    saved_xdg_ = xdg != nullptr ? std::optional<std::string>(xdg) : std::nullopt;
    // Not under build/ or /tmp, which dualkey treats as disposable (as DaemonVault).
    const fs::path parent =
        fs::path(real_home != nullptr ? real_home : "/root") / ".local/share/dualkey-test";
    fs::create_directories(parent);
    std::string tmpl = (parent / "steps-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    // The single-user policy reads ~/.config: an empty home of our own.
    fs::create_directories(dir_ + "/home");
    setenv("HOME", (dir_ + "/home").c_str(), 1);
    setenv("XDG_CONFIG_HOME", (dir_ + "/home/.config").c_str(), 1);
    Result<std::unique_ptr<approval::Store>> opened = approval::OpenStore(dir_ + "/approvals.db");
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    std::unique_ptr<approval::Store> store = std::move(opened).value();
    audit::OpenOptions audit_options;
    audit_options.path = dir_ + "/audit.jsonl";
    audit_options.key_path = dir_ + "/audit.key";
    Result<std::unique_ptr<audit::Log>> opened_log = audit::Log::Open(audit_options);
    ASSERT_TRUE(opened_log.ok()) << opened_log.status().ToString();
    std::unique_ptr<audit::Log> log = std::move(opened_log).value();
    options_.state_dir = dir_;
    options_.breaker_attempts = 3;
    options_.rate_burst = 2;
    options_.rate_per_minute = 0.001;
    install::Layout layout;
    layout.state_dir = dir_;
    core_ = std::make_unique<Core>(options_, layout, std::move(store), std::move(log));
    core_->system_policy().Reload(Core::NowMs());
    peer_.via = Peer::Via::kDaemon;
  }
  void TearDown() override {
    core_.reset();
    if (saved_home_)
      setenv("HOME", saved_home_->c_str(), 1);
    else
      unsetenv("HOME");
    if (saved_xdg_)
      setenv("XDG_CONFIG_HOME", saved_xdg_->c_str(), 1);
    else
      unsetenv("XDG_CONFIG_HOME");
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  approval::Store& store() { return core_->store(); }

  static client::CheckRequest Shell(const std::string& input, const std::string& cwd = "/") {
    client::CheckRequest request;
    request.action.channel = Channel::kShell;
    request.action.input = input;
    request.action.cwd = cwd;
    request.action.agent = "agent-a";
    return request;
  }
  static Verdict Held(const std::string& op_class = "fs.delete.recursive",
                      Decision decision = Decision::kHold) {
    Verdict verdict;
    verdict.decision = decision;
    verdict.reason = "destroys files";
    Action action;
    action.op_class = op_class;
    action.severity = Severity::kHigh;
    action.reversibility = Reversibility::kIrreversible;
    verdict.actions.push_back(action);
    return verdict;
  }
  // The exchange refers to the request, which must outlive it.
  Exchange Make(client::CheckRequest&& request, Verdict verdict) = delete;
  Exchange Make(const client::CheckRequest& request, Verdict verdict) {
    Exchange x(peer_, request);
    x.verdict = std::move(verdict);
    x.agent = request.action.agent.empty() ? "unknown" : request.action.agent;
    x.fields = AuditStep::ActionFields(request.action, x.agent);
    return x;
  }
  std::string AuditText() const {
    std::ifstream in(dir_ + "/audit.jsonl");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  // An approver, and the request for `hash` approved by them.
  void Approve(const std::string& id) {
    const Status added = store().AddApprover("alice", approval::NewTotpSecret());
    ASSERT_TRUE(added.ok()) << added.ToString();
    approval::Request out;
    const Status approved = store().Approve(id, "alice", Core::NowMs(), &out);
    ASSERT_TRUE(approved.ok()) << approved.ToString();
  }

  std::string dir_;
  std::optional<std::string> saved_home_, saved_xdg_;
  ServeOptions options_;
  std::unique_ptr<Core> core_;
  Peer peer_;
};

TEST_F(DecisionSteps, ClassifierReadsThePolicyAndRaiseOnlyTightens) {
  Classifier classifier(core_->layout(), core_->system_policy());
  const client::CheckRequest read = Shell("ls -l");
  Exchange x(peer_, read);
  classifier.Classify(x);
  EXPECT_EQ(x.verdict.decision, Decision::kAllow);
  EXPECT_EQ(x.agent, "agent-a");

  const client::CheckRequest destroy = Shell("rm -rf " + dir_ + "/home");
  Exchange y(peer_, destroy);
  classifier.Classify(y);
  EXPECT_NE(y.verdict.decision, Decision::kAllow);

  // A trusted caller's minimum raises an allow; it never lowers a hold.
  client::CheckRequest raised = read;
  raised.min_decision = Decision::kHold;
  raised.detail = "touches 1200 rows";
  Verdict verdict = x.verdict;
  RaiseToMinimum(raised, &verdict);
  EXPECT_EQ(verdict.decision, Decision::kHold);
  client::CheckRequest lowered = destroy;
  lowered.min_decision = Decision::kAllow;
  Verdict held = y.verdict;
  RaiseToMinimum(lowered, &held);
  EXPECT_EQ(held.decision, y.verdict.decision);
}

TEST_F(DecisionSteps, FreezeHoldsAFrozenAgentButNotItsReads) {
  FreezeStep freeze(store());
  const client::CheckRequest request = Shell("rm -rf build");
  Exchange x = Make(request, Held());
  EXPECT_FALSE(freeze.Run(x).has_value());

  const Status frozen_set = store().SetFrozen("agent-a", true, "test");
  ASSERT_TRUE(frozen_set.ok()) << frozen_set.ToString();
  std::optional<Outcome> out = freeze.Run(x);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->reply.decision, Decision::kHold);
  EXPECT_TRUE(out->reply.frozen);
  EXPECT_NE(out->reply.reason.find("dualkey breaker reset agent-a"), std::string::npos);

  Verdict read;
  Action ls;
  ls.op_class = "read.only";
  read.actions.push_back(ls);
  const client::CheckRequest ls_request = Shell("ls");
  Exchange r = Make(ls_request, read);
  EXPECT_FALSE(freeze.Run(r).has_value());
}

TEST_F(DecisionSteps, AllowStepAllowsWhatThePolicyOrAFactAllows) {
  AllowStep allow;
  Verdict allowed;
  allowed.reason = "a read";
  const client::CheckRequest ls_request = Shell("ls");
  Exchange a = Make(ls_request, allowed);
  std::optional<Outcome> out = allow.Run(a);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->reply.decision, Decision::kAllow);
  EXPECT_EQ(out->durability, audit::Log::Durability::kWritten);
  EXPECT_EQ(out->if_unrecorded, Outcome::IfUnrecorded::kHold);

  const client::CheckRequest rm_request = Shell("rm -rf build");
  Exchange h = Make(rm_request, Held());
  EXPECT_FALSE(allow.Run(h).has_value());

  // A catalog fact stands in for a human on SQL drops only, on a plain hold.
  client::CheckRequest drop;
  drop.action.channel = Channel::kSql;
  drop.action.input = "DROP TABLE t";
  drop.allowed_by.fact = "table public.t is empty";
  Exchange d = Make(drop, Held("db.drop.table"));
  out = allow.Run(d);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->reply.decision, Decision::kAllow);
  EXPECT_EQ(out->reply.fact, "table public.t is empty");
  Exchange d2 = Make(drop, Held("db.drop.table", Decision::kHold2));
  EXPECT_FALSE(allow.Run(d2).has_value());
  client::CheckRequest shell_with_fact = Shell("rm -rf build");
  shell_with_fact.allowed_by.fact = "nothing";
  Exchange s = Make(shell_with_fact, Held());
  EXPECT_FALSE(allow.Run(s).has_value());
}

TEST_F(DecisionSteps, RateLimitDeniesPastTheBurstAndEveryDenial) {
  breaker::RateLimiter limiter(options_.rate_burst, options_.rate_per_minute);
  RateLimitStep step(limiter);
  const client::CheckRequest request = Shell("rm -rf build");
  Exchange x = Make(request, Held());
  EXPECT_FALSE(step.Run(x).has_value());
  EXPECT_FALSE(step.Run(x).has_value());
  std::optional<Outcome> out = step.Run(x);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->reply.decision, Decision::kDeny);
  EXPECT_TRUE(out->breaker_attempt);
  EXPECT_NE(out->reply.reason.find("rate limit"), std::string::npos);

  // Another agent has its own bucket; a denial is denied whatever its rate.
  client::CheckRequest other = request;
  other.action.agent = "agent-b";
  Exchange d = Make(other, Held("fs.delete.recursive", Decision::kDeny));
  out = step.Run(d);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->reply.reason, "destroys files");
}

TEST(Breaker, CountsDistinctAttemptsWithinTheWindow) {
  breaker::AttemptWindow window(3, 60);
  const std::int64_t t = 1'000'000;
  EXPECT_TRUE(window.Attempt("a", "h1", t).counted);
  // The same action asked again is refreshed, not counted.
  EXPECT_FALSE(window.Attempt("a", "h1", t + 1).counted);
  EXPECT_FALSE(window.Attempt("a", "h2", t + 2).trips);
  EXPECT_TRUE(window.Peek("a", "h3", t + 3).trips);
  EXPECT_FALSE(window.Peek("a", "h1", t + 3).counts);
  EXPECT_EQ(window.Recent("a", t + 3), 2);
  EXPECT_TRUE(window.Attempt("a", "h3", t + 3).trips);
  EXPECT_EQ(window.ActiveAgents(t + 3), std::vector<std::string>{"a"});
  // Past the window, nothing is left; a reset forgets at once.
  EXPECT_EQ(window.Recent("a", t + 61'000 + 3), 0);
  window.Attempt("b", "h1", t);
  window.Forget("b");
  EXPECT_EQ(window.Recent("b", t), 0);
}

TEST(Breaker, RateLimiterRefills) {
  breaker::RateLimiter limiter(1, 60);  // one a second
  EXPECT_TRUE(limiter.Has("a", 0));
  EXPECT_TRUE(limiter.Take("a", 0));
  EXPECT_FALSE(limiter.Has("a", 500));
  EXPECT_FALSE(limiter.Take("a", 500));
  EXPECT_TRUE(limiter.Take("a", 1'600));
}

TEST_F(DecisionSteps, HoldRegistersOnceAndApprovalIsUsedOnceAfterTheVaultSave) {
  PendingHolds holds(store());
  HoldStep hold(store(), holds, 60);
  const std::string victim = dir_ + "/victim";
  fs::create_directories(victim);
  std::ofstream(victim + "/data.txt") << "precious";
  const client::CheckRequest request = Shell("rm -rf " + victim, dir_);
  Classifier classifier(core_->layout(), core_->system_policy());
  Exchange x(peer_, request);
  classifier.Classify(x);
  x.fields = AuditStep::ActionFields(request.action, x.agent);
  ASSERT_NE(x.verdict.decision, Decision::kAllow);
  ASSERT_NE(x.verdict.decision, Decision::kDeny);

  std::optional<Outcome> held = hold.Run(x);
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->kind, "hold");
  EXPECT_FALSE(held->reply.reasked);
  EXPECT_TRUE(held->breaker_attempt);
  const std::string id = held->reply.approval_id;
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(holds.Live(x.Hash()).has_value());

  // Asked again while it waits: the approval step re-asks the same request.
  VaultSaver saver(*core_, VaultSaver::DirFor(options_));
  ApprovalStep approval(store(), saver, holds);
  std::optional<Outcome> again = approval.Run(x);
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->reply.reasked);
  EXPECT_EQ(again->reply.approval_id, id);
  EXPECT_FALSE(again->breaker_attempt);

  // Approved: what it destroys is saved to the vault first, then the
  // approval is consumed, once.
  Approve(id);
  std::optional<Outcome> used = approval.Run(x);
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(used->kind, "consumed");
  EXPECT_EQ(used->reply.decision, Decision::kAllow);
  EXPECT_TRUE(used->reply.approved);
  EXPECT_EQ(used->if_unrecorded, Outcome::IfUnrecorded::kRelease);
  ASSERT_FALSE(used->reply.snapshot_id.empty());
  EXPECT_EQ(used->extra["vault"], saver.dir());
  Result<vault::Vault> vault = vault::Vault::Open(saver.dir());
  ASSERT_TRUE(vault.ok()) << vault.status().message();
  std::vector<vault::EntryInfo> entries;
  Result<vault::SnapshotInfo> shown = vault->Show(used->reply.snapshot_id, &entries);
  ASSERT_TRUE(shown.ok()) << shown.status().message();
  EXPECT_FALSE(entries.empty());
  EXPECT_NE(AuditText().find("vault_snapshot"), std::string::npos);

  // Used: nothing left to use, nothing waiting; the chain goes on.
  EXPECT_FALSE(approval.Run(x).has_value());
}

TEST_F(DecisionSteps, ApprovalStepPassesDenialsAndDefersConsumptionWhenAsked) {
  PendingHolds holds(store());
  VaultSaver saver(*core_, VaultSaver::DirFor(options_));
  ApprovalStep approval(store(), saver, holds);
  const client::CheckRequest root_request = Shell("rm -rf /");
  Exchange denied = Make(root_request, Held("fs.delete.recursive", Decision::kDeny));
  EXPECT_FALSE(approval.Run(denied).has_value());

  client::CheckRequest deferred;
  deferred.action.channel = Channel::kSql;
  deferred.action.input = "DELETE FROM t";
  deferred.action.agent = "agent-a";
  deferred.defer_consume = true;
  Exchange x = Make(deferred, Held("db.delete.rows"));
  HoldStep hold(store(), holds, 60);
  std::optional<Outcome> held = hold.Run(x);
  ASSERT_TRUE(held.has_value());
  Approve(held->reply.approval_id);
  std::optional<Outcome> ready = approval.Run(x);
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(ready->reply.decision, Decision::kHold);
  EXPECT_TRUE(ready->reply.approval_ready);
  EXPECT_TRUE(ready->kind.empty());  // not audited: the consume that follows is
}

TEST_F(DecisionSteps, AuditStepRecordsThenCountsForTheBreaker) {
  Breaker breaker(*core_);
  AuditStep audit(*core_, breaker);
  const client::CheckRequest request = Shell("rm -rf build");
  Exchange x = Make(request, Held());
  Outcome deny;
  deny.reply.decision = Decision::kDeny;
  deny.reply.reason = "no";
  deny.breaker_attempt = true;
  client::CheckReply reply = audit.Finish(x, deny);
  EXPECT_EQ(reply.decision, Decision::kDeny);
  EXPECT_EQ(breaker.RecentAttempts("agent-a"), 1);
  const std::string text = AuditText();
  EXPECT_NE(text.find("\"verdict\""), std::string::npos);
  EXPECT_NE(text.find("rm -rf build"), std::string::npos);

  // Not recorded: kind "".
  Outcome quiet;
  quiet.kind = "";
  quiet.reply.reason = "quiet-outcome";
  audit.Finish(x, quiet);
  EXPECT_EQ(AuditText().find("quiet-outcome"), std::string::npos);
}

TEST_F(DecisionSteps, TheWholeChainTripsTheBreakerOnDistinctAttempts) {
  Breaker breaker(*core_);
  DecisionPath decisions(*core_, breaker);
  for (int i = 0; i < 3; ++i) {
    Result<client::CheckReply> reply =
        decisions.Check(peer_, Shell("rm -rf /srv/data" + std::to_string(i)));
    ASSERT_TRUE(reply.ok());
    EXPECT_NE(reply->decision, Decision::kAllow);
  }
  bool frozen = false;
  const Status frozen_read = store().IsFrozen("agent-a", &frozen);
  ASSERT_TRUE(frozen_read.ok()) << frozen_read.ToString();
  EXPECT_TRUE(frozen);
  Result<client::CheckReply> after = decisions.Check(peer_, Shell("rm -rf /srv/other"));
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->frozen);
  Result<client::CheckReply> read = decisions.Check(peer_, Shell("ls /srv"));
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->decision, Decision::kAllow);
}

}  // namespace
}  // namespace dualkey::daemon::internal
