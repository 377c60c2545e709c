// What let a destructive attempt through: a policy file's rule is named (the
// weakness to fix), a classifier miss is not blamed on the policy, and a
// layer that may only tighten never counts as loosening.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "drill/internal/attempt.h"

namespace dualkey::drill::internal {
namespace {

namespace fs = std::filesystem;

class DrillPolicyTrace : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/dualkey-drill-trace-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    fs::create_directories(dir_ + "/home/project");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::trunc) << text;
  }
  policy::Policy Load(const std::string& system_text, const std::string& project_text = "") {
    policy::Sources sources;
    sources.system_path = dir_ + "/policy.toml";
    Write(sources.system_path, system_text);
    sources.user_path = "";
    sources.project_dir = dir_ + "/home/project";
    if (!project_text.empty()) Write(sources.project_dir + "/.dualkey.toml", project_text);
    return policy::Load(sources);
  }
  guard::Request Shell(const std::string& command) {
    guard::Request request;
    request.channel = Channel::kShell;
    request.input = command;
    // Where a real project would be (under /tmp the classifier rightly sees
    // disposable files); nothing runs.
    request.cwd = "/srv/app";
    request.home = "/home/dev";
    request.agent = "claude";
    return request;
  }
  std::string dir_;
};

TEST_F(DrillPolicyTrace, ASystemRuleThatAllowsIsNamedWithItsLine) {
  const policy::Policy p = Load(
      "# the team's exceptions\n\n[[rules]]\nname = \"let deletes run\"\n"
      "class = \"fs.delete*\"\ndecision = \"allow\"\n");
  ASSERT_TRUE(p.errors.empty()) << p.errors.front();
  const std::vector<Loosening> found = LooseningRules(p, Shell("rm -rf /srv/app/data"));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].rule, "let deletes run");
  EXPECT_EQ(found[0].path, dir_ + "/policy.toml");
  EXPECT_EQ(found[0].line, 3);
  EXPECT_EQ(found[0].layer, "system");
  EXPECT_EQ(found[0].Where(), "rule 'let deletes run' (" + dir_ + "/policy.toml:3)");
}

TEST_F(DrillPolicyTrace, HeldOrHarmlessOrMissedIsNotThePolicys) {
  const policy::Policy p = Load("[[rules]]\nclass = \"git.push.force\"\ndecision = \"allow\"\n");
  ASSERT_TRUE(p.errors.empty()) << p.errors.front();
  // Held: nothing to trace.
  EXPECT_TRUE(LooseningRules(p, Shell("rm -rf /srv/app/data")).empty());
  // Allowed without any rule lowering it.
  EXPECT_TRUE(LooseningRules(p, Shell("ls -la")).empty());
  // An unnamed rule is named by its place.
  const std::vector<Loosening> found = LooseningRules(p, Shell("git push --force origin main"));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].rule, "#1");
}

TEST_F(DrillPolicyTrace, ATightenOnlyLayerNeverLoosens) {
  const policy::Policy p = Load(
      "", "[[rules]]\nname = \"project says ok\"\nclass = \"fs.delete*\"\ndecision = \"allow\"\n");
  ASSERT_TRUE(p.errors.empty()) << p.errors.front();
  EXPECT_TRUE(LooseningRules(p, Shell("rm -rf /srv/app/data")).empty());
}

}  // namespace
}  // namespace dualkey::drill::internal
