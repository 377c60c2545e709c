// The pack format: parsing with line-numbered errors, the compiled binary
// form, the catalog of user packs (trusted and add-only), and every built-in
// pack's own test cases.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "guard/guard.h"
#include "packs/catalog.h"
#include "packs/spec.h"
#include "policy/policy.h"
#include "shell/shell.h"

namespace dualkey::packs {
namespace {

namespace fs = std::filesystem;

constexpr const char* kGood = R"(
[pack]
name = "acme"
description = "acmectl, the in-house CLI"

[[tool]]
names = ["acmectl"]
value_options = ["--ctx"]
destroy_class = "acme.delete"

[[rule]]
name = "cache-purge"
command = "acmectl cache purge"
class = "cache.clear"
severity = "low"
reason = "purges a cache that rebuilds"

[[rule]]
name = "tenant-wipe"
command = "acmectl tenants wipe|nuke"
with = ["--all"]
class = "acme.tenant.delete"
severity = "critical"

[[rule]]
name = "exec"
command = "acmectl exec"
run = "after-dashes"

[[test]]
command = "acmectl cache purge"
expect = "allow"

[[test]]
command = "acmectl tenants wipe --all"
expect = "hold"
class = "acme.tenant.delete"
)";

std::vector<std::string> Errors(std::string_view text) {
  Pack pack;
  std::vector<std::string> errors;
  EXPECT_FALSE(ParsePack(text, "p.toml", &pack, &errors));
  return errors;
}

bool AnyContains(const std::vector<std::string>& errors, std::string_view needle) {
  for (const std::string& error : errors)
    if (error.find(needle) != std::string::npos) return true;
  return false;
}

TEST(PackFormat, ParsesAGoodPack) {
  Pack pack;
  std::vector<std::string> errors;
  ASSERT_TRUE(ParsePack(kGood, "acme.toml", &pack, &errors)) << errors.front();
  EXPECT_EQ(pack.name, "acme");
  ASSERT_EQ(pack.tools.size(), 1u);
  EXPECT_EQ(pack.tools[0].destroy_class, "acme.delete");
  ASSERT_EQ(pack.rules.size(), 3u);
  EXPECT_EQ(pack.rules[1].path, (std::vector<std::string>{"tenants", "wipe|nuke"}));
  EXPECT_EQ(pack.rules[1].severity, Severity::kCritical);
  EXPECT_EQ(pack.rules[2].run.kind, Source::Kind::kAfterDashes);
  EXPECT_EQ(pack.tests.size(), 2u);
  EXPECT_GT(pack.rules[0].line, 0);
}

TEST(PackFormat, ErrorsNameFileAndLine) {
  auto errors = Errors(
      "[pack]\nname = \"x\"\n[[tool]]\nnames = [\"x\"]\n[[rule]]\nname = \"r\"\n"
      "command = \"x go\"\nclass = \"a\"\nseverity = \"huge\"\n");
  EXPECT_TRUE(AnyContains(errors, "p.toml:9:")) << errors.front();
  EXPECT_TRUE(AnyContains(errors, "severity"));
  EXPECT_TRUE(AnyContains(Errors("[pack]\nname = \"x\"\n[[tool]]\nnames = [\"x\"]\nbogus = 1\n"),
                          "p.toml:5: unknown key \"bogus\""));
  EXPECT_TRUE(AnyContains(Errors("[pack\n"), "p.toml:1"));
  EXPECT_TRUE(AnyContains(Errors("[pack]\nname = \"x\"\n"), "at least one [[tool]]"));
  // A rule for a tool the pack does not name, a rule with two effects.
  EXPECT_TRUE(AnyContains(Errors("[pack]\nname = \"x\"\n[[tool]]\nnames = [\"x\"]\n[[rule]]\n"
                                 "name = \"r\"\ncommand = \"y go\"\nclass = \"a\"\n"),
                          "which no [[tool]] of this pack names"));
  EXPECT_TRUE(
      AnyContains(Errors("[pack]\nname = \"x\"\n[[tool]]\nnames = [\"x\"]\n[[rule]]\n"
                         "name = \"r\"\ncommand = \"x go\"\nclass = \"a\"\nrun = \"operands\"\n"),
                  "exactly one effect"));
  EXPECT_TRUE(
      AnyContains(Errors("[pack]\nname = \"x\"\n[[tool]]\nnames = [\"a/b\"]\n"), "basename"));
}

TEST(PackFormat, BinaryFormRoundTripsAndRefusesDamage) {
  Pack pack;
  std::vector<std::string> errors;
  ASSERT_TRUE(ParsePack(kGood, "acme.toml", &pack, &errors));
  const std::string blob = Serialize(pack);
  Pack back;
  ASSERT_TRUE(Deserialize(blob, &back));
  EXPECT_EQ(Serialize(back), blob);
  EXPECT_EQ(back.rules[1].with, pack.rules[1].with);
  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, blob.size() / 2, blob.size() - 1})
    EXPECT_FALSE(Deserialize(blob.substr(0, cut), &back)) << cut;
  std::string bad_version = blob;
  bad_version[0] = 99;
  EXPECT_FALSE(Deserialize(bad_version, &back));
}

TEST(BuiltinPacks, AllReadBackAndNameTheirTools) {
  ASSERT_GE(BuiltinPackCount(), 60u);
  for (std::size_t i = 0; i < BuiltinPackCount(); ++i) {
    const Pack* pack = BuiltinPack(i);
    ASSERT_NE(pack, nullptr) << i;
    EXPECT_FALSE(pack->tools.empty()) << pack->name;
    for (const Tool& tool : pack->tools)
      for (const std::string& name : tool.names) {
        std::size_t index = 0;
        bool plain = false;
        ASSERT_TRUE(FindBuiltinTool(name, &index, &plain)) << name;
        EXPECT_EQ(index, i) << name;
      }
  }
  std::size_t index = 0;
  bool plain = false;
  EXPECT_FALSE(FindBuiltinTool("no-such-tool-here", &index, &plain));
}

// Every built-in pack's own [[test]] cases get the decision they expect.
TEST(BuiltinPacks, OwnTestCasesPass) {
  policy::Policy policy = policy::Builtin();
  int cases = 0;
  for (std::size_t i = 0; i < BuiltinPackCount(); ++i) {
    const Pack* pack = BuiltinPack(i);
    ASSERT_NE(pack, nullptr);
    for (const packs::Test& test : pack->tests) {
      guard::Request request;
      request.input = test.command;
      request.cwd = test.cwd.empty() ? "/home/dev/app" : test.cwd;
      request.home = "/home/dev";
      Decision got = guard::Check(request, policy).verdict.decision;
      ++cases;
      if (test.expect == "allow")
        EXPECT_EQ(got, Decision::kAllow) << pack->source << ":" << test.line << " " << test.command;
      else if (test.expect == "hold2")
        EXPECT_GE(got, Decision::kHold2) << pack->source << ":" << test.line << " " << test.command;
      else
        EXPECT_NE(got, Decision::kAllow) << pack->source << ":" << test.line << " " << test.command;
    }
  }
  EXPECT_GT(cases, 400);
}

class UserPacks : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("dualkey-packs-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "etc/packs");
    fs::create_directories(root_ / "home/.config/dualkey/packs");
    fs::create_directories(root_ / "repo/.git");
    fs::create_directories(root_ / "repo/.dualkey/packs");
    fs::create_directories(root_ / "repo/src");
  }
  void TearDown() override { fs::remove_all(root_); }
  void Write(const fs::path& rel, const std::string& text) { std::ofstream(root_ / rel) << text; }

  Decision Decide(const std::string& command, bool protected_install = false,
                  std::vector<std::string>* errors = nullptr) {
    Sources sources;
    sources.system_dir = (root_ / "etc/packs").string();
    sources.user_dir = (root_ / "home/.config/dualkey/packs").string();
    sources.project_dir = (root_ / "repo/src").string();
    sources.protected_install = protected_install;
    std::vector<std::string> local;
    policy::Policy policy = policy::Builtin();
    policy.packs = Load(sources, errors != nullptr ? errors : &local);
    guard::Request request;
    request.input = command;
    request.cwd = (root_ / "repo/src").string();
    request.home = (root_ / "home").string();
    return guard::Check(request, policy).verdict.decision;
  }

  fs::path root_;
};

TEST_F(UserPacks, UnknownToolHeldUntilAPackSaysOtherwise) {
  EXPECT_EQ(Decide("acmectl cache purge"), Decision::kHold);
  Write("home/.config/dualkey/packs/acme.toml", kGood);
  EXPECT_EQ(Decide("acmectl cache purge"), Decision::kAllow);
  EXPECT_EQ(Decide("acmectl tenants nuke --all"), Decision::kHold);
  EXPECT_EQ(Decide("acmectl exec -- rm -rf /srv/data"), Decision::kHold);
  // Subcommands no rule names still go through the verb rule.
  EXPECT_EQ(Decide("acmectl buckets delete b1"), Decision::kHold);
  EXPECT_EQ(Decide("acmectl buckets list"), Decision::kAllow);
}

TEST_F(UserPacks, ProjectAndProtectedUserPacksOnlyAddHolds) {
  // A project pack that calls a purge harmless cannot loosen it...
  Write("repo/.dualkey/packs/acme.toml", kGood);
  EXPECT_EQ(Decide("acmectl cache purge"), Decision::kHold);
  // ...but its holds count.
  EXPECT_EQ(Decide("acmectl tenants wipe --all"), Decision::kHold);
  fs::remove(root_ / "repo/.dualkey/packs/acme.toml");
  // A project pack that holds an ordinary command adds the hold.
  Write("repo/.dualkey/packs/strict.toml",
        "[pack]\nname = \"strict\"\n[[tool]]\nnames = [\"acmectl\"]\n[[rule]]\nname = \"deploy\"\n"
        "command = \"acmectl deploy\"\nclass = \"acme.deploy\"\nseverity = \"high\"\n");
  EXPECT_EQ(Decide("acmectl deploy web"), Decision::kHold);
  // On a protected install the user's packs are add-only too.
  Write("home/.config/dualkey/packs/acme.toml", kGood);
  EXPECT_EQ(Decide("acmectl cache purge", /*protected_install=*/true), Decision::kHold);
  EXPECT_EQ(Decide("acmectl cache purge", /*protected_install=*/false), Decision::kAllow);
}

TEST_F(UserPacks, PlainOnlyFromTrustedPacks) {
  const std::string plain =
      "[pack]\nname = \"p\"\n[[tool]]\nnames = [\"acmectl\"]\nkind = \"plain\"\n";
  Write("repo/.dualkey/packs/plain.toml", plain);
  EXPECT_EQ(Decide("acmectl tenants purge"), Decision::kHold);
  Write("etc/packs/plain.toml", plain);
  EXPECT_EQ(Decide("acmectl tenants purge"), Decision::kAllow);
}

TEST_F(UserPacks, ABrokenPackIsReportedAndLeavesTheRestInForce) {
  Write("home/.config/dualkey/packs/broken.toml", "[pack]\nname = \"b\"\n[[tool]]\nnames = 3\n");
  std::vector<std::string> errors;
  EXPECT_EQ(Decide("kubectl delete ns prod", false, &errors), Decision::kHold);
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors.front().find("broken.toml:4"), std::string::npos) << errors.front();
  EXPECT_EQ(Decide("gh repo delete acme/x"), Decision::kHold);
}

TEST_F(UserPacks, PolicyLoadReportsPackErrorsAndHoldsDestruction) {
  Write("home/.config/dualkey/packs/broken.toml", "[pack\n");
  policy::Sources sources;
  sources.system_path = (root_ / "etc/policy.toml").string();
  sources.user_path = (root_ / "home/.config/dualkey/policy.toml").string();
  sources.project_dir = (root_ / "repo/src").string();
  policy::Policy policy = policy::Load(sources);
  ASSERT_FALSE(policy.errors.empty());
  EXPECT_NE(policy.errors.front().find("broken.toml:1"), std::string::npos);
}

}  // namespace
}  // namespace dualkey::packs
