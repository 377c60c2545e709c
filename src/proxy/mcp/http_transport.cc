// The HTTP transport's plumbing: the upstream URL, which headers pass, the
// origin check, SSE events, and connecting to the upstream.
#include "proxy/mcp/internal/http_transport.h"

#include <openssl/err.h>

#include "base/json_text.h"

namespace dualkey::mcpproxy::internal {

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

std::string SseEvent(const json& message) {
  return "event: message\ndata: " + base::JsonDump(message) + "\n\n";
}

bool Upstream::Connect(std::string* error, bool* timed_out) {
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

}  // namespace dualkey::mcpproxy::internal
