// What the proxy needs to know about a statement beyond its verdict: which
// statements of a message delete, update, truncate or drop, what they name,
// and the WHERE clause that selects the rows (for estimates and snapshots).
// The SQL module's PostgreSQL lexer does the tokenizing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dualkey::pgproxy {

struct StatementShape {
  enum class Kind {
    kOther,
    kDelete,
    kUpdate,
    kTruncate,
    kDropTable,
    kDropDatabase
  } kind = Kind::kOther;
  std::string text;                  // the statement alone
  std::vector<std::string> objects;  // names as written ("public.orders", "\"Odd\"")
  std::string alias;                 // DELETE/UPDATE target alias, if any
  std::string where;                 // DELETE/UPDATE: the condition, empty when none
  // DELETE/UPDATE with USING/FROM/WITH/CURRENT OF: rows cannot be selected
  // from the target alone (snapshots then take the whole table).
  bool complex = false;
  bool has_parameters = false;  // $1 ...
};

// One entry per statement; empty when the text does not tokenize.
std::vector<StatementShape> AnalyseStatements(std::string_view sql);

// 'text' as an SQL string literal (standard_conforming_strings-proof: E'' with
// backslashes and quotes escaped).
std::string SqlLiteral(std::string_view text);
// "name" as an identifier.
std::string SqlIdentifier(std::string_view name);

}  // namespace dualkey::pgproxy
