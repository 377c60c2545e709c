// One ordinary file deleted or emptied: low impact where a git work tree can
// restore it (or it is the agent's scratch), held outside every work tree
// when it exists and holds data. Real files in a temporary directory.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "policy/policy.h"
#include "shell/shell.h"

namespace dualkey::shell {
namespace {

namespace fs = std::filesystem;

class Unversioned : public ::testing::Test {
 protected:
  void SetUp() override {
    // Under the home, not /tmp: temp files are disposable by their name.
    root_ = fs::path(getenv("HOME") ? getenv("HOME") : "/root") /
            ("dk-unversioned-" + std::to_string(getpid()));
    fs::create_directories(root_ / "data");
    fs::create_directories(root_ / "repo");
    std::ofstream(root_ / "data/orders.csv") << "id,total\n1,10\n2,20\n";
    std::ofstream(root_ / "data/empty.csv");
    std::ofstream(root_ / "repo/notes.txt") << "scratch\n";
    ASSERT_EQ(system(("git init -q " + (root_ / "repo").string()).c_str()), 0);
  }
  void TearDown() override { fs::remove_all(root_); }

  Verdict Check(const std::string& command) {
    Analysis analysis = Analyze(command, {root_.string(), "/home/nobody-here"});
    return policy::Decide(std::move(analysis.actions));
  }
  std::string P(const std::string& relative) const { return (root_ / relative).string(); }

  fs::path root_;
};

TEST_F(Unversioned, DataOutsideEveryWorkTreeIsHeld) {
  for (const std::string& command :
       {"rm " + P("data/orders.csv"), "cp /dev/null " + P("data/orders.csv"),
        "sed -i 'd' " + P("data/orders.csv"), ": > " + P("data/orders.csv"),
        "truncate -s 0 " + P("data/orders.csv"), std::string("rm data/orders.csv")}) {
    const Verdict verdict = Check(command);
    EXPECT_EQ(verdict.decision, Decision::kHold) << command;
    ASSERT_FALSE(verdict.actions.empty()) << command;
    EXPECT_NE(verdict.reason.find("outside version control"), std::string::npos)
        << command << ": " << verdict.reason;
  }
  EXPECT_TRUE(fs::exists(P("data/orders.csv")));
}

TEST_F(Unversioned, WorkTreesEmptyFilesAndNewFilesStayAllowed) {
  for (const std::string& command :
       {"rm " + P("repo/notes.txt"), ": > " + P("repo/notes.txt"), "rm " + P("data/empty.csv"),
        "rm " + P("data/missing.csv"),
        "echo x > " + P("data/new.csv") + " && rm " + P("data/new.csv"),
        "echo 'id' >> " + P("data/orders.csv"), "sed -i 's/10/11/' " + P("data/orders.csv")})
    EXPECT_EQ(Check(command).decision, Decision::kAllow) << command;
}

}  // namespace
}  // namespace dualkey::shell
