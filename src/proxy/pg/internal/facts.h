// Catalog facts behind the proxy's blast radius: does the object a DROP
// names exist, is the table a whole-table write empties already empty,
// what a small snapshot must save and how its rows go back. Only the SQL
// and the reading of its answers live here; the session runs the checks on
// its own connection (session_facts.cc), wrapped so that they change
// nothing: inside the client's transaction a savepoint rolled back, outside
// it a read-only transaction rolled back, with a statement and lock timeout
// so a check never waits long.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/pg/internal/own_query.h"

namespace dualkey::pgproxy {

struct WrappedChecks {
  std::string sql;           // one simple-query message, a statement a line
  std::size_t first = 0;     // index of the first check's answer in the results
  std::size_t expected = 0;  // answers in all when every statement ran
  std::string cleanup;       // to send when the checks failed part way
};

// `status`: the session's transaction status ('I' outside a transaction,
// 'T' inside one). Checks are statements with one answer each.
WrappedChecks WrapChecks(const std::vector<std::string>& checks, char status,
                         int statement_timeout_ms, int lock_timeout_ms);

// What a whole-table DELETE, UPDATE or TRUNCATE does besides its rows.
enum class Event { kDelete, kUpdate, kTruncate };

// One table a statement writes, as the catalog describes it.
struct TableFacts {
  bool exists = false;
  std::string schema, name;            // resolved
  char relkind = 0;                    // 'r' table, 'p' partitioned, 'v' view, 'f' foreign ...
  bool has_children = false;           // inheritance children of a plain table
  long long statement_triggers = 0;    // for the event: fire even on an empty table
  long long row_triggers = 0;          // for the event: fire per row
  long long rules = 0;                 // rewrite rules on the table
  long long cascading_references = 0;  // foreign keys that change other tables
  std::vector<std::string> columns;    // stored (not generated) columns, in order
  std::vector<std::string> key;        // primary key columns
  std::string Qualified() const;       // "schema"."name"
  std::string ColumnList() const;      // "a", "b" (quoted)
};

// One statement answering one row about the table `name` (as written in the
// client's statement, so resolved by its search_path); no row when it does
// not exist.
std::string DescribeTableQuery(std::string_view name, Event event, int server_version);
// Reads DescribeTableQuery's answer; nullopt (and `error`) when malformed.
std::optional<TableFacts> ReadTableFacts(const OwnQueryResult::Statement& answer,
                                         std::string* error);

// One statement answering one boolean: does the object a DROP of `kind`
// names exist? Empty when this kind of object is not looked up.
std::string ObjectExistsQuery(std::string_view drop_kind, std::string_view object);

// The answer of a one-boolean statement; nullopt when it is not one.
std::optional<bool> ReadBoolean(const OwnQueryResult::Statement& answer);

// The line an objects.txt carries for one table's rows in a snapshot: how
// `dualkey vault restore` puts them back. "insert": re-insert the rows
// (DELETE, TRUNCATE, DROP); "update": write the saved values back over the
// rows with the same key (UPDATE).
struct RestoreEntry {
  std::string schema, table, part, mode = "insert";
  std::vector<std::string> columns;  // empty: every column, in order
  std::vector<std::string> key;      // for "update"
};
std::string RestoreEntryLine(const RestoreEntry& entry);
// Reads one line: the JSON form, or the older "-- schema.table -> part".
std::optional<RestoreEntry> ParseRestoreEntry(std::string_view line);
// The psql script that puts one table's saved rows back; `rows_file` is
// read in between (the caller streams it): returns the text before and
// after the rows.
std::pair<std::string, std::string> RestoreScript(const RestoreEntry& entry, int index);

}  // namespace dualkey::pgproxy
