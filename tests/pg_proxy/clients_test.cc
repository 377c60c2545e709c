// Real PostgreSQL clients through the proxy with an agent's token (#23 item
// 1 and its measurement): pg_dump and pg_restore, pg_dumpall, psql's
// meta-commands, pgbench -i, node-postgres (prepared statements, COPY both
// ways), knex and Sequelize migrations. Each passes without an approval
// where it destroys nothing; the destructive steps are held with the
// reason. The npm tools are installed once into the build tree (see
// NodeTools), never on the developer's machine.
#include <fcntl.h>
#include <sys/file.h>

#include "harness.h"

namespace dualkey::pgtest {
namespace {

// tests/pg_proxy/node installed with `npm ci` into BUILD/pg_proxy_node,
// once (again only when package-lock.json changes). ctest runs tests in
// parallel processes: an exclusive lock makes one install while the
// others wait, so none loads a half-written node_modules.
class NodeTools {
 public:
  static const NodeTools& Get() {
    static NodeTools tools;
    return tools;
  }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const fs::path& dir() const { return dir_; }

 private:
  NodeTools() {
    const fs::path source = fs::path(DUALKEY_SOURCE_DIR) / "tests/pg_proxy/node";
    dir_ = fs::path(DUALKEY_BINARY).parent_path() / "pg_proxy_node";
    if (Shell("command -v node && command -v npm").status != 0) {
      error_ = "node and npm are needed for the client tests (scripts/install-deps.sh)";
      return;
    }
    std::error_code ec;
    fs::create_directories(dir_, ec);
    const int lock_fd = open((dir_ / ".install-lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX) != 0) {
      error_ = "cannot lock " + (dir_ / ".install-lock").string();
      if (lock_fd >= 0) close(lock_fd);
      return;
    }
    Install(source);
    close(lock_fd);
  }

  void Install(const fs::path& source) {
    std::error_code ec;
    // The scripts, migrations and config, fresh each time.
    for (const auto& entry : fs::recursive_directory_iterator(source, ec)) {
      const fs::path relative = fs::relative(entry.path(), source, ec);
      if (relative.begin()->string() == "node_modules") continue;
      if (entry.is_directory()) {
        fs::create_directories(dir_ / relative, ec);
      } else {
        fs::copy_file(entry.path(), dir_ / relative, fs::copy_options::overwrite_existing, ec);
      }
    }
    std::ifstream lock_in(source / "package-lock.json");
    std::stringstream lock;
    lock << lock_in.rdbuf();
    const fs::path stamp = dir_ / "node_modules" / ".dualkey-lock";
    std::ifstream stamp_in(stamp);
    std::stringstream stamped;
    stamped << stamp_in.rdbuf();
    if (!lock.str().empty() && stamped.str() == lock.str()) return;
    // npm's cache stays where the developer keeps it, not in the test's HOME.
    const std::string cache =
        PgProxy::RealHome().empty()
            ? ""
            : "npm_config_cache=" + Quote(PgProxy::RealHome() + "/.npm") + " ";
    Output installed = Shell("cd " + Quote(dir_.string()) + " && " + cache +
                             "npm ci --no-audit --no-fund --loglevel=error");
    if (installed.status != 0) {
      error_ = "npm ci in " + dir_.string() + " failed (the npm registry must be reachable):\n" +
               installed.out;
      return;
    }
    std::ofstream(stamp, std::ios::binary) << lock.str();
  }

  fs::path dir_;
  std::string error_;
};

class PgClients : public PgProxy {
 protected:
  // The environment an agent's tools get: the proxy, the token, a database.
  std::string AgentEnv(const std::string& db) {
    return "PGHOST=127.0.0.1 PGPORT=" + std::to_string(proxy_port_) +
           " PGUSER=agent1 PGPASSWORD=" + Quote(*token_) + " PGDATABASE=" + Quote(db) +
           " PGSSLMODE=disable PGCONNECT_TIMEOUT=10 DATABASE_URL=" +
           Quote("postgres://agent1:" + *token_ + "@127.0.0.1:" + std::to_string(proxy_port_) +
                 "/" + db) +
           " ";
  }
  // A database of its own, made through the proxy (CREATE DATABASE passes).
  std::string FreshDatabase(const std::string& name) {
    Output made = Shell(AgentEnv("shop") + "/usr/bin/psql -X -v ON_ERROR_STOP=1 -c " +
                        Quote("CREATE DATABASE " + name));
    EXPECT_EQ(made.status, 0) << made.out;
    return name;
  }
  const NodeTools& Node() {
    const NodeTools& tools = NodeTools::Get();
    return tools;
  }
  Output NodeRun(const std::string& db, const std::string& command) {
    return Shell("cd " + Quote(Node().dir().string()) + " && " + AgentEnv(db) + command);
  }
  // Approves every action waiting for a human; how many.
  int ApproveAllPending() {
    int n = 0;
    for (const std::string& id : PendingIds())
      if (!id.empty() && Approve(id)) ++n;
    return n;
  }
};

std::string PgBin(const std::string& tool) {
  for (int version = 20; version >= 10; --version) {
    const std::string path = "/usr/lib/postgresql/" + std::to_string(version) + "/bin/" + tool;
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return tool;
}

// Row counts of every user table, and the schema as pg_dump prints it
// (without comments and the per-run \restrict key), read directly.
std::string RowCounts(const std::string& uri) {
  return Shell("/usr/bin/psql " + Quote(uri) + " -X -At -c " +
               Quote("SELECT string_agg(format('%s=%s', c.oid::regclass, "
                     "(xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s', "
                     "c.oid::regclass), false, true, '')))[1]::text), ',' ORDER BY "
                     "c.oid::regclass::text) "
                     "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE "
                     "c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')"))
      .out;
}

std::string Schema(const std::string& uri) {
  Output dumped = Shell(PgBin("pg_dump") + " --schema-only --no-owner " + Quote(uri));
  std::string out;
  std::istringstream lines(dumped.out);
  for (std::string line; std::getline(lines, line);)
    if (!line.starts_with("--") && !line.starts_with("\\restrict") &&
        !line.starts_with("\\unrestrict") && !line.empty())
      out += line + "\n";
  return out;
}

TEST_F(PgClients, PgDumpOfASeededDatabaseRestoresIdenticallyWithPgRestore) {
  ASSERT_TRUE(pg_->Exec("CREATE DATABASE seeded OWNER app")) << pg_->error();
  ASSERT_TRUE(pg_->Exec(
      "CREATE SCHEMA sales; "
      "CREATE TYPE mood AS ENUM ('ok', 'happy'); "
      "CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE, "
      "  feeling mood DEFAULT 'ok', created timestamptz DEFAULT now()); "
      "CREATE TABLE sales.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
      "  customer_id int REFERENCES customers ON DELETE CASCADE, total numeric(10,2), "
      "  doc jsonb, CHECK (total >= 0)); "
      "CREATE INDEX orders_customer ON sales.orders (customer_id); "
      "CREATE VIEW sales.big_orders AS SELECT * FROM sales.orders WHERE total > 100; "
      "CREATE MATERIALIZED VIEW sales.totals AS SELECT customer_id, sum(total) FROM sales.orders "
      "  GROUP BY 1; "
      "CREATE FUNCTION sales.touch() RETURNS trigger LANGUAGE plpgsql AS "
      "  $$BEGIN NEW.total := coalesce(NEW.total, 0); RETURN NEW; END$$; "
      "CREATE TRIGGER orders_touch BEFORE INSERT ON sales.orders FOR EACH ROW EXECUTE FUNCTION "
      "  sales.touch(); "
      "CREATE SEQUENCE invoice_no START 1000; SELECT setval('invoice_no', 1234); "
      "COMMENT ON TABLE customers IS 'people who buy'; "
      "INSERT INTO customers (name, email, feeling) SELECT 'c' || g, 'c' || g || '@x', "
      "  CASE WHEN g % 2 = 0 THEN 'happy' ELSE 'ok' END::mood FROM generate_series(1, 2000) g; "
      "INSERT INTO sales.orders (customer_id, total, doc) SELECT 1 + g % 2000, g % 500, "
      "  jsonb_build_object('n', g, 'tab', E'a\\tb') FROM generate_series(1, 8000) g; "
      "REFRESH MATERIALIZED VIEW sales.totals; ANALYZE",
      "seeded"))
      << pg_->error();
  const std::size_t pending_before = PendingIds().size();
  const fs::path dump = *state_ / "seeded.dump";
  // pg_dump through the proxy, custom format and plain.
  Output dumped = Shell(AgentEnv("seeded") + PgBin("pg_dump") + " -Fc -f " + Quote(dump.string()));
  ASSERT_EQ(dumped.status, 0) << dumped.out;
  Output plain = Shell(AgentEnv("seeded") + PgBin("pg_dump") + " --no-owner");
  ASSERT_EQ(plain.status, 0) << plain.out.substr(0, 2000);
  EXPECT_NE(plain.out.find("COPY public.customers"), std::string::npos);
  // pg_restore through the proxy into an empty database.
  FreshDatabase("restored");
  Output restored = Shell(AgentEnv("restored") + PgBin("pg_restore") +
                          " --no-owner --exit-on-error -d restored " + Quote(dump.string()));
  ASSERT_EQ(restored.status, 0) << restored.out;
  EXPECT_EQ(PendingIds().size(), pending_before) << "no step of backup or restore was held";
  const std::string counts = RowCounts(Direct("seeded"));
  EXPECT_NE(counts.find("customers=2000"), std::string::npos) << counts;
  EXPECT_NE(counts.find("sales.orders=8000"), std::string::npos) << counts;
  EXPECT_EQ(RowCounts(Direct("restored")), counts);
  const std::string schema = Schema(Direct("seeded"));
  EXPECT_NE(schema.find("CREATE TRIGGER orders_touch"), std::string::npos);
  EXPECT_EQ(Schema(Direct("restored")), schema);
  EXPECT_EQ(DirectSql("restored", "SELECT last_value FROM invoice_no").out, "1234\n");
}

TEST_F(PgClients, PgDumpallOfWhatTheTokenMayRead) {
  const std::size_t pending_before = PendingIds().size();
  Output all = Shell(AgentEnv("postgres") + PgBin("pg_dumpall") + " --no-role-passwords");
  ASSERT_EQ(all.status, 0) << all.out.substr(0, 3000);
  EXPECT_NE(all.out.find("CREATE DATABASE shop"), std::string::npos);
  EXPECT_EQ(PendingIds().size(), pending_before);
}

TEST_F(PgClients, PsqlMetaCommands) {
  Psql("-c 'CREATE TABLE meta_t (id int PRIMARY KEY, v text)' -c 'CREATE VIEW meta_v AS SELECT 1'");
  for (const char* meta :
       {"\\d+", "\\d+ meta_t", "\\dt", "\\di", "\\dv", "\\ds", "\\df", "\\dn", "\\l", "\\du",
        "\\dx", "\\dT", "\\dp", "\\dd", "\\sf+ pg_catalog.now", "\\conninfo"}) {
    Output out = Psql(std::string("-c ") + Quote(meta));
    EXPECT_EQ(out.status, 0) << meta << ": " << out.out;
    EXPECT_EQ(out.out.find("DKH0"), std::string::npos) << meta << ": " << out.out;
  }
  Output indexes = Psql("-c '\\di'");
  EXPECT_NE(indexes.out.find("meta_t_pkey"), std::string::npos) << indexes.out;
}

TEST_F(PgClients, PgbenchInitOnAFreshDatabaseAndItsDropsWhenTheTablesExist) {
  const std::string db = FreshDatabase("bench_fresh");
  const std::size_t pending_before = PendingIds().size();
  Output init = Shell(AgentEnv(db) + PgBin("pgbench") + " -i -s 1 -q");
  ASSERT_EQ(init.status, 0) << init.out;
  EXPECT_EQ(DirectSql(db, "SELECT count(*) FROM pgbench_accounts").out, "100000\n");
  EXPECT_EQ(PendingIds().size(), pending_before);
  // Again, now that the tables hold data: its DROP TABLE IF EXISTS is held.
  Output again = Shell(AgentEnv(db) + PgBin("pgbench") + " -i -s 1 -q");
  EXPECT_NE(again.status, 0);
  EXPECT_NE(again.out.find("dualkey held this statement for approval"), std::string::npos)
      << again.out;
  EXPECT_NE(again.out.find("DROP table pgbench_accounts"), std::string::npos) << again.out;
  EXPECT_EQ(DirectSql(db, "SELECT count(*) FROM pgbench_accounts").out, "100000\n");
}

TEST_F(PgClients, NodePostgresPreparedStatementsAndCopyBothWays) {
  if (!Node().ok()) GTEST_SKIP() << Node().error();
  const std::string db = FreshDatabase("node_pg");
  Output ran = NodeRun(db, "node pg_client.js");
  ASSERT_EQ(ran.status, 0) << ran.out;
  json out = json::parse(ran.out.substr(ran.out.find('{')), nullptr, false);
  ASSERT_TRUE(out.is_object()) << ran.out;
  EXPECT_EQ(out["named"], json::array({"item 1", "item 3"}));
  EXPECT_EQ(out["price2"], "6");
  EXPECT_EQ(out["count"], 1003);
  EXPECT_EQ(out["copied_lines"], 1003);
  EXPECT_EQ(out["copied_last"], "1099\tcopied 1099\t1099.25");
  EXPECT_EQ(out["drop"], "DKH01") << out.dump();
  EXPECT_EQ(out["after"], 1003);
}

TEST_F(PgClients, KnexMigrateLatestPassesAndRollbackDropsAreHeld) {
  if (!Node().ok()) GTEST_SKIP() << Node().error();
  const std::string db = FreshDatabase("knex_app");
  const std::string knex = "node node_modules/knex/bin/cli.js --knexfile knexfile.js ";
  const std::size_t pending_before = PendingIds().size();
  Output latest = NodeRun(db, knex + "migrate:latest");
  ASSERT_EQ(latest.status, 0) << latest.out;
  EXPECT_NE(latest.out.find("Batch 1 run: 2 migrations"), std::string::npos) << latest.out;
  EXPECT_EQ(PendingIds().size(), pending_before) << "migrate:latest needed no approval";
  EXPECT_EQ(DirectSql(db, "SELECT count(*) FROM knex_migrations").out, "2\n");
  EXPECT_EQ(DirectSql(db, "SELECT is_locked FROM knex_migrations_lock").out, "0\n");
  EXPECT_EQ(DirectSql(db, "SELECT name FROM users").out, "First\n");
  // The lock was released: a second run takes and frees it again.
  Output again = NodeRun(db, knex + "migrate:latest");
  ASSERT_EQ(again.status, 0) << again.out;
  EXPECT_NE(again.out.find("Already up to date"), std::string::npos) << again.out;
  // The lock's release is a whole-table UPDATE of a one-row table: it ran
  // after a snapshot, without a human, and the audit record names it.
  const json release =
      AllowedBy("update \"knex_migrations_lock\" set \"is_locked\"", "snapshot_id");
  ASSERT_TRUE(release.is_object()) << AuditLog();
  EXPECT_NE(release.value("reason", "").find("1 row"), std::string::npos) << release.dump();

  // Rollback destroys tables and a column: held, with the reason; the
  // migration's transaction rolls back and the lock is free again.
  Output rollback = NodeRun(db, knex + "migrate:rollback");
  EXPECT_NE(rollback.status, 0) << rollback.out;
  EXPECT_NE(rollback.out.find("dualkey held this statement for approval"), std::string::npos)
      << rollback.out;
  EXPECT_NE(rollback.out.find("DROP table posts"), std::string::npos) << rollback.out;
  EXPECT_EQ(DirectSql(db, "SELECT count(*) FROM knex_migrations").out, "2\n");
  EXPECT_EQ(DirectSql(db, "SELECT is_locked FROM knex_migrations_lock").out, "0\n");
  EXPECT_EQ(DirectSql(db, "SELECT to_regclass('posts') IS NOT NULL").out, "t\n");
  Output status = NodeRun(db, knex + "migrate:status");
  EXPECT_EQ(status.status, 0) << status.out;
  EXPECT_EQ(status.out.find("already locked"), std::string::npos) << status.out;
  // With a human approving each destructive step, the rollback completes.
  bool done = false;
  for (int round = 0; round < 8 && !done; ++round) {
    ApproveAllPending();
    Output retry = NodeRun(db, knex + "migrate:rollback");
    done = retry.status == 0;
  }
  EXPECT_TRUE(done);
  EXPECT_EQ(DirectSql(db, "SELECT count(*) FROM knex_migrations").out, "0\n");
  EXPECT_EQ(
      DirectSql(db, "SELECT to_regclass('posts') IS NULL AND to_regclass('users') IS NULL").out,
      "t\n");
}

TEST_F(PgClients, SequelizeMigrationsPassAndUndoIsHeld) {
  if (!Node().ok()) GTEST_SKIP() << Node().error();
  const std::string db = FreshDatabase("sequelize_app");
  const std::string cli =
      "NODE_ENV=proxy node node_modules/sequelize-cli/lib/sequelize --config "
      "sequelize/config.json --migrations-path sequelize/migrations ";
  const std::size_t pending_before = PendingIds().size();
  Output migrated = NodeRun(db, cli + "db:migrate");
  ASSERT_EQ(migrated.status, 0) << migrated.out;
  EXPECT_EQ(PendingIds().size(), pending_before) << "db:migrate needed no approval";
  EXPECT_EQ(DirectSql(db, "SELECT count(*) FROM \"SequelizeMeta\"").out, "2\n");
  EXPECT_EQ(DirectSql(db, "SELECT name FROM \"Users\"").out, "A\n");
  Output again = NodeRun(db, cli + "db:migrate");
  EXPECT_EQ(again.status, 0) << again.out;
  // Undo drops a column with its data: held with the reason.
  Output undo = NodeRun(db, cli + "db:migrate:undo");
  EXPECT_NE(undo.status, 0) << undo.out;
  EXPECT_NE(undo.out.find("DROP COLUMN"), std::string::npos) << undo.out;
  EXPECT_EQ(DirectSql(db, "SELECT count(*) FROM \"SequelizeMeta\"").out, "2\n");
  EXPECT_EQ(DirectSql(db, "SELECT name FROM \"Users\"").out, "A\n");
}

}  // namespace
}  // namespace dualkey::pgtest
