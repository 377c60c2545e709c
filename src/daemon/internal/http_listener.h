// The daemon's loopback HTTP listener: the same JSON requests as the Unix
// socket, as `POST /v1/<op>` (and `GET /v1/status`, `GET /v1/pending`), for
// the web dashboard and gateways on other hosts of a team. TLS when a
// certificate is configured.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace dualkey::daemon::internal {

struct HttpListenerOptions {
  std::string address = "127.0.0.1";
  int port = 0;          // 0: any free port
  std::string tls_cert;  // PEM chain; with tls_key, serve HTTPS
  std::string tls_key;
  bool allow_remote = false;  // bind a non-loopback address (needs TLS)
  // GET /metrics: Prometheus text (none: 404).
  std::function<std::string()> metrics;
};

class HttpListener {
 public:
  using Handler = std::function<nlohmann::json(const nlohmann::json&)>;
  // Binds and starts serving on a thread of its own. Null with `error` set
  // when it cannot (address in use, bad certificate, remote without TLS).
  static std::unique_ptr<HttpListener> Start(const HttpListenerOptions& options, Handler handler,
                                             std::string* error);
  virtual ~HttpListener() = default;  // stops accepting and joins
  virtual int port() const = 0;
  virtual bool tls() const = 0;
};

}  // namespace dualkey::daemon::internal
