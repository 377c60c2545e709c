// What a case of the user's own may aim at. The built-in battery is checked
// by its tests to touch only the drill's canaries; a case from a user's file
// is checked here, before it is ever sent: its SQL may name only the canary
// schema's tables (read by PostgreSQL's own grammar), its API calls only the
// drill's stand-in. Whatever the proxy or the gateway then lets through can
// destroy nothing else.
#include <pg_query.h>

#include <set>

#include "base/json_text.h"
#include "drill/internal/battery.h"

namespace dualkey::drill::internal {
namespace {

using nlohmann::json;

// Statements a case may make: reads, writes and drops of tables (and what
// hangs off them), all of which name their relations. Anything else (roles,
// databases, functions, COPY, SET, transactions, DO blocks) is refused.
const std::set<std::string>& AllowedStatements() {
  static const std::set<std::string> kinds = {
      "SelectStmt",   "InsertStmt",        "UpdateStmt",     "DeleteStmt", "MergeStmt",
      "TruncateStmt", "DropStmt",          "AlterTableStmt", "CreateStmt", "IndexStmt",
      "RenameStmt",   "CreateTableAsStmt", "ExplainStmt",    "ViewStmt"};
  return kinds;
}

// Functions that only compute: any other call (pg_terminate_backend,
// lo_unlink, dblink_exec, a user's own function...) could reach past the
// canary.
const std::set<std::string>& HarmlessFunctions() {
  static const std::set<std::string> names = {"count",
                                              "sum",
                                              "min",
                                              "max",
                                              "avg",
                                              "now",
                                              "random",
                                              "md5",
                                              "lower",
                                              "upper",
                                              "length",
                                              "coalesce",
                                              "generate_series",
                                              "repeat",
                                              "concat",
                                              "abs",
                                              "round",
                                              "floor",
                                              "ceil",
                                              "greatest",
                                              "least",
                                              "substr",
                                              "substring",
                                              "trim",
                                              "btrim",
                                              "to_char",
                                              "date_trunc",
                                              "current_timestamp",
                                              "clock_timestamp"};
  return names;
}

const std::set<std::string>& DroppableTypes() {
  static const std::set<std::string> types = {"OBJECT_TABLE",    "OBJECT_VIEW",    "OBJECT_INDEX",
                                              "OBJECT_SEQUENCE", "OBJECT_MATVIEW", "OBJECT_SCHEMA"};
  return types;
}

std::string StringValue(const json& node) {
  if (!node.is_object() || !node.contains("String")) return "";
  const json& s = node["String"];
  if (s.contains("sval") && s["sval"].is_string()) return s["sval"];
  if (s.contains("str") && s["str"].is_string()) return s["str"];
  return "";
}

void CollectCteNames(const json& node, std::set<std::string>* names) {
  if (node.is_object()) {
    if (node.contains("CommonTableExpr") && node["CommonTableExpr"].is_object())
      names->insert(node["CommonTableExpr"].value("ctename", ""));
    for (const auto& [key, value] : node.items()) CollectCteNames(value, names);
  } else if (node.is_array()) {
    for (const json& v : node) CollectCteNames(v, names);
  }
}

class Scope {
 public:
  Scope(std::string schema, std::set<std::string> ctes)
      : schema_(std::move(schema)), ctes_(std::move(ctes)) {}

  std::string Check(const json& node) {
    if (node.is_array()) {
      for (const json& v : node)
        if (std::string why = Check(v); !why.empty()) return why;
      return "";
    }
    if (!node.is_object()) return "";
    // A relation: wrapped as {"RangeVar": ...} in lists, bare in typed
    // fields ("relation" of UPDATE, INSERT, DELETE...).
    // The target of INSERT, UPDATE, DELETE or MERGE is always a table,
    // never a CTE of the same name.
    if (node.contains("relname"))
      if (std::string why = Relation(node, false); !why.empty()) return why;
    for (const auto& [key, value] : node.items()) {
      if (std::string why = CheckNode(key, value); !why.empty()) return why;
      if (key == "RangeVar") continue;  // read as one (its name may be a CTE's)
      if (std::string why = Check(value); !why.empty()) return why;
    }
    return "";
  }

 private:
  std::string CheckNode(const std::string& key, const json& value) {
    if (key.ends_with("Stmt") && key != "RawStmt" && !AllowedStatements().contains(key))
      return key + " is not a statement a case may make (only table reads, writes and drops)";
    if (!value.is_object()) return "";
    if (key == "RangeVar") return Relation(value, true);
    if (key == "FuncCall") {
      std::string name;
      if (value.contains("funcname"))
        for (const json& part : value["funcname"]) name = StringValue(part);
      if (!HarmlessFunctions().contains(name)) return "calls " + name + "()";
      return "";
    }
    if (key == "DropStmt") {
      const std::string type = value.value("removeType", "");
      if (!DroppableTypes().contains(type)) return "drops a " + type;
      if (!value.contains("objects")) return "drops nothing it names";
      for (const json& object : value["objects"]) {
        if (type == "OBJECT_SCHEMA") {
          if (StringValue(object) != schema_) return "drops a schema other than {schema}";
          continue;
        }
        const json items =
            object.contains("List") ? object["List"].value("items", json::array()) : json::array();
        if (items.size() < 2 || StringValue(items[0]) != schema_)
          return "drops something outside the canary schema {schema}";
      }
      return "";
    }
    if (key == "RenameStmt" && !value.contains("relation")) return "renames something not a table";
    return "";
  }

  std::string Relation(const json& value, bool may_be_cte) const {
    const std::string schema = value.value("schemaname", "");
    const std::string name = value.value("relname", "");
    if (value.contains("catalogname")) return "names another database: " + name;
    if (schema.empty() && may_be_cte && ctes_.contains(name)) return "";
    if (schema != schema_)
      return "names " + (schema.empty() ? name : schema + "." + name) +
             ", not a table of the canary schema {schema}";
    return "";
  }

  std::string schema_;
  std::set<std::string> ctes_;
};

}  // namespace

std::string SqlOutsideCanary(const std::string& sql, const std::string& schema) {
  PgQueryParseResult result = pg_query_parse(sql.c_str());
  std::string why;
  if (result.error != nullptr) {
    why = std::string("does not parse as PostgreSQL: ") +
          (result.error->message != nullptr ? result.error->message : "");
  } else {
    std::optional<json> tree =
        base::JsonParse(result.parse_tree != nullptr ? result.parse_tree : "");
    if (!tree) {
      why = "its parse tree could not be read";
    } else {
      // A CTE's name stands for it only in its own statement.
      for (const json& statement : tree->value("stmts", json::array())) {
        std::set<std::string> ctes;
        CollectCteNames(statement, &ctes);
        why = Scope(schema, ctes).Check(statement);
        if (!why.empty()) break;
      }
    }
  }
  pg_query_free_parse_result(result);
  return why;
}

std::string OutsideScope(const Case& c) {
  if (c.channel == "sql") {
    // {schema} stands for a name of the drill's choosing at run time.
    static const std::string kSchema = "drill_canary_scopecheck";
    const std::string sql =
        Substitute(c.input.get<std::string>(), Placeholders{{"schema", kSchema}});
    if (std::string why = SqlOutsideCanary(sql, kSchema); !why.empty())
      return "SQL may touch only tables of the canary schema {schema} (qualified), " + why;
  }
  if (c.channel == "http") {
    const std::string url = c.input.value("url", "");
    const std::string rest = url.starts_with("{api}/") ? url.substr(5) : "";
    if (!url.starts_with("{api}/"))
      return "an API call goes only to the drill's stand-in: its url starts with {api}/";
    // No way out of the stand-in's path on the gateway.
    std::string lower;
    for (char ch : rest)
      lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
    if (lower.find("..") != std::string::npos || lower.find("%2e") != std::string::npos ||
        lower.find("%2f") != std::string::npos || lower.find("%5c") != std::string::npos ||
        lower.find('\\') != std::string::npos || lower.find("//") != std::string::npos)
      return "an API call's url stays under {api}/ (no .., encoded slashes or dots)";
  }
  return "";
}

}  // namespace dualkey::drill::internal
