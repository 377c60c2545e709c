// psql and the PostgreSQL admin tools (dropdb, pg_restore, pg_ctl ...).

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/dbcli/dbcli.h"

namespace dualkey::shell::dbcli {

// ================================================================== psql

constexpr std::string_view kPsqlLong[] = {
    "--command",          "--dbname",    "--file",   "--host",     "--port", "--username",
    "--variable",         "--set",       "--output", "--log-file", "--pset", "--field-separator",
    "--record-separator", "--table-attr"};
constexpr OptionSpec kPsqlSpec{"cdfhpUvoLPFRT", "", kPsqlLong};

// Classifies the text psql runs: SQL interleaved with backslash commands.
class PsqlScript {
 public:
  PsqlScript(Context& ctx, std::string host, std::string db, int depth)
      : ctx_(ctx), host_(std::move(host)), db_(std::move(db)), depth_(depth) {}

  void Run(std::string_view text) {
    std::size_t i = 0;
    std::size_t chunk_start = 0;
    while (i < text.size()) {
      const char c = text[i];
      if (c == '\'') {
        const bool escapes = i > 0 && (text[i - 1] == 'E' || text[i - 1] == 'e') &&
                             (i < 2 || !IsIdentChar(text[i - 2]));
        for (++i; i < text.size(); ++i) {
          if (escapes && text[i] == '\\') {
            ++i;
            continue;
          }
          if (text[i] == '\'') break;
        }
        ++i;
      } else if (c == '"') {
        i = text.find('"', i + 1);
        i = i == std::string_view::npos ? text.size() : i + 1;
      } else if (c == '-' && i + 1 < text.size() && text[i + 1] == '-') {
        i = text.find('\n', i);
        if (i == std::string_view::npos) i = text.size();
      } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
        i = text.find("*/", i + 2);
        i = i == std::string_view::npos ? text.size() : i + 2;
      } else if (c == '$' && (i == 0 || !IsIdentChar(text[i - 1]))) {
        // Dollar quoting: $tag$ ... $tag$.
        std::size_t end = i + 1;
        while (end < text.size() &&
               (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_'))
          ++end;
        if (end < text.size() && text[end] == '$') {
          std::string_view tag = text.substr(i, end - i + 1);
          std::size_t close = text.find(tag, end + 1);
          i = close == std::string_view::npos ? text.size() : close + tag.size();
        } else {
          ++i;
        }
      } else if (c == '\\') {
        FlushSql(text.substr(chunk_start, i - chunk_start));
        i = Meta(text, i);
        chunk_start = i;
      } else {
        ++i;
      }
    }
    FlushSql(text.substr(chunk_start, std::min(i, text.size()) - chunk_start));
  }

 private:
  std::string Target() const { return PgTarget(host_, db_); }

  void FlushSql(std::string_view sql) {
    if (IsBlank(sql)) return;
    ctx_.ClassifySql(sql, SqlDialect::kPostgres, Target(), depth_ + 1);
  }

  // Handles the backslash command at text[at]; returns where SQL resumes.
  std::size_t Meta(std::string_view text, std::size_t at) {
    std::size_t eol = text.find('\n', at);
    if (eol == std::string_view::npos) eol = text.size();
    std::size_t name_end = at + 1;
    if (name_end < text.size() && (text[name_end] == '!' || text[name_end] == '\\' ||
                                   text[name_end] == '?' || text[name_end] == '.')) {
      ++name_end;
    } else {
      while (name_end < eol && !IsSpace(text[name_end]) && text[name_end] != '\\') ++name_end;
    }
    std::string_view name = text.substr(at + 1, name_end - at - 1);
    if (name == "\\") return name_end;  // `\\` separates commands from SQL
    if (name == "!") {
      std::string_view command = Trim(text.substr(name_end, eol - name_end));
      if (!command.empty()) ctx_.ClassifyScript(command, "", depth_ + 1);
      return eol;
    }
    // Arguments run to the end of the line or the next unquoted backslash.
    std::size_t arg_end = name_end;
    bool in_quote = false;
    for (; arg_end < eol; ++arg_end) {
      if (text[arg_end] == '\'') in_quote = !in_quote;
      if (!in_quote && text[arg_end] == '\\') break;
    }
    std::string_view args = Trim(text.substr(name_end, arg_end - name_end));
    HandleMeta(name, args);
    return arg_end;
  }

  void HandleMeta(std::string_view name, std::string_view args) {
    if (name == "i" || name == "ir" || name == "include" || name == "include_relative") {
      EmitOpaqueSql(ctx_, Target(),
                    "psql \\" + std::string(name) + " runs the SQL in " + std::string(args) +
                        ", which cannot be seen before it runs");
      return;
    }
    if (name == "gexec") {
      EmitOpaqueSql(ctx_, Target(),
                    "psql \\gexec runs the query's results as SQL, which cannot be known "
                    "before it runs");
      return;
    }
    if ((name == "g" || name == "gx" || name == "o" || name == "out" || name == "w" ||
         name == "write") &&
        args.starts_with('|')) {
      ctx_.ClassifyScript(Trim(args.substr(1)), "", depth_ + 1);
      return;
    }
    if (name == "copy") {
      std::vector<std::string> words = SplitWords(args);
      for (std::size_t k = 0; k + 1 < words.size(); ++k) {
        if (IEquals(words[k], "program")) {
          ctx_.ClassifyScript(words[k + 1], "", depth_ + 1);
          return;
        }
      }
      EmitRead(ctx_, Target(), "psql \\copy moves rows between a table and a local file");
      return;
    }
    if (name == "c" || name == "connect") {
      std::vector<std::string> words = SplitWords(args);
      if (!words.empty() && words[0] != "-") {
        std::string host = host_;
        std::string db;
        ParseConnString(words[0], &host, &db);
        host_ = host;
        if (!db.empty()) db_ = db;
      }
      if (words.size() >= 3 && words[2] != "-") host_ = words[2];
      return;
    }
    if (name == "lo_unlink") {
      Emit(ctx_, "db.delete", Target(), Reversibility::kIrreversible, Severity::kMedium,
           "psql \\lo_unlink deletes a large object");
      return;
    }
    EmitRead(ctx_, Target(), "psql \\" + std::string(name) + " only shows or sets client state");
  }

  Context& ctx_;
  std::string host_;
  std::string db_;
  int depth_;
};

void HandlePsql(const Invocation& inv, Context& ctx) {
  std::vector<Word> words = Walk(ArgsOf(inv), kPsqlSpec);
  std::string host(OptValue(words, "-h", "--host"));
  std::string db;
  std::string_view dbname = OptValue(words, "-d", "--dbname");
  if (!dbname.empty()) ParseConnString(dbname, &host, &db);
  std::vector<const Word*> operands = OperandsOf(words);
  if (db.empty() && !operands.empty()) ParseConnString(operands[0]->value, &host, &db);
  const std::string target = PgTarget(host, db);

  bool ran_something = false;
  bool reads_stdin = false;
  for (const Word& word : words) {
    if (!word.has_value) continue;
    if (IsOpt(word, "-c", "--command")) {
      ran_something = true;
      PsqlScript(ctx, host, db, inv.depth).Run(word.value);
    } else if (IsOpt(word, "-f", "--file")) {
      ran_something = true;
      std::string contents;
      if (word.value == "-") {
        reads_stdin = true;
      } else if (ReadLocalSqlFile(inv, word, &contents)) {
        PsqlScript(ctx, host, db, inv.depth).Run(contents);
      } else {
        EmitOpaqueSql(ctx, target,
                      "psql runs the SQL in " + std::string(word.value) +
                          ", which cannot be read here before it runs");
      }
    }
  }
  if (ran_something && !reads_stdin) return;

  std::string text;
  StdinSource source = ClientStdin(inv, &text);
  if (source == StdinSource::kText) {
    PsqlScript(ctx, host, db, inv.depth).Run(text);
    return;
  }
  if (ClassifyUnreadableStdin(inv, source, text, target, "psql", ctx)) return;
  if (reads_stdin) {
    EmitOpaqueSql(ctx, target, "psql reads SQL from stdin, which cannot be seen");
    return;
  }
  if (HasOpt(words, "-l", "--list") || HasOpt(words, "-V", "--version") ||
      HasOpt(words, "-?", "--help")) {
    EmitRead(ctx, target, "psql only lists databases or prints its version");
    return;
  }
  EmitRead(ctx, target, "psql opens an interactive session; nothing is run by the command itself");
}

// ============================================================ PostgreSQL admin

constexpr std::string_view kPgAdminLong[] = {
    "--host",   "--port", "--username", "--maintenance-db", "--dbname", "--file",
    "--format", "--jobs", "--schema",   "--table",          "--role",   "--superuser"};
constexpr OptionSpec kPgAdminSpec{"hpUdfFjnNtTSZ", "", kPgAdminLong};

void HandleDropdb(const Invocation& inv, Context& ctx) {
  std::vector<Word> words = Walk(ArgsOf(inv), kPgAdminSpec);
  std::string host(OptValue(words, "-h", "--host"));
  std::vector<const Word*> operands = OperandsOf(words);
  if (operands.empty() || HasOpt(words, "--help", "-?") || HasOpt(words, "-V", "--version")) {
    return;
  }
  Emit(ctx, "db.drop", PgTarget(host, operands[0]->value), Reversibility::kIrreversible,
       Severity::kHigh, "dropdb removes the database " + std::string(operands[0]->value));
}

void HandleDropuser(const Invocation& inv, Context& ctx) {
  std::vector<Word> words = Walk(ArgsOf(inv), kPgAdminSpec);
  std::vector<const Word*> operands = OperandsOf(words);
  if (operands.empty()) return;
  Emit(ctx, "db.role.drop", std::string(OptValue(words, "-h", "--host")),
       Reversibility::kIrreversible, Severity::kMedium,
       "dropuser removes the role " + std::string(operands[0]->value) + " and its grants");
}

void HandleCreatedb(const Invocation& inv, Context& ctx) {
  std::vector<Word> words = Walk(ArgsOf(inv), kPgAdminSpec);
  Emit(ctx, "db.create", std::string(OptValue(words, "-h", "--host")), Reversibility::kReversible,
       Severity::kNone, std::string(inv.name()) + " creates a database or role");
}

void HandlePgDump(const Invocation& inv, Context& ctx) {
  std::vector<Word> words = Walk(ArgsOf(inv), kPgAdminSpec);
  std::vector<const Word*> operands = OperandsOf(words);
  std::string host(OptValue(words, "-h", "--host"));
  std::string db(OptValue(words, "-d", "--dbname"));
  if (db.empty() && !operands.empty()) db = std::string(operands[0]->value);
  Emit(ctx, "backup.create", PgTarget(host, db), Reversibility::kReversible, Severity::kNone,
       std::string(inv.name()) + " reads the database to make a dump");
}

void HandlePgRestore(const Invocation& inv, Context& ctx) {
  std::vector<Word> words = Walk(ArgsOf(inv), kPgAdminSpec);
  std::string host(OptValue(words, "-h", "--host"));
  std::string_view db = OptValue(words, "-d", "--dbname");
  if (db.empty()) {
    Emit(ctx, "db.read", {}, Reversibility::kReversible, Severity::kNone,
         "pg_restore without -d only prints the dump as SQL");
    return;
  }
  const std::string target = PgTarget(host, db);
  const bool clean = HasOpt(words, "-c", "--clean");
  const bool create = HasOpt(words, "-C", "--create");
  if (clean) {
    Emit(ctx, "db.drop", target, Reversibility::kIrreversible, Severity::kHigh,
         create ? "pg_restore --clean --create drops and recreates the database"
                : "pg_restore --clean drops the database's objects before restoring them");
    return;
  }
  Emit(ctx, "db.restore", target, Reversibility::kReversible, Severity::kLow,
       "pg_restore loads a dump into the database without dropping anything");
}

void HandlePgDropcluster(const Invocation& inv, Context& ctx) {
  std::vector<Arg> operands = Operands(ArgsOf(inv));
  std::string target;
  for (const Arg& arg : operands) {
    if (!target.empty()) target.push_back('/');
    target.append(arg.text);
  }
  Emit(ctx, "db.drop", target, Reversibility::kIrreversible, Severity::kCritical,
       "pg_dropcluster deletes a whole PostgreSQL cluster and its data directory");
}

void HandlePgCtl(const Invocation& inv, Context& ctx) {
  // Stopping a server is an outage for everything that uses it (held); the
  // data directory stays. Immediate mode aborts without a checkpoint and
  // forces crash recovery; kill signals the server directly.
  std::span<const Arg> args = ArgsOf(inv);
  std::vector<Arg> operands = Operands(
      args, {"-D", "-m", "-o", "-l", "-t", "-s", "-N", "--pgdata", "--mode", "--log", "--timeout"});
  std::string mode = OptionValue(args, "-m");
  if (mode.empty()) mode = OptionValue(args, "--mode");
  const bool immediate = mode == "immediate" || mode == "i";
  const std::string name(inv.name());
  for (const Arg& arg : operands) {
    if (arg.text == "kill") {
      Emit(ctx, "service.stop", "postgres", Reversibility::kRecoverable, Severity::kHigh,
           name + " kill signals the PostgreSQL server directly: an outage");
      return;
    }
    if (arg.text == "stop") {
      Emit(ctx, "service.stop", "postgres", Reversibility::kRecoverable,
           immediate ? Severity::kHigh : Severity::kMedium,
           immediate
               ? name +
                     " stop -m immediate aborts the server without a checkpoint: an "
                     "outage, then crash recovery"
               : name + " stops the PostgreSQL server: an outage for everything that uses it");
      return;
    }
    if (arg.text == "restart") {
      Emit(ctx, "service.stop", "postgres", Reversibility::kRecoverable,
           immediate ? Severity::kMedium : Severity::kLow,
           immediate ? name + " restart -m immediate aborts the server, then crash recovery"
                     : name + " restarts a PostgreSQL server; data is kept");
      return;
    }
  }
}

void HandlePgResetwal(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  if (HasShortFlag(args, 'n') || HasLongFlag(args, "--dry-run") || HasLongFlag(args, "--help") ||
      HasShortFlag(args, 'V'))
    return;
  Emit(ctx, "db.corrupt", "postgres", Reversibility::kIrreversible, Severity::kHigh,
       std::string(inv.name()) + " throws away the write-ahead log and can lose committed data");
}

void HandlePgArchivecleanup(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  if (HasShortFlag(args, 'n')) return;  // -n only prints what would go
  std::vector<Arg> operands = Operands(args, {"-x"});
  Emit(ctx, "backup.delete", operands.empty() ? std::string() : operands[0].text,
       Reversibility::kIrreversible, Severity::kHigh,
       "pg_archivecleanup removes archived WAL files needed for point-in-time recovery");
}

}  // namespace dualkey::shell::dbcli
