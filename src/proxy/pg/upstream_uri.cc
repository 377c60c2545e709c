// The upstream URI (postgresql://USER@HOST[:PORT][/DB][?sslmode=...]) and
// HOST:PORT, which --listen shares.
#include <cctype>

#include "proxy/pg/internal/upstream.h"

namespace dualkey::pgproxy {

bool SplitHostPort(const std::string& text, std::string* host, int* port) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  *host = text.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']')
    *host = host->substr(1, host->size() - 2);
  try {
    *port = std::stoi(text.substr(colon + 1));
  } catch (...) {
    return false;
  }
  return *port >= 0 && *port < 65536 && !host->empty();
}

namespace {

std::string PercentDecode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() &&
        std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

}  // namespace

std::optional<Upstream> ParseUpstreamUri(std::string_view uri, std::string* error) {
  Upstream up;
  std::string_view rest;
  for (std::string_view scheme : {"postgresql://", "postgres://"})
    if (uri.starts_with(scheme)) rest = uri.substr(scheme.size());
  if (rest.empty()) {
    *error = "the upstream is postgresql://USER@HOST[:PORT][/DB][?sslmode=...]";
    return std::nullopt;
  }
  std::string_view query;
  if (std::size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (std::size_t slash = rest.find('/'); slash != std::string_view::npos) {
    up.database = PercentDecode(rest.substr(slash + 1));
    rest = rest.substr(0, slash);
  }
  const std::size_t at = rest.rfind('@');
  if (at == std::string_view::npos) {
    *error = "the upstream URI needs a user: postgresql://USER@HOST:PORT";
    return std::nullopt;
  }
  std::string_view userinfo = rest.substr(0, at);
  if (userinfo.find(':') != std::string_view::npos) {
    *error = "no password in the upstream URI: use --upstream-password-file or PGPASSWORD";
    return std::nullopt;
  }
  up.user = PercentDecode(userinfo);
  std::string_view hostport = rest.substr(at + 1);
  if (hostport.find(':') != std::string_view::npos && hostport.back() != ']') {
    if (!SplitHostPort(std::string(hostport), &up.host, &up.port) || up.port == 0) {
      *error = "bad host:port in the upstream URI";
      return std::nullopt;
    }
  } else {
    up.host = std::string(hostport);
  }
  up.host = PercentDecode(up.host);  // %2Fvar%2Frun%2Fpostgresql: a socket directory
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    std::size_t eq = pair.find('=');
    std::string key(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1));
    if (key == "sslmode") {
      if (value == "allow") value = "prefer";
      if (value == "verify-ca") value = "verify-full";
      if (value != "disable" && value != "prefer" && value != "require" && value != "verify-full") {
        *error = "sslmode is disable, prefer, require or verify-full";
        return std::nullopt;
      }
      up.sslmode = value;
    } else if (key == "sslrootcert") {
      up.sslrootcert = value;
    } else if (key == "host") {
      up.host = value;
    } else if (key == "port") {
      try {
        up.port = std::stoi(value);
      } catch (...) {
        up.port = 0;
      }
      if (up.port <= 0 || up.port > 65535) {
        *error = "bad port in the upstream URI";
        return std::nullopt;
      }
    } else {
      *error = "unknown upstream URI parameter '" + key + "' (sslmode, sslrootcert, host, port)";
      return std::nullopt;
    }
  }
  if (up.host.empty()) {
    *error = "the upstream URI needs a host (a name, an address, or a socket directory)";
    return std::nullopt;
  }
  if (up.host.front() != '/' && up.host.find('/') != std::string::npos) {
    *error = "a Unix socket directory in the upstream URI must be an absolute path";
    return std::nullopt;
  }
  return up;
}

}  // namespace dualkey::pgproxy
