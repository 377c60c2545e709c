// `dualkey pg-proxy` with TLS to PostgreSQL: a real server with ssl=on whose
// pg_hba.conf refuses the proxy's role without TLS (so everything the proxy
// does upstream, sessions, its own queries and pg_dump snapshots, must use
// it), the proxy with sslmode=require (and verify-full), clients plain and
// over TLS. Large messages over many TLS records, pipelines with a held
// statement in the middle, approvals, many sessions at once and clients
// that vanish mid-result.
#include <poll.h>

#include <atomic>
#include <mutex>

#include "harness.h"

namespace dualkey::pgtest {
namespace {

class PgProxyTls : public PgProxy {
 protected:
  static void SetUpTestSuite() {
    World world;
    world.database_tls = true;
    // The proxy's roles over TLS only; 127.0.0.2 (not in the certificate)
    // for verify-full's mismatch.
    world.hba_first = {"hostnossl all app,app_md5,app_limited all reject",
                       "hostssl all app 127.0.0.2/32 scram-sha-256"};
    world.settings = {"listen_addresses=127.0.0.1,127.0.0.2"};
    world.upstream_query = "sslmode=require";
    SetUpWorld(world);
  }

  void SetUp() override {
    PgProxy::SetUp();
    if (!IsSkipped()) ASSERT_FALSE(pg_->cert_path().empty()) << pg_->error();
  }

  PGconn* Open(const std::string& sslmode, int port = 0) {
    PGconn* conn = Connect(*token_, sslmode, port);
    EXPECT_EQ(PQstatus(conn), CONNECTION_OK) << sslmode << ": " << PQerrorMessage(conn);
    EXPECT_EQ(PQsslInUse(conn), sslmode == "disable" ? 0 : 1);
    return conn;
  }

  // The server's own view of the session's connection: "t" when it is TLS.
  static std::string ServerSsl(PGconn* conn) {
    return Exec(conn, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").first;
  }

  // An upstream URI of the suite's database with `query`.
  static std::string Upstream(const std::string& host, const std::string& query) {
    return "postgresql://app@" + host + ":" + std::to_string(pg_->port()) + "?" + query;
  }

  // The number of backends running a statement whose text has `marker`.
  static int BackendsRunning(const std::string& marker) {
    Output out = DirectSql("shop",
                           "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                           "AND query LIKE '%" +
                               marker + "%'");
    return out.status == 0 ? std::atoi(out.out.c_str()) : -1;
  }

  static std::vector<std::string> ProxyOptions() {
    std::vector<std::string> options = ClientTlsOptions();
    options.push_back(FastPathOption());
    return options;
  }
};

// A result of PQgetResult that does not wait forever: nullptr with *timed_out
// when nothing came within `seconds`.
PGresult* GetResult(PGconn* conn, bool* timed_out, int seconds = 20) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (PQisBusy(conn)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) {
      *timed_out = true;
      return nullptr;
    }
    pollfd p{PQsocket(conn), POLLIN, 0};
    poll(&p, 1, static_cast<int>(std::min<long long>(left, 200)));
    if (!PQconsumeInput(conn)) break;  // the error comes with the result
  }
  return PQgetResult(conn);
}

std::string Sqlstate(const PGresult* r) {
  const char* code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  return code ? code : "";
}

TEST_F(PgProxyTls, UpstreamIsTlsForPlainAndTlsClients) {
  for (const std::string sslmode : {"disable", "require"}) {
    SCOPED_TRACE(sslmode);
    PGconn* conn = Open(sslmode);
    ASSERT_EQ(PQstatus(conn), CONNECTION_OK);
    EXPECT_EQ(Exec(conn, "SELECT 40 + 2").first, "42");
    EXPECT_EQ(ServerSsl(conn), "t");
    EXPECT_EQ(Exec(conn, "SELECT current_user").first, "app");
    EXPECT_EQ(Exec(conn,
                   "SELECT version LIKE 'TLSv1._' FROM pg_stat_ssl "
                   "WHERE pid = pg_backend_pid()")
                  .first,
              "t");
    // Several statements and results in one round trip.
    PGresult* r = PQexec(conn, "SELECT 1; SELECT 'two'; SELECT 3::text || 'x'");
    ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(conn);
    EXPECT_STREQ(PQgetvalue(r, 0, 0), "3x");
    PQclear(r);
    // A held statement, and the session goes on.
    const std::string table = "plain_and_tls_" + sslmode;
    ASSERT_EQ(Exec(conn, "CREATE TABLE " + table + " (id int)").second, "");
    ASSERT_EQ(Exec(conn, "INSERT INTO " + table + " VALUES (1)").second, "");
    std::string message;
    EXPECT_EQ(Exec(conn, "DROP TABLE " + table, &message).second, "DKH01") << message;
    EXPECT_EQ(Exec(conn, "SELECT count(*) FROM " + table).first, "1");
    PQfinish(conn);
  }
  // The database refuses the proxy's role without TLS: a proxy told not to
  // use it cannot get in (so the "t" above is the only way in).
  Child plain;
  const int port = StartProxyTo(plain, Upstream("127.0.0.1", "sslmode=disable"));
  ASSERT_GT(port, 0);
  PGconn* refused = Connect(*token_, "disable", port);
  EXPECT_NE(PQstatus(refused), CONNECTION_OK);
  EXPECT_NE(std::string(PQerrorMessage(refused)).find("no encryption"), std::string::npos)
      << PQerrorMessage(refused);
  PQfinish(refused);
}

TEST_F(PgProxyTls, VerifyFullByAddressAndByName) {
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    SCOPED_TRACE(host);
    Child proxy;
    const int port =
        StartProxyTo(proxy, Upstream(host, "sslmode=verify-full&sslrootcert=" + pg_->cert_path()),
                     ProxyOptions());
    ASSERT_GT(port, 0);
    for (const std::string sslmode : {"require", "disable"}) {
      PGconn* conn = Open(sslmode, port);
      ASSERT_EQ(PQstatus(conn), CONNECTION_OK);
      EXPECT_EQ(Exec(conn, "SELECT 'verified ' || current_user").first, "verified app");
      EXPECT_EQ(ServerSsl(conn), "t");
      PQfinish(conn);
    }
    proxy.Stop();
    EXPECT_EQ(proxy.exit_status(), 0);
  }
}

TEST_F(PgProxyTls, VerifyFullMismatchFailsClearlyAndTheProxyLivesOn) {
  // Another self-signed certificate, for the same names, as the only CA.
  const std::string other_cert = (*state_ / "other-ca.pem").string();
  Output made = Shell(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
      Quote((*state_ / "other-ca.key").string()) + " -out " + Quote(other_cert));
  ASSERT_EQ(made.status, 0) << made.out;
  struct Case {
    std::string name, upstream;
  };
  const std::vector<Case> cases = {
      {"another CA", Upstream("127.0.0.1", "sslmode=verify-full&sslrootcert=" + other_cert)},
      // The right CA, an address the certificate does not name.
      {"127.0.0.2 not in the SAN",
       Upstream("127.0.0.2", "sslmode=verify-full&sslrootcert=" + pg_->cert_path())},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Child proxy;
    const int port = StartProxyTo(proxy, c.upstream, ProxyOptions());
    ASSERT_GT(port, 0);
    for (int attempt = 0; attempt < 3; ++attempt) {
      for (const std::string sslmode : {"require", "disable"}) {
        PGconn* conn = Connect(*token_, sslmode, port);
        EXPECT_NE(PQstatus(conn), CONNECTION_OK);
        const std::string error = PQerrorMessage(conn);
        EXPECT_NE(error.find("dualkey cannot reach the database"), std::string::npos) << error;
        EXPECT_NE(error.find("certificate verify failed"), std::string::npos) << error;
        PQfinish(conn);
      }
    }
    proxy.Stop();
    EXPECT_EQ(proxy.exit_status(), 0) << "the proxy did not live to its SIGTERM";
  }
  // The control: 127.0.0.2 is reachable, only the name check refused it.
  Child unverified;
  const int port =
      StartProxyTo(unverified, Upstream("127.0.0.2", "sslmode=require"), ProxyOptions());
  ASSERT_GT(port, 0);
  PGconn* conn = Open("require", port);
  EXPECT_EQ(Exec(conn, "SELECT inet_server_addr()").first, "127.0.0.2");
  PQfinish(conn);
  // And the suite's proxy is untouched.
  PGconn* other = Open("require");
  EXPECT_EQ(Exec(other, "SELECT 'still here'").first, "still here");
  PQfinish(other);
}

std::string Numbers(int count) {
  std::string text;
  for (int i = 0; i < count; ++i) text += std::to_string(i) + (i % 17 == 0 ? ";" : ",");
  return text;
}

TEST_F(PgProxyTls, LargeStatementsResultsAndCopyOverTls) {
  for (const std::string sslmode : {"require", "disable"}) {
    SCOPED_TRACE(sslmode);
    PGconn* conn = Open(sslmode);
    ASSERT_EQ(PQstatus(conn), CONNECTION_OK);
    // A statement of ~290 KB (many TLS records), echoed whole.
    const std::string big = Numbers(50000);
    ASSERT_GT(big.size(), 256u * 1024);
    PGresult* r = PQexec(conn, ("SELECT length(t), t FROM (SELECT '" + big + "'::text AS t) s " +
                                "/* big statement */")
                                   .c_str());
    ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(conn);
    EXPECT_EQ(std::string(PQgetvalue(r, 0, 0)), std::to_string(big.size()));
    EXPECT_TRUE(PQgetvalue(r, 0, 1) == big) << "the echoed statement differs";
    PQclear(r);
    // The same as a parameter (a Bind over many records).
    const char* values[1] = {big.c_str()};
    r = PQexecParams(conn,
                     "SELECT md5($1) = md5(string_agg(g::text || "
                     "CASE WHEN g % 17 = 0 THEN ';' ELSE ',' END, '' ORDER BY g)), $1 "
                     "FROM generate_series(0, 49999) g",
                     1, nullptr, values, nullptr, nullptr, 0);
    ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(conn);
    EXPECT_STREQ(PQgetvalue(r, 0, 0), "t");
    EXPECT_TRUE(PQgetvalue(r, 0, 1) == big);
    PQclear(r);
    // A held statement of ~290 KB: decided whole, held, the session goes on.
    const std::string table = "big_kept_" + sslmode;
    Exec(conn, "CREATE TABLE " + table + " (id int)");
    Exec(conn, "INSERT INTO " + table + " VALUES (1)");
    std::string message;
    EXPECT_EQ(Exec(conn, "DROP TABLE " + table + " /* " + big + " */", &message).second, "DKH01")
        << message.substr(0, 300);
    EXPECT_EQ(Exec(conn, "SELECT count(*) FROM " + table).first, "1");

    // Results of several MiB: five rows of 1 MB, one value of 4.2 MB.
    r = PQexec(conn, "SELECT g, repeat(chr(96 + g), 1000000) FROM generate_series(1, 5) g");
    ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(conn);
    ASSERT_EQ(PQntuples(r), 5);
    for (int row = 0; row < 5; ++row) {
      EXPECT_EQ(std::string(PQgetvalue(r, row, 0)), std::to_string(row + 1));
      EXPECT_EQ(PQgetlength(r, row, 1), 1000000);
      EXPECT_TRUE(std::string(PQgetvalue(r, row, 1)) ==
                  std::string(1000000, static_cast<char>('a' + row)))
          << "row " << row;
    }
    PQclear(r);
    r = PQexec(conn,
               "SELECT string_agg(lpad(i::text, 7, '0'), '' ORDER BY i) "
               "FROM generate_series(1, 600000) i");
    ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(conn);
    std::string expected;
    expected.reserve(4200000);
    char digits[16];
    for (int i = 1; i <= 600000; ++i) {
      std::snprintf(digits, sizeof digits, "%07d", i);
      expected += digits;
    }
    EXPECT_EQ(PQgetlength(r, 0, 0), static_cast<int>(expected.size()));
    EXPECT_TRUE(PQgetvalue(r, 0, 0) == expected) << "the 4.2 MB value differs";
    PQclear(r);

    // COPY of ~5 MB in, in pieces that cut rows anywhere, and out again.
    const std::string copy_table = "copied_" + sslmode;
    Exec(conn, "CREATE TABLE " + copy_table + " (id int, payload text)");
    std::string rows;
    for (int i = 1; i <= 60000; ++i)
      rows += std::to_string(i) + "\t" + std::string(40 + i % 50, static_cast<char>('a' + i % 26)) +
              "-" + std::to_string(i * 7) + "\n";
    ASSERT_GT(rows.size(), 4u << 20);
    r = PQexec(conn, ("COPY " + copy_table + " FROM STDIN").c_str());
    ASSERT_EQ(PQresultStatus(r), PGRES_COPY_IN) << PQerrorMessage(conn);
    PQclear(r);
    for (std::size_t at = 0, piece = 1; at < rows.size(); at += piece, piece = piece * 3 % 70001)
      ASSERT_EQ(PQputCopyData(conn, rows.data() + at,
                              static_cast<int>(std::min(piece, rows.size() - at))),
                1);
    ASSERT_EQ(PQputCopyEnd(conn, nullptr), 1);
    r = PQgetResult(conn);
    EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQerrorMessage(conn);
    EXPECT_STREQ(PQcmdTuples(r), "60000");
    PQclear(r);
    while ((r = PQgetResult(conn)) != nullptr) PQclear(r);
    r = PQexec(conn, ("COPY (SELECT * FROM " + copy_table + " ORDER BY id) TO STDOUT").c_str());
    ASSERT_EQ(PQresultStatus(r), PGRES_COPY_OUT) << PQerrorMessage(conn);
    PQclear(r);
    std::string out;
    char* buffer = nullptr;
    int n;
    while ((n = PQgetCopyData(conn, &buffer, 0)) > 0) {
      out.append(buffer, static_cast<std::size_t>(n));
      PQfreemem(buffer);
    }
    EXPECT_EQ(n, -1);
    r = PQgetResult(conn);
    EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQerrorMessage(conn);
    PQclear(r);
    while ((r = PQgetResult(conn)) != nullptr) PQclear(r);
    EXPECT_EQ(out.size(), rows.size());
    EXPECT_TRUE(out == rows) << "COPY TO returned other bytes than COPY FROM took";
    // The session still answers, on TLS upstream.
    EXPECT_EQ(ServerSsl(conn), "t");
    PQfinish(conn);
  }
}

// Pipelines (libpq pipeline mode: Parse/Bind/Describe/Execute of many
// statements, then Sync) with a held statement in the middle of one batch:
// PostgreSQL's own answer, the rest of that batch aborted and rolled back,
// the batches around it whole, the session right afterwards. Round after
// round on one connection.
TEST_F(PgProxyTls, PipelineWithAHeldStatementInTheMiddle) {
  for (const std::string sslmode : {"require", "disable"}) {
    SCOPED_TRACE(sslmode);
    PGconn* conn = Open(sslmode);
    ASSERT_EQ(PQstatus(conn), CONNECTION_OK);
    const std::string kept = "pipe_kept_" + sslmode, log = "pipe_log_" + sslmode;
    ASSERT_EQ(Exec(conn, "CREATE TABLE " + kept + " (id int)").second, "");
    ASSERT_EQ(Exec(conn, "INSERT INTO " + kept + " VALUES (1), (2)").second, "");
    ASSERT_EQ(Exec(conn, "CREATE TABLE " + log + " (round int, i int)").second, "");
    PGresult* prepared =
        PQprepare(conn, "pipe_insert",
                  ("INSERT INTO " + log + " VALUES ($1::int, $2::int)").c_str(), 2, nullptr);
    ASSERT_EQ(PQresultStatus(prepared), PGRES_COMMAND_OK) << PQerrorMessage(conn);
    PQclear(prepared);
    const std::string insert = "INSERT INTO " + log + " VALUES ($1::int, $2::int)";
    for (int round = 0; round < 4; ++round) {
      SCOPED_TRACE(round);
      ASSERT_EQ(PQenterPipelineMode(conn), 1);
      // What each item of the pipeline should answer: a status, and the
      // value for SELECTs; a Sync is PGRES_PIPELINE_SYNC.
      struct Expect {
        ExecStatusType status;
        std::string value, code;
      };
      std::vector<Expect> expect;
      std::vector<std::string> keep;  // parameter text, alive until sent
      keep.reserve(200);
      auto param = [&](int v) { return keep.emplace_back(std::to_string(v)).c_str(); };
      auto send_insert = [&](int i, bool prepared_statement) {
        const char* values[2] = {param(round), param(i)};
        const int sent =
            prepared_statement
                ? PQsendQueryPrepared(conn, "pipe_insert", 2, values, nullptr, nullptr, 0)
                : PQsendQueryParams(conn, insert.c_str(), 2, nullptr, values, nullptr, nullptr, 0);
        ASSERT_EQ(sent, 1) << PQerrorMessage(conn);
      };
      auto send_select = [&](int v) {
        const char* values[1] = {param(v)};
        ASSERT_EQ(
            PQsendQueryParams(conn, "SELECT $1::int * 3", 1, nullptr, values, nullptr, nullptr, 0),
            1);
      };
      auto sync = [&] {
        ASSERT_EQ(PQpipelineSync(conn), 1);
        expect.push_back({PGRES_PIPELINE_SYNC, "", ""});
      };
      // Batch A: all allowed.
      for (int i = 0; i < 10; ++i) {
        send_insert(i, false);
        expect.push_back({PGRES_COMMAND_OK, "", ""});
      }
      send_select(round + 10);
      expect.push_back({PGRES_TUPLES_OK, std::to_string((round + 10) * 3), ""});
      sync();
      // Batch B: five inserts, the held DROP, five more and a SELECT.
      for (int i = 100; i < 105; ++i) {
        send_insert(i, false);
        expect.push_back({PGRES_COMMAND_OK, "", ""});
      }
      ASSERT_EQ(PQsendQueryParams(conn, ("DROP TABLE " + kept).c_str(), 0, nullptr, nullptr,
                                  nullptr, nullptr, 0),
                1);
      expect.push_back({PGRES_FATAL_ERROR, "", "DKH01"});
      for (int i = 200; i < 205; ++i) {
        send_insert(i, i % 2 == 0);
        expect.push_back({PGRES_PIPELINE_ABORTED, "", ""});
      }
      send_select(round + 20);
      expect.push_back({PGRES_PIPELINE_ABORTED, "", ""});
      sync();
      // Batch C: a named statement and a SELECT, all allowed.
      for (int i = 300; i < 305; ++i) {
        send_insert(i, true);
        expect.push_back({PGRES_COMMAND_OK, "", ""});
      }
      send_select(round + 30);
      expect.push_back({PGRES_TUPLES_OK, std::to_string((round + 30) * 3), ""});
      sync();
      ASSERT_EQ(PQflush(conn), 0);

      for (std::size_t k = 0; k < expect.size(); ++k) {
        SCOPED_TRACE("pipeline item " + std::to_string(k));
        bool timed_out = false;
        PGresult* r = GetResult(conn, &timed_out);
        ASSERT_FALSE(timed_out) << "no answer from the proxy";
        ASSERT_NE(r, nullptr) << PQerrorMessage(conn);
        EXPECT_EQ(PQresultStatus(r), expect[k].status)
            << PQresStatus(PQresultStatus(r)) << " " << PQresultErrorMessage(r);
        if (expect[k].status == PGRES_TUPLES_OK && PQntuples(r) == 1)
          EXPECT_EQ(std::string(PQgetvalue(r, 0, 0)), expect[k].value);
        if (expect[k].status == PGRES_TUPLES_OK) EXPECT_EQ(PQntuples(r), 1);
        if (!expect[k].code.empty()) {
          EXPECT_EQ(Sqlstate(r), expect[k].code) << PQresultErrorMessage(r);
          EXPECT_FALSE(ApprovalId(PQresultErrorMessage(r)).empty()) << PQresultErrorMessage(r);
        }
        const bool was_sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
        PQclear(r);
        if (!was_sync) {
          // Each statement's results end with a null.
          PGresult* end = GetResult(conn, &timed_out);
          ASSERT_FALSE(timed_out);
          EXPECT_EQ(end, nullptr) << PQresStatus(PQresultStatus(end));
          PQclear(end);
        }
      }
      EXPECT_EQ(PQexitPipelineMode(conn), 1) << PQerrorMessage(conn);
      EXPECT_EQ(PQtransactionStatus(conn), PQTRANS_IDLE);
      // Out of the pipeline: batch B is gone (its implicit transaction
      // rolled back), A and C are in, the table is still there.
      EXPECT_EQ(Exec(conn, "SELECT string_agg(i::text, ',' ORDER BY i) FROM " + log +
                               " WHERE round = " + std::to_string(round))
                    .first,
                "0,1,2,3,4,5,6,7,8,9,300,301,302,303,304");
      EXPECT_EQ(Exec(conn, "SELECT count(*) FROM " + kept).first, "2");
      EXPECT_EQ(Exec(conn, "SELECT 6 * 7").first, "42");
      std::string message;
      EXPECT_EQ(Exec(conn, "DROP TABLE " + kept, &message).second, "DKH01") << message;
      EXPECT_EQ(ServerSsl(conn), "t");
    }
    EXPECT_EQ(Exec(conn, "SELECT count(*) FROM " + log).first, "60");
    PQfinish(conn);
  }
}

// Held, approved by a human, the retry runs after a snapshot: pg_dump too
// must reach the database over TLS (the database refuses the role without).
TEST_F(PgProxyTls, ApprovedDropRunsOverTlsAfterASnapshot) {
  struct Route {
    std::string name, upstream;
  };
  const std::vector<Route> routes = {
      {"require", ""},  // the suite's proxy
      {"verify-full localhost",
       Upstream("localhost", "sslmode=verify-full&sslrootcert=" + pg_->cert_path())}};
  for (const Route& route : routes) {
    SCOPED_TRACE(route.name);
    Child proxy;
    int port = 0;
    if (!route.upstream.empty()) {
      port = StartProxyTo(proxy, route.upstream, ProxyOptions());
      ASSERT_GT(port, 0);
    }
    PGconn* conn = Open("require", port);
    ASSERT_EQ(PQstatus(conn), CONNECTION_OK);
    const std::string table = port == 0 ? "tls_precious" : "tls_precious_vf";
    ASSERT_EQ(Exec(conn, "CREATE TABLE " + table + " (id int primary key, note text)").second, "");
    Exec(conn, "INSERT INTO " + table + " SELECT g, 'row ' || g FROM generate_series(1, 300) g");
    std::string message;
    ASSERT_EQ(Exec(conn, "DROP TABLE " + table, &message).second, "DKH01");
    const std::string id = ApprovalId(message);
    ASSERT_FALSE(id.empty()) << message;
    const auto pending = PendingIds();
    EXPECT_NE(std::find(pending.begin(), pending.end(), id), pending.end());
    ASSERT_TRUE(Approve(id));
    EXPECT_EQ(Exec(conn, "DROP TABLE " + table, &message).second, "") << message;
    EXPECT_EQ(Exec(conn, "SELECT to_regclass('" + table + "') IS NULL").first, "t");
    EXPECT_EQ(ServerSsl(conn), "t");
    // Used once.
    Exec(conn, "CREATE TABLE " + table + " (id int)");
    Exec(conn, "INSERT INTO " + table + " VALUES (1)");
    EXPECT_EQ(Exec(conn, "DROP TABLE " + table).second, "DKH01");
    PQfinish(conn);
    // The snapshot taken before the drop is in the vault.
    bool found = false;
    for (const json& s : VaultSnapshots()) found = found || s.dump().find(id) != std::string::npos;
    EXPECT_TRUE(found) << VaultSnapshots().dump();
  }
}

TEST_F(PgProxyTls, CancelOverTls) {
  PGconn* conn = Open("require");
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(PQsendQuery(conn, "SELECT pg_sleep(20) /* cancel_over_tls */"), 1);
  // Cancelled once it runs (a cancel before that would cancel nothing).
  for (int i = 0; i < 100 && BackendsRunning("cancel_over_tls") != 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  PGcancel* cancel = PQgetCancel(conn);
  char error[256];
  EXPECT_EQ(PQcancel(cancel, error, sizeof error), 1) << error;
  PQfreeCancel(cancel);
  bool timed_out = false;
  PGresult* r = GetResult(conn, &timed_out);
  EXPECT_EQ(Sqlstate(r), "57014") << PQresultErrorMessage(r);
  PQclear(r);
  while ((r = GetResult(conn, &timed_out)) != nullptr) PQclear(r);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(Exec(conn, "SELECT 1").first, "1");
  PQfinish(conn);
}

// Many sessions at once, half of them TLS to the proxy, all TLS upstream:
// every answer is the one its session asked for; holds among them.
TEST_F(PgProxyTls, ManyConcurrentSessions) {
  {
    PGconn* conn = Open("require");
    ASSERT_EQ(Exec(conn, "CREATE TABLE conc_kept (id int)").second, "");
    ASSERT_EQ(Exec(conn, "INSERT INTO conc_kept VALUES (1)").second, "");
    PQfinish(conn);
  }
  constexpr int kThreads = 16, kQueries = 200;
  std::atomic<int> right{0}, held{0}, wrong{0};
  std::mutex mutex;
  std::string first_wrong;
  auto fail = [&](const std::string& what) {
    ++wrong;
    std::lock_guard lock(mutex);
    if (first_wrong.empty()) first_wrong = what;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string sslmode = t % 2 == 0 ? "require" : "disable";
      PGconn* conn = Connect(*token_, sslmode);
      if (PQstatus(conn) != CONNECTION_OK) {
        fail("thread " + std::to_string(t) + ": " + PQerrorMessage(conn));
        PQfinish(conn);
        return;
      }
      if (PQsslInUse(conn) != (t % 2 == 0 ? 1 : 0)) fail("thread " + std::to_string(t) + ": ssl");
      for (int i = 0; i < kQueries; ++i) {
        const long long n = t * 100000LL + i;
        if (i % 50 == 25) {
          std::string message;
          if (Exec(conn, "DROP TABLE conc_kept", &message).second == "DKH01")
            ++held;
          else
            fail("thread " + std::to_string(t) + " DROP: " + message);
          continue;
        }
        std::string got, want;
        if (i % 3 == 0) {
          got = Exec(conn, "SELECT " + std::to_string(n) + " * 7 || '/' || repeat('q', " +
                               std::to_string(i % 97) + ")")
                    .first;
        } else {
          const std::string a = std::to_string(n), b(static_cast<std::size_t>(i % 97), 'q');
          const char* values[2] = {a.c_str(), b.c_str()};
          PGresult* r = PQexecParams(conn, "SELECT $1::bigint * 7 || '/' || $2", 2, nullptr, values,
                                     nullptr, nullptr, 0);
          if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) got = PQgetvalue(r, 0, 0);
          PQclear(r);
        }
        want = std::to_string(n * 7) + "/" + std::string(static_cast<std::size_t>(i % 97), 'q');
        if (got == want)
          ++right;
        else
          fail("thread " + std::to_string(t) + " query " + std::to_string(i) + ": got '" + got +
               "' " + PQerrorMessage(conn));
      }
      if (ServerSsl(conn) != "t") fail("thread " + std::to_string(t) + ": upstream not TLS");
      PQfinish(conn);
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0) << first_wrong;
  EXPECT_EQ(held.load(), kThreads * (kQueries / 50));
  EXPECT_EQ(right.load(), kThreads * (kQueries - kQueries / 50));
  EXPECT_EQ(DirectSql("shop", "SELECT count(*) FROM conc_kept").out, "1\n");
}

// A client that goes away in the middle of a large result, without a word
// (no Terminate, no TLS close_notify, a reset): the proxy lets the database
// go (the backend ends) and goes on serving the others.
TEST_F(PgProxyTls, ClientVanishingMidResultLeavesTheOthersServed) {
  PGconn* bystander = Open("require");
  ASSERT_EQ(PQstatus(bystander), CONNECTION_OK);
  for (const std::string sslmode : {"require", "disable", "require"}) {
    SCOPED_TRACE(sslmode);
    PGconn* conn = Open(sslmode);
    ASSERT_EQ(PQstatus(conn), CONNECTION_OK);
    const std::string marker = "vanish_" + sslmode;
    // ~300 MB if read whole: far more than any buffer on the way.
    ASSERT_EQ(PQsendQuery(conn, ("SELECT repeat('z', 1000000) FROM generate_series(1, 300) /* " +
                                 marker + " */")
                                    .c_str()),
              1);
    // Read some of it: several MB, many TLS records. (Not many reads: libpq
    // takes what is there each time, and on the fast path much is there.)
    for (int reads = 0; reads < 20;) {
      pollfd p{PQsocket(conn), POLLIN, 0};
      ASSERT_EQ(poll(&p, 1, 10000), 1) << "no result data arrived";
      ASSERT_EQ(PQconsumeInput(conn), 1) << PQerrorMessage(conn);
      ++reads;
    }
    EXPECT_EQ(PQisBusy(conn), 1) << "the whole result arrived already";
    EXPECT_EQ(BackendsRunning(marker), 1);
    const int fd = PQsocket(conn);
    linger reset{1, 0};
    ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset), 0);
    shutdown(fd, SHUT_RDWR);
    PQfinish(conn);
    // The database's backend goes away with it.
    int running = -1;
    for (int i = 0; i < 100 && running != 0; ++i) {
      running = BackendsRunning(marker);
      if (running != 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(running, 0) << "the backend still runs the vanished client's statement";
    EXPECT_EQ(Exec(bystander, "SELECT 'still here'").first, "still here");
  }
  PQfinish(bystander);
  for (const std::string sslmode : {"require", "disable"}) {
    PGconn* fresh = Open(sslmode);
    EXPECT_EQ(Exec(fresh, "SELECT count(*) FROM generate_series(1, 1000)").first, "1000");
    EXPECT_EQ(ServerSsl(fresh), "t");
    PQfinish(fresh);
  }
}

}  // namespace
}  // namespace dualkey::pgtest
