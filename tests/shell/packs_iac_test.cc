#include <gtest/gtest.h>

#include "recording_context.h"
#include "shell/internal/packs/packs.h"

namespace dualkey::shell {
namespace {

using testing::MakeInvocation;
using testing::RecordingContext;
using testing::RunPack;

RecordingContext Iac(std::initializer_list<std::string_view> words,
                     std::string cwd = "/home/dev/infra/prod") {
  RecordingContext ctx;
  Invocation inv = MakeInvocation(words, std::move(cwd));
  EXPECT_TRUE(RunPack(IacPack(), inv, ctx)) << inv.name();
  return ctx;
}

TEST(IacTerraform, DestroyIsHeldEvenWithAutoApprove) {
  auto ctx = Iac({"terraform", "destroy", "-auto-approve"});
  const Action* action = ctx.Find("iac.destroy");
  ASSERT_NE(action, nullptr);
  EXPECT_TRUE(IsDestructive(*action));
  EXPECT_EQ(action->targets[0], "/home/dev/infra/prod");
}

TEST(IacTerraform, ApplyDestroyIsDestroy) {
  EXPECT_TRUE(Iac({"terraform", "apply", "-destroy", "-auto-approve"}).HasClass("iac.destroy"));
  EXPECT_TRUE(Iac({"tofu", "apply", "--destroy"}).HasClass("iac.destroy"));
  EXPECT_TRUE(Iac({"terraform", "apply", "destroy.tfplan"}).HasClass("iac.destroy"));
}

TEST(IacTerraform, PlansAreReads) {
  auto plan = Iac({"terraform", "plan"});
  EXPECT_FALSE(plan.AnyDestructive());
  EXPECT_TRUE(plan.HasClass("read.only"));
  EXPECT_FALSE(Iac({"terraform", "plan", "-destroy"}).AnyDestructive());
  EXPECT_FALSE(Iac({"terraform", "plan", "-destroy", "-out=destroy.tfplan"}).AnyDestructive());
  EXPECT_FALSE(Iac({"terraform", "show", "-json"}).AnyDestructive());
  EXPECT_FALSE(Iac({"terraform", "output", "db_password"}).AnyDestructive());
}

TEST(IacTerraform, ChdirAndTargets) {
  auto ctx = Iac({"terraform", "-chdir=envs/prod", "destroy", "-target=aws_db_instance.main"},
                 "/home/dev/infra");
  const Action* action = ctx.Find("iac.destroy");
  ASSERT_NE(action, nullptr);
  ASSERT_EQ(action->targets.size(), 2u);
  EXPECT_EQ(action->targets[1], "aws_db_instance.main");
}

TEST(IacTerraform, PlainApplyLowReplaceHeld) {
  EXPECT_FALSE(Iac({"terraform", "apply", "-auto-approve"}).AnyDestructive());
  EXPECT_TRUE(Iac({"terraform", "apply", "-replace=aws_db_instance.main"}).AnyDestructive());
}

TEST(IacTerraform, StateCommands) {
  auto rm = Iac({"terraform", "state", "rm", "aws_s3_bucket.data"});
  ASSERT_TRUE(rm.HasClass("iac.state.delete"));
  EXPECT_TRUE(rm.AnyDestructive());
  EXPECT_TRUE(Iac({"terraform", "state", "push", "-force", "x.tfstate"}).AnyDestructive());
  EXPECT_FALSE(Iac({"terraform", "state", "list"}).AnyDestructive());
  EXPECT_FALSE(Iac({"terraform", "state", "mv", "a", "b"}).AnyDestructive());
}

TEST(IacTerraform, WorkspaceDeleteOnlyHeldWithForce) {
  EXPECT_TRUE(Iac({"terraform", "workspace", "delete", "-force", "prod"}).AnyDestructive());
  EXPECT_FALSE(Iac({"terraform", "workspace", "delete", "feature-x"}).AnyDestructive());
  EXPECT_FALSE(Iac({"terraform", "workspace", "list"}).AnyDestructive());
}

TEST(IacTerraform, TaintAndUnlockAreLow) {
  EXPECT_FALSE(Iac({"terraform", "taint", "aws_instance.web"}).AnyDestructive());
  EXPECT_FALSE(Iac({"terraform", "force-unlock", "-force", "abc"}).AnyDestructive());
}

TEST(IacTerragrunt, RunAllDestroyIsCritical) {
  auto ctx = Iac({"terragrunt", "run-all", "destroy"});
  const Action* action = ctx.Find("iac.destroy");
  ASSERT_NE(action, nullptr);
  EXPECT_EQ(action->severity, Severity::kCritical);
  EXPECT_TRUE(Iac({"terragrunt", "run", "--all", "--", "destroy"}).HasClass("iac.destroy"));
  EXPECT_TRUE(Iac({"terragrunt", "destroy"}).HasClass("iac.destroy"));
  EXPECT_FALSE(Iac({"terragrunt", "run-all", "plan"}).AnyDestructive());
}

TEST(IacPulumi, DestroyHeldPreviewRead) {
  auto ctx = Iac({"pulumi", "destroy", "--yes", "--stack", "prod"}, "/home/dev/infra");
  const Action* action = ctx.Find("iac.destroy");
  ASSERT_NE(action, nullptr);
  EXPECT_EQ(action->targets[0], "prod");
  EXPECT_FALSE(Iac({"pulumi", "preview", "--stack", "prod"}).AnyDestructive());
  EXPECT_FALSE(Iac({"pulumi", "destroy", "--preview-only"}).AnyDestructive());
  EXPECT_FALSE(Iac({"pulumi", "-s", "destroy", "preview"}).AnyDestructive());
}

TEST(IacPulumi, StackRmAndStateDelete) {
  EXPECT_TRUE(Iac({"pulumi", "stack", "rm", "dev", "--yes"}).HasClass("iac.state.delete"));
  EXPECT_TRUE(Iac({"pulumi", "state", "delete", "urn:x"}).AnyDestructive());
  EXPECT_FALSE(Iac({"pulumi", "stack", "ls"}).AnyDestructive());
  EXPECT_FALSE(Iac({"pulumi", "up", "--yes"}).AnyDestructive());
}

TEST(IacStackTools, DestroyVerbs) {
  EXPECT_TRUE(Iac({"cdk", "destroy", "--force", "ProdStack"}).HasClass("iac.destroy"));
  EXPECT_TRUE(Iac({"serverless", "remove", "--stage", "prod"}).HasClass("iac.destroy"));
  EXPECT_TRUE(Iac({"sls", "remove"}).HasClass("iac.destroy"));
  EXPECT_TRUE(Iac({"sam", "delete", "--no-prompts"}).HasClass("iac.destroy"));
  EXPECT_TRUE(Iac({"copilot", "app", "delete"}).HasClass("iac.destroy"));
  EXPECT_FALSE(Iac({"cdk", "diff"}).AnyDestructive());
  EXPECT_FALSE(Iac({"cdk", "deploy", "--all"}).AnyDestructive());
  EXPECT_FALSE(Iac({"serverless", "deploy", "--stage", "remove"}).AnyDestructive());
}

}  // namespace
}  // namespace dualkey::shell

namespace dualkey::shell {
namespace {

TEST(IacUnknown, UnknownActionIsOpaque) {
  EXPECT_TRUE(Iac({"terraform", "$ACTION", "-auto-approve"}).HasClass("opaque.exec"));
  EXPECT_TRUE(Iac({"pulumi", "$CMD", "--yes"}).AnyDestructive());
}

}  // namespace
}  // namespace dualkey::shell
