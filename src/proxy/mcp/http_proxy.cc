// `dualkey mcp --upstream URL`: the Streamable HTTP transport. The client
// talks to a local endpoint; each POST body goes through the gate (held calls
// are answered here, in JSON or as SSE events before the server's own), the
// rest is forwarded with its headers (Mcp-Session-Id, MCP-Protocol-Version,
// Authorization, Last-Event-ID) and the server's answer relayed as it streams.
// One thread per client connection, each with its own upstream connection.
#include <malloc.h>
#include <openssl/err.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <variant>

#include "base/admission.h"
#include "base/json_text.h"
#include "proxy/mcp/internal/gate.h"
#include "proxy/mcp/mcp_proxy.h"

namespace dualkey::mcpproxy {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using internal::ClientMessage;
using internal::Gate;
using nlohmann::json;

using Clock = std::chrono::steady_clock;

// Deadlines for blocking sockets: a thread that shuts a socket down once its
// deadline passes, which ends the read or write blocked on it. (Asio's
// blocking operations ignore SO_RCVTIMEO: they poll again after EAGAIN.)
class Watchdog {
 public:
  struct Watch {
    int fd = -1;  // -1 once removed: never shut down after the owner closed it
    Clock::time_point deadline = Clock::time_point::max();
    bool fired = false;
  };

  Watchdog() {
    // Lives as long as the process (RunHttpProxy ends with _exit).
    std::thread([this] { Loop(); }).detach();
  }

  std::shared_ptr<Watch> Add(int fd) {
    auto watch = std::make_shared<Watch>();
    watch->fd = fd;
    std::lock_guard lock(mutex_);
    watches_.insert(watch);
    return watch;
  }
  // Arms the deadline `seconds` from now; 0 disarms it.
  void Arm(const std::shared_ptr<Watch>& watch, int seconds) {
    std::lock_guard lock(mutex_);
    watch->deadline =
        seconds > 0 ? Clock::now() + std::chrono::seconds(seconds) : Clock::time_point::max();
  }
  bool Fired(const std::shared_ptr<Watch>& watch) {
    std::lock_guard lock(mutex_);
    return watch->fired;
  }
  // Before the socket is closed.
  void Remove(const std::shared_ptr<Watch>& watch) {
    if (!watch) return;
    std::lock_guard lock(mutex_);
    watch->fd = -1;
    watches_.erase(watch);
  }
  // Ends the socket's blocked operation now (it must make room).
  void ShutNow(const std::shared_ptr<Watch>& watch) {
    std::lock_guard lock(mutex_);
    if (watch->fd >= 0) ::shutdown(watch->fd, SHUT_RDWR);
  }

 private:
  void Loop() {
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const Clock::time_point now = Clock::now();
      std::lock_guard lock(mutex_);
      for (const auto& watch : watches_) {
        if (watch->fd < 0 || watch->fired || now < watch->deadline) continue;
        watch->fired = true;
        ::shutdown(watch->fd, SHUT_RDWR);
      }
    }
  }

  std::mutex mutex_;
  std::set<std::shared_ptr<Watch>> watches_;
};

struct Url {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;  // path and query
};

bool ParseUrl(const std::string& text, Url* url, std::string* error) {
  std::string rest;
  if (text.rfind("http://", 0) == 0) {
    rest = text.substr(7);
  } else if (text.rfind("https://", 0) == 0) {
    url->tls = true;
    rest = text.substr(8);
  } else {
    *error = "the upstream URL must start with http:// or https://";
    return false;
  }
  std::size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  url->target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (authority.find('@') != std::string::npos) {
    *error = "credentials in the upstream URL are not supported; send an Authorization header";
    return false;
  }
  std::size_t colon = authority.rfind(':');
  if (!authority.empty() && authority.front() == '[') {  // [::1]:port
    std::size_t close = authority.find(']');
    if (close == std::string::npos) {
      *error = "bad IPv6 host in the upstream URL";
      return false;
    }
    url->host = authority.substr(1, close - 1);
    url->port = close + 1 < authority.size() && authority[close + 1] == ':'
                    ? authority.substr(close + 2)
                    : "";
  } else if (colon != std::string::npos) {
    url->host = authority.substr(0, colon);
    url->port = authority.substr(colon + 1);
  } else {
    url->host = authority;
  }
  if (url->port.empty()) url->port = url->tls ? "443" : "80";
  if (url->host.empty()) {
    *error = "the upstream URL has no host";
    return false;
  }
  return true;
}

bool IsHopByHop(beast::string_view name) {
  static constexpr std::string_view kNames[] = {"connection",
                                                "keep-alive",
                                                "proxy-connection",
                                                "proxy-authenticate",
                                                "te",
                                                "trailer",
                                                "transfer-encoding",
                                                "upgrade",
                                                "content-length",
                                                "host",
                                                "accept-encoding",
                                                "origin"};
  for (std::string_view hop : kNames)
    if (beast::iequals(name, beast::string_view(hop.data(), hop.size()))) return true;
  return false;
}

// Only a local client may use the proxy: a web page's script would carry its
// own Origin (DNS rebinding).
bool LocalOrigin(beast::string_view origin) {
  if (origin.empty()) return true;
  std::string text(origin);
  for (const char* prefix : {"http://localhost", "http://127.0.0.1", "http://[::1]",
                             "https://localhost", "https://127.0.0.1", "https://[::1]"}) {
    std::string p = prefix;
    if (text == p || text.rfind(p + ":", 0) == 0) return true;
  }
  return false;
}

// Splits a text/event-stream into events; `on_data` gets each event's data,
// `on_unread` is told of an event too large to read (it still passes).
class SseParser {
 public:
  explicit SseParser(std::size_t max) : max_(max) {}
  template <typename OnData, typename OnUnread>
  void Feed(std::string_view bytes, OnData&& on_data, OnUnread&& on_unread) {
    for (char c : bytes) {
      if (c == '\n') {
        Line(on_data, on_unread);
        line_.clear();
      } else if (line_.size() < max_) {
        line_.push_back(c);
      } else {
        overflow_ = true;
      }
    }
  }

 private:
  template <typename OnData, typename OnUnread>
  void Line(OnData&& on_data, OnUnread&& on_unread) {
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    if (line_.empty()) {
      if (overflow_)
        on_unread();
      else if (!data_.empty())
        on_data(data_);
      data_.clear();
      overflow_ = false;
      return;
    }
    if (line_.rfind("data:", 0) == 0) {
      std::string_view value(line_);
      value.remove_prefix(5);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (!data_.empty()) data_.push_back('\n');
      if (data_.size() + value.size() > max_)
        overflow_ = true;
      else
        data_.append(value);
    }
  }

  std::size_t max_;
  std::string line_;
  std::string data_;
  bool overflow_ = false;
};

std::string SseEvent(const json& message) {
  return "event: message\ndata: " + base::JsonDump(message) + "\n\n";
}

// The upstream connection: plain TCP or TLS.
class Upstream {
 public:
  Upstream(const Url& url, ssl::context* tls, Watchdog* watchdog, int connect_timeout_seconds)
      : url_(url),
        tls_(tls),
        watchdog_(watchdog),
        connect_timeout_(std::chrono::seconds(connect_timeout_seconds)) {}
  ~Upstream() { Drop(); }

  // Connecting and the TLS handshake run asynchronously on this object's own
  // io_context, so Beast's timer bounds them; reads and writes after that
  // are blocking, bounded by the watchdog (Arm).
  bool Connect(std::string* error, bool* timed_out) {
    *timed_out = false;
    try {
      asio::io_context& io = io_;
      tcp::resolver resolver(io);
      auto endpoints = resolver.resolve(url_.host, url_.port);
      beast::error_code ec;
      auto wait = [&] {
        io.restart();
        io.run();
        if (ec) {
          *timed_out = ec == beast::error::timeout;
          throw beast::system_error(ec);
        }
      };
      if (url_.tls) {
        auto stream = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io, *tls_);
        if (!SSL_set_tlsext_host_name(stream->native_handle(), url_.host.c_str()))
          throw beast::system_error(beast::error_code(static_cast<int>(::ERR_get_error()),
                                                      asio::error::get_ssl_category()));
        stream->set_verify_callback(ssl::host_name_verification(url_.host));
        beast::tcp_stream& lowest = beast::get_lowest_layer(*stream);
        lowest.expires_after(connect_timeout_);
        lowest.async_connect(endpoints, [&](beast::error_code e, const auto&) { ec = e; });
        wait();
        stream->async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
        wait();
        lowest.expires_never();
        watch_ = watchdog_->Add(lowest.socket().native_handle());
        stream_ = std::move(stream);
      } else {
        auto stream = std::make_unique<beast::tcp_stream>(io);
        stream->expires_after(connect_timeout_);
        stream->async_connect(endpoints, [&](beast::error_code e, const auto&) { ec = e; });
        wait();
        stream->expires_never();
        stream->socket().set_option(tcp::no_delay(true));
        watch_ = watchdog_->Add(stream->socket().native_handle());
        stream_ = std::move(stream);
      }
      buffer_.clear();
      return true;
    } catch (const std::exception& e) {
      *error = "cannot reach " + url_.host + ":" + url_.port + ": " + e.what();
      stream_ = std::monostate{};
      return false;
    }
  }
  bool connected() const { return !std::holds_alternative<std::monostate>(stream_); }
  void Drop() {
    watchdog_->Remove(watch_);
    watch_.reset();
    stream_ = std::monostate{};
  }
  // The next blocking operations must finish within `seconds` (0: no limit).
  void Arm(int seconds) {
    if (watch_) watchdog_->Arm(watch_, seconds);
  }
  bool TimedOut() { return watch_ && watchdog_->Fired(watch_); }

  template <typename Function>
  void Visit(Function&& function) {
    std::visit(
        [&](auto& stream) {
          if constexpr (!std::is_same_v<std::decay_t<decltype(stream)>, std::monostate>)
            function(*stream);
        },
        stream_);
  }
  beast::flat_buffer& buffer() { return buffer_; }

 private:
  Url url_;
  ssl::context* tls_;
  Watchdog* watchdog_;
  std::chrono::seconds connect_timeout_;
  std::shared_ptr<Watchdog::Watch> watch_;
  asio::io_context io_;
  std::variant<std::monostate, std::unique_ptr<beast::tcp_stream>,
               std::unique_ptr<beast::ssl_stream<beast::tcp_stream>>>
      stream_;
  beast::flat_buffer buffer_;
};

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

int RunHttpProxy(const ProxyOptions& options) {
  Url url;
  std::string error;
  if (!ParseUrl(options.upstream_url, &url, &error)) {
    std::cerr << "dualkey mcp: " << error << "\n";
    return 2;
  }
  std::string listen_host = options.listen, listen_port = "0";
  std::size_t colon = options.listen.rfind(':');
  if (colon != std::string::npos) {
    listen_host = options.listen.substr(0, colon);
    listen_port = options.listen.substr(colon + 1);
  }
  if (listen_host.size() > 2 && listen_host.front() == '[')
    listen_host = listen_host.substr(1, listen_host.size() - 2);

  internal::GateConfig config;
  policy::Policy policy = internal::LoadProxyPolicy(options, &config);
  config.fallback_server_name = url.host;
  Gate gate(std::move(config), std::move(policy));

  ssl::context tls(ssl::context::tls_client);
  tls.set_default_verify_paths();
  tls.set_verify_mode(ssl::verify_peer);

  signal(SIGPIPE, SIG_IGN);
  asio::io_context io;
  tcp::acceptor acceptor(io);
  try {
    tcp::endpoint endpoint(asio::ip::make_address(listen_host),
                           static_cast<unsigned short>(std::stoi(listen_port)));
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen();
  } catch (const std::exception& e) {
    std::cerr << "dualkey mcp: cannot listen on " << options.listen << ": " << e.what() << "\n";
    return 2;
  }
  const tcp::endpoint bound = acceptor.local_endpoint();
  const std::string host = bound.address().is_v6() ? "[" + bound.address().to_string() + "]"
                                                   : bound.address().to_string();
  std::cout << "http://" << host << ":" << bound.port() << url.target << std::endl;
  std::cerr << "dualkey mcp: listening on http://" << host << ":" << bound.port() << url.target
            << " for " << options.upstream_url << "\n";

  if (options.header_timeout_seconds < 1 || options.idle_timeout_seconds < 1 ||
      options.upstream_connect_timeout_seconds < 1 || options.upstream_timeout_seconds < 1 ||
      options.max_connections < 1 || options.max_connections_per_client < 1) {
    std::cerr << "dualkey mcp: timeouts and connection limits are at least 1\n";
    return 2;
  }
  Watchdog watchdog;
  base::Admission admission(
      base::Admission::Limits{options.max_connections, options.max_connections_per_client});
  asio::steady_timer pause(io);
  std::atomic<std::size_t> peak{0};
  std::function<void()> accept = [&] {
    acceptor.async_accept([&](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted) return;
        // Out of descriptors: free the longest-idle connection, and pause
        // rather than spin on the connection still waiting in the backlog.
        if (ec == asio::error::no_descriptors || ec.value() == ENFILE) admission.EvictOldestIdle();
        pause.expires_after(std::chrono::milliseconds(20));
        pause.async_wait([&](beast::error_code) { accept(); });
        return;
      }
      beast::error_code peer_error;
      const tcp::endpoint peer = socket.remote_endpoint(peer_error);
      const std::string address = peer_error ? "?" : peer.address().to_string();
      std::shared_ptr<Watchdog::Watch> watch = watchdog.Add(socket.native_handle());
      std::string refusal;
      std::unique_ptr<base::Admission::Slot> slot = admission.Admit(
          address, [&watchdog, watch] { watchdog.ShutNow(watch); }, &refusal);
      if (!slot) {
        if (options.verbose)
          std::cerr << "dualkey mcp: refused " << address << ": " << refusal << "\n";
        watchdog.Remove(watch);
        http::response<http::string_body> busy(http::status::service_unavailable, 11);
        busy.set(http::field::content_type, "text/plain");
        busy.body() = "dualkey mcp: " + refusal + "; try again shortly\n";
        busy.keep_alive(false);
        busy.prepare_payload();
        socket.non_blocking(true, ec);
        http::write(socket, busy, ec);
        socket.close(ec);
      } else {
        std::thread([&, socket = std::move(socket), watch, slot = std::move(slot)]() mutable {
          Connection(std::move(socket), &gate, options, url, &tls, &watchdog, watch, slot.get())
              .Run();
          slot.reset();
          // Memory a flood made the allocator keep goes back once it is over.
          const std::size_t open = admission.open();
          if (open == 0 && peak.exchange(0) >= 64) malloc_trim(0);
        }).detach();
        const std::size_t open = admission.open();
        if (open > peak.load()) peak = open;
      }
      accept();
    });
  };
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int) {
    acceptor.close();
    io.stop();
  });
  accept();
  io.run();
  gate.FlushReports(3000);
  // Connection threads may still be relaying a stream; they own nothing that
  // needs flushing, so end the process here rather than destroy what they use.
  std::cout.flush();
  std::cerr.flush();
  _exit(0);
}

}  // namespace dualkey::mcpproxy
