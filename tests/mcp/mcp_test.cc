#include "mcp/mcp.h"

#include <gtest/gtest.h>

namespace dualkey::mcp {
namespace {

using nlohmann::json;

bool Held(const std::string& call_json) {
  ToolCall call;
  std::string error;
  EXPECT_TRUE(ParseToolCallJson(call_json, &call, &error)) << error;
  for (const Action& action : Classify(call, {"/home/dev/app", "/home/dev"}))
    if (IsDestructive(action)) return true;
  return false;
}

std::string Call(std::string server, std::string tool, json arguments, json annotations = nullptr) {
  json call{{"server", server}, {"tool", tool}, {"arguments", arguments}};
  if (!annotations.is_null()) call["annotations"] = annotations;
  return call.dump();
}

TEST(McpSql, SqlArgumentsGoThroughTheSqlModule) {
  EXPECT_TRUE(Held(Call("pg", "run", {{"sql", "DROP SCHEMA public CASCADE"}})));
  EXPECT_FALSE(Held(Call("pg", "run", {{"sql", "SELECT 1"}})));
  EXPECT_TRUE(Held(Call("mysql", "query", {{"query", "DELETE FROM `orders`"}})));
  EXPECT_FALSE(Held(Call("mysql", "query", {{"query", "SELECT * FROM orders WHERE id = 3"}})));
}

TEST(McpSql, ReadOnlyHintIsNotTrusted) {
  EXPECT_TRUE(Held(Call("pg", "safe_read", {{"sql", "TRUNCATE users"}}, {{"readOnlyHint", true}})));
}

TEST(McpSql, SearchQueriesAreProseNotSql) {
  EXPECT_FALSE(Held(Call("docs", "search_docs", {{"query", "how to drop a table safely"}})));
  EXPECT_FALSE(Held(Call("github", "search_issues", {{"q", "DROP TABLE in:title"}})));
}

TEST(McpShell, CommandArgumentsGoThroughTheShellGuard) {
  EXPECT_TRUE(
      Held(Call("desktop-commander", "execute_command", {{"command", "sudo rm -rf /var/lib"}})));
  EXPECT_FALSE(Held(Call("desktop-commander", "execute_command", {{"command", "npm test"}})));
  EXPECT_TRUE(Held(Call("aws", "call_aws", {{"cli_command", "aws s3 rb s3://prod --force"}})));
}

TEST(McpFiles, PathsOfWritingToolsAreChecked) {
  EXPECT_TRUE(Held(Call("filesystem", "delete_file", {{"path", "/var/backups/db.dump"}})));
  EXPECT_TRUE(Held(Call("filesystem", "write_file", {{"path", "/etc/passwd"}, {"content", "x"}})));
  EXPECT_FALSE(Held(Call("filesystem", "write_file",
                         {{"path", "/home/dev/app/notes.md"}, {"content", "rm -rf /"}})));
  EXPECT_FALSE(Held(Call("filesystem", "read_file", {{"path", "/var/backups/db.dump"}})));
}

TEST(McpNames, DestroyingToolNamesAreHeld) {
  EXPECT_TRUE(Held(Call("mongodb", "drop-collection", {{"collection", "orders"}})));
  EXPECT_TRUE(Held(Call("fly", "volumesDestroy", {{"id", "vol_1"}})));
  EXPECT_TRUE(Held(Call("gh", "deleteBranch", {{"branch", "main"}})));
  EXPECT_TRUE(Held(Call("s3", "purge_bucket", {{"bucket", "x"}})));
}

TEST(McpNames, OrdinaryToolsAreAllowed) {
  EXPECT_FALSE(Held(Call("github", "create_pull_request", {{"title", "delete old code"}})));
  EXPECT_FALSE(Held(Call("github", "get_file_contents", {{"path", "README.md"}})));
  EXPECT_FALSE(Held(Call("slack", "send_message", {{"text", "dropping the table tomorrow"}})));
}

TEST(McpNames, UnknownToolsFailClosed) {
  EXPECT_TRUE(Held(Call("weird", "frobnicate", {{"x", 1}})));
  EXPECT_TRUE(Held(Call("weird", "frobnicate", {{"x", 1}}, {{"readOnlyHint", true}})));
}

TEST(McpHints, DestructiveHintAddsCaution) {
  EXPECT_TRUE(Held(Call("svc", "update_settings", {{"x", 1}}, {{"destructiveHint", true}})));
}

TEST(McpParse, BadCallsAreRejected) {
  ToolCall call;
  std::string error;
  EXPECT_FALSE(ParseToolCallJson("not json", &call, &error));
  EXPECT_FALSE(ParseToolCallJson("{\"server\":\"s\"}", &call, &error));
  EXPECT_FALSE(ParseToolCallJson("{\"tool\":\"t\",\"arguments\":[1]}", &call, &error));
  EXPECT_TRUE(ParseToolCallJson("{\"tool\":\"t\"}", &call, &error));
}

TEST(McpLimits, DeeplyNestedArgumentsAreHeld) {
  json deep = "x";
  for (int i = 0; i < 40; ++i) deep = json{{"a", deep}};
  EXPECT_TRUE(Held(Call("s", "get_thing", deep)));
}

}  // namespace
}  // namespace dualkey::mcp
