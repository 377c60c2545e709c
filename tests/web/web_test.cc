// The approver's page end to end: a real `dualkey serve --http` (its own
// state directory, Unix socket and loopback port), the real hook binary as
// the agent, and Debian's chromium driven by playwright-core (npm, test
// tooling only, installed with `npm ci` into the build tree) with a virtual
// WebAuthn authenticator. tests/web/node/page_test.js prints one line per
// check; each becomes an expectation here. Screenshots of the pending view
// and of one hold (desktop and phone width) land in BUILD/web_screenshots.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
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

#include "approval/approval.h"
#include "daemon/client.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Output {
  int status = -1;
  std::string out;
};

std::string Quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'')
      out += "'\\''";
    else
      out.push_back(c);
  }
  return out + "'";
}

Output Shell(const std::string& command) {
  Output output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return output;
  std::array<char, 4096> buffer;
  std::size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    output.out.append(buffer.data(), n);
  const int status = pclose(pipe);
  output.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return output;
}

std::string RealHome() {
  const char* home = std::getenv("HOME");
  return home != nullptr ? home : "";
}

// tests/web/node installed with `npm ci` into BUILD/web_node once (again
// when package-lock.json changes), under an exclusive lock so parallel test
// processes never see a half-written node_modules.
class NodeTools {
 public:
  static const NodeTools& Get() {
    static NodeTools tools;
    return tools;
  }
  const std::string& error() const { return error_; }
  const fs::path& dir() const { return dir_; }

 private:
  NodeTools() {
    const fs::path source = fs::path(DUALKEY_SOURCE_DIR) / "tests/web/node";
    dir_ = fs::path(DUALKEY_BINARY).parent_path() / "web_node";
    if (Shell("command -v node && command -v npm && command -v chromium").status != 0) {
      error_ = "node, npm and chromium are needed for the page tests (scripts/install-deps.sh)";
      return;
    }
    std::error_code ec;
    fs::create_directories(dir_, ec);
    const int lock_fd = open((dir_ / ".install-lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX) != 0) {
      error_ = "cannot lock " + (dir_ / ".install-lock").string();
      if (lock_fd >= 0) close(lock_fd);
      return;
    }
    for (const char* file : {"package.json", "package-lock.json", "page_test.js"})
      fs::copy_file(source / file, dir_ / file, fs::copy_options::overwrite_existing, ec);
    std::ifstream lock_in(source / "package-lock.json");
    std::stringstream lock;
    lock << lock_in.rdbuf();
    const fs::path stamp = dir_ / "node_modules" / ".dualkey-lock";
    std::ifstream stamp_in(stamp);
    std::stringstream stamped;
    stamped << stamp_in.rdbuf();
    if (lock.str().empty() || stamped.str() != lock.str()) {
      const std::string cache =
          RealHome().empty() ? "" : "npm_config_cache=" + Quote(RealHome() + "/.npm") + " ";
      Output installed = Shell("cd " + Quote(dir_.string()) + " && " + cache +
                               "npm ci --no-audit --no-fund --loglevel=error");
      if (installed.status != 0)
        error_ = "npm ci in " + dir_.string() + " failed (the npm registry must be reachable):\n" +
                 installed.out;
      else
        std::ofstream(stamp, std::ios::binary) << lock.str();
    }
    close(lock_fd);
  }

  fs::path dir_;
  std::string error_;
};

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

class Page : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = fs::path(DUALKEY_BINARY).parent_path() /
             ("web-test-" + std::to_string(getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(state_);
    fs::create_directories(state_ / "home");
    fs::create_directories(state_ / "home" / "app");
    socket_ = (state_ / "d.sock").string();
    port_ = FreePort();
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<std::string> args = {
          DUALKEY_BINARY,       "serve", "--state", state_.string(),
          "--socket",           socket_, "--http",  "127.0.0.1:" + std::to_string(port_),
          "--breaker-attempts", "1000",  "--quiet"};
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    for (int i = 0; i < 250; ++i) {
      if (dualkey::daemon::CallAt(socket_, json{{"op", "status"}}, 200).ok()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "the daemon did not start";
  }

  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status;
      waitpid(pid_, &status, 0);
    }
    fs::remove_all(state_);
  }

  Output Run(const std::string& args) {
    return Shell("HOME=" + Quote((state_ / "home").string()) + " DUALKEY_SOCKET=" + Quote(socket_) +
                 " DUALKEY_STATE_DIR=" + Quote(state_.string()) + " " + DUALKEY_BINARY + " " +
                 args);
  }

  // The approver's TOTP secret, from the otpauth URI.
  std::string AddApprover(const std::string& name, const std::string& vouch) {
    Output added = Run("approver add " + name + vouch + " --json");
    EXPECT_EQ(added.status, 0) << added.out;
    std::optional<json> reply;
    std::istringstream lines(added.out);
    for (std::string line; std::getline(lines, line);)
      if (line.starts_with("{")) reply = json::parse(line, nullptr, false);
    if (!reply || !reply->contains("secret")) {
      ADD_FAILURE() << added.out;
      return "";
    }
    return (*reply)["secret"];
  }

  fs::path state_;
  std::string socket_;
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(Page, ApproverApprovesOneExactActionWithAPasskeyInChromium) {
  const NodeTools& node = NodeTools::Get();
  if (!node.error().empty()) {
    // CI installs node, npm and chromium (scripts/install-deps.sh): there this fails.
    if (std::getenv("CI") != nullptr) FAIL() << node.error();
    GTEST_SKIP() << node.error();
  }
  const std::string alice = AddApprover("alice", "");
  ASSERT_FALSE(alice.empty());
  // Bob is vouched for by alice's code (the step before, so bob's own
  // sign-in below may use the current one).
  const std::string bob =
      AddApprover("bob", " --as alice --code " +
                             dualkey::approval::TotpCode(
                                 alice, std::chrono::duration_cast<std::chrono::seconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                                .count() -
                                            30));
  ASSERT_FALSE(bob.empty());

  // The daemon's user (this test) starts alice's passkey enrolment: a link.
  Output link = Run("approver passkey alice --json");
  ASSERT_EQ(link.status, 0) << link.out;
  json started = json::parse(link.out.substr(link.out.find('{')), nullptr, false);
  ASSERT_TRUE(started.contains("link")) << link.out;
  const std::string origin = "http://localhost:" + std::to_string(port_);
  EXPECT_TRUE(started["link"].get<std::string>().starts_with(origin + "/#enrol="))
      << started.dump();

  // What the agent will destroy: 12 files of notes in its user's home.
  const fs::path target = state_ / "home" / "notes";
  fs::create_directories(target / "sub");
  for (int i = 0; i < 12; ++i)
    std::ofstream(target / (i < 6 ? "" : "sub") / ("f" + std::to_string(i))) << "some bytes\n";

  const fs::path shots = fs::path(DUALKEY_BINARY).parent_path() / "web_screenshots";
  const std::string command =
      "cd " + Quote(node.dir().string()) + " && DK_URL=" + Quote(origin) +
      " DK_BINARY=" + Quote(DUALKEY_BINARY) + " DK_SOCKET=" + Quote(socket_) +
      " DK_HOME=" + Quote((state_ / "home").string()) + " DK_STATE=" + Quote(state_.string()) +
      " DK_WORK=" + Quote((state_ / "home" / "app").string()) +
      " DK_TARGET=" + Quote(target.string()) +
      " DK_ENROL_LINK=" + Quote(started["link"].get<std::string>()) +
      " DK_SECRET_BOB=" + Quote(bob) + " DK_SHOTS=" + Quote(shots.string()) +
      " timeout 240 node page_test.js";
  Output run = Shell(command);
  std::istringstream lines(run.out);
  int checks = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("ok ")) {
      ++checks;
      SUCCEED() << line;
    } else if (line.starts_with("not ok ")) {
      ++checks;
      ADD_FAILURE() << line;
    } else if (line.starts_with("figures: ")) {
      std::cout << "[ page ] " << line << "\n";
    }
  }
  EXPECT_EQ(run.status, 0) << run.out;
  EXPECT_GE(checks, 30) << "the browser run stopped early:\n" << run.out;

  // The approval is in the audit log, with its factor and reason.
  std::ifstream audit(state_ / "audit.jsonl");
  std::stringstream log;
  log << audit.rdbuf();
  EXPECT_NE(log.str().find("\"factor\":\"passkey\""), std::string::npos);
  EXPECT_NE(log.str().find("checked the directory: scratch data"), std::string::npos);
  EXPECT_NE(log.str().find("no: not in this sprint"), std::string::npos);
}

}  // namespace
