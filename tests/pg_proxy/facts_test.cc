// Blast radius on facts and undo instead of a question (#23 items 2-4):
// DROPs of objects that do not exist and whole-table writes of empty tables
// run, checked in the transaction state the statement sees; small row
// destruction runs after a snapshot the vault restores bit-exact; what
// cannot be checked or saved stays held with the reason; none of it counts
// toward the breaker.
#include "proxy/pg/internal/facts.h"

#include "harness.h"
#include "proxy/pg/internal/own_query.h"
#include "sql/shape.h"

namespace dualkey::pgtest {
namespace {

class PgFacts : public PgProxy {
 protected:
  PGconn* Open() {
    PGconn* conn = Connect(*token_);
    EXPECT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
    return conn;
  }
  // The statement's SQLSTATE ("" when it ran) and message.
  static std::string Run(PGconn* conn, const std::string& sql, std::string* message = nullptr) {
    std::string m;
    std::string code = Exec(conn, sql, &m).second;
    if (message) *message = m;
    return code;
  }
  // A deterministic fingerprint of a table's rows, read directly.
  static std::string Fingerprint(const std::string& table) {
    Output out = DirectSql(
        "shop", "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM " + table + " t");
    return out.out;
  }
};

TEST_F(PgFacts, DropOfWhatDoesNotExistRunsAndTheAuditSaysWhy) {
  PGconn* conn = Open();
  const std::size_t pending_before = PendingIds().size();
  for (const char* sql :
       {"DROP TABLE IF EXISTS no_such_table", "DROP TABLE IF EXISTS nope_a, public.nope_b CASCADE",
        "DROP VIEW IF EXISTS no_such_view", "DROP MATERIALIZED VIEW IF EXISTS no_such_matview",
        "DROP SEQUENCE IF EXISTS no_such_seq", "DROP FUNCTION IF EXISTS no_such_fn(int, text)",
        "DROP FUNCTION IF EXISTS no_such_fn", "DROP PROCEDURE IF EXISTS no_such_proc",
        "DROP TYPE IF EXISTS no_such_type", "DROP DOMAIN IF EXISTS no_such_domain",
        "DROP SCHEMA IF EXISTS no_such_schema CASCADE", "DROP EXTENSION IF EXISTS no_such_ext",
        "DROP DATABASE IF EXISTS no_such_database"}) {
    std::string message;
    EXPECT_EQ(Run(conn, sql, &message), "") << sql << ": " << message;
  }
  // Without IF EXISTS: PostgreSQL's own error, not a hold.
  EXPECT_EQ(Run(conn, "DROP TABLE no_such_table"), "42P01");
  EXPECT_EQ(PendingIds().size(), pending_before) << "no approval was asked for";
  const json allowed = AllowedBy("DROP TABLE IF EXISTS no_such_table", "fact");
  ASSERT_TRUE(allowed.is_object()) << AuditLog();
  EXPECT_EQ(allowed["fact"], "table no_such_table does not exist");
  EXPECT_NE(allowed.value("reason", "").find("allowed without a human"), std::string::npos);

  // What exists is held: a table, one of two names, an overloaded function.
  Run(conn, "CREATE TABLE drop_me (id int)");
  Run(conn, "CREATE FUNCTION fn_twice(int) RETURNS int LANGUAGE sql AS 'SELECT 1'");
  Run(conn, "CREATE FUNCTION fn_twice(text) RETURNS int LANGUAGE sql AS 'SELECT 2'");
  std::string message;
  EXPECT_EQ(Run(conn, "DROP TABLE IF EXISTS drop_me", &message), "DKH01");
  EXPECT_NE(message.find("DROP table drop_me"), std::string::npos) << message;
  EXPECT_EQ(Run(conn, "DROP TABLE IF EXISTS no_such_table, drop_me"), "DKH01");
  EXPECT_EQ(Run(conn, "DROP FUNCTION IF EXISTS fn_twice"), "DKH01");
  EXPECT_EQ(Run(conn, "DROP FUNCTION IF EXISTS fn_twice(bigint)"), "");
  EXPECT_EQ(DirectSql("shop", "SELECT to_regclass('drop_me') IS NOT NULL").out, "t\n");
  PQfinish(conn);
}

// The checks resolve names as the statement will, and use the catalog's
// own functions: a look-alike earlier on the search_path fools nothing.
TEST_F(PgFacts, ChecksSeeTheSessionsSearchPathAndCannotBeFooled) {
  PGconn* conn = Open();
  Run(conn, "CREATE SCHEMA other");
  Run(conn, "CREATE TABLE other.only_there (id int)");
  Run(conn, "CREATE TABLE keep_me (id int)");
  EXPECT_EQ(Run(conn, "DROP TABLE IF EXISTS only_there"), "");  // not on the path: nothing
  Run(conn, "SET search_path = other, public");
  EXPECT_EQ(Run(conn, "DROP TABLE IF EXISTS only_there"), "DKH01");
  // A to_regclass of the agent's own that says "missing".
  Run(conn, "CREATE SCHEMA evil");
  Run(conn,
      "CREATE FUNCTION evil.to_regclass(text) RETURNS regclass LANGUAGE sql AS "
      "'SELECT NULL::regclass'");
  Run(conn,
      "CREATE FUNCTION evil.parse_ident(text) RETURNS text[] LANGUAGE sql AS "
      "'SELECT ARRAY[''x'']'");
  Run(conn, "SET search_path = evil, public");
  EXPECT_EQ(Run(conn, "SELECT to_regclass('keep_me') IS NULL"), "");
  EXPECT_EQ(Run(conn, "DROP TABLE IF EXISTS keep_me"), "DKH01");
  EXPECT_EQ(Run(conn, "TRUNCATE keep_me"), "");  // empty: a fact, honestly found
  Run(conn, "INSERT INTO keep_me SELECT generate_series(1, 500)");
  EXPECT_EQ(Run(conn, "TRUNCATE keep_me"), "DKH01");
  // A statement before it in the same message could change what a check
  // sees: no fact.
  Run(conn, "CREATE TABLE public.empty_one (id int)");
  EXPECT_EQ(Run(conn, "SET search_path = public; TRUNCATE empty_one"), "DKH01");
  EXPECT_EQ(Run(conn, "BEGIN; TRUNCATE empty_one; COMMIT"), "");
  EXPECT_EQ(DirectSql("shop", "SELECT count(*) FROM keep_me").out, "500\n");
  PQfinish(conn);
}

// The names a fact is about are the names PostgreSQL will act on: text the
// proxy's own reading of the statement would take for another name (a
// Unicode-escaped identifier, a comment in a name) gets no fact.
TEST_F(PgFacts, NamesSpelledToMisleadTheCheckGetNoFact) {
  PGconn* conn = Open();
  Run(conn, "CREATE TABLE data (id int PRIMARY KEY)");
  Run(conn, "INSERT INTO data SELECT generate_series(1, 500)");
  for (const char* sql :
       {"TRUNCATE U&\"d\\0061ta\"", "DELETE FROM U&\"d\\0061ta\"",
        "UPDATE U&\"d\\0061ta\" SET id = id", "DROP TABLE IF EXISTS U&\"d\\0061ta\"",
        "DROP TABLE IF EXISTS nothing, U&\"d\\0061ta\"", "TRUNCATE public./* x */data",
        "DROP TABLE IF EXISTS public . data", "DELETE FROM data AS d WHERE true"}) {
    std::string message;
    EXPECT_EQ(Run(conn, sql, &message), "DKH01") << sql << ": " << message;
  }
  EXPECT_EQ(DirectSql("shop", "SELECT count(*) FROM data").out, "500\n");
  // Approved by a human, it still does not run unless what it destroys
  // can be saved: the names must be read exactly for that too.
  std::string message;
  ASSERT_EQ(Run(conn, "TRUNCATE U&\"d\\0061ta\"", &message), "DKH01");
  ASSERT_TRUE(Approve(ApprovalId(message)));
  EXPECT_EQ(Run(conn, "TRUNCATE U&\"d\\0061ta\"", &message), "DKH01");
  EXPECT_NE(message.find("could not read the names"), std::string::npos) << message;
  EXPECT_EQ(DirectSql("shop", "SELECT count(*) FROM data").out, "500\n");
  PQfinish(conn);
}

TEST_F(PgFacts, WholeTableWritesOfAnEmptyTableRun) {
  PGconn* conn = Open();
  Run(conn, "CREATE TABLE empty_t (id int primary key, v text)");
  const std::size_t pending_before = PendingIds().size();
  for (const char* sql : {"DELETE FROM empty_t", "UPDATE empty_t SET v = 'x'", "TRUNCATE empty_t",
                          "TRUNCATE TABLE empty_t", "DELETE FROM empty_t WHERE 1 = 1"}) {
    std::string message;
    EXPECT_EQ(Run(conn, sql, &message), "") << sql << ": " << message;
  }
  // Extended protocol too.
  const char* values[1] = {"y"};
  PGresult* r =
      PQexecParams(conn, "UPDATE empty_t SET v = $1", 1, nullptr, values, nullptr, nullptr, 0);
  EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQresultErrorMessage(r);
  PQclear(r);
  EXPECT_EQ(PendingIds().size(), pending_before);
  EXPECT_EQ(AllowedBy("TRUNCATE empty_t", "fact").value("fact", ""),
            "table public.empty_t is empty");
  // TRUNCATE ... CASCADE reaches other tables: not judged from this one.
  EXPECT_EQ(Run(conn, "TRUNCATE empty_t CASCADE"), "DKH01");
  // A statement trigger fires on an empty table too.
  Run(conn, "CREATE TABLE trig_t (id int)");
  Run(conn, "CREATE TABLE trig_log (n int)");
  Run(conn,
      "CREATE FUNCTION trig_fn() RETURNS trigger LANGUAGE plpgsql AS "
      "$$BEGIN INSERT INTO trig_log VALUES (1); RETURN NULL; END$$");
  Run(conn,
      "CREATE TRIGGER trig_s AFTER DELETE ON trig_t FOR EACH STATEMENT EXECUTE FUNCTION trig_fn()");
  std::string message;
  EXPECT_EQ(Run(conn, "DELETE FROM trig_t", &message), "DKH01");
  EXPECT_NE(message.find("triggers"), std::string::npos) << message;
  PQfinish(conn);
}

// Inside a transaction the table is what the transaction made it: the
// checks run there, not on a connection that sees only what is committed.
TEST_F(PgFacts, ChecksSeeTheTransactionTheStatementRunsIn) {
  PGconn* conn = Open();
  Run(conn, "CREATE TABLE tx_t (id int primary key)");
  Run(conn, "INSERT INTO tx_t SELECT generate_series(1, 150)");
  // Emptied in the transaction, in steps too small to hold: TRUNCATE then
  // destroys nothing the transaction can see.
  ASSERT_EQ(Run(conn, "BEGIN"), "");
  ASSERT_EQ(Run(conn, "DELETE FROM tx_t WHERE id <= 99"), "");
  ASSERT_EQ(Run(conn, "DELETE FROM tx_t WHERE id > 99"), "");
  std::string message;
  EXPECT_EQ(Run(conn, "TRUNCATE tx_t", &message), "") << message;
  EXPECT_EQ(PQtransactionStatus(conn), PQTRANS_INTRANS);
  EXPECT_EQ(Run(conn, "ROLLBACK"), "");
  EXPECT_EQ(Exec(conn, "SELECT count(*) FROM tx_t").first, "150");
  // Filled in the transaction: the committed table is empty, the
  // transaction's is not.
  Run(conn, "CREATE TABLE tx_empty (id int primary key)");
  ASSERT_EQ(Run(conn, "BEGIN"), "");
  ASSERT_EQ(Run(conn, "INSERT INTO tx_empty SELECT generate_series(1, 150)"), "");
  EXPECT_EQ(Run(conn, "TRUNCATE tx_empty", &message), "DKH01");
  EXPECT_NE(message.find("max_rows"), std::string::npos) << message;
  Run(conn, "ROLLBACK");
  // The session's checks left nothing behind: no savepoint, not read-only.
  ASSERT_EQ(Run(conn, "BEGIN"), "");
  EXPECT_EQ(Run(conn, "DELETE FROM tx_empty"), "");
  EXPECT_EQ(Run(conn, "INSERT INTO tx_empty VALUES (1)"), "");
  EXPECT_EQ(Exec(conn, "SHOW transaction_read_only").first, "off");
  EXPECT_EQ(Run(conn, "RELEASE SAVEPOINT dualkey_check"), "3B001");
  Run(conn, "ROLLBACK");
  PQfinish(conn);
}

// Undo instead of a question: a whole-table UPDATE of a 3-row table runs
// after its rows are saved, and `vault restore` puts them back bit-exact.
TEST_F(PgFacts, SmallWholeTableUpdateRunsWithASnapshotThatRestoresBitExact) {
  PGconn* conn = Open();
  Run(conn,
      "CREATE TABLE config (id int PRIMARY KEY, name text, v numeric, f float8, at timestamptz, "
      "raw bytea, doc jsonb, tags text[], twice int GENERATED ALWAYS AS (id * 2) STORED)");
  ASSERT_EQ(
      Run(conn,
          "INSERT INTO config (id, name, v, f, at, raw, doc, tags) VALUES "
          "(1, E'tab\\there\\nnewline \\\\ back', 1.50, 1e308, '2024-02-29 12:00:00.123456+00', "
          "'\\x00ff10', '{\"a\": [1, null]}', '{x,\"y z\"}'),"
          "(2, 'ünïcødé ✓', NULL, -0.1, 'infinity', '', 'null', '{}'),"
          "(3, NULL, 12345678901234567890.000000001, 'NaN', NULL, NULL, NULL, NULL)"),
      "");
  const std::string before = Fingerprint("config");
  const std::size_t snapshots_before = VaultSnapshots().size();
  const std::size_t pending_before = PendingIds().size();
  std::string message;
  ASSERT_EQ(Run(conn, "UPDATE config SET name = 'overwritten', v = 0, raw = NULL", &message), "")
      << message;
  EXPECT_EQ(Exec(conn, "SELECT count(*) FROM config WHERE name = 'overwritten'").first, "3");
  EXPECT_EQ(PendingIds().size(), pending_before) << "no human was asked";
  // The audit record names the snapshot.
  const json snapshots = VaultSnapshots();
  ASSERT_EQ(snapshots.size(), snapshots_before + 1);
  std::string snapshot;
  for (const json& s : snapshots)
    if (s.dump().find("UPDATE config SET name") != std::string::npos) snapshot = s.value("id", "");
  ASSERT_FALSE(snapshot.empty()) << snapshots.dump();
  const json allowed = AllowedBy("UPDATE config SET name", "snapshot_id");
  ASSERT_TRUE(allowed.is_object()) << AuditLog();
  EXPECT_EQ(allowed["snapshot_id"], snapshot);
  EXPECT_NE(allowed.value("reason", "").find("3 rows"), std::string::npos) << allowed.dump();
  // Restored exactly, generated column and all.
  Output restored = Shell(std::string(DUALKEY_BINARY) + " vault restore " + snapshot + " --vault " +
                          Quote((*state_ / "vault").string()) + " --db " + Quote(Direct("shop")));
  ASSERT_EQ(restored.status, 0) << restored.out;
  EXPECT_EQ(Fingerprint("config"), before);

  // DELETE the same way; the restore inserts them back.
  ASSERT_EQ(Run(conn, "DELETE FROM config", &message), "") << message;
  EXPECT_EQ(Exec(conn, "SELECT count(*) FROM config").first, "0");
  const json after_delete = VaultSnapshots();
  ASSERT_EQ(after_delete.size(), snapshots_before + 2);
  std::string deleted;
  for (const json& s : after_delete)
    if (s.dump().find("DELETE FROM config") != std::string::npos) deleted = s.value("id", "");
  ASSERT_FALSE(deleted.empty());
  restored = Shell(std::string(DUALKEY_BINARY) + " vault restore " + deleted + " --vault " +
                   Quote((*state_ / "vault").string()) + " --db " + Quote(Direct("shop")));
  ASSERT_EQ(restored.status, 0) << restored.out;
  EXPECT_EQ(Fingerprint("config"), before);
  PQfinish(conn);
}

TEST_F(PgFacts, LargeTablesAndWhatASnapshotCannotUndoStayHeld) {
  PGconn* conn = Open();
  Run(conn, "CREATE TABLE big (id int PRIMARY KEY, v text)");
  Run(conn, "INSERT INTO big SELECT g, 'v' || g FROM generate_series(1, 10000) g");
  const std::string before = Fingerprint("big");
  const std::size_t snapshots_before = VaultSnapshots().size();
  std::string message;
  EXPECT_EQ(Run(conn, "UPDATE big SET v = 'x'", &message), "DKH01");
  EXPECT_NE(message.find("dualkey approve"), std::string::npos) << message;
  EXPECT_NE(message.find("more than 100 rows of public.big, over the policy's [snapshot] max_rows"),
            std::string::npos)
      << message;
  EXPECT_EQ(Run(conn, "DELETE FROM big", &message), "DKH01");
  EXPECT_EQ(Run(conn, "TRUNCATE big", &message), "DKH01");
  EXPECT_EQ(Fingerprint("big"), before);
  EXPECT_EQ(VaultSnapshots().size(), snapshots_before) << "partial snapshots are not kept";
  // Small, but no exact undo: no primary key for overwritten rows, or the
  // key itself overwritten, or foreign keys that cascade elsewhere.
  Run(conn, "CREATE TABLE nokey (a int, b text)");
  Run(conn, "INSERT INTO nokey VALUES (1, 'x'), (2, 'y')");
  EXPECT_EQ(Run(conn, "UPDATE nokey SET b = 'z'", &message), "DKH01");
  EXPECT_NE(message.find("no primary key"), std::string::npos) << message;
  EXPECT_EQ(Run(conn, "DELETE FROM nokey", &message), "") << message;  // re-insertable
  Run(conn, "CREATE TABLE parent (id int PRIMARY KEY)");
  Run(conn, "CREATE TABLE child (pid int REFERENCES parent ON DELETE CASCADE)");
  Run(conn, "INSERT INTO parent VALUES (1), (2)");
  Run(conn, "INSERT INTO child VALUES (1), (2)");
  EXPECT_EQ(Run(conn, "DELETE FROM parent", &message), "DKH01");
  EXPECT_NE(message.find("cascade"), std::string::npos) << message;
  EXPECT_EQ(Run(conn, "UPDATE parent SET id = id + 10", &message), "DKH01");
  PQfinish(conn);
}

// The snapshot is what makes it safe: if it cannot be saved, a human decides.
TEST_F(PgFacts, ASnapshotThatFailsTurnsIntoAHold) {
  const fs::path file = *state_ / "not-a-directory";
  std::ofstream(file) << "x";
  Child proxy;
  const int port = StartProxy(proxy, {"--vault", (file / "vault").string()});
  ASSERT_GT(port, 0);
  PGconn* conn = Connect(*token_, "disable", port);
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  Run(conn, "CREATE TABLE lock_t (id int PRIMARY KEY, locked int)");
  Run(conn, "INSERT INTO lock_t VALUES (1, 1)");
  std::string message;
  EXPECT_EQ(Run(conn, "UPDATE lock_t SET locked = 0", &message), "DKH01");
  EXPECT_NE(message.find("the snapshot could not be saved"), std::string::npos) << message;
  EXPECT_EQ(Exec(conn, "SELECT locked FROM lock_t").first, "1");
  // An empty table needs no snapshot.
  Run(conn, "CREATE TABLE lock_empty (id int PRIMARY KEY)");
  EXPECT_EQ(Run(conn, "DELETE FROM lock_empty", &message), "") << message;
  PQfinish(conn);
  proxy.Stop();
}

// A check that cannot run holds, with the reason: no privilege to read the
// table, or a lock the check would wait on.
TEST_F(PgFacts, ACheckThatCannotRunHoldsWithTheReason) {
  ASSERT_TRUE(
      pg_->Exec("SET password_encryption = 'scram-sha-256'; "
                "CREATE ROLE app_limited LOGIN PASSWORD 'limited-secret'",
                "postgres"))
      << pg_->error();
  ASSERT_TRUE(
      pg_->Exec("CREATE TABLE blind (id int PRIMARY KEY); INSERT INTO blind VALUES (1); "
                "GRANT DELETE, TRUNCATE ON blind TO app_limited",
                "shop"))
      << pg_->error();
  Child proxy;
  const int port = StartProxy(proxy, {}, "app_limited", "limited-secret");
  ASSERT_GT(port, 0);
  PGconn* conn = Connect(*token_, "disable", port);
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  std::string message;
  EXPECT_EQ(Run(conn, "DELETE FROM blind", &message), "DKH01");
  EXPECT_NE(message.find("permission denied"), std::string::npos) << message;
  EXPECT_EQ(DirectSql("shop", "SELECT count(*) FROM blind").out, "1\n");
  PQfinish(conn);
  proxy.Stop();

  // Another session holds the table locked: the check gives up after its
  // lock timeout instead of waiting with the client.
  PGconn* conn2 = Connect(*token_);
  ASSERT_EQ(PQstatus(conn2), CONNECTION_OK);
  Run(conn2, "CREATE TABLE locked_t (id int PRIMARY KEY)");
  Run(conn2, "INSERT INTO locked_t VALUES (1)");
  PGconn* locker = PQconnectdb(Direct("shop").c_str());
  ASSERT_EQ(PQstatus(locker), CONNECTION_OK);
  Exec(locker, "BEGIN");
  Exec(locker, "LOCK TABLE locked_t IN ACCESS EXCLUSIVE MODE");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Run(conn2, "TRUNCATE locked_t", &message), "DKH01");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8));
  EXPECT_NE(message.find("lock timeout"), std::string::npos) << message;
  Exec(locker, "ROLLBACK");
  PQfinish(locker);
  EXPECT_EQ(Exec(conn2, "SELECT count(*) FROM locked_t").first, "1");
  PQfinish(conn2);
}

// Item 4: approval-free allows never count toward the breaker. A daemon
// that freezes after two destructive attempts lets ten routine ones by.
TEST_F(PgFacts, RoutineAllowsNeverTripTheBreaker) {
  const fs::path state = *state_ / "strict-daemon";
  fs::create_directories(state);
  const std::string socket = (state / "d.sock").string();
  const pid_t daemon = fork();
  if (daemon == 0) {
    execl(DUALKEY_BINARY, DUALKEY_BINARY, "serve", "--state", state.c_str(), "--socket",
          socket.c_str(), "--quiet", "--breaker-attempts", "2", nullptr);
    _exit(127);
  }
  bool up = false;
  for (int i = 0; i < 200 && !up; ++i) {
    std::string error;
    up = DaemonCall(socket, json{{"op", "status"}}, 200, &error).has_value();
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(up);
  Child proxy;
  const int port =
      StartProxy(proxy, {"--vault", (state / "vault").string()}, "app", "real-secret", socket);
  ASSERT_GT(port, 0);
  PGconn* conn = Connect(*token_, "disable", port);
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  Run(conn, "CREATE TABLE knex_lock (\"index\" serial PRIMARY KEY, is_locked int)");
  Run(conn, "INSERT INTO knex_lock (is_locked) VALUES (0)");
  std::string message;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Run(conn, "UPDATE knex_lock SET is_locked = " + std::to_string(i % 2), &message), "")
        << message;
    EXPECT_EQ(Run(conn, "DROP TABLE IF EXISTS gone_" + std::to_string(i), &message), "") << message;
  }
  // Two real holds freeze the agent...
  Run(conn, "CREATE TABLE real_one (id int)");
  EXPECT_EQ(Run(conn, "DROP TABLE real_one", &message), "DKH01");
  EXPECT_EQ(message.find("breaker"), std::string::npos) << message;
  EXPECT_EQ(Run(conn, "DROP TABLE real_one CASCADE", &message), "DKH01");
  // ...and then even routine ones wait for the reset.
  EXPECT_EQ(Run(conn, "DROP TABLE IF EXISTS gone_again", &message), "DKH01");
  EXPECT_NE(message.find("dualkey breaker reset agent1"), std::string::npos) << message;
  PQfinish(conn);
  proxy.Stop();
  kill(daemon, SIGTERM);
  int status;
  waitpid(daemon, &status, 0);
}

// A named prepared statement allowed by a fact is checked again on each
// execution: the fact was about one moment.
TEST_F(PgFacts, PreparedStatementsAreCheckedAtEachExecution) {
  PGconn* conn = Open();
  Run(conn, "CREATE TABLE prep_t (id int PRIMARY KEY, v int)");
  PGresult* r = PQprepare(conn, "wipe", "DELETE FROM prep_t", 0, nullptr);
  ASSERT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQresultErrorMessage(r);
  PQclear(r);
  r = PQexecPrepared(conn, "wipe", 0, nullptr, nullptr, nullptr, 0);
  EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQresultErrorMessage(r);
  PQclear(r);
  Run(conn, "INSERT INTO prep_t SELECT g, g FROM generate_series(1, 500) g");
  r = PQexecPrepared(conn, "wipe", 0, nullptr, nullptr, nullptr, 0);
  EXPECT_STREQ(PQresultErrorField(r, PG_DIAG_SQLSTATE), "DKH01") << PQresultErrorMessage(r);
  PQclear(r);
  EXPECT_EQ(Exec(conn, "SELECT count(*) FROM prep_t").first, "500");
  // PREPARE/EXECUTE in SQL: judged by what it runs.
  EXPECT_EQ(Run(conn, "PREPARE wipe_sql AS DELETE FROM prep_t"), "");
  std::string message;
  EXPECT_EQ(Run(conn, "EXECUTE wipe_sql", &message), "DKH01");
  EXPECT_NE(message.find("DELETE"), std::string::npos) << message;
  EXPECT_EQ(Run(conn, "PREPARE look AS SELECT count(*) FROM prep_t"), "");
  EXPECT_EQ(Exec(conn, "EXECUTE look").first, "500");
  PQfinish(conn);
}

// --- the pieces, without a server -------------------------------------------

using dualkey::pgproxy::OwnQuery;
using dualkey::sql::AnalyseStatements;
using dualkey::sql::StatementShape;

TEST(PgFactsPieces, DropStatementsSayWhatAndHow) {
  auto one = [](const std::string& sql) {
    std::vector<StatementShape> shapes = AnalyseStatements(sql);
    EXPECT_EQ(shapes.size(), 1u) << sql;
    return shapes.empty() ? StatementShape{} : shapes[0];
  };
  StatementShape s = one("DROP TABLE IF EXISTS a, public.\"B c\" CASCADE");
  EXPECT_EQ(s.kind, StatementShape::Kind::kDropTable);
  EXPECT_TRUE(s.if_exists);
  EXPECT_TRUE(s.cascade);
  EXPECT_EQ(s.objects, (std::vector<std::string>{"a", "public.\"B c\""}));
  s = one("drop materialized view if exists mv1");
  EXPECT_EQ(s.kind, StatementShape::Kind::kDropOther);
  EXPECT_EQ(s.drop_kind, "MATERIALIZED VIEW");
  EXPECT_EQ(s.objects, (std::vector<std::string>{"mv1"}));
  s = one("DROP FUNCTION IF EXISTS f(int, text), g RESTRICT");
  EXPECT_EQ(s.drop_kind, "FUNCTION");
  EXPECT_EQ(s.objects, (std::vector<std::string>{"f(int, text)", "g"}));
  s = one("DROP INDEX CONCURRENTLY IF EXISTS ix");
  EXPECT_EQ(s.drop_kind, "INDEX");
  EXPECT_EQ(s.objects, (std::vector<std::string>{"ix"}));
  s = one("DROP DATABASE IF EXISTS MyDb");
  EXPECT_EQ(s.kind, StatementShape::Kind::kDropDatabase);
  EXPECT_EQ(s.objects, (std::vector<std::string>{"mydb"}));
  s = one("DROP TEXT SEARCH CONFIGURATION IF EXISTS x");
  EXPECT_EQ(s.drop_kind, "TEXT SEARCH CONFIGURATION");
  // What a DROP names must be looked up as that kind, or not at all.
  EXPECT_FALSE(dualkey::pgproxy::ObjectExistsQuery("TABLE", "a").empty());
  EXPECT_TRUE(dualkey::pgproxy::ObjectExistsQuery("TRIGGER", "t ON x").empty());
  EXPECT_NE(dualkey::pgproxy::ObjectExistsQuery("FUNCTION", "f(int)").find("to_regprocedure"),
            std::string::npos);
}

TEST(PgFactsPieces, WritesSayTheirTargetAndOptions) {
  std::vector<StatementShape> s = AnalyseStatements(
      "BEGIN; UPDATE t AS x SET a = 1, (b, \"C\") = (2, 3) WHERE x.id > $1; "
      "TRUNCATE TABLE ONLY a, b RESTART IDENTITY CASCADE; SAVEPOINT s");
  ASSERT_EQ(s.size(), 4u);
  EXPECT_TRUE(s[0].opens_transaction);
  EXPECT_EQ(s[1].kind, StatementShape::Kind::kUpdate);
  EXPECT_EQ(s[1].alias, "x");
  EXPECT_EQ(s[1].set_columns, (std::vector<std::string>{"a", "b", "C"}));
  EXPECT_TRUE(s[1].has_parameters);
  EXPECT_EQ(s[2].kind, StatementShape::Kind::kTruncate);
  EXPECT_EQ(s[2].objects, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(s[2].cascade);
  EXPECT_TRUE(s[2].restart_identity);
  EXPECT_TRUE(s[3].opens_transaction);
  EXPECT_TRUE(AnalyseStatements("WITH d AS (DELETE FROM a) DELETE FROM b")[0].with);
}

TEST(PgFactsPieces, ChecksAreWrappedToChangeNothingAndCounted) {
  auto in_tx = dualkey::pgproxy::WrapChecks({"SELECT 1", "SELECT 2"}, 'T', 5000, 2000);
  EXPECT_TRUE(in_tx.sql.starts_with("SAVEPOINT dualkey_check;\n"));
  EXPECT_NE(in_tx.sql.find("SET LOCAL transaction_read_only = on"), std::string::npos);
  EXPECT_TRUE(in_tx.sql.ends_with("RELEASE SAVEPOINT dualkey_check"));
  EXPECT_EQ(in_tx.first, 4u);
  EXPECT_EQ(in_tx.expected, 8u);
  auto idle = dualkey::pgproxy::WrapChecks({"SELECT 1 -- a comment"}, 'I', 5000, 2000);
  EXPECT_TRUE(idle.sql.starts_with("BEGIN READ ONLY;"));
  // A comment in a check ends with its line: the ROLLBACK still runs.
  EXPECT_NE(idle.sql.find("-- a comment\n;\nROLLBACK"), std::string::npos) << idle.sql;
  EXPECT_EQ(idle.expected, 5u);
}

TEST(PgFactsPieces, OwnQueryReadsRowsErrorsAndCopyData) {
  using dualkey::pgproxy::wire::Builder;
  std::string copied;
  OwnQuery query([&](std::string_view chunk) {
    copied.append(chunk);
    return copied.size() < 10;
  });
  auto feed = [&](const std::string& message) {
    return query.OnMessage(message[0], std::string_view(message).substr(5));
  };
  EXPECT_FALSE(feed(Builder('T').Int16(0).Finish()));
  EXPECT_FALSE(feed(Builder('D').Int16(2).Int32(1).Raw("t").Int32(-1).Finish()));
  EXPECT_FALSE(feed(Builder('C').CString("SELECT 1").Finish()));
  EXPECT_FALSE(feed(Builder('H').Byte(0).Int16(0).Finish()));
  EXPECT_FALSE(feed(Builder('d').Raw("1\tone\n").Finish()));
  EXPECT_FALSE(feed(Builder('d').Raw("2\ttwo\n").Finish()));
  EXPECT_FALSE(feed(Builder('d').Raw("3\tthree\n").Finish()));  // refused: nothing more
  EXPECT_FALSE(feed(Builder('C').CString("COPY 3").Finish()));
  dualkey::pgproxy::wire::ErrorFields f;
  f.code = "42501";
  f.message = "permission denied for table t";
  EXPECT_FALSE(feed(dualkey::pgproxy::wire::BuildError(f)));
  EXPECT_TRUE(feed(dualkey::pgproxy::wire::BuildReadyForQuery('E')));
  const auto& r = query.result();
  ASSERT_EQ(r.statements.size(), 2u);
  EXPECT_EQ(r.statements[0].tag, "SELECT 1");
  ASSERT_EQ(r.statements[0].rows.size(), 1u);
  EXPECT_EQ(r.statements[0].rows[0][0], std::optional<std::string>("t"));
  EXPECT_EQ(r.statements[0].rows[0][1], std::nullopt);
  EXPECT_EQ(copied, "1\tone\n2\ttwo\n");
  EXPECT_FALSE(r.sink_error.empty());
  EXPECT_EQ(r.error_code, "42501");
  EXPECT_EQ(r.status, 'E');
  EXPECT_TRUE(OwnQuery::ForClient('A'));
  EXPECT_FALSE(OwnQuery::ForClient('N'));
}

TEST(PgFactsPieces, RestoreScriptsPutRowsBack) {
  dualkey::pgproxy::RestoreEntry e;
  e.schema = "public";
  e.table = "Odd \"name\"";
  e.part = "rows.copy";
  e.columns = {"id", "v"};
  e.mode = "update";
  e.key = {"id"};
  const std::string line = dualkey::pgproxy::RestoreEntryLine(e);
  auto parsed = dualkey::pgproxy::ParseRestoreEntry(line.substr(0, line.size() - 1));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->table, e.table);
  EXPECT_EQ(parsed->key, e.key);
  auto [before, after] = dualkey::pgproxy::RestoreScript(*parsed, 0);
  EXPECT_NE(before.find("COPY dualkey_restore_0 (\"id\", \"v\") FROM stdin;"), std::string::npos)
      << before;
  EXPECT_NE(after.find("UPDATE \"public\".\"Odd \"\"name\"\"\" AS t SET \"v\" = r.\"v\""),
            std::string::npos)
      << after;
  // The older line form still reads (snapshots already in vaults).
  auto old = dualkey::pgproxy::ParseRestoreEntry("-- public.t -> rows.copy");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->mode, "insert");
  EXPECT_EQ(dualkey::pgproxy::RestoreScript(*old, 1).first, "COPY \"public\".\"t\" FROM stdin;\n");
  EXPECT_FALSE(dualkey::pgproxy::ParseRestoreEntry("{\"schema\":\"a\"}"));
}

}  // namespace
}  // namespace dualkey::pgtest
