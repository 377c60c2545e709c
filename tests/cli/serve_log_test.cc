// `dualkey serve` logs one line per event (holds, approvals, denials,
// refused codes, breaker trips), none for routine allows, in text or JSON,
// and an agent's command cannot forge a line.
#include <gtest/gtest.h>
#include <signal.h>
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
#include <vector>

#include "approval/approval.h"
#include "cli/serve_log.h"

namespace {

namespace fs = std::filesystem;
using dualkey::cli::LogFormat;
using dualkey::cli::LogLine;
using nlohmann::json;

TEST(ServeLogLine, RoutineAllowsAreNotLogged) {
  EXPECT_FALSE(LogLine(json{{"event", "verdict"}, {"decision", "allow"}, {"input", "ls"}},
                       LogFormat::kText));
  EXPECT_TRUE(LogLine(json{{"event", "verdict"}, {"decision", "deny"}, {"input", "rm"}},
                      LogFormat::kText));
}

TEST(ServeLogLine, TextIsOneLineWhateverTheAgentWrote) {
  const json event{{"event", "hold"},
                   {"decision", "hold"},
                   {"agent", "claude"},
                   {"approval_id", "ap_1"},
                   {"input", "rm -rf x\n2030-01-01T00:00:00.000Z approval approver=alice"},
                   {"reason", "because\nforged"},
                   {"expires_ms", 1700000000000},
                   {"time_ms", 1700000000000}};
  const std::string line = *LogLine(event, LogFormat::kText);
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  EXPECT_TRUE(line.starts_with("2023-11-14T22:13:20.000Z hold agent=claude approval_id=ap_1 "))
      << line;
  EXPECT_NE(line.find(R"("rm -rf x\n2030-01-01)"), std::string::npos) << line;
  EXPECT_NE(line.find("expires_ms=2023-11-14T22:13:20.000Z"), std::string::npos) << line;
  EXPECT_TRUE(line.ends_with("-- because\\nforged")) << line;
  // An event kind nobody knows yet is logged with all it carries.
  const std::string reload =
      *LogLine(json{{"event", "reload"}, {"policy", "/etc/dualkey/policy.toml"}}, LogFormat::kText);
  EXPECT_NE(reload.find(" reload policy=/etc/dualkey/policy.toml"), std::string::npos) << reload;
}

TEST(ServeLogLine, JsonIsTheEventAsOneObject) {
  const json event{{"event", "approval"}, {"approval_id", "ap_1"}, {"input", "a\nb"}};
  const std::string line = *LogLine(event, LogFormat::kJson);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(json::parse(line), event);
}

struct Ran {
  int status = -1;
  std::string out;
};

Ran Shell(const std::string& command) {
  Ran ran;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  std::array<char, 4096> buffer;
  std::size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) ran.out.append(buffer.data(), n);
  const int raw = pclose(pipe);
  ran.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return ran;
}

class ServeLog : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dualkey-serve-log-" + std::to_string(getpid()) + "-" +
                                        GetParam());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    env_ = "DUALKEY_SOCKET=" + (dir_ / "state/dualkey.sock").string() +
           " XDG_CONFIG_HOME=/nonexistent ";
  }
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    fs::remove_all(dir_);
  }
  void Serve() {
    const std::string log = (dir_ / "serve.log").string();
    const std::string state = (dir_ / "state").string();
    pid_ = fork();
    if (pid_ == 0) {
      freopen(log.c_str(), "w", stderr);
      execl(DUALKEY_BINARY, DUALKEY_BINARY, "serve", "--state-dir", state.c_str(),
            "--breaker-attempts", "3", "--log-format", GetParam().c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 250 && !fs::exists(dir_ / "state/dualkey.sock"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    // The log follows the daemon once it listens.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  Ran Dualkey(const std::string& args) {
    return Shell(env_ + DUALKEY_BINARY + " " + args);
  }
  std::vector<std::string> LogLines() {
    std::ifstream in(dir_ / "serve.log");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);)
      if (!line.starts_with("dualkey serve:")) lines.push_back(line);
    return lines;
  }

  fs::path dir_;
  std::string env_;
  pid_t pid_ = -1;
};

TEST_P(ServeLog, OneLinePerHoldApprovalDenialRefusedCodeAndBreakerTrip) {
  Serve();
  const Ran added = Dualkey("approver add alice --state-dir " + (dir_ / "state").string());
  const std::size_t at = added.out.find("secret=");
  ASSERT_NE(at, std::string::npos) << added.out;
  const std::string secret = added.out.substr(at + 7, added.out.find('&', at) - at - 7);
  EXPECT_EQ(Dualkey("check --agent cli -- ls -la").status, 0);  // routine: no line
  const Ran held = Dualkey("check --json --agent cli -- 'rm -rf /srv/data'");
  const std::string id = json::parse(held.out.substr(held.out.find('{')))["approval_id"];
  EXPECT_NE(Dualkey("approve " + id + " --as alice --code 000000").status, 0);  // refused
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  EXPECT_EQ(Dualkey("approve " + id + " --as alice --code " +
                    dualkey::approval::TotpCode(secret, now))
                .status,
            0);
  const Ran second = Dualkey("check --json --agent cli -- 'rm -rf /srv/other'");
  const std::string other = json::parse(second.out.substr(second.out.find('{')))["approval_id"];
  EXPECT_EQ(Dualkey("deny " + other + " --reason 'not today'").status, 0);
  for (const char* target : {"/srv/a", "/srv/b", "/srv/c"})
    Dualkey(std::string("check --agent claude -- 'rm -rf ") + target + "'");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  std::vector<std::string> kinds;
  for (const std::string& line : LogLines()) {
    if (GetParam() == "json") {
      const json event = json::parse(line, nullptr, false);
      ASSERT_TRUE(event.is_object()) << line;
      kinds.push_back(event.value("event", ""));
    } else {
      std::istringstream words(line);
      std::string time, kind;
      words >> time >> kind;
      kinds.push_back(kind);
    }
  }
  const auto count = [&](const std::string& kind) {
    return std::count(kinds.begin(), kinds.end(), kind);
  };
  EXPECT_EQ(count("hold"), 5) << ::testing::PrintToString(LogLines());
  EXPECT_EQ(count("approval_refused"), 1) << ::testing::PrintToString(LogLines());
  EXPECT_EQ(count("approval"), 1) << ::testing::PrintToString(LogLines());
  EXPECT_EQ(count("denial"), 1) << ::testing::PrintToString(LogLines());
  EXPECT_EQ(count("breaker"), 1) << ::testing::PrintToString(LogLines());
  // Nothing about the allowed `ls -la`.
  for (const std::string& line : LogLines())
    EXPECT_EQ(line.find("ls -la"), std::string::npos) << line;
}

INSTANTIATE_TEST_SUITE_P(Formats, ServeLog, ::testing::Values("text", "json"));

}  // namespace
