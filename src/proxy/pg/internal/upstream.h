// The upstream leg: connecting to the real PostgreSQL with the real
// credentials (TLS per sslmode, SCRAM-SHA-256, md5 or cleartext as the
// server asks), and the side connection the proxy uses for its own queries
// (row estimates, snapshots).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "proxy/pg/internal/leg.h"
#include "proxy/pg/pg_proxy.h"

namespace dualkey::pgproxy {

struct UpstreamSession {
  std::unique_ptr<Leg> leg;
  std::int32_t backend_pid = 0;
  std::int32_t backend_key = 0;
  // ParameterStatus and notices after authentication, in order, ending
  // with ReadyForQuery; BackendKeyData removed (the caller sends its own).
  std::string greeting;
  int server_version_num = 0;
  // When the connection failed: the upstream's own ErrorResponse to pass to
  // the client (empty if none), and a message.
  std::string error_response;
  std::string error;
};

// HOST:PORT (an IPv6 address in brackets) into its parts: the upstream
// URI's and --listen's (upstream_uri.cc).
bool SplitHostPort(const std::string& text, std::string* host, int* port);

// Whether the upstream is a Unix socket: a host that is a directory, as
// libpq takes it (the socket is HOST/.s.PGSQL.PORT).
inline bool IsUnixSocket(const Upstream& upstream) {
  return !upstream.host.empty() && upstream.host.front() == '/';
}

// A connected socket to the upstream (TCP with TCP_NODELAY, or the Unix
// socket). Throws on failure.
Task<StreamSocket> ConnectSocket(const Upstream& upstream);

// Throws nothing: failures come back in `error`.
Task<UpstreamSession> ConnectUpstream(
    const Upstream& upstream, asio::ssl::context& tls, const std::string& database,
    const std::vector<std::pair<std::string, std::string>>& extra_parameters);

// The proxy's own connection, for simple queries. Not shared between
// sessions.
class SideConnection {
 public:
  using Row = std::vector<std::optional<std::string>>;
  struct Result {
    std::vector<Row> rows;
    std::string error;  // the server's message when the query failed
  };

  SideConnection(const Upstream& upstream, asio::ssl::context& tls, std::string database)
      : upstream_(upstream), tls_(tls), database_(std::move(database)) {}

  // Runs one simple query (lazily connecting first). Throws on I/O errors.
  Task<Result> Query(const std::string& sql);
  // COPY ... TO STDOUT: each CopyData chunk goes to `sink`; returns the
  // server's error, or empty on success. `sink` returning false aborts.
  Task<std::string> CopyOut(const std::string& sql,
                            const std::function<bool(std::string_view)>& sink);
  // Parameter count and types of a statement, from Parse + Describe.
  Task<Result> Describe(const std::string& sql, const std::vector<std::int32_t>& types,
                        std::vector<std::int32_t>* parameter_types);
  int server_version_num() const { return version_; }
  void Close() {
    if (session_.leg) session_.leg->Close();
    session_.leg.reset();
  }

 private:
  Task<void> Ensure();
  Upstream upstream_;
  asio::ssl::context& tls_;
  std::string database_;
  UpstreamSession session_;
  int version_ = 0;
};

}  // namespace dualkey::pgproxy
