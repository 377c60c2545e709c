// The PostgreSQL classifier over libpg_query's tree (postgres.cc,
// pg_plpgsql.cc).
#pragma once

#include <string_view>
#include <vector>

#include "sql/internal/pg_tree.h"
#include "sql/internal/rules.h"

namespace dualkey::sql::internal {

// Turns one parse tree's statements into Actions: statements, row writes,
// DDL, COPY, EXPLAIN, SET and function calls (postgres.cc); DO blocks,
// function bodies, PL/pgSQL and dynamic SQL (pg_plpgsql.cc).
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

}  // namespace dualkey::sql::internal
