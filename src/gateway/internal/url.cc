#include "gateway/internal/url.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>

#include "base/json_text.h"
#include "gateway/internal/sigv4.h"

namespace dualkey::gateway::internal {
namespace {

bool IsDotSegment(std::string_view segment) {
  std::string decoded;
  for (std::size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] == '%' && i + 2 < segment.size() && segment[i + 1] == '2' &&
        (segment[i + 2] == 'e' || segment[i + 2] == 'E')) {
      decoded.push_back('.');
      i += 2;
    } else {
      decoded.push_back(segment[i]);
    }
  }
  return decoded == "." || decoded == "..";
}

bool ValidUtf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const int extra = c < 0x80         ? 0
                      : (c >> 5) == 6  ? 1
                      : (c >> 4) == 14 ? 2
                      : (c >> 3) == 30 ? 3
                                       : -1;
    if (extra < 0 || i + extra >= text.size()) return false;
    for (int k = 1; k <= extra; ++k)
      if ((static_cast<unsigned char>(text[i + k]) >> 6) != 2) return false;
    i += extra + 1;
  }
  return true;
}

// Hop-by-hop, or the agent's credentials: never forwarded upstream.
constexpr std::array<std::string_view, 12> kDropped = {"authorization",
                                                       "x-dualkey-token",
                                                       "proxy-authorization",
                                                       "host",
                                                       "connection",
                                                       "keep-alive",
                                                       "proxy-connection",
                                                       "te",
                                                       "trailer",
                                                       "transfer-encoding",
                                                       "upgrade",
                                                       "expect"};

// Besides those, headers that differ between two sends of one request.
constexpr std::array<std::string_view, 10> kNotClassified = {
    "content-length",  "date",        "user-agent", "accept-encoding",
    "x-request-id",    "traceparent", "tracestate", "amz-sdk-invocation-id",
    "amz-sdk-request", "x-amz-date"};

}  // namespace

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string BaseUrl::HostHeader() const {
  const bool default_port = (tls && port == "443") || (!tls && port == "80");
  const std::string shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return default_port ? shown : shown + ":" + port;
}

std::string BaseUrl::Origin() const {
  return (tls ? "https://" : "http://") + HostHeader();
}

bool ParseBaseUrl(std::string_view text, BaseUrl* out, std::string* error) {
  *out = BaseUrl{};
  std::string_view rest;
  if (text.starts_with("https://")) {
    out->tls = true;
    rest = text.substr(8);
  } else if (text.starts_with("http://")) {
    out->tls = false;
    rest = text.substr(7);
  } else {
    *error = "base_url must start with https:// (or http:// for a local stand-in)";
    return false;
  }
  if (rest.find_first_of("?#@ \t") != std::string_view::npos) {
    *error = "base_url has no query, fragment, user info or spaces";
    return false;
  }
  std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (authority.starts_with("[")) {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      *error = "base_url has an unclosed [IPv6] host";
      return false;
    }
    out->host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (authority.starts_with(":")) out->port = std::string(authority.substr(1));
  } else {
    std::size_t colon = authority.find(':');
    out->host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) out->port = std::string(authority.substr(colon + 1));
  }
  if (out->host.empty()) {
    *error = "base_url has no host";
    return false;
  }
  if (out->port.empty()) out->port = out->tls ? "443" : "80";
  if (out->port.size() > 5 || !std::all_of(out->port.begin(), out->port.end(), ::isdigit) ||
      std::stoi(out->port) == 0 || std::stoi(out->port) > 65535) {
    *error = "base_url has a bad port";
    return false;
  }
  for (std::string_view segment : {path}) {
    std::size_t start = 0;
    while (start < segment.size()) {
      std::size_t end = segment.find('/', start + 1);
      std::string_view piece = segment.substr(
          start + 1, end == std::string_view::npos ? std::string_view::npos : end - start - 1);
      if (IsDotSegment(piece)) {
        *error = "base_url path has a dot segment";
        return false;
      }
      if (end == std::string_view::npos) break;
      start = end;
    }
  }
  out->path_prefix = std::string(path);
  return true;
}

bool SplitTarget(std::string_view target, Target* out, std::string* error) {
  *out = Target{};
  if (target.empty() || target[0] != '/') {
    *error = "the request target must be /<upstream>/<path>, not \"" +
             std::string(target.substr(0, 80)) + "\"";
    return false;
  }
  for (unsigned char c : target) {
    if (c < 0x21 || c == 0x7f) {
      *error = "the request target has a control byte or space";
      return false;
    }
    if (c >= 0x80) {
      // RFC 3986: a URL is ASCII; other bytes are percent-encoded. Raw ones
      // would reach the classifier and the upstream as different text.
      *error = "the request target has a byte that is not ASCII; percent-encode it";
      return false;
    }
  }
  std::string_view path = target;
  if (std::size_t hash = path.find('#'); hash != std::string_view::npos) {
    *error = "the request target has a fragment";
    return false;
  }
  if (std::size_t q = path.find('?'); q != std::string_view::npos) {
    out->query = std::string(path.substr(q + 1));
    path = path.substr(0, q);
  }
  path.remove_prefix(1);
  std::size_t slash = path.find('/');
  out->upstream = std::string(path.substr(0, slash));
  out->path = slash == std::string_view::npos ? "/" : std::string(path.substr(slash));
  if (out->upstream.empty()) {
    *error = "the request target must start with an upstream name: /<upstream>/<path>";
    return false;
  }
  std::size_t start = 0;
  while (start < out->path.size()) {
    std::size_t end = out->path.find('/', start + 1);
    std::string_view piece(out->path);
    piece = piece.substr(start + 1, end == std::string::npos ? std::string::npos : end - start - 1);
    if (IsDotSegment(piece)) {
      *error = "the request path has a \".\" or \"..\" segment; send the path it resolves to";
      return false;
    }
    if (end == std::string::npos) break;
    start = end;
  }
  return true;
}

bool IsHopByHopOrAgentAuth(std::string_view lower_name) {
  return std::find(kDropped.begin(), kDropped.end(), lower_name) != kDropped.end();
}

ClassifiedRequest HttpChannelInput(std::string_view method, std::string_view url,
                                   const std::vector<std::pair<std::string, std::string>>& headers,
                                   std::string_view body) {
  using json = nlohmann::ordered_json;
  ClassifiedRequest out;
  json request{{"method", method}, {"url", url}};
  json kept = json::object();
  std::string raw_headers;  // the classified headers' bytes, for a digest
  bool raw_headers_valid = true;
  for (const auto& [name, value] : headers) {
    const std::string lower = Lower(name);
    if (IsHopByHopOrAgentAuth(lower) ||
        std::find(kNotClassified.begin(), kNotClassified.end(), lower) != kNotClassified.end())
      continue;
    if (lower == "x-amz-content-sha256" || lower == "x-amz-security-token") continue;
    raw_headers_valid = raw_headers_valid && ValidUtf8(value);
    raw_headers.append(lower).append(1, '\0').append(value).append(1, '\0');
    if (lower == "content-encoding" && Lower(value) != "identity")
      out.hold_reason = "the body is " + base::ToValidUtf8(value.substr(0, 40)) +
                        "-encoded, and dualkey classifies only what it can read";
    auto it = kept.find(lower);
    if (it == kept.end()) {
      kept[lower] = value;
    } else {
      // Repeated header: every value, in order.
      if (!it->is_array()) *it = json::array({*it});
      it->push_back(value);
    }
  }
  if (!kept.empty()) request["headers"] = std::move(kept);
  // Header values may carry any byte (obs-text). The classifier reads them
  // with invalid UTF-8 replaced; their digest keeps an approval exact.
  if (!raw_headers_valid) request["headers_sha256"] = Sha256Hex(raw_headers);
  if (!body.empty()) {
    if (ValidUtf8(body)) {
      request["body"] = body;
    } else {
      // Not text: classified with the bad bytes replaced, and the digest makes
      // the approval exact for these bytes.
      request["body"] = body;
      request["body_sha256"] = Sha256Hex(body);
    }
  }
  out.input = request.dump(-1, ' ', false, json::error_handler_t::replace);
  return out;
}

}  // namespace dualkey::gateway::internal
