// Every statement the proxy decides on its own reaches the daemon's audit
// log, with secrets redacted, even when the daemon is killed (-9) while the
// proxy forwards and comes back later.
#include "harness.h"

namespace dualkey::pgtest {
namespace {

TEST_F(PgProxy, EveryLocalDecisionIsAuditedAcrossADaemonKill) {
  // A daemon of this test's own, to kill.
  const fs::path state = *state_ / "audit-kill";
  fs::create_directories(state);
  const std::string socket = (state / "d.sock").string();
  auto start_daemon = [&] {
    const pid_t pid = fork();
    if (pid == 0) {
      execl(DUALKEY_BINARY, DUALKEY_BINARY, "serve", "--state", state.c_str(), "--socket",
            socket.c_str(), "--quiet", nullptr);
      _exit(127);
    }
    for (int i = 0; i < 250; ++i) {
      std::string error;
      if (DaemonCall(socket, json{{"op", "status"}}, 200, &error)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return pid;
  };
  pid_t daemon = start_daemon();
  Child proxy;
  const int port = StartProxy(proxy, {"--threads=1"}, "app", "real-secret", socket);
  ASSERT_GT(port, 0);
  PGconn* conn = Connect(*token_, "disable", port);
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);

  std::vector<std::string> statements;
  auto run = [&](const std::string& sql) {
    auto [value, code] = Exec(conn, sql);
    EXPECT_EQ(code, "") << sql;
    statements.push_back(sql);
  };
  run("CREATE TABLE IF NOT EXISTS audit_kill (id int, note text)");
  for (int i = 0; i < 5; ++i) run("SELECT " + std::to_string(1000 + i));
  run("SELECT 'postgresql://app:hunter2-Secret-pw@db.internal/shop' AS dsn");
  run("INSERT INTO audit_kill VALUES (1, 'before')");

  auto decisions = [&] {
    std::vector<json> out;
    for (const json& r : AuditRecords(state))
      if (r.value("kind", "") == "decision" && r.value("source", "") == "pg_proxy")
        out.push_back(r);
    return out;
  };
  auto wait_for = [&](std::size_t n) {
    for (int i = 0; i < 250 && decisions().size() < n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  };
  wait_for(statements.size());

  // kill -9 while the session keeps going: reads and plain writes are still
  // served (queued for the log).
  kill(daemon, SIGKILL);
  waitpid(daemon, nullptr, 0);
  for (int i = 0; i < 5; ++i) run("SELECT " + std::to_string(2000 + i));
  run("INSERT INTO audit_kill VALUES (2, 'while the daemon was away')");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  daemon = start_daemon();
  wait_for(statements.size());

  const std::vector<json> found = decisions();
  for (const std::string& sql : statements) {
    if (sql.find("hunter2") != std::string::npos) continue;
    bool seen = false;
    for (const json& r : found) seen = seen || r.value("input", "") == sql;
    EXPECT_TRUE(seen) << "no decision record for: " << sql;
  }
  for (const json& r : found) {
    EXPECT_EQ(r.value("decision", ""), "allow");
    EXPECT_TRUE(r.value("forwarded", false));
    EXPECT_EQ(r.value("channel", ""), "sql");
    EXPECT_EQ(r.value("agent", ""), "agent1");
  }
  EXPECT_GE(found.size(), statements.size());
  const std::string log = AuditLog(state);
  EXPECT_EQ(log.find("hunter2-Secret-pw"), std::string::npos);
  EXPECT_NE(log.find("db.internal"), std::string::npos);  // the rest of the statement is kept

  PQfinish(conn);
  proxy.Stop();
  kill(daemon, SIGTERM);
  waitpid(daemon, nullptr, 0);
  Output verified = Shell(std::string(DUALKEY_BINARY) + " audit verify --file " +
                          Quote((state / "audit.jsonl").string()));
  EXPECT_EQ(verified.status, 0) << verified.out;
}

}  // namespace
}  // namespace dualkey::pgtest
