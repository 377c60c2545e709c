// [breaker], [rate_limit] and [blast_radius]: later layers override, project
// layers only tighten, and bad values are errors rather than silent defaults.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "policy/policy.h"

namespace dualkey::policy {
namespace {

Layer Parse(const std::string& text, LayerKind kind, std::vector<std::string>* errors) {
  Layer layer;
  ParseLayer(text, kind, "test.toml", &layer, errors);
  return layer;
}

TEST(PolicyLimitsTest, ParsesKnownKeysAndRejectsBadOnes) {
  std::vector<std::string> errors;
  Layer layer = Parse(
      "[breaker]\nattempts = 5\nwindow_seconds = 120\n"
      "[rate_limit]\nburst = 10\nper_minute = 2.5\n"
      "[blast_radius]\nhold_rows_over = 500\nhold_table_fraction_over = 0.05\n",
      LayerKind::kUser, &errors);
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(layer.limits.size(), 6u);

  for (const char* bad : {"[breaker]\nattempts = 0\n", "[breaker]\nattempts = 2.5\n",
                          "[breaker]\nattempts = \"3\"\n", "[breaker]\nattemps = 3\n",
                          "[blast_radius]\nhold_table_fraction_over = 2\n", "breaker = 3\n"}) {
    errors.clear();
    Parse(bad, LayerKind::kUser, &errors);
    EXPECT_FALSE(errors.empty()) << bad;
  }
}

class PolicyLimitsFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dualkey-limits-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_ / "project" / ".git");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  Sources Files() {
    Sources sources;
    sources.system_path = dir_ / "system.toml";
    sources.user_path = dir_ / "user.toml";
    sources.project_dir = dir_ / "project";
    return sources;
  }
  std::filesystem::path dir_;
};

TEST_F(PolicyLimitsFiles, UserOverridesProjectOnlyTightens) {
  Write("user.toml", "[breaker]\nattempts = 10\nwindow_seconds = 30\n");
  Write("project/.dualkey.toml",
        "[breaker]\nattempts = 20\nwindow_seconds = 300\n[blast_radius]\nhold_rows_over = 5000\n");
  Policy policy = Load(Files());
  ASSERT_TRUE(policy.errors.empty()) << policy.errors.front();
  // The user raised attempts to 10; the project's 20 would loosen: ignored.
  EXPECT_EQ(policy.limits.breaker_attempts, 10);
  // A longer window is tighter: the project may lengthen it.
  EXPECT_EQ(policy.limits.breaker_window_seconds, 300);
  EXPECT_EQ(policy.limits.hold_rows_over, 1000);
}

TEST_F(PolicyLimitsFiles, LockedUserLayerOnlyTightens) {
  Write("system.toml", "lock_user = true\n[breaker]\nattempts = 2\n");
  Write("user.toml", "[breaker]\nattempts = 50\n[rate_limit]\nburst = 5\n");
  Policy policy = Load(Files());
  ASSERT_TRUE(policy.errors.empty()) << policy.errors.front();
  EXPECT_EQ(policy.limits.breaker_attempts, 2);
  EXPECT_EQ(policy.limits.rate_burst, 5);
}

TEST(PolicyLimitsTest, DefaultsAreTheIssuesNumbers) {
  Policy policy = Builtin();
  EXPECT_EQ(policy.limits.breaker_attempts, 3);
  EXPECT_EQ(policy.limits.breaker_window_seconds, 60);
  EXPECT_EQ(policy.limits.hold_rows_over, 1000);
  EXPECT_DOUBLE_EQ(policy.limits.hold_table_fraction_over, 0.10);
  // A migration lock table (1 row) qualifies for a snapshot; the demo's
  // customers table (2,000 rows) does not.
  EXPECT_EQ(policy.limits.snapshot_max_rows, 100);
  EXPECT_EQ(policy.limits.snapshot_max_bytes, 1 << 20);
  EXPECT_DOUBLE_EQ(policy.limits.snapshot_max_table_fraction, 1.0);
}

TEST_F(PolicyLimitsFiles, SnapshotThresholdsOnlyShrinkInAProject) {
  Write("user.toml", "[snapshot]\nmax_rows = 500\nmax_bytes = 4194304\n");
  Write("project/.dualkey.toml",
        "[snapshot]\nmax_rows = 5000\nmax_bytes = 1024\nmax_table_fraction = 0.5\n");
  Policy policy = Load(Files());
  ASSERT_TRUE(policy.errors.empty()) << policy.errors.front();
  EXPECT_EQ(policy.limits.snapshot_max_rows, 500);
  EXPECT_EQ(policy.limits.snapshot_max_bytes, 1024);
  EXPECT_DOUBLE_EQ(policy.limits.snapshot_max_table_fraction, 0.5);
  std::vector<std::string> errors;
  Parse("[snapshot]\nmax_rows = 1.5\n", LayerKind::kUser, &errors);
  EXPECT_FALSE(errors.empty());
  errors.clear();
  Parse("[snapshot]\nmax_table_fraction = 1.5\n", LayerKind::kUser, &errors);
  EXPECT_FALSE(errors.empty());
  errors.clear();
  Parse("[snapshot]\nrows = 3\n", LayerKind::kUser, &errors);
  EXPECT_FALSE(errors.empty());
}

}  // namespace
}  // namespace dualkey::policy
