// `dualkey pg-proxy` end to end: a real PostgreSQL (SCRAM and md5 roles), a
// real daemon with a TOTP approver, the real proxy binary, and psql/libpq as
// the agents' clients.
#include "harness.h"

namespace dualkey::pgtest {
namespace {

TEST_F(PgProxy, PsqlRunsQueriesAndCopyBothWays) {
  Output made = Psql(
      "-c 'CREATE TABLE items (id int primary key, name text)' "
      "-c \"INSERT INTO items VALUES (1, 'one'), (2, 'two')\"");
  ASSERT_EQ(made.status, 0) << made.out;
  Output copied_in = Psql("-c 'COPY items FROM STDIN'", "3\tthree\n4\tfour\n");
  ASSERT_EQ(copied_in.status, 0) << copied_in.out;
  Output copied_out = Psql("-c 'COPY (SELECT * FROM items ORDER BY id) TO STDOUT'");
  ASSERT_EQ(copied_out.status, 0) << copied_out.out;
  EXPECT_EQ(copied_out.out, "1\tone\n2\ttwo\n3\tthree\n4\tfour\n");
  Output counted = Psql("-c 'SELECT count(*) FROM items'");
  EXPECT_EQ(counted.out, "4\n");
}

// Tens of megabytes each way: more than the sockets buffer, so the fast
// path must hold back what a side did not take and stop reading the other.
TEST_F(PgProxy, LargeCopyInAndResultsOutArriveWhole) {
  Output made = Psql("-c 'CREATE TABLE bulk (id int, payload text)'");
  ASSERT_EQ(made.status, 0) << made.out;
  std::string rows;
  const std::string payload(200, 'x');
  for (int i = 1; i <= 100000; ++i) rows += std::to_string(i) + "\t" + payload + "\n";
  Output copied_in = Psql("-c 'COPY bulk FROM STDIN'", rows);  // ~20 MB
  ASSERT_EQ(copied_in.status, 0) << copied_in.out;
  Output summed = Psql("-c 'SELECT count(*), sum(id), sum(length(payload)) FROM bulk'");
  EXPECT_EQ(summed.out, "100000|5000050000|20000000\n");
  // Out: the same ~20 MB as a result set and as COPY, read whole.
  PGconn* conn = Connect(*token_);
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  PGresult* all = PQexec(conn, "SELECT id, payload FROM bulk ORDER BY id");
  ASSERT_EQ(PQresultStatus(all), PGRES_TUPLES_OK) << PQerrorMessage(conn);
  EXPECT_EQ(PQntuples(all), 100000);
  EXPECT_EQ(std::string(PQgetvalue(all, 99999, 0)), "100000");
  PQclear(all);
  Output copied_out = Psql("-c 'COPY bulk TO STDOUT'");
  ASSERT_EQ(copied_out.status, 0);
  EXPECT_EQ(copied_out.out.size(), rows.size());
  // The session still answers.
  EXPECT_EQ(Exec(conn, "SELECT 7").first, "7");
  PQfinish(conn);
}

TEST_F(PgProxy, ExtendedProtocolNamedAndUnnamed) {
  PGconn* conn = Connect(*token_);
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  Exec(conn, "CREATE TABLE ext (id int, v text)");
  const char* values[2] = {"7", "seven"};
  PGresult* r = PQexecParams(conn, "INSERT INTO ext VALUES ($1::int, $2)", 2, nullptr, values,
                             nullptr, nullptr, 0);
  EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQresultErrorMessage(r);
  PQclear(r);
  r = PQprepare(conn, "by_id", "SELECT v FROM ext WHERE id = $1::int", 1, nullptr);
  ASSERT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQresultErrorMessage(r);
  PQclear(r);
  for (int i = 0; i < 3; ++i) {
    const char* id[1] = {"7"};
    r = PQexecPrepared(conn, "by_id", 1, id, nullptr, nullptr, 0);
    ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQresultErrorMessage(r);
    EXPECT_STREQ(PQgetvalue(r, 0, 0), "seven");
    PQclear(r);
  }
  r = PQprepare(conn, "", "SELECT count(*) FROM ext", 0, nullptr);
  ASSERT_EQ(PQresultStatus(r), PGRES_COMMAND_OK);
  PQclear(r);
  r = PQexecPrepared(conn, "", 0, nullptr, nullptr, nullptr, 0);
  EXPECT_STREQ(PQgetvalue(r, 0, 0), "1");
  PQclear(r);
  // A held statement through Parse: the error, then the session goes on.
  r = PQprepare(conn, "dropper", "DROP TABLE ext", 0, nullptr);
  EXPECT_EQ(PQresultStatus(r), PGRES_FATAL_ERROR);
  EXPECT_STREQ(PQresultErrorField(r, PG_DIAG_SQLSTATE), "DKH01") << PQresultErrorMessage(r);
  PQclear(r);
  r = PQexecParams(conn, "DROP TABLE ext", 0, nullptr, nullptr, nullptr, nullptr, 0);
  EXPECT_STREQ(PQresultErrorField(r, PG_DIAG_SQLSTATE), "DKH01");
  PQclear(r);
  EXPECT_EQ(Exec(conn, "SELECT count(*) FROM ext").first, "1");
  // Held inside a transaction: the transaction is aborted, as PostgreSQL would.
  Exec(conn, "BEGIN");
  r = PQexecParams(conn, "DROP TABLE ext", 0, nullptr, nullptr, nullptr, nullptr, 0);
  EXPECT_STREQ(PQresultErrorField(r, PG_DIAG_SQLSTATE), "DKH01");
  PQclear(r);
  EXPECT_EQ(PQtransactionStatus(conn), PQTRANS_INERROR);
  EXPECT_EQ(Exec(conn, "SELECT 1").second, "25P02");
  Exec(conn, "ROLLBACK");
  EXPECT_EQ(Exec(conn, "SELECT count(*) FROM ext").first, "1");
  PQfinish(conn);
}

TEST_F(PgProxy, WrongTokenOrScopeIsRefused) {
  PGconn* conn = Connect("dk_not-the-token");
  EXPECT_NE(PQstatus(conn), CONNECTION_OK);
  EXPECT_NE(std::string(PQerrorMessage(conn)).find("password authentication failed"),
            std::string::npos)
      << PQerrorMessage(conn);
  PQfinish(conn);
  // The real database password is no token.
  conn = Connect("real-secret");
  EXPECT_NE(PQstatus(conn), CONNECTION_OK);
  PQfinish(conn);
}

TEST_F(PgProxy, HeldStatementKeepsSessionAndTransactionRight) {
  PGconn* conn = Connect(*token_);
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  Exec(conn, "CREATE TABLE keep (id int)");
  Exec(conn, "INSERT INTO keep VALUES (1)");
  std::string message;
  EXPECT_EQ(Exec(conn, "DROP TABLE keep", &message).second, "DKH01");
  EXPECT_NE(message.find("dualkey approve"), std::string::npos) << message;
  EXPECT_FALSE(ApprovalId(message).empty()) << message;
  EXPECT_EQ(Exec(conn, "SELECT count(*) FROM keep").first, "1");
  // Several statements in one message: any held part holds all of it.
  EXPECT_EQ(Exec(conn, "INSERT INTO keep VALUES (2); DROP TABLE keep").second, "DKH01");
  EXPECT_EQ(Exec(conn, "SELECT count(*) FROM keep").first, "1");
  // Inside a transaction.
  Exec(conn, "BEGIN");
  Exec(conn, "INSERT INTO keep VALUES (3)");
  EXPECT_EQ(Exec(conn, "DROP TABLE keep").second, "DKH01");
  EXPECT_EQ(Exec(conn, "SELECT 1").second, "25P02");
  EXPECT_EQ(Exec(conn, "ROLLBACK").second, "");
  EXPECT_EQ(Exec(conn, "SELECT count(*) FROM keep").first, "1");
  PQfinish(conn);
}

// A statement with a byte that is not UTF-8 reaches the daemon exactly
// (it was an abort of the whole proxy): held, and the proxy keeps serving.
TEST_F(PgProxy, InvalidUtf8StatementIsHeldAndTheProxySurvives) {
  PGconn* conn = Connect(*token_);
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  std::string message;
  EXPECT_EQ(Exec(conn, "DROP TABLE \"orders\xff\"", &message).second, "DKH01") << message;
  EXPECT_FALSE(ApprovalId(message).empty()) << message;
  PQfinish(conn);
  PGconn* again = Connect(*token_);
  ASSERT_EQ(PQstatus(again), CONNECTION_OK) << PQerrorMessage(again);
  EXPECT_EQ(Exec(again, "SELECT 1").first, "1");
  PQfinish(again);
}

TEST_F(PgProxy, HeldStatementInTheMiddleOfOneWrite) {
  PGconn* conn = Connect(*token_);
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  Exec(conn, "CREATE TABLE middle (id int)");
  Exec(conn, "INSERT INTO middle VALUES (1), (2)");
  // Allowed, held, allowed: one write, three ReadyForQuery.
  RawReply reply = SendRaw(PQsocket(conn),
                           {QueryMessage("SELECT 41 + 1") + QueryMessage("DROP TABLE middle") +
                            QueryMessage("SELECT count(*) FROM middle")},
                           3);
  std::vector<std::string> rows, errors;
  for (const auto& [type, body] : reply.messages) {
    if (type == 'D') rows.push_back(body.substr(6));  // 2 bytes count, 4 bytes length
    if (type == 'E') errors.push_back(ErrorCode(body));
  }
  EXPECT_EQ(rows, (std::vector<std::string>{"42", "2"}));
  EXPECT_EQ(errors, (std::vector<std::string>{"DKH01"}));
  // The session goes on, and the table is still there.
  EXPECT_EQ(Exec(conn, "SELECT count(*) FROM middle").first, "2");
  PQfinish(conn);
}

TEST_F(PgProxy, FunctionCallIsRefusedEvenWhenItArrivesInPieces) {
  PGconn* conn = Connect(*token_);
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  // FunctionCall of version() (oid 89): no arguments, text result.
  std::string call = "F";
  dualkey::pgproxy::wire::AppendInt32(call, 14);
  dualkey::pgproxy::wire::AppendInt32(call, 89);
  call += std::string("\0\0\0\0\0\0", 6);
  RawReply reply = SendRaw(PQsocket(conn), {call.substr(0, 7), call.substr(7)}, 1, 100);
  bool refused = false, answered = false;
  for (const auto& [type, body] : reply.messages) {
    refused = refused || (type == 'E' && ErrorCode(body) == "0A000");
    answered = answered || type == 'V';
  }
  EXPECT_TRUE(refused);
  EXPECT_FALSE(answered) << "the function call reached the server";
  PQfinish(conn);
}

TEST_F(PgProxy, UpstreamThroughTheUnixSocket) {
  Child proxy;
  std::string line;
  std::string dir = pg_->socket_dir();
  std::string encoded;
  for (char c : dir) encoded += c == '/' ? std::string("%2F") : std::string(1, c);
  ASSERT_TRUE(proxy.Start({DUALKEY_BINARY, "pg-proxy", "--listen", "127.0.0.1:0", "--upstream",
                           "postgresql://app@" + encoded + ":" + std::to_string(pg_->port()),
                           "--socket", *socket_, "--state-dir", state_->string(), "--quiet"},
                          {"PGPASSWORD=real-secret"}, &line));
  const int port = PortFromListening(line);
  ASSERT_GT(port, 0) << line;
  PGconn* conn = Connect(*token_, "disable", port);
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  EXPECT_EQ(
      Exec(conn, "SELECT current_user || ' ' || coalesce(inet_server_addr()::text, 'unix')").first,
      "app unix");
  Exec(conn, "CREATE TABLE over_unix (id int)");
  EXPECT_EQ(Exec(conn, "DROP TABLE over_unix").second, "DKH01");
  PQfinish(conn);
  proxy.Stop();
}

TEST_F(PgProxy, ApprovedDropRunsOnceAfterSnapshotThatRestores) {
  PGconn* conn = Connect(*token_);
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  Exec(conn, "CREATE TABLE precious (id int primary key, note text)");
  Exec(conn, "INSERT INTO precious SELECT g, 'row ' || g FROM generate_series(1, 500) g");
  std::string message;
  ASSERT_EQ(Exec(conn, "DROP TABLE precious", &message).second, "DKH01");
  const std::string id = ApprovalId(message);
  ASSERT_FALSE(id.empty()) << message;
  ASSERT_TRUE(Approve(id));
  EXPECT_EQ(Exec(conn, "DROP TABLE precious", &message).second, "") << message;
  EXPECT_EQ(Exec(conn, "SELECT to_regclass('precious') IS NULL").first, "t");
  // Used once: the same statement is held again.
  Exec(conn, "CREATE TABLE precious (id int)");
  EXPECT_EQ(Exec(conn, "DROP TABLE precious").second, "DKH01");
  Exec(conn, "ALTER TABLE precious RENAME TO precious_new");
  PQfinish(conn);

  // The snapshot is in the vault, and replays into the database.
  const std::string vault_dir = (*state_ / "vault").string();
  Output listed =
      Shell(std::string(DUALKEY_BINARY) + " vault ls --json --vault " + Quote(vault_dir));
  ASSERT_EQ(listed.status, 0) << listed.out;
  std::string snapshot;
  json snapshots = json::parse(listed.out.substr(listed.out.find('[')), nullptr, false);
  ASSERT_TRUE(snapshots.is_array()) << listed.out;
  for (const json& s : snapshots)
    if (s.dump().find(id) != std::string::npos) snapshot = s.value("id", "");
  ASSERT_FALSE(snapshot.empty()) << listed.out;
  std::ifstream log(*state_ / "pg-proxy.log");
  std::stringstream log_text;
  log_text << log.rdbuf();
  EXPECT_NE(log_text.str().find(snapshot), std::string::npos);
  EXPECT_FALSE(fs::exists(*state_ / "snapshot-spool") && !fs::is_empty(*state_ / "snapshot-spool"));
  const std::string direct =
      "postgresql://dualkey@127.0.0.1:" + std::to_string(pg_->port()) + "/shop";
  Output restored = Shell(std::string(DUALKEY_BINARY) + " vault restore " + snapshot + " --vault " +
                          Quote(vault_dir) + " --db " + Quote(direct));
  ASSERT_EQ(restored.status, 0) << restored.out;
  Output check = Shell("/usr/bin/psql " + Quote(direct) + " -X -At -c " +
                       Quote("SELECT count(*), sum(id), max(note) FROM public.precious"));
  EXPECT_EQ(check.out, "500|125250|row 99\n");
}

TEST_F(PgProxy, BlastRadiusHoldsLargeDeletes) {
  PGconn* conn = Connect(*token_);
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  Exec(conn, "CREATE TABLE orders (id int primary key, total int)");
  Exec(conn, "INSERT INTO orders SELECT g, g % 100 FROM generate_series(1, 5000) g");
  Exec(conn, "ANALYZE orders");
  std::string message;
  EXPECT_EQ(Exec(conn, "DELETE FROM orders WHERE id > 10", &message).second, "DKH01");
  EXPECT_NE(message.find("deletes 4,990 rows of public.orders"), std::string::npos) << message;
  EXPECT_EQ(Exec(conn, "DELETE FROM orders WHERE id <= 5", &message).second, "") << message;
  EXPECT_EQ(Exec(conn, "SELECT count(*) FROM orders").first, "4995");
  // Parameterised: estimated from a generic plan.
  const char* values[1] = {"0"};
  PGresult* r = PQexecParams(conn, "UPDATE orders SET total = 0 WHERE total >= $1::int", 1, nullptr,
                             values, nullptr, nullptr, 0);
  EXPECT_STREQ(PQresultErrorField(r, PG_DIAG_SQLSTATE), "DKH01") << PQresultErrorMessage(r);
  PQclear(r);
  // Approved: runs after the affected rows are saved.
  ASSERT_EQ(Exec(conn, "DELETE FROM orders WHERE id > 10", &message).second, "DKH01");
  ASSERT_TRUE(Approve(ApprovalId(message)));
  EXPECT_EQ(Exec(conn, "DELETE FROM orders WHERE id > 10", &message).second, "") << message;
  EXPECT_EQ(Exec(conn, "SELECT count(*) FROM orders").first, "5");
  PQfinish(conn);
}

// A condition that matches every row of a small table is as destructive as
// no WHERE at all, which the classifier holds at any size.
TEST_F(PgProxy, DeleteWhoseConditionMatchesEveryRowIsHeld) {
  PGconn* conn = Connect(*token_);
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  Exec(conn, "CREATE TABLE backups (id int primary key, taken_at timestamptz)");
  Exec(conn,
       "INSERT INTO backups SELECT g, now() - g * interval '1 day' FROM generate_series(1, 12) g");
  std::string message;
  EXPECT_EQ(Exec(conn, "DELETE FROM backups WHERE taken_at < '2999-01-01'", &message).second,
            "DKH01");
  EXPECT_NE(message.find("matches every row"), std::string::npos) << message;
  EXPECT_EQ(Exec(conn, "SELECT count(*) FROM backups").first, "12");
  // Some rows, not all: an ordinary small delete runs.
  EXPECT_EQ(Exec(conn, "DELETE FROM backups WHERE id > 10", &message).second, "") << message;
  EXPECT_EQ(Exec(conn, "SELECT count(*) FROM backups").first, "10");
  // An UPDATE of every row is left to the row thresholds.
  EXPECT_EQ(Exec(conn, "UPDATE backups SET taken_at = now() WHERE id > 0", &message).second, "")
      << message;
  PQfinish(conn);
}

// Bytes that are not UTF-8 in a statement: never a crash, never an allow the
// bytes do not deserve. Simple and extended protocol, with the daemon asked.
TEST_F(PgProxy, StatementsThatAreNotUtf8NeverCrashTheProxyOrLoosenTheDecision) {
  PGconn* conn = Connect(*token_);
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  Exec(conn, "CREATE TABLE bytes_kept (id int primary key, note text)");
  Exec(conn, "INSERT INTO bytes_kept SELECT g, 'n' FROM generate_series(1, 3000) g");
  Exec(conn, "ANALYZE bytes_kept");
  std::string message;
  // Allowed, forwarded: PostgreSQL itself refuses the bytes (client_encoding UTF8).
  EXPECT_EQ(Exec(conn, "SELECT 'caf\xe9'", &message).second, "22021") << message;
  // Destructive: held (the daemon was asked about the bytes read as Latin-1).
  EXPECT_EQ(Exec(conn, "DROP TABLE bytes_kept /* \xff */", &message).second, "DKH01") << message;
  // A bounded DELETE whose rows cannot be estimated from these bytes: held.
  EXPECT_EQ(Exec(conn, "DELETE FROM bytes_kept WHERE note = '\xff'", &message).second, "DKH01")
      << message;
  EXPECT_NE(message.find("not UTF-8"), std::string::npos) << message;
  // The extended protocol's Parse, the same.
  PGresult* r = PQprepare(conn, "", "DROP TABLE bytes_kept -- \xfe", 0, nullptr);
  PQclear(r);
  r = PQexecPrepared(conn, "", 0, nullptr, nullptr, nullptr, 0);
  EXPECT_STREQ(PQresultErrorField(r, PG_DIAG_SQLSTATE), "DKH01") << PQresultErrorMessage(r);
  PQclear(r);
  EXPECT_EQ(Exec(conn, "SELECT count(*) FROM bytes_kept").first, "3000");
  PQfinish(conn);
  // A user name that is not UTF-8 is refused at the door.
  PGconn* odd = PQconnectdb(("postgresql://127.0.0.1:" + std::to_string(proxy_port_) +
                             "/shop?sslmode=disable&user=agent%FF1&password=" + *token_)
                                .c_str());
  EXPECT_NE(PQstatus(odd), CONNECTION_OK);
  PQfinish(odd);
  // And the proxy is still there for everyone.
  PGconn* fresh = Connect(*token_);
  ASSERT_EQ(PQstatus(fresh), CONNECTION_OK) << PQerrorMessage(fresh);
  EXPECT_EQ(Exec(fresh, "SELECT 'still here'").first, "still here");
  PQfinish(fresh);
}

// Under SJIS (and BIG5, GBK, ...), 0x95 0x5C is one character: the backslash
// no longer escapes the quote, and the string ends where the classifier saw
// an escaped quote. Such statements are held; the table stays.
TEST_F(PgProxy, ABackslashAClientEncodingCanSwallowIsHeld) {
  PGconn* conn = Connect(*token_);
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  Exec(conn, "CREATE TABLE sjis_victim (id int)");
  Exec(conn, "INSERT INTO sjis_victim VALUES (1)");
  EXPECT_EQ(Exec(conn, "SET client_encoding = 'SJIS'").second, "");
  std::string message;
  EXPECT_EQ(Exec(conn, "SELECT E'\x95\\'; DROP TABLE sjis_victim; --'", &message).second, "DKH01")
      << message;
  EXPECT_EQ(Exec(conn, "SET client_encoding = 'UTF8'").second, "");
  EXPECT_EQ(Exec(conn, "SELECT count(*) FROM sjis_victim").first, "1");
  // Latin-1 text from a LATIN1 client passes as it always did.
  EXPECT_EQ(Exec(conn, "SET client_encoding = 'LATIN1'").second, "");
  EXPECT_EQ(Exec(conn, "SELECT length('caf\xe9')").first, "4");
  PQfinish(conn);
}

TEST_F(PgProxy, TlsToTheClient) {
  PGconn* conn = Connect(*token_, "require");
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  EXPECT_EQ(PQsslInUse(conn), 1);
  EXPECT_EQ(Exec(conn, "SELECT 40 + 2").first, "42");
  std::string message;
  // Facts are checked on the session's own (TLS) connection too.
  EXPECT_EQ(Exec(conn, "DROP TABLE IF EXISTS nothing_here", &message).second, "") << message;
  Exec(conn, "CREATE TABLE over_tls (id int)");
  EXPECT_EQ(Exec(conn, "DROP TABLE IF EXISTS over_tls", &message).second, "DKH01");
  EXPECT_EQ(Exec(conn, "SELECT 1").first, "1");
  PQfinish(conn);
}

TEST_F(PgProxy, CancelRequestReachesTheBackend) {
  PGconn* conn = Connect(*token_);
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(PQsendQuery(conn, "SELECT pg_sleep(20)"), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  PGcancel* cancel = PQgetCancel(conn);
  char error[256];
  EXPECT_EQ(PQcancel(cancel, error, sizeof error), 1) << error;
  PQfreeCancel(cancel);
  PGresult* r = PQgetResult(conn);
  EXPECT_STREQ(PQresultErrorField(r, PG_DIAG_SQLSTATE), "57014");
  PQclear(r);
  while ((r = PQgetResult(conn)) != nullptr) PQclear(r);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(Exec(conn, "SELECT 1").first, "1");
  PQfinish(conn);
}

int RawConnect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// Reads until the proxy closes; returns what it sent.
std::string DrainUntilClosed(int fd) {
  std::string got;
  char buf[512];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) got.append(buf, n);
  return n == 0 ? got : got + "<timeout>";
}

TEST_F(PgProxy, MalformedStartupClosesOnlyThatSession) {
  PGconn* bystander = Connect(*token_);
  ASSERT_EQ(PQstatus(bystander), CONNECTION_OK);
  for (const std::string& packet :
       {std::string("\xff\xff\xff\xff\0\0\0\0", 8), std::string("\0\0\x4e\x20\0\x03\0\0", 8),
        std::string("\0\0\0\x0c\0\x02\0\0abcd", 12), std::string("\0\0\0\x09\0\x03\0\0u", 9)}) {
    int fd = RawConnect(proxy_port_);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, packet.data(), packet.size()), static_cast<ssize_t>(packet.size()));
    std::string got = DrainUntilClosed(fd);
    EXPECT_EQ(got.find("<timeout>"), std::string::npos);
    close(fd);
  }
  // A client that connects and says nothing is closed after the auth timeout;
  // meanwhile others are served.
  EXPECT_EQ(Exec(bystander, "SELECT 'still here'").first, "still here");
  PQfinish(bystander);
  PGconn* fresh = Connect(*token_);
  EXPECT_EQ(PQstatus(fresh), CONNECTION_OK);
  PQfinish(fresh);
}

TEST_F(PgProxy, OversizedOrBadMessageAfterLoginClosesSession) {
  PGconn* conn = Connect(*token_);
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK);
  // An unknown message type straight on the socket.
  const int fd = PQsocket(conn);
  const char bogus[] = {'@', 0, 0, 0, 4};
  ASSERT_EQ(write(fd, bogus, sizeof bogus), 5);
  PGresult* r = PQexec(conn, "SELECT 1");
  EXPECT_NE(PQresultStatus(r), PGRES_TUPLES_OK);
  PQclear(r);
  PQfinish(conn);
  PGconn* fresh = Connect(*token_);
  EXPECT_EQ(PQstatus(fresh), CONNECTION_OK);
  EXPECT_EQ(Exec(fresh, "SELECT 2").first, "2");
  PQfinish(fresh);
}

// A burst freezes the agent: the proxy says it is the breaker and how to
// reset it (not "denied, do not retry"), and after a human's reset the same
// statement is an ordinary hold again. Its own daemon, which trips at two.
TEST_F(PgProxy, FrozenAgentIsToldHowToResetAndResetWorks) {
  const fs::path state = *state_ / "breaker-daemon";
  fs::create_directories(state);
  const std::string socket = (state / "d.sock").string();
  pid_t daemon = fork();
  if (daemon == 0) {
    execl(DUALKEY_BINARY, DUALKEY_BINARY, "serve", "--state", state.c_str(), "--socket",
          socket.c_str(), "--quiet", "--breaker-attempts", "2", nullptr);
    _exit(127);
  }
  std::string error;
  for (int i = 0; i < 200 && !DaemonCall(socket, json{{"op", "status"}}, 200, &error); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Output added =
      Shell(DUALKEY_BINARY + std::string(" approver add carol --state ") + Quote(state.string()));
  ASSERT_EQ(added.status, 0) << added.out;
  const std::size_t at = added.out.find("secret=");
  const std::string secret = added.out.substr(at + 7, added.out.find('&', at) - at - 7);

  Child proxy;
  std::string line;
  ASSERT_TRUE(
      proxy.Start({DUALKEY_BINARY, "pg-proxy", "--listen", "127.0.0.1:0", "--upstream",
                   "postgresql://app@127.0.0.1:" + std::to_string(pg_->port()) + "?sslmode=disable",
                   "--socket", socket, "--state-dir", state_->string(), "--quiet"},
                  {"PGPASSWORD=real-secret"}, &line));
  const int port = PortFromListening(line);
  ASSERT_GT(port, 0) << line;
  PGconn* conn = Connect(*token_, "disable", port);
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  std::string message;
  // Tables that exist: a DROP of a missing one destroys nothing and passes.
  Exec(conn, "CREATE TABLE frozen_a (id int)");
  Exec(conn, "CREATE TABLE frozen_b (id int)");
  Exec(conn, "CREATE TABLE frozen_c (id int)");
  // Asking twice about one statement is one attempt; two statements trip it.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Exec(conn, "DROP TABLE frozen_a").second, "DKH01");
  EXPECT_EQ(Exec(conn, "DROP TABLE frozen_b", &message).second, "DKH01");
  EXPECT_FALSE(ApprovalId(message).empty()) << message;
  EXPECT_EQ(Exec(conn, "DROP TABLE frozen_c", &message).second, "DKH01");
  EXPECT_NE(message.find("breaker"), std::string::npos) << message;
  EXPECT_NE(message.find("dualkey breaker reset agent1"), std::string::npos) << message;
  EXPECT_EQ(message.find("do not retry"), std::string::npos) << message;
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  Output reset = Shell(std::string(DUALKEY_BINARY) + " breaker reset agent1 --as carol --socket " +
                       Quote(socket) + " --code " + dualkey::approval::TotpCode(secret, now));
  ASSERT_EQ(reset.status, 0) << reset.out;
  EXPECT_EQ(Exec(conn, "DROP TABLE frozen_c", &message).second, "DKH01");
  EXPECT_NE(message.find("dualkey approve"), std::string::npos) << message;
  EXPECT_FALSE(ApprovalId(message).empty()) << message;
  PQfinish(conn);
  proxy.Stop();
  kill(daemon, SIGTERM);
  int status;
  waitpid(daemon, &status, 0);
}

TEST_F(PgProxy, Md5UpstreamAndUnreachableDaemon) {
  Child proxy;
  std::string line;
  ASSERT_TRUE(proxy.Start(
      {DUALKEY_BINARY, "pg-proxy", "--listen", "127.0.0.1:0", "--upstream",
       "postgresql://app_md5@127.0.0.1:" + std::to_string(pg_->port()) + "/shop?sslmode=disable",
       "--socket", (*state_ / "nobody-here.sock").string(), "--state-dir", state_->string(),
       "--quiet"},
      {"PGPASSWORD=md5-secret"}, &line));
  const int port = PortFromListening(line);
  ASSERT_GT(port, 0) << line;
  PGconn* conn = Connect(*token_, "disable", port);
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  EXPECT_EQ(Exec(conn, "SELECT current_user").first, "app_md5");
  std::string message;
  EXPECT_EQ(Exec(conn, "DROP TABLE IF EXISTS whatever", &message).second, "DKH01");
  EXPECT_NE(message.find("daemon could not be reached"), std::string::npos) << message;
  PQfinish(conn);
  proxy.Stop();
  EXPECT_EQ(proxy.exit_status(), 0);
}

TEST_F(PgProxy, LostUpstreamGivesAClearError) {
  PgHarness::Options options;
  options.hba_first = {"host all app 127.0.0.1/32 scram-sha-256"};
  PgHarness other(options);
  ASSERT_TRUE(other.ok()) << other.error();
  ASSERT_TRUE(other.Exec("CREATE ROLE app LOGIN PASSWORD 'pw'"));
  Child proxy;
  std::string line;
  ASSERT_TRUE(proxy.Start(
      {DUALKEY_BINARY, "pg-proxy", "--listen", "127.0.0.1:0", "--upstream",
       "postgresql://app@127.0.0.1:" + std::to_string(other.port()) + "/postgres?sslmode=disable",
       "--socket", *socket_, "--state-dir", state_->string(), "--quiet"},
      {"PGPASSWORD=pw"}, &line));
  const int port = PortFromListening(line);
  const std::string conninfo = "postgresql://agent1@127.0.0.1:" + std::to_string(port) +
                               "/postgres?sslmode=disable&password=" + *token_;
  PGconn* conn = PQconnectdb(conninfo.c_str());
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  other.Kill();
  PGresult* r = PQexec(conn, "SELECT 1");
  EXPECT_NE(PQresultStatus(r), PGRES_TUPLES_OK);
  const std::string error = PQerrorMessage(conn);
  EXPECT_FALSE(error.empty());
  PQclear(r);
  PQfinish(conn);
  // The proxy still runs; a new session gets a clear error.
  conn = PQconnectdb(conninfo.c_str());
  EXPECT_NE(PQstatus(conn), CONNECTION_OK);
  EXPECT_NE(std::string(PQerrorMessage(conn)).find("dualkey cannot reach the database"),
            std::string::npos)
      << PQerrorMessage(conn);
  PQfinish(conn);
}

TEST(PgWire, StartupPacketsAndFraming) {
  using namespace dualkey::pgproxy::wire;
  std::string error;
  std::string startup = BuildStartup({{"user", "a"}, {"database", "b"}});
  auto parsed = ParseStartup(startup, &error);
  ASSERT_TRUE(parsed) << error;
  EXPECT_EQ(parsed->Get("user"), "a");
  EXPECT_FALSE(ParseStartup(std::string("\0\0\0\x08\0\x04\0\0", 8), &error));
  std::string truncated = startup.substr(0, startup.size() - 1);
  truncated[3] = static_cast<char>(truncated.size());
  EXPECT_FALSE(ParseStartup(truncated, &error));

  // Two messages, the second split: the framer waits for a whole Query and
  // streams a CopyData.
  std::string stream = BuildQuery("SELECT 1") + Builder('d').Raw(std::string(100, 'x')).Finish();
  Framer framer(1024);
  std::size_t pos = 0;
  std::string_view part(stream.data(), stream.size() - 50);
  auto p1 = framer.Next(part, &pos, "QP");
  EXPECT_EQ(p1.kind, Framer::Piece::Kind::kWhole);
  EXPECT_EQ(p1.type, 'Q');
  auto p2 = framer.Next(part, &pos, "QP");
  EXPECT_EQ(p2.kind, Framer::Piece::Kind::kHead);
  auto p3 = framer.Next(stream, &pos, "QP");
  EXPECT_EQ(p3.kind, Framer::Piece::Kind::kContinuation);
  EXPECT_EQ(pos, stream.size());
  Framer small(16);
  pos = 0;
  EXPECT_EQ(small.Next(BuildQuery(std::string(100, 'x')), &pos, "QP").kind,
            Framer::Piece::Kind::kError);
}

TEST(PgProxyUri, ParsesAndRefusesPasswords) {
  std::string error;
  auto up = dualkey::pgproxy::ParseUpstreamUri(
      "postgresql://app@db.internal:6543/shop?sslmode=require", &error);
  ASSERT_TRUE(up) << error;
  EXPECT_EQ(up->user, "app");
  EXPECT_EQ(up->host, "db.internal");
  EXPECT_EQ(up->port, 6543);
  EXPECT_EQ(up->database, "shop");
  EXPECT_EQ(up->sslmode, "require");
  EXPECT_FALSE(dualkey::pgproxy::ParseUpstreamUri("postgresql://app:pw@db/shop", &error));
  EXPECT_FALSE(dualkey::pgproxy::ParseUpstreamUri("mysql://app@db", &error));
  // A socket directory, percent-encoded in the host or as ?host=, as libpq takes it.
  up = dualkey::pgproxy::ParseUpstreamUri("postgresql://app@%2Fvar%2Frun%2Fpostgresql:5433/shop",
                                          &error);
  ASSERT_TRUE(up) << error;
  EXPECT_EQ(up->host, "/var/run/postgresql");
  EXPECT_EQ(up->port, 5433);
  up = dualkey::pgproxy::ParseUpstreamUri("postgresql://app@/shop?host=/tmp/pg&port=6000", &error);
  ASSERT_TRUE(up) << error;
  EXPECT_EQ(up->host, "/tmp/pg");
  EXPECT_EQ(up->port, 6000);
  EXPECT_FALSE(dualkey::pgproxy::ParseUpstreamUri("postgresql://app@/shop", &error));
  EXPECT_FALSE(dualkey::pgproxy::ParseUpstreamUri("postgresql://app@relative%2Fdir/shop", &error));
  EXPECT_FALSE(dualkey::pgproxy::ParseUpstreamUri("postgresql://app@db/shop?port=0", &error));
}

}  // namespace
}  // namespace dualkey::pgtest
