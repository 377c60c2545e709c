// Entry point of the SQL module: PostgreSQL's grammar first; for MySQL and
// SQLite the text is first re-spelled token by token into PostgreSQL syntax;
// statements the grammar still rejects go to the token-level recogniser, and
// whatever that does not know is held as opaque.sql.
#include "sql/sql.h"

#include <pg_query.h>

#include <exception>
#include <string>

#include "sql/internal/fallback.h"
#include "sql/internal/lexer.h"
#include "sql/internal/postgres.h"
#include "sql/internal/rules.h"

namespace dualkey::sql {
namespace internal {
namespace {

// What a statement PostgreSQL's grammar rejected says about its dialect:
// MySQL's backtick identifiers, DESCRIBE and SHOW INDEX/CREATE TABLE;
// SQLite's PRAGMA and ATTACH. kPostgres when nothing says so.
Dialect GuessDialect(std::span<const Token> statement) {
  if (statement.empty()) return Dialect::kPostgres;
  const Token& first = statement.front();
  for (std::string_view word : {"PRAGMA", "ATTACH", "DETACH"})
    if (IsWord(first, word)) return Dialect::kSqlite;
  for (std::string_view word : {"DESC", "DESCRIBE", "SHOW", "USE", "REPLACE"})
    if (IsWord(first, word)) return Dialect::kMySql;
  for (const Token& token : statement) {
    if (token.kind != TokenKind::kString && token.text.starts_with("`")) return Dialect::kMySql;
    if (IsWord(token, "AUTO_INCREMENT") || IsWord(token, "UNSIGNED") || IsWord(token, "ENGINE"))
      return Dialect::kMySql;
    if (IsWord(token, "AUTOINCREMENT")) return Dialect::kSqlite;
  }
  return Dialect::kPostgres;
}

void ClassifyOtherDialect(std::string_view sql, Dialect dialect, Session& session,
                          std::vector<Action>& out);

// PostgreSQL input the grammar rejects: the database would reject it too,
// but the text may be another dialect sent the wrong way, so fail closed.
// Statements are split with PostgreSQL's lexical rules; each is parsed on its
// own, and each rejected one is held (named by its leading keywords when they
// say what it would destroy).
void ClassifyRejectedPostgres(std::string_view sql, const std::string& parse_error,
                              Session& session, std::vector<Action>& out) {
  std::vector<Token> tokens;
  std::string lex_error;
  if (!Lex(sql, Dialect::kPostgres, &tokens, &lex_error)) {
    out.push_back(Opaque("PostgreSQL rejected the SQL: " + parse_error));
    return;
  }
  for (std::span<const Token> statement : SplitStatements(tokens)) {
    std::string error;
    if (ClassifyPostgres(SourceText(statement), session, out, &error)) continue;
    // MySQL or SQLite sent without a hint: read it as that dialect, which
    // fails closed on its own for what it does not know.
    if (Dialect dialect = GuessDialect(statement); dialect != Dialect::kPostgres) {
      ClassifyOtherDialect(SourceText(statement), dialect, session, out);
      continue;
    }
    std::vector<Action> guessed;
    ClassifyTokens(statement, Dialect::kPostgres, session, guessed);
    bool any_destructive = false;
    for (Action& action : guessed) {
      if (!IsDestructive(action)) continue;
      any_destructive = true;
      action.reason += " (PostgreSQL's grammar rejected it: " + error + ")";
      out.push_back(std::move(action));
    }
    if (!any_destructive) out.push_back(Opaque("PostgreSQL rejected the statement: " + error));
  }
}

void ClassifyOtherDialect(std::string_view sql, Dialect dialect, Session& session,
                          std::vector<Action>& out) {
  std::vector<Token> tokens;
  std::string lex_error;
  if (!Lex(sql, dialect, &tokens, &lex_error)) {
    out.push_back(Opaque("the SQL could not be tokenized: " + lex_error));
    return;
  }
  std::string error;
  if (ClassifyPostgres(ToPostgresText(tokens, dialect), session, out, &error)) return;
  for (std::span<const Token> statement : SplitStatements(tokens)) {
    if (IsWord(statement.front(), "DELIMITER")) {
      out.push_back(Opaque("the client DELIMITER command changes how the rest is split"));
      return;
    }
    if (ClassifyPostgres(ToPostgresText(statement, dialect), session, out, &error)) continue;
    ClassifyTokens(statement, dialect, session, out);
  }
}

}  // namespace

void ClassifyText(std::string_view sql, Dialect dialect, Session& session,
                  std::vector<Action>& out) {
  if (session.depth >= kMaxNesting) {
    out.push_back(Opaque("SQL nested too deeply (EXECUTE inside EXECUTE ...)"));
    return;
  }
  if (sql.size() > session.options.max_bytes) {
    out.push_back(Opaque("SQL of " + std::to_string(sql.size()) + " bytes exceeds the " +
                         std::to_string(session.options.max_bytes) + "-byte limit"));
    return;
  }
  if (sql.find('\0') != std::string_view::npos) {
    out.push_back(Opaque("SQL contains a NUL byte, which hides what follows from a C parser"));
    return;
  }
  ++session.depth;
  if (dialect == Dialect::kPostgres) {
    std::string error;
    if (!ClassifyPostgres(sql, session, out, &error)) {
      ClassifyRejectedPostgres(sql, error, session, out);
    }
  } else {
    ClassifyOtherDialect(sql, dialect, session, out);
  }
  --session.depth;
}

}  // namespace internal

std::vector<Action> Classify(std::string_view sql, const Options& options) {
  std::vector<Action> actions;
  try {
    internal::Session session(options);
    internal::ClassifyText(sql, options.dialect, session, actions);
  } catch (const std::exception& error) {
    actions.clear();
    actions.push_back(
        internal::Opaque(std::string("internal error while classifying SQL: ") + error.what()));
  } catch (...) {
    actions.clear();
    actions.push_back(internal::Opaque("internal error while classifying SQL"));
  }
  if (actions.empty()) {
    actions.push_back(internal::MakeAction("read.only", Severity::kNone, Reversibility::kReversible,
                                           {}, "no statement (empty or only comments)"));
  }
  if (!options.database.empty()) {
    for (Action& action : actions)
      action.targets.push_back("database:" + std::string(options.database));
  }
  return actions;
}

bool ParsesAsPostgres(std::string_view text) {
  if (text.size() > (1u << 20)) return false;
  std::string copy(text);  // libpg_query wants a NUL-terminated string
  PgQueryParseResult result = pg_query_parse(copy.c_str());
  const bool ok = result.error == nullptr;
  pg_query_free_parse_result(result);
  return ok;
}

}  // namespace dualkey::sql
