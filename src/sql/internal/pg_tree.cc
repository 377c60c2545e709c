// Names in the PostgreSQL parse tree, and the text helpers the statements
// share: see pg_tree.h.
#include "sql/internal/pg_tree.h"

#include <utility>

#include "sql/internal/rules.h"

namespace dualkey::sql::internal {

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
// Statements

bool IsOneOf(std::string_view value, std::initializer_list<std::string_view> options) {
  for (std::string_view option : options) {
    if (value == option) return true;
  }
  return false;
}

std::string Quoted(std::string_view text, std::size_t limit) {
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
}  // namespace dualkey::sql::internal
