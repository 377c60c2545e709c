// Policy layers from real files: precedence, the tighten-only project layer,
// the backup floor, observe mode and broken files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "policy/policy.h"

namespace dualkey::policy {
namespace {

namespace fs = std::filesystem;

class PolicyFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("dualkey-policy-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "etc");
    fs::create_directories(root_ / "home/.config/dualkey");
    fs::create_directories(root_ / "repo/.git");
    fs::create_directories(root_ / "repo/src/deep");
  }
  void TearDown() override { fs::remove_all(root_); }

  void Write(const fs::path& rel, const std::string& text) { std::ofstream(root_ / rel) << text; }

  Policy LoadHere(const std::string& cwd_rel = "repo/src/deep") {
    Sources sources;
    sources.system_path = root_ / "etc/policy.toml";
    sources.user_path = root_ / "home/.config/dualkey/policy.toml";
    sources.project_dir = root_ / cwd_rel;
    return Load(sources);
  }

  fs::path root_;
};

Action Act(std::string op_class, Severity severity, std::vector<std::string> targets = {}) {
  Action action;
  action.op_class = std::move(op_class);
  action.severity = severity;
  action.targets = std::move(targets);
  action.reason = "reason of " + action.op_class;
  return action;
}

Decision DecideOne(const Policy& policy, Action action, std::string agent = "") {
  return Decide(policy, {std::move(action)}, Subject{std::move(agent)}).decision;
}

// A user's rule that allows says so, with where it is.
TEST_F(PolicyFiles, AnAllowByAUsersRuleNamesIt) {
  Write("home/.config/dualkey/policy.toml",
        "[[rules]]\nname = \"scratch\"\nclass = \"fs.delete.*\"\ndecision = \"allow\"\n");
  Verdict verdict = Decide(LoadHere(), {Act("fs.delete.recursive", Severity::kHigh)}, {});
  ASSERT_EQ(verdict.decision, Decision::kAllow);
  EXPECT_NE(verdict.reason.find("allowed by the user policy's rule 'scratch' ("), std::string::npos)
      << verdict.reason;
  EXPECT_NE(verdict.reason.find("reason of fs.delete.recursive"), std::string::npos);
}

TEST_F(PolicyFiles, NoFilesMeansBuiltinDefaults) {
  Policy policy = LoadHere();
  EXPECT_TRUE(policy.errors.empty());
  EXPECT_EQ(policy.layers.size(), 1u);
  EXPECT_EQ(DecideOne(policy, Act("fs.delete.recursive", Severity::kHigh)), Decision::kHold);
  EXPECT_EQ(DecideOne(policy, Act("read.only", Severity::kNone)), Decision::kAllow);
}

TEST_F(PolicyFiles, UserLayerCanLoosen) {
  Write("home/.config/dualkey/policy.toml",
        "[[rules]]\nclass = \"git.push.force\"\ntarget = \"*feature/*\"\ndecision = \"allow\"\n");
  Policy policy = LoadHere();
  ASSERT_TRUE(policy.errors.empty()) << policy.errors.front();
  EXPECT_EQ(DecideOne(policy, Act("git.push.force", Severity::kMedium, {"origin feature/login"})),
            Decision::kAllow);
  EXPECT_EQ(DecideOne(policy, Act("git.push.force", Severity::kHigh, {"origin main"})),
            Decision::kHold);
}

TEST_F(PolicyFiles, ProjectLayerOnlyTightens) {
  Write("repo/.dualkey.toml",
        "[[rules]]\nclass = \"fs.delete*\"\ndecision = \"allow\"\n"
        "[[rules]]\nclass = \"read.only\"\ndecision = \"allow\"\n");
  Policy policy = LoadHere();
  ASSERT_TRUE(policy.errors.empty());
  ASSERT_EQ(policy.layers.back().kind, LayerKind::kProject);
  EXPECT_EQ(DecideOne(policy, Act("fs.delete.recursive", Severity::kHigh)), Decision::kHold);
}

TEST_F(PolicyFiles, ProjectLayerCanTighten) {
  Write("repo/.dualkey.toml",
        "[[rules]]\nclass = \"db.drop*\"\ndecision = \"deny\"\n"
        "[[rules]]\nclass = \"vcs.push\"\ndecision = \"hold\"\n");
  Policy policy = LoadHere();
  EXPECT_EQ(DecideOne(policy, Act("db.drop", Severity::kCritical)), Decision::kDeny);
  EXPECT_EQ(DecideOne(policy, Act("vcs.push", Severity::kNone)), Decision::kHold);
}

TEST_F(PolicyFiles, ProjectLayerCannotUndoAUserTightening) {
  Write("home/.config/dualkey/policy.toml",
        "[[rules]]\nclass = \"vcs.push\"\ndecision = \"hold\"\n");
  Write("repo/.dualkey.toml", "[[rules]]\nclass = \"vcs.push\"\ndecision = \"allow\"\n");
  EXPECT_EQ(DecideOne(LoadHere(), Act("vcs.push", Severity::kNone)), Decision::kHold);
}

TEST_F(PolicyFiles, ProjectFileIsFoundUpToTheRepoRootOnly) {
  Write(".dualkey.toml", "[[rules]]\nclass = \"read.only\"\ndecision = \"deny\"\n");
  // Above the repository root: not this project's file.
  Policy policy = LoadHere();
  EXPECT_EQ(policy.layers.size(), 1u);
  Write("repo/src/.dualkey.toml", "[[rules]]\nclass = \"read.only\"\ndecision = \"hold\"\n");
  EXPECT_EQ(DecideOne(LoadHere(), Act("read.only", Severity::kNone)), Decision::kHold);
}

TEST_F(PolicyFiles, BackupsNeverGoBelowHold) {
  Write("etc/policy.toml", "[[rules]]\nclass = \"backup.*\"\ndecision = \"allow\"\n");
  Write("home/.config/dualkey/policy.toml", "[[rules]]\nclass = \"*\"\ndecision = \"allow\"\n");
  Policy policy = LoadHere();
  EXPECT_EQ(DecideOne(policy, Act("backup.delete", Severity::kHigh)), Decision::kHold);
  EXPECT_EQ(DecideOne(policy, Act("backup.create", Severity::kNone)), Decision::kAllow);
}

TEST_F(PolicyFiles, SystemLockMakesUserLayerTightenOnly) {
  Write("etc/policy.toml", "lock_user = true\n");
  Write("home/.config/dualkey/policy.toml",
        "mode = \"observe\"\n[[rules]]\nclass = \"fs.*\"\ndecision = \"allow\"\n");
  Policy policy = LoadHere();
  ASSERT_TRUE(policy.errors.empty()) << policy.errors.front();
  EXPECT_EQ(DecideOne(policy, Act("fs.delete.recursive", Severity::kHigh)), Decision::kHold);
  EXPECT_EQ(policy.mode, Mode::kEnforce);
}

TEST_F(PolicyFiles, ObserveModeReportsWithoutHolding) {
  Write("home/.config/dualkey/policy.toml", "mode = \"observe\"\n");
  Policy policy = LoadHere();
  Verdict verdict = Decide(policy, {Act("db.drop", Severity::kCritical)}, {});
  EXPECT_EQ(verdict.decision, Decision::kHold);
  EXPECT_TRUE(verdict.observe_only);
  EXPECT_EQ(verdict.Enforced(), Decision::kAllow);
}

TEST_F(PolicyFiles, ProjectCannotTurnOnObserveMode) {
  Write("repo/.dualkey.toml", "mode = \"observe\"\n");
  Policy policy = LoadHere();
  EXPECT_EQ(policy.mode, Mode::kEnforce);
  ASSERT_FALSE(policy.errors.empty());
  EXPECT_NE(policy.errors[0].find(".dualkey.toml:1"), std::string::npos) << policy.errors[0];
}

TEST_F(PolicyFiles, BrokenFileHoldsEverythingDestructiveWithTheError) {
  Write("home/.config/dualkey/policy.toml", "mode = \"observe\"\n[[rules]\nclass = \"*\"\n");
  Policy policy = LoadHere();
  ASSERT_FALSE(policy.errors.empty());
  Verdict verdict = Decide(policy, {Act("fs.delete.recursive", Severity::kHigh)}, {});
  EXPECT_EQ(verdict.decision, Decision::kHold);
  EXPECT_FALSE(verdict.observe_only);
  EXPECT_NE(verdict.reason.find("policy error"), std::string::npos);
  EXPECT_EQ(DecideOne(policy, Act("read.only", Severity::kNone)), Decision::kAllow);
}

TEST_F(PolicyFiles, BrokenFileCannotLoosenEvenWithValidRulesElsewhere) {
  Write("etc/policy.toml", "[[rules]]\nclass = \"fs.*\"\ndecision = \"allow\"\n");
  Write("repo/.dualkey.toml", "[[rules]]\nclass = 42\ndecision = \"deny\"\n");
  Policy policy = LoadHere();
  ASSERT_FALSE(policy.errors.empty());
  EXPECT_EQ(DecideOne(policy, Act("fs.delete.recursive", Severity::kHigh)), Decision::kHold);
}

TEST_F(PolicyFiles, RulesMatchOnChannelAgentEnvAndSeverity) {
  Write("home/.config/dualkey/policy.toml",
        "env = [\"production\"]\n"
        "[[rules]]\nchannel = \"sql\"\nagent = \"cursor\"\nenv = \"production\"\n"
        "min_severity = \"high\"\ndecision = \"deny\"\n");
  Policy policy = LoadHere();
  ASSERT_TRUE(policy.errors.empty()) << policy.errors.front();
  Action drop = Act("db.drop", Severity::kCritical);
  drop.channel = Channel::kSql;
  EXPECT_EQ(DecideOne(policy, drop, "cursor"), Decision::kDeny);
  EXPECT_EQ(DecideOne(policy, drop, "claude"), Decision::kHold);
  Action bounded = Act("db.write.bounded", Severity::kLow);
  bounded.channel = Channel::kSql;
  EXPECT_EQ(DecideOne(policy, bounded, "cursor"), Decision::kAllow);
}

// "snapshot": held unless a component that can save the rows does so and
// finds them few. Ranked between allow and hold.
Verdict DecideVerdict(const Policy& policy, std::vector<Action> actions) {
  return Decide(policy, std::move(actions), Subject{});
}

TEST_F(PolicyFiles, BuiltinSnapshotsSmallRowDestructionAndHoldsTheRest) {
  Policy policy = LoadHere();
  for (const char* op_class : {"db.delete.unbounded", "db.update.unbounded", "db.truncate"}) {
    Verdict v = DecideVerdict(policy, {Act(op_class, Severity::kHigh)});
    EXPECT_EQ(v.decision, Decision::kHold) << op_class;
    EXPECT_TRUE(v.snapshot) << op_class;
  }
  for (const char* op_class : {"db.drop", "db.alter.destructive", "opaque.sql", "backup.delete"}) {
    Verdict v = DecideVerdict(policy, {Act(op_class, Severity::kHigh)});
    EXPECT_GE(v.decision, Decision::kHold) << op_class;
    EXPECT_FALSE(v.snapshot) << op_class;
  }
  // One plain hold in the input holds all of it for a human.
  Verdict mixed =
      DecideVerdict(policy, {Act("db.truncate", Severity::kHigh), Act("db.drop", Severity::kHigh)});
  EXPECT_EQ(mixed.decision, Decision::kHold);
  EXPECT_FALSE(mixed.snapshot);
  EXPECT_EQ(mixed.reason, "reason of db.drop");
  EXPECT_FALSE(DecideVerdict(policy, {Act("read.only", Severity::kNone)}).snapshot);
}

TEST_F(PolicyFiles, SnapshotRulesOnlyReachWhatASnapshotCanUndo) {
  Write("home/.config/dualkey/policy.toml",
        "[[rules]]\nclass = \"db.*\"\ndestructive = true\ndecision = \"snapshot\"\n"
        "[[rules]]\nclass = \"backup.*\"\ndecision = \"snapshot\"\n");
  Policy policy = LoadHere();
  ASSERT_TRUE(policy.errors.empty()) << policy.errors.front();
  EXPECT_TRUE(DecideVerdict(policy, {Act("db.delete.unbounded", Severity::kHigh)}).snapshot);
  // A whole database or schema, a backup: never.
  Verdict drop = DecideVerdict(policy, {Act("db.drop", Severity::kCritical)});
  EXPECT_EQ(drop.decision, Decision::kHold);
  EXPECT_FALSE(drop.snapshot);
  Verdict backup = DecideVerdict(policy, {Act("backup.delete", Severity::kHigh)});
  EXPECT_GE(backup.decision, Decision::kHold);
  EXPECT_FALSE(backup.snapshot);
  auto explained = Explain(policy, {Act("db.drop", Severity::kCritical)}, Subject{});
  ASSERT_FALSE(explained.empty());
  EXPECT_EQ(explained[0].steps.back().rule, "snapshot-scope");
}

TEST_F(PolicyFiles, ProjectMayTurnSnapshotIntoHoldButNotHoldIntoSnapshot) {
  Write("repo/.dualkey.toml",
        "[[rules]]\nclass = \"db.truncate\"\ndecision = \"hold\"\n"
        "[[rules]]\nclass = \"db.alter.destructive\"\ndecision = \"snapshot\"\n"
        "[[rules]]\nclass = \"db.delete.unbounded\"\ndecision = \"allow\"\n");
  Policy policy = LoadHere();
  ASSERT_TRUE(policy.errors.empty()) << policy.errors.front();
  Verdict truncate = DecideVerdict(policy, {Act("db.truncate", Severity::kHigh)});
  EXPECT_EQ(truncate.decision, Decision::kHold);
  EXPECT_FALSE(truncate.snapshot);
  EXPECT_FALSE(DecideVerdict(policy, {Act("db.alter.destructive", Severity::kHigh)}).snapshot);
  // allow is looser than snapshot: ignored in a project file.
  Verdict del = DecideVerdict(policy, {Act("db.delete.unbounded", Severity::kHigh)});
  EXPECT_EQ(del.decision, Decision::kHold);
  EXPECT_TRUE(del.snapshot);
  // A user layer may allow, or turn a hold into a snapshot.
  Write("home/.config/dualkey/policy.toml",
        "[[rules]]\nclass = \"db.write.bounded\"\ndecision = \"snapshot\"\n");
  Verdict bounded = DecideVerdict(LoadHere(), {Act("db.write.bounded", Severity::kLow)});
  EXPECT_EQ(bounded.decision, Decision::kHold);
  EXPECT_TRUE(bounded.snapshot);
}

TEST_F(PolicyFiles, BrokenFileOrBackupFloorClearsSnapshot) {
  Write("home/.config/dualkey/policy.toml", "[[rules]\nbroken");
  Verdict v = DecideVerdict(LoadHere(), {Act("db.truncate", Severity::kHigh)});
  EXPECT_EQ(v.decision, Decision::kHold);
  EXPECT_FALSE(v.snapshot);
}

TEST(ParseLayer, ErrorsCarryLineNumbers) {
  Layer layer;
  std::vector<std::string> errors;
  EXPECT_FALSE(ParseLayer("mode = \"enforce\"\n\n[[rules]]\nclass = \"x\"\ndecison = \"allow\"\n",
                          LayerKind::kUser, "p.toml", &layer, &errors));
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors[0].find("p.toml:5"), std::string::npos) << errors[0];
  errors.clear();
  EXPECT_FALSE(
      ParseLayer("[[rules]]\ndecision = \"maybe\"\n", LayerKind::kUser, "q.toml", &layer, &errors));
  EXPECT_NE(errors[0].find("q.toml:2"), std::string::npos) << errors[0];
  errors.clear();
  EXPECT_FALSE(ParseLayer("= broken", LayerKind::kUser, "r.toml", &layer, &errors));
  EXPECT_NE(errors[0].find("r.toml:1"), std::string::npos) << errors[0];
}

TEST(ParseLayer, AcceptsAFullRule) {
  Layer layer;
  std::vector<std::string> errors;
  ASSERT_TRUE(
      ParseLayer("[[rules]]\nname = \"n\"\nchannel = [\"shell\", \"sql\"]\n"
                 "class = [\"db.*\"]\ntarget = \"*prod*\"\nagent = \"claude\"\n"
                 "env = \"production\"\nmin_severity = \"medium\"\ndestructive = true\n"
                 "decision = \"hold2\"\nmessage = \"m\"\n",
                 LayerKind::kSystem, "s.toml", &layer, &errors))
      << errors.front();
  ASSERT_EQ(layer.rules.size(), 1u);
  const Rule& rule = layer.rules[0];
  EXPECT_EQ(rule.name, "n");
  EXPECT_EQ(rule.channels.size(), 2u);
  EXPECT_EQ(rule.decision, Decision::kHold2);
  EXPECT_EQ(rule.min_severity, Severity::kMedium);
  EXPECT_EQ(rule.destructive, 1);
  EXPECT_EQ(rule.line, 1);
}

TEST(GuardTamper, NoLayerLowersItBelowHold2) {
  Layer user;
  std::vector<std::string> errors;
  ASSERT_TRUE(
      ParseLayer("mode = \"enforce\"\n[[rules]]\nclass = \"guard.*\"\ndecision = \"allow\"\n"
                 "[[rules]]\ndecision = \"allow\"\n",
                 LayerKind::kSystem, "s.toml", &user, &errors))
      << errors.front();
  Policy policy = Builtin();
  policy.layers.push_back(user);
  Action tamper;
  tamper.op_class = "guard.tamper";
  tamper.severity = Severity::kCritical;
  tamper.reason = "rewrites the policy";
  Verdict verdict = Decide(policy, {tamper}, {});
  EXPECT_EQ(verdict.decision, Decision::kHold2);
  auto explained = Explain(policy, {tamper}, {});
  ASSERT_EQ(explained.size(), 1u);
  EXPECT_EQ(explained[0].steps.back().rule, "floor");
  // A deny stays a deny.
  Layer strict;
  ASSERT_TRUE(ParseLayer("[[rules]]\nclass = \"guard.tamper\"\ndecision = \"deny\"\n",
                         LayerKind::kUser, "u.toml", &strict, &errors));
  policy.layers.push_back(strict);
  EXPECT_EQ(Decide(policy, {tamper}, {}).decision, Decision::kDeny);
  EXPECT_TRUE(IsGuardTamper(tamper));
  tamper.op_class = "guard.tamperproof";
  EXPECT_FALSE(IsGuardTamper(tamper));
}

}  // namespace
}  // namespace dualkey::policy

namespace dualkey::policy {
namespace {

// A protected install: the user layer, which an agent running as the user
// can write, tightens only and cannot switch on observe mode.
TEST_F(PolicyFiles, OnAProtectedInstallTheUserLayerOnlyTightens) {
  Write("etc/policy.toml",
        "[[rules]]\nname = \"scratch\"\ntarget = [\"/srv/scratch/*\"]\ndecision = \"allow\"\n");
  Write("home/.config/dualkey/policy.toml",
        "mode = \"observe\"\n[[rules]]\nname = \"all\"\ndecision = \"allow\"\n"
        "[[rules]]\nname = \"never-tmp\"\ntarget = [\"/srv/scratch/keep\"]\ndecision = \"deny\"\n");
  Sources sources;
  sources.system_path = root_ / "etc/policy.toml";
  sources.user_path = root_ / "home/.config/dualkey/policy.toml";
  sources.project_dir = root_ / "repo/src/deep";
  sources.user_tighten_only = true;
  Policy guarded = Load(sources);
  EXPECT_EQ(guarded.mode, Mode::kEnforce);
  EXPECT_EQ(DecideOne(guarded, Act("fs.delete.recursive", Severity::kHigh, {"/srv/data"})),
            Decision::kHold);
  // The system (root's) layer loosens; the user's rule "all" cannot.
  EXPECT_EQ(DecideOne(guarded, Act("fs.delete.recursive", Severity::kHigh, {"/srv/scratch/a"})),
            Decision::kAllow);
  // Single-user mode: the same user layer allows and observes.
  sources.user_tighten_only = false;
  Policy single = Load(sources);
  EXPECT_EQ(single.mode, Mode::kObserve);
  EXPECT_EQ(DecideOne(single, Act("fs.delete.recursive", Severity::kHigh, {"/srv/data"})),
            Decision::kAllow);
}

// Labels a tighten-only layer declares may switch on rules that tighten,
// never a system rule that loosens.
TEST_F(PolicyFiles, LabelsFromATightenOnlyLayerCannotLoosen) {
  Write("etc/policy.toml",
        "[[rules]]\nname = \"prod\"\nenv = [\"production\"]\nclass = [\"db.*\"]\n"
        "decision = \"hold2\"\n"
        "[[rules]]\nname = \"sandboxes\"\nenv = [\"sandbox\"]\ndecision = \"allow\"\n");
  Write("repo/.dualkey.toml", "env = [\"sandbox\", \"production\"]\n");
  Policy policy = LoadHere();
  ASSERT_TRUE(policy.errors.empty()) << policy.errors.front();
  EXPECT_EQ(DecideOne(policy, Act("fs.delete.recursive", Severity::kHigh, {"/srv/data"})),
            Decision::kHold);
  EXPECT_EQ(DecideOne(policy, Act("db.drop.table", Severity::kHigh)), Decision::kHold2);
  // Declared by the system layer itself, the label is trusted.
  Write("etc/policy.toml",
        "env = [\"sandbox\"]\n[[rules]]\nname = \"sandboxes\"\nenv = [\"sandbox\"]\n"
        "decision = \"allow\"\n");
  EXPECT_EQ(DecideOne(LoadHere(), Act("fs.delete.recursive", Severity::kHigh, {"/srv/data"})),
            Decision::kAllow);
}

// An install whose configuration cannot be trusted is a policy error: every
// destructive action is held, observe mode is off.
TEST_F(PolicyFiles, ASourceErrorHoldsEverythingDestructive) {
  Write("home/.config/dualkey/policy.toml", "mode = \"observe\"\n");
  Sources sources;
  sources.user_path = root_ / "home/.config/dualkey/policy.toml";
  sources.error = "/etc/dualkey/install.toml is not owned by root";
  Policy policy = Load(sources);
  ASSERT_FALSE(policy.errors.empty());
  Verdict verdict = Decide(policy, {Act("fs.delete.recursive", Severity::kHigh)}, {});
  EXPECT_EQ(verdict.decision, Decision::kHold);
  EXPECT_FALSE(verdict.observe_only);
  EXPECT_NE(verdict.reason.find("not owned by root"), std::string::npos) << verdict.reason;
}

}  // namespace
}  // namespace dualkey::policy
