// The GraphQL parser (lexer, operations, selections, fragments, values) and
// the classification of GraphQL requests, with traps.
#include "http/internal/graphql.h"

#include <gtest/gtest.h>

#include "http_test_util.h"

namespace dualkey::http {
namespace {

namespace gql = graphql;
using test::Json;
using test::Send;

gql::Document MustParse(std::string_view text) {
  gql::Document document;
  std::string error;
  EXPECT_TRUE(gql::Parse(text, &document, &error)) << error;
  return document;
}

std::string ParseError(std::string_view text) {
  gql::Document document;
  std::string error;
  EXPECT_FALSE(gql::Parse(text, &document, &error)) << text;
  return error;
}

std::vector<std::string> RootNames(const gql::Document& document, std::size_t op = 0) {
  std::vector<const gql::Field*> fields;
  std::string error;
  EXPECT_TRUE(gql::RootFields(document, document.operations.at(op), &fields, &error)) << error;
  std::vector<std::string> names;
  for (const gql::Field* field : fields) names.push_back(field->name);
  return names;
}

// ------------------------------------------------------------------ parser

TEST(GraphqlParser, ShorthandIsAnonymousQuery) {
  auto document = MustParse("{ me { id } }");
  ASSERT_EQ(document.operations.size(), 1u);
  EXPECT_EQ(document.operations[0].type, gql::OperationType::kQuery);
  EXPECT_EQ(RootNames(document), std::vector<std::string>{"me"});
}

TEST(GraphqlParser, NamedMutationWithVariables) {
  auto document = MustParse(
      "mutation Del($id: String!, $ids: [ID!]! = [\"a\"], $n: Int = 3) @tag { serviceDelete(id: "
      "$id) }");
  const auto& op = document.operations.at(0);
  EXPECT_EQ(op.type, gql::OperationType::kMutation);
  EXPECT_EQ(op.name, "Del");
  ASSERT_EQ(op.variables.size(), 3u);
  EXPECT_EQ(op.variables[0].type, "String!");
  EXPECT_EQ(op.variables[1].type, "[ID!]!");
  EXPECT_TRUE(op.variables[1].has_default);
  EXPECT_EQ(op.variables[1].default_value.kind, gql::Value::Kind::kList);
}

TEST(GraphqlParser, AliasesAndArgumentValues) {
  auto document = MustParse(
      R"(mutation { gone: volumeDelete(id: "v", n: -1.5e3, ok: true, none: null, e: ENUM,
          list: [1, 2], obj: {a: {b: $x}}) })");
  const gql::Field& field = document.operations[0].selections[0].field;
  EXPECT_EQ(field.alias, "gone");
  EXPECT_EQ(field.name, "volumeDelete");
  ASSERT_EQ(field.arguments.size(), 7u);
  EXPECT_EQ(field.arguments[0].value.kind, gql::Value::Kind::kString);
  EXPECT_EQ(field.arguments[1].value.kind, gql::Value::Kind::kFloat);
  EXPECT_EQ(field.arguments[2].value.kind, gql::Value::Kind::kBoolean);
  EXPECT_EQ(field.arguments[3].value.kind, gql::Value::Kind::kNull);
  EXPECT_EQ(field.arguments[4].value.kind, gql::Value::Kind::kEnum);
  EXPECT_EQ(field.arguments[5].value.items.size(), 2u);
  EXPECT_EQ(field.arguments[6].value.items[0].items[0].kind, gql::Value::Kind::kVariable);
  EXPECT_EQ(field.arguments[6].value.items[0].items[0].text, "x");
}

TEST(GraphqlParser, StringsEscapesAndBlockStrings) {
  auto document = MustParse(
      "mutation { a(s: \"q\\\"\\u00e9\\n\", b: \"\"\"block \\\"\"\" \"quoted\" \n line\"\"\") }");
  const auto& args = document.operations[0].selections[0].field.arguments;
  EXPECT_EQ(args[0].value.text, "q\"\xC3\xA9\n");
  EXPECT_EQ(args[1].value.text, "block \"\"\" \"quoted\" \n line");
}

TEST(GraphqlParser, CommentsAndCommasAreIgnored) {
  auto document = MustParse("# mutation { volumeDelete }\nquery, { a, b # c\n }");
  EXPECT_EQ(document.operations[0].type, gql::OperationType::kQuery);
  EXPECT_EQ(RootNames(document), (std::vector<std::string>{"a", "b"}));
}

TEST(GraphqlParser, FragmentsAndInlineFragmentsFlatten) {
  auto document = MustParse(R"(
    mutation { ...Root ... on Mutation { projectDelete(id: 1) } ... @include(if: true) { c } }
    fragment Root on Mutation { volumeDelete(id: 2) ...More }
    fragment More on Mutation { serviceDelete(id: 3) })");
  EXPECT_EQ(RootNames(document),
            (std::vector<std::string>{"volumeDelete", "serviceDelete", "projectDelete", "c"}));
}

TEST(GraphqlParser, FragmentCyclesAndUnknownFragmentsAreErrors) {
  auto document = MustParse("{ ...A } fragment A on Q { ...B } fragment B on Q { ...A }");
  std::vector<const gql::Field*> fields;
  std::string error;
  EXPECT_FALSE(gql::RootFields(document, document.operations[0], &fields, &error));
  EXPECT_NE(error.find("spreads itself"), std::string::npos);
  auto unknown = MustParse("{ ...Missing }");
  EXPECT_FALSE(gql::RootFields(unknown, unknown.operations[0], &fields, &error));
}

TEST(GraphqlParser, SyntaxErrors) {
  EXPECT_NE(ParseError("mutation { volumeDelete(id: ) }").find("expected a value"),
            std::string::npos);
  ParseError("");
  ParseError("{ a ");
  ParseError("{ }");
  ParseError("{ a(x: \"unterminated) }");
  ParseError("{ a(x: 01) }");
  ParseError("mutation { a(x: $v) } fragment on on X { b }");
  ParseError("type Query { a: Int }");
  ParseError("{ a(x: \"\\q\") }");
  ParseError("query ($v: Int = $w) { a }");
  EXPECT_NE(ParseError("{ a . b }").find("offset"), std::string::npos);
}

TEST(GraphqlParser, DeepNestingIsBounded) {
  std::string deep(1000, '{');
  ParseError(deep);
  std::string list = "{ a(x: " + std::string(500, '[') + std::string(500, ']') + ") }";
  ParseError(list);
}

// ------------------------------------------------------------------ classification

std::string Body(std::string_view query, std::string_view extra = "") {
  std::string escaped;
  for (char c : query) {
    if (c == '"' || c == '\\') escaped.push_back('\\');
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    escaped.push_back(c);
  }
  return "{\"query\": \"" + escaped + "\"" + std::string(extra) + "}";
}

constexpr const char* kRailway = "https://backboard.railway.app/graphql/v2";

TEST(GraphqlClassify, KnownPlatformMutationsAreHeld) {
  auto out = Json(kRailway, Body("mutation { volumeDelete(volumeId: \"v\") }"));
  ASSERT_TRUE(out.Has("cloud.delete")) << out.Classes();
  EXPECT_EQ(out.Find("cloud.delete")->severity, Severity::kCritical);
  EXPECT_TRUE(Json(kRailway, Body("mutation($id: String!) { environmentDelete(id: $id) }",
                                  ", \"variables\": {\"id\": \"e\"}"))
                  .Held());
  EXPECT_TRUE(Json(kRailway, Body("mutation { volumeInstanceBackupDelete(id: \"b\") }"))
                  .Has("backup.delete"));
}

TEST(GraphqlClassify, AliasDoesNotHideTheField) {
  EXPECT_TRUE(Json(kRailway, Body("mutation { harmless: projectDelete(id: \"p\") }")).Held());
}

TEST(GraphqlClassify, FragmentDoesNotHideTheField) {
  EXPECT_TRUE(
      Json(kRailway, Body("mutation { ...F } fragment F on Mutation { serviceDelete(id: 1) }"))
          .Held());
}

TEST(GraphqlClassify, VerbHeuristics) {
  EXPECT_TRUE(Json(kRailway, Body("mutation { workspaceDestroy(id: 1) }")).Held());
  EXPECT_TRUE(Json(kRailway, Body("mutation { purgeQueue(id: 1) }")).Held());
  EXPECT_TRUE(Json(kRailway, Body("mutation { deleteDBInstance(id: 1) }")).Has("db.drop"));
  EXPECT_TRUE(Json(kRailway, Body("mutation { snapshotRemove(id: 1) }")).Has("backup.delete"));
  EXPECT_TRUE(
      Json(kRailway, Body("mutation { backupScheduleDisable(id: 1) }")).Has("backup.delete"));
  EXPECT_FALSE(
      Json(kRailway, Body("mutation { serviceCreate(input: {name: \"x\"}) { id } }")).Held());
  EXPECT_FALSE(
      Json(kRailway, Body("mutation { variableUpsert(input: {name: \"DELETE\"}) }")).Held());
  EXPECT_FALSE(
      Json("https://api.github.com/graphql",
           Body("mutation { removeReaction(input: {subjectId: \"s\"}) { reaction { content } } }"))
          .Held());
  EXPECT_FALSE(Json("https://api.github.com/graphql",
                    Body("mutation { updateRepository(input: {deleteBranchOnMerge: true}) { "
                         "clientMutationId } }"))
                   .Held());
}

TEST(GraphqlClassify, GitHubForceUpdateRef) {
  EXPECT_TRUE(
      Json("https://api.github.com/graphql",
           Body("mutation($i: UpdateRefInput!) { updateRef(input: $i) { ref { name } } }",
                ", \"variables\": {\"i\": {\"refId\": \"r\", \"oid\": \"o\", \"force\": true}}"))
          .Has("git.push.force"));
  EXPECT_FALSE(
      Json("https://api.github.com/graphql",
           Body("mutation { updateRef(input: {refId: \"r\", oid: \"o\"}) { ref { name } } }"))
          .Held());
}

TEST(GraphqlClassify, HasuraWhereDecidesTheReach) {
  const char* hasura = "https://hasura.prod.internal/v1/graphql";
  EXPECT_TRUE(Json(hasura, Body("mutation { delete_users(where: {}) { affected_rows } }"))
                  .Has("db.delete.unbounded"));
  // The empty filter arrives through a variable.
  EXPECT_TRUE(
      Json(hasura,
           Body("mutation($w: users_bool_exp!) { delete_users(where: $w) { affected_rows } }",
                ", \"variables\": {\"w\": {}}"))
          .Has("db.delete.unbounded"));
  auto filtered =
      Json(hasura, Body("mutation { delete_users(where: {id: {_eq: 5}}) { affected_rows } }"));
  EXPECT_TRUE(filtered.Has("db.delete"));
  EXPECT_TRUE(filtered.Held());
  EXPECT_TRUE(
      Json(hasura, Body("mutation { update_users(where: {}, _set: {a: 1}) { affected_rows } }"))
          .Has("db.update.unbounded"));
  EXPECT_FALSE(
      Json(hasura, Body("mutation { insert_users(objects: [{name: \"x\"}]) { affected_rows } }"))
          .Held());
}

TEST(GraphqlClassify, QueriesAreReadsWhateverTheFieldNames) {
  EXPECT_FALSE(
      Json(kRailway,
           Body("query { project(id: \"p\") { services { edges { node { deletedAt } } } } }"))
          .Held());
  EXPECT_FALSE(Json("https://api.github.com/graphql",
                    Body("{ repository(owner: \"o\", name: \"r\") { deleteBranchOnMerge } }"))
                   .Held());
  EXPECT_FALSE(Json(kRailway, Body("query volumeDelete { volumeDelete: me { id } }")).Held());
  EXPECT_FALSE(Json(kRailway, Body("subscription { deploymentDeleted { id } }")).Held());
  // A mutation written only inside a comment or a string.
  EXPECT_FALSE(Json(kRailway, Body("# mutation { volumeDelete }\n{ me { id } }")).Held());
  EXPECT_FALSE(Json(kRailway, Body("{ search(q: \"mutation { volumeDelete }\") { id } }")).Held());
}

TEST(GraphqlClassify, OperationNamePicksTheOperation) {
  const std::string doc = "query Read { me { id } } mutation Kill { projectDelete(id: 1) }";
  EXPECT_FALSE(Json(kRailway, Body(doc, ", \"operationName\": \"Read\"")).Held());
  EXPECT_TRUE(Json(kRailway, Body(doc, ", \"operationName\": \"Kill\"")).Held());
  // No name with several operations: every one is looked at.
  EXPECT_TRUE(Json(kRailway, Body(doc)).Held());
  EXPECT_TRUE(Json(kRailway, Body(doc, ", \"operationName\": \"Nope\"")).Has("opaque.http"));
}

TEST(GraphqlClassify, BadDocumentsAreOpaque) {
  auto out = Json(kRailway, Body("mutation { volumeDelete(volumeId: ) }"));
  ASSERT_TRUE(out.Has("opaque.http"));
  EXPECT_NE(out.Find("opaque.http")->reason.find("does not parse"), std::string::npos);
  EXPECT_TRUE(Json(kRailway, "{not json").Has("opaque.http"));
  EXPECT_TRUE(
      Json(kRailway, R"({"extensions":{"persistedQuery":{"sha256Hash":"x"}}})").Has("opaque.http"));
}

TEST(GraphqlClassify, OtherTransports) {
  EXPECT_TRUE(
      Send("GET", "https://api.example.com/graphql?query=mutation%7BprojectDelete(id%3A1)%7D")
          .Held());
  EXPECT_FALSE(Send("GET", "https://api.example.com/graphql?query=%7Bme%7Bid%7D%7D").Held());
  EXPECT_FALSE(Send("GET", "https://api.example.com/graphql").Held());
  EXPECT_TRUE(Send("POST", "https://api.example.com/api", {{"Content-Type", "application/graphql"}},
                   "mutation { serviceDelete(id: 1) }")
                  .Held());
  // Batched.
  EXPECT_TRUE(Json(kRailway, "[" + Body("{ me { id } }") + "," +
                                 Body("mutation { volumeDelete(volumeId: \"v\") }") + "]")
                  .Held());
  // A mutation sent to a path that does not say graphql.
  EXPECT_TRUE(Json("https://unknown.invalid/v2", Body("mutation { volumeDelete(volumeId: \"v\") }"))
                  .Held());
}

}  // namespace
}  // namespace dualkey::http
