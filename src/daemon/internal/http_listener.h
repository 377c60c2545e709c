// The daemon's loopback HTTP listener: the same JSON requests as the Unix
// socket, as `POST /v1/<op>` (and `GET /v1/status`, `GET /v1/pending`), for
// the web dashboard and gateways on other hosts of a team. TLS when a
// certificate is configured.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace dualkey::daemon::internal {

// The approver's page (web.cc) sees every request first: it answers its own
// paths and may refuse /v1/ ones (a foreign Origin); nullopt lets the JSON
// protocol answer.
struct WebRequest {
  std::string method;
  std::string target;                          // path and query
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  bool tls = false;
};
struct WebResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // A stream (server-sent events): after the headers, runs on the
  // connection's thread, writing through `write` (false once the client is
  // gone) until it returns; then the connection closes.
  std::function<void(const std::function<bool(std::string_view)>& write)> stream;
};
using WebHandler = std::function<std::optional<WebResponse>(const WebRequest&)>;

struct HttpListenerOptions {
  std::string address = "127.0.0.1";
  int port = 0;          // 0: any free port
  std::string tls_cert;  // PEM chain; with tls_key, serve HTTPS
  std::string tls_key;
  bool allow_remote = false;  // bind a non-loopback address (needs TLS)
  // GET /metrics: Prometheus text (none: 404).
  std::function<std::string()> metrics;
  WebHandler web;  // the approver's page, when served
};

class HttpListener {
 public:
  using Handler = std::function<nlohmann::json(const nlohmann::json&)>;
  // Binds and starts serving on a thread of its own. Null with `error` set
  // when it cannot (address in use, bad certificate, remote without TLS).
  static Result<std::unique_ptr<HttpListener>> Start(const HttpListenerOptions& options,
                                                     Handler handler);
  virtual ~HttpListener() = default;  // stops accepting and joins
  virtual int port() const = 0;
  virtual bool tls() const = 0;
};

}  // namespace dualkey::daemon::internal
