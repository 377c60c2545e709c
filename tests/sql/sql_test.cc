// Unit tests of the SQL module: one test per class and construct, plus the
// traps (scary words as data) that must stay allowed.
#include "sql/sql.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/action.h"

namespace dualkey::sql {
namespace {

std::vector<Action> ClassifyAs(const std::string& sql, Dialect dialect = Dialect::kPostgres) {
  Options options;
  options.dialect = dialect;
  return Classify(sql, options);
}

bool Held(const std::string& sql, Dialect dialect = Dialect::kPostgres) {
  for (const Action& action : ClassifyAs(sql, dialect)) {
    if (IsDestructive(action)) return true;
  }
  return false;
}

// The classes of the actions, for readable failure messages.
std::string Classes(const std::vector<Action>& actions) {
  std::string out;
  for (const Action& action : actions) out += action.op_class + "(" + action.reason + ") ";
  return out;
}

const Action* FindClass(const std::vector<Action>& actions, const std::string& op_class) {
  for (const Action& action : actions) {
    if (action.op_class == op_class) return &action;
  }
  return nullptr;
}

#define EXPECT_CLASS(sql, op_class)                                                          \
  do {                                                                                       \
    auto actions_ = ClassifyAs(sql);                                                         \
    EXPECT_NE(FindClass(actions_, op_class), nullptr) << sql << " -> " << Classes(actions_); \
  } while (0)

#define EXPECT_HELD(sql) EXPECT_TRUE(Held(sql)) << sql << " -> " << Classes(ClassifyAs(sql))
#define EXPECT_ALLOWED(sql) EXPECT_FALSE(Held(sql)) << sql << " -> " << Classes(ClassifyAs(sql))
#define EXPECT_HELD_IN(sql, dialect) \
  EXPECT_TRUE(Held(sql, dialect)) << sql << " -> " << Classes(ClassifyAs(sql, dialect))
#define EXPECT_ALLOWED_IN(sql, dialect) \
  EXPECT_FALSE(Held(sql, dialect)) << sql << " -> " << Classes(ClassifyAs(sql, dialect))

// --- Every action carries the SQL channel; reads are severity none. ---------

TEST(SqlClassify, ReadIsReadOnlyWithNoSeverity) {
  auto actions = ClassifyAs("SELECT id FROM users WHERE id = 1");
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].channel, Channel::kSql);
  EXPECT_EQ(actions[0].op_class, "read.only");
  EXPECT_EQ(actions[0].severity, Severity::kNone);
}

TEST(SqlClassify, DatabaseOptionAddsTarget) {
  Options options;
  options.database = "shop";
  auto actions = Classify("DROP TABLE users", options);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].targets, (std::vector<std::string>{"users", "database:shop"}));
}

TEST(SqlClassify, EmptyOrCommentOnlyInputIsARead) {
  EXPECT_ALLOWED("");
  EXPECT_ALLOWED("-- DROP TABLE x\n/* TRUNCATE y */");
}

// --- db.drop ----------------------------------------------------------------

TEST(SqlDrop, DatabaseIsCritical) {
  auto actions = ClassifyAs("DROP DATABASE IF EXISTS orders");
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].op_class, "db.drop");
  EXPECT_EQ(actions[0].severity, Severity::kCritical);
  EXPECT_EQ(actions[0].targets, std::vector<std::string>{"orders"});
}

TEST(SqlDrop, SchemaCascadeIsCriticalPlainSchemaHigh) {
  EXPECT_EQ(ClassifyAs("DROP SCHEMA s CASCADE")[0].severity, Severity::kCritical);
  EXPECT_EQ(ClassifyAs("DROP SCHEMA s")[0].severity, Severity::kHigh);
}

TEST(SqlDrop, TablesWithQualifiedQuotedNames) {
  auto actions = ClassifyAs("DROP TABLE \"public\".\"Users\", orders");
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].op_class, "db.drop");
  EXPECT_EQ(actions[0].targets, (std::vector<std::string>{"public.Users", "orders"}));
}

TEST(SqlDrop, EveryObjectKind) {
  for (const char* sql :
       {"DROP VIEW v", "DROP MATERIALIZED VIEW mv", "DROP SEQUENCE s", "DROP FUNCTION f(int)",
        "DROP EXTENSION postgis CASCADE", "DROP TYPE t CASCADE", "DROP TRIGGER t ON x",
        "DROP TABLESPACE ts", "DROP SUBSCRIPTION sub", "DROP FOREIGN TABLE ft"}) {
    EXPECT_HELD(sql);
  }
}

TEST(SqlDrop, RoleAndOwned) {
  EXPECT_CLASS("DROP ROLE app_rw", "db.role.drop");
  EXPECT_CLASS("DROP USER bob", "db.role.drop");
  auto owned = ClassifyAs("DROP OWNED BY app CASCADE");
  EXPECT_EQ(owned[0].op_class, "db.drop");
  EXPECT_EQ(owned[0].severity, Severity::kCritical);
}

TEST(SqlDrop, IndexIsRebuildableAndAllowedUnlessCascade) {
  EXPECT_CLASS("DROP INDEX idx_orders_customer", "db.drop.index");
  EXPECT_ALLOWED("DROP INDEX CONCURRENTLY idx_orders_customer");
  EXPECT_HELD("DROP INDEX idx CASCADE");
}

TEST(SqlDrop, TempTableCreatedInSameInputIsAllowed) {
  EXPECT_ALLOWED("CREATE TEMP TABLE t AS SELECT 1 AS x; DROP TABLE t;");
  EXPECT_ALLOWED("CREATE TEMPORARY TABLE scratch (id int); DROP TABLE pg_temp.scratch;");
  // Not temporary, or another table, or created later: still a real drop.
  EXPECT_HELD("CREATE TABLE t (id int); DROP TABLE t;");
  EXPECT_HELD("CREATE TEMP TABLE t (id int); DROP TABLE users;");
  EXPECT_HELD("DROP TABLE t; CREATE TEMP TABLE t (id int);");
  EXPECT_HELD("CREATE TEMP TABLE t (id int); DROP TABLE public.t;");
}

// --- db.truncate --------------------------------------------------------------

TEST(SqlTruncate, TablesAreTargets) {
  auto actions = ClassifyAs("TRUNCATE TABLE payments, refunds RESTART IDENTITY CASCADE");
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].op_class, "db.truncate");
  EXPECT_EQ(actions[0].targets, (std::vector<std::string>{"payments", "refunds"}));
}

// --- unbounded DELETE / UPDATE and WHERE folding -----------------------------

TEST(SqlRowWrites, NoWhereIsUnbounded) {
  EXPECT_CLASS("DELETE FROM users", "db.delete.unbounded");
  EXPECT_CLASS("UPDATE users SET email = NULL", "db.update.unbounded");
  EXPECT_CLASS("DELETE FROM users USING orders", "db.delete.unbounded");
  EXPECT_CLASS("UPDATE a SET x = b.x FROM b", "db.update.unbounded");
}

TEST(SqlRowWrites, TautologiesAreUnbounded) {
  for (const char* where : {"1=1",
                            "true",
                            "'a' = 'a'",
                            "id = 42 OR 1=1",
                            "x OR true",
                            "NOT false",
                            "1 <> 2",
                            "2 > 1",
                            "'t'",
                            "TRUE IS TRUE",
                            "NULL IS NULL",
                            "1 IN (1, 2)",
                            "1 BETWEEN 0 AND 2",
                            "created_at IS NULL OR created_at IS NOT NULL",
                            "active OR NOT active",
                            "status = 'x' OR status <> 'x'",
                            "id = id",
                            "name LIKE '%'",
                            "id IS NOT NULL",
                            "(1=1) AND (2=2)",
                            "id > 0",
                            "id >= 1",
                            "0 < id",
                            "id <> 0",
                            "1 IS NOT DISTINCT FROM 1",
                            "now() > '2000-01-01'",
                            "EXISTS (SELECT 1 FROM other)",
                            "id IN (SELECT id FROM orders)"}) {
    std::string sql = std::string("DELETE FROM orders WHERE ") + where;
    EXPECT_CLASS(sql, "db.delete.unbounded");
  }
}

TEST(SqlRowWrites, PreciseWhereIsBounded) {
  for (const char* where :
       {"id = 42", "id = 42 AND 1=1", "cart_id = 'c_1' AND sku = 'SKU-1'", "1=2", "false",
        "id = 42 OR id = 43", "created_at < now() - interval '30 days'",
        "id IN (SELECT order_id FROM refunds WHERE refunds.day = today())", "NOT active",
        "deleted_at IS NOT NULL", "id IN (1, 2, 3)", "id > 1000", "user_id > 0",
        "email LIKE '%@test.example'", "CURRENT OF c"}) {
    std::string sql = std::string("DELETE FROM orders WHERE ") + where;
    auto actions = ClassifyAs(sql);
    EXPECT_NE(FindClass(actions, "db.write.bounded"), nullptr) << sql << " -> " << Classes(actions);
    EXPECT_FALSE(Held(sql)) << sql;
  }
}

TEST(SqlRowWrites, BoundedWriteIsLowSeverity) {
  auto actions = ClassifyAs("UPDATE orders SET status = 'shipped' WHERE id = 1001");
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].op_class, "db.write.bounded");
  EXPECT_EQ(actions[0].severity, Severity::kLow);
  EXPECT_EQ(actions[0].targets, std::vector<std::string>{"orders"});
}

TEST(SqlRowWrites, InsertIsAWrite) {
  auto actions = ClassifyAs("INSERT INTO orders (customer_id) VALUES (7) ON CONFLICT DO NOTHING");
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].op_class, "db.write");
  EXPECT_EQ(actions[0].severity, Severity::kLow);
}

TEST(SqlRowWrites, DataModifyingCtes) {
  EXPECT_CLASS("WITH d AS (DELETE FROM t RETURNING *) SELECT 1", "db.delete.unbounded");
  EXPECT_CLASS(
      "WITH a AS (SELECT 1), b AS (WITH c AS (UPDATE t SET x = 1 RETURNING *) SELECT * FROM c) "
      "SELECT * FROM b",
      "db.update.unbounded");
  EXPECT_CLASS("INSERT INTO archive WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
               "db.delete.unbounded");
  EXPECT_ALLOWED("WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM d");
}

TEST(SqlRowWrites, MergeWithDeleteOnTautologyIsUnbounded) {
  EXPECT_HELD("MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE");
  EXPECT_ALLOWED("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET x = s.x");
}

// --- ALTER TABLE ------------------------------------------------------------

TEST(SqlAlter, DropColumnAndConstraintAreDestructive) {
  auto column = ClassifyAs("ALTER TABLE users DROP COLUMN email");
  ASSERT_EQ(column.size(), 1u);
  EXPECT_EQ(column[0].op_class, "db.alter.destructive");
  EXPECT_EQ(column[0].targets, std::vector<std::string>{"users.email"});
  EXPECT_CLASS("ALTER TABLE users DROP CONSTRAINT users_email_key", "db.alter.destructive");
  EXPECT_CLASS("ALTER TABLE users ADD COLUMN x int, DROP COLUMN y", "db.alter.destructive");
}

TEST(SqlAlter, SetDataTypeIsNotDestructiveButUsingAConstantIs) {
  EXPECT_ALLOWED("ALTER TABLE users ALTER COLUMN age SET DATA TYPE bigint");
  EXPECT_ALLOWED("ALTER TABLE users ALTER COLUMN age TYPE bigint USING age::bigint");
  EXPECT_CLASS("ALTER TABLE users ALTER COLUMN email TYPE integer USING NULL", "db.alter.rewrite");
}

TEST(SqlAlter, AddColumnRenameAndDisableTrigger) {
  EXPECT_ALLOWED("ALTER TABLE users ADD COLUMN last_seen timestamptz");
  EXPECT_ALLOWED("ALTER TABLE customers RENAME TO customers_old");
  EXPECT_ALLOWED("ALTER TABLE users RENAME COLUMN a TO b");
  EXPECT_HELD("ALTER TABLE orders DISABLE TRIGGER ALL");
}

// --- DO blocks, functions, dynamic SQL --------------------------------------

TEST(SqlPlpgsql, DoBlockWithStaticDelete) {
  EXPECT_CLASS("DO $$ BEGIN DELETE FROM users; END $$", "db.delete.unbounded");
  EXPECT_ALLOWED("DO $$ BEGIN PERFORM 1; UPDATE t SET x = 1 WHERE id = 3; END $$");
}

TEST(SqlPlpgsql, ExecuteOfLiteralIsParsed) {
  EXPECT_CLASS("DO $$ BEGIN EXECUTE 'DROP TABLE ' || 'orders'; END $$", "db.drop");
  EXPECT_CLASS("DO $b$ BEGIN EXECUTE format('TRUNCATE %I', 'customers'); END $b$", "db.truncate");
  EXPECT_CLASS("DO $$ BEGIN EXECUTE concat('DELETE FROM ', quote_ident('x')); END $$",
               "db.delete.unbounded");
  EXPECT_ALLOWED("DO $$ BEGIN EXECUTE 'SELECT 1'; END $$");
}

TEST(SqlPlpgsql, ExecuteOfComputedSqlIsOpaque) {
  EXPECT_CLASS("DO $$ DECLARE t text := 'x'; BEGIN EXECUTE 'DROP TABLE ' || t; END $$",
               "opaque.sql");
  EXPECT_CLASS(
      "DO $$ DECLARE r record; BEGIN FOR r IN SELECT tablename FROM pg_tables LOOP "
      "EXECUTE format('TRUNCATE %I', r.tablename); END LOOP; END $$",
      "opaque.sql");
}

TEST(SqlPlpgsql, NestedBlocksLoopsAndConditions) {
  EXPECT_CLASS(
      "DO $$ BEGIN IF now() > '2000-01-01' THEN BEGIN LOOP TRUNCATE t; EXIT; END LOOP; END; "
      "END IF; END $$",
      "db.truncate");
  EXPECT_CLASS("DO $$ BEGIN PERFORM pg_terminate_backend(pid) FROM pg_stat_activity; END $$",
               "db.admin.terminate");
}

TEST(SqlPlpgsql, OtherLanguagesAreOpaqueExec) {
  EXPECT_CLASS("DO LANGUAGE plpython3u $$ import os; os.system('x') $$", "opaque.exec");
}

TEST(SqlPlpgsql, FunctionDefinedAndCalledInSameInput) {
  const char* wipe =
      "CREATE FUNCTION wipe() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DELETE FROM users; END $$;";
  EXPECT_ALLOWED(wipe);  // defining it runs nothing
  EXPECT_CLASS(std::string(wipe) + " SELECT wipe();", "db.delete.unbounded");
  EXPECT_CLASS(std::string(wipe) + " SELECT * FROM wipe();", "db.delete.unbounded");
  EXPECT_CLASS("CREATE PROCEDURE p() LANGUAGE sql AS 'TRUNCATE t'; CALL p();", "db.truncate");
  EXPECT_CLASS(
      "CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM t; END; "
      "SELECT f();",
      "db.delete.unbounded");
}

TEST(SqlPlpgsql, CFunctionLoadsItsLibraryAtOnce) {
  EXPECT_CLASS("CREATE FUNCTION sys(cstring) RETURNS int AS '/lib/libc.so.6', 'system' LANGUAGE C",
               "opaque.exec");
}

TEST(SqlPlpgsql, ExecuteRecursionIsBounded) {
  std::string sql = "SELECT 1";
  for (int i = 0; i < 12; ++i) {
    std::string quoted;
    for (char c : sql) {
      if (c == '\'') quoted.push_back('\'');
      quoted.push_back(c);
    }
    sql = "SELECT dblink_exec('c', '" + quoted + "')";
  }
  EXPECT_HELD(sql);  // past the nesting limit: opaque, never allowed
}

// --- EXPLAIN, PREPARE/EXECUTE ------------------------------------------------

TEST(SqlExplain, AnalyzeRunsTheStatementPlainExplainDoesNot) {
  EXPECT_ALLOWED("EXPLAIN DELETE FROM users");
  EXPECT_ALLOWED("EXPLAIN (ANALYZE false) DELETE FROM users");
  EXPECT_CLASS("EXPLAIN ANALYZE DELETE FROM customers", "db.delete.unbounded");
  EXPECT_CLASS("EXPLAIN (ANALYZE, BUFFERS) UPDATE users SET email = NULL", "db.update.unbounded");
  EXPECT_CLASS("EXPLAIN (ANALYZE on) DELETE FROM t", "db.delete.unbounded");
  EXPECT_ALLOWED("EXPLAIN ANALYZE SELECT * FROM users");
}

TEST(SqlPrepare, ExecuteTakesThePreparedStatementsClass) {
  EXPECT_CLASS("PREPARE purge AS DELETE FROM users; EXECUTE purge;", "db.delete.unbounded");
  EXPECT_ALLOWED("PREPARE purge AS DELETE FROM users;");
  EXPECT_ALLOWED("PREPARE q AS SELECT * FROM users WHERE id = $1; EXECUTE q(42);");
  EXPECT_CLASS("EXECUTE unknown_stmt(1)", "opaque.sql");
  EXPECT_CLASS(
      "PREPARE p AS DELETE FROM t WHERE id = $1; EXPLAIN ANALYZE EXECUTE p(1); "
      "DEALLOCATE p; PREPARE p AS DELETE FROM t; EXECUTE p;",
      "db.delete.unbounded");
  EXPECT_CLASS("PREPARE p AS SELECT 1; DEALLOCATE ALL; EXECUTE p;", "opaque.sql");
}

// --- COPY -------------------------------------------------------------------

TEST(SqlCopy, ProgramIsOpaqueExec) {
  auto actions = ClassifyAs("COPY (SELECT 1) TO PROGRAM 'rm -rf /'");
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].op_class, "opaque.exec");
  EXPECT_CLASS("COPY t FROM PROGRAM 'curl http://x'", "opaque.exec");
}

TEST(SqlCopy, StdoutIsReadFromIsWriteServerFileIsHeld) {
  EXPECT_CLASS("COPY users TO STDOUT WITH CSV HEADER", "read.only");
  EXPECT_CLASS("COPY users FROM STDIN", "db.write");
  EXPECT_ALLOWED("COPY users FROM '/tmp/users.csv' CSV");
  EXPECT_CLASS("COPY users TO '/var/lib/postgresql/data/postgresql.conf'", "db.file.write");
  EXPECT_HELD("COPY users TO '/tmp/out.csv'");
}

// --- functions with side effects -------------------------------------------

TEST(SqlFunctions, AdminFunctionsAnywhereInAQuery) {
  EXPECT_CLASS(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
      "db.admin.terminate");
  EXPECT_CLASS("SELECT pg_cancel_backend(123)", "db.admin.cancel");
  EXPECT_CLASS("SELECT pg_drop_replication_slot('s')", "db.admin.destructive");
  EXPECT_CLASS("SELECT lo_unlink(oid) FROM pg_largeobject_metadata", "db.delete.largeobject");
  EXPECT_CLASS("SELECT count(*) FROM (SELECT pg_catalog.pg_terminate_backend(1)) s",
               "db.admin.terminate");
  EXPECT_CLASS("SELECT * FROM t WHERE EXISTS (SELECT lo_unlink(5))", "db.delete.largeobject");
}

TEST(SqlFunctions, DblinkRunsItsSql) {
  EXPECT_CLASS("SELECT dblink_exec('host=prod', 'DROP TABLE users')", "db.drop");
  EXPECT_ALLOWED("SELECT * FROM dblink('host=prod', 'SELECT 1') AS t(x int)");
  EXPECT_CLASS("SELECT dblink_exec('host=prod', sqltext) FROM jobs", "opaque.sql");
}

TEST(SqlFunctions, ReadFunctionsAndLookalikeNamesAreAllowed) {
  EXPECT_ALLOWED("SELECT pg_size_pretty(pg_database_size('orders'))");
  EXPECT_ALLOWED("SELECT deleted_at, drop_count, truncate_flag FROM items WHERE id = 3");
  EXPECT_ALLOWED("SELECT delete_user_preview(3)");
  EXPECT_ALLOWED("SELECT pid, state, query FROM pg_stat_activity");
}

// --- settings, roles, system ------------------------------------------------

TEST(SqlSettings, SessionReplicationRoleReplicaIsDestructive) {
  EXPECT_CLASS("SET session_replication_role = replica", "db.config.destructive");
  EXPECT_CLASS("SET LOCAL session_replication_role TO 'replica'", "db.config.destructive");
  EXPECT_CLASS("SELECT set_config('session_replication_role', 'replica', false)",
               "db.config.destructive");
  EXPECT_ALLOWED("SET session_replication_role = origin");
  EXPECT_ALLOWED("SET search_path = app, public");
  EXPECT_ALLOWED("SHOW search_path");
  EXPECT_ALLOWED("RESET ALL");
}

// pg_dump's start-up: the setting set_config receives is fixed by the
// query's own WHERE on pg_settings.name.
TEST(SqlSettings, SetConfigPinnedByWhereOnPgSettingsIsASessionSetting) {
  EXPECT_ALLOWED(
      "SELECT set_config(name, 'view, foreign-table', false) FROM pg_settings "
      "WHERE name = 'restrict_nonsystem_relation_kind'");
  EXPECT_ALLOWED(
      "SELECT pg_catalog.set_config(s.name, 'off', false) FROM pg_catalog.pg_settings s "
      "WHERE s.name IN ('jit', 'enable_seqscan') AND s.context = 'user'");
  // Pinned to a setting whose value matters: judged as if written out.
  EXPECT_CLASS(
      "SELECT set_config(name, 'replica', false) FROM pg_settings "
      "WHERE 'session_replication_role' = name",
      "db.config.destructive");
  EXPECT_CLASS(
      "SELECT set_config(name, setting, false) FROM pg_settings "
      "WHERE name = 'session_replication_role'",
      "opaque.sql");
  // Not pinned: every setting (a value some setting reads as "switch off").
  EXPECT_CLASS("SELECT set_config(name, 'off', false) FROM pg_settings", "opaque.sql");
  EXPECT_CLASS(
      "SELECT set_config(name, 'replica', false) FROM pg_settings WHERE name LIKE 'session%'",
      "opaque.sql");
  // The WHERE may be evaluated after set_config there: no pin.
  EXPECT_CLASS(
      "SELECT 1 FROM pg_settings WHERE set_config(name, 'replica', false) IS NOT NULL "
      "AND name = 'jit'",
      "opaque.sql");
  // A subquery's name is its own FROM's.
  EXPECT_CLASS(
      "SELECT (SELECT set_config(name, 'replica', false) FROM pg_settings LIMIT 1) "
      "FROM pg_settings WHERE name = 'jit'",
      "opaque.sql");
  // Another relation's name column pins nothing.
  EXPECT_CLASS("SELECT set_config(name, 'replica', false) FROM my_settings WHERE name = 'jit'",
               "opaque.sql");
  EXPECT_CLASS(
      "SELECT set_config(x.name, 'replica', false) FROM pg_settings s, pg_settings x "
      "WHERE s.name = 'jit'",
      "opaque.sql");
}

// Constant IN and BETWEEN lists fold like any other constant condition.
TEST(SqlWhere, ConstantInAndBetweenListsFold) {
  EXPECT_CLASS("DELETE FROM t WHERE 1 IN (1, 2)", "db.delete.unbounded");
  EXPECT_CLASS("DELETE FROM t WHERE 'a' NOT IN ('b', 'c')", "db.delete.unbounded");
  EXPECT_CLASS("UPDATE t SET x = 1 WHERE 5 BETWEEN 1 AND 10", "db.update.unbounded");
  EXPECT_CLASS("DELETE FROM t WHERE id IN (1, 2)", "db.write.bounded");
  EXPECT_CLASS("DELETE FROM t WHERE 3 IN (1, 2) OR id = 4", "db.write.bounded");
}

TEST(SqlSettings, SetConfigWithAHarmlessLiteralValueIsASessionSetting) {
  EXPECT_ALLOWED("SELECT set_config(current_setting('dk.name'), 'view, foreign-table', false)");
  EXPECT_ALLOWED("SELECT set_config(lower('Search_Path'), '', false)");
  for (const char* value :
       {"off", "0", "f", "FALSE", " of ", "no", "replica", "LOCAL", "on", "t", "yes"})
    EXPECT_CLASS(
        std::string("SELECT set_config(current_setting('dk.name'), '") + value + "', false)",
        "opaque.sql");
  EXPECT_CLASS("SELECT set_config('session_replication_role', ' Replica', false)",
               "db.config.destructive");
  EXPECT_CLASS("SET foreign_key_checks = of", "db.config.destructive");
}

TEST(SqlSettings, AlterSystemAndRoles) {
  EXPECT_CLASS("ALTER SYSTEM SET max_connections = 10", "db.config.system");
  EXPECT_CLASS("ALTER ROLE app NOLOGIN", "db.role.alter");
  EXPECT_CLASS("ALTER ROLE app SET session_replication_role = replica", "db.config.destructive");
  EXPECT_ALLOWED("CREATE ROLE reporting");
  EXPECT_ALLOWED("GRANT SELECT ON orders TO reporting");
  EXPECT_ALLOWED("REVOKE INSERT ON orders FROM reporting");
}

TEST(SqlSettings, LoadLibraryIsOpaqueExec) {
  EXPECT_CLASS("LOAD 'auto_explain'", "opaque.exec");
}

// --- transactions, maintenance, DDL create ----------------------------------

TEST(SqlMisc, TransactionControlIsNeutral) {
  auto actions = ClassifyAs("BEGIN; COMMIT; ROLLBACK; SAVEPOINT a; RELEASE a;");
  for (const Action& action : actions) EXPECT_EQ(action.op_class, "db.tx");
}

TEST(SqlMisc, CreatesAndMaintenanceAreAllowed) {
  for (const char* sql :
       {"CREATE TABLE f (id serial PRIMARY KEY)", "CREATE INDEX CONCURRENTLY i ON t (c)",
        "CREATE VIEW v AS SELECT * FROM users WHERE active", "CREATE SCHEMA s",
        "CREATE EXTENSION IF NOT EXISTS pgcrypto", "ANALYZE orders", "VACUUM orders",
        "REINDEX TABLE orders", "REFRESH MATERIALIZED VIEW mv",
        "CREATE TABLE t2 AS SELECT * FROM t", "SELECT * INTO t3 FROM t",
        "LOCK TABLE t IN SHARE MODE", "COMMENT ON TABLE t IS 'drop me'",
        "CREATE TRIGGER tr AFTER DELETE ON t FOR EACH ROW EXECUTE FUNCTION f()",
        "CREATE RULE r AS ON INSERT TO t DO INSTEAD NOTHING", "NOTIFY ch, 'DROP TABLE x'",
        "LISTEN ch", "DISCARD ALL"}) {
    EXPECT_ALLOWED(sql);
  }
}

TEST(SqlMisc, ViewsTriggersAndRulesCarryTheirEffects) {
  EXPECT_ALLOWED("CREATE VIEW v AS SELECT pg_terminate_backend(pid) FROM pg_stat_activity");
  EXPECT_CLASS(
      "CREATE VIEW v AS SELECT pg_terminate_backend(pid) FROM pg_stat_activity; "
      "SELECT * FROM v",
      "db.admin.terminate");
  EXPECT_HELD(
      "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN TRUNCATE audit; "
      "RETURN NEW; END $$; CREATE TRIGGER tr AFTER INSERT ON t EXECUTE FUNCTION f()");
  EXPECT_ALLOWED(
      "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO "
      "audit VALUES (NEW.id); RETURN NEW; END $$; CREATE TRIGGER tr AFTER INSERT ON t "
      "FOR EACH ROW EXECUTE FUNCTION f()");
  EXPECT_HELD("CREATE RULE r AS ON INSERT TO t DO INSTEAD DELETE FROM t");
  EXPECT_ALLOWED("CREATE RULE r AS ON DELETE TO v DO INSTEAD DELETE FROM t WHERE id = OLD.id");
}

// --- multi-statement inputs -------------------------------------------------

TEST(SqlMulti, OneActionPerStatementAndTheDestructiveOneLast) {
  auto actions = ClassifyAs("SELECT 1; SELECT 2; DROP TABLE users");
  ASSERT_EQ(actions.size(), 3u);
  EXPECT_EQ(actions[2].op_class, "db.drop");
  EXPECT_HELD("SELECT 1 /* ok */; -- fine\nDROP TABLE \"Customers\";");
  EXPECT_HELD("BEGIN; DELETE FROM payments; COMMIT;");
  EXPECT_ALLOWED(
      "BEGIN; UPDATE a SET b = b - 1 WHERE id = 7; UPDATE a SET b = b + 1 WHERE id = 9; COMMIT;");
}

// --- traps: scary words as data ---------------------------------------------

TEST(SqlTraps, StringsCommentsAndIdentifiers) {
  for (const char* sql :
       {"SELECT 'DROP TABLE users' AS note", "SELECT $$DROP DATABASE prod$$ AS snippet",
        "SELECT $tag$ TRUNCATE x; $tag$", "SELECT E'\\'; DROP TABLE x; --'",
        "SELECT * FROM orders WHERE note = 'DELETE FROM users'",
        "SELECT \"drop\", \"delete\" FROM \"truncate\" WHERE id = 1",
        "-- DROP TABLE users;\nSELECT count(*) FROM users", "/* TRUNCATE orders; */ SELECT 1",
        "/* nested /* DROP TABLE x; */ still comment */ SELECT 1",
        "INSERT INTO audit_log (action) VALUES ('DROP DATABASE attempt blocked')",
        "UPDATE users SET name = 'DROP TABLE users; --' WHERE id = 5",
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '%drop%'",
        "SELECT count(*) FROM orders WHERE status = 'deleted'", "SeLeCt 1"}) {
    EXPECT_ALLOWED(sql);
  }
}

TEST(SqlTraps, CommentsAndCaseDoNotHideStatements) {
  EXPECT_HELD("DROP/**/TABLE/**/payments");
  EXPECT_HELD("/* cleanup */ DrOp TaBlE orders");
  EXPECT_HELD("-- just checking\nDELETE FROM users");
  EXPECT_HELD("SELECT 1; -- ;\n TRUNCATE t");
}

// --- fail closed --------------------------------------------------------------

TEST(SqlFailClosed, UnparseablePostgresIsOpaqueWithTheParserError) {
  auto actions = ClassifyAs("SELEC * FROM users");
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].op_class, "opaque.sql");
  EXPECT_NE(actions[0].reason.find("syntax error"), std::string::npos) << actions[0].reason;
  EXPECT_HELD("SELECT 'unterminated");
  EXPECT_HELD("\\! rm -rf /");
}

TEST(SqlFailClosed, RejectedStatementIsHeldEvenAmongGoodOnes) {
  auto actions = ClassifyAs("SELECT 1; DROP TABLE `x`; SELECT 2");
  EXPECT_NE(FindClass(actions, "db.drop"), nullptr) << Classes(actions);
  EXPECT_HELD("SELECT 1; FROBNICATE TABLE x");
  EXPECT_HELD("SELECT 1; SHOW TABLES LIKE `x`; DROP TABLE `y`");
}

TEST(SqlDialects, MySqlAndSqliteAreDetectedWithoutAHint) {
  for (const char* read :
       {"SHOW INDEX FROM `payments`;", "DESC customers;", "DESCRIBE orders",
        "SHOW CREATE TABLE `orders`", "SELECT `name`, `email` FROM `users` LIMIT 5;",
        "PRAGMA foreign_key_list(orders);", "PRAGMA table_info(users)", "SHOW FULL PROCESSLIST"})
    EXPECT_FALSE(Held(read)) << read;
  for (const char* held : {"DELETE FROM `sessions`;", "DROP TABLE `orders`", "TRUNCATE `audit_log`",
                           "PRAGMA writable_schema = ON", "UPDATE `users` SET `admin` = 1",
                           "SHOW TABLES; DROP DATABASE shop"})
    EXPECT_TRUE(Held(held)) << held;
}

TEST(SqlMerge, DeletingMatchedRowsIsADelete) {
  EXPECT_TRUE(
      Held("MERGE INTO stock s USING incoming i ON s.sku = i.sku WHEN MATCHED THEN DELETE;"));
  EXPECT_FALSE(
      Held("MERGE INTO stock s USING incoming i ON s.sku = i.sku "
           "WHEN MATCHED THEN UPDATE SET qty = i.qty WHEN NOT MATCHED THEN INSERT "
           "VALUES (i.sku, i.qty)"));
}

TEST(SqlFailClosed, NulByteAndOversizedInput) {
  EXPECT_CLASS(std::string("SELECT 1;\0DROP TABLE x", 22), "opaque.sql");
  Options options;
  options.max_bytes = 64;
  auto actions = Classify(std::string(100, ' ') + "SELECT 1", options);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].op_class, "opaque.sql");
  EXPECT_NE(actions[0].reason.find("limit"), std::string::npos);
}

TEST(SqlFailClosed, DeeplyNestedExpressionNeverCrashes) {
  std::string deep = "SELECT " + std::string(5000, '(') + "1" + std::string(5000, ')');
  auto actions = ClassifyAs(deep);
  EXPECT_FALSE(actions.empty());
  std::string deep_where =
      "DELETE FROM t WHERE " + std::string(300, '(') + "id = 1" + std::string(300, ')');
  EXPECT_FALSE(ClassifyAs(deep_where).empty());
}

// --- MySQL ------------------------------------------------------------------

TEST(SqlMySql, DestructiveStatements) {
  for (const char* sql : {"DROP DATABASE IF EXISTS shop_prod",
                          "DROP SCHEMA shop",
                          "DROP TABLE `orders`",
                          "TRUNCATE `audit_log`",
                          "DELETE o FROM orders o",
                          "DELETE FROM orders LIMIT 100",
                          "DELETE FROM `t` WHERE 1=1 # comment",
                          "UPDATE users SET a = 1 WHERE id = 1 || 1=1",
                          "ALTER TABLE orders DROP PARTITION p2023",
                          "ALTER TABLE t DROP c",
                          "ALTER TABLE t DROP FOREIGN KEY fk",
                          "UPDATE t1 JOIN t2 ON t1.id = t2.id SET t1.a = 1",
                          "SET FOREIGN_KEY_CHECKS = 0",
                          "SET GLOBAL read_only = 0",
                          "KILL 42",
                          "SELECT * FROM t INTO OUTFILE '/tmp/x'",
                          "PURGE BINARY LOGS BEFORE NOW()",
                          "/*!50000 DROP TABLE x */",
                          "SELECT 1\\g DROP TABLE t",
                          "DELETE FROM t WHERE id=1--1 OR 1=1",
                          "SELECT 1; # hidden\nDROP TABLE t",
                          "DELIMITER //"}) {
    EXPECT_HELD_IN(sql, Dialect::kMySql);
  }
}

TEST(SqlMySql, OrdinaryStatementsAreAllowed) {
  for (const char* sql :
       {"SELECT * FROM `users` WHERE `id` = 1", "SELECT \"DROP TABLE x\" FROM t",
        "SELECT 'it\\'s; DROP TABLE x' FROM t", "# DROP TABLE x\nSELECT 1",
        "DELETE FROM `orders` WHERE id = 5 LIMIT 1", "DELETE o FROM orders o WHERE o.id = 3",
        "UPDATE `t` SET a = 1 WHERE id = ?", "REPLACE INTO t VALUES (1)",
        "INSERT INTO t (a) VALUES (1) ON DUPLICATE KEY UPDATE a = 2", "SHOW TABLES",
        "DESCRIBE users", "USE shop", "SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 1, 10",
        "SELECT * FROM t FOR UPDATE", "RENAME TABLE a TO b", "SET NAMES utf8mb4",
        "START TRANSACTION", "ALTER TABLE t ADD COLUMN c int", "CREATE TABLE `x` (id int)"}) {
    EXPECT_ALLOWED_IN(sql, Dialect::kMySql);
  }
}

TEST(SqlMySql, MultiTableDeleteTargetsTheTableNotTheAlias) {
  auto actions = ClassifyAs("DELETE o FROM orders o", Dialect::kMySql);
  ASSERT_FALSE(actions.empty());
  EXPECT_EQ(actions[0].op_class, "db.delete.unbounded");
  EXPECT_EQ(actions[0].targets, std::vector<std::string>{"orders"});
}

// --- SQLite -----------------------------------------------------------------

TEST(SqlSqlite, DestructiveStatements) {
  for (const char* sql : {"DROP TABLE [my table]", "DELETE FROM t", "PRAGMA foreign_keys = OFF",
                          "PRAGMA writable_schema = ON", "SELECT load_extension('/tmp/x.so')",
                          "ATTACH DATABASE '/tmp/x.db' AS x", "UPDATE OR REPLACE t SET a = 1"}) {
    EXPECT_HELD_IN(sql, Dialect::kSqlite);
  }
}

TEST(SqlSqlite, OrdinaryStatementsAreAllowed) {
  for (const char* sql :
       {"PRAGMA table_info(users)", "PRAGMA journal_mode = WAL",
        "INSERT OR REPLACE INTO t VALUES (1)", "VACUUM", "VACUUM INTO '/tmp/backup.db'",
        "DELETE FROM t WHERE rowid = ?", "SELECT * FROM \"t\" WHERE a = :name",
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM u WHERE id = NEW.id; END; SELECT "
        "1"}) {
    EXPECT_ALLOWED_IN(sql, Dialect::kSqlite);
  }
}

}  // namespace
}  // namespace dualkey::sql

namespace dualkey::sql {
namespace {

// Deterministic mutation smoke test (a stand-in for the fuzzer in unit-test
// time): mangled SQL in every dialect never crashes and never comes back
// empty; run under DUALKEY_SANITIZE for memory errors.
TEST(SqlRobustness, MutatedInputsNeverCrash) {
  const std::vector<std::string> seeds = {
      "DO $$ BEGIN EXECUTE format('TRUNCATE %I', 'c'); END $$;",
      "WITH d AS (DELETE FROM t WHERE id IN (SELECT id FROM t) RETURNING *) SELECT * FROM d;",
      "DELETE o FROM `orders` o WHERE o.id = 1 /*!50000 OR 1=1 */ LIMIT 5; # x\n",
      "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $f$ BEGIN EXECUTE 'DROP TABLE x'; END "
      "$f$; "
      "SELECT f();",
      "PRAGMA foreign_keys = OFF; ATTACH '/tmp/x' AS y; DELETE FROM [t] WHERE rowid = ?;",
      "EXPLAIN (ANALYZE) UPDATE t SET a = 'x''y' WHERE b IS NULL OR b IS NOT NULL;"};
  std::uint32_t state = 12345;
  auto next = [&state] {
    state = state * 1103515245u + 12345u;
    return state >> 8;
  };
  const char kBytes[] = "'\"`$;()-/*#\\ \n\t[]aZ0=%\x80\xff";
  for (const Dialect dialect : {Dialect::kPostgres, Dialect::kMySql, Dialect::kSqlite}) {
    Options options;
    options.dialect = dialect;
    for (const std::string& seed : seeds) {
      for (int round = 0; round < 150; ++round) {
        std::string text = seed;
        const int edits = 1 + static_cast<int>(next() % 4);
        for (int e = 0; e < edits && !text.empty(); ++e) {
          const std::size_t at = next() % text.size();
          const char byte = kBytes[next() % (sizeof(kBytes) - 1)];
          switch (next() % 3) {
            case 0:
              text[at] = byte;
              break;
            case 1:
              text.insert(text.begin() + static_cast<long>(at), byte);
              break;
            default:
              text.erase(at, 1 + next() % 3);
              break;
          }
        }
        const auto actions = Classify(text, options);
        ASSERT_FALSE(actions.empty()) << text;
        for (const Action& action : actions) EXPECT_FALSE(action.op_class.empty()) << text;
      }
    }
  }
}

}  // namespace
}  // namespace dualkey::sql
