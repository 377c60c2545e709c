// The PostgreSQL classifier's parts below the statements: one libpg_query
// parse and its tree (ParsedSql), names in the tree, constants and the folding
// of WHERE clauses and of computed SQL text (pg_fold.cc), and the text
// helpers the statements share (pg_tree.cc). postgres.cc and pg_plpgsql.cc
// (the Classifier, pg_classifier.h) build on them.
#pragma once

#include <pg_query.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sql/internal/json_tree.h"

namespace dualkey::sql::internal {

// Deeper trees than this are held rather than walked (stack safety).
inline constexpr int kMaxWalkDepth = 1500;

// Owns one libpg_query parse and the JSON tree over its output.
class ParsedSql {
 public:
  explicit ParsedSql(const std::string& text) : result_(pg_query_parse(text.c_str())) {
    if (result_.error == nullptr && result_.parse_tree != nullptr) {
      tree_ok_ = tree_.Parse(result_.parse_tree);
    }
  }
  ~ParsedSql() { pg_query_free_parse_result(result_); }
  ParsedSql(const ParsedSql&) = delete;
  ParsedSql& operator=(const ParsedSql&) = delete;

  bool parsed() const { return result_.error == nullptr; }
  bool tree_ok() const { return tree_ok_; }
  std::string error() const {
    if (result_.error == nullptr) return {};
    std::string message = result_.error->message ? result_.error->message : "parse error";
    if (result_.error->cursorpos > 0) {
      message += " (at character " + std::to_string(result_.error->cursorpos) + ")";
    }
    return message;
  }
  JsonNode statements() const { return tree_.root()["stmts"]; }

 private:
  PgQueryParseResult result_;
  JsonTree tree_;
  bool tree_ok_ = false;
};

// ---- Names ------------------------------------------------------------------

std::string StringValue(JsonNode wrapper);  // {"String": {"sval": "x"}}
std::string JoinNames(JsonNode list);
std::string LastName(JsonNode list);
std::string RangeVarName(JsonNode range_var);  // an unwrapped RangeVar
// The name of an object in a DROP/GRANT list, whatever its node type.
std::string ObjectName(JsonNode wrapper);
std::string_view UnqualifiedName(std::string_view name);

// ---- Constants and WHERE folding (pg_fold.cc) --------------------------------

struct Constant {
  enum class Kind { kNumber, kString, kBool, kNull } kind = Kind::kNull;
  std::string text;
  double number = 0;
  bool boolean = false;
};

enum class Truth { kFalse, kTrue, kUnknown };

// The items of an IN or BETWEEN list: libpg_query writes them as
// {"List": {"items": [...]}} (older versions as a bare array).
JsonNode ListItems(JsonNode node);
// The operator of an A_Expr: "=", "<", "~~"...
std::string OperatorName(JsonNode a_expr_body);

std::optional<Constant> ConstantOf(JsonNode wrapper);
// PostgreSQL's spellings of a boolean in a string literal.
Truth BoolLiteral(std::string_view text);
Truth ConstantTruth(const Constant& value);
// Does the expression read the row (a column, the cursor position)?
bool ReadsRow(JsonNode node, int depth = 0);
// Does the condition select every row of `table`? Sets `why` when it does.
bool MatchesAllRows(JsonNode where, std::string_view table, std::string* why, int depth = 0);

// ---- Constant strings, for EXECUTE / dblink arguments (pg_fold.cc) -----------

std::string QuoteIdent(std::string_view name);
std::string QuoteLiteral(std::string_view value);
// A constant string expression folded to its value, or nullopt.
std::optional<std::string> FoldString(JsonNode wrapper, int depth = 0);
// Folds a PL/pgSQL expression text ("'DROP TABLE ' || 'x'") to a string.
std::optional<std::string> FoldExpressionText(std::string_view expression);

// ---- Text the statements share (pg_tree.cc) -------------------------------------

bool IsOneOf(std::string_view value, std::initializer_list<std::string_view> options);
std::string Quoted(std::string_view text, std::size_t limit = 80);
std::string JoinTargets(const std::vector<std::string>& targets);

// `SELECT set_config(name, ..., false) FROM pg_settings WHERE name = 'x'`
// (pg_dump's start-up): the setting that set_config receives is pinned by
// the query's own WHERE on pg_settings.name. Only the select list is
// evaluated after the WHERE has filtered the rows, so only there is the pin
// a fact.
struct SettingsPin {
  bool active = false;
  std::vector<std::string> qualifiers;  // how `name` may be qualified: "", the relation, its alias
  std::vector<std::string> names;       // the settings the WHERE lets through
};

bool NameColumn(JsonNode wrapper, const SettingsPin& pin);
SettingsPin PinnedSettings(JsonNode select);

}  // namespace dualkey::sql::internal
