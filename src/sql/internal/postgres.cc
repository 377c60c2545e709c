#include "sql/internal/postgres.h"

#include <pg_query.h>

#include <charconv>
#include <optional>
#include <utility>
#include <vector>

#include "sql/internal/json_tree.h"

namespace dualkey::sql::internal {
namespace {

// Deeper trees than this are held rather than walked (stack safety).
constexpr int kMaxWalkDepth = 1500;

// ---------------------------------------------------------------------------
// Parsing

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

// ---------------------------------------------------------------------------
// Names

std::string StringValue(JsonNode wrapper) {  // {"String": {"sval": "x"}}
  return wrapper["String"]["sval"].str();
}

std::string JoinNames(JsonNode list) {
  std::string out;
  for (JsonNode item : list) {
    std::string part = StringValue(item);
    if (part.empty()) continue;
    if (!out.empty()) out.push_back('.');
    out += part;
  }
  return out;
}

std::string LastName(JsonNode list) {
  std::string last;
  for (JsonNode item : list) {
    std::string part = StringValue(item);
    if (!part.empty()) last = std::move(part);
  }
  return last;
}

std::string RangeVarName(JsonNode range_var) {  // an unwrapped RangeVar
  std::string out;
  for (std::string_view key : {"catalogname", "schemaname", "relname"}) {
    std::string part = range_var[key].str();
    if (part.empty()) continue;
    if (!out.empty()) out.push_back('.');
    out += part;
  }
  return out;
}

// The name of an object in a DROP/GRANT list, whatever its node type.
std::string ObjectName(JsonNode wrapper) {
  std::string_view type = wrapper.node_type();
  JsonNode body = wrapper.node_body();
  if (type == "String") return body["sval"].str();
  if (type == "List") return JoinNames(body["items"]);
  if (type == "ObjectWithArgs") return JoinNames(body["objname"]);
  if (type == "TypeName") return JoinNames(body["names"]);
  if (type == "RangeVar") return RangeVarName(body);
  if (type == "RoleSpec") return body["rolename"].str();
  return std::string(type);
}

std::string_view UnqualifiedName(std::string_view name) {
  auto dot = name.rfind('.');
  return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

// ---------------------------------------------------------------------------
// Constants and WHERE folding

struct Constant {
  enum class Kind { kNumber, kString, kBool, kNull } kind = Kind::kNull;
  std::string text;
  double number = 0;
  bool boolean = false;
};

std::optional<double> ParseNumber(std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<Constant> ConstantOf(JsonNode wrapper) {
  std::string_view type = wrapper.node_type();
  JsonNode body = wrapper.node_body();
  if (type == "TypeCast") return ConstantOf(body["arg"]);
  if (type != "A_Const") return std::nullopt;
  Constant value;
  if (body["isnull"].boolean()) return value;
  if (JsonNode ival = body["ival"]) {
    value.kind = Constant::Kind::kNumber;
    value.number = static_cast<double>(ival["ival"].integer());
    value.text = std::to_string(ival["ival"].integer());
    return value;
  }
  if (JsonNode fval = body["fval"]) {
    value.kind = Constant::Kind::kNumber;
    value.text = fval["fval"].str();
    auto number = ParseNumber(value.text);
    if (!number) return std::nullopt;
    value.number = *number;
    return value;
  }
  if (JsonNode boolval = body["boolval"]) {
    value.kind = Constant::Kind::kBool;
    value.boolean = boolval["boolval"].boolean();
    return value;
  }
  if (JsonNode sval = body["sval"]) {
    value.kind = Constant::Kind::kString;
    value.text = sval["sval"].str();
    return value;
  }
  if (JsonNode bsval = body["bsval"]) {
    value.kind = Constant::Kind::kString;
    value.text = bsval["bsval"].str();
    return value;
  }
  return std::nullopt;
}

// The items of an IN or BETWEEN list: libpg_query writes them as
// {"List": {"items": [...]}} (older versions as a bare array).
JsonNode ListItems(JsonNode node) {
  if (node.is_array()) return node;
  return node["List"]["items"];
}

enum class Truth { kFalse, kTrue, kUnknown };

Truth FromBool(bool value) {
  return value ? Truth::kTrue : Truth::kFalse;
}
Truth Not(Truth truth) {
  if (truth == Truth::kUnknown) return truth;
  return truth == Truth::kTrue ? Truth::kFalse : Truth::kTrue;
}

// PostgreSQL's spellings of a boolean in a string literal.
Truth BoolLiteral(std::string_view text) {
  std::string lower = Lower(text);
  for (std::string_view yes : {"t", "true", "y", "yes", "on", "1"}) {
    if (lower == yes) return Truth::kTrue;
  }
  for (std::string_view no : {"f", "false", "n", "no", "off", "0"}) {
    if (lower == no) return Truth::kFalse;
  }
  return Truth::kUnknown;
}

Truth ConstantTruth(const Constant& value) {
  switch (value.kind) {
    case Constant::Kind::kBool:
      return FromBool(value.boolean);
    case Constant::Kind::kString:
      return BoolLiteral(value.text);
    case Constant::Kind::kNumber:
      return FromBool(value.number != 0);  // 1::boolean
    case Constant::Kind::kNull:
      return Truth::kUnknown;
  }
  return Truth::kUnknown;
}

std::string OperatorName(JsonNode a_expr_body) {
  return LastName(a_expr_body["name"]);
}

// -1, 0, 1, or nullopt when the two constants do not compare.
std::optional<int> Compare(const Constant& a, const Constant& b) {
  using Kind = Constant::Kind;
  if (a.kind == Kind::kNull || b.kind == Kind::kNull) return std::nullopt;
  auto three_way = [](auto x, auto y) { return x < y ? -1 : (y < x ? 1 : 0); };
  if (a.kind == Kind::kBool || b.kind == Kind::kBool) {
    Truth x = ConstantTruth(a);
    Truth y = ConstantTruth(b);
    if (x == Truth::kUnknown || y == Truth::kUnknown) return std::nullopt;
    return three_way(x == Truth::kTrue, y == Truth::kTrue);
  }
  if (a.kind == Kind::kNumber || b.kind == Kind::kNumber) {
    auto x = a.kind == Kind::kNumber ? std::optional<double>(a.number) : ParseNumber(a.text);
    auto y = b.kind == Kind::kNumber ? std::optional<double>(b.number) : ParseNumber(b.text);
    if (!x || !y) return std::nullopt;
    return three_way(*x, *y);
  }
  return three_way(a.text, b.text);
}

Truth ApplyComparison(std::string_view op, int order) {
  if (op == "=") return FromBool(order == 0);
  if (op == "<>" || op == "!=") return FromBool(order != 0);
  if (op == "<") return FromBool(order < 0);
  if (op == ">") return FromBool(order > 0);
  if (op == "<=") return FromBool(order <= 0);
  if (op == ">=") return FromBool(order >= 0);
  return Truth::kUnknown;
}

// Does the expression read the row (a column, the cursor position)?
bool ReadsRow(JsonNode node, int depth = 0) {
  if (depth > kMaxWalkDepth) return true;
  for (JsonNode child : node) {
    std::string_view key = child.key();
    if (key == "ColumnRef" || key == "CurrentOfExpr") return true;
    if ((child.is_object() || child.is_array()) && ReadsRow(child, depth + 1)) return true;
  }
  return false;
}

// Only the columns named "id" are taken to be never NULL: it is how nearly
// every schema spells its primary key, and `id IS NOT NULL` then means all.
bool IsPrimaryKeyColumn(JsonNode wrapper) {
  return wrapper.node_type() == "ColumnRef" && LastName(wrapper.node_body()["fields"]) == "id";
}

Truth Fold(JsonNode wrapper, int depth = 0);

Truth FoldAExpr(JsonNode body, int depth) {
  std::string_view kind = body["kind"].raw();
  std::string op = OperatorName(body);
  JsonNode left = body["lexpr"];
  JsonNode right = body["rexpr"];
  if (kind == "AEXPR_OP") {
    auto a = ConstantOf(left);
    auto b = ConstantOf(right);
    if (a && b) {
      auto order = Compare(*a, *b);
      return order ? ApplyComparison(op, *order) : Truth::kUnknown;
    }
    // Keys named id are positive: `id > 0` is the classic way around MySQL's
    // safe-update mode to delete everything.
    auto covers_positive_keys = [](std::string_view comparison, double bound) {
      return (comparison == ">" && bound <= 0) || (comparison == ">=" && bound <= 1) ||
             ((comparison == "<>" || comparison == "!=") && bound <= 0);
    };
    if (IsPrimaryKeyColumn(left) && b && b->kind == Constant::Kind::kNumber &&
        covers_positive_keys(op, b->number))
      return Truth::kTrue;
    if (IsPrimaryKeyColumn(right) && a && a->kind == Constant::Kind::kNumber) {
      std::string_view flipped = op == "<" ? ">" : op == "<=" ? ">=" : std::string_view(op);
      if (covers_positive_keys(flipped, a->number)) return Truth::kTrue;
    }
    // x = x holds for every row where x is not NULL.
    if (left.valid() && right.valid() && left.SameAs(right)) {
      if (op == "=" || op == "<=" || op == ">=") return Truth::kTrue;
      if (op == "<>" || op == "!=" || op == "<" || op == ">") return Truth::kFalse;
    }
    return Truth::kUnknown;
  }
  if (kind == "AEXPR_DISTINCT" || kind == "AEXPR_NOT_DISTINCT") {
    bool distinct = kind == "AEXPR_DISTINCT";
    auto a = ConstantOf(left);
    auto b = ConstantOf(right);
    if (a && b) {
      bool a_null = a->kind == Constant::Kind::kNull;
      bool b_null = b->kind == Constant::Kind::kNull;
      bool same;
      if (a_null || b_null) {
        same = a_null && b_null;
      } else {
        auto order = Compare(*a, *b);
        if (!order) return Truth::kUnknown;
        same = *order == 0;
      }
      return FromBool(distinct ? !same : same);
    }
    if (left.valid() && left.SameAs(right)) return FromBool(!distinct);
    return Truth::kUnknown;
  }
  if (kind == "AEXPR_IN") {
    auto a = ConstantOf(left);
    right = ListItems(right);
    if (!a || !right.is_array()) return Truth::kUnknown;
    bool any_equal = false;
    for (JsonNode item : right) {
      auto b = ConstantOf(item);
      if (!b) return Truth::kUnknown;
      auto order = Compare(*a, *b);
      if (!order) return Truth::kUnknown;
      any_equal = any_equal || *order == 0;
    }
    return op == "=" ? FromBool(any_equal) : FromBool(!any_equal);
  }
  if (kind == "AEXPR_LIKE" || kind == "AEXPR_ILIKE") {
    auto pattern = ConstantOf(right);
    if (!pattern || pattern->kind != Constant::Kind::kString || pattern->text.empty())
      return Truth::kUnknown;
    // A pattern of only '%' matches every non-NULL string.
    if (pattern->text.find_first_not_of('%') != std::string::npos) return Truth::kUnknown;
    bool negated = op.starts_with("!");
    return negated ? Truth::kFalse : Truth::kTrue;
  }
  if (kind == "AEXPR_BETWEEN" || kind == "AEXPR_NOT_BETWEEN") {
    auto a = ConstantOf(left);
    right = ListItems(right);
    if (!a || !right.is_array()) return Truth::kUnknown;
    JsonNode low_node = right.first_child();
    auto low = ConstantOf(low_node);
    auto high = ConstantOf(low_node.next_sibling());
    if (!low || !high) return Truth::kUnknown;
    auto lo = Compare(*a, *low);
    auto hi = Compare(*a, *high);
    if (!lo || !hi) return Truth::kUnknown;
    bool inside = *lo >= 0 && *hi <= 0;
    return FromBool(kind == "AEXPR_BETWEEN" ? inside : !inside);
  }
  (void)depth;
  return Truth::kUnknown;
}

bool Complementary(JsonNode a, JsonNode b);

Truth Fold(JsonNode wrapper, int depth) {
  if (depth > kMaxWalkDepth) return Truth::kUnknown;
  std::string_view type = wrapper.node_type();
  JsonNode body = wrapper.node_body();
  if (type == "A_Const" || type == "TypeCast") {
    auto value = ConstantOf(wrapper);
    return value ? ConstantTruth(*value) : Truth::kUnknown;
  }
  if (type == "BoolExpr") {
    std::string_view op = body["boolop"].raw();
    JsonNode args = body["args"];
    if (op == "NOT_EXPR") return Not(Fold(args.first_child(), depth + 1));
    const bool is_and = op == "AND_EXPR";
    bool all_decisive = true;
    for (JsonNode arg : args) {
      Truth truth = Fold(arg, depth + 1);
      if (truth == (is_and ? Truth::kFalse : Truth::kTrue)) return truth;
      if (truth == Truth::kUnknown) all_decisive = false;
    }
    if (all_decisive) return is_and ? Truth::kTrue : Truth::kFalse;
    if (!is_and) {
      for (JsonNode x : args) {
        for (JsonNode y = x.next_sibling(); y.valid(); y = y.next_sibling()) {
          if (Complementary(x, y)) return Truth::kTrue;
        }
      }
    }
    return Truth::kUnknown;
  }
  if (type == "A_Expr") return FoldAExpr(body, depth);
  if (type == "NullTest") {
    JsonNode arg = body["arg"];
    bool is_null_test = body["nulltesttype"].raw() == "IS_NULL";
    if (auto value = ConstantOf(arg)) {
      bool is_null = value->kind == Constant::Kind::kNull;
      return FromBool(is_null_test ? is_null : !is_null);
    }
    if (IsPrimaryKeyColumn(arg)) return FromBool(!is_null_test);
    return Truth::kUnknown;
  }
  if (type == "BooleanTest") {
    Truth arg = Fold(body["arg"], depth + 1);
    std::string_view test = body["booltesttype"].raw();
    if (arg == Truth::kUnknown) return Truth::kUnknown;
    bool value = arg == Truth::kTrue;
    if (test == "IS_TRUE" || test == "IS_NOT_FALSE") return FromBool(value);
    if (test == "IS_FALSE" || test == "IS_NOT_TRUE") return FromBool(!value);
    if (test == "IS_UNKNOWN") return Truth::kFalse;
    if (test == "IS_NOT_UNKNOWN") return Truth::kTrue;
  }
  return Truth::kUnknown;
}

// `p OR NOT p`, `x IS NULL OR x IS NOT NULL`, `x = v OR x <> v`: together
// the two cover every row.
bool Complementary(JsonNode a, JsonNode b) {
  std::string_view type_a = a.node_type();
  std::string_view type_b = b.node_type();
  JsonNode body_a = a.node_body();
  JsonNode body_b = b.node_body();
  auto is_not_of = [](JsonNode not_expr, JsonNode other) {
    JsonNode body = not_expr.node_body();
    return not_expr.node_type() == "BoolExpr" && body["boolop"].raw() == "NOT_EXPR" &&
           body["args"].first_child().SameAs(other);
  };
  if (is_not_of(a, b) || is_not_of(b, a)) return true;
  if (type_a == "NullTest" && type_b == "NullTest") {
    return body_a["nulltesttype"].raw() != body_b["nulltesttype"].raw() &&
           body_a["arg"].SameAs(body_b["arg"]);
  }
  if (type_a == "BooleanTest" && type_b == "BooleanTest") {
    std::string_view x = body_a["booltesttype"].raw();
    std::string_view y = body_b["booltesttype"].raw();
    bool pair = (x == "IS_TRUE" && y == "IS_NOT_TRUE") || (x == "IS_NOT_TRUE" && y == "IS_TRUE") ||
                (x == "IS_FALSE" && y == "IS_NOT_FALSE") ||
                (x == "IS_NOT_FALSE" && y == "IS_FALSE");
    return pair && body_a["arg"].SameAs(body_b["arg"]);
  }
  if (type_a == "A_Expr" && type_b == "A_Expr" && body_a["kind"].raw() == "AEXPR_OP" &&
      body_b["kind"].raw() == "AEXPR_OP" && body_a["lexpr"].SameAs(body_b["lexpr"]) &&
      body_a["rexpr"].SameAs(body_b["rexpr"])) {
    std::string x = OperatorName(body_a);
    std::string y = OperatorName(body_b);
    auto ne = [](std::string_view op) { return op == "<>" || op == "!="; };
    return (x == "=" && ne(y)) || (ne(x) && y == "=") || (x == "<" && y == ">=") ||
           (x == ">=" && y == "<") || (x == ">" && y == "<=") || (x == "<=" && y == ">");
  }
  return false;
}

// A subquery with no filter of its own: it yields the same rows for every
// row of the outer table.
bool UnfilteredSelect(JsonNode select_wrapper) {
  if (select_wrapper.node_type() != "SelectStmt") return false;
  JsonNode body = select_wrapper.node_body();
  return !body["whereClause"] && !body["havingClause"] && !body["limitCount"] &&
         !body["groupClause"] && !body["limitOffset"] && !body["valuesLists"];
}

// Does the condition select every row of `table`? Sets `why` when it does.
bool MatchesAllRows(JsonNode where, std::string_view table, std::string* why, int depth = 0) {
  if (depth > kMaxWalkDepth) {
    *why = "the WHERE clause is too deeply nested to judge";
    return true;
  }
  Truth truth = Fold(where);
  if (truth == Truth::kTrue) {
    *why = "its WHERE clause is always true";
    return true;
  }
  if (truth == Truth::kFalse) return false;
  std::string_view type = where.node_type();
  JsonNode body = where.node_body();
  if (type == "BoolExpr") {
    std::string_view op = body["boolop"].raw();
    if (op == "OR_EXPR") {
      for (JsonNode arg : body["args"]) {
        if (MatchesAllRows(arg, table, why, depth + 1)) return true;
      }
      return false;
    }
    if (op == "AND_EXPR") {
      for (JsonNode arg : body["args"]) {
        if (!MatchesAllRows(arg, table, why, depth + 1)) return false;
      }
      return true;
    }
  }
  if (type == "SubLink") {
    std::string_view kind = body["subLinkType"].raw();
    JsonNode subselect = body["subselect"];
    if (kind == "EXISTS_SUBLINK" && UnfilteredSelect(subselect)) {
      *why = "its WHERE EXISTS subquery has no filter, so it is true for every row";
      return true;
    }
    // col IN (SELECT col FROM <same table>) keeps every row.
    if (kind == "ANY_SUBLINK" && UnfilteredSelect(subselect)) {
      JsonNode select = subselect.node_body();
      JsonNode test = body["testexpr"];
      JsonNode from = select["fromClause"];
      JsonNode target = select["targetList"].first_child();
      JsonNode first_from = from.first_child();
      bool single_from = first_from.valid() && !first_from.next_sibling().valid() &&
                         first_from.node_type() == "RangeVar";
      bool single_target = target.valid() && !target.next_sibling().valid();
      if (single_from && single_target && test.node_type() == "ColumnRef") {
        std::string from_name = RangeVarName(first_from.node_body());
        JsonNode value = target.node_body()["val"];
        if (UnqualifiedName(from_name) == UnqualifiedName(table) &&
            value.node_type() == "ColumnRef" &&
            LastName(value.node_body()["fields"]) == LastName(test.node_body()["fields"])) {
          *why = "its WHERE ... IN (subquery) selects every row of the same table";
          return true;
        }
      }
    }
  }
  if (!ReadsRow(where)) {
    *why = "its WHERE clause does not look at the row, so it selects all rows or none";
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Constant strings, for EXECUTE / dblink arguments

std::optional<std::string> FoldString(JsonNode wrapper, int depth = 0);

std::string QuoteIdent(std::string_view name) {
  bool plain = !name.empty() && !(name[0] >= '0' && name[0] <= '9');
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) plain = false;
  }
  if (plain) return std::string(name);
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string QuoteLiteral(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

// PostgreSQL's format(): %s, %I, %L, %%, with optional n$ positions; flags
// and widths are accepted and ignored (they only pad).
std::optional<std::string> ApplyFormat(std::string_view format,
                                       const std::vector<std::string>& args) {
  std::string out;
  std::size_t next_arg = 0;
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out.push_back(format[i]);
      continue;
    }
    if (++i >= format.size()) return std::nullopt;
    if (format[i] == '%') {
      out.push_back('%');
      continue;
    }
    std::size_t start = i;
    std::size_t number = 0;
    while (i < format.size() && format[i] >= '0' && format[i] <= '9') {
      number = number * 10 + static_cast<std::size_t>(format[i] - '0');
      ++i;
    }
    std::size_t index = next_arg;
    if (i < format.size() && format[i] == '$' && i > start) {
      index = number - 1;
      ++i;
    } else {
      i = start;
    }
    while (i < format.size() && (format[i] == '-' || (format[i] >= '0' && format[i] <= '9'))) ++i;
    if (i >= format.size() || index >= args.size()) return std::nullopt;
    const std::string& arg = args[index];
    next_arg = index + 1;
    switch (format[i]) {
      case 's':
        out += arg;
        break;
      case 'I':
        out += QuoteIdent(arg);
        break;
      case 'L':
        out += QuoteLiteral(arg);
        break;
      default:
        return std::nullopt;
    }
  }
  return out;
}

std::optional<std::string> FoldString(JsonNode wrapper, int depth) {
  if (depth > 64) return std::nullopt;
  std::string_view type = wrapper.node_type();
  JsonNode body = wrapper.node_body();
  if (type == "A_Const" || type == "TypeCast") {
    auto value = ConstantOf(wrapper);
    if (!value) return std::nullopt;
    switch (value->kind) {
      case Constant::Kind::kString:
      case Constant::Kind::kNumber:
        return value->text;
      case Constant::Kind::kBool:
        return std::string(value->boolean ? "true" : "false");
      case Constant::Kind::kNull:
        return std::nullopt;
    }
  }
  if (type == "A_Expr" && body["kind"].raw() == "AEXPR_OP" && OperatorName(body) == "||") {
    auto left = FoldString(body["lexpr"], depth + 1);
    auto right = FoldString(body["rexpr"], depth + 1);
    if (!left || !right) return std::nullopt;
    return *left + *right;
  }
  if (type == "FuncCall") {
    std::string name = LastName(body["funcname"]);
    std::vector<std::string> args;
    for (JsonNode arg : body["args"]) {
      auto value = FoldString(arg, depth + 1);
      if (!value) return std::nullopt;
      args.push_back(std::move(*value));
    }
    if (name == "format" && !args.empty()) {
      std::vector<std::string> rest(args.begin() + 1, args.end());
      return ApplyFormat(args[0], rest);
    }
    if (name == "concat") {
      std::string out;
      for (const auto& arg : args) out += arg;
      return out;
    }
    if (name == "concat_ws" && !args.empty()) {
      std::string out;
      for (std::size_t i = 1; i < args.size(); ++i) {
        if (i > 1) out += args[0];
        out += args[i];
      }
      return out;
    }
    if (name == "quote_ident" && args.size() == 1) return QuoteIdent(args[0]);
    if ((name == "quote_literal" || name == "quote_nullable") && args.size() == 1)
      return QuoteLiteral(args[0]);
    if ((name == "lower" || name == "upper" || name == "btrim" || name == "trim") &&
        args.size() == 1)
      return args[0];  // case does not change what a statement does
  }
  return std::nullopt;
}

// Folds a PL/pgSQL expression text ("'DROP TABLE ' || 'x'") to a string.
std::optional<std::string> FoldExpressionText(std::string_view expression) {
  std::string text = "SELECT ";
  text.append(expression);
  ParsedSql parsed(text);
  if (!parsed.parsed() || !parsed.tree_ok()) return std::nullopt;
  JsonNode stmt = parsed.statements().first_child();
  if (!stmt.valid() || stmt.next_sibling().valid()) return std::nullopt;
  JsonNode select = stmt["stmt"]["SelectStmt"];
  JsonNode targets = select["targetList"];
  JsonNode target = targets.first_child();
  if (!target.valid() || target.next_sibling().valid() || select["fromClause"]) return std::nullopt;
  return FoldString(target["ResTarget"]["val"]);
}

// ---------------------------------------------------------------------------
// Statements

bool IsOneOf(std::string_view value, std::initializer_list<std::string_view> options) {
  for (std::string_view option : options) {
    if (value == option) return true;
  }
  return false;
}

std::string Quoted(std::string_view text, std::size_t limit = 80) {
  std::string out = "\"";
  if (text.size() > limit) {
    out.append(text.substr(0, limit));
    out += "...";
  } else {
    out.append(text);
  }
  out += "\"";
  return out;
}

std::string JoinTargets(const std::vector<std::string>& targets) {
  std::string out;
  for (const auto& target : targets) {
    if (!out.empty()) out += ", ";
    out += target;
  }
  return out;
}

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

bool NameColumn(JsonNode wrapper, const SettingsPin& pin) {
  if (wrapper.node_type() != "ColumnRef") return false;
  std::vector<std::string> parts;
  for (JsonNode field : wrapper.node_body()["fields"]) {
    if (!field["String"]) return false;  // a star
    parts.push_back(StringValue(field));
  }
  if (parts.empty() || parts.back() != "name" || parts.size() > 2) return false;
  const std::string qualifier = parts.size() == 2 ? parts[0] : std::string();
  for (const std::string& allowed : pin.qualifiers)
    if (qualifier == allowed) return true;
  return false;
}

SettingsPin PinnedSettings(JsonNode select) {
  SettingsPin pin;
  JsonNode from = select["fromClause"];
  JsonNode only = from.first_child();
  if (!only.valid() || only.next_sibling().valid() || only.node_type() != "RangeVar") return pin;
  JsonNode relation = only.node_body();
  const std::string schema = relation["schemaname"].str();
  if (relation["relname"].str() != "pg_settings" || (!schema.empty() && schema != "pg_catalog") ||
      relation["catalogname"])
    return pin;
  pin.qualifiers = {"", "pg_settings"};
  if (JsonNode alias = relation["alias"]) pin.qualifiers = {"", alias["aliasname"].str()};
  JsonNode where = select["whereClause"];
  std::vector<JsonNode> conjuncts;
  if (where.node_type() == "BoolExpr" && where.node_body()["boolop"].raw() == "AND_EXPR") {
    for (JsonNode arg : where.node_body()["args"]) conjuncts.push_back(arg);
  } else if (where.valid()) {
    conjuncts.push_back(where);
  }
  for (JsonNode conjunct : conjuncts) {
    if (conjunct.node_type() != "A_Expr") continue;
    JsonNode body = conjunct.node_body();
    std::string_view kind = body["kind"].raw();
    if (OperatorName(body) != "=") continue;
    JsonNode column = body["lexpr"], values = body["rexpr"];
    if (kind == "AEXPR_OP" && !NameColumn(column, pin)) std::swap(column, values);
    if (!NameColumn(column, pin)) continue;
    std::vector<std::string> names;
    bool constant = true;
    auto add = [&](JsonNode value) {
      auto c = ConstantOf(value);
      if (c && c->kind == Constant::Kind::kString) {
        names.push_back(c->text);
      } else {
        constant = false;
      }
    };
    if (kind == "AEXPR_OP") {
      add(values);
    } else if (kind == "AEXPR_IN" && ListItems(values).is_array()) {
      for (JsonNode value : ListItems(values)) add(value);
    } else {
      continue;
    }
    if (!constant || names.empty()) continue;
    pin.active = true;
    pin.names = std::move(names);
    return pin;
  }
  return pin;
}

class Classifier {
 public:
  Classifier(Session& session, std::vector<Action>& out) : session_(session), out_(out) {}

  void TopLevel(JsonNode wrapper, std::string_view text) {
    Statement(wrapper.node_type(), wrapper.node_body(), text);
  }

 private:
  void Emit(Action action) { out_.push_back(std::move(action)); }

  void Statement(std::string_view type, JsonNode body, std::string_view text);
  void Walk(JsonNode node, int depth = 0);
  void FunctionCall(JsonNode body);
  void RowWrite(std::string_view type, JsonNode body);
  void Drop(JsonNode body);
  void AlterTable(JsonNode body);
  void Copy(JsonNode body);
  void Explain(JsonNode body);
  void SetVariable(JsonNode set_stmt, std::string_view context);
  void DoBlock(JsonNode body, std::string_view text);
  void CreateFunction(JsonNode body, std::string_view text);
  void Plpgsql(std::string_view text, std::vector<Action>& effects);
  void PlpgsqlWalk(JsonNode node, std::vector<Action>& effects, int depth);
  void PlpgsqlExpression(std::string_view text, std::vector<Action>& effects);
  void DynamicSql(std::string_view expression, std::vector<Action>& effects);
  void Nested(std::string_view sql, std::vector<Action>& effects);
  void RecordTemp(JsonNode range_var);

  Session& session_;
  std::vector<Action>& out_;
  SettingsPin pin_;  // set while walking a select list over pg_settings
};

void Classifier::Statement(std::string_view type, JsonNode body, std::string_view text) {
  auto simple = [&](std::string_view op_class, Severity severity, Reversibility reversibility,
                    std::vector<std::string> targets, std::string reason) {
    Emit(MakeAction(op_class, severity, reversibility, std::move(targets), std::move(reason)));
  };
  if (type == "SelectStmt") {
    if (JsonNode into = body["intoClause"]) {
      std::string name = RangeVarName(into["rel"]);
      if (into["rel"]["relpersistence"].raw() == "t") RecordTemp(into["rel"]);
      simple("db.create", Severity::kLow, Reversibility::kReversible, {name},
             "SELECT INTO creates table " + name);
    } else {
      simple("read.only", Severity::kNone, Reversibility::kReversible, {},
             "a query that only reads");
    }
    SettingsPin pin = PinnedSettings(body);
    if (!pin.active) {
      Walk(body);
      return;
    }
    for (JsonNode member : body) {
      if (member.key() == "targetList") {
        pin_ = pin;
        Walk(member);
        pin_ = SettingsPin{};
      } else if (member.is_object() || member.is_array()) {
        Walk(member);
      }
    }
    return;
  }
  if (IsOneOf(type, {"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"})) {
    RowWrite(type, body);
    return;
  }
  if (type == "DropStmt") return Drop(body);
  if (type == "DropdbStmt") {
    std::string name = body["dbname"].str();
    simple("db.drop", Severity::kCritical, Reversibility::kIrreversible, {name},
           "DROP DATABASE destroys database " + name + " and everything in it");
    return;
  }
  if (type == "DropRoleStmt") {
    std::vector<std::string> roles;
    for (JsonNode role : body["roles"]) roles.push_back(ObjectName(role));
    simple("db.role.drop", Severity::kHigh, Reversibility::kIrreversible, roles,
           "DROP ROLE removes " + JoinTargets(roles) + " (logins and grants are lost)");
    return;
  }
  if (type == "DropOwnedStmt") {
    std::vector<std::string> roles;
    for (JsonNode role : body["roles"]) roles.push_back(ObjectName(role));
    simple("db.drop", Severity::kCritical, Reversibility::kIrreversible, roles,
           "DROP OWNED drops every object owned by " + JoinTargets(roles));
    return;
  }
  if (type == "TruncateStmt") {
    std::vector<std::string> tables;
    bool all_temp = true;
    for (JsonNode relation : body["relations"]) {
      tables.push_back(RangeVarName(relation.node_body()));
      all_temp = all_temp && session_.IsTempTable(tables.back());
    }
    if (all_temp && !tables.empty()) {
      simple("db.write.temp", Severity::kLow, Reversibility::kIrreversible, tables,
             "TRUNCATE of a temporary table created in this input");
    } else {
      simple("db.truncate", Severity::kHigh, Reversibility::kIrreversible, tables,
             "TRUNCATE removes every row of " + JoinTargets(tables));
    }
    return;
  }
  if (type == "AlterTableStmt") return AlterTable(body);
  if (type == "CopyStmt") return Copy(body);
  if (type == "ExplainStmt") return Explain(body);
  if (type == "TransactionStmt") {
    simple("db.tx", Severity::kNone, Reversibility::kReversible, {}, "transaction control");
    return;
  }
  if (type == "VariableSetStmt") return SetVariable(body, "SET");
  if (type == "VariableShowStmt") {
    simple("read.only", Severity::kNone, Reversibility::kReversible, {}, "SHOW reads a setting");
    return;
  }
  if (type == "AlterSystemStmt") {
    std::string name = body["setstmt"]["name"].str();
    simple("db.config.system", Severity::kHigh, Reversibility::kRecoverable, {name},
           "ALTER SYSTEM changes the server's persistent configuration (" + name + ")");
    return;
  }
  if (type == "AlterRoleSetStmt" || type == "AlterDatabaseSetStmt") {
    SetVariable(body["setstmt"],
                type == "AlterRoleSetStmt" ? "ALTER ROLE ... SET" : "ALTER DATABASE ... SET");
    return;
  }
  if (type == "AlterRoleStmt" || type == "ReassignOwnedStmt") {
    std::string role = ObjectName(body["role"]);
    simple("db.role.alter", Severity::kMedium, Reversibility::kRecoverable, {role},
           type == "AlterRoleStmt" ? "ALTER ROLE changes how " + role + " logs in or what it may do"
                                   : "REASSIGN OWNED hands every object of a role to another");
    return;
  }
  if (type == "RenameStmt") {
    std::string_view kind = body["renameType"].raw();
    std::string name =
        body["relation"] ? RangeVarName(body["relation"]) : ObjectName(body["object"]);
    if (name.empty()) name = body["subname"].str();
    if (kind == "OBJECT_ROLE") {
      simple("db.role.alter", Severity::kMedium, Reversibility::kRecoverable,
             {body["subname"].str()}, "renaming a role breaks every login that uses its name");
    } else {
      simple("db.alter.rename", Severity::kLow, Reversibility::kReversible, {name},
             "RENAME changes a name; no data is lost and it can be renamed back");
    }
    return;
  }
  if (type == "PrepareStmt") {
    std::vector<Action> prepared;
    JsonNode query = body["query"];
    Classifier(session_, prepared).Statement(query.node_type(), query.node_body(), {});
    std::string name = body["name"].str();
    Session::Put(session_.prepared, name, std::move(prepared));
    simple("db.prepare", Severity::kNone, Reversibility::kReversible, {name},
           "PREPARE only defines " + name + "; EXECUTE runs it");
    return;
  }
  if (type == "ExecuteStmt") {
    std::string name = body["name"].str();
    const Session::Named* prepared = session_.FindPrepared(name);
    if (prepared == nullptr) {
      Emit(Opaque("EXECUTE " + name + " runs a prepared statement not defined in this input"));
      return;
    }
    for (Action action : prepared->actions) {
      action.reason = "EXECUTE " + name + ": " + action.reason;
      Emit(std::move(action));
    }
    Walk(body["params"]);
    return;
  }
  if (type == "DeallocateStmt") {
    std::string name = body["name"].str();  // absent for DEALLOCATE ALL
    std::erase_if(session_.prepared, [&](const Session::Named& entry) {
      return name.empty() || EqualsIgnoreCase(entry.name, name);
    });
    simple("db.session", Severity::kNone, Reversibility::kReversible, {}, "DEALLOCATE");
    return;
  }
  if (type == "DiscardStmt" || type == "ListenStmt" || type == "UnlistenStmt" ||
      type == "NotifyStmt" || type == "ConstraintsSetStmt" || type == "ClosePortalStmt") {
    simple("db.session", Severity::kNone, Reversibility::kReversible, {}, "session bookkeeping");
    return;
  }
  if (type == "FetchStmt") {
    simple("read.only", Severity::kNone, Reversibility::kReversible, {},
           "FETCH reads from a cursor");
    return;
  }
  if (type == "DeclareCursorStmt") {
    JsonNode query = body["query"];
    Statement(query.node_type(), query.node_body(), {});
    return;
  }
  if (type == "DoStmt") return DoBlock(body, text);
  if (type == "CreateFunctionStmt") return CreateFunction(body, text);
  if (type == "CallStmt") {
    JsonNode call = body["funccall"];
    std::string name = LastName(call["funcname"]);
    if (!session_.FindFunction(name)) {
      simple("db.call", Severity::kLow, Reversibility::kUnknown, {name},
             "CALL runs procedure " + name + ", defined outside this input");
    }
    FunctionCall(call);
    Walk(call["args"]);
    return;
  }
  if (type == "CreateStmt") {
    std::string name = RangeVarName(body["relation"]);
    if (body["relation"]["relpersistence"].raw() == "t") RecordTemp(body["relation"]);
    simple("db.create", Severity::kLow, Reversibility::kReversible, {name}, "CREATE TABLE " + name);
    return;
  }
  if (type == "CreateTableAsStmt") {
    JsonNode rel = body["into"]["rel"];
    std::string name = RangeVarName(rel);
    if (rel["relpersistence"].raw() == "t") RecordTemp(rel);
    simple("db.create", Severity::kLow, Reversibility::kReversible, {name},
           "creates " + name + " from a query");
    JsonNode query = body["query"];
    Walk(query);
    return;
  }
  if (type == "LoadStmt") {
    std::string library = body["filename"].str();
    Emit(OpaqueExec("LOAD loads shared library " + library + " into the server", {library}));
    return;
  }
  if (type == "GrantStmt" || type == "GrantRoleStmt") {
    bool grant = body["is_grant"].boolean();
    simple("db.privilege", Severity::kLow, Reversibility::kReversible, {},
           std::string(grant ? "GRANT" : "REVOKE") + " changes privileges; it can be undone");
    return;
  }
  if (IsOneOf(type, {"VacuumStmt", "ClusterStmt", "ReindexStmt", "RefreshMatViewStmt",
                     "CheckPointStmt"})) {
    simple("db.maintenance", Severity::kLow, Reversibility::kReversible, {},
           "maintenance: statistics, vacuum, reindex or refresh");
    return;
  }
  if (type == "LockStmt") {
    simple("db.lock", Severity::kLow, Reversibility::kReversible, {},
           "LOCK lasts until the transaction ends");
    return;
  }
  if (type == "ViewStmt") {
    std::string name = RangeVarName(body["view"]);
    std::vector<Action> effects;
    Classifier(session_, effects).Walk(body["query"]);
    Session::Put(session_.views, name, Effects(effects));
    simple("db.create", Severity::kLow, Reversibility::kReversible, {name},
           "defines view " + name + "; its query runs only when read");
    return;
  }
  if (type == "CreateTrigStmt") {
    std::string name = body["trigname"].str();
    std::string table = RangeVarName(body["relation"]);
    std::string function = Lower(LastName(body["funcname"]));
    bool emitted = false;
    if (const Session::Named* defined = session_.FindFunction(function)) {
      for (Action action : defined->actions) {
        if (!IsDestructive(action)) continue;
        action.reason =
            "trigger " + name + " on " + table + " will run " + function + "(): " + action.reason;
        Emit(std::move(action));
        emitted = true;
      }
    }
    if (!emitted) {
      simple("db.create", Severity::kLow, Reversibility::kReversible, {name, table},
             "creates trigger " + name + " on " + table);
    }
    return;
  }
  if (type == "RuleStmt") {
    std::string table = RangeVarName(body["relation"]);
    std::vector<Action> effects;
    Classifier(session_, effects).Walk(body["actions"]);
    bool emitted = false;
    for (Action& action : effects) {
      if (!IsDestructive(action)) continue;
      action.reason = "rule on " + table + " will run: " + action.reason;
      Emit(std::move(action));
      emitted = true;
    }
    if (!emitted) {
      simple("db.create", Severity::kLow, Reversibility::kReversible, {table},
             "creates a rewrite rule on " + table);
    }
    return;
  }
  if (type == "IndexStmt") {
    std::string table = RangeVarName(body["relation"]);
    simple("db.create", Severity::kLow, Reversibility::kReversible, {body["idxname"].str(), table},
           "creates an index on " + table);
    return;
  }
  if (type.starts_with("Drop")) {
    simple("db.drop", Severity::kHigh, Reversibility::kIrreversible, {},
           "a DROP statement (" + std::string(type) + ") removes an object");
    return;
  }
  if (type.starts_with("Create") ||
      IsOneOf(type, {"IndexStmt", "ViewStmt", "DefineStmt", "RuleStmt", "CompositeTypeStmt",
                     "ImportForeignSchemaStmt"})) {
    simple("db.create", Severity::kLow, Reversibility::kReversible, {},
           "creates or replaces a definition (" + std::string(type) + ")");
    return;
  }
  if (type.starts_with("Alter") || IsOneOf(type, {"CommentStmt", "SecLabelStmt"})) {
    simple("db.alter", Severity::kLow, Reversibility::kReversible, {},
           "changes a definition (" + std::string(type) + ")");
    return;
  }
  Emit(Opaque("statement type " + std::string(type) + " is not classified"));
}

void Classifier::RecordTemp(JsonNode range_var) {
  std::string name = range_var["relname"].str();
  if (!name.empty()) session_.temp_tables.push_back(std::move(name));
}

void Classifier::RowWrite(std::string_view type, JsonNode body) {
  JsonNode relation = body["relation"];
  std::string table = RangeVarName(relation);
  std::vector<std::string> targets{table};
  if (type == "InsertStmt") {
    // INSERT ... SELECT ... ON CONFLICT DO UPDATE overwrites every existing
    // row its source collides with: as many as the query returns, decided at
    // run time (all of them when it reads the table it writes). A VALUES
    // list names its rows; a WHERE on the DO UPDATE bounds it.
    JsonNode conflict = body["onConflictClause"];  // a typed field: no node wrapper
    if (conflict["OnConflictClause"]) conflict = conflict["OnConflictClause"];
    JsonNode source = body["selectStmt"]["SelectStmt"];
    if (conflict && conflict["action"].raw() == "ONCONFLICT_UPDATE" && source &&
        !source["valuesLists"] && !conflict["whereClause"]) {
      bool reads_itself = false;
      for (JsonNode from : source["fromClause"])
        if (RangeVarName(from["RangeVar"]) == table) reads_itself = true;
      if (reads_itself) {
        Emit(MakeAction("db.update.unbounded", Severity::kHigh, Reversibility::kIrreversible,
                        targets,
                        "INSERT ... SELECT FROM " + table +
                            " ON CONFLICT DO UPDATE overwrites every row of " + table));
      } else {
        Emit(MakeAction("db.update", Severity::kMedium, Reversibility::kIrreversible, targets,
                        "INSERT ... SELECT ... ON CONFLICT DO UPDATE overwrites every row of " +
                            table +
                            " that its query collides with; how many depends on the query"));
      }
      Walk(body);
      return;
    }
    Emit(MakeAction("db.write", Severity::kLow, Reversibility::kReversible, targets,
                    "INSERT adds rows to " + table));
    Walk(body);
    return;
  }
  const bool is_delete = type == "DeleteStmt";
  const std::string verb = is_delete ? "DELETE" : (type == "UpdateStmt" ? "UPDATE" : "MERGE");
  if (type == "MergeStmt") {
    bool removes = false;
    bool deletes = false;
    for (JsonNode when : body["mergeWhenClauses"]) {
      std::string_view command = when["MergeWhenClause"]["commandType"].raw();
      if (command == "CMD_DELETE" || command == "CMD_UPDATE") removes = true;
      if (command == "CMD_DELETE") deletes = true;
    }
    std::string why;
    JsonNode join = body["joinCondition"];
    if (removes && (!join || MatchesAllRows(join, table, &why))) {
      Emit(MakeAction("db.update.unbounded", Severity::kHigh, Reversibility::kIrreversible, targets,
                      "MERGE into " + table + " changes or deletes every row: " + why));
    } else if (deletes) {
      // WHEN MATCHED THEN DELETE removes every target row the source
      // matches: as many as the other table holds, decided at run time.
      Emit(MakeAction("db.delete", Severity::kMedium, Reversibility::kIrreversible, targets,
                      "MERGE deletes every row of " + table +
                          " that its source matches; how many depends on the other table"));
    } else {
      Emit(MakeAction("db.write", Severity::kLow, Reversibility::kIrreversible, targets,
                      "MERGE changes rows of " + table + " matched by its join condition"));
    }
    Walk(body);
    return;
  }
  JsonNode where = body["whereClause"];
  std::string why;
  bool unbounded = false;
  if (!where) {
    unbounded = true;
    why = "it has no WHERE clause";
  } else {
    unbounded = MatchesAllRows(where, table, &why);
  }
  if (unbounded && session_.IsTempTable(table)) {
    Emit(MakeAction("db.write.temp", Severity::kLow, Reversibility::kIrreversible, targets,
                    verb + " of a temporary table created in this input"));
  } else if (unbounded) {
    Emit(MakeAction(is_delete ? "db.delete.unbounded" : "db.update.unbounded", Severity::kHigh,
                    Reversibility::kIrreversible, targets,
                    verb + (is_delete ? " removes every row of " : " overwrites every row of ") +
                        table + ": " + why));
  } else {
    Emit(MakeAction("db.write.bounded", Severity::kLow, Reversibility::kIrreversible, targets,
                    verb + " of " + table + " limited by its WHERE clause"));
  }
  Walk(body);
}

void Classifier::Drop(JsonNode body) {
  std::string_view kind = body["removeType"].raw();
  const bool cascade = body["behavior"].raw() == "DROP_CASCADE";
  std::vector<std::string> names;
  bool all_temp = true;
  for (JsonNode object : body["objects"]) {
    names.push_back(ObjectName(object));
    all_temp = all_temp && session_.IsTempTable(names.back());
  }
  std::string object_kind(kind.starts_with("OBJECT_") ? kind.substr(7) : kind);
  object_kind = Lower(object_kind);
  for (char& c : object_kind) c = (c == '_') ? ' ' : c;
  const std::string list = JoinTargets(names);
  if (kind == "OBJECT_TABLE" && all_temp && !names.empty() && !cascade) {
    Emit(MakeAction("db.drop.temp", Severity::kLow, Reversibility::kIrreversible, names,
                    "drops temporary table " + list + " created earlier in this input"));
    return;
  }
  // An index or extended statistics hold no data: they can be rebuilt.
  if ((kind == "OBJECT_INDEX" && !cascade) || kind == "OBJECT_STATISTIC_EXT") {
    Emit(MakeAction("db.drop.index", Severity::kLow, Reversibility::kRecoverable, names,
                    "drops " + object_kind + " " + list + "; no data is lost, it can be rebuilt"));
    return;
  }
  Severity severity = Severity::kHigh;
  if (kind == "OBJECT_SCHEMA" && cascade) severity = Severity::kCritical;
  std::string reason = "DROP " + object_kind + " " + list;
  if (cascade) reason += " CASCADE (dependent objects go too)";
  Emit(MakeAction("db.drop", severity, Reversibility::kIrreversible, names, reason));
}

void Classifier::AlterTable(JsonNode body) {
  std::string table = RangeVarName(body["relation"]);
  bool emitted = false;
  for (JsonNode wrapper : body["cmds"]) {
    JsonNode cmd = wrapper["AlterTableCmd"];
    std::string_view subtype = cmd["subtype"].raw();
    std::string name = cmd["name"].str();
    std::string target = name.empty() ? table : table + "." + name;
    if (subtype == "AT_DropColumn") {
      Emit(MakeAction("db.alter.destructive", Severity::kHigh, Reversibility::kIrreversible,
                      {target}, "DROP COLUMN " + target + " destroys the column's data"));
      emitted = true;
    } else if (subtype == "AT_DropConstraint") {
      Emit(MakeAction("db.alter.destructive", Severity::kHigh, Reversibility::kIrreversible,
                      {target},
                      "DROP CONSTRAINT " + name + " on " + table + " removes an integrity rule"));
      emitted = true;
    } else if (subtype == "AT_AlterColumnType") {
      JsonNode using_expr = cmd["def"]["ColumnDef"]["raw_default"];
      if (using_expr && !ReadsRow(using_expr)) {
        Emit(MakeAction("db.alter.rewrite", Severity::kHigh, Reversibility::kIrreversible, {target},
                        "ALTER COLUMN " + target +
                            " TYPE ... USING an expression that ignores the old value erases it"));
        emitted = true;
      }
    } else if (IsOneOf(subtype, {"AT_DisableTrig", "AT_DisableTrigAll", "AT_DisableTrigUser"})) {
      Emit(MakeAction(
          "db.alter.triggers_disabled", Severity::kMedium, Reversibility::kRecoverable, {table},
          "DISABLE TRIGGER on " + table + " switches off triggers (and with ALL, foreign keys)"));
      emitted = true;
    }
  }
  if (!emitted) {
    Emit(MakeAction("db.alter", Severity::kLow, Reversibility::kReversible, {table},
                    "ALTER TABLE " + table + " without dropping data"));
  }
  Walk(body["cmds"]);
}

void Classifier::Copy(JsonNode body) {
  std::string table = body["relation"] ? RangeVarName(body["relation"]) : std::string();
  std::string file = body["filename"].str();
  std::vector<std::string> targets;
  if (!table.empty()) targets.push_back(table);
  if (body["is_program"].boolean()) {
    Emit(OpaqueExec(
        "COPY ... PROGRAM runs shell command " + Quoted(file) + " on the database server",
        targets));
  } else if (body["is_from"].boolean()) {
    Emit(MakeAction("db.write", Severity::kLow, Reversibility::kReversible, targets,
                    "COPY FROM loads rows into " + table));
  } else if (!file.empty()) {
    targets.push_back(file);
    Emit(MakeAction(
        "db.file.write", Severity::kMedium, Reversibility::kIrreversible, targets,
        "COPY TO a server file creates or overwrites " + file + " on the database host"));
  } else {
    Emit(MakeAction("read.only", Severity::kNone, Reversibility::kReversible, targets,
                    "COPY TO STDOUT exports to the client"));
  }
  Walk(body["query"]);
}

void Classifier::Explain(JsonNode body) {
  bool analyze = false;
  for (JsonNode option : body["options"]) {
    JsonNode def = option["DefElem"];
    if (def["defname"].str() != "analyze") continue;
    JsonNode arg = def["arg"];
    if (!arg) {
      analyze = true;
    } else if (auto value = ConstantOf(arg)) {
      analyze = ConstantTruth(*value) != Truth::kFalse;
    } else {
      std::string text = arg["String"] ? StringValue(arg) : std::string("true");
      if (arg["Boolean"]) text = arg["Boolean"]["boolval"].boolean() ? "true" : "false";
      if (arg["Integer"]) text = arg["Integer"]["ival"].integer() ? "true" : "false";
      analyze = BoolLiteral(text) != Truth::kFalse;
    }
  }
  JsonNode query = body["query"];
  if (analyze) {
    Statement(query.node_type(), query.node_body(), {});
    return;
  }
  Emit(MakeAction("read.only", Severity::kNone, Reversibility::kReversible, {},
                  "EXPLAIN without ANALYZE plans the statement but does not run it"));
}

void Classifier::SetVariable(JsonNode set_stmt, std::string_view context) {
  std::string name = set_stmt["name"].str();
  std::string value;
  JsonNode first = set_stmt["args"].first_child();
  if (auto constant = ConstantOf(first)) value = constant->text;
  std::string danger = DangerousSetting(name, value);
  if (!danger.empty()) {
    Emit(MakeAction("db.config.destructive", Severity::kHigh, Reversibility::kRecoverable, {name},
                    std::string(context) + " " + name + ": " + danger));
    return;
  }
  Emit(MakeAction("db.session", Severity::kNone, Reversibility::kReversible, {name},
                  std::string(context) + " " + name));
}

void Classifier::Walk(JsonNode node, int depth) {
  if (depth > kMaxWalkDepth) {
    Emit(Opaque("the statement is nested too deeply to inspect"));
    return;
  }
  if (node.is_array()) {
    for (JsonNode child : node) Walk(child, depth + 1);
    return;
  }
  if (!node.is_object()) return;
  for (JsonNode member : node) {
    std::string_view key = member.key();
    if (IsOneOf(key, {"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"})) {
      RowWrite(key, member);  // a data-modifying CTE runs in full
      continue;
    }
    if (key == "SelectStmt" && pin_.active) {
      // A subquery has its own FROM: the outer WHERE pins nothing there.
      SettingsPin outer = std::exchange(pin_, SettingsPin{});
      Walk(member, depth + 1);
      pin_ = std::move(outer);
      continue;
    }
    if (key == "FuncCall") FunctionCall(member);
    if (key == "RangeVar" && !session_.views.empty()) {
      std::string name = RangeVarName(member);
      if (const Session::Named* view = session_.FindView(name)) {
        for (Action action : view->actions) {
          action.reason = "reads view " + name + " defined in this input: " + action.reason;
          Emit(std::move(action));
        }
      }
    }
    if (member.is_object() || member.is_array()) Walk(member, depth + 1);
  }
}

void Classifier::FunctionCall(JsonNode body) {
  std::string name = Lower(LastName(body["funcname"]));
  JsonNode args = body["args"];
  if (name == "dblink_exec" || name == "dblink" || name == "dblink_send_query") {
    // The SQL is the last argument; with one argument it is the only one.
    JsonNode sql_arg;
    for (JsonNode arg : args) sql_arg = arg;
    auto sql = FoldString(sql_arg);
    if (!sql) {
      Emit(Opaque(name + " runs computed SQL on another server"));
      return;
    }
    std::vector<Action> effects;
    Nested(*sql, effects);
    for (Action& action : Effects(effects)) {
      action.reason = name + " on a remote server: " + action.reason;
      Emit(std::move(action));
    }
    return;
  }
  if (name == "set_config") {
    JsonNode setting_arg = args.first_child();
    std::vector<std::string> settings;
    if (auto setting = FoldString(setting_arg)) {
      settings.push_back(*setting);
    } else if (pin_.active && NameColumn(setting_arg, pin_)) {
      settings = pin_.names;
    }
    auto value = FoldString(setting_arg.next_sibling());
    if (settings.empty()) {
      // Any setting at all: harmless only if no setting takes this value
      // as a way to switch a safety net off.
      if (!value || !ValueHarmlessForAnySetting(*value))
        Emit(Opaque("set_config with a computed setting"));
      return;
    }
    for (const std::string& setting : settings) {
      if (!value) {
        if (SettingCanBeDangerous(setting))
          Emit(Opaque("set_config " + setting + " with a computed value"));
        continue;
      }
      std::string danger = DangerousSetting(setting, *value);
      if (!danger.empty()) {
        Emit(MakeAction("db.config.destructive", Severity::kHigh, Reversibility::kRecoverable,
                        {setting}, "set_config " + setting + ": " + danger));
      }
    }
    return;
  }
  if (const FunctionRule* rule = FindFunctionRule(name)) {
    Emit(MakeAction(rule->op_class, rule->severity, rule->reversibility, {name},
                    name + "() " + std::string(rule->what)));
    return;
  }
  if (const Session::Named* function = session_.FindFunction(name)) {
    for (Action action : function->actions) {
      action.reason = "calls " + name + "() defined in this input: " + action.reason;
      Emit(std::move(action));
    }
  }
}

void Classifier::Nested(std::string_view sql, std::vector<Action>& effects) {
  ClassifyText(sql, Dialect::kPostgres, session_, effects);
}

void Classifier::DoBlock(JsonNode body, std::string_view text) {
  std::string language = "plpgsql";
  for (JsonNode arg : body["args"]) {
    JsonNode def = arg["DefElem"];
    if (def["defname"].str() == "language") language = Lower(StringValue(def["arg"]));
  }
  if (language != "plpgsql") {
    Emit(OpaqueExec("DO block in language " + language + " runs code we cannot inspect"));
    return;
  }
  std::vector<Action> effects;
  Plpgsql(text, effects);
  if (effects.empty()) {
    Emit(MakeAction("read.only", Severity::kNone, Reversibility::kReversible, {},
                    "DO block whose statements only read"));
    return;
  }
  for (Action& action : effects) {
    action.reason = "DO block: " + action.reason;
    Emit(std::move(action));
  }
}

void Classifier::CreateFunction(JsonNode body, std::string_view text) {
  std::string name = Lower(LastName(body["funcname"]));
  std::string language = "sql";
  std::string source;
  for (JsonNode option : body["options"]) {
    JsonNode def = option["DefElem"];
    std::string defname = def["defname"].str();
    if (defname == "language") language = Lower(StringValue(def["arg"]));
    if (defname == "as") {
      JsonNode arg = def["arg"];
      source = arg["List"] ? StringValue(arg["List"]["items"].first_child()) : StringValue(arg);
    }
  }
  std::vector<Action> effects;
  bool executes_now = false;
  if (language == "plpgsql") {
    Plpgsql(text, effects);
  } else if (language == "sql") {
    if (JsonNode sql_body = body["sql_body"]) {
      Classifier(session_, effects).Walk(sql_body);
    } else {
      Nested(source, effects);
    }
  } else {
    // C functions load their library when defined; other languages (plpython,
    // plperl, ...) run code whose effects we cannot see.
    executes_now = language == "c" || language == "internal";
    effects.push_back(OpaqueExec("function " + name + " in language " + language +
                                 " runs code we cannot inspect"));
  }
  effects = Effects(effects);
  if (executes_now) {
    for (Action& action : effects) Emit(action);
  }
  Session::Put(session_.functions, name, std::move(effects));
  Emit(MakeAction("db.create", Severity::kLow, Reversibility::kReversible, {name},
                  "defines function " + name + "; its body runs only when called"));
}

void Classifier::Plpgsql(std::string_view text, std::vector<Action>& effects) {
  std::string statement(text);
  PgQueryPlpgsqlParseResult result = pg_query_parse_plpgsql(statement.c_str());
  if (result.error != nullptr) {
    std::string message = result.error->message ? result.error->message : "error";
    pg_query_free_plpgsql_parse_result(result);
    effects.push_back(Opaque("PL/pgSQL body could not be parsed: " + message));
    return;
  }
  JsonTree tree;
  if (result.plpgsql_funcs == nullptr || !tree.Parse(result.plpgsql_funcs)) {
    pg_query_free_plpgsql_parse_result(result);
    effects.push_back(Opaque("PL/pgSQL parse tree could not be read"));
    return;
  }
  std::vector<Action> all;
  PlpgsqlWalk(tree.root(), all, 0);
  pg_query_free_plpgsql_parse_result(result);
  for (Action& action : Effects(all)) effects.push_back(std::move(action));
}

void Classifier::PlpgsqlWalk(JsonNode node, std::vector<Action>& effects, int depth) {
  if (depth > kMaxWalkDepth) {
    effects.push_back(Opaque("PL/pgSQL body nested too deeply to inspect"));
    return;
  }
  for (JsonNode member : node) {
    std::string_view key = member.key();
    if (key == "PLpgSQL_stmt_dynexecute" || key == "PLpgSQL_stmt_dynfors") {
      DynamicSql(member["query"]["PLpgSQL_expr"]["query"].str(), effects);
      for (JsonNode inner : member) {
        if (inner.key() != "query" && (inner.is_object() || inner.is_array()))
          PlpgsqlWalk(inner, effects, depth + 1);
      }
      continue;
    }
    if (key == "dynquery") {
      DynamicSql(member["PLpgSQL_expr"]["query"].str(), effects);
      continue;
    }
    if (key == "PLpgSQL_stmt_execsql") {
      Nested(member["sqlstmt"]["PLpgSQL_expr"]["query"].str(), effects);
      continue;
    }
    if (key == "PLpgSQL_expr") {
      PlpgsqlExpression(member["query"].str(), effects);
      continue;
    }
    if (member.is_object() || member.is_array()) PlpgsqlWalk(member, effects, depth + 1);
  }
}

void Classifier::PlpgsqlExpression(std::string_view text, std::vector<Action>& effects) {
  if (text.empty()) return;
  // PL/pgSQL keeps expressions as text: a full statement ("SELECT f()"), a
  // bare expression ("x > 1") or an assignment ("n := expr").
  std::string error;
  std::vector<Action> found;
  if (ClassifyPostgres(text, session_, found, &error)) {
    for (Action& action : found) effects.push_back(std::move(action));
    return;
  }
  std::string_view expression = text;
  std::size_t assign = text.find(":=");
  if (assign != std::string_view::npos) expression = text.substr(assign + 2);
  std::string select = "SELECT ";
  select.append(expression);
  if (ClassifyPostgres(select, session_, found, &error)) {
    for (Action& action : found) effects.push_back(std::move(action));
    return;
  }
  if (assign == std::string_view::npos) {
    std::size_t equals = text.find('=');
    if (equals != std::string_view::npos) {
      select = "SELECT ";
      select.append(text.substr(equals + 1));
      if (ClassifyPostgres(select, session_, found, &error)) {
        for (Action& action : found) effects.push_back(std::move(action));
        return;
      }
    }
  }
  effects.push_back(
      Opaque("PL/pgSQL expression " + Quoted(text) + " could not be parsed: " + error));
}

void Classifier::DynamicSql(std::string_view expression, std::vector<Action>& effects) {
  auto sql = FoldExpressionText(expression);
  if (!sql) {
    effects.push_back(Opaque("EXECUTE of computed SQL " + Quoted(expression) +
                             " cannot be known before it runs"));
    return;
  }
  std::vector<Action> found;
  Nested(*sql, found);
  for (Action& action : found) {
    action.reason = "EXECUTE " + Quoted(*sql) + ": " + action.reason;
    effects.push_back(std::move(action));
  }
}

}  // namespace

bool ClassifyPostgres(std::string_view sql, Session& session, std::vector<Action>& out,
                      std::string* error) {
  const std::string text(sql);
  ParsedSql parsed(text);
  if (!parsed.parsed()) {
    *error = parsed.error();
    return false;
  }
  if (!parsed.tree_ok()) {
    out.push_back(Opaque("the PostgreSQL parse tree could not be read"));
    return true;
  }
  Classifier classifier(session, out);
  for (JsonNode statement : parsed.statements()) {
    long long location = statement["stmt_location"].integer();
    long long length = statement["stmt_len"].integer();
    std::string_view statement_text;
    if (location >= 0 && static_cast<std::size_t>(location) <= text.size()) {
      statement_text = std::string_view(text).substr(static_cast<std::size_t>(location));
      if (length > 0) statement_text = statement_text.substr(0, static_cast<std::size_t>(length));
    }
    classifier.TopLevel(statement["stmt"], statement_text);
  }
  return true;
}

ConditionVerdict JudgeCondition(std::string_view condition, std::string_view table,
                                std::string* why) {
  std::string text = "SELECT 1 WHERE ";
  text.append(condition);
  ParsedSql parsed(text);
  if (!parsed.parsed() || !parsed.tree_ok()) return ConditionVerdict::kUnparseable;
  JsonNode statement = parsed.statements().first_child();
  if (!statement.valid() || statement.next_sibling().valid()) return ConditionVerdict::kUnparseable;
  JsonNode where = statement["stmt"]["SelectStmt"]["whereClause"];
  if (!where) return ConditionVerdict::kUnparseable;
  return MatchesAllRows(where, table, why) ? ConditionVerdict::kAllRows
                                           : ConditionVerdict::kBounded;
}

}  // namespace dualkey::sql::internal
