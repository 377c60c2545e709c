#include <gtest/gtest.h>

#include "packs_a_testing.h"
#include "shell/internal/packs/packs.h"

namespace dualkey::shell {
namespace {

using packs_a_test::Make;
using packs_a_test::RecordingContext;
using packs_a_test::Unknown;
using packs_a_test::Word;
using packs_a_test::Words;

RecordingContext Git(std::string_view line, std::string cwd = "/home/dev/app") {
  RecordingContext ctx;
  EXPECT_TRUE(packs_a_test::Run(GitPack(), Words(line, std::move(cwd)), ctx));
  return ctx;
}

// --- push ----------------------------------------------------------------------

TEST(GitPackPush, ForceFlagsAreHeld) {
  for (const char* line :
       {"git push --force origin main", "git push origin main --force", "git push -f origin main",
        "git push -uf origin main", "git push --force-with-lease origin main",
        "git push --force-with-lease=main:abc origin main"}) {
    RecordingContext ctx = Git(line);
    EXPECT_TRUE(ctx.HasClass("git.push.force")) << line;
    EXPECT_EQ(ctx.MaxSeverity(), Severity::kHigh) << line;
  }
}

TEST(GitPackPush, PlusRefspecIsForce) {
  RecordingContext ctx = Git("git push origin +main");
  EXPECT_TRUE(ctx.HasClass("git.push.force"));
  EXPECT_TRUE(ctx.Held());
  EXPECT_TRUE(Git("git push origin +HEAD:refs/heads/release/1.2").Held());
}

TEST(GitPackPush, ForceWithoutRefspecIsHigh) {
  EXPECT_EQ(Git("git push -f").MaxSeverity(), Severity::kHigh);
}

TEST(GitPackPush, ForceOnFeatureBranchIsStillHeld) {
  RecordingContext ctx = Git("git push --force origin feature/login");
  EXPECT_EQ(ctx.MaxSeverity(), Severity::kMedium);
  EXPECT_TRUE(ctx.Held());
}

TEST(GitPackPush, DeletingRefspecs) {
  RecordingContext colon = Git("git push origin :main");
  EXPECT_TRUE(colon.HasClass("git.branch.delete"));
  EXPECT_EQ(colon.MaxSeverity(), Severity::kHigh);
  EXPECT_TRUE(Git("git push origin --delete feature/x").HasClass("git.branch.delete"));
  EXPECT_TRUE(Git("git push -d origin old").Held());
  EXPECT_TRUE(Git("git push origin :refs/tags/v1.0").HasClass("git.tag.delete"));
}

TEST(GitPackPush, MirrorAndPrune) {
  EXPECT_TRUE(Git("git push --mirror origin").HasClass("git.push.force"));
  EXPECT_TRUE(Git("git push --prune origin").Held());
}

TEST(GitPackPush, GlobalOptionsBeforeSubcommand) {
  RecordingContext ctx = Git("git -C /home/dev/repos/api push --force origin main", "");
  EXPECT_TRUE(ctx.HasClass("git.push.force"));
  ASSERT_FALSE(ctx.actions.empty());
  EXPECT_NE(ctx.actions[0].reason.find("/home/dev/repos/api"), std::string::npos);
  EXPECT_TRUE(Git("git -c user.name=x --no-pager push -f origin main").Held());
}

TEST(GitPackPush, OrdinaryPushAndDryRunAreAllowed) {
  EXPECT_FALSE(Git("git push origin main").Held());
  EXPECT_FALSE(Git("git push origin feature/login").Held());
  EXPECT_FALSE(Git("git push -u origin HEAD").Held());
  EXPECT_FALSE(Git("git push --tags").Held());
  RecordingContext dry = Git("git push --dry-run --force origin main");
  EXPECT_FALSE(dry.Held());
  EXPECT_TRUE(dry.HasClass("read.only"));
  EXPECT_FALSE(Git("git push -n -f origin main").Held());
}

TEST(GitPackPush, UnknownRefspecWithForceIsHigh) {
  RecordingContext ctx;
  packs_a_test::Run(
      GitPack(), Make({Word("git"), Word("push"), Word("-f"), Word("origin"), Unknown("$BRANCH")}),
      ctx);
  EXPECT_EQ(ctx.MaxSeverity(), Severity::kHigh);
}

// --- history ---------------------------------------------------------------------

TEST(GitPackHistory, FilterBranchAndFilterRepo) {
  EXPECT_TRUE(
      Git("git filter-branch --force --index-filter x -- --all").HasClass("git.history.rewrite"));
  EXPECT_TRUE(Git("git filter-repo --path secrets.env --invert-paths").Held());
  EXPECT_FALSE(Git("git filter-repo --analyze").Held());
  RecordingContext standalone;
  packs_a_test::Run(GitPack(), Words("git-filter-repo --path x --invert-paths"), standalone);
  EXPECT_TRUE(standalone.Held());
}

TEST(GitPackHistory, ReflogExpireNowAndGcPruneNow) {
  EXPECT_TRUE(Git("git reflog expire --expire=now --all").HasClass("git.history.delete"));
  EXPECT_TRUE(Git("git reflog expire --expire-unreachable=now --all").Held());
  EXPECT_TRUE(Git("git gc --prune=now").HasClass("git.history.delete"));
  EXPECT_TRUE(Git("git gc --aggressive --prune=all").Held());
  EXPECT_TRUE(Git("git prune").Held());
}

TEST(GitPackHistory, RoutineMaintenanceIsAllowed) {
  EXPECT_TRUE(Git("git gc").actions.empty());
  EXPECT_TRUE(Git("git reflog").actions.empty());
  EXPECT_TRUE(Git("git reflog expire --all").actions.empty());
  EXPECT_TRUE(Git("git prune -n").actions.empty());
}

// --- clean -------------------------------------------------------------------------

TEST(GitPackClean, ForceCleansAreHeld) {
  RecordingContext fdx = Git("git clean -fdx");
  EXPECT_TRUE(fdx.HasClass("git.clean"));
  EXPECT_EQ(fdx.MaxSeverity(), Severity::kHigh);
  EXPECT_TRUE(Git("git clean -f").Held());
  EXPECT_TRUE(Git("git clean --force -d").Held());
  EXPECT_TRUE(Git("git -c clean.requireForce=false clean -d").Held());
}

TEST(GitPackClean, DryRunAndNoForceAreAllowed) {
  EXPECT_FALSE(Git("git clean -n -d").Held());
  EXPECT_FALSE(Git("git clean -fdn").Held());
  EXPECT_FALSE(Git("git clean --dry-run -fdx").Held());
  EXPECT_TRUE(Git("git clean -d").actions.empty());
}

// --- branches, stash, refs ---------------------------------------------------------

TEST(GitPackBranch, ForceDeleteIsHeld) {
  RecordingContext ctx = Git("git branch -D feature/payments-refactor");
  EXPECT_TRUE(ctx.HasClass("git.branch.delete"));
  EXPECT_TRUE(ctx.Held());
  EXPECT_TRUE(Git("git branch --delete --force old").Held());
  EXPECT_TRUE(Git("git branch -d -f old").Held());
  EXPECT_EQ(Git("git branch -D main").MaxSeverity(), Severity::kHigh);
}

TEST(GitPackBranch, SafeDeleteAndEverydayAreAllowed) {
  EXPECT_FALSE(Git("git branch -d feature/merged-login").Held());
  EXPECT_FALSE(Git("git branch -dr origin/old").Held());
  EXPECT_FALSE(Git("git branch -rD origin/old").Held());
  EXPECT_TRUE(Git("git branch -M main").actions.empty());
  EXPECT_TRUE(Git("git branch feature/x").actions.empty());
  EXPECT_TRUE(Git("git branch -a").actions.empty());
}

TEST(GitPackStash, ClearAndDropAreHeld) {
  EXPECT_EQ(Git("git stash clear").MaxSeverity(), Severity::kHigh);
  EXPECT_TRUE(Git("git stash drop stash@{0}").Held());
  EXPECT_TRUE(Git("git stash").actions.empty());
  EXPECT_TRUE(Git("git stash pop").actions.empty());
  EXPECT_TRUE(Git("git stash list").actions.empty());
}

TEST(GitPackRefs, UpdateRefDelete) {
  RecordingContext ctx = Git("git update-ref -d refs/heads/main");
  EXPECT_TRUE(ctx.HasClass("git.branch.delete"));
  EXPECT_EQ(ctx.MaxSeverity(), Severity::kHigh);
  EXPECT_TRUE(Git("git update-ref refs/heads/x HEAD").actions.empty());
}

// --- discarding uncommitted work ---------------------------------------------------

TEST(GitPackDiscard, WholeTreeDiscardsAreHeld) {
  for (const char* line :
       {"git checkout -- .", "git checkout .", "git restore .", "git restore --worktree :/",
        "git reset --hard", "git reset --hard HEAD~3", "git checkout -f main",
        "git switch --discard-changes main"}) {
    RecordingContext ctx = Git(line);
    EXPECT_TRUE(ctx.HasClass("git.discard")) << line;
    EXPECT_TRUE(ctx.Held()) << line;
  }
}

TEST(GitPackDiscard, NamedFilesAndSwitchingAreAllowed) {
  EXPECT_FALSE(Git("git checkout -- src/app.py").Held());
  EXPECT_FALSE(Git("git restore src/app.py").Held());
  EXPECT_TRUE(Git("git restore --staged .").actions.empty());
  EXPECT_TRUE(Git("git checkout main").actions.empty());
  EXPECT_TRUE(Git("git checkout -b feature/x").actions.empty());
  EXPECT_TRUE(Git("git switch main").actions.empty());
  EXPECT_TRUE(Git("git reset --soft HEAD~1").actions.empty());
  EXPECT_TRUE(Git("git reset HEAD file").actions.empty());
}

// --- reads and traps ---------------------------------------------------------------

TEST(GitPackReads, EverydayCommandsEmitNothing) {
  for (const char* line : {"git status", "git log --oneline", "git diff HEAD", "git fetch --prune",
                           "git pull --rebase", "git commit -m x", "git show HEAD",
                           "git rm --cached secrets.env", "git tag -l"}) {
    EXPECT_TRUE(Git(line).actions.empty()) << line;
  }
}

TEST(GitPackReads, ScaryWordsAsDataAreNotFlagged) {
  RecordingContext log;
  packs_a_test::Run(
      GitPack(),
      Make({Word("git"), Word("log"), Word("--oneline"), Word("--grep=rm -rf")}, "/home/dev/app"),
      log);
  EXPECT_TRUE(log.actions.empty());
  RecordingContext commit;
  packs_a_test::Run(GitPack(),
                    Make({Word("git"), Word("commit"), Word("-m"),
                          Word("git push --force; git clean -fdx; rm -rf old scripts")},
                         "/home/dev/app"),
                    commit);
  EXPECT_TRUE(commit.actions.empty());
  EXPECT_TRUE(Git("git log -S reset --hard").actions.empty());
}

TEST(GitPackMisc, AliasRunsShell) {
  RecordingContext ctx;
  packs_a_test::Run(GitPack(),
                    Make({Word("git"), Word("-c"), Word("alias.x=!rm -rf /"), Word("x")}), ctx);
  ASSERT_EQ(ctx.scripts.size(), 1u);
  EXPECT_EQ(ctx.scripts[0], "rm -rf /");
}

TEST(GitPackMisc, UnknownSubcommandIsOpaque) {
  RecordingContext ctx;
  packs_a_test::Run(GitPack(), Make({Word("git"), Unknown("$SUB"), Word("x")}), ctx);
  EXPECT_TRUE(ctx.Held());
}

TEST(GitPackMisc, BareGitDoesNothing) {
  EXPECT_TRUE(Git("git").actions.empty());
}

}  // namespace
}  // namespace dualkey::shell
