#include "mcp/mcp.h"

#include <gtest/gtest.h>

namespace dualkey::mcp {
namespace {

using nlohmann::json;

bool Held(const std::string& call_json) {
  Result<ToolCall> call = ParseToolCallJson(call_json);
  EXPECT_TRUE(call.ok()) << call.status().message();
  if (!call.ok()) return false;
  for (const Action& action : Classify(*call, {"/home/dev/app", "/home/dev"}))
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

// The program and its arguments given apart (as MCP servers' configs and
// process tools take them) are one command line: bash -c hides nothing.
TEST(McpShell, ProgramAndArgumentsGivenApartAreOneCommand) {
  EXPECT_TRUE(Held(Call("terminal", "execute",
                        {{"command", "bash"}, {"args", {"-c", "rm -rf /home/dev/files"}}})));
  EXPECT_TRUE(
      Held(Call("terminal", "execute", {{"command", "rm"}, {"args", {"-rf", "/home/dev/files"}}})));
  EXPECT_TRUE(
      Held(Call("proc", "spawn", {{"process", {{"cmd", "sh"}, {"argv", {"-c", "dropdb prod"}}}}})));
  EXPECT_FALSE(
      Held(Call("terminal", "execute", {{"command", "ls"}, {"args", {"-la", "/home/dev/files"}}})));
  EXPECT_FALSE(
      Held(Call("terminal", "execute", {{"command", "bash"}, {"args", {"-c", "git status"}}})));
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

TEST(McpCommands, ArgvArraysAreCommandLines) {
  EXPECT_TRUE(Held(Call("k8s", "kubectl", {{"args", {"delete", "namespace", "prod"}}})));
  EXPECT_FALSE(Held(Call("k8s", "kubectl", {{"args", {"get", "pods", "-n", "prod"}}})));
  EXPECT_TRUE(
      Held(Call("gcp", "run_gcloud", {{"argv", {"sql", "instances", "delete", "prod-db"}}})));
  EXPECT_FALSE(Held(Call("gcp", "run_gcloud", {{"argv", {"sql", "instances", "list"}}})));
  // No program named by the tool: the argv is read for its verbs.
  EXPECT_TRUE(Held(Call("ops", "execute", {{"args", {"sql", "instances", "delete", "prod"}}})));
  EXPECT_TRUE(Held(Call("shell", "exec", {{"command", {"rm", "-rf", "/srv/app"}}})));
  EXPECT_FALSE(Held(Call("shell", "exec", {{"command", {"ls", "-la", "/srv/app"}}})));
}

TEST(McpCommands, RedisCommandsWhateverTheToolIsCalled) {
  EXPECT_TRUE(Held(Call("cache", "redis_command", {{"cmd", "FLUSHDB"}})));
  EXPECT_FALSE(Held(Call("cache", "redis_command", {{"cmd", "GET user:1"}})));
  EXPECT_TRUE(Held(Call("redis", "execute_command", {{"command", "flushall"}})));
  EXPECT_TRUE(Held(Call("tools", "execute_command", {{"command", "FLUSHALL"}})));
  EXPECT_TRUE(Held(Call("valkey", "run", {{"args", {"FLUSHALL", "ASYNC"}}})));
  EXPECT_FALSE(Held(Call("valkey", "run", {{"args", {"HGETALL", "session:9"}}})));
}

TEST(McpCommands, SqlInACommandArgument) {
  EXPECT_TRUE(Held(Call("db", "execute_command", {{"command", "DROP TABLE users"}})));
  EXPECT_FALSE(Held(Call("db", "execute_command", {{"command", "SELECT count(*) FROM users"}})));
}

TEST(McpCommands, CommandShapedArgumentsOfToolsThatRun) {
  EXPECT_TRUE(Held(Call("ops", "run_in_terminal", {{"input", "rm -rf /var/lib/postgresql"}})));
  EXPECT_FALSE(Held(Call("chat", "send_message", {{"text", "rm -rf /var/lib/postgresql"}})));
}

TEST(McpTamper, ReadingTheGuardsSecretsOrWritingItsFiles) {
  EXPECT_TRUE(
      Held(Call("fs", "read_file", {{"path", "/home/dev/.local/state/dualkey/audit.key"}})));
  EXPECT_FALSE(Held(Call("fs", "read_file", {{"path", "/home/dev/.claude/settings.json"}})));
  EXPECT_TRUE(Held(
      Call("fs", "write_file", {{"path", "/home/dev/.claude/settings.json"}, {"content", "{}"}})));
  EXPECT_TRUE(Held(Call("fs", "delete_file", {{"path", "~/.cursor/hooks.json"}})));
}

TEST(McpParse, BadCallsAreRejected) {
  EXPECT_FALSE(ParseToolCallJson("not json").ok());
  EXPECT_TRUE(ParseToolCallJson("{\"server\":\"s\"}").status().Is(Status::Code::kInvalidArgument));
  EXPECT_FALSE(ParseToolCallJson("{\"tool\":\"t\",\"arguments\":[1]}").ok());
  EXPECT_TRUE(ParseToolCallJson("{\"tool\":\"t\"}").ok());
  // Fields of the wrong type are refused or not believed, never an exception.
  EXPECT_TRUE(
      ParseToolCallJson(R"({"tool":"t","server":1})").status().Is(Status::Code::kInvalidArgument));
  Result<ToolCall> odd_hints = ParseToolCallJson(
      R"({"tool":"t","annotations":{"destructiveHint":"yes","readOnlyHint":"yes"}})");
  ASSERT_TRUE(odd_hints.ok());
  EXPECT_TRUE(odd_hints->destructive_hint) << "an unreadable destructive hint counts as given";
  EXPECT_FALSE(odd_hints->read_only_hint);
  Result<ToolCall> plain = ParseToolCallJson(
      R"({"tool":"t","server":null,"annotations":{"destructiveHint":false,"readOnlyHint":true}})");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->destructive_hint);
  EXPECT_TRUE(plain->read_only_hint);
}

TEST(McpLimits, DeeplyNestedArgumentsAreHeld) {
  json deep = "x";
  for (int i = 0; i < 40; ++i) deep = json{{"a", deep}};
  EXPECT_TRUE(Held(Call("s", "get_thing", deep)));
}

}  // namespace
}  // namespace dualkey::mcp
