// Beast does the HTTP framing; each connection gets a thread, as on the Unix
// socket: the callers are a dashboard and a few gateways, not thousands.
#include "daemon/internal/http_listener.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <mutex>
#include <optional>
#include <vector>

#include "base/json_text.h"
#include "base/threaded_server.h"

namespace dualkey::daemon::internal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;

constexpr std::size_t kMaxBodyBytes = 1 << 20;

bool IsLoopback(const asio::ip::address& address) {
  return address.is_loopback();
}

http::response<http::string_body> Reply(http::status status, const json& body, bool keep_alive,
                                        unsigned version) {
  http::response<http::string_body> response{status, version};
  response.set(http::field::server, "dualkey");
  response.set(http::field::content_type, "application/json");
  response.set(http::field::cache_control, "no-store");
  response.keep_alive(keep_alive);
  response.body() = base::JsonDump(body) + "\n";
  response.prepare_payload();
  return response;
}

// GET /metrics: the Prometheus text exposition format.
http::response<http::string_body> MetricsReply(const http::request<http::string_body>& request,
                                               const std::function<std::string()>& metrics) {
  if (request.method() != http::verb::get && request.method() != http::verb::head)
    return Reply(http::status::method_not_allowed,
                 json{{"ok", false}, {"error", "use GET /metrics"}}, request.keep_alive(),
                 request.version());
  http::response<http::string_body> response{http::status::ok, request.version()};
  response.set(http::field::server, "dualkey");
  response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  response.set(http::field::cache_control, "no-store");
  response.keep_alive(request.keep_alive());
  response.body() = metrics();
  response.prepare_payload();
  return response;
}

// Maps one HTTP request to the daemon's JSON protocol.
http::response<http::string_body> Route(const http::request<http::string_body>& request,
                                        const HttpListener::Handler& handler,
                                        const std::function<std::string()>& metrics) {
  const bool keep = request.keep_alive();
  const unsigned version = request.version();
  std::string target(request.target());
  if (std::size_t q = target.find('?'); q != std::string::npos) target.resize(q);
  if (target == "/metrics" && metrics) return MetricsReply(request, metrics);
  if (!target.starts_with("/v1/") || target.size() <= 4)
    return Reply(http::status::not_found,
                 json{{"ok", false},
                      {"error",
                       "unknown path; use POST /v1/<op> (check, probe, consume, pending, "
                       "approve, deny, breaker_reset, breaker_status, status)"}},
                 keep, version);
  const std::string op = target.substr(4);
  if (op == "watch")
    return Reply(http::status::not_implemented,
                 json{{"ok", false}, {"error", "watch is served on the Unix socket only"}}, keep,
                 version);
  json body = json::object();
  if (request.method() == http::verb::post) {
    std::string error = "empty";
    std::optional<json> parsed;
    if (!request.body().empty()) parsed = base::JsonParse(request.body(), &error);
    if (parsed) body = std::move(*parsed);
    if (!request.body().empty() && (!parsed || !body.is_object())) {
      // Not JSON, or not UTF-8: refused, and for a check that means held.
      json reply{{"ok", false},
                 {"error", "the body is not a JSON object in UTF-8 (" +
                               (parsed ? std::string("not an object") : error) +
                               "); send text that is not UTF-8 as FIELD_b64"}};
      if (op == "check") reply["decision"] = "hold";
      return Reply(http::status::bad_request, reply, keep, version);
    }
  } else if (request.method() != http::verb::get ||
             (op != "status" && op != "pending" && op != "breaker_status")) {
    return Reply(http::status::method_not_allowed,
                 json{{"ok", false},
                      {"error", "use POST (GET only for status, pending and breaker_status)"}},
                 keep, version);
  }
  body["op"] = op;
  json reply = handler(body);
  const bool ok = reply.value("ok", false);
  return Reply(ok ? http::status::ok : http::status::bad_request, reply, keep, version);
}

WebRequest ToWebRequest(const http::request<http::string_body>& request, bool tls) {
  WebRequest web;
  web.method = std::string(request.method_string());
  web.target = std::string(request.target());
  for (const auto& field : request) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    web.headers[name] = std::string(field.value());
  }
  web.body = request.body();
  web.tls = tls;
  return web;
}

// Writes the page's answer; false when the connection must close.
template <typename Stream>
bool WriteWeb(Stream& stream, WebResponse response, bool keep_alive, unsigned version) {
  beast::error_code ec;
  if (response.stream) {
    std::string head =
        "HTTP/1.1 " + std::to_string(response.status) + " " +
        std::string(http::obsolete_reason(static_cast<http::status>(response.status))) +
        "\r\nServer: dualkey\r\nConnection: close\r\n";
    for (const auto& [name, value] : response.headers) head += name + ": " + value + "\r\n";
    head += "\r\n";
    asio::write(stream, asio::buffer(head), ec);
    if (ec) return false;
    response.stream([&stream](std::string_view data) {
      beast::error_code write_error;
      asio::write(stream, asio::buffer(data.data(), data.size()), write_error);
      return !write_error;
    });
    return false;
  }
  http::response<http::string_body> reply{static_cast<http::status>(response.status), version};
  reply.set(http::field::server, "dualkey");
  for (const auto& [name, value] : response.headers) reply.set(name, value);
  reply.keep_alive(keep_alive);
  reply.body() = std::move(response.body);
  reply.prepare_payload();
  http::write(stream, reply, ec);
  return !ec && keep_alive;
}

template <typename Stream>
void Serve(Stream& stream, const HttpListener::Handler& handler,
           const std::function<std::string()>& metrics, const WebHandler& web, bool tls) {
  beast::flat_buffer buffer;
  while (true) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kMaxBodyBytes);
    parser.header_limit(16 * 1024);
    beast::error_code ec;
    http::read(stream, buffer, parser, ec);
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset)
      return;
    if (ec) {
      // Malformed or oversized: answer once, then close; never a decision.
      json reply{{"ok", false}, {"error", "bad HTTP request: " + ec.message()}};
      auto response = Reply(ec == http::error::body_limit ? http::status::payload_too_large
                                                          : http::status::bad_request,
                            reply, false, 11);
      http::write(stream, response, ec);
      return;
    }
    if (web) {
      std::optional<WebResponse> page = web(ToWebRequest(parser.get(), tls));
      if (page) {
        if (!WriteWeb(stream, std::move(*page), parser.get().keep_alive(), parser.get().version()))
          return;
        continue;
      }
    }
    auto response = Route(parser.get(), handler, metrics);
    http::write(stream, response, ec);
    if (ec || !response.keep_alive()) return;
  }
}

class BeastListener final : public HttpListener {
 public:
  BeastListener(const HttpListenerOptions& options, Handler handler)
      : options_(options), handler_(std::move(handler)), ssl_(asio::ssl::context::tls_server) {}

  bool Open(std::string* error) {
    beast::error_code ec;
    asio::ip::address address = asio::ip::make_address(options_.address, ec);
    if (ec) {
      *error = "not an IP address: " + options_.address;
      return false;
    }
    use_tls_ = !options_.tls_cert.empty() || !options_.tls_key.empty();
    if (!IsLoopback(address) && !(options_.allow_remote && use_tls_)) {
      *error =
          "the HTTP listener binds loopback only, unless TLS is configured and remote "
          "access is asked for";
      return false;
    }
    if (use_tls_) {
      if (options_.tls_cert.empty() || options_.tls_key.empty()) {
        *error = "TLS needs both a certificate and a key";
        return false;
      }
      ssl_.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1);
      ssl_.use_certificate_chain_file(options_.tls_cert, ec);
      if (!ec) ssl_.use_private_key_file(options_.tls_key, asio::ssl::context::pem, ec);
      if (ec) {
        *error = "cannot load the TLS certificate or key: " + ec.message();
        return false;
      }
    }
    ec = server_.Start({address, static_cast<unsigned short>(options_.port)},
                       /*reuse_address=*/true, asio::socket_base::max_listen_connections);
    if (ec) {
      *error = "cannot listen on " + options_.address + ":" + std::to_string(options_.port) + ": " +
               ec.message();
      return false;
    }
    return true;
  }

  ~BeastListener() override {
    server_.Stop();
    std::unique_lock lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    lock.unlock();
    server_.WaitIdle();
  }

  int port() const override { return server_.port(); }
  bool tls() const override { return use_tls_; }

 private:
  void Connection(tcp::socket socket) {
    // A stalled client must not hold a thread forever.
    timeval timeout{30, 0};
    setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    socket.set_option(tcp::no_delay(true));
    const int fd = socket.native_handle();
    {
      std::unique_lock lock(mu_);
      open_fds_.push_back(fd);
    }
    if (!server_.stopping()) {
      if (use_tls_) {
        beast::ssl_stream<tcp::socket&> stream(socket, ssl_);
        beast::error_code ec;
        stream.handshake(asio::ssl::stream_base::server, ec);
        if (!ec) {
          Serve(stream, handler_, options_.metrics, options_.web, true);
          stream.shutdown(ec);
        }
      } else {
        Serve(socket, handler_, options_.metrics, options_.web, false);
      }
    }
    {
      std::unique_lock lock(mu_);
      std::erase(open_fds_, fd);
    }
    beast::error_code ec;
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }

  HttpListenerOptions options_;
  Handler handler_;
  asio::ssl::context ssl_;
  bool use_tls_ = false;
  std::mutex mu_;
  std::vector<int> open_fds_;
  base::ThreadedServer server_{[this](tcp::socket socket) { Connection(std::move(socket)); }};
};

}  // namespace

Result<std::unique_ptr<HttpListener>> HttpListener::Start(const HttpListenerOptions& options,
                                                          Handler handler) {
  auto listener = std::make_unique<BeastListener>(options, std::move(handler));
  std::string error;
  if (!listener->Open(&error)) return Status::Unavailable(error);
  return std::unique_ptr<HttpListener>(std::move(listener));
}

}  // namespace dualkey::daemon::internal
