#include <gtest/gtest.h>

#include "recording_context.h"
#include "shell/internal/packs/packs.h"

namespace dualkey::shell {
namespace {

using testing::MakeInvocation;
using testing::RecordingContext;
using testing::RunPack;

RecordingContext Db(const Invocation& inv) {
  RecordingContext ctx;
  EXPECT_TRUE(RunPack(DbCliPack(), inv, ctx)) << inv.name();
  return ctx;
}

RecordingContext Db(std::initializer_list<std::string_view> words) {
  return Db(MakeInvocation(words));
}

Invocation WithStdin(Invocation inv, std::string text) {
  inv.has_stdin_text = true;
  inv.stdin_text = std::move(text);
  return inv;
}

Invocation PipedFrom(Invocation inv, std::initializer_list<std::string_view> producer) {
  inv.stdin_piped = true;
  for (std::string_view word : producer) inv.piped_from.push_back(Arg{std::string(word)});
  return inv;
}

// ------------------------------------------------------------------ psql

TEST(DbCliPsql, CommandGoesToSqlClassifierWithHostTarget) {
  auto ctx = Db({"psql", "-h", "prod-db.internal", "-U", "admin", "-c", "DROP DATABASE orders"});
  ASSERT_EQ(ctx.sqls.size(), 1u);
  EXPECT_EQ(ctx.sqls[0].sql, "DROP DATABASE orders");
  EXPECT_EQ(ctx.sqls[0].dialect, SqlDialect::kPostgres);
  EXPECT_EQ(ctx.sqls[0].target, "prod-db.internal");
  EXPECT_EQ(ctx.sqls[0].depth, 1);
  EXPECT_TRUE(ctx.actions.empty());
}

TEST(DbCliPsql, MultipleCommandsInOrderAndLongForm) {
  auto ctx = Db({"/usr/bin/psql", "-d", "app", "-c", "SELECT 1", "--command=DELETE FROM t"});
  ASSERT_EQ(ctx.sqls.size(), 2u);
  EXPECT_EQ(ctx.sqls[0].sql, "SELECT 1");
  EXPECT_EQ(ctx.sqls[1].sql, "DELETE FROM t");
  EXPECT_EQ(ctx.sqls[1].target, "localhost/app");
}

TEST(DbCliPsql, UriOperandNamesHostAndDatabase) {
  auto ctx = Db({"psql", "postgresql://u:pw@db.prod:5432/shop?sslmode=require", "-c", "SELECT 1"});
  ASSERT_EQ(ctx.sqls.size(), 1u);
  EXPECT_EQ(ctx.sqls[0].target, "db.prod:5432/shop");
}

TEST(DbCliPsql, UnknownUriStillPassesSql) {
  auto ctx = Db({"psql", "$DATABASE_URL", "-c", "TRUNCATE users CASCADE"});
  ASSERT_EQ(ctx.sqls.size(), 1u);
  EXPECT_EQ(ctx.sqls[0].sql, "TRUNCATE users CASCADE");
}

TEST(DbCliPsql, FileIsOpaque) {
  auto ctx = Db({"psql", "-d", "app", "-f", "migrate.sql"});
  EXPECT_TRUE(ctx.HasClass("opaque.sql"));
  EXPECT_TRUE(ctx.AnyDestructive());
  EXPECT_TRUE(ctx.sqls.empty());
}

TEST(DbCliPsql, HereStringIsClassifiedAsSql) {
  auto ctx = Db(WithStdin(MakeInvocation({"psql", "-d", "app"}), "DROP TABLE payments;\n"));
  ASSERT_EQ(ctx.sqls.size(), 1u);
  EXPECT_NE(ctx.sqls[0].sql.find("DROP TABLE payments"), std::string::npos);
  EXPECT_EQ(ctx.sqls[0].target, "localhost/app");
}

TEST(DbCliPsql, StdinFromUnknownProducerIsOpaque) {
  auto ctx = Db(PipedFrom(MakeInvocation({"psql", "prod"}), {"cat", "dump.sql"}));
  EXPECT_TRUE(ctx.HasClass("opaque.sql"));
  EXPECT_TRUE(ctx.AnyDestructive());
}

TEST(DbCliPsql, StdinFromFileRedirectIsOpaque) {
  Invocation inv = MakeInvocation({"psql", "prod"});
  inv.redirects.push_back({RedirectKind::kRead, -1, Arg{"restore.sql"}});
  auto ctx = Db(inv);
  EXPECT_TRUE(ctx.HasClass("opaque.sql"));
}

TEST(DbCliPsql, EchoPipeIsReadAsSql) {
  auto ctx = Db(PipedFrom(MakeInvocation({"psql", "app"}), {"echo", "DROP TABLE x;"}));
  ASSERT_EQ(ctx.sqls.size(), 1u);
  EXPECT_EQ(ctx.sqls[0].sql, "DROP TABLE x;");
}

TEST(DbCliPsql, PgDumpPipeWithoutCleanIsACopy) {
  auto ctx = Db(PipedFrom(MakeInvocation({"psql", "staging"}), {"pg_dump", "prod"}));
  EXPECT_FALSE(ctx.AnyDestructive()) << ctx.Classes();
  auto clean = Db(PipedFrom(MakeInvocation({"psql", "staging"}), {"pg_dump", "--clean", "prod"}));
  EXPECT_TRUE(clean.HasClass("db.drop"));
}

TEST(DbCliPsql, MetaCommandsAreReads) {
  auto ctx = Db({"psql", "-d", "app", "-c", "\\dt"});
  EXPECT_TRUE(ctx.sqls.empty());
  EXPECT_TRUE(ctx.HasClass("db.read"));
  EXPECT_FALSE(ctx.AnyDestructive());
  auto list = Db({"psql", "-c", "\\l"});
  EXPECT_FALSE(list.AnyDestructive());
  auto describe = Db({"psql", "-c", "\\d users"});
  EXPECT_FALSE(describe.AnyDestructive());
  EXPECT_TRUE(describe.sqls.empty());
}

TEST(DbCliPsql, ShellEscapeGoesToScript) {
  auto ctx = Db(WithStdin(MakeInvocation({"psql"}), "SELECT 1;\n\\! rm -rf /var/lib/x\nSELECT 2;"));
  ASSERT_EQ(ctx.scripts.size(), 1u);
  EXPECT_EQ(ctx.scripts[0].script, "rm -rf /var/lib/x");
  EXPECT_EQ(ctx.scripts[0].depth, 1);
  ASSERT_EQ(ctx.sqls.size(), 2u);
  EXPECT_NE(ctx.sqls[1].sql.find("SELECT 2"), std::string::npos);
}

TEST(DbCliPsql, BackslashInsideStringIsNotMeta) {
  auto ctx = Db({"psql", "-c", "SELECT '\\! not a command', E'a\\'b \\! x'"});
  EXPECT_TRUE(ctx.scripts.empty());
  ASSERT_EQ(ctx.sqls.size(), 1u);
}

TEST(DbCliPsql, GexecAndIncludeAreOpaque) {
  auto gexec = Db({"psql", "-c", "SELECT format('DROP TABLE %I', t) FROM x \\gexec"});
  EXPECT_TRUE(gexec.HasClass("opaque.sql"));
  ASSERT_EQ(gexec.sqls.size(), 1u);
  auto include = Db(WithStdin(MakeInvocation({"psql"}), "\\i /tmp/evil.sql\n"));
  EXPECT_TRUE(include.HasClass("opaque.sql"));
}

TEST(DbCliPsql, CopyProgramAndPipeOutputRunShell) {
  auto ctx = Db({"psql", "-c", "\\copy t to program 'rm -rf /srv'"});
  ASSERT_EQ(ctx.scripts.size(), 1u);
  EXPECT_EQ(ctx.scripts[0].script, "rm -rf /srv");
  auto out = Db({"psql", "-c", "\\o |sh"});
  ASSERT_EQ(out.scripts.size(), 1u);
  EXPECT_EQ(out.scripts[0].script, "sh");
}

TEST(DbCliPsql, ConnectSwitchesTarget) {
  auto ctx = Db(WithStdin(MakeInvocation({"psql", "-h", "h1", "-d", "a"}),
                          "\\c billing\nDELETE FROM invoices;"));
  ASSERT_EQ(ctx.sqls.size(), 1u);
  EXPECT_EQ(ctx.sqls[0].target, "h1/billing");
}

TEST(DbCliPsql, DollarQuotedBodyIsNotSplit) {
  auto ctx = Db({"psql", "-c", "DO $$ BEGIN RAISE NOTICE '\\!'; END $$;"});
  EXPECT_TRUE(ctx.scripts.empty());
  ASSERT_EQ(ctx.sqls.size(), 1u);
}

TEST(DbCliPsql, InteractiveAndListAreReads) {
  auto ctx = Db({"psql", "-h", "prod"});
  EXPECT_FALSE(ctx.AnyDestructive());
  auto list = Db({"psql", "-l"});
  EXPECT_FALSE(list.AnyDestructive());
}

// --------------------------------------------------------- PostgreSQL admin

TEST(DbCliPgAdmin, DropdbIsDbDrop) {
  auto ctx = Db({"dropdb", "-h", "db.prod.internal", "customers"});
  const Action* action = ctx.Find("db.drop");
  ASSERT_NE(action, nullptr);
  EXPECT_EQ(action->targets[0], "db.prod.internal/customers");
  EXPECT_TRUE(IsDestructive(*action));
}

TEST(DbCliPgAdmin, DropuserHeldCreatedbAllowed) {
  EXPECT_TRUE(Db({"dropuser", "app_ro"}).AnyDestructive());
  EXPECT_FALSE(Db({"createdb", "scratch"}).AnyDestructive());
}

TEST(DbCliPgAdmin, PgDumpIsBackupCreate) {
  auto ctx = Db({"pg_dump", "-h", "prod-db.internal", "-Fc", "orders"});
  ASSERT_TRUE(ctx.HasClass("backup.create"));
  EXPECT_FALSE(ctx.AnyDestructive());
  EXPECT_EQ(ctx.Find("backup.create")->targets[0], "prod-db.internal/orders");
}

TEST(DbCliPgAdmin, PgRestoreCleanIsHeldPlainIsNot) {
  EXPECT_TRUE(Db({"pg_restore", "--clean", "-d", "prod", "x.dump"}).HasClass("db.drop"));
  EXPECT_TRUE(Db({"pg_restore", "-c", "-d", "prod", "x.dump"}).AnyDestructive());
  EXPECT_FALSE(Db({"pg_restore", "-d", "staging", "x.dump"}).AnyDestructive());
  EXPECT_FALSE(Db({"pg_restore", "-l", "x.dump"}).AnyDestructive());
}

TEST(DbCliPgAdmin, DropclusterIsCritical) {
  auto ctx = Db({"pg_dropcluster", "--stop", "15", "main"});
  ASSERT_TRUE(ctx.HasClass("db.drop"));
  EXPECT_EQ(ctx.Find("db.drop")->severity, Severity::kCritical);
}

// Stopping the server is an outage (held); immediate mode is worse; a plain
// restart is routine.
TEST(DbCliPgAdmin, PgCtlStopIsAnOutage) {
  auto ctx = Db({"pg_ctl", "-D", "/var/lib/postgresql/data", "stop", "-m", "fast"});
  EXPECT_TRUE(ctx.HasClass("service.stop"));
  EXPECT_TRUE(ctx.AnyDestructive());
  EXPECT_EQ(ctx.Find("service.stop")->severity, Severity::kMedium);
  EXPECT_EQ(Db({"pg_ctl", "stop", "-m", "immediate"}).Find("service.stop")->severity,
            Severity::kHigh);
  EXPECT_EQ(Db({"pg_ctl", "kill", "TERM", "4242"}).Find("service.stop")->severity, Severity::kHigh);
  EXPECT_FALSE(Db({"pg_ctl", "-D", "/var/lib/postgresql/data", "restart"}).AnyDestructive());
  EXPECT_FALSE(Db({"pg_ctl", "status"}).AnyDestructive());
}

TEST(DbCliPgAdmin, ResetwalAndArchiveCleanupAreHeld) {
  EXPECT_TRUE(Db({"pg_resetwal", "-f", "/var/lib/pg"}).AnyDestructive());
  EXPECT_FALSE(Db({"pg_resetwal", "-n", "/var/lib/pg"}).AnyDestructive());
  EXPECT_TRUE(Db({"pg_archivecleanup", "/mnt/archive", "000000010000000000000010"})
                  .HasClass("backup.delete"));
}

// ------------------------------------------------------------------ mysql

TEST(DbCliMysql, ExecuteWithBarePasswordFlag) {
  auto ctx = Db({"mysql", "-u", "root", "-p", "-e", "DROP DATABASE shop_prod"});
  ASSERT_EQ(ctx.sqls.size(), 1u);
  EXPECT_EQ(ctx.sqls[0].dialect, SqlDialect::kMySql);
  EXPECT_NE(ctx.sqls[0].sql.find("DROP DATABASE shop_prod"), std::string::npos);
}

TEST(DbCliMysql, AttachedPasswordDoesNotEatOptions) {
  auto ctx = Db({"mariadb", "-uroot", "-psecret", "-hdb1", "shop", "-eSELECT 1"});
  ASSERT_EQ(ctx.sqls.size(), 1u);
  EXPECT_EQ(ctx.sqls[0].target, "db1/shop");
}

TEST(DbCliMysql, ClientCommandsInHeredoc) {
  auto ctx =
      Db(WithStdin(MakeInvocation({"mysql", "shop"}),
                   "use billing;\nsystem rm -rf /srv/x\nSELECT * FROM t\\G\nsource a.sql\n"));
  ASSERT_EQ(ctx.scripts.size(), 1u);
  EXPECT_EQ(ctx.scripts[0].script, "rm -rf /srv/x");
  ASSERT_EQ(ctx.sqls.size(), 1u);
  EXPECT_EQ(ctx.sqls[0].target, "localhost/billing");
  EXPECT_EQ(ctx.sqls[0].sql.find("\\G"), std::string::npos);
  EXPECT_TRUE(ctx.HasClass("opaque.sql"));
}

TEST(DbCliMysql, MysqldumpPipeAddsDropTables) {
  auto ctx = Db(PipedFrom(MakeInvocation({"mysql", "staging"}), {"mysqldump", "prod"}));
  EXPECT_TRUE(ctx.HasClass("db.drop"));
}

TEST(DbCliMysql, Mysqladmin) {
  auto drop = Db({"mysqladmin", "-u", "root", "-f", "drop", "shop"});
  ASSERT_TRUE(drop.HasClass("db.drop"));
  EXPECT_EQ(drop.Find("db.drop")->targets[0], "localhost/shop");
  EXPECT_FALSE(Db({"mysqladmin", "status"}).AnyDestructive());
  EXPECT_FALSE(Db({"mysqladmin", "flush-logs", "flush-hosts"}).AnyDestructive());
}

// ---------------------------------------------------------------- sqlite3

TEST(DbCliSqlite, SqlArgumentGoesToClassifier) {
  auto ctx = Db({"sqlite3", "/srv/app/prod.db", "DROP TABLE orders;"});
  ASSERT_EQ(ctx.sqls.size(), 1u);
  EXPECT_EQ(ctx.sqls[0].dialect, SqlDialect::kSqlite);
  EXPECT_NE(ctx.sqls[0].sql.find("DROP TABLE orders"), std::string::npos);
  EXPECT_FALSE(ctx.sqls[0].target.empty());
}

TEST(DbCliSqlite, DotCommands) {
  auto tables = Db({"sqlite3", "app.db", ".tables"});
  EXPECT_TRUE(tables.sqls.empty());
  EXPECT_FALSE(tables.AnyDestructive());
  auto shell = Db({"sqlite3", "app.db", ".shell rm -rf /data"});
  ASSERT_EQ(shell.scripts.size(), 1u);
  EXPECT_EQ(shell.scripts[0].script, "rm -rf /data");
  EXPECT_TRUE(Db({"sqlite3", "app.db", ".read x.sql"}).HasClass("opaque.sql"));
  EXPECT_TRUE(Db({"sqlite3", "app.db", ".restore backup.db"}).AnyDestructive());
  EXPECT_TRUE(Db({"sqlite3", "app.db", ".load ./evil.so"}).HasClass("opaque.exec"));
}

TEST(DbCliSqlite, CmdOptionAndHeredocMix) {
  auto ctx = Db(WithStdin(MakeInvocation({"sqlite3", "-cmd", ".mode csv", "app.db"}),
                          ".headers on\nDELETE FROM t;\n"));
  ASSERT_EQ(ctx.sqls.size(), 1u);
  EXPECT_NE(ctx.sqls[0].sql.find("DELETE FROM t"), std::string::npos);
}

TEST(DbCliSqlite, ReadonlyNeverReachesSql) {
  auto ctx = Db({"sqlite3", "-readonly", "prod.db", "DELETE FROM t"});
  EXPECT_TRUE(ctx.sqls.empty());
  EXPECT_FALSE(ctx.AnyDestructive());
}

// -------------------------------------------------------------- redis-cli

TEST(DbCliRedis, FlushallIsKvFlush) {
  auto ctx = Db({"redis-cli", "-h", "cache-prod", "FLUSHALL"});
  ASSERT_TRUE(ctx.HasClass("kv.flush"));
  EXPECT_TRUE(ctx.AnyDestructive());
  EXPECT_EQ(ctx.Find("kv.flush")->targets[0], "redis:cache-prod");
}

TEST(DbCliRedis, FlushdbLowercaseWithDbNumber) {
  auto ctx = Db({"redis-cli", "-n", "3", "flushdb", "async"});
  ASSERT_TRUE(ctx.HasClass("kv.flush"));
  EXPECT_EQ(ctx.Find("kv.flush")->targets[0], "redis:localhost/3");
}

TEST(DbCliRedis, ScaryWordsAsKeysAreReads) {
  EXPECT_FALSE(Db({"redis-cli", "GET", "feature:flushall_guard"}).AnyDestructive());
  EXPECT_FALSE(Db({"redis-cli", "-h", "cache-prod", "INFO", "keyspace"}).AnyDestructive());
  EXPECT_FALSE(Db({"redis-cli", "SET", "cmd", "FLUSHALL"}).AnyDestructive());
  EXPECT_FALSE(Db({"redis-cli", "--scan", "--pattern", "session:*"}).AnyDestructive());
}

TEST(DbCliRedis, DelOfNamedKeyAllowedComputedKeysHeld) {
  EXPECT_FALSE(Db({"redis-cli", "DEL", "session:42"}).AnyDestructive());
  // What xargs builds from `redis-cli --scan | xargs redis-cli del`.
  EXPECT_TRUE(Db({"redis-cli", "del"}).AnyDestructive());
  EXPECT_TRUE(Db({"redis-cli", "UNLINK", "$KEYS"}).AnyDestructive());
}

TEST(DbCliRedis, ReplicaofAndConfigDir) {
  EXPECT_TRUE(Db({"redis-cli", "REPLICAOF", "10.0.0.9", "6379"}).AnyDestructive());
  EXPECT_FALSE(Db({"redis-cli", "REPLICAOF", "NO", "ONE"}).AnyDestructive());
  EXPECT_TRUE(Db({"redis-cli", "CONFIG", "SET", "dir", "/root/.ssh"}).AnyDestructive());
  EXPECT_FALSE(Db({"redis-cli", "CONFIG", "GET", "maxmemory"}).AnyDestructive());
}

TEST(DbCliRedis, HeredocLinesAndClusterCall) {
  auto ctx = Db(WithStdin(MakeInvocation({"redis-cli"}), "GET a\nFLUSHDB\n"));
  EXPECT_TRUE(ctx.HasClass("kv.flush"));
  auto call = Db({"redis-cli", "--cluster", "call", "10.0.0.1:6379", "FLUSHALL"});
  EXPECT_TRUE(call.HasClass("kv.flush"));
  auto piped = Db(PipedFrom(MakeInvocation({"redis-cli"}), {"cat", "cmds.txt"}));
  EXPECT_TRUE(piped.AnyDestructive());
}

TEST(DbCliRedis, EvalScriptScan) {
  EXPECT_TRUE(Db({"redis-cli", "EVAL", "return redis.call('FLUSHALL')", "0"}).HasClass("kv.flush"));
  EXPECT_FALSE(
      Db({"redis-cli", "EVAL", "return redis.call('GET', KEYS[1])", "1", "k"}).AnyDestructive());
}

// ---------------------------------------------------------------- mongosh

TEST(DbCliMongo, DropDatabaseFromUri) {
  auto ctx = Db({"mongosh", "mongodb://prod-mongo:27017/app", "--eval", "db.dropDatabase()"});
  ASSERT_TRUE(ctx.HasClass("db.drop"));
  EXPECT_EQ(ctx.Find("db.drop")->targets[0], "mongodb:prod-mongo:27017/app");
}

TEST(DbCliMongo, DeleteManyEmptyFilterIsUnbounded) {
  auto ctx = Db({"mongosh", "app", "--eval", "db.users.deleteMany({})"});
  ASSERT_TRUE(ctx.HasClass("db.delete.unbounded"));
  EXPECT_EQ(ctx.Find("db.delete.unbounded")->targets[0], "mongodb:localhost/app.users");
  EXPECT_TRUE(
      Db({"mongo", "app", "--eval", "db.users.remove( { } )"}).HasClass("db.delete.unbounded"));
}

TEST(DbCliMongo, ReadsAndPreciseDeletesAllowed) {
  EXPECT_FALSE(Db({"mongosh", "app", "--eval", "db.users.countDocuments({})"}).AnyDestructive());
  EXPECT_FALSE(
      Db({"mongosh", "app", "--eval", "db.users.deleteMany({status: 'spam'})"}).AnyDestructive());
  EXPECT_FALSE(
      Db({"mongosh", "app", "--eval", "db.logs.find({msg: 'db.dropDatabase()'}) // drop()"})
          .AnyDestructive());
}

TEST(DbCliMongo, CollectionDropAndRunCommand) {
  auto ctx = Db({"mongosh", "app", "--eval", "db.getCollection('orders').drop()"});
  ASSERT_TRUE(ctx.HasClass("db.drop"));
  EXPECT_EQ(ctx.Find("db.drop")->targets[0], "mongodb:localhost/app.orders");
  EXPECT_TRUE(Db({"mongosh", "--eval", "db.runCommand({dropDatabase: 1})"}).HasClass("db.drop"));
  EXPECT_TRUE(
      Db({"mongosh", "--eval", "db.users.updateMany({}, {$set: {a: 1}})"}).AnyDestructive());
}

TEST(DbCliMongo, ScriptFilesAndStdin) {
  EXPECT_TRUE(Db({"mongosh", "app", "cleanup.js"}).HasClass("opaque.exec"));
  EXPECT_TRUE(
      Db({"mongosh", "-u", "admin", "-p", "--eval", "db.dropDatabase()"}).HasClass("db.drop"));
  auto heredoc = Db(WithStdin(MakeInvocation({"mongosh", "app"}), "db.sessions.drop()\n"));
  EXPECT_TRUE(heredoc.HasClass("db.drop"));
}

TEST(DbCliMongo, RestoreWithDrop) {
  EXPECT_TRUE(Db({"mongorestore", "--drop", "dump/"}).HasClass("db.drop"));
  EXPECT_FALSE(Db({"mongodump", "--db", "app"}).AnyDestructive());
}

// ------------------------------------------------------ clickhouse and cqlsh

TEST(DbCliClickhouse, DropAndTruncateHeldReadsAllowed) {
  EXPECT_TRUE(Db({"clickhouse-client", "-q", "DROP TABLE events"}).HasClass("db.drop"));
  EXPECT_TRUE(Db({"clickhouse-client", "--query=TRUNCATE TABLE events"}).HasClass("db.truncate"));
  auto read = Db({"clickhouse-client", "-q", "SELECT count() FROM events FORMAT JSON"});
  EXPECT_FALSE(read.AnyDestructive());
  EXPECT_FALSE(Db({"clickhouse", "client", "--query", "SYSTEM DROP DNS CACHE"}).AnyDestructive());
}

TEST(DbCliClickhouse, AlterDeleteMutations) {
  EXPECT_TRUE(Db({"clickhouse-client", "-q", "ALTER TABLE e DELETE WHERE 1"}).AnyDestructive());
  EXPECT_FALSE(
      Db({"clickhouse-client", "-q", "ALTER TABLE e DELETE WHERE id = 7"}).AnyDestructive());
  EXPECT_TRUE(
      Db({"clickhouse-client", "-q", "ALTER TABLE e DROP PARTITION 202401"}).AnyDestructive());
  EXPECT_TRUE(Db({"clickhouse-client", "-q", "FROB the table"}).HasClass("opaque.sql"));
}

TEST(DbCliCqlsh, KeyspaceDropAndReads) {
  EXPECT_TRUE(Db({"cqlsh", "cass-prod", "-e", "DROP KEYSPACE shop"}).HasClass("db.drop"));
  EXPECT_TRUE(Db({"cqlsh", "-e", "TRUNCATE shop.orders"}).HasClass("db.truncate"));
  EXPECT_FALSE(Db({"cqlsh", "-e", "SELECT * FROM shop.orders WHERE id = 1; DESCRIBE KEYSPACES"})
                   .AnyDestructive());
  EXPECT_FALSE(Db({"cqlsh", "-e", "SELECT 'DROP KEYSPACE x' FROM t"}).AnyDestructive());
  EXPECT_TRUE(Db({"cqlsh", "-e", "BEGIN BATCH DELETE FROM t; APPLY BATCH"})
                  .HasClass("db.delete.unbounded"));
}

}  // namespace
}  // namespace dualkey::shell

namespace dualkey::shell {
namespace {

TEST(DbCliUnknownText, MongoEvalOfUnknownScriptIsOpaque) {
  auto ctx = Db({"mongosh", "app", "--eval", "$JS"});
  EXPECT_TRUE(ctx.HasClass("opaque.exec"));
  EXPECT_TRUE(ctx.AnyDestructive());
  auto sub = Db({"mongosh", "app", "--eval", "$(cat x.js)"});
  EXPECT_TRUE(sub.AnyDestructive());
  // An unknown value inside a string literal hides no code.
  auto literal = Db({"mongosh", "app", "--eval", "db.users.find({name: \"$NAME\"})"});
  EXPECT_FALSE(literal.AnyDestructive()) << literal.Classes();
  // Mongo operators are not placeholders.
  auto ops = Db({"mongosh", "app", "--eval", "db.t.find({a: {$gt: 1}})"});
  EXPECT_FALSE(ops.AnyDestructive());
}

TEST(DbCliUnknownText, RedisEchoOfUnknownCommandIsOpaque) {
  Invocation inv = MakeInvocation({"redis-cli"});
  inv.stdin_piped = true;
  inv.piped_from = {Arg{"echo"}, Arg{"$CMD", false}};
  auto ctx = Db(inv);
  EXPECT_TRUE(ctx.AnyDestructive()) << ctx.Classes();
}

}  // namespace
}  // namespace dualkey::shell
