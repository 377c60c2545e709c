// The pure parts of the gateway, apart from sockets: upstream base URLs, the
// agent's request target, and the HTTP channel input a request becomes.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dualkey::gateway::internal {

struct BaseUrl {
  bool tls = true;
  std::string host;
  std::string port;                // "443", "80" or as written
  std::string path_prefix;         // "" or "/v1" (no trailing slash)
  std::string HostHeader() const;  // host, with :port when not the scheme's default
  std::string Origin() const;      // https://host[:port]
};

bool ParseBaseUrl(std::string_view text, BaseUrl* out, std::string* error);

// "/railway/graphql/v2?x=1" -> {"railway", "/graphql/v2", "x=1"}. Refuses
// absolute-form targets, dot segments (encoded or not) and control bytes.
struct Target {
  std::string upstream;
  std::string path;   // "/" at least
  std::string query;  // without '?', may be empty
};
bool SplitTarget(std::string_view target, Target* out, std::string* error);

// What the gateway asks the HTTP channel about: the request as the upstream
// will see it (absolute URL), minus the agent's token and the headers that
// differ between two sends of the same request (hop-by-hop, tracing, dates),
// so an approval matches the identical request sent again.
struct ClassifiedRequest {
  std::string input;  // JSON for guard::Check / the daemon (channel http)
  // Set when something about the request should be held whatever the
  // classifier says (an encoded body it cannot read).
  std::string hold_reason;
};
ClassifiedRequest HttpChannelInput(std::string_view method, std::string_view url,
                                   const std::vector<std::pair<std::string, std::string>>& headers,
                                   std::string_view body);

// Headers never forwarded upstream as the agent sent them.
bool IsHopByHopOrAgentAuth(std::string_view lower_name);
std::string Lower(std::string_view text);

}  // namespace dualkey::gateway::internal
