// One client connection of the HTTP transport: requests read, POST bodies
// through the gate, the rest forwarded upstream and the answer relayed.
#include <iostream>
#include <limits>

#include "base/json_text.h"
#include "proxy/mcp/internal/http_transport.h"

namespace dualkey::mcpproxy::internal {
namespace {

class Connection {
 public:
  Connection(tcp::socket socket, Gate* gate, const ProxyOptions& options, const Url& url,
             ssl::context* tls, Watchdog* watchdog, std::shared_ptr<Watchdog::Watch> client_watch,
             base::Admission::Slot* slot)
      : client_(std::move(socket)),
        gate_(gate),
        options_(options),
        watchdog_(watchdog),
        client_watch_(std::move(client_watch)),
        slot_(slot),
        url_(url),
        upstream_(url, tls, watchdog, options.upstream_connect_timeout_seconds) {}
  ~Connection() {
    upstream_.Drop();
    watchdog_->Remove(client_watch_);  // before the socket closes
  }

  void Run() {
    beast::error_code ec;
    client_.set_option(tcp::no_delay(true), ec);
    beast::flat_buffer buffer;
    for (bool first = true;; first = false) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(options_.max_message_bytes);
      parser.header_limit(64 * 1024);
      // Waiting for a request: this connection may make room for others. A
      // new one has the header timeout for everything, a kept-alive one the
      // idle timeout for the first byte, then the header timeout.
      slot_->SetIdle(true);
      if (buffer.size() == 0) {
        ArmClient(first ? options_.header_timeout_seconds : options_.idle_timeout_seconds);
        const std::size_t n = client_.read_some(buffer.prepare(16 * 1024), ec);
        if (ec) break;
        buffer.commit(n);
      }
      ArmClient(options_.header_timeout_seconds);
      http::read_header(client_, buffer, parser, ec);
      if (!ec) {
        slot_->SetIdle(false);
        ArmClient(options_.idle_timeout_seconds);
        if (!parser.is_done()) http::read(client_, buffer, parser, ec);
      }
      ArmClient(0);
      if (ec == http::error::end_of_stream || ec == asio::error::eof ||
          ec == asio::error::connection_reset || watchdog_->Fired(client_watch_))
        break;
      if (ec == http::error::body_limit) {
        SendJson(http::status::payload_too_large, parser.get().version(),
                 base::JsonDump(internal::ErrorReply(
                     nullptr, internal::kInvalidRequest,
                     "Invalid Request (dualkey): a message longer than " +
                         std::to_string(options_.max_message_bytes) + " bytes; not forwarded")),
                 false);
        break;
      }
      if (ec) break;
      http::request<http::string_body> request = parser.release();
      bool keep_alive = request.keep_alive();
      if (!Handle(request, &keep_alive) || !keep_alive) break;
    }
    client_.shutdown(tcp::socket::shutdown_send, ec);
  }

 private:
  using Request = http::request<http::string_body>;

  // The client's next blocking operations must end within `seconds` (0: no
  // limit: while the server works on an answer, the client waits).
  void ArmClient(int seconds) { watchdog_->Arm(client_watch_, seconds); }

  // Writes to the client, each bounded by the idle timeout.
  template <typename Message>
  void WriteClient(Message& message, beast::error_code& ec) {
    ArmClient(options_.idle_timeout_seconds);
    http::write(client_, message, ec);
    ArmClient(0);
  }

  void SendJson(http::status status, unsigned version, const std::string& body, bool keep_alive) {
    http::response<http::string_body> response(status, version);
    response.set(http::field::content_type, "application/json");
    response.body() = body;
    response.keep_alive(keep_alive);
    response.prepare_payload();
    beast::error_code ec;
    WriteClient(response, ec);
  }
  void SendStatus(http::status status, unsigned version, const std::string& text, bool keep_alive) {
    http::response<http::string_body> response(status, version);
    response.set(http::field::content_type, "text/plain");
    response.body() = text + "\n";
    response.keep_alive(keep_alive);
    response.prepare_payload();
    beast::error_code ec;
    WriteClient(response, ec);
  }

  // Returns false when the connection must close.
  bool Handle(Request& request, bool* keep_alive) {
    if (!LocalOrigin(request[http::field::origin])) {
      SendStatus(http::status::forbidden, request.version(),
                 "dualkey mcp: requests from web pages (Origin " +
                     std::string(request[http::field::origin]) + ") are refused",
                 false);
      return false;
    }
    const std::string session(request["Mcp-Session-Id"]);
    if (request.method() == http::verb::post) return Post(request, session, keep_alive);
    if (request.method() == http::verb::get || request.method() == http::verb::delete_) {
      bool ok = Forward(request, request.body(), session, {}, keep_alive);
      if (request.method() == http::verb::delete_) gate_->EndSession(session);
      return ok;
    }
    SendStatus(http::status::method_not_allowed, request.version(),
               "dualkey mcp: the MCP endpoint takes POST, GET and DELETE", *keep_alive);
    return true;
  }

  bool Post(Request& request, const std::string& session, bool* keep_alive) {
    ClientMessage message = gate_->FromClient(request.body(), session);
    if (message.forward.empty()) {
      // Nothing for the server: dualkey answers (or, for held notifications,
      // just accepts).
      if (message.replies.empty()) {
        http::response<http::empty_body> accepted(http::status::accepted, request.version());
        accepted.keep_alive(*keep_alive);
        beast::error_code ec;
        WriteClient(accepted, ec);
        return !ec;
      }
      SendJson(http::status::ok, request.version(), Gate::ReplyText(message), *keep_alive);
      return true;
    }
    return Forward(request, message.forward, session, message.replies, keep_alive);
  }

  // Sends the request upstream (body `body`), relays the answer, with
  // dualkey's `replies` merged in.
  bool Forward(const Request& request, const std::string& body, const std::string& session,
               const std::vector<json>& replies, bool* keep_alive) {
    http::request<http::string_body> out(request.method(), url_.target, 11);
    for (const auto& field : request)
      if (!IsHopByHop(field.name_string())) out.insert(field.name_string(), field.value());
    out.set(http::field::host,
            url_.host + (url_.port == (url_.tls ? "443" : "80") ? std::string() : ":" + url_.port));
    out.keep_alive(true);
    if (request.method() == http::verb::post || !body.empty()) {
      out.body() = body;
      out.prepare_payload();
    }

    std::string error;
    beast::error_code ec;
    bool sent = false;
    // A kept-alive upstream connection may have closed since; retry once on
    // a new one.
    bool connect_timed_out = false;
    for (int attempt = 0; attempt < 2 && !sent; ++attempt) {
      if (!upstream_.connected() && !upstream_.Connect(&error, &connect_timed_out)) break;
      upstream_.Arm(options_.upstream_timeout_seconds);
      upstream_.Visit([&](auto& stream) { http::write(stream, out, ec); });
      if (ec) {
        error = "upstream write failed: " + ec.message();
        upstream_.Drop();
        continue;
      }
      sent = true;
    }
    if (!sent && connect_timed_out)
      return UpstreamFailed(request, replies,
                            "it did not accept a connection within " +
                                std::to_string(options_.upstream_connect_timeout_seconds) + " s",
                            keep_alive, http::status::gateway_timeout);
    if (!sent) return UpstreamFailed(request, replies, error, keep_alive);

    http::response_parser<http::buffer_body> parser;
    // Not boost::none: Boost 1.74's parser compares a Content-Length with an
    // empty optional as "over the limit", so every JSON answer with a
    // Content-Length failed. ReadBody bounds what is read whole.
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    upstream_.Arm(options_.upstream_timeout_seconds);
    upstream_.Visit(
        [&](auto& stream) { http::read_header(stream, upstream_.buffer(), parser, ec); });
    if (ec) {
      const bool timed_out = upstream_.TimedOut();
      upstream_.Drop();
      if (timed_out)
        return UpstreamFailed(request, replies,
                              "it did not answer within " +
                                  std::to_string(options_.upstream_timeout_seconds) +
                                  " s (the request was sent and may have been carried out)",
                              keep_alive, http::status::gateway_timeout);
      return UpstreamFailed(request, replies, "upstream read failed: " + ec.message(), keep_alive);
    }
    auto& head = parser.get();
    const std::string content_type(head[http::field::content_type]);
    const bool sse = content_type.find("text/event-stream") != std::string::npos;
    const bool json_body = content_type.find("application/json") != std::string::npos;
    const bool upstream_keep_alive = head.keep_alive();

    if (json_body || (!sse && !replies.empty())) {
      // Whole body: dualkey reads it (tools/list, initialize) and may merge.
      std::string text;
      if (!ReadBody(parser, &text)) {
        upstream_.Drop();
        return UpstreamFailed(request, replies, "the upstream answer was cut off", keep_alive);
      }
      if (!upstream_keep_alive) upstream_.Drop();
      json parsed;
      std::string parse_error;
      if (json_body)
        gate_->FromServerText(text, session);
      else
        gate_->ServerMessageUnread(session, "an answer of type \"" +
                                                base::ToValidUtf8(content_type.substr(0, 80)) +
                                                "\" passed unread");
      // Merging needs the answer as JSON: read with invalid UTF-8 replaced.
      const bool parsed_ok =
          json_body &&
          internal::ParseStrict(internal::ServerTextForReading(text), &parsed, &parse_error);
      http::response<http::string_body> response(head.result(), request.version());
      CopyHeaders(head, &response);
      if (!replies.empty()) {
        json merged = json::array();
        if (parsed_ok && parsed.is_array())
          for (json& element : parsed) merged.push_back(std::move(element));
        else if (parsed_ok)
          merged.push_back(std::move(parsed));
        for (const json& reply : replies) merged.push_back(reply);
        text = base::JsonDump(merged);
        response.result(http::status::ok);
        response.set(http::field::content_type, "application/json");
      }
      response.body() = std::move(text);
      response.keep_alive(*keep_alive);
      response.prepare_payload();
      WriteClient(response, ec);
      return !ec;
    }

    // Streamed: SSE (or anything else) relayed as it comes.
    http::response<http::buffer_body> response(head.result(), request.version());
    CopyHeaders(head, &response);
    response.keep_alive(*keep_alive);
    const bool has_body =
        !(head.result() == http::status::accepted || head.result() == http::status::no_content ||
          head.result() == http::status::not_modified || parser.is_done());
    if (!has_body && replies.empty()) {
      http::response<http::empty_body> empty(head.result(), request.version());
      CopyHeaders(head, &empty);
      empty.keep_alive(*keep_alive);
      WriteClient(empty, ec);
      if (!upstream_keep_alive) upstream_.Drop();
      return !ec;
    }
    response.chunked(true);
    http::response_serializer<http::buffer_body> serializer(response);
    ArmClient(options_.idle_timeout_seconds);
    http::write_header(client_, serializer, ec);
    ArmClient(0);
    if (ec) {
      upstream_.Drop();
      return false;
    }
    auto send = [&](const char* data, std::size_t size, bool more) {
      response.body().data = const_cast<char*>(data);
      response.body().size = size;
      response.body().more = more;
      ArmClient(options_.idle_timeout_seconds);
      http::write(client_, serializer, ec);
      ArmClient(0);
      if (ec == http::error::need_buffer) ec = {};
      return !ec;
    };
    std::string injected;
    for (const json& reply : replies) injected += SseEvent(reply);
    if (!injected.empty() && !send(injected.data(), injected.size(), true)) {
      upstream_.Drop();
      return false;
    }
    SseParser events(options_.max_message_bytes);
    bool unread_noted = false;
    char chunk[64 * 1024];
    while (has_body && !parser.is_done()) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof(chunk);
      // An event stream may rightly be quiet for long; anything else may not.
      upstream_.Arm(sse ? 0 : options_.upstream_timeout_seconds);
      upstream_.Visit([&](auto& stream) { http::read(stream, upstream_.buffer(), parser, ec); });
      if (ec == http::error::need_buffer) ec = {};
      if (ec) break;
      const std::size_t got = sizeof(chunk) - parser.get().body().size;
      if (got == 0) continue;
      if (sse)
        events.Feed(
            std::string_view(chunk, got),
            [&](const std::string& data) { gate_->FromServerText(data, session); },
            [&] {
              gate_->ServerMessageUnread(session, "a server event longer than " +
                                                      std::to_string(options_.max_message_bytes) +
                                                      " bytes passed unread");
            });
      if (!sse && !unread_noted) {
        unread_noted = true;
        gate_->ServerMessageUnread(session, "a streamed answer of type \"" +
                                                base::ToValidUtf8(content_type.substr(0, 80)) +
                                                "\" passed unread");
      }
      if (!send(chunk, got, true)) break;
    }
    const bool clean = !ec;
    if (!clean || !upstream_keep_alive) upstream_.Drop();
    if (!send(nullptr, 0, false)) return false;
    return clean;
  }

  bool ReadBody(http::response_parser<http::buffer_body>& parser, std::string* text) {
    const std::size_t limit = options_.max_message_bytes * 4;
    char chunk[64 * 1024];
    beast::error_code ec;
    while (!parser.is_done()) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof(chunk);
      upstream_.Arm(options_.upstream_timeout_seconds);
      upstream_.Visit([&](auto& stream) { http::read(stream, upstream_.buffer(), parser, ec); });
      if (ec == http::error::need_buffer) ec = {};
      if (ec) return false;
      text->append(chunk, sizeof(chunk) - parser.get().body().size);
      if (text->size() > limit) return false;
    }
    return true;
  }

  template <typename Head, typename Response>
  static void CopyHeaders(const Head& head, Response* response) {
    for (const auto& field : head)
      if (!IsHopByHop(field.name_string())) response->insert(field.name_string(), field.value());
  }

  // The upstream is unreachable: requests get JSON-RPC errors (held calls
  // their held results); nothing was forwarded.
  bool UpstreamFailed(const Request& request, const std::vector<json>& replies,
                      const std::string& error, bool* keep_alive,
                      http::status status = http::status::bad_gateway) {
    if (options_.verbose) std::cerr << "dualkey mcp: " << error << "\n";
    json body = internal::ErrorReply(nullptr, internal::kServerGone,
                                     status == http::status::gateway_timeout
                                         ? "dualkey mcp: the MCP server timed out: " + error
                                         : "dualkey mcp: the MCP server is unreachable: " + error);
    if (!replies.empty()) {
      json merged(replies);
      merged.push_back(std::move(body));
      body = std::move(merged);
    }
    SendJson(status, request.version(), base::JsonDump(body), *keep_alive);
    return true;
  }

  tcp::socket client_;
  Gate* gate_;
  const ProxyOptions& options_;
  Watchdog* watchdog_;
  std::shared_ptr<Watchdog::Watch> client_watch_;
  base::Admission::Slot* slot_;
  const Url& url_;
  Upstream upstream_;
};

}  // namespace

void ServeConnection(tcp::socket socket, Gate* gate, const ProxyOptions& options, const Url& url,
                     ssl::context* tls, Watchdog* watchdog,
                     std::shared_ptr<Watchdog::Watch> client_watch, base::Admission::Slot* slot) {
  Connection(std::move(socket), gate, options, url, tls, watchdog, std::move(client_watch), slot)
      .Run();
}

}  // namespace dualkey::mcpproxy::internal
