// GET /metrics on the daemon's HTTP listener, scraped with a real client
// (curl) before and after a known sequence of decisions: the counters move
// by exactly what happened, and the text parses as Prometheus exposition.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "approval/approval.h"
#include "client/client.h"
#include "client/protocol.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string RunCommand(const std::string& command, int* status = nullptr) {
  std::string out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return out;
  std::array<char, 4096> buffer;
  std::size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  const int raw = pclose(pipe);
  if (status != nullptr) *status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return out;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// "name{labels}" -> value, for every sample line; fails the test on a line
// that is not a comment or a sample.
std::map<std::string, double> Parse(const std::string& text) {
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|\+Inf|NaN)$)");
  std::map<std::string, double> samples;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.starts_with("# HELP ") || line.starts_with("# TYPE ")) continue;
    std::smatch m;
    EXPECT_TRUE(std::regex_match(line, m, kSample)) << "not a sample: " << line;
    if (!m.empty()) {
      const std::size_t space = line.rfind(' ');
      samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
  }
  return samples;
}

class Metrics : public ::testing::Test {
 protected:
  void SetUp() override {
    if (RunCommand("command -v curl").empty()) GTEST_SKIP() << "needs curl";
    dir_ = fs::path(DUALKEY_BINARY).parent_path() /
           ("metrics-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "state");
    socket_ = (dir_ / "d.sock").string();
    pid_ = fork();
    if (pid_ == 0) {
      const std::string log = (dir_ / "daemon.log").string();
      freopen(log.c_str(), "w", stderr);
      execl(DUALKEY_BINARY, DUALKEY_BINARY, "serve", "--state", (dir_ / "state").c_str(),
            "--socket", socket_.c_str(), "--breaker-attempts", "1000", "--http", "127.0.0.1:0",
            nullptr);
      _exit(127);
    }
    static const std::regex kPort(R"((?:HTTP on |http=https?://)127\.0\.0\.1:([0-9]+))");
    for (int i = 0; i < 250 && port_.empty(); ++i) {
      std::smatch m;
      const std::string log = ReadFile(dir_ / "daemon.log");
      if (std::regex_search(log, m, kPort)) port_ = m[1];
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_FALSE(port_.empty()) << ReadFile(dir_ / "daemon.log");
  }

  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  std::map<std::string, double> Scrape() {
    int status = -1;
    const std::string headers = (dir_ / "headers").string();
    const std::string text = RunCommand(
        "curl -sS --fail -D " + headers + " http://127.0.0.1:" + port_ + "/metrics", &status);
    EXPECT_EQ(status, 0) << text;
    EXPECT_NE(ReadFile(headers).find("text/plain; version=0.0.4"), std::string::npos);
    return Parse(text);
  }

  json Check(const std::string& command) {
    auto reply = dualkey::client::CallAt(socket_,
                                         json{{"op", "check"},
                                              {"channel", "shell"},
                                              {"input", command},
                                              {"cwd", "/tmp"},
                                              {"home", "/nonexistent-home"},
                                              {"agent", "claude"}},
                                         5000);
    EXPECT_TRUE(reply.ok());
    return reply.ok() ? *reply : json::object();
  }

  std::string Cli(const std::string& args) {
    return RunCommand("HOME=" + dir_.string() + " DUALKEY_SOCKET=" + socket_ +
                      " DUALKEY_STATE_DIR=" + (dir_ / "state").string() + " " + DUALKEY_BINARY +
                      " " + args);
  }

  fs::path dir_;
  std::string socket_;
  std::string port_;
  pid_t pid_ = -1;
};

double Sum(const std::map<std::string, double>& samples, const std::string& name,
           const std::string& must_contain) {
  double total = 0;
  for (const auto& [key, value] : samples)
    if ((key == name || key.starts_with(name + "{")) && key.find(must_contain) != std::string::npos)
      total += value;
  return total;
}

TEST_F(Metrics, CountersMoveByWhatHappened) {
  const std::string added = Cli("approver add alice --state " + (dir_ / "state").string());
  const std::size_t at = added.find("secret=");
  ASSERT_NE(at, std::string::npos) << added;
  const std::string secret = added.substr(at + 7, added.find('&', at) - at - 7);

  const auto before = Scrape();
  EXPECT_EQ(Sum(before, "dualkey_pending_holds", ""), 0);

  for (int i = 0; i < 3; ++i) EXPECT_EQ(Check("ls -la /tmp")["decision"], "allow");
  const json held = Check("rm -rf /srv/metrics-a");
  ASSERT_EQ(held["decision"], "hold") << held.dump();
  EXPECT_EQ(Check("rm -rf /srv/metrics-b")["decision"], "hold");
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const std::string approved =
      Cli("approve " + held["approval_id"].get<std::string>() + " --as alice --code " +
          dualkey::approval::TotpCode(secret, now));
  ASSERT_NE(approved.find("approved"), std::string::npos) << approved;

  const auto after = Scrape();
  EXPECT_EQ(Sum(after, "dualkey_decisions_total", "verdict=\"allow\"") -
                Sum(before, "dualkey_decisions_total", "verdict=\"allow\""),
            3);
  EXPECT_EQ(Sum(after, "dualkey_decisions_total", "source=\"daemon\",channel=\"shell\""), 5);
  EXPECT_EQ(Sum(after, "dualkey_decisions_total", "verdict=\"hold\"") -
                Sum(before, "dualkey_decisions_total", "verdict=\"hold\""),
            2);
  // The holds name what they are: a class other than "none".
  EXPECT_EQ(Sum(after, "dualkey_decisions_total", "class=\"none\",verdict=\"hold\""), 0);
  EXPECT_EQ(Sum(after, "dualkey_pending_holds", ""), 1);
  EXPECT_GE(Sum(after, "dualkey_pending_oldest_age_seconds", ""), 0.0);
  EXPECT_EQ(Sum(after, "dualkey_approval_latency_seconds_count", "outcome=\"approved\""), 1);
  EXPECT_GT(Sum(after, "dualkey_audit_write_seconds_count", ""),
            Sum(before, "dualkey_audit_write_seconds_count", ""));
  EXPECT_EQ(Sum(after, "dualkey_audit_write_failures_total", ""), 0);
  EXPECT_EQ(Sum(after, "dualkey_breaker_trips_total", ""), 0);
  EXPECT_EQ(Sum(after, "dualkey_store_up", ""), 1);
  // Buckets are cumulative and end in +Inf = _count.
  EXPECT_EQ(Sum(after, "dualkey_audit_write_seconds_bucket", "le=\"+Inf\""),
            Sum(after, "dualkey_audit_write_seconds_count", ""));
}

// The proxies' and the gateway's family: what they report (the decision
// reporter's `report` op) moves the decision, forwarded, added-latency and
// gap counters under their own source.
TEST_F(Metrics, TheProxiesReportsMoveTheirFamily) {
  const auto before = Scrape();
  dualkey::client::ReportRequest request;
  request.source = "pg_proxy";
  for (int i = 0; i < 3; ++i) {
    dualkey::client::ReportedDecision d;
    d.action.channel = dualkey::Channel::kSql;
    d.action.input = "SELECT " + std::to_string(i);
    d.op_class = "db.read";
    d.forwarded = true;
    d.added_us = 40;
    request.decisions.push_back(d);
  }
  dualkey::client::ReportedDecision held;
  held.action.channel = dualkey::Channel::kSql;
  held.action.input = "DROP TABLE t";
  held.decision = dualkey::Decision::kHold;
  held.op_class = "db.ddl.drop";
  request.decisions.push_back(held);
  request.gaps.push_back({.lost = 7,
                          .lost_destructive = 0,
                          .from_ms = 1,
                          .to_ms = 2,
                          .reason = "the audit queue was full"});
  auto reply = dualkey::client::CallAt(socket_, dualkey::client::ToJson(request), 5000);
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  EXPECT_EQ(reply->value("recorded", 0), 5) << reply->dump();
  dualkey::client::ReportRequest gateway;
  gateway.source = "gateway";
  dualkey::client::ReportedDecision get;
  get.action.channel = dualkey::Channel::kHttp;
  get.action.input = "GET https://api.example.com/v1/items";
  get.op_class = "http.read";
  get.forwarded = true;
  get.added_us = 90;
  gateway.decisions.push_back(get);
  ASSERT_TRUE(dualkey::client::CallAt(socket_, dualkey::client::ToJson(gateway), 5000).ok());

  const auto after = Scrape();
  auto moved = [&](const std::string& name, const std::string& labels) {
    return Sum(after, name, labels) - Sum(before, name, labels);
  };
  EXPECT_EQ(moved("dualkey_decisions_total",
                  "source=\"pg_proxy\",channel=\"sql\",class=\"db.read\",verdict=\"allow\""),
            3);
  EXPECT_EQ(moved("dualkey_decisions_total",
                  "source=\"pg_proxy\",channel=\"sql\",class=\"db.ddl.drop\",verdict=\"hold\""),
            1);
  EXPECT_EQ(moved("dualkey_forwarded_total", "source=\"pg_proxy\""), 3);
  EXPECT_EQ(moved("dualkey_added_latency_seconds_count", "source=\"pg_proxy\""), 3);
  EXPECT_EQ(moved("dualkey_audit_gaps_total", "source=\"pg_proxy\""), 1);
  EXPECT_EQ(moved("dualkey_audit_gap_decisions_total", "source=\"pg_proxy\""), 7);
  EXPECT_EQ(moved("dualkey_decisions_total", "source=\"gateway\",channel=\"http\""), 1);
  EXPECT_EQ(moved("dualkey_forwarded_total", "source=\"gateway\""), 1);
  EXPECT_EQ(moved("dualkey_added_latency_seconds_count", "source=\"gateway\""), 1);
  EXPECT_NEAR(moved("dualkey_added_latency_seconds_sum", "source=\"pg_proxy\""), 3 * 40e-6, 1e-9);
}

// The daemon counts a batch's decisions a run of alike ones at a time: runs
// broken by each field that is a label (class, verdict), by forwarded, and
// by a rate-limit reason, counted as each decision alone would be.
TEST_F(Metrics, EachDecisionOfABatchCountsWhereverItsRunBreaks) {
  const auto before = Scrape();
  dualkey::client::ReportRequest request;
  request.source = "pg_proxy";
  struct Kind {
    const char* op_class;
    dualkey::Decision decision;
    bool forwarded;
    const char* reason;
    std::int64_t added_us;
  };
  const std::vector<Kind> kinds = {
      {"db.read", dualkey::Decision::kAllow, true, "", 10},
      {"db.read", dualkey::Decision::kAllow, true, "", -1},  // no latency known
      {"db.read", dualkey::Decision::kAllow, false, "", -1},
      {"db.write", dualkey::Decision::kHold, false, "rate limit: 5 a minute", -1},
      {"db.write", dualkey::Decision::kHold, false, "held", -1},
      {"db.read", dualkey::Decision::kHold, false, "", -1}};
  // 0 0 1 0 2 3 3 4 3 5 0 0 0 1: runs of one and of several, and returns.
  const std::vector<int> order = {0, 0, 1, 0, 2, 3, 3, 4, 3, 5, 0, 0, 0, 1};
  for (int k : order) {
    dualkey::client::ReportedDecision d;
    d.action.channel = dualkey::Channel::kSql;
    d.action.input = "SELECT 1";
    d.op_class = kinds[k].op_class;
    d.decision = kinds[k].decision;
    d.forwarded = kinds[k].forwarded;
    d.reason = kinds[k].reason;
    d.added_us = kinds[k].added_us;
    request.decisions.push_back(d);
  }
  auto reply = dualkey::client::CallAt(socket_, dualkey::client::ToJson(request), 5000);
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  ASSERT_EQ(reply->value("recorded", 0), static_cast<int>(order.size())) << reply->dump();
  const auto after = Scrape();
  auto moved = [&](const std::string& name, const std::string& labels) {
    return Sum(after, name, labels) - Sum(before, name, labels);
  };
  const std::string sql = "source=\"pg_proxy\",channel=\"sql\",";
  EXPECT_EQ(moved("dualkey_decisions_total", sql + "class=\"db.read\",verdict=\"allow\""), 9);
  EXPECT_EQ(moved("dualkey_decisions_total", sql + "class=\"db.write\",verdict=\"hold\""), 4);
  EXPECT_EQ(moved("dualkey_decisions_total", sql + "class=\"db.read\",verdict=\"hold\""), 1);
  EXPECT_EQ(moved("dualkey_rate_limited_total", ""), 3);
  EXPECT_EQ(moved("dualkey_forwarded_total", "source=\"pg_proxy\""), 8);
  EXPECT_EQ(moved("dualkey_added_latency_seconds_count", "source=\"pg_proxy\""), 6);
  EXPECT_NEAR(moved("dualkey_added_latency_seconds_sum", "source=\"pg_proxy\""), 6 * 10e-6, 1e-9);
}

TEST_F(Metrics, OnlyGetAndTheJsonApiIsUnchanged) {
  int status = -1;
  RunCommand("curl -sS --fail -X POST http://127.0.0.1:" + port_ + "/metrics", &status);
  EXPECT_NE(status, 0);
  const std::string reply =
      RunCommand("curl -sS http://127.0.0.1:" + port_ + "/v1/status", &status);
  EXPECT_EQ(status, 0);
  EXPECT_NE(reply.find("\"ok\":true"), std::string::npos) << reply;
}

}  // namespace
