// Database command-line clients: psql, mysql/mariadb, sqlite3, redis-cli,
// mongosh/mongo, clickhouse-client, cqlsh and the PostgreSQL/MySQL admin tools.
//
// The SQL a client runs (-c, -e, heredocs, echo pipes) is handed to the SQL
// classifier through Context::ClassifySql, which fails closed on text it does
// not understand. The clients' own commands (psql `\!`, sqlite `.shell`,
// mysql `system`) are split out first: shell escapes go to ClassifyScript and
// "run this file" commands are opaque, because we cannot see the file.
//
// ClickHouse and Cassandra speak dialects the PostgreSQL grammar rejects for
// ordinary reads (`SELECT count() ... FORMAT JSON`, CQL), so those two get a
// keyword scan of their own here; anything it does not recognise is opaque.
//
// This file holds the pack table; the handlers live under packs/dbcli/, one
// file per client family, with their shared helpers in packs/dbcli/dbcli.h.

#include "shell/internal/packs/dbcli/dbcli.h"

#include "shell/internal/packs/packs.h"

namespace dualkey::shell {
namespace {

constexpr PackEntry kDbCliPack[] = {
    {"psql", dbcli::HandlePsql},
    {"dropdb", dbcli::HandleDropdb},
    {"dropuser", dbcli::HandleDropuser},
    {"createdb", dbcli::HandleCreatedb},
    {"createuser", dbcli::HandleCreatedb},
    {"pg_dump", dbcli::HandlePgDump},
    {"pg_dumpall", dbcli::HandlePgDump},
    {"pg_basebackup", dbcli::HandlePgDump},
    {"pg_restore", dbcli::HandlePgRestore},
    {"pg_dropcluster", dbcli::HandlePgDropcluster},
    {"pg_ctl", dbcli::HandlePgCtl},
    {"pg_ctlcluster", dbcli::HandlePgCtl},
    {"pg_resetwal", dbcli::HandlePgResetwal},
    {"pg_resetxlog", dbcli::HandlePgResetwal},
    {"pg_archivecleanup", dbcli::HandlePgArchivecleanup},
    {"mysql", dbcli::HandleMysql},
    {"mariadb", dbcli::HandleMysql},
    {"mysqladmin", dbcli::HandleMysqladmin},
    {"mariadb-admin", dbcli::HandleMysqladmin},
    {"mysqldump", dbcli::HandleSqlDump},
    {"mariadb-dump", dbcli::HandleSqlDump},
    {"mysqlpump", dbcli::HandleSqlDump},
    {"sqlite3", dbcli::HandleSqlite},
    {"sqlite", dbcli::HandleSqlite},
    {"redis-cli", dbcli::HandleRedisCli},
    {"valkey-cli", dbcli::HandleRedisCli},
    {"keydb-cli", dbcli::HandleRedisCli},
    {"mongosh", dbcli::HandleMongosh},
    {"mongo", dbcli::HandleMongosh},
    {"mongorestore", dbcli::HandleMongoTool},
    {"mongoimport", dbcli::HandleMongoTool},
    {"mongodump", dbcli::HandleMongoTool},
    {"mongoexport", dbcli::HandleMongoTool},
    {"clickhouse-client", dbcli::HandleClickhouseClient},
    {"clickhouse", dbcli::HandleClickhouse},
    {"cqlsh", dbcli::HandleCqlsh},
};

}  // namespace

std::span<const PackEntry> DbCliPack() {
  return kDbCliPack;
}

}  // namespace dualkey::shell
