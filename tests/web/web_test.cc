// The approver's page end to end: a real `dualkey serve --http` (its own
// state directory, Unix socket and loopback port), the real hook binary as
// the agent, and Debian's chromium driven by playwright-core (npm, test
// tooling only, installed with `npm ci` into the build tree) with a virtual
// WebAuthn authenticator. tests/web/node/page_test.js prints one line per
// check; each becomes an expectation here. Screenshots of the pending view,
// of one hold and of the History view (desktop and phone width) land in
// BUILD/web_screenshots.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "approval/approval.h"
#include "base/free_port.h"
#include "client/client.h"
#include "support/daemon.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using dualkey::base::FreeLoopbackPort;
using dualkey::test_support::Output;
using dualkey::test_support::Quote;

// Standard output and errors together.
Output Shell(const std::string& command) {
  return dualkey::test_support::Shell(command + " 2>&1");
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
    port_ = FreeLoopbackPort();
    const std::vector<std::string> extra = ExtraArgs();
    std::vector<std::string> args = {"--http", "127.0.0.1:" + std::to_string(port_)};
    args.insert(args.end(), extra.begin(), extra.end());
    if (!daemon_.Start(state_.string(), socket_, args)) FAIL() << "the daemon did not start";
  }

  void TearDown() override {
    daemon_.Stop();
    fs::remove_all(state_);
  }

  // The breaker would trip on the tests' own held attempts; its test sets it.
  virtual std::vector<std::string> ExtraArgs() {
    return {"--breaker-attempts", "1000", "--rate-burst", "1000"};
  }

  Output Run(const std::string& args) {
    return Shell(dualkey::test_support::CliCommand((state_ / "home").string(), socket_,
                                                   state_.string(), args));
  }

  // Runs tests/web/node/page_test.js (DK_SCENARIO `scenario`); each of its
  // lines becomes an expectation. Returns how many checks it made.
  int RunBrowser(const std::string& scenario, const std::string& enrol_link,
                 const std::string& bob_secret, const fs::path& target) {
    const NodeTools& node = NodeTools::Get();
    const std::string origin = "http://localhost:" + std::to_string(port_);
    const fs::path shots = fs::path(DUALKEY_BINARY).parent_path() / "web_screenshots";
    const std::string command =
        "cd " + Quote(node.dir().string()) + " && DK_SCENARIO=" + Quote(scenario) +
        " DK_URL=" + Quote(origin) + " DK_BINARY=" + Quote(DUALKEY_BINARY) +
        " DK_SOCKET=" + Quote(socket_) + " DK_HOME=" + Quote((state_ / "home").string()) +
        " DK_STATE=" + Quote(state_.string()) +
        " DK_WORK=" + Quote((state_ / "home" / "app").string()) +
        " DK_TARGET=" + Quote(target.string()) + " DK_ENROL_LINK=" + Quote(enrol_link) +
        " DK_SECRET_BOB=" + Quote(bob_secret) + " DK_SHOTS=" + Quote(shots.string()) +
        " timeout 240 node page_test.js";
    Output run = Shell(command);
    std::istringstream lines(run.out);
    int checks = 0;
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("ok ")) {
        ++checks;
      } else if (line.starts_with("not ok ")) {
        ++checks;
        ADD_FAILURE() << line;
      } else if (line.starts_with("figures: ")) {
        std::cout << "[ page ] " << line << "\n";
      }
    }
    EXPECT_EQ(run.status, 0) << run.out;
    return checks;
  }

  // A one-time passkey enrolment link for `name`, started by the daemon's user.
  std::string EnrolLink(const std::string& name) {
    Output link = Run("approver passkey " + name + " --json");
    EXPECT_EQ(link.status, 0) << link.out;
    const std::size_t brace = link.out.find('{');
    if (brace == std::string::npos) return "";
    json started = json::parse(link.out.substr(brace), nullptr, false);
    if (!started.contains("link")) return "";
    return started["link"];
  }

  // False (a skip) without node, npm and chromium; on CI (which installs
  // them with scripts/install-deps.sh) a failure.
  bool BrowserReady() {
    if (NodeTools::Get().error().empty()) return true;
    if (std::getenv("CI") != nullptr) ADD_FAILURE() << NodeTools::Get().error();
    return false;
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
  dualkey::test_support::DaemonProcess daemon_;
};

TEST_F(Page, ApproverApprovesOneExactActionWithAPasskeyInChromium) {
  if (!BrowserReady()) GTEST_SKIP() << NodeTools::Get().error();
  const std::string alice = AddApprover("alice", "");
  ASSERT_FALSE(alice.empty());
  // Bob is vouched for by alice's code (the step before, so bob's own
  // sign-in below may use the current one).
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  const std::string bob =
      AddApprover("bob", " --as alice --code " + dualkey::approval::TotpCode(alice, now - 30));
  ASSERT_FALSE(bob.empty());

  // The daemon's user (this test) starts alice's passkey enrolment: a link.
  const std::string link = EnrolLink("alice");
  EXPECT_TRUE(link.starts_with("http://localhost:" + std::to_string(port_) + "/#enrol=")) << link;

  // The user's policy: the archive needs two people.
  fs::create_directories(state_ / "home" / ".config" / "dualkey");
  std::ofstream(state_ / "home" / ".config" / "dualkey" / "policy.toml")
      << "[[rules]]\nname = \"the archive needs two people\"\ntarget = \"*archive*\"\n"
         "decision = \"hold2\"\n";

  // What the agent will destroy: 12 files of notes in its user's home.
  const fs::path target = state_ / "home" / "notes";
  fs::create_directories(target / "sub");
  for (int i = 0; i < 12; ++i)
    std::ofstream(target / (i < 6 ? "" : "sub") / ("f" + std::to_string(i))) << "some bytes\n";

  EXPECT_GE(RunBrowser("", link, bob, target), 30) << "the browser run stopped early";

  // The approval is in the audit log, with its factor and reason.
  std::ifstream audit(state_ / "audit.jsonl");
  std::stringstream log;
  log << audit.rdbuf();
  EXPECT_NE(log.str().find("\"factor\":\"passkey\""), std::string::npos);
  EXPECT_NE(log.str().find("checked the directory: scratch data"), std::string::npos);
  EXPECT_NE(log.str().find("no: not in this sprint"), std::string::npos);
}

class Breaker : public Page {
 protected:
  std::vector<std::string> ExtraArgs() override { return {"--breaker-attempts", "2"}; }
};

TEST_F(Breaker, AFrozenAgentShowsLiveAndIsResetWithAPasskey) {
  if (!BrowserReady()) GTEST_SKIP() << NodeTools::Get().error();
  ASSERT_FALSE(AddApprover("alice", "").empty());
  EXPECT_GE(RunBrowser("breaker", EnrolLink("alice"), "", state_ / "none"),
            5);  // every check of the scenario ran
}

// A webhook receiver on a loopback port: records each POST; requests to
// /flaky fail with 500 the first time.
class Receiver {
 public:
  struct Received {
    std::string path;
    std::string headers;
    std::string body;
  };
  Receiver() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t length = sizeof address;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    listen(fd_, 16);
    thread_ = std::thread([this] { Loop(); });
  }
  ~Receiver() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  std::vector<Received> Wait(std::size_t count, int timeout_ms) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                 [&] { return received_.size() >= count; });
    return received_;
  }

 private:
  void Loop() {
    while (!stop_) {
      const int client = accept(fd_, nullptr, nullptr);
      if (client < 0) continue;
      std::string data;
      char buffer[4096];
      std::size_t header_end = std::string::npos;
      std::size_t length = 0;
      while (true) {
        const ssize_t n = read(client, buffer, sizeof buffer);
        if (n <= 0) break;
        data.append(buffer, static_cast<std::size_t>(n));
        if (header_end == std::string::npos &&
            (header_end = data.find("\r\n\r\n")) != std::string::npos) {
          std::string lower = data.substr(0, header_end);
          for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          const std::size_t at = lower.find("content-length:");
          if (at != std::string::npos) length = std::stoul(lower.substr(at + 15));
        }
        if (header_end != std::string::npos && data.size() >= header_end + 4 + length) break;
      }
      Received r;
      r.path =
          data.substr(data.find(' ') + 1, data.find(' ', data.find(' ') + 1) - data.find(' ') - 1);
      r.headers = data.substr(0, header_end);
      r.body = header_end == std::string::npos ? "" : data.substr(header_end + 4);
      bool fail = false;
      {
        std::lock_guard lock(mu_);
        fail = r.path == "/flaky" && flaky_failed_++ == 0;
        received_.push_back(r);
      }
      cv_.notify_all();
      const std::string reply =
          fail ? "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
               : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
      (void)!write(client, reply.data(), reply.size());
      close(client);
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Received> received_;
  int flaky_failed_ = 0;
};

class Notify : public Page {
 protected:
  std::vector<std::string> ExtraArgs() override {
    const std::string base = "http://127.0.0.1:" + std::to_string(receiver_.port());
    return {"--breaker-attempts", "1000",
            "--notify",           "json=" + base + "/json",
            "--notify",           "slack=" + base + "/slack",
            "--notify",           "ntfy=" + base + "/ntfy",
            "--notify",           "json=" + base + "/flaky"};
  }
  Receiver receiver_;
};

TEST_F(Notify, AHoldIsPostedToEveryWebhookRedactedAndRetried) {
  const std::string secret = "ghp_" + std::string("Zq8vR2mXk7LpT4wN9sB3cY6dF1hJ5gA0eU");
  // The agent's call, with a token in it.
  std::ofstream(state_ / "hook.json")
      << json{{"session_id", "s"},
              {"hook_event_name", "PreToolUse"},
              {"tool_name", "Bash"},
              {"cwd", (state_ / "home" / "app").string()},
              {"tool_input",
               {{"command", "rm -rf " + (state_ / "home" / "notes").string() +
                                " && curl -H 'Authorization: token " + secret +
                                "' https://api.github.com/user"}}}}
             .dump();
  const auto asked = std::chrono::steady_clock::now();
  Output held = Run("hook claude < " + Quote((state_ / "hook.json").string()));
  const auto answered = std::chrono::steady_clock::now();
  ASSERT_EQ(held.status, 2) << held.out;
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(answered - asked).count(), 2000)
      << "notifications never delay the decision";
  const std::size_t at = held.out.find("ap_");
  ASSERT_NE(at, std::string::npos) << held.out;
  const std::string id = held.out.substr(at, held.out.find_first_of(" :);", at) - at);

  // json, slack, ntfy, flaky (500), flaky again (200 after a backoff).
  std::vector<Receiver::Received> got = receiver_.Wait(5, 15000);
  ASSERT_GE(got.size(), 5u);
  int flaky = 0;
  for (const Receiver::Received& r : got) {
    EXPECT_EQ(r.body.find(secret), std::string::npos)
        << "a token leaked to " << r.path << ": " << r.body;
    EXPECT_NE(r.body.find("rm -rf"), std::string::npos) << r.body;
    if (r.path == "/json" || r.path == "/flaky") {
      json body = json::parse(r.body, nullptr, false);
      ASSERT_TRUE(body.is_object()) << r.body;
      EXPECT_EQ(body["event"], "hold");
      EXPECT_EQ(body["approval_id"], id);
      EXPECT_EQ(body["agent"], "claude");
      EXPECT_EQ(body["link"], "http://localhost:" + std::to_string(port_) + "/#hold=" + id);
      EXPECT_FALSE(body["code"].get<std::string>().empty());
      flaky += r.path == "/flaky";
    } else if (r.path == "/slack") {
      json body = json::parse(r.body, nullptr, false);
      ASSERT_TRUE(body.is_object() && body["text"].is_string()) << r.body;
      EXPECT_NE(body["text"].get<std::string>().find("dualkey approve"), std::string::npos);
    } else if (r.path == "/ntfy") {
      EXPECT_NE(r.headers.find("Title: dualkey: approval"), std::string::npos) << r.headers;
      EXPECT_NE(r.headers.find("Click: http://localhost:"), std::string::npos) << r.headers;
      EXPECT_NE(r.headers.find("text/plain"), std::string::npos) << r.headers;
    } else {
      ADD_FAILURE() << "unexpected path " << r.path;
    }
  }
  EXPECT_EQ(flaky, 2) << "the failed delivery was retried once";

  // Each delivery audited; the retried one says so.
  std::string log;
  for (int i = 0; i < 50; ++i) {
    std::ifstream audit(state_ / "audit.jsonl");
    std::stringstream text;
    text << audit.rdbuf();
    log = text.str();
    if (log.find("\"attempts\":2") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::size_t sent = 0;
  for (std::size_t p = 0; (p = log.find("notify_sent", p)) != std::string::npos; ++p) ++sent;
  EXPECT_EQ(sent, 4u) << log;
  EXPECT_NE(log.find("\"attempts\":2"), std::string::npos);
  EXPECT_EQ(log.find("/flaky"), std::string::npos)
      << "webhook URLs (secrets) are not audited in full";

  // Asking again about the same hold is not news.
  Run("hook claude < " + Quote((state_ / "hook.json").string()));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(receiver_.Wait(6, 100).size(), got.size());

  // `dualkey notify test` sends a sample to each target and reports.
  Output test = Run("notify test");
  EXPECT_EQ(test.status, 0) << test.out;
  EXPECT_NE(test.out.find("sent     json http://127.0.0.1:"), std::string::npos) << test.out;
}

TEST_F(Page, NotifyTestWithoutTargetsSaysHowToConfigureThem) {
  Output test = Run("notify test");
  EXPECT_EQ(test.status, 1) << test.out;
  EXPECT_NE(test.out.find("--notify"), std::string::npos) << test.out;
}

TEST(NotifyTarget, BadSpecsAreRefusedAtStart) {
  const std::string state =
      (fs::path(DUALKEY_BINARY).parent_path() / ("web-notify-bad-" + std::to_string(getpid())))
          .string();
  for (const std::string& spec : {"teams=http://x/", "json=ftp://x/", "json=", "slack"}) {
    Output started = Shell(std::string(DUALKEY_BINARY) + " serve --state " + Quote(state) +
                           " --socket " + Quote(state + "/d.sock") + " --notify " + Quote(spec));
    EXPECT_EQ(started.status, 2) << spec << ": " << started.out;
    EXPECT_NE(started.out.find("--notify"), std::string::npos) << started.out;
  }
  fs::remove_all(state);
}

}  // namespace
