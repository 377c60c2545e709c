// The PostgreSQL classifier's code inside code: DO blocks, CREATE FUNCTION
// bodies, PL/pgSQL statements and expressions, and EXECUTE of computed SQL
// (pg_classifier.h).
#include <pg_query.h>

#include <optional>
#include <utility>
#include <vector>

#include "sql/internal/json_tree.h"
#include "sql/internal/pg_classifier.h"
#include "sql/internal/pg_tree.h"
#include "sql/internal/postgres.h"

namespace dualkey::sql::internal {

void Classifier::Nested(std::string_view sql, std::vector<Action>& effects) {
  ClassifyText(sql, Dialect::kPostgres, session_, effects);
}

void Classifier::DoBlock(JsonNode body, std::string_view text) {
  std::string language = "plpgsql";
  for (JsonNode arg : body["args"]) {
    JsonNode def = arg["DefElem"];
    if (def["defname"].str() == "language") language = ToLower(StringValue(def["arg"]));
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
  std::string name = ToLower(LastName(body["funcname"]));
  std::string language = "sql";
  std::string source;
  for (JsonNode option : body["options"]) {
    JsonNode def = option["DefElem"];
    std::string defname = def["defname"].str();
    if (defname == "language") language = ToLower(StringValue(def["arg"]));
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

}  // namespace dualkey::sql::internal
