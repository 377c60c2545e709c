// The decision reporter against a real daemon: batches arrive as "decision"
// records with secrets redacted; while the daemon is away destructive
// decisions are refused (the caller holds them) and reads queue; a full
// queue counts what it drops and the count arrives as an "audit_gap"
// record once the daemon is back.
#include "client/reporter.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/daemon.h"

namespace {

namespace fs = std::filesystem;
using dualkey::client::DecisionReporter;
using dualkey::client::ReportedDecision;
using nlohmann::json;

class Reporter : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(DUALKEY_BINARY).parent_path() /
           ("reporter-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "state");
    socket_ = (dir_ / "d.sock").string();
  }
  void TearDown() override {
    StopDaemon();
    fs::remove_all(dir_);
  }

  void StartDaemon() {
    ASSERT_TRUE(daemon_.Start((dir_ / "state").string(), socket_)) << "the daemon did not start";
  }
  void StopDaemon(int signal_number = SIGTERM) { daemon_.Stop(signal_number); }

  std::unique_ptr<DecisionReporter> MakeReporter(std::size_t max_queue = 65536) {
    dualkey::client::ReporterOptions options;
    options.source = "test_proxy";
    options.max_queue = max_queue;
    options.flush_ms = 10;
    // The proxies' and the gateway's timeout: a daemon under load (the suite
    // runs beside sanitized end-to-end tests) may take over a second to
    // fsync a batch, and a timed-out batch is sent again.
    return std::make_unique<DecisionReporter>(
        dualkey::client::Client::ForThisProcess(dualkey::client::ClientOptions{socket_, 5000}),
        options);
  }

  static ReportedDecision Read(const std::string& sql) {
    ReportedDecision d;
    d.action.channel = dualkey::Channel::kSql;
    d.action.input = sql;
    d.action.agent = "agent1";
    d.decision = dualkey::Decision::kAllow;
    d.op_class = "db.read";
    d.forwarded = true;
    d.added_us = 12;
    return d;
  }

  std::vector<json> Records(const std::string& kind) {
    return dualkey::test_support::AuditRecords((dir_ / "state/audit.jsonl").string(), kind);
  }

  fs::path dir_;
  std::string socket_;
  dualkey::test_support::DaemonProcess daemon_;
};

TEST_F(Reporter, DecisionsArriveRedactedAndCounted) {
  StartDaemon();
  auto reporter = MakeReporter();
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(reporter->Report(Read("SELECT " + std::to_string(i)), false));
  ASSERT_TRUE(reporter->Report(
      Read("SELECT dblink_connect('postgresql://app:hunter2-very-secret@db.internal/shop')"),
      false));
  ASSERT_TRUE(reporter->Report(Read("ALTER ROLE app PASSWORD 'Sup3r-s3cret-pw'"), true));
  ASSERT_TRUE(reporter->Flush(15000));
  EXPECT_EQ(reporter->stats().delivered, 102u);
  const std::vector<json> decisions = Records("decision");
  ASSERT_EQ(decisions.size(), 102u);
  EXPECT_EQ(decisions[0].value("source", ""), "test_proxy");
  EXPECT_EQ(decisions[0].value("input", ""), "SELECT 0");
  EXPECT_EQ(decisions[0].value("class", ""), "db.read");
  EXPECT_EQ(decisions[0].value("added_us", 0), 12);
  EXPECT_EQ(decisions[0]["peer"].value("via", ""), "unix");
  std::ifstream in(dir_ / "state/audit.jsonl");
  std::stringstream all;
  all << in.rdbuf();
  EXPECT_EQ(all.str().find("hunter2-very-secret"), std::string::npos);
  EXPECT_EQ(all.str().find("Sup3r-s3cret-pw"), std::string::npos);
  EXPECT_NE(all.str().find("redacted"), std::string::npos);
}

TEST_F(Reporter, DaemonAwayHoldsDestructiveQueuesReadsAndRecordsTheGap) {
  // No daemon yet: the first send fails and the link is down.
  auto reporter = MakeReporter(/*max_queue=*/4);
  ASSERT_TRUE(reporter->Report(Read("SELECT 'a'"), false));
  for (int i = 0; i < 100 && reporter->link_up(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_FALSE(reporter->link_up());
  // Destructive: refused while the daemon is away (the caller holds it).
  EXPECT_FALSE(reporter->Report(Read("DELETE FROM t"), true));
  // Reads queue up to the bound, then are counted as lost.
  int queued = 1;
  for (int i = 0; i < 10; ++i)
    queued += reporter->Report(Read("SELECT " + std::to_string(i)), false);
  EXPECT_EQ(queued, 4);
  EXPECT_EQ(reporter->stats().lost, 7u);

  StartDaemon();
  ASSERT_TRUE(reporter->Flush(15000));
  EXPECT_TRUE(reporter->link_up());
  EXPECT_EQ(Records("decision").size(), 4u);
  const std::vector<json> gaps = Records("audit_gap");
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0].value("lost", 0), 7);
  EXPECT_EQ(gaps[0].value("source", ""), "test_proxy");
  EXPECT_NE(gaps[0].value("reason", "").find("full"), std::string::npos);
  // Back: destructive decisions are taken again.
  EXPECT_TRUE(reporter->Report(Read("DELETE FROM t WHERE id = 1"), true));
  ASSERT_TRUE(reporter->Flush(15000));
  EXPECT_EQ(Records("decision").size(), 5u);
}

// While the daemon is away a full queue waits for it with the backoff: the
// sending thread neither spins nor encodes batches nobody takes.
TEST_F(Reporter, AwayWithAFullQueueItIdles) {
  auto reporter = MakeReporter(/*max_queue=*/8192);
  for (int i = 0; i < 8192; ++i) reporter->Report(Read("SELECT " + std::to_string(i)), false);
  for (int i = 0; i < 100 && reporter->link_up(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_FALSE(reporter->link_up());
  timespec before{}, after{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &before);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &after);
  const double cpu = static_cast<double>(after.tv_sec - before.tv_sec) +
                     static_cast<double>(after.tv_nsec - before.tv_nsec) / 1e9;
  EXPECT_LT(cpu, 0.15) << "CPU seconds the reporter used in 1.5 s while the daemon was away";
  // Back: everything queued arrives.
  StartDaemon();
  ASSERT_TRUE(reporter->Flush(10000));
  EXPECT_EQ(Records("decision").size(), 8192u);
}

TEST_F(Reporter, KilledDaemonLosesNothingQueued) {
  StartDaemon();
  auto reporter = MakeReporter();
  for (int i = 0; i < 50; ++i)
    ASSERT_TRUE(reporter->Report(Read("SELECT " + std::to_string(i)), false));
  ASSERT_TRUE(reporter->Flush(15000));
  StopDaemon(SIGKILL);
  for (int i = 50; i < 80; ++i) reporter->Report(Read("SELECT " + std::to_string(i)), false);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  StartDaemon();
  ASSERT_TRUE(reporter->Flush(15000));
  const std::vector<json> decisions = Records("decision");
  ASSERT_EQ(decisions.size(), 80u);
  for (int i = 0; i < 80; ++i)
    EXPECT_EQ(decisions[static_cast<std::size_t>(i)].value("input", ""),
              "SELECT " + std::to_string(i));
  EXPECT_TRUE(Records("audit_gap").empty());
  // The chain still verifies after the kill.
  const std::string verify = std::string(DUALKEY_BINARY) + " audit verify --file " +
                             (dir_ / "state/audit.jsonl").string() + " >/dev/null 2>&1";
  EXPECT_EQ(system(verify.c_str()), 0);
}

}  // namespace
