// The gateway's parts below the session: upstream connections and their
// runtime (base URL, credential, TLS context, idle pools), the replies it
// makes itself, the request framing rules, and the command line's HOST:PORT.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/asio.h"
#include "base/status.h"
#include "gateway/gateway.h"
#include "gateway/internal/url.h"

namespace dualkey::gateway::internal {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = boost::asio::ssl;
using json = nlohmann::json;

// One connection to an upstream, kept alive between requests.
struct Connection {
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  std::unique_ptr<beast::tcp_stream> plain;
  beast::flat_buffer buffer;
  beast::tcp_stream& Lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

struct UpstreamRuntime {
  Upstream config;
  BaseUrl base;
  Credential credential;
  std::unique_ptr<ssl::context> tls;
  // Kept-alive connections, one pool per worker thread: a connection's
  // completions run on the thread whose io_context made it.
  std::vector<std::vector<std::unique_ptr<Connection>>> idle;
};

// Each configured upstream with its credential (from STATE/credentials) and
// TLS context; warns on stderr about plain http:// to another host.
Status LoadUpstreams(const Config& config, const Options& options,
                     std::map<std::string, std::unique_ptr<UpstreamRuntime>>* out);

struct Reply {
  http::status status = http::status::ok;
  json body;
  bool close = false;
};

std::string Base64(std::string_view data);
Reply Error(http::status status, std::string error, std::string reason, bool close = false);
// Malformed or unreadable input: held, never forwarded.
Reply Held(http::status status, std::string error, std::string reason, bool close);
bool IsLoopbackHost(const std::string& host);

// The framing rules docs/gateway.md promises, beyond Beast's own: a
// Transfer-Encoding is exactly "chunked" (anything else would leave the
// body's end to a guess, and the upstream would get a body we re-framed),
// never with a Content-Length, and Content-Length appears once with one
// value. Empty when the request keeps them.
std::string FramingProblem(const http::request_parser<http::string_body>& parser);

// What a connection's close must reach: its stream, while it exists (only
// touched on the connection's own thread).
struct CloseHandle {
  beast::tcp_stream* stream = nullptr;
};

// --listen's HOST:PORT ("[::1]:80" too; an empty host is 127.0.0.1).
bool ParseListen(const std::string& text, std::string* host, unsigned short* port);

}  // namespace dualkey::gateway::internal
