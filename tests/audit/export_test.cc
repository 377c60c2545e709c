// `dualkey audit export`: JSON lines and RFC 5424 syslog lines, and --follow
// printing records as they are appended, across a writer that closes and
// opens the log again (a daemon restart).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "audit/audit.h"

namespace {

namespace fs = std::filesystem;

class Export : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dualkey-export-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    options_.path = (dir_ / "audit.jsonl").string();
    options_.key_path = (dir_ / "audit.key").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<dualkey::audit::Log> Open() {
    auto log = dualkey::audit::Log::Open(options_);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }
  static void Append(dualkey::audit::Log& log, const std::string& kind, const std::string& fields) {
    auto appended = log.Append({kind, fields});
    ASSERT_TRUE(appended.ok()) << appended.status().ToString();
  }
  static std::string ReadFile(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  static int Lines(const std::string& text) {
    int n = 0;
    for (char c : text) n += c == '\n';
    return n;
  }

  fs::path dir_;
  dualkey::audit::OpenOptions options_;
};

TEST_F(Export, JsonAndSyslog) {
  {
    auto log = Open();
    Append(*log, "verdict", R"({"decision":"allow","input":"ls"})");
    Append(*log, "hold", R"({"decision":"hold","input":"rm -rf /srv/x ]\"q"})");
    Append(*log, "audit_gap", R"({"lost":3,"source":"pg_proxy"})");
  }
  const std::string exe = DUALKEY_BINARY;
  std::string json_out = (dir_ / "out.json").string(), syslog_out = (dir_ / "out.syslog").string();
  ASSERT_EQ(system((exe + " audit export --file " + options_.path + " > " + json_out).c_str()), 0);
  ASSERT_EQ(
      system((exe + " audit export --format syslog --file " + options_.path + " > " + syslog_out)
                 .c_str()),
      0);
  const std::string json_text = ReadFile(json_out);
  ASSERT_EQ(Lines(json_text), 3) << json_text;
  std::istringstream lines(json_text);
  std::string first;
  std::getline(lines, first);
  const nlohmann::json entry = nlohmann::json::parse(first);
  EXPECT_EQ(entry["seq"], 1);
  EXPECT_EQ(entry["kind"], "verdict");
  EXPECT_EQ(entry["fields"]["input"], "ls");
  EXPECT_EQ(entry["hash"].get<std::string>().size(), 64u);

  const std::string syslog_text = ReadFile(syslog_out);
  ASSERT_EQ(Lines(syslog_text), 3) << syslog_text;
  // <PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG; facility 13 (log audit).
  static const std::regex kLine(
      R"re(<(\d+)>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ dualkey - (\S+) \[dualkey@32473 seq="(\d+)" hash="[0-9a-f]{64}"\] \{.*\})re");
  std::istringstream syslog_lines(syslog_text);
  std::vector<int> priorities;
  for (std::string line; std::getline(syslog_lines, line);) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, kLine)) << line;
    priorities.push_back(std::stoi(m[1]));
  }
  EXPECT_EQ(priorities, (std::vector<int>{13 * 8 + 6, 13 * 8 + 5, 13 * 8 + 4}));
}

TEST_F(Export, FollowPrintsNewRecordsAcrossAReopen) {
  {
    auto log = Open();
    Append(*log, "start", R"({"pid":1})");
  }
  const std::string out = (dir_ / "follow.out").string();
  const pid_t pid = fork();
  if (pid == 0) {
    freopen(out.c_str(), "w", stdout);
    execl(DUALKEY_BINARY, DUALKEY_BINARY, "audit", "export", "--follow", "--file",
          options_.path.c_str(), nullptr);
    _exit(127);
  }
  auto wait_lines = [&](int n) {
    for (int i = 0; i < 150 && Lines(ReadFile(out)) < n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return Lines(ReadFile(out));
  };
  EXPECT_EQ(wait_lines(1), 1);
  {
    auto log = Open();  // a restarted daemon
    Append(*log, "verdict", R"({"decision":"allow","input":"echo after restart"})");
    Append(*log, "verdict", R"({"decision":"allow","input":"echo two"})");
  }
  EXPECT_EQ(wait_lines(3), 3);
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  const std::string text = ReadFile(out);
  EXPECT_NE(text.find("echo after restart"), std::string::npos) << text;
  // Checkpoint and header lines are not records.
  EXPECT_EQ(text.find("checkpoint"), std::string::npos) << text;
}

}  // namespace
