// Before an approved DROP TABLE, TRUNCATE, DELETE, UPDATE or DROP DATABASE
// runs, what it destroys is saved through the SnapshotSink: the table's DDL
// (pg_dump) and its rows (COPY on the side connection), or the database
// (pg_dump -Fc).
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>

#include "proxy/pg/internal/facts.h"
#include "proxy/pg/internal/session.h"

extern char** environ;

namespace dualkey::pgproxy {
namespace {

std::string FindPgDump(const std::string& configured) {
  if (!configured.empty()) return configured;
  for (int version = 20; version >= 10; --version) {
    const std::string path = "/usr/lib/postgresql/" + std::to_string(version) + "/bin/pg_dump";
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return "pg_dump";
}

template <class... A>
std::vector<std::string> Args(const A&... a) {
  std::vector<std::string> out;
  (out.emplace_back(a), ...);
  return out;
}

}  // namespace

// --- snapshots ------------------------------------------------------------
Task<std::optional<std::string>> Session::Snapshot(const std::vector<sql::StatementShape>& shapes,
                                                   const std::string& statement,
                                                   const std::string& approval_id,
                                                   std::string* error) {
  SnapshotRequest request;
  request.database = database_;
  request.statement = statement;
  request.agent = agent_;
  request.approval_id = approval_id;
  bool needed = false;
  for (const sql::StatementShape& s : shapes) {
    switch (s.kind) {
      case sql::StatementShape::Kind::kDropTable:
        request.kind = request.kind.empty() ? "drop-table" : request.kind;
        needed = true;
        break;
      case sql::StatementShape::Kind::kTruncate:
        request.kind = request.kind.empty() ? "truncate" : request.kind;
        needed = true;
        break;
      case sql::StatementShape::Kind::kDelete:
        request.kind = request.kind.empty() ? "delete" : request.kind;
        needed = true;
        break;
      case sql::StatementShape::Kind::kUpdate:
        request.kind = request.kind.empty() ? "update" : request.kind;
        needed = true;
        break;
      case sql::StatementShape::Kind::kDropDatabase:
        request.kind = request.kind.empty() ? "drop-database" : request.kind;
        needed = true;
        break;
      default:
        break;
    }
  }
  if (!needed) co_return std::nullopt;
  // What is saved must be what the statement destroys: names the proxy
  // could not read exactly (U&"...", a comment inside a name) could name
  // another table than the server's.
  for (const sql::StatementShape& s : shapes) {
    if (s.kind == sql::StatementShape::Kind::kOther ||
        s.kind == sql::StatementShape::Kind::kDropOther)
      continue;
    if (!s.names_exact) {
      *error = "dualkey could not read the names in \"" + s.text.substr(0, 200) +
               "\" exactly enough to save what it destroys";
      co_return std::nullopt;
    }
  }
  std::unique_ptr<SnapshotWriter> writer;
  {
    std::lock_guard lock(shared_.sink_mutex);
    writer = shared_.sink->Begin(request, error);
  }
  if (!writer) co_return std::nullopt;
  int table_index = 0;
  try {
    SideConnection& side = Side();
    for (const sql::StatementShape& s : shapes) {
      if (s.kind == sql::StatementShape::Kind::kOther) continue;
      if (s.kind == sql::StatementShape::Kind::kDropDatabase) {
        for (const std::string& db : s.objects) {
          const std::vector<std::string> args = Args("-Fc");
          const std::string part = "database." + db + ".dump";
          if (!co_await PgDump(args, db, part, *writer, error)) throw std::runtime_error(*error);
        }
        continue;
      }
      for (const std::string& object : s.objects) {
        const Event event = s.kind == sql::StatementShape::Kind::kUpdate     ? Event::kUpdate
                            : s.kind == sql::StatementShape::Kind::kTruncate ? Event::kTruncate
                                                                             : Event::kDelete;
        SideConnection::Result resolved =
            co_await side.Query(DescribeTableQuery(object, event, server_version_));
        if (!resolved.error.empty()) throw std::runtime_error(resolved.error);
        OwnQueryResult::Statement answer;
        answer.rows = std::move(resolved.rows);
        std::string describe_error;
        std::optional<TableFacts> facts = ReadTableFacts(answer, &describe_error);
        if (!facts) throw std::runtime_error(describe_error);
        if (!facts->exists) continue;  // IF EXISTS on a missing table
        const std::string schema = facts->schema;
        const std::string table = facts->name;
        const std::string qualified = facts->Qualified();
        const std::vector<std::string> args = Args("--schema-only", "-t", qualified);
        const std::string ddl_part = "ddl.sql";
        if (!co_await PgDump(args, database_, ddl_part, *writer, error))
          throw std::runtime_error(*error);
        // The stored columns by name (generated ones are computed again).
        const std::string columns = facts->columns.empty() ? "*" : facts->ColumnList();
        std::string select = "SELECT " + columns + " FROM " + qualified;
        const bool rows_only = (s.kind == sql::StatementShape::Kind::kDelete ||
                                s.kind == sql::StatementShape::Kind::kUpdate) &&
                               !s.complex && !s.has_parameters && !s.where.empty();
        if (rows_only) {
          // Columns as the alias sees them: the condition may use it.
          std::string aliased = "*";
          if (!facts->columns.empty()) {
            aliased.clear();
            for (const std::string& column : facts->columns)
              aliased += (aliased.empty() ? "" : ", ") +
                         (s.alias.empty() ? std::string() : s.alias + ".") +
                         sql::SqlIdentifier(column);
          }
          select = "SELECT " + aliased + " FROM " + qualified +
                   (s.alias.empty() ? "" : " " + s.alias) + " WHERE " + s.where;
        }
        const std::string part =
            table_index == 0 ? "rows.copy" : "rows." + std::to_string(table_index) + ".copy";
        ++table_index;
        std::string write_error;
        const std::string copy_sql = "COPY (" + select + ") TO STDOUT";
        const std::function<bool(std::string_view)> sink = [&](std::string_view chunk) {
          return writer->Append(part, chunk, &write_error);
        };
        std::string copy_error = co_await side.CopyOut(copy_sql, sink);
        if (!copy_error.empty())
          throw std::runtime_error(write_error.empty() ? copy_error : write_error);
        // Make the part exist even for an empty table.
        if (!writer->Append(part, "", &write_error)) throw std::runtime_error(write_error);
        RestoreEntry restore;
        restore.schema = schema;
        restore.table = table;
        restore.part = part;
        restore.columns = facts->columns;
        // Overwritten rows go back by key; without a primary key they can
        // only be re-inserted (the script says so).
        if (s.kind == sql::StatementShape::Kind::kUpdate && !facts->key.empty() &&
            !facts->columns.empty()) {
          restore.mode = "update";
          restore.key = facts->key;
        }
        const std::string entry = RestoreEntryLine(restore);
        if (!writer->Append("objects.txt", entry, &write_error))
          throw std::runtime_error(write_error);
      }
    }
  } catch (const std::exception& e) {
    *error = e.what();
    writer->Abort();
    if (side_) side_->Close();
    side_.reset();
    co_return std::nullopt;
  }
  std::optional<std::string> id = writer->Commit(error);
  if (!id) {
    writer->Abort();
    co_return std::nullopt;
  }
  LogEvent("snapshot", statement, "snapshot_id", *id, approval_id);
  shared_.Say("snapshot " + *id + " saved before approved " + request.kind + " (approval " +
              approval_id + ")");
  co_return id;
}

// pg_dump with the real credentials in the child's environment only.
Task<bool> Session::PgDump(const std::vector<std::string>& args, const std::string& database,
                           const std::string& part, SnapshotWriter& writer, std::string* error) {
  const Upstream up = shared_.options.upstream;
  const std::string binary = FindPgDump(shared_.options.pg_dump);
  SnapshotWriter* out = &writer;
  auto dump = [=]() -> std::pair<bool, std::string> {
    std::vector<std::string> argv = {
        binary, "--no-password", "-h", up.host, "-p", std::to_string(up.port),
        "-U",   up.user,         "-d", database};
    for (const auto& a : args) argv.push_back(a);
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e)
      if (std::strncmp(*e, "PG", 2) != 0) env.emplace_back(*e);
    env.push_back("PGPASSWORD=" + up.password);
    env.push_back("PGSSLMODE=" + up.sslmode);
    if (!up.sslrootcert.empty()) env.push_back("PGSSLROOTCERT=" + up.sslrootcert);
    std::vector<char*> argp, envp;
    for (auto& a : argv) argp.push_back(a.data());
    argp.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0) return {false, "pipe failed"};
    if (pipe2(err_pipe, O_CLOEXEC) != 0) {
      close(out_pipe[0]);
      close(out_pipe[1]);
      return {false, "pipe failed"};
    }
    const pid_t pid = fork();
    if (pid < 0) return {false, "fork failed"};
    if (pid == 0) {
      dup2(out_pipe[1], 1);
      dup2(err_pipe[1], 2);
      int null = open("/dev/null", O_RDONLY);
      if (null >= 0) dup2(null, 0);
      if (binary.find('/') != std::string::npos)
        execve(binary.c_str(), argp.data(), envp.data());
      else
        execvpe(binary.c_str(), argp.data(), envp.data());
      _exit(127);
    }
    close(out_pipe[1]);
    close(err_pipe[1]);
    std::string write_error;
    bool write_ok = true;
    char buffer[65536];
    while (true) {
      ssize_t n = read(out_pipe[0], buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (write_ok) write_ok = out->Append(part, std::string_view(buffer, n), &write_error);
    }
    close(out_pipe[0]);
    std::string stderr_text;
    while (true) {
      ssize_t n = read(err_pipe[0], buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (stderr_text.size() < 4000) stderr_text.append(buffer, n);
    }
    close(err_pipe[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!write_ok) return {false, write_error};
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      return {false, "pg_dump failed: " +
                         (stderr_text.empty()
                              ? std::string("exit status ") + std::to_string(WEXITSTATUS(status))
                              : stderr_text)};
    return {true, ""};
  };
  std::pair<bool, std::string> result = co_await OnPool(shared_, std::move(dump));
  if (!result.first) *error = result.second;
  co_return result.first;
}

}  // namespace dualkey::pgproxy
