#include "install/layout.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace dualkey::install {
namespace {

namespace fs = std::filesystem;

class LayoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dk-layout-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    chmod(dir_.c_str(), 0755);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text, mode_t mode = 0644) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    chmod(path.c_str(), mode);
    return path;
  }
  std::string dir_;
};

TEST_F(LayoutTest, NoInstallFileIsSingleUserModeFromTheEnvironment) {
  setenv("DUALKEY_STATE_DIR", "/tmp/dk-state-x", 1);
  unsetenv("DUALKEY_SOCKET");
  Result<Layout> layout = LoadLayout(dir_ + "/missing.toml");
  ASSERT_TRUE(layout.ok()) << layout.status().ToString();
  EXPECT_FALSE(layout->protected_install);
  EXPECT_EQ(layout->state_dir, "/tmp/dk-state-x");
  EXPECT_EQ(layout->socket_path, "/tmp/dk-state-x/dualkey.sock");
  unsetenv("DUALKEY_STATE_DIR");
}

TEST_F(LayoutTest, ARootOwnedInstallFileIsProtectedAndIgnoresTheEnvironment) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to own the file";
  setenv("DUALKEY_SOCKET", "/tmp/evil.sock", 1);
  Layout wanted;
  wanted.daemon_user = "root";
  wanted.state_dir = "/var/lib/dualkey-test";
  wanted.socket_path = "/run/dualkey-test/dualkey.sock";
  wanted.config_dir = "/etc/dualkey";
  std::string path = Write("install.toml", FormatInstallFile(wanted));
  Result<Layout> layout = LoadLayout(path);
  ASSERT_TRUE(layout.ok()) << layout.status().ToString();
  EXPECT_TRUE(layout->protected_install);
  EXPECT_EQ(layout->socket_path, "/run/dualkey-test/dualkey.sock");
  EXPECT_EQ(layout->state_dir, "/var/lib/dualkey-test");
  EXPECT_EQ(layout->daemon_uid, 0u);
  unsetenv("DUALKEY_SOCKET");
}

TEST_F(LayoutTest, AnInstallFileOthersCanWriteIsAnErrorNotSingleUserMode) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to own the file";
  std::string path = Write("install.toml", "[daemon]\nuser = \"root\"\n", 0666);
  Result<Layout> layout = LoadLayout(path);
  ASSERT_FALSE(layout.ok());
  EXPECT_TRUE(layout.status().Is(Status::Code::kPermissionDenied));
}

TEST_F(LayoutTest, AnInstallFileNotOwnedByRootIsAnError) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  std::string path = Write("install.toml", "[daemon]\nuser = \"root\"\n");
  ASSERT_EQ(chown(path.c_str(), 65534, 65534), 0);
  EXPECT_FALSE(LoadLayout(path).ok());
}

TEST_F(LayoutTest, AnUnknownDaemonUserOrBadTomlIsAnError) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to own the file";
  EXPECT_FALSE(LoadLayout(Write("a.toml", "[daemon]\nuser = \"no-such-user-dk\"\n")).ok());
  Result<Layout> bad = LoadLayout(Write("b.toml", "[daemon\nuser=\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().Is(Status::Code::kCorruption));
  EXPECT_FALSE(
      LoadLayout(Write("c.toml", "[daemon]\nuser = \"root\"\nsocket = \"rel.sock\"\n")).ok());
}

// A sandbox is the demo's own dualkey: every path under its directory,
// whatever the environment says.
TEST_F(LayoutTest, ASandboxTakesNothingFromTheEnvironment) {
  setenv("DUALKEY_SOCKET", "/tmp/elsewhere.sock", 1);
  setenv("DUALKEY_STATE_DIR", "/tmp/elsewhere", 1);
  Result<Layout> machine = LoadLayout(dir_ + "/missing.toml");
  ASSERT_TRUE(machine.ok());
  Result<Layout> sandbox = SandboxFor(machine, "/srv/demo", SandboxUse::kDecides, false);
  ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
  EXPECT_FALSE(sandbox->protected_install);
  EXPECT_EQ(sandbox->sandbox_dir, "/srv/demo");
  EXPECT_EQ(sandbox->state_dir, "/srv/demo/state");
  EXPECT_EQ(sandbox->socket_path, "/srv/demo/state/dualkey.sock");
  EXPECT_EQ(sandbox->config_dir, "/srv/demo/etc");
  EXPECT_FALSE(SandboxFor(machine, "relative/dir", SandboxUse::kDecides, false).ok());
  unsetenv("DUALKEY_SOCKET");
  unsetenv("DUALKEY_STATE_DIR");
}

// On a protected install a sandbox could take a hook to a daemon the agent
// runs: only the demo's own processes, and the commands that answer a
// sandbox's daemon, may use one. A broken install counts as protected.
TEST_F(LayoutTest, OnAProtectedInstallOnlyTheDemosProcessesMayDecideInASandbox) {
  Layout installed;
  installed.protected_install = true;
  const Result<Layout> machine = installed;
  Result<Layout> refused = SandboxFor(machine, "/home/u/evil", SandboxUse::kDecides, false);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().Is(Status::Code::kPermissionDenied));
  EXPECT_NE(refused.status().message().find("dualkey demo"), std::string::npos);
  EXPECT_TRUE(SandboxFor(machine, "/home/u/demo", SandboxUse::kDecides, true).ok());
  EXPECT_TRUE(SandboxFor(machine, "/home/u/demo", SandboxUse::kAnswers, false).ok());
  const Result<Layout> broken = Status::PermissionDenied("install file writable by others");
  EXPECT_FALSE(SandboxFor(broken, "/home/u/evil", SandboxUse::kDecides, false).ok());
}

TEST_F(LayoutTest, OnlyCommandsThatAnswerASandboxsDaemonAreAnswers) {
  for (const char* answers : {"pending", "approve", "deny", "watch", "breaker", "audit", "vault"})
    EXPECT_EQ(SandboxUseOf(answers), SandboxUse::kAnswers) << answers;
  for (const char* decides : {"hook", "check", "mcp", "pg-proxy", "gateway", "serve", "policy",
                              "install", "doctor", "demo", "--help", ""})
    EXPECT_EQ(SandboxUseOf(decides), SandboxUse::kDecides) << decides;
  // This test binary was not started by `dualkey demo`.
  EXPECT_FALSE(StartedByDemo());
}

}  // namespace
}  // namespace dualkey::install
