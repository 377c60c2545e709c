// `dualkey mcp` end to end: real MCP servers from npm (filesystem, postgres
// against a real PostgreSQL, everything), the official SDK client, a real
// daemon with a TOTP approver. Each server runs behind `tee`, so the tests see
// every byte that reached it and can say a held call never did.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <set>

#include "../approval/pg_harness.h"
#include "base/free_port.h"
#include "harness.h"

namespace dualkey::testing {
namespace {

class McpProxy : public ::testing::Test {
 protected:
  void SetUp() override {
    const NodePackages& packages = NodePackages::Get();
    ASSERT_TRUE(packages.ok()) << packages.error();
    root_ = fs::path(DUALKEY_BINARY).parent_path() /
            ("mcp-proxy-test-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    // A home of its own: files in it are the user's project files to the
    // classifier (under the build tree they would count as disposable).
    project_ = root_ / "home" / "project";
    fs::create_directories(project_);
    log_ = (root_ / "server-input.log").string();
    std::ofstream(log_).close();
  }
  void TearDown() override { fs::remove_all(root_); }

  std::vector<std::string> Env() const {
    return {"HOME=" + (root_ / "home").string(), "XDG_CONFIG_HOME=" + (root_ / "config").string()};
  }

  // `dualkey mcp [extra] -- sh -c 'tee -a LOG | node SERVER ARGS...'`
  json ProxyCommand(const std::vector<std::string>& server_args,
                    const std::vector<std::string>& extra = {}) const {
    json args = json::array({"mcp", "--socket", socket_});
    for (const std::string& e : extra) args.push_back(e);
    args.push_back("--");
    args.push_back("sh");
    args.push_back("-c");
    args.push_back("tee -a \"$0\" | exec node \"$@\"");
    args.push_back(log_);
    for (const std::string& a : server_args) args.push_back(a);
    return json{{"op", "connect"},           {"transport", "stdio"},
                {"command", DUALKEY_BINARY}, {"args", args},
                {"cwd", project_.string()},  {"env", {{"HOME", (root_ / "home").string()}}}};
  }

  std::string ServerInput() const { return ReadAll(log_); }

  fs::path root_;
  fs::path project_;
  std::string log_;
  std::string socket_ = "/nonexistent/dualkey-test.sock";  // no daemon unless a test starts one
};

TEST_F(McpProxy, FilesystemReadsPassDestructiveCallsAreHeldAndNeverReachTheServer) {
  const fs::path notes = project_ / "notes.txt";
  std::ofstream(notes) << "keep me\n";
  NodeClient client(Env());
  json connected =
      client.Do(ProxyCommand({NodePackages::Get().FilesystemServer(), project_.string()}));
  ASSERT_TRUE(connected.value("ok", false)) << connected.dump();
  json tools = client.Do({{"op", "list"}});
  ASSERT_TRUE(tools.value("ok", false)) << tools.dump();

  json read = client.Call("read_text_file", {{"path", notes.string()}});
  ASSERT_TRUE(read.value("ok", false)) << read.dump();
  EXPECT_FALSE(read["result"].value("isError", false)) << read.dump();
  EXPECT_EQ(ResultText(read), "keep me\n");
  json listed = client.Call("list_directory", {{"path", project_.string()}});
  EXPECT_NE(ResultText(listed).find("notes.txt"), std::string::npos) << listed.dump();

  // write_file and move_file declare destructiveHint in tools/list: the
  // proxy passes that on, and with no daemon to ask, they are held.
  json write = client.Call("write_file", {{"path", notes.string()}, {"content", "gone"}});
  EXPECT_TRUE(IsHeld(write)) << write.dump();
  EXPECT_NE(ResultText(write).find("daemon could not be reached"), std::string::npos)
      << write.dump();
  json move = client.Call("move_file", {{"source", notes.string()},
                                        {"destination", (project_ / "moved.txt").string()}});
  EXPECT_TRUE(IsHeld(move)) << move.dump();

  EXPECT_EQ(ReadAll(notes), "keep me\n");
  EXPECT_FALSE(fs::exists(project_ / "moved.txt"));
  const std::string seen = ServerInput();
  EXPECT_NE(seen.find("read_text_file"), std::string::npos) << "the log must see what passes";
  EXPECT_EQ(seen.find("write_file"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("move_file"), std::string::npos) << seen;
}

TEST_F(McpProxy, PostgresSelectPassesDropIsHeldAndTheTableStays) {
  PgHarness pg;
  if (pg.binaries_missing()) GTEST_SKIP() << pg.error();
  ASSERT_TRUE(pg.ok()) << pg.error();
  const std::string uri = pg.CreateDatabase("mcpshop");
  ASSERT_FALSE(uri.empty()) << pg.error();
  auto sql = [&](const std::string& text) {
    PGconn* conn = PQconnectdb(uri.c_str());
    PGresult* result = PQexec(conn, text.c_str());
    std::string value = PQntuples(result) > 0 ? PQgetvalue(result, 0, 0) : "";
    PQclear(result);
    PQfinish(conn);
    return value;
  };
  sql("CREATE TABLE orders (id int PRIMARY KEY, total numeric); "
      "INSERT INTO orders SELECT g, g * 10 FROM generate_series(1, 42) g");

  NodeClient client(Env());
  json connected = client.Do(ProxyCommand({NodePackages::Get().PostgresServer(), uri}));
  ASSERT_TRUE(connected.value("ok", false)) << connected.dump();
  ASSERT_TRUE(client.Do({{"op", "list"}}).value("ok", false));

  json select = client.Call("query", {{"sql", "SELECT count(*) AS n FROM orders"}});
  ASSERT_TRUE(select.value("ok", false)) << select.dump();
  EXPECT_FALSE(select["result"].value("isError", false)) << select.dump();
  EXPECT_NE(ResultText(select).find("42"), std::string::npos) << select.dump();

  json drop = client.Call("query", {{"sql", "DROP TABLE orders"}});
  EXPECT_TRUE(IsHeld(drop)) << drop.dump();
  EXPECT_NE(ResultText(drop).find("DROP"), std::string::npos) << drop.dump();
  json wipe = client.Call("query", {{"sql", "DELETE FROM orders"}});
  EXPECT_TRUE(IsHeld(wipe)) << wipe.dump();

  EXPECT_EQ(sql("SELECT count(*) FROM orders"), "42");
  const std::string seen = ServerInput();
  EXPECT_NE(seen.find("SELECT count(*)"), std::string::npos);
  EXPECT_EQ(seen.find("DROP TABLE"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("DELETE FROM"), std::string::npos) << seen;
}

TEST_F(McpProxy, ApprovedCallPassesExactlyOnce) {
  RealDaemon daemon(root_ / "state");
  ASSERT_TRUE(daemon.ok());
  socket_ = daemon.socket();
  NodeClient client(Env());
  json connected =
      client.Do(ProxyCommand({NodePackages::Get().EverythingServer(), "stdio"}, {"-v"}));
  ASSERT_TRUE(connected.value("ok", false)) << connected.dump();
  ASSERT_TRUE(client.Do({{"op", "list"}}).value("ok", false));

  // get-sum reads; echo is a name dualkey cannot read (held, whatever its
  // readOnlyHint says).
  json sum = client.Call("get-sum", {{"a", 2}, {"b", 3}});
  EXPECT_NE(ResultText(sum).find("5"), std::string::npos) << sum.dump();
  json held = client.Call("echo", {{"message", "launch"}});
  ASSERT_TRUE(IsHeld(held)) << held.dump();
  const std::string id = held["result"]["_meta"]["dualkey"].value("approval_id", "");
  ASSERT_FALSE(id.empty()) << held.dump();
  EXPECT_NE(ResultText(held).find("dualkey approve " + id), std::string::npos) << held.dump();
  // Asking again before approval: still held, same approval.
  json again = client.Call("echo", {{"message", "launch"}});
  EXPECT_EQ(again["result"]["_meta"]["dualkey"].value("approval_id", ""), id);

  ShellOutput approved = daemon.Approve(id);
  ASSERT_EQ(approved.status, 0) << approved.out;
  // Another call is another approval.
  EXPECT_TRUE(IsHeld(client.Call("echo", {{"message", "launch2"}})));
  json passed = client.Call("echo", {{"message", "launch"}});
  ASSERT_TRUE(passed.value("ok", false)) << passed.dump();
  EXPECT_FALSE(passed["result"].value("isError", false)) << passed.dump();
  EXPECT_EQ(ResultText(passed), "Echo: launch");
  EXPECT_TRUE(IsHeld(client.Call("echo", {{"message", "launch"}}))) << "used once";

  const std::string seen = ServerInput();
  EXPECT_EQ(Count(seen, "\"name\":\"echo\""), 1) << seen;
  EXPECT_EQ(Count(seen, "launch2"), 0) << seen;
}

// Raw JSON-RPC over the proxy's own stdio, without an SDK smoothing things.
class RawProxy : public McpProxy {
 protected:
  std::unique_ptr<Child> Start(const std::vector<std::string>& server,
                               const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {DUALKEY_BINARY, "mcp", "--socket", socket_};
    for (const std::string& e : extra) argv.push_back(e);
    argv.push_back("--");
    for (const std::string& s : server) argv.push_back(s);
    return std::make_unique<Child>(argv, Env(), project_.string());
  }
  std::unique_ptr<Child> StartEverything(const std::vector<std::string>& extra = {}) {
    return Start({"sh", "-c", "tee -a \"$0\" | exec node \"$@\"", log_,
                  NodePackages::Get().EverythingServer(), "stdio"},
                 extra);
  }
  static std::string Initialize(int id) {
    return json{{"jsonrpc", "2.0"},
                {"id", id},
                {"method", "initialize"},
                {"params",
                 {{"protocolVersion", "2025-06-18"},
                  {"capabilities", json::object()},
                  {"clientInfo", {{"name", "raw"}, {"version", "1"}}}}}}
        .dump();
  }
  static std::string EchoCall(const json& id, const std::string& message) {
    return json{{"jsonrpc", "2.0"},
                {"id", id},
                {"method", "tools/call"},
                {"params", {{"name", "echo"}, {"arguments", {{"message", message}}}}}}
        .dump();
  }
};

TEST_F(RawProxy, BadInputGetsJsonRpcErrorsAndIsNeverForwarded) {
  auto proxy = StartEverything({"--max-message-bytes", "4096"});

  // What answers a request: the server's own notifications
  // (notifications/tools/list_changed) may come at any time and are skipped.
  auto reply = [&](int timeout_ms = 20000) {
    for (int skipped = 0; skipped < 16; ++skipped) {
      std::optional<json> message = proxy->ReadJson(timeout_ms);
      if (!message || !message->is_object() || !message->contains("method") ||
          message->contains("id"))
        return message;
    }
    return std::optional<json>();
  };
  ASSERT_TRUE(proxy->WriteLine(Initialize(1)));
  std::optional<json> init = reply();
  ASSERT_TRUE(init && init->contains("result")) << (init ? init->dump() : "no answer");
  ASSERT_TRUE(proxy->WriteLine(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"));

  ASSERT_TRUE(proxy->WriteLine(R"({"jsonrpc":"2.0","id":2,"method":"tools/ca)"));
  std::optional<json> parse_error = reply();
  ASSERT_TRUE(parse_error);
  EXPECT_EQ((*parse_error)["error"]["code"], -32700) << parse_error->dump();
  EXPECT_TRUE((*parse_error)["id"].is_null());

  // The same key twice: our parser and the server's might each keep a
  // different one. Refused.
  ASSERT_TRUE(proxy->WriteLine(
      R"({"jsonrpc":"2.0","id":3,"method":"ping","method":"tools/call","params":{"name":"echo","arguments":{"message":"smuggled"}}})"));
  std::optional<json> duplicate = reply();
  ASSERT_TRUE(duplicate);
  EXPECT_EQ((*duplicate)["error"]["code"], -32700) << duplicate->dump();

  ASSERT_TRUE(proxy->WriteLine(EchoCall(4, std::string(8000, 'x'))));
  std::optional<json> oversized = reply();
  ASSERT_TRUE(oversized);
  EXPECT_EQ((*oversized)["error"]["code"], -32600) << oversized->dump();

  ASSERT_TRUE(
      proxy->WriteLine(R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":7}})"));
  std::optional<json> bad_params = reply();
  ASSERT_TRUE(bad_params);
  EXPECT_EQ((*bad_params)["error"]["code"], -32602) << bad_params->dump();
  EXPECT_EQ((*bad_params)["id"], 5);

  ASSERT_TRUE(proxy->WriteLine("42"));
  std::optional<json> not_rpc = reply();
  ASSERT_TRUE(not_rpc);
  EXPECT_EQ((*not_rpc)["error"]["code"], -32600) << not_rpc->dump();

  // A batch: the held call is answered by dualkey, the rest is forwarded.
  ASSERT_TRUE(proxy->WriteLine("[" + EchoCall(6, "batched") +
                               R"(,{"jsonrpc":"2.0","id":7,"method":"ping"}])"));
  // Two answers, in either order: dualkey's for the held call (a batch of
  // one) and the server's for the forwarded ping.
  // The server's own notifications (tools/list_changed) and its answer to
  // the forwarded ping may come first: dualkey's answer is the batch that
  // holds id 6.
  std::optional<json> batch;
  for (int read = 0; read < 6 && !batch; ++read) {
    std::optional<json> message = reply();
    if (!message) break;
    if (message->is_array())
      for (const json& item : *message)
        if (item.is_object() && item.value("id", json()) == 6) batch = message;
  }
  ASSERT_TRUE(batch && batch->is_array()) << (batch ? batch->dump() : "no answer");
  ASSERT_EQ(batch->size(), 1u);
  EXPECT_EQ((*batch)[0]["id"], 6);
  EXPECT_TRUE((*batch)[0]["result"].value("isError", false));

  // Requests still flow afterwards, ids and all.
  ASSERT_TRUE(proxy->WriteLine(R"({"jsonrpc":"2.0","id":"after","method":"ping"})"));
  bool pinged = false;
  for (int i = 0; i < 5 && !pinged; ++i) {
    std::optional<json> answer = reply(5000);
    if (!answer) break;
    pinged = answer->is_object() && answer->value("id", json()) == "after";
  }
  EXPECT_TRUE(pinged);

  proxy->CloseStdin();
  EXPECT_EQ(proxy->Wait(5000), 0) << "the proxy exits when the client goes";
  const std::string seen = ServerInput();
  EXPECT_NE(seen.find("\"after\""), std::string::npos);
  EXPECT_EQ(seen.find("smuggled"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("batched"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("xxxxxxxx"), std::string::npos);
  EXPECT_EQ(seen.find("tools/ca"), std::string::npos);
}

TEST_F(RawProxy, ServerThatDiesAnswersPendingRequestsAndExitsWithItsStatus) {
  // Reads one message, then dies without answering.
  auto proxy = Start({"sh", "-c", "head -n 1 >/dev/null; exit 3"});
  ASSERT_TRUE(proxy->WriteLine(R"({"jsonrpc":"2.0","id":11,"method":"ping"})"));
  std::optional<json> answer = proxy->ReadJson(10000);
  ASSERT_TRUE(answer);
  EXPECT_EQ((*answer)["id"], 11) << answer->dump();
  EXPECT_EQ((*answer)["error"]["code"], -32001) << answer->dump();
  EXPECT_EQ(proxy->Wait(5000), 3);
}

TEST_F(RawProxy, ServerThatCannotStartIsAnError) {
  auto proxy = Start({"/nonexistent/mcp-server"});
  EXPECT_EQ(proxy->Wait(5000), 2);
}

TEST_F(RawProxy, FloodingClientGetsEveryAnswer) {
  auto proxy = StartEverything();
  ASSERT_TRUE(proxy->WriteLine(Initialize(0)));
  ASSERT_TRUE(proxy->ReadJson());
  constexpr int kCalls = 1500;
  std::thread writer([&] {
    for (int i = 1; i <= kCalls; ++i) {
      // Half held by dualkey, half answered by the server.
      std::string line = i % 2 == 0
                             ? EchoCall(i, "flood")
                             : json{{"jsonrpc", "2.0"}, {"id", i}, {"method", "ping"}}.dump();
      if (!proxy->WriteLine(line)) break;
    }
  });
  std::set<int> answered;
  while (static_cast<int>(answered.size()) < kCalls) {
    std::optional<json> answer = proxy->ReadJson(20000);
    if (!answer) break;
    if (answer->is_object() && (*answer)["id"].is_number_integer())
      answered.insert((*answer)["id"].get<int>());
  }
  writer.join();
  EXPECT_EQ(static_cast<int>(answered.size()), kCalls);
  EXPECT_EQ(Count(ServerInput(), "flood"), 0);
  proxy->CloseStdin();
  EXPECT_EQ(proxy->Wait(5000), 0);
}

}  // namespace
}  // namespace dualkey::testing

namespace dualkey::testing {
namespace {

// server-everything on Streamable HTTP; its stdout (one "Received MCP POST
// request" per POST) goes to a file, so the test can count what reached it.
TEST_F(McpProxy, StreamableHttpHoldsApprovesAndPassesOnce) {
  RealDaemon daemon(root_ / "state");
  ASSERT_TRUE(daemon.ok());
  const int port = base::FreeLoopbackPort();
  const std::string server_log = (root_ / "http-server.log").string();
  Child server({"sh", "-c", "exec node \"$0\" streamableHttp >\"$1\" 2>&1",
                NodePackages::Get().EverythingServer(), server_log},
               {"PORT=" + std::to_string(port)});
  for (int i = 0; i < 200 && ReadAll(server_log).find("listening") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  ASSERT_NE(ReadAll(server_log).find("listening"), std::string::npos) << ReadAll(server_log);

  Child proxy({DUALKEY_BINARY, "mcp", "--socket", daemon.socket(), "--upstream",
               "http://127.0.0.1:" + std::to_string(port) + "/mcp"},
              Env(), project_.string());
  std::optional<std::string> url = proxy.ReadLine(10000);
  ASSERT_TRUE(url && url->rfind("http://127.0.0.1:", 0) == 0) << url.value_or("no URL");

  NodeClient client(Env());
  json connected = client.Do({{"op", "connect"}, {"transport", "http"}, {"url", *url}});
  ASSERT_TRUE(connected.value("ok", false)) << connected.dump();
  ASSERT_TRUE(client.Do({{"op", "list"}}).value("ok", false));
  json sum = client.Call("get-sum", {{"a", 20}, {"b", 22}});
  EXPECT_NE(ResultText(sum).find("42"), std::string::npos) << sum.dump();

  auto posts = [&] { return Count(ReadAll(server_log), "Received MCP POST request"); };
  const int before = posts();
  json held = client.Call("echo", {{"message", "over http"}});
  ASSERT_TRUE(IsHeld(held)) << held.dump();
  EXPECT_EQ(posts(), before) << "a held call never reaches the server";
  const std::string id = held["result"]["_meta"]["dualkey"].value("approval_id", "");
  ASSERT_FALSE(id.empty()) << held.dump();
  ShellOutput approved = daemon.Approve(id);
  ASSERT_EQ(approved.status, 0) << approved.out;
  json passed = client.Call("echo", {{"message", "over http"}});
  EXPECT_EQ(ResultText(passed), "Echo: over http") << passed.dump();
  EXPECT_EQ(posts(), before + 1);
  EXPECT_TRUE(IsHeld(client.Call("echo", {{"message", "over http"}}))) << "used once";

  // Raw HTTP: malformed JSON gets a JSON-RPC parse error; a web page's
  // Origin is refused.
  ShellOutput malformed = Shell(
      "curl -s -X POST -H 'Content-Type: application/json' -H "
      "'Accept: application/json, text/event-stream' --data '{nope' " +
      Quote(*url));
  EXPECT_NE(malformed.out.find("-32700"), std::string::npos) << malformed.out;
  ShellOutput foreign = Shell(
      "curl -s -o /dev/null -w '%{http_code}' -X POST -H "
      "'Origin: http://evil.example' --data '{}' " +
      Quote(*url));
  EXPECT_EQ(foreign.out, "403");
  EXPECT_EQ(posts(), before + 1);
}

}  // namespace
}  // namespace dualkey::testing
