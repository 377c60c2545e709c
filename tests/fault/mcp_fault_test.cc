// Faults against `dualkey mcp`, stdio and Streamable HTTP, with servers that
// misbehave on purpose: a tool list with bytes that are not UTF-8 or that is
// not JSON at all, a client that sends such bytes, a flood of slow headers.
// The server's input is logged, so "never forwarded" is checked on what
// actually reached it.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "base/asio.h"
#include "harness.h"

namespace dualkey::fault {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

// A stdio MCP server in sh: answers initialize, tools/list with $LIST (a
// printf format taking the id), tools/call with "RAN"; logs every line.
const char* kStdioServer = R"(
while IFS= read -r line; do
  printf '%s\n' "$line" >> "$LOG"
  id=$(printf '%s\n' "$line" | sed -n 's/.*"id":\([0-9][0-9]*\).*/\1/p')
  case "$line" in
    *'"method":"initialize"'*) printf '{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"weather","version":"1"}}}\n' "$id" ;;
    *'"method":"tools/list"'*) printf "$LIST" "$id" ;;
    *'"method":"tools/call"'*) printf '{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":"RAN"}]}}\n' "$id" ;;
    *'"method":"ping"'*) printf '{"jsonrpc":"2.0","id":%s,"result":{}}\n' "$id" ;;
  esac
done
)";

class McpFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ScratchDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    log_ = (dir_ / "server-input.log").string();
    std::ofstream(dir_ / "server.sh") << kStdioServer;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Process> StartStdio(const std::string& list_format) {
    return std::make_unique<Process>(
        std::vector<std::string>{DUALKEY_BINARY, "mcp", "--socket", "/nonexistent/dualkey.sock",
                                 "--", "sh", (dir_ / "server.sh").string()},
        std::vector<std::string>{"HOME=" + (dir_ / "home").string(), "LOG=" + log_,
                                 "LIST=" + list_format});
  }
  static std::string Line(const json& message) { return message.dump() + "\n"; }
  static json Call(int id, const std::string& tool) {
    return {{"jsonrpc", "2.0"},
            {"id", id},
            {"method", "tools/call"},
            {"params", {{"name", tool}, {"arguments", json::object()}}}};
  }
  // Reads lines until the answer with `id`.
  static std::optional<json> AnswerTo(Process& proxy, const json& id) {
    for (int i = 0; i < 10; ++i) {
      std::optional<std::string> line = proxy.ReadLine(5000);
      if (!line) return std::nullopt;
      json parsed = json::parse(*line, nullptr, false);
      if (parsed.is_object() && parsed.value("id", json()) == id) return parsed;
    }
    return std::nullopt;
  }
  static bool Held(const std::optional<json>& answer) {
    return answer && answer->contains("result") && (*answer)["result"].value("isError", false) &&
           (*answer)["result"].contains("_meta");
  }
  void Handshake(Process& proxy) {
    proxy.Write(Line(
        {{"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"}, {"params", json::object()}}));
    ASSERT_TRUE(AnswerTo(proxy, 1));
    proxy.Write(Line({{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/list"}}));
    // The answer may not even be JSON: wait for whatever comes.
    proxy.ReadLine(5000);
  }

  fs::path dir_;
  std::string log_;
};

// A destructiveHint in a tool list with a byte that is not UTF-8 used to be
// lost, and the destructive call forwarded.
TEST_F(McpFaults, AHintInAListWithBadBytesStillHolds) {
  auto proxy = StartStdio(
      "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"tools\":[{\"name\":\"get_weather\","
      "\"description\":\"caf\\377\",\"inputSchema\":{\"type\":\"object\"},"
      "\"annotations\":{\"destructiveHint\":true}}]}}\n");
  Handshake(*proxy);
  proxy->Write(Line(Call(3, "get_weather")));
  EXPECT_TRUE(Held(AnswerTo(*proxy, 3)));
  EXPECT_EQ(Slurp(log_).find("tools/call"), std::string::npos) << Slurp(log_);
  EXPECT_TRUE(proxy->Alive());
}

// A tool list that is not JSON at all: every tool counts as destructive.
TEST_F(McpFaults, AnUnreadableToolListHoldsEveryTool) {
  auto proxy = StartStdio("{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"tools\":[{\"na\\377\n");
  Handshake(*proxy);
  proxy->Write(Line(Call(3, "get_weather")));
  EXPECT_TRUE(Held(AnswerTo(*proxy, 3)));
  EXPECT_EQ(Slurp(log_).find("tools/call"), std::string::npos) << Slurp(log_);
}

// A client line with bytes that are not UTF-8: refused under its id, never
// forwarded, and the proxy answers the next request (it aborted before).
TEST_F(McpFaults, ClientBytesThatAreNotUtf8AreRefusedAndTheProxyGoesOn) {
  auto proxy = StartStdio(
      "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"tools\":[{\"name\":\"get_weather\"}]}}\n");
  Handshake(*proxy);
  proxy->Write(
      "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/"
      "call\",\"params\":{\"name\":\"get_weather\","
      "\"arguments\":{\"city\":\"\xff\"}}}\n");
  std::optional<json> refused = AnswerTo(*proxy, 5);
  ASSERT_TRUE(refused);
  EXPECT_EQ((*refused)["error"]["code"], -32700) << refused->dump();
  proxy->Write(Line({{"jsonrpc", "2.0"}, {"id", 6}, {"method", "ping"}}));
  EXPECT_TRUE(AnswerTo(*proxy, 6));
  EXPECT_EQ(Slurp(log_).find("\"id\":5"), std::string::npos);
  EXPECT_TRUE(proxy->Alive());
}

// A Streamable HTTP MCP server in process: JSON answers; its tool list carries
// a byte that is not UTF-8 and a destructiveHint; calls are recorded.
class HttpServer {
 public:
  HttpServer() {
    acceptor_.open(tcp::v4());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { Accept(); });
  }
  ~HttpServer() {
    stopping_ = true;
    beast::error_code ec;
    tcp::socket poke(io_);
    poke.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ec);
    thread_.join();
    for (std::thread& t : connections_) t.join();
  }
  unsigned short port() const { return port_; }
  int calls() const { return calls_; }

 private:
  void Accept() {
    while (!stopping_) {
      tcp::socket socket(io_);
      beast::error_code ec;
      acceptor_.accept(socket, ec);
      if (stopping_) return;
      if (!ec)
        connections_.emplace_back([this, s = std::move(socket)]() mutable { Serve(std::move(s)); });
    }
  }
  void Serve(tcp::socket socket) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
      beast::error_code ec;
      http::read(socket, buffer, request, ec);
      if (ec) return;
      json message = json::parse(request.body(), nullptr, false);
      const json id = message.is_object() ? message.value("id", json()) : json();
      const std::string method = message.is_object() ? message.value("method", "") : "";
      std::string body;
      if (method == "tools/list") {
        body = "{\"jsonrpc\":\"2.0\",\"id\":" + id.dump() +
               ",\"result\":{\"tools\":[{\"name\":\"get_weather\",\"description\":\"caf\xff\","
               "\"annotations\":{\"destructiveHint\":true}}]}}";
      } else if (method == "tools/call") {
        ++calls_;
        body =
            json{{"jsonrpc", "2.0"}, {"id", id}, {"result", {{"content", json::array()}}}}.dump();
      } else {
        body = json{{"jsonrpc", "2.0"}, {"id", id}, {"result", json::object()}}.dump();
      }
      http::response<http::string_body> response{http::status::ok, 11};
      response.set(http::field::content_type, "application/json");
      response.body() = body;
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      http::write(socket, response, ec);
      if (ec || !request.keep_alive()) return;
    }
  }
  net::io_context io_;
  tcp::acceptor acceptor_{io_};
  unsigned short port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> calls_{0};
  std::thread thread_;
  std::vector<std::thread> connections_;
};

TEST_F(McpFaults, StreamableHttpReadsBadBytesFailsClosedAndSurvivesAFlood) {
  HttpServer server;
  Process proxy(
      {DUALKEY_BINARY, "mcp", "--socket", "/nonexistent/dualkey.sock", "--upstream",
       "http://127.0.0.1:" + std::to_string(server.port()) + "/mcp", "--listen", "127.0.0.1:0",
       "--header-timeout", "2", "--max-connections", "32", "--max-connections-per-client", "32"},
      {"HOME=" + (dir_ / "home").string()});
  std::optional<std::string> url = proxy.ReadLine(10000);
  ASSERT_TRUE(url) << "the proxy did not start";
  const int port = std::stoi(url->substr(url->rfind(':') + 1));
  auto post = [&](const std::string& body) {
    const std::string answer =
        Exchange(port,
                 "POST /mcp HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
                 "application/json\r\nAccept: application/json, text/event-stream\r\n"
                 "Content-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body,
                 5000);
    const std::size_t start = answer.find("\r\n\r\n");
    return start == std::string::npos ? std::string() : answer.substr(start + 4);
  };
  // The server's bytes reach the client as sent (they are its business).
  const std::string listed = post(Line({{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/list"}}));
  EXPECT_NE(listed.find("caf\xff"), std::string::npos) << listed;
  json held = json::parse(post(Line(Call(3, "get_weather"))), nullptr, false);
  EXPECT_TRUE(Held(held)) << held.dump();
  EXPECT_EQ(server.calls(), 0);
  json refused = json::parse(post("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/"
                                  "call\",\"params\":{\"name\":\"x\xfe\"}}"),
                             nullptr, false);
  EXPECT_EQ(refused["error"]["code"], -32700) << refused.dump();
  EXPECT_EQ(server.calls(), 0);

  // A flood of slow headers past the limit: a good client is still served.
  Flood flood;
  flood.Open(port, 150, "POST /mcp HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  auto [runs, failures] =
      Repeatedly(std::chrono::milliseconds(2500), std::chrono::milliseconds(100), [&] {
        flood.Trickle();
        return json::accept(post(Line({{"jsonrpc", "2.0"}, {"id", 9}, {"method", "ping"}})));
      });
  EXPECT_EQ(failures, 0) << failures << " of " << runs << " good requests failed";
  EXPECT_GE(flood.ClosedByPeerCount(), 140);
  EXPECT_TRUE(proxy.Alive());
}

}  // namespace
}  // namespace dualkey::fault
