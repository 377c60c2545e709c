// Every decision of `dualkey mcp` in the daemon's audit log: a real MCP
// server from npm (filesystem) behind the proxy, the official SDK client, a
// real daemon. Calls the proxy allows on its own arrive as "decision"
// records (source mcp_proxy), with secrets in their arguments redacted;
// calls it asks the daemon about are the daemon's own records. The daemon
// is killed (kill -9) midway and started again on the same state: every
// call is then still in the log, or counted in a recorded gap, and the
// chain verifies.
#include <gtest/gtest.h>

#include <set>

#include "harness.h"
#include "support/daemon.h"

namespace dualkey::testing {
namespace {

class McpAudit : public ::testing::Test {
 protected:
  void SetUp() override {
    const NodePackages& packages = NodePackages::Get();
    ASSERT_TRUE(packages.ok()) << packages.error();
    root_ = fs::path(DUALKEY_BINARY).parent_path() /
            ("mcp-audit-test-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    project_ = root_ / "home" / "project";
    fs::create_directories(project_);
    fs::create_directories(root_ / "state");
    socket_ = (root_ / "d.sock").string();
  }
  void TearDown() override {
    StopDaemon(SIGTERM);
    fs::remove_all(root_);
  }

  void StartDaemon() {
    daemon_ = fork();
    if (daemon_ == 0) {
      execl(DUALKEY_BINARY, DUALKEY_BINARY, "serve", "--state", (root_ / "state").c_str(),
            "--socket", socket_.c_str(), "--quiet", nullptr);
      _exit(127);
    }
    for (int i = 0; i < 250; ++i) {
      std::string error;
      if (DaemonCall(socket_, json{{"op", "status"}}, 200, &error)) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "the daemon did not start";
  }
  void StopDaemon(int signal_number) {
    if (daemon_ <= 0) return;
    kill(daemon_, signal_number);
    waitpid(daemon_, nullptr, 0);
    daemon_ = -1;
  }

  json ProxyCommand() const {
    json args = json::array({"mcp", "--socket", socket_, "--", "node",
                             NodePackages::Get().FilesystemServer(), project_.string()});
    return json{{"op", "connect"},           {"transport", "stdio"},
                {"command", DUALKEY_BINARY}, {"args", args},
                {"cwd", project_.string()},  {"env", {{"HOME", (root_ / "home").string()}}}};
  }
  std::vector<std::string> Env() const {
    return {"HOME=" + (root_ / "home").string(), "XDG_CONFIG_HOME=" + (root_ / "config").string()};
  }

  // As audit::Read gives them: each decision of a batch as a "decision".
  std::vector<json> Entries() const {
    return test_support::AuditEntries((root_ / "state/audit.jsonl").string());
  }

  fs::path root_, project_;
  std::string socket_;
  pid_t daemon_ = -1;
};

TEST_F(McpAudit, EveryCallIsInTheLogRedactedAcrossADaemonKill) {
  std::ofstream(project_ / "notes.txt") << "keep me\n";
  const std::string secret = "ghp_" + std::string("Abc123Def456Ghi789Jkl012Mno345Pqr678");
  StartDaemon();
  int allowed_before = 0, allowed_after = 0;
  {
    NodeClient client(Env());
    json connected = client.Do(ProxyCommand());
    ASSERT_TRUE(connected.value("ok", false)) << connected.dump();
    ASSERT_TRUE(client.Do({{"op", "list"}}).value("ok", false));
    // Reads the proxy allows on its own, one with a token in its arguments.
    for (int i = 0; i < 5; ++i, ++allowed_before) {
      json read = client.Call("read_text_file", {{"path", (project_ / "notes.txt").string()}});
      ASSERT_FALSE(read["result"].value("isError", false)) << read.dump();
    }
    json search = client.Call(
        "search_files", {{"path", project_.string()}, {"pattern", "token=" + secret + "-before"}});
    ASSERT_TRUE(search.value("ok", false)) << search.dump();
    ++allowed_before;
    // A destructive call: asked of the daemon, which holds it (its record).
    json write = client.Call("write_file",
                             {{"path", (project_ / "notes.txt").string()}, {"content", "gone"}});
    EXPECT_TRUE(IsHeld(write)) << write.dump();

    // The daemon dies without a word; reads go on (queued for it), and a
    // destructive call is held by the proxy itself.
    StopDaemon(SIGKILL);
    for (int i = 0; i < 5; ++i, ++allowed_after) {
      json read = client.Call("list_directory", {{"path", project_.string()}});
      ASSERT_FALSE(read["result"].value("isError", false)) << read.dump();
    }
    json search_after = client.Call(
        "search_files", {{"path", project_.string()}, {"pattern", "token=" + secret + "-after"}});
    ASSERT_TRUE(search_after.value("ok", false)) << search_after.dump();
    ++allowed_after;
    json held = client.Call("move_file", {{"source", (project_ / "notes.txt").string()},
                                          {"destination", (project_ / "moved.txt").string()}});
    EXPECT_TRUE(IsHeld(held)) << held.dump();
    EXPECT_FALSE(fs::exists(project_ / "moved.txt"));

    // Back on the same state: what the proxy queued arrives.
    StartDaemon();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    auto local = [&] {
      int n = 0;
      for (const json& e : Entries())
        if (e["kind"] == "decision" && e["fields"].value("source", "") == "mcp_proxy") ++n;
      return n;
    };
    while (local() < allowed_before + allowed_after + 1 &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  const std::vector<json> entries = Entries();
  int reads = 0, lists = 0, searches = 0, local_holds = 0, gaps = 0, daemon_writes = 0;
  for (const json& e : entries) {
    const json& f = e["fields"];
    if (e["kind"] == "audit_gap" && f.value("source", "") == "mcp_proxy") {
      gaps += f.value("lost", 0);
      continue;
    }
    const std::string input = f.value("input", "");
    if (e["kind"] == "decision" && f.value("source", "") == "mcp_proxy") {
      EXPECT_EQ(f.value("channel", ""), "mcp");
      EXPECT_EQ(f["peer"].value("via", ""), "unix");
      if (input.find("\"read_text_file\"") != std::string::npos) ++reads;
      if (input.find("\"list_directory\"") != std::string::npos) ++lists;
      if (input.find("\"search_files\"") != std::string::npos) {
        ++searches;
        EXPECT_NE(input.find("redacted"), std::string::npos) << input;
      }
      if (input.find("\"move_file\"") != std::string::npos) {
        EXPECT_EQ(f.value("decision", ""), "hold");
        EXPECT_FALSE(f.value("forwarded", true));
        ++local_holds;
      }
      if (f.value("decision", "") == "allow") EXPECT_TRUE(f.value("forwarded", false));
    } else if (input.find("\"write_file\"") != std::string::npos) {
      ++daemon_writes;  // the daemon's own record of the check it answered
    }
  }
  // Every call: recorded, or counted in a gap the log records.
  EXPECT_EQ(reads + lists + searches + local_holds + gaps, allowed_before + allowed_after + 1)
      << "reads " << reads << " lists " << lists << " searches " << searches << " holds "
      << local_holds << " lost " << gaps;
  EXPECT_EQ(gaps, 0) << "the proxy's queue held everything while the daemon was away";
  EXPECT_EQ(searches, 2);
  EXPECT_GE(daemon_writes, 1);
  const std::string log = ReadAll(root_ / "state/audit.jsonl");
  EXPECT_EQ(log.find(secret), std::string::npos) << "a token reached the audit log";
  ShellOutput verify = Shell(std::string(DUALKEY_BINARY) + " audit verify --file " +
                             Quote((root_ / "state/audit.jsonl").string()));
  EXPECT_EQ(verify.status, 0) << verify.out;
}

}  // namespace
}  // namespace dualkey::testing
