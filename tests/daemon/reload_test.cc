// SIGHUP reloads the daemon's system policy: an edit takes effect on reload
// (not before), a broken file is refused and the previous policy stays in
// force, and the journal (stderr), the audit log and `doctor` say why. The
// system policy is /etc/dualkey/policy.toml, so each test runs in a private
// mount namespace with a tmpfs there (root only; CI runs as root).
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "client/client.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

class Reload : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to mount over /etc/dualkey (CI runs as root)";
    // This test process only: its own mounts, a tmpfs over /etc/dualkey (no
    // install file there: single-user mode, system policy /etc/dualkey/policy.toml).
    if (unshare(CLONE_NEWNS) != 0) GTEST_SKIP() << "cannot make a mount namespace";
    ASSERT_EQ(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
    fs::create_directories("/etc/dualkey");
    ASSERT_EQ(mount("dualkey-reload-test", "/etc/dualkey", "tmpfs", 0, "mode=0755,size=1m"), 0);
    dir_ = fs::path(DUALKEY_BINARY).parent_path() /
           ("reload-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "state");
    socket_ = (dir_ / "d.sock").string();
  }

  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  static void WritePolicy(const std::string& text) {
    // Written whole and renamed, as an editor or a package does.
    std::ofstream("/etc/dualkey/policy.toml.new") << text;
    fs::rename("/etc/dualkey/policy.toml.new", "/etc/dualkey/policy.toml");
  }

  void Start() {
    pid_ = fork();
    if (pid_ == 0) {
      const std::string log = (dir_ / "daemon.log").string();
      freopen(log.c_str(), "w", stderr);
      execl(DUALKEY_BINARY, DUALKEY_BINARY, "serve", "--state", (dir_ / "state").c_str(),
            "--socket", socket_.c_str(), "--breaker-attempts", "1000", nullptr);
      _exit(127);
    }
    for (int i = 0; i < 250; ++i) {
      if (dualkey::client::CallAt(socket_, json{{"op", "status"}}, 200).ok()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "the daemon did not start";
  }

  json Status() {
    auto reply = dualkey::client::CallAt(socket_, json{{"op", "status"}}, 2000);
    EXPECT_TRUE(reply.ok());
    return reply.ok() ? (*reply)["policy"] : json::object();
  }

  // Sends SIGHUP and waits until the daemon has handled it.
  void Hup() {
    const std::int64_t loaded = Status().value("loaded_ms", std::int64_t{0});
    const std::int64_t failed = Status().value("reload_failed_ms", std::int64_t{0});
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // a new millisecond
    ASSERT_EQ(kill(pid_, SIGHUP), 0);
    for (int i = 0; i < 200; ++i) {
      json now = Status();
      if (now.value("loaded_ms", std::int64_t{0}) != loaded ||
          now.value("reload_failed_ms", std::int64_t{0}) != failed)
        return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "the daemon did not reload";
  }

  std::string Decide(const std::string& command) {
    auto reply = dualkey::client::CallAt(socket_,
                                         json{{"op", "check"},
                                              {"channel", "shell"},
                                              {"input", command},
                                              {"cwd", "/tmp"},
                                              {"home", "/nonexistent-home"},
                                              {"agent", "claude"}},
                                         5000);
    EXPECT_TRUE(reply.ok());
    return reply.ok() ? (*reply).value("decision", "") : "";
  }

  fs::path dir_;
  std::string socket_;
  pid_t pid_ = -1;
};

constexpr const char* kScratchAllowed =
    "[[rules]]\nname = \"scratch\"\ntarget = [\"/srv/scratch/*\"]\ndecision = \"allow\"\n";
constexpr const char* kBuildAllowed =
    "[[rules]]\nname = \"build\"\ntarget = [\"/srv/build/*\"]\ndecision = \"allow\"\n";

TEST_F(Reload, AnEditTakesEffectOnSighupAndABrokenOneIsRefused) {
  WritePolicy(kScratchAllowed);
  Start();
  EXPECT_EQ(Decide("rm -rf /srv/scratch/x"), "allow");
  EXPECT_EQ(Decide("rm -rf /srv/build/x"), "hold");

  // An edit is not in force until the reload.
  WritePolicy(kBuildAllowed);
  EXPECT_EQ(Decide("rm -rf /srv/scratch/x"), "allow");
  Hup();
  EXPECT_EQ(Decide("rm -rf /srv/scratch/x"), "hold");
  EXPECT_EQ(Decide("rm -rf /srv/build/x"), "allow");
  EXPECT_FALSE(Status().contains("reload_failed_ms"));

  // A typo: refused, the previous policy stays in force.
  WritePolicy(std::string(kScratchAllowed) + "decsion = \"allow\"\n");
  Hup();
  const json status = Status();
  ASSERT_TRUE(status.contains("reload_errors")) << status.dump();
  EXPECT_NE(status["reload_errors"].dump().find("decsion"), std::string::npos) << status.dump();
  EXPECT_TRUE(status["errors"].empty());
  EXPECT_EQ(Decide("rm -rf /srv/build/x"), "allow");
  EXPECT_EQ(Decide("rm -rf /srv/scratch/x"), "hold");
  EXPECT_EQ(Decide("rm -rf /srv/data"), "hold");

  // The journal, the audit log and doctor say why.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const std::string log = ReadFile(dir_ / "daemon.log");
  EXPECT_NE(log.find("policy reload REFUSED"), std::string::npos) << log;
  EXPECT_NE(log.find("decsion"), std::string::npos) << log;
  const std::string audit = ReadFile(dir_ / "state/audit.jsonl");
  EXPECT_NE(audit.find("policy_reload"), std::string::npos);
  EXPECT_NE(audit.find("\"applied\":false"), std::string::npos) << audit;
  const std::string doctor_command = "HOME=" + dir_.string() + " DUALKEY_SOCKET=" + socket_ +
                                     " DUALKEY_STATE_DIR=" + (dir_ / "state").string() + " " +
                                     DUALKEY_BINARY + " doctor --json 2>/dev/null";
  FILE* pipe = popen(doctor_command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  std::array<char, 4096> buffer;
  std::size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  pclose(pipe);
  const json report = json::parse(out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << out;
  bool found = false;
  for (const json& check : report["checks"]) {
    if (check.value("id", "") != "policy_reload") continue;
    found = true;
    EXPECT_FALSE(check.value("ok", true));
    EXPECT_NE(check.value("detail", "").find("keeps the previous policy"), std::string::npos)
        << check.dump();
  }
  EXPECT_TRUE(found) << out;

  // Fixed and reloaded: in force, the refusal forgotten.
  WritePolicy(kScratchAllowed);
  Hup();
  EXPECT_FALSE(Status().contains("reload_failed_ms"));
  EXPECT_EQ(Decide("rm -rf /srv/scratch/x"), "allow");
}

TEST_F(Reload, ABrokenPolicyAtStartHoldsEveryDestructiveAction) {
  WritePolicy("[[rules]]\nname = \"all\"\ndecision = \"allow\"\nbogus = 1\n");
  Start();
  EXPECT_EQ(Decide("rm -rf /srv/scratch/x"), "hold");
  EXPECT_EQ(Decide("ls -la"), "allow");
  EXPECT_FALSE(Status()["errors"].empty());
  // Fixing it and reloading puts it in force.
  WritePolicy(kScratchAllowed);
  Hup();
  EXPECT_TRUE(Status()["errors"].empty());
  EXPECT_EQ(Decide("rm -rf /srv/scratch/x"), "allow");
}

}  // namespace
