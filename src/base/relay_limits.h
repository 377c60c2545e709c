// The limits of a server that relays HTTP to an upstream: the HTTP gateway,
// and the MCP proxy's Streamable HTTP side (docs/gateway.md, docs/mcp.md).
#pragma once

#include <cstddef>

namespace dualkey::base {

struct RelayLimits {
  // A new connection has header_timeout_seconds to send a whole request
  // header, a kept-alive one idle_timeout_seconds to start its next request
  // (then header_timeout_seconds for the header); a body, and each write to
  // the client, may take idle_timeout_seconds.
  int header_timeout_seconds = 10;
  int idle_timeout_seconds = 60;
  // Upstream: connecting (TLS included), then the response header. Past
  // either: 504, nothing retried.
  int upstream_connect_timeout_seconds = 10;
  int upstream_timeout_seconds = 30;
  // Open connections in all and from one client address; at a limit the
  // connection idle the longest makes room.
  std::size_t max_connections = 1000;
  std::size_t max_connections_per_client = 500;

  // Every timeout and limit is at least 1.
  bool Valid() const {
    return header_timeout_seconds >= 1 && idle_timeout_seconds >= 1 &&
           upstream_connect_timeout_seconds >= 1 && upstream_timeout_seconds >= 1 &&
           max_connections >= 1 && max_connections_per_client >= 1;
  }
};

}  // namespace dualkey::base
