// The whole shell guard through its public entry point: parse, evaluate,
// unwrap, classify.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/action.h"
#include "shell/shell.h"

namespace dualkey::shell {
namespace {

namespace fs = std::filesystem;

bool AnyDestructive(const Analysis& analysis) {
  for (const Action& action : analysis.actions)
    if (IsDestructive(action)) return true;
  return false;
}

class SqlFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dualkey-psqlf-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(SqlFile, PsqlFileIsReadAndClassifiedWhenLocal) {
  std::ofstream(dir_ / "drop.sql") << "-- cleanup\nSELECT 1;\nDROP TABLE orders;\n";
  std::ofstream(dir_ / "read.sql") << "SELECT count(*) FROM orders;\n";
  Options options{dir_.string(), "/home/dev"};
  EXPECT_TRUE(AnyDestructive(Analyze("psql -d app -f drop.sql", options)));
  EXPECT_FALSE(AnyDestructive(Analyze("psql -d app -f read.sql", options)));
  EXPECT_FALSE(AnyDestructive(Analyze("psql -d app -f " + (dir_ / "read.sql").string(), options)));
}

TEST_F(SqlFile, MissingOrRemoteFilesAreOpaque) {
  std::ofstream(dir_ / "read.sql") << "SELECT 1;\n";
  Options options{dir_.string(), "/home/dev"};
  EXPECT_TRUE(AnyDestructive(Analyze("psql -f nope.sql", options)));
  // On another host the local file says nothing about the remote one.
  EXPECT_TRUE(
      AnyDestructive(Analyze("ssh db1 'psql -f " + (dir_ / "read.sql").string() + "'", options)));
  EXPECT_TRUE(
      AnyDestructive(Analyze("docker exec pg psql -f " + (dir_ / "read.sql").string(), options)));
}

TEST(Analyze, UnparseableInputIsHeldWithTheError) {
  Analysis analysis = Analyze("echo 'unterminated", {"/home/dev/app", "/home/dev"});
  EXPECT_FALSE(analysis.parsed);
  EXPECT_NE(analysis.parse_error.find("offset"), std::string::npos);
  EXPECT_TRUE(AnyDestructive(analysis));
}

TEST(Analyze, OversizedInputIsHeld) {
  std::string huge(300 * 1024, 'a');
  EXPECT_TRUE(AnyDestructive(Analyze("echo " + huge, {"/", "/home/dev"})));
}

TEST(Analyze, DeepNestingIsHeldNotCrashed) {
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += "$(";
  EXPECT_TRUE(AnyDestructive(Analyze(deep, {"/", "/home/dev"})));
  // Each eval re-parses the rest: nesting beyond the limit is held even when
  // the innermost command is harmless, since what lies past it is unseen.
  std::string evals;
  for (int i = 0; i < 200; ++i) evals += "eval ";
  EXPECT_TRUE(AnyDestructive(Analyze(evals + "ls", {"/", "/home/dev"})));
  EXPECT_FALSE(AnyDestructive(Analyze("eval eval ls", {"/", "/home/dev"})));
}

TEST(Analyze, ReportsWhatRunsAtEachDepth) {
  Analysis analysis = Analyze("sudo bash -c 'rm -rf /srv/x'", {"/home/dev/app", "/home/dev"});
  ASSERT_EQ(analysis.commands.size(), 3u);
  EXPECT_EQ(analysis.commands[2].text, "rm -rf /srv/x");
  EXPECT_EQ(analysis.commands[2].depth, 2);
}

}  // namespace
}  // namespace dualkey::shell
