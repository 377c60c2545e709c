// `dualkey serve` logs one line per event (holds, approvals, denials,
// refused codes, breaker trips), none for routine allows, in text or JSON,
// and an agent's command cannot forge a line.
#include "cli/serve_log.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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

namespace {

namespace fs = std::filesystem;
using dualkey::cli::LogFormat;
using dualkey::cli::LogLine;
using nlohmann::json;

TEST(ServeLogLine, RoutineAllowsAreNotLogged) {
  EXPECT_FALSE(LogLine(json{{"event", "verdict"}, {"decision", "allow"}, {"input", "ls"}},
                       LogFormat::kText));
  EXPECT_TRUE(
      LogLine(json{{"event", "verdict"}, {"decision", "deny"}, {"input", "rm"}}, LogFormat::kText));
  // ... unless asked for (--log-allows).
  EXPECT_TRUE(LogLine(json{{"event", "verdict"}, {"decision", "allow"}, {"input", "ls"}},
                      LogFormat::kText, /*allows=*/true));
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
  EXPECT_NE(line.find(" expires=2023-11-14T22:13:20.000Z"), std::string::npos) << line;
  EXPECT_TRUE(line.ends_with("-- because\\nforged")) << line;
  // Values with spaces are quoted; why it happened comes last, as text.
  const std::string breaker = *LogLine(json{{"event", "breaker"},
                                            {"agent", "claude"},
                                            {"attempts", 3},
                                            {"mode", "single user"},
                                            {"why", "3 distinct destructive attempts"}},
                                       LogFormat::kText);
  EXPECT_NE(breaker.find(" breaker agent=claude attempts=3 mode=\"single user\" -- 3 distinct"),
            std::string::npos)
      << breaker;
  // A probe that would allow is as routine as an allow.
  EXPECT_FALSE(LogLine(json{{"event", "probe"}, {"decision", "allow"}}, LogFormat::kText));
  EXPECT_TRUE(LogLine(json{{"event", "probe"}, {"decision", "hold"}}, LogFormat::kText));
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
    dir_ = fs::temp_directory_path() /
           ("dualkey-serve-log-" + std::to_string(getpid()) + "-" + GetParam());
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
  // Starts `dualkey serve` with its stderr in serve.log; returns once the
  // log's start line is there (or after 10 s).
  void Serve(const std::vector<std::string>& extra = {}) {
    const std::string log = (dir_ / "serve.log").string();
    const std::string state = (dir_ / "state").string();
    std::vector<std::string> args = {DUALKEY_BINARY,       "serve", "--state-dir", state,
                                     "--breaker-attempts", "3"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      if (!freopen(log.c_str(), "w", stderr)) _exit(126);
      execv(argv[0], argv.data());
      _exit(127);
    }
    const bool quiet = std::find(extra.begin(), extra.end(), "--quiet") != extra.end();
    for (int i = 0; i < 500; ++i) {
      if (fs::exists(dir_ / "state/dualkey.sock") && (quiet || !LogLines().empty())) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  // SIGTERM, as systemd stops it; the exit status.
  int Stop() {
    int status = -1;
    kill(pid_, SIGTERM);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  // The kind of each line: the second word of a text line, "event" of a
  // JSON one (every JSON line must be a JSON object).
  std::vector<std::string> Kinds() {
    std::vector<std::string> kinds;
    for (const std::string& line : LogLines()) {
      if (GetParam() == "json") {
        const json event = json::parse(line, nullptr, false);
        EXPECT_TRUE(event.is_object()) << line;
        kinds.push_back(event.is_object() ? event.value("event", "") : "");
      } else {
        std::istringstream words(line);
        std::string time, kind;
        words >> time >> kind;
        kinds.push_back(kind);
      }
    }
    return kinds;
  }
  Ran Dualkey(const std::string& args) { return Shell(env_ + DUALKEY_BINARY + " " + args); }
  // Every line of the log: with a log format, the daemon's own start-up
  // notes are events too, so there is nothing to skip.
  std::vector<std::string> LogLines() {
    std::ifstream in(dir_ / "serve.log");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  fs::path dir_;
  std::string env_;
  pid_t pid_ = -1;
};

TEST_P(ServeLog, OneLinePerHoldApprovalDenialRefusedCodeBreakerTripAndReset) {
  Serve({"--log-format", GetParam()});
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
  const Ran approved =
      Dualkey("approve " + id + " --as alice --code " + dualkey::approval::TotpCode(secret, now));
  EXPECT_EQ(approved.status, 0) << approved.out;
  const Ran second = Dualkey("check --json --agent cli -- 'rm -rf /srv/other'");
  const std::string other = json::parse(second.out.substr(second.out.find('{')))["approval_id"];
  EXPECT_EQ(Dualkey("deny " + other + " --reason 'not today'").status, 0);
  for (const char* target : {"/srv/a", "/srv/b", "/srv/c"})
    Dualkey(std::string("check --agent claude -- 'rm -rf ") + target + "'");
  // The next TOTP step: the approval spent this one.
  const Ran reset = Dualkey("breaker reset claude --as alice --code " +
                            dualkey::approval::TotpCode(secret, now + 30));
  EXPECT_EQ(reset.status, 0) << reset.out;
  EXPECT_EQ(Stop(), 0);

  const std::vector<std::string> lines = LogLines();
  const std::vector<std::string> kinds = Kinds();
  const auto count = [&](const std::string& kind) {
    return std::count(kinds.begin(), kinds.end(), kind);
  };
  const std::string all = ::testing::PrintToString(lines);
  ASSERT_FALSE(kinds.empty()) << all;
  EXPECT_EQ(kinds.front(), "start") << all;  // where it listens, once it does
  EXPECT_EQ(kinds.back(), "stop") << all;
  EXPECT_EQ(count("approver_added"), 1) << all;
  EXPECT_EQ(count("hold"), 5) << all;
  EXPECT_EQ(count("auth_failed"), 1) << all;  // the refused code
  EXPECT_EQ(count("approval"), 1) << all;
  EXPECT_EQ(count("denial"), 1) << all;
  EXPECT_EQ(count("breaker"), 1) << all;
  EXPECT_EQ(count("breaker_reset"), 1) << all;
  // Nothing about the allowed `ls -la`.
  for (const std::string& line : lines) EXPECT_EQ(line.find("ls -la"), std::string::npos) << line;
  if (GetParam() == "text") {
    // Readable: where it listens, who was held for what, who approved.
    EXPECT_NE(lines.front().find("socket=" + (dir_ / "state/dualkey.sock").string()),
              std::string::npos)
        << lines.front();
    bool held_line = false, approval_line = false;
    for (const std::string& line : lines) {
      held_line = held_line || (line.find(" hold ") != std::string::npos &&
                                line.find("agent=cli") != std::string::npos &&
                                line.find("\"rm -rf /srv/data\"") != std::string::npos);
      approval_line = approval_line || (line.find(" approval ") != std::string::npos &&
                                        line.find(id) != std::string::npos &&
                                        line.find("alice") != std::string::npos);
    }
    EXPECT_TRUE(held_line) << all;
    EXPECT_TRUE(approval_line) << all;
  }
}

// --quiet: nothing on stderr at all, the audit log still has everything.
TEST_P(ServeLog, QuietLogsNothing) {
  Serve({"--quiet", "--log-format", GetParam()});
  EXPECT_EQ(Dualkey("check --agent cli -- 'rm -rf /srv/data'").status, 1);
  EXPECT_EQ(Stop(), 0);
  EXPECT_EQ(LogLines(), std::vector<std::string>{});
  const Ran tail = Dualkey("audit tail --json --file " + (dir_ / "state/audit.jsonl").string());
  EXPECT_NE(tail.out.find("rm -rf /srv/data"), std::string::npos) << tail.out;
}

// --log-allows: the routine allows too, for following what a hook asks.
TEST_P(ServeLog, LogAllowsLogsRoutineAllows) {
  Serve({"--log-allows", "--log-format", GetParam()});
  EXPECT_EQ(Dualkey("check --agent cli -- ls -la").status, 0);
  EXPECT_EQ(Stop(), 0);
  const std::vector<std::string> kinds = Kinds();
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "verdict"), 1)
      << ::testing::PrintToString(LogLines());
}

INSTANTIATE_TEST_SUITE_P(Formats, ServeLog, ::testing::Values("text", "json"));

}  // namespace
