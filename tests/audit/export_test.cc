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

// A batch the proxies reported is one "decisions" entry in the file (one
// chain hash for all of it) and, read back, one "decision" per item: each
// with the batch's seq, hash, source, peer and time, and its place in the
// batch. Changing one item breaks the chain there.
TEST_F(Export, ABatchOfDecisionsIsOneEntryReadAsEachDecision) {
  const std::string batch =
      R"({"decisions":[{"agent":"a1","channel":"sql","class":"read.only","cwd":"","decided_ms":5,)"
      R"("decision":"allow","forwarded":true,"input":"SELECT 1"},{"agent":"a2","channel":"sql",)"
      R"("class":"db.write","cwd":"pg:db","decided_ms":6,"decision":"hold","forwarded":false,)"
      R"("input":"DELETE FROM t","reason":"unbounded"}],"peer":{"pid":7,"uid":0,"via":"unix"},)"
      R"("source":"pg_proxy","time_ms":9})";
  {
    auto log = Open();
    Append(*log, "verdict", R"({"decision":"allow","input":"ls"})");
    Append(*log, "decisions", batch);
    Append(*log, "decisions", R"({"decisions":"not a list"})");  // kept as it is
  }
  auto read = dualkey::audit::Read(options_.path, 0);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->size(), 4u);
  const auto& first = (*read)[1];
  const auto& second = (*read)[2];
  EXPECT_EQ(first.kind, "decision");
  EXPECT_EQ(first.seq, 2u);
  EXPECT_EQ(second.seq, 2u);
  EXPECT_EQ(first.item, 1u);
  EXPECT_EQ(second.item, 2u);
  EXPECT_EQ(first.hash, second.hash);
  EXPECT_EQ(first.fields,
            R"({"agent":"a1","channel":"sql","class":"read.only","cwd":"","decided_ms":5,)"
            R"("decision":"allow","forwarded":true,"input":"SELECT 1","peer":{"pid":7,"uid":0,)"
            R"("via":"unix"},"source":"pg_proxy","time_ms":9})");
  EXPECT_NE(second.fields.find(R"("reason":"unbounded")"), std::string::npos);
  EXPECT_EQ((*read)[3].kind, "decisions");
  EXPECT_EQ((*read)[3].item, 0u);

  const std::string exe = DUALKEY_BINARY;
  const std::string out = (dir_ / "out").string();
  ASSERT_EQ(system((exe + " audit export --file " + options_.path + " > " + out).c_str()), 0);
  std::istringstream lines(ReadFile(out));
  std::vector<nlohmann::json> exported;
  for (std::string line; std::getline(lines, line);)
    exported.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(exported.size(), 4u);
  EXPECT_FALSE(exported[0].contains("item"));
  EXPECT_EQ(exported[2]["seq"], 2);
  EXPECT_EQ(exported[2]["item"], 2);
  EXPECT_EQ(exported[2]["kind"], "decision");
  EXPECT_EQ(exported[2]["fields"]["input"], "DELETE FROM t");
  EXPECT_EQ(exported[2]["fields"]["source"], "pg_proxy");
  ASSERT_EQ(
      system((exe + " audit export --format syslog --file " + options_.path + " > " + out).c_str()),
      0);
  EXPECT_NE(ReadFile(out).find(R"( decision [dualkey@32473 seq="2" item="2" hash=")"),
            std::string::npos)
      << ReadFile(out);
  ASSERT_EQ(system((exe + " audit tail --file " + options_.path + " > " + out).c_str()), 0);
  EXPECT_NE(ReadFile(out).find("#2.1  "), std::string::npos) << ReadFile(out);
  EXPECT_EQ(system((exe + " audit verify --file " + options_.path + " >/dev/null").c_str()), 0);
  // verify counts the entries, and the records they are read back as.
  const dualkey::audit::VerifyReport report = dualkey::audit::Verify(options_.path);
  EXPECT_TRUE(report.ok);
  EXPECT_EQ(report.entries, 3u);
  EXPECT_EQ(report.records, 4u);
  ASSERT_EQ(system((exe + " audit verify --json --file " + options_.path + " > " + out).c_str()),
            0);
  EXPECT_EQ(nlohmann::json::parse(ReadFile(out))["records"], 4);

  // An item changed in place: the batch's hash no longer recomputes.
  std::string text = ReadFile(options_.path);
  const std::size_t at = text.find("DELETE FROM t");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 6, "SELECT");
  std::ofstream(options_.path, std::ios::trunc) << text;
  const int status =
      system((exe + " audit verify --file " + options_.path + " >/dev/null").c_str());
  EXPECT_EQ(WEXITSTATUS(status), 1);
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
    // A batch a proxy reported: one line per decision, as export without --follow.
    Append(*log, "decisions",
           R"({"decisions":[{"decision":"allow","input":"SELECT 1"},)"
           R"({"decision":"allow","input":"SELECT 2"}],"source":"pg_proxy","time_ms":9})");
  }
  EXPECT_EQ(wait_lines(5), 5);
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  const std::string text = ReadFile(out);
  EXPECT_NE(text.find("echo after restart"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("item":2,)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("input":"SELECT 2","source":"pg_proxy")"), std::string::npos) << text;
  // Checkpoint and header lines are not records.
  EXPECT_EQ(text.find("checkpoint"), std::string::npos) << text;
}

}  // namespace
