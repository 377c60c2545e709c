// The shape of a PostgreSQL statement beyond its verdict, for whoever must
// act on it before it runs (the PostgreSQL proxy's row estimates and vault
// snapshots): which statements of a message delete, update, truncate or
// drop, what they name, and the WHERE clause that selects the rows. Read
// with the SQL module's PostgreSQL lexer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dualkey::sql {

struct StatementShape {
  enum class Kind {
    kOther,
    kDelete,
    kUpdate,
    kTruncate,
    kDropTable,
    kDropDatabase,
    kDropOther,  // DROP of another kind of object (drop_kind says which)
  } kind = Kind::kOther;
  std::string text;                  // the statement alone
  std::vector<std::string> objects;  // names as written ("public.orders", "\"Odd\"");
                                     // DROP FUNCTION: with its argument list
  std::string alias;                 // DELETE/UPDATE target alias, if any
  std::string where;                 // DELETE/UPDATE: the condition, empty when none
  // DELETE/UPDATE with USING/FROM/WITH/CURRENT OF: rows cannot be selected
  // from the target alone (snapshots then take the whole table).
  bool complex = false;
  bool with = false;            // starts with WITH (its CTEs may change other tables)
  bool has_parameters = false;  // $1 ...
  // DROP: the object kind in upper case ("TABLE", "MATERIALIZED VIEW",
  // "FUNCTION"...), and the options that widen what it reaches.
  std::string drop_kind;
  bool if_exists = false;
  bool cascade = false;           // DROP/TRUNCATE ... CASCADE
  bool restart_identity = false;  // TRUNCATE ... RESTART IDENTITY
  // UPDATE: the columns its SET assigns, as written; empty when they could
  // not be read (treat as "any column").
  std::vector<std::string> set_columns;
  // BEGIN, START TRANSACTION or SAVEPOINT: changes nothing another
  // statement of the same message could see.
  bool opens_transaction = false;
  // The object names were read exactly: each a plain dotted name with
  // nothing between its parts, and nothing unexpected after the list
  // (U&"..." or a comment inside a name would make the proxy's reading and
  // the server's differ). Facts are only taken about names read exactly.
  bool names_exact = false;
  // The WHERE clause calls a function or holds a subquery.
  bool where_calls = false;
};

// A name as written ("Public"."T", sales.orders) as the server reads it:
// unquoted parts folded to lower case, quoted ones decoded, joined by '.'.
// Empty when it is not a plain dotted name. For DROP FUNCTION f(int), the
// argument list is left out.
std::string DecodedName(std::string_view written);

// One entry per statement; empty when the text does not tokenize.
std::vector<StatementShape> AnalyseStatements(std::string_view sql);

// 'text' as an SQL string literal (standard_conforming_strings-proof: E'' with
// backslashes and quotes escaped).
std::string SqlLiteral(std::string_view text);
// "name" as an identifier.
std::string SqlIdentifier(std::string_view name);

}  // namespace dualkey::sql
