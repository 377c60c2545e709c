// Constants and the folding of WHERE clauses and computed SQL text: see
// pg_tree.h.
#include <charconv>
#include <optional>
#include <utility>

#include "sql/internal/pg_tree.h"
#include "sql/internal/rules.h"

namespace dualkey::sql::internal {

namespace {

std::optional<double> ParseNumber(std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}
}  // namespace

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

namespace {

Truth FromBool(bool value) {
  return value ? Truth::kTrue : Truth::kFalse;
}
Truth Not(Truth truth) {
  if (truth == Truth::kUnknown) return truth;
  return truth == Truth::kTrue ? Truth::kFalse : Truth::kTrue;
}
}  // namespace

// PostgreSQL's spellings of a boolean in a string literal.
Truth BoolLiteral(std::string_view text) {
  std::string lower = ToLower(text);
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

namespace {

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
}  // namespace

// Does the expression read the row (a column, the cursor position)?
bool ReadsRow(JsonNode node, int depth) {
  if (depth > kMaxWalkDepth) return true;
  for (JsonNode child : node) {
    std::string_view key = child.key();
    if (key == "ColumnRef" || key == "CurrentOfExpr") return true;
    if ((child.is_object() || child.is_array()) && ReadsRow(child, depth + 1)) return true;
  }
  return false;
}
namespace {

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
}  // namespace

// Does the condition select every row of `table`? Sets `why` when it does.
bool MatchesAllRows(JsonNode where, std::string_view table, std::string* why, int depth) {
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

std::optional<std::string> FoldString(JsonNode wrapper, int depth);

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
namespace {

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
}  // namespace

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
}  // namespace dualkey::sql::internal
