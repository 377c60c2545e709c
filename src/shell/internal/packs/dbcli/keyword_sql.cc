// ClickHouse and CQL (cqlsh): a keyword scan for the dialects the PostgreSQL
// grammar does not take.

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/dbcli/dbcli.h"

namespace dualkey::shell::dbcli {

// ===================================================== ClickHouse and CQL

// A keyword scan for dialects the PostgreSQL grammar does not take. It splits
// statements on `;` outside strings and comments and judges each by its
// leading keywords; anything unrecognised is opaque.
struct SqlToken {
  std::string_view text;
  bool word = false;
};

std::vector<std::vector<SqlToken>> SplitStatements(std::string_view sql) {
  std::vector<std::vector<SqlToken>> statements(1);
  std::size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    if (IsSpace(c)) {
      ++i;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      i = sql.find('\n', i);
      if (i == std::string_view::npos) i = sql.size();
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      i = sql.find("*/", i + 2);
      i = i == std::string_view::npos ? sql.size() : i + 2;
    } else if (c == '\'' || c == '"' || c == '`') {
      std::size_t start = i++;
      while (i < sql.size() && sql[i] != c) {
        if (sql[i] == '\\') ++i;
        ++i;
      }
      i = std::min(i + 1, sql.size());
      statements.back().push_back({sql.substr(start, i - start), false});
    } else if (c == ';') {
      if (!statements.back().empty()) statements.emplace_back();
      ++i;
    } else if (IsIdentChar(c) || c == '.') {
      std::size_t start = i;
      while (i < sql.size() && (IsIdentChar(sql[i]) || sql[i] == '.')) ++i;
      statements.back().push_back({sql.substr(start, i - start), true});
    } else {
      statements.back().push_back({sql.substr(i, 1), false});
      ++i;
    }
  }
  if (statements.back().empty()) statements.pop_back();
  return statements;
}

bool Kw(const std::vector<SqlToken>& s, std::size_t i, std::string_view keyword) {
  return i < s.size() && s[i].word && IEquals(s[i].text, keyword);
}

std::size_t FindKw(const std::vector<SqlToken>& s, std::string_view keyword, std::size_t from = 0) {
  for (std::size_t i = from; i < s.size(); ++i)
    if (Kw(s, i, keyword)) return i;
  return s.size();
}

// `WHERE 1`, `WHERE true`, `WHERE 1=1`: a condition that matches every row.
bool TrivialCondition(const std::vector<SqlToken>& s, std::size_t where) {
  std::size_t n = s.size() - where - 1;
  if (n == 1) return s[where + 1].text == "1" || IEquals(s[where + 1].text, "true");
  if (n == 3 && s[where + 2].text == "=") return s[where + 1].text == s[where + 3].text;
  return n == 0;
}

void ClassifyKeywordSql(std::string_view sql, std::string_view engine, std::string_view target,
                        Context& ctx) {
  static constexpr std::string_view kReads[] = {
      "select", "show",  "describe",    "desc",    "explain", "exists", "with",  "use",
      "set",    "check", "consistency", "tracing", "paging",  "expand", "help",  "exit",
      "quit",   "login", "serial",      "clear",   "cls",     "list",   "watch", "values"};
  static constexpr std::string_view kWrites[] = {
      "insert", "create",   "update",  "optimize", "system", "detach", "attach",
      "rename", "exchange", "kill",    "grant",    "revoke", "begin",  "apply",
      "move",   "backup",   "restore", "capture",  "copy"};
  const std::string engine_name(engine);
  for (std::vector<SqlToken>& statement : SplitStatements(sql)) {
    std::size_t head = 0;
    // CQL batches: BEGIN [UNLOGGED|COUNTER] BATCH <statement>.
    if (Kw(statement, 0, "begin")) {
      head = FindKw(statement, "batch") + 1;
      if (head > statement.size()) head = statement.size();
      if (head == statement.size()) continue;
    }
    if (Kw(statement, head, "apply") && Kw(statement, head + 1, "batch")) continue;
    if (head >= statement.size()) continue;
    const SqlToken& first = statement[head];
    if (!first.word) {
      EmitOpaqueSql(ctx, target, engine_name + " statement not understood");
      continue;
    }
    if (Kw(statement, head, "drop")) {
      const bool data =
          Kw(statement, head + 1, "table") || Kw(statement, head + 1, "database") ||
          Kw(statement, head + 1, "keyspace") || Kw(statement, head + 1, "schema") ||
          Kw(statement, head + 1, "dictionary") || Kw(statement, head + 1, "columnfamily") ||
          Kw(statement, head + 1, "materialized") || Kw(statement, head + 1, "temporary");
      Emit(ctx, data ? "db.drop" : "db.schema.drop", target, Reversibility::kIrreversible,
           data ? Severity::kHigh : Severity::kMedium,
           engine_name + " DROP removes " + (data ? "stored data" : "a schema object"));
    } else if (Kw(statement, head, "truncate")) {
      Emit(ctx, "db.truncate", target, Reversibility::kIrreversible, Severity::kHigh,
           engine_name + " TRUNCATE deletes every row of the table");
    } else if (Kw(statement, head, "delete")) {
      std::size_t where = FindKw(statement, "where", head);
      if (where == statement.size() || TrivialCondition(statement, where))
        Emit(ctx, "db.delete.unbounded", target, Reversibility::kIrreversible, Severity::kHigh,
             engine_name + " DELETE without a real WHERE deletes every row");
      else
        Emit(ctx, "db.delete", target, Reversibility::kIrreversible, Severity::kLow,
             engine_name + " DELETE with a WHERE clause");
    } else if (Kw(statement, head, "alter")) {
      std::size_t del = FindKw(statement, "delete", head);
      std::size_t drop = FindKw(statement, "drop", head);
      std::size_t clear = FindKw(statement, "clear", head);
      if (del < statement.size()) {
        std::size_t where = FindKw(statement, "where", del);
        if (where == statement.size() || TrivialCondition(statement, where))
          Emit(ctx, "db.delete.unbounded", target, Reversibility::kIrreversible, Severity::kHigh,
               engine_name + " ALTER ... DELETE matching every row");
        else
          Emit(ctx, "db.delete", target, Reversibility::kIrreversible, Severity::kLow,
               engine_name + " ALTER ... DELETE with a WHERE clause");
      } else if (drop < statement.size() || clear < statement.size()) {
        Emit(ctx, "db.drop.partial", target, Reversibility::kIrreversible, Severity::kMedium,
             engine_name + " ALTER drops a column, partition or part with its data");
      } else {
        Emit(ctx, "db.schema.change", target, Reversibility::kRecoverable, Severity::kLow,
             engine_name + " ALTER changes the schema without dropping data");
      }
    } else if (Kw(statement, head, "source")) {
      EmitOpaqueSql(ctx, target, engine_name + " SOURCE runs statements from a file");
    } else {
      std::string keyword;
      for (char c : first.text) keyword.push_back(Lower(c));
      if (InList(kReads, keyword)) {
        EmitRead(ctx, target, engine_name + " " + keyword + " only reads");
      } else if (InList(kWrites, keyword)) {
        Emit(ctx, "db.write", target, Reversibility::kRecoverable, Severity::kLow,
             engine_name + " " + keyword + " adds or changes data without deleting it");
      } else {
        EmitOpaqueSql(ctx, target, engine_name + " statement not understood: " + keyword);
      }
    }
  }
}

constexpr std::string_view kClickhouseLong[] = {
    "--query",    "--host",         "--port",        "--user",        "--password",
    "--database", "--queries-file", "--format",      "--config-file", "--config",
    "--param",    "--max_threads",  "--secure-port", "--connection",  "--multiquery-file"};
constexpr OptionSpec kClickhouseSpec{"qhpudfC", "", kClickhouseLong};

void HandleClickhouseArgs(const Invocation& inv, std::span<const Arg> args, Context& ctx) {
  std::vector<Word> words = Walk(args, kClickhouseSpec);
  std::string target = "clickhouse:" + std::string(OptValue(words, "-h", "--host"));
  if (std::string_view db = OptValue(words, "-d", "--database"); !db.empty())
    target += "/" + std::string(db);
  bool ran = false;
  for (const Word& word : words) {
    if (!word.has_value) continue;
    if (IsOpt(word, "-q", "--query")) {
      ran = true;
      ClassifyKeywordSql(word.value, "ClickHouse", target, ctx);
    } else if (IsOpt(word, "", "--queries-file")) {
      ran = true;
      EmitOpaqueSql(ctx, target, "clickhouse runs the queries in a file, which cannot be seen");
    }
  }
  if (ran) return;
  std::string text;
  StdinSource source = ClientStdin(inv, &text);
  if (source == StdinSource::kText) {
    ClassifyKeywordSql(text, "ClickHouse", target, ctx);
    return;
  }
  if (source != StdinSource::kNone) {
    // INSERT ... FORMAT CSV with data on stdin is the common case, but the
    // query then comes from -q; without one the statements are on stdin.
    EmitOpaqueSql(ctx, target, "clickhouse runs statements from stdin, which cannot be seen");
    return;
  }
  EmitRead(ctx, target, "clickhouse-client opens an interactive session");
}

void HandleClickhouseClient(const Invocation& inv, Context& ctx) {
  HandleClickhouseArgs(inv, ArgsOf(inv), ctx);
}

// The multi-tool binary: `clickhouse client ...`, `clickhouse local ...`.
void HandleClickhouse(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  if (args.empty()) return;
  if (args[0].text == "client" || args[0].text == "local")
    HandleClickhouseArgs(inv, args.subspan(1), ctx);
}

constexpr std::string_view kCqlshLong[] = {
    "--execute",  "--file",      "--keyspace",        "--username",
    "--password", "--cqlshrc",   "--request-timeout", "--connect-timeout",
    "--encoding", "--cqlversion"};
constexpr OptionSpec kCqlshSpec{"efkup", "", kCqlshLong};

void HandleCqlsh(const Invocation& inv, Context& ctx) {
  std::vector<Word> words = Walk(ArgsOf(inv), kCqlshSpec);
  std::vector<const Word*> operands = OperandsOf(words);
  std::string target = "cassandra:" + (operands.empty() ? std::string("localhost")
                                                        : std::string(operands[0]->value));
  if (std::string_view ks = OptValue(words, "-k", "--keyspace"); !ks.empty())
    target += "/" + std::string(ks);
  bool ran = false;
  for (const Word& word : words) {
    if (!word.has_value) continue;
    if (IsOpt(word, "-e", "--execute")) {
      ran = true;
      ClassifyKeywordSql(word.value, "CQL", target, ctx);
    } else if (IsOpt(word, "-f", "--file")) {
      ran = true;
      EmitOpaqueSql(ctx, target, "cqlsh runs the statements in a file, which cannot be seen");
    }
  }
  if (ran) return;
  std::string text;
  StdinSource source = ClientStdin(inv, &text);
  if (source == StdinSource::kText) {
    ClassifyKeywordSql(text, "CQL", target, ctx);
    return;
  }
  if (source != StdinSource::kNone) {
    EmitOpaqueSql(ctx, target, "cqlsh runs statements from stdin, which cannot be seen");
    return;
  }
  EmitRead(ctx, target, "cqlsh opens an interactive session");
}

}  // namespace dualkey::shell::dbcli
