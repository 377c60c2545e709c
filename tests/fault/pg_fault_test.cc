// Faults against `dualkey pg-proxy` with a real PostgreSQL and a real daemon:
// a flood of clients that never log in (past the client limit and the
// descriptor limit) while a good client keeps logging in and querying;
// statements that are not UTF-8, simple and extended, destructive and not.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <regex>

#include "../approval/pg_harness.h"
#include "harness.h"

namespace dualkey::fault {
namespace {

using dualkey::testing::PgHarness;

class PgFaults : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    PgHarness::Options options;
    options.hba_first = {"host all app 127.0.0.1/32 scram-sha-256"};
    pg_ = new PgHarness(options);
    if (!pg_->ok()) return;
    ASSERT_TRUE(
        pg_->Exec("SET password_encryption = 'scram-sha-256'; "
                  "CREATE ROLE app LOGIN SUPERUSER PASSWORD 'real-secret'"))
        << pg_->error();
    ASSERT_TRUE(pg_->Exec("CREATE DATABASE faults OWNER app")) << pg_->error();
  }
  static void TearDownTestSuite() {
    delete pg_;
    pg_ = nullptr;
  }

  void SetUp() override {
    if (!pg_->ok()) {
      if (pg_->binaries_missing()) GTEST_SKIP() << pg_->error();
      FAIL() << pg_->error();
    }
    dir_ = ScratchDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    daemon_ = std::make_unique<Daemon>(dir_);
    ASSERT_TRUE(daemon_->up());
    token_ = daemon_->Token("agent", "pg");
    ASSERT_FALSE(token_.empty());
  }
  void TearDown() override {
    proxy_.reset();
    daemon_.reset();
    fs::remove_all(dir_);
  }

  void StartProxy(const std::vector<std::string>& extra, int nofile = 0) {
    std::vector<std::string> argv;
    if (nofile > 0)
      argv = {"prlimit", "--nofile=" + std::to_string(nofile) + ":" + std::to_string(nofile), "--"};
    for (const std::string& a :
         {std::string(DUALKEY_BINARY), std::string("pg-proxy"), std::string("--listen"),
          std::string("127.0.0.1:0"), std::string("--upstream"),
          "postgresql://app@127.0.0.1:" + std::to_string(pg_->port()) + "?sslmode=disable",
          std::string("--socket"), daemon_->socket(), std::string("--state-dir"), daemon_->state(),
          std::string("--quiet")})
      argv.push_back(a);
    for (const std::string& e : extra) argv.push_back(e);
    proxy_ = std::make_unique<Process>(
        argv,
        std::vector<std::string>{"PGPASSWORD=real-secret", "HOME=" + (dir_ / "home").string()});
    std::optional<std::string> line = proxy_->ReadLine(10000);
    ASSERT_TRUE(line) << "the proxy did not start";
    std::smatch m;
    ASSERT_TRUE(std::regex_search(*line, m, std::regex("listening on [0-9.]+:([0-9]+) ->")))
        << *line;
    port_ = std::stoi(m[1]);
  }

  PGconn* Login(int timeout_seconds = 5) {
    const std::string conninfo =
        "postgresql://agent@127.0.0.1:" + std::to_string(port_) +
        "/faults?sslmode=disable&connect_timeout=" + std::to_string(timeout_seconds) +
        "&password=" + token_;
    return PQconnectdb(conninfo.c_str());
  }
  // Result value and SQLSTATE of one statement.
  static std::pair<std::string, std::string> Exec(PGconn* conn, const std::string& sql) {
    PGresult* r = PQexec(conn, sql.c_str());
    std::string code;
    if (PQresultStatus(r) == PGRES_FATAL_ERROR) {
      const char* c = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      code = c ? c : "?";
    }
    std::string value = PQntuples(r) > 0 && PQnfields(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    PQclear(r);
    return {value, code};
  }
  // A good client: logs in, asks, leaves. True when it all worked in time.
  bool GoodClient() {
    const auto start = Clock::now();
    PGconn* conn = Login();
    const bool ok = PQstatus(conn) == CONNECTION_OK && Exec(conn, "SELECT 41 + 1").first == "42";
    PQfinish(conn);
    return ok && Clock::now() - start < std::chrono::seconds(3);
  }

  static PgHarness* pg_;
  fs::path dir_;
  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<Process> proxy_;
  std::string token_;
  int port_ = 0;
};
PgHarness* PgFaults::pg_ = nullptr;

// Connections that connect and say nothing, or half a startup packet, far
// past --max-clients: the oldest not logged in make room, logins never
// starve, and those sockets are closed after --auth-timeout at the latest.
TEST_F(PgFaults, PreAuthFloodNeverStarvesLogins) {
  StartProxy({"--auth-timeout", "1", "--max-clients", "40", "--max-clients-per-address", "40"});
  ASSERT_TRUE(GoodClient());
  Flood silent, half;
  silent.Open(port_, 200, "");
  half.Open(port_, 100, std::string("\0\0\0\x50\0\x03\0\0user\0", 14));
  auto [runs, failures] = Repeatedly(std::chrono::milliseconds(3000),
                                     std::chrono::milliseconds(100), [&] { return GoodClient(); });
  // A login every 100 ms for 3 s: starved logins would take seconds each
  // (a sanitizer makes each one a few times slower, not starved).
#ifdef DUALKEY_SANITIZED
  EXPECT_GT(runs, 4);
#else
  EXPECT_GT(runs, 8);
#endif
  EXPECT_EQ(failures, 0) << failures << " of " << runs << " logins failed during the flood";
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(silent.ClosedByPeerCount(), static_cast<int>(silent.size()));
  EXPECT_EQ(half.ClosedByPeerCount(), static_cast<int>(half.size()));
  EXPECT_TRUE(proxy_->Alive());
}

// The same under a descriptor limit of 200 (the proxy lowers its client
// limit to fit, and never spins on a failing accept).
TEST_F(PgFaults, DescriptorExhaustionFloodNeitherSpinsNorLocksOut) {
  StartProxy({"--auth-timeout", "2"}, /*nofile=*/200);
  ASSERT_TRUE(GoodClient());
  const double cpu_before = CpuSeconds(proxy_->pid());
  const auto start = Clock::now();
  Flood flood;
  flood.Open(port_, 500, "");
  auto [runs, failures] = Repeatedly(std::chrono::milliseconds(2500),
                                     std::chrono::milliseconds(100), [&] { return GoodClient(); });
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = CpuSeconds(proxy_->pid()) - cpu_before;
  EXPECT_EQ(failures, 0) << failures << " of " << runs << " logins failed";
  EXPECT_LT(cpu, 0.5 * wall) << cpu << " s of CPU in " << wall << " s: a spinning accept loop";
  flood.CloseAll();
  EXPECT_TRUE(proxy_->Alive());
  EXPECT_TRUE(GoodClient());
}

// Logged-in clients at the limit are never thrown out; a newcomer is told
// "too many clients" and the proxy goes on.
TEST_F(PgFaults, AtTheLimitLoggedInClientsStayAndNewcomersAreToldWhy) {
  StartProxy({"--max-clients", "3", "--max-clients-per-address", "3"});
  std::vector<PGconn*> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(Login());
    ASSERT_EQ(PQstatus(held.back()), CONNECTION_OK) << PQerrorMessage(held.back());
  }
  PGconn* refused = Login();
  EXPECT_NE(PQstatus(refused), CONNECTION_OK);
  EXPECT_NE(std::string(PQerrorMessage(refused)).find("too many clients"), std::string::npos)
      << PQerrorMessage(refused);
  PQfinish(refused);
  for (PGconn* conn : held) EXPECT_EQ(Exec(conn, "SELECT 1").first, "1");
  PQfinish(held.back());
  held.pop_back();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(GoodClient());
  for (PGconn* conn : held) PQfinish(conn);
}

// Statements that are not UTF-8, simple and extended protocol, with the
// daemon asked about the destructive ones: no crash (the proxy aborted on
// the first such statement before), nothing destructive forwarded, the
// daemon's pending list readable, everyone else served.
TEST_F(PgFaults, StatementsThatAreNotUtf8ReachTheDaemonAsText) {
  StartProxy({});
  PGconn* conn = Login();
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  ASSERT_EQ(Exec(conn, "CREATE TABLE IF NOT EXISTS kept (id int)").second, "");
  ASSERT_EQ(Exec(conn, "INSERT INTO kept VALUES (1)").second, "");
  for (const std::string& sql :
       {std::string("DROP TABLE kept -- \xff"), std::string("TRUNCATE kept /* \xc3 */"),
        std::string("DELETE FROM kept WHERE id = 1 OR '\xfe' = '\xfe'")}) {
    EXPECT_EQ(Exec(conn, sql).second, "DKH01") << sql;
    PGresult* r = PQprepare(conn, "", sql.c_str(), 0, nullptr);
    PQclear(r);
    r = PQexecPrepared(conn, "", 0, nullptr, nullptr, nullptr, 0);
    EXPECT_STREQ(PQresultErrorField(r, PG_DIAG_SQLSTATE), "DKH01") << sql;
    PQclear(r);
  }
  EXPECT_EQ(Exec(conn, "SELECT count(*) FROM kept").first, "1");
  PQfinish(conn);
  EXPECT_TRUE(proxy_->Alive());
  EXPECT_TRUE(daemon_->Alive());
  const std::string pending = daemon_->PendingJson();
  EXPECT_TRUE(json::accept(pending)) << pending;
  EXPECT_NE(pending.find("not UTF-8"), std::string::npos) << pending;
  EXPECT_TRUE(GoodClient());
}

}  // namespace
}  // namespace dualkey::fault
