// The MCP proxy's gate on bytes: invalid UTF-8 from either side never
// crashes it, never reaches the server from the client, and a tool list it
// cannot read makes every tool count as destructive until it can.
#include "proxy/mcp/internal/gate.h"

#include <gtest/gtest.h>

#include "base/json_text.h"

namespace dualkey::mcpproxy::internal {
namespace {

using nlohmann::json;

Gate MakeGate() {
  GateConfig config;
  config.server_name = "weather";
  config.cwd = "/tmp";
  config.home = "/tmp";
  // No daemon: whatever is not allowed locally is held.
  return Gate(config, policy::Builtin());
}

std::string Call(int id, const std::string& tool) {
  return json{{"jsonrpc", "2.0"},
              {"id", id},
              {"method", "tools/call"},
              {"params", {{"name", tool}, {"arguments", json::object()}}}}
      .dump();
}

std::string ToolsList(int id) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/list"}}.dump();
}

bool Forwarded(const ClientMessage& message) {
  return !message.forward.empty();
}

TEST(McpGate, ClientBytesThatAreNotUtf8AreRefusedWithTheirId) {
  Gate gate = MakeGate();
  const std::string line =
      "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"drop\xff\"}}";
  ClientMessage message;
  ASSERT_NO_THROW(message = gate.FromClient(line));
  EXPECT_FALSE(Forwarded(message));
  ASSERT_EQ(message.replies.size(), 1u);
  EXPECT_EQ(message.replies[0]["id"], 7);
  EXPECT_EQ(message.replies[0]["error"]["code"], kParseError);
  const std::string text = Gate::ReplyText(message);
  EXPECT_TRUE(base::IsValidUtf8(text));
  EXPECT_NE(text.find("not valid UTF-8 (byte"), std::string::npos) << text;
}

TEST(McpGate, AnIdThatWasItselfDamagedIsAnsweredAsNull) {
  Gate gate = MakeGate();
  ClientMessage message =
      gate.FromClient("{\"jsonrpc\":\"2.0\",\"id\":\"a\xc3\",\"method\":\"ping\"}");
  ASSERT_EQ(message.replies.size(), 1u);
  EXPECT_TRUE(message.replies[0]["id"].is_null());
  EXPECT_FALSE(Forwarded(message));
}

TEST(McpGate, AHintInAListWithBadBytesIsStillRead) {
  Gate gate = MakeGate();
  ASSERT_TRUE(Forwarded(gate.FromClient(Call(1, "get_weather"))))
      << "a reading tool without hints passes: the test below would prove nothing otherwise";
  ASSERT_TRUE(Forwarded(gate.FromClient(ToolsList(2))));
  const std::string answer =
      "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"tools\":[{\"name\":\"get_weather\","
      "\"description\":\"caf\xff\",\"annotations\":{\"destructiveHint\":true}}]}}";
  std::vector<std::string> ids;
  ASSERT_NO_THROW(ids = gate.FromServerText(answer));
  EXPECT_EQ(ids, std::vector<std::string>{"2"});
  EXPECT_FALSE(Forwarded(gate.FromClient(Call(3, "get_weather"))));
}

TEST(McpGate, AnUnreadableToolListHoldsEveryToolUntilAListIsRead) {
  Gate gate = MakeGate();
  ASSERT_TRUE(Forwarded(gate.FromClient(ToolsList(1))));
  EXPECT_TRUE(gate.FromServerText("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[").empty());
  EXPECT_FALSE(Forwarded(gate.FromClient(Call(2, "get_weather"))));
  // A readable first page says what the tools are again.
  ASSERT_TRUE(Forwarded(gate.FromClient(ToolsList(3))));
  gate.FromServerText(
      "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"tools\":[{\"name\":\"get_weather\"}]}}");
  EXPECT_TRUE(Forwarded(gate.FromClient(Call(4, "get_weather"))));
}

TEST(McpGate, AnOversizedAnswerToAToolsListCountsAsUnreadable) {
  Gate gate = MakeGate();
  ASSERT_TRUE(Forwarded(gate.FromClient(ToolsList(1))));
  gate.ServerMessageUnread("", "too large");
  EXPECT_FALSE(Forwarded(gate.FromClient(Call(2, "get_weather"))));
}

TEST(McpGate, UnreadableMessagesWithNoToolListPendingChangeNothing) {
  Gate gate = MakeGate();
  gate.FromServerText("not json \xff");
  gate.ServerMessageUnread("", "too large");
  EXPECT_TRUE(Forwarded(gate.FromClient(Call(1, "get_weather"))));
}

TEST(McpGate, AnnotationsOfTheWrongTypeFailClosedInsteadOfThrowing) {
  Gate gate = MakeGate();
  ASSERT_TRUE(Forwarded(gate.FromClient(ToolsList(1))));
  gate.FromServerText(
      R"({"jsonrpc":"2.0","id":1,"result":{"tools":[)"
      R"({"name":"get_weather","annotations":{"destructiveHint":"yes","readOnlyHint":"sure"}},)"
      R"({"name":"get_time","annotations":"destructive"},)"
      R"({"name":"get_date","annotations":{"readOnlyHint":true,"destructiveHint":false}}]}})");
  ClientMessage weather, time, date;
  ASSERT_NO_THROW(weather = gate.FromClient(Call(2, "get_weather")));
  ASSERT_NO_THROW(time = gate.FromClient(Call(3, "get_time")));
  ASSERT_NO_THROW(date = gate.FromClient(Call(4, "get_date")));
  EXPECT_FALSE(Forwarded(weather));
  EXPECT_FALSE(Forwarded(time));
  EXPECT_TRUE(Forwarded(date));
}

TEST(McpGate, ParseErrorsAreAlwaysPrintable) {
  json out;
  std::string error;
  EXPECT_FALSE(ParseStrict("{\"a\":\"\xc3\x28\"}", &out, &error));
  EXPECT_TRUE(base::IsValidUtf8(error)) << error;
  EXPECT_FALSE(ParseStrict("{\"a\":1,\"a\":2}", &out, &error));
  EXPECT_NE(error.find("duplicate"), std::string::npos);
}

}  // namespace
}  // namespace dualkey::mcpproxy::internal
