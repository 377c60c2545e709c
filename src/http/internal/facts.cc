#include "http/internal/facts.h"

#include <algorithm>
#include <cctype>

namespace dualkey::http::internal {

// ================================================================ text

bool GlobMatch(std::string_view pattern, std::string_view text) {
  // Iterative matcher with one backtrack point: linear enough for short
  // patterns, never recursive.
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && Lower(pattern[p]) == Lower(text[t])) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool NamesBackup(std::string_view text) {
  return IContains(text, "backup") || IContains(text, "snapshot") ||
         IContains(text, "recovery-point") || IContains(text, "recoverypoint") ||
         IContains(text, "recovery_point");
}

std::size_t JsonDepth(std::string_view text) {
  std::size_t depth = 0, max = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max = std::max(max, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return max;
}

// ================================================================ URL

namespace {

int DefaultPort(std::string_view scheme) {
  if (scheme == "http" || scheme == "ws") return 80;
  if (scheme == "https" || scheme == "wss") return 443;
  return 0;
}

bool ValidHostChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
}

}  // namespace

std::string PercentDecode(std::string_view text, bool plus_as_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      int hi = HexValue(text[i + 1]), lo = HexValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_as_space && c == '+' ? ' ' : c);
  }
  return out;
}

Params ParseForm(std::string_view text) {
  Params out;
  while (!text.empty()) {
    std::size_t amp = text.find('&');
    std::string_view pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      out.emplace_back(PercentDecode(pair, true), std::string());
    } else {
      out.emplace_back(PercentDecode(pair.substr(0, eq), true),
                       PercentDecode(pair.substr(eq + 1), true));
    }
  }
  return out;
}

bool ParseUrl(std::string_view text, std::string_view default_host, Url* out, std::string* error) {
  *out = Url{};
  auto fail = [&](std::string why) {
    *error = "bad URL: " + why;
    return false;
  };
  if (text.empty()) return fail("empty");
  for (char c : text)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return fail("contains whitespace or control characters");
  std::string_view rest = text;
  if (std::size_t fragment = rest.find('#'); fragment != std::string_view::npos)
    rest = rest.substr(0, fragment);
  std::string_view authority;
  if (rest.front() == '/' && !rest.starts_with("//")) {
    out->scheme = "https";
    authority = default_host;
  } else {
    std::size_t colon = rest.find("://");
    if (rest.starts_with("//")) {
      out->scheme = "https";
      rest.remove_prefix(2);
    } else if (colon != std::string_view::npos && rest.find_first_of("/?") > colon) {
      out->scheme = ToLower(rest.substr(0, colon));
      rest.remove_prefix(colon + 3);
    } else {
      out->scheme = "https";  // curl's reading of "host/path"
    }
    for (char c : out->scheme)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.')
        return fail("invalid scheme");
    std::size_t end = rest.find_first_of("/?");
    authority = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  }
  if (std::size_t at = authority.rfind('@'); at != std::string_view::npos)
    authority.remove_prefix(at + 1);
  std::string_view host = authority, port;
  if (authority.starts_with("[")) {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail("unterminated IPv6 host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("junk after IPv6 host");
      port = after.substr(1);
    }
    for (char c : host)
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.')
        return fail("invalid IPv6 host");
  } else {
    if (std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
    for (char c : host)
      if (!ValidHostChar(c)) return fail("invalid character in host");
  }
  if (host.empty()) return fail("no host");
  out->host = ToLower(host);
  while (!out->host.empty() && out->host.back() == '.') out->host.pop_back();
  if (out->host.empty()) return fail("no host");
  if (!port.empty()) {
    if (port.size() > 5) return fail("invalid port");
    int value = 0;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return fail("invalid port");
      value = value * 10 + (c - '0');
    }
    if (value == 0 || value > 65535) return fail("invalid port");
    out->port = value;
  } else {
    out->port = DefaultPort(out->scheme);
  }

  std::string_view path = rest, query;
  if (std::size_t q = rest.find('?'); q != std::string_view::npos) {
    path = rest.substr(0, q);
    query = rest.substr(q + 1);
  }
  while (!path.empty()) {
    std::size_t slash = path.find('/');
    std::string_view raw = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    if (raw.empty()) continue;
    std::string segment = PercentDecode(raw, false);
    if (segment == ".") continue;
    if (segment == "..") {
      if (!out->segments.empty()) out->segments.pop_back();
      continue;
    }
    out->segments.push_back(std::move(segment));
  }
  out->query = ParseForm(query);
  out->path = "/";
  for (std::size_t i = 0; i < out->segments.size(); ++i) {
    if (i) out->path.push_back('/');
    out->path += out->segments[i];
  }
  return true;
}

// ================================================================ Facts

Facts::Facts(const Request& request, std::string method, Url url)
    : request_(request), method_(std::move(method)), url_(std::move(url)) {
  std::string_view type = Header("content-type");
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  while (!type.empty() && type.front() == ' ') type.remove_prefix(1);
  content_type_ = ToLower(type);
  if (content_type_ == "application/x-www-form-urlencoded") form_ = ParseForm(request.body);
}

std::string_view Facts::Header(std::string_view name) const {
  for (const auto& [key, value] : request_.headers)
    if (IEquals(key, name)) return value;
  return {};
}

const std::string* Facts::QueryParam(std::string_view name) const {
  for (const auto& [key, value] : url_.query)
    if (IEquals(key, name)) return &value;
  return nullptr;
}

const std::string* Facts::FormOrQueryParam(std::string_view name) const {
  for (const auto& [key, value] : form_)
    if (IEquals(key, name)) return &value;
  return QueryParam(name);
}

const nlohmann::json* Facts::Json() const {
  if (!json_parsed_) {
    json_parsed_ = true;
    std::string_view body = request_.body;
    std::size_t first = body.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos && (body[first] == '{' || body[first] == '[') &&
        JsonDepth(body) <= kMaxJsonDepth) {
      nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
      if (!parsed.is_discarded()) json_ = std::move(parsed);
    }
  }
  return json_ ? &*json_ : nullptr;
}

bool Facts::IsRead() const {
  return method_ == "GET" || method_ == "HEAD" || method_ == "OPTIONS";
}

std::string Facts::Target() const {
  return url_.host + url_.path;
}

// ================================================================ actions

Action MakeAction(std::string op_class, std::vector<std::string> targets,
                  Reversibility reversibility, Severity severity, std::string reason) {
  return dualkey::MakeAction(Channel::kHttp, std::move(op_class), std::move(targets), reversibility,
                             severity, std::move(reason));
}

Action Opaque(std::string reason) {
  return MakeAction("opaque.http", {}, Reversibility::kUnknown, Severity::kHigh, std::move(reason));
}

Action Read(const Facts& facts, std::string reason) {
  return MakeAction("read.only", {facts.Target()}, Reversibility::kReversible, Severity::kNone,
                    std::move(reason));
}

// ================================================================ routes

namespace {

bool MethodListed(std::string_view methods, std::string_view method) {
  if (methods == "*") return true;
  while (!methods.empty()) {
    std::size_t bar = methods.find('|');
    if (methods.substr(0, bar) == method) return true;
    if (bar == std::string_view::npos) break;
    methods.remove_prefix(bar + 1);
  }
  return false;
}

bool PathMatches(std::string_view pattern, const std::vector<std::string>& segments,
                 std::size_t index) {
  while (!pattern.empty()) {
    std::size_t slash = pattern.find('/');
    std::string_view glob = pattern.substr(0, slash);
    pattern = slash == std::string_view::npos ? std::string_view() : pattern.substr(slash + 1);
    if (glob == "**") return true;
    if (index >= segments.size() || !GlobMatch(glob, segments[index])) return false;
    ++index;
  }
  return index == segments.size();
}

bool IsDestroyingClass(std::string_view op_class) {
  return op_class.ends_with(".delete") || op_class == "db.drop" ||
         op_class.starts_with("cloud.delete") || op_class.ends_with(".unbounded");
}

}  // namespace

bool RouteMatches(const Route& route, const Facts& facts, std::size_t skip) {
  if (!route.host.empty() && !GlobMatch(route.host, facts.url().host)) return false;
  if (!MethodListed(route.methods, facts.method())) return false;
  return PathMatches(route.path, facts.url().segments, skip);
}

const Route* FindRoute(std::span<const Route> table, const Facts& facts, std::size_t skip) {
  for (const Route& route : table)
    if (RouteMatches(route, facts, skip)) return &route;
  return nullptr;
}

Action RouteAction(const Route& route, const Facts& facts) {
  std::string op_class(route.op_class);
  Severity severity = route.severity;
  std::string reason(route.reason);
  if (IsDestroyingClass(op_class) && op_class != "backup.delete" && severity >= Severity::kMedium &&
      NamesBackup(facts.Target())) {
    op_class = "backup.delete";
    severity = std::max(severity, Severity::kCritical);
    reason += "; the target holds backups or snapshots";
  }
  return MakeAction(std::move(op_class), {facts.Target()}, route.reversibility, severity,
                    std::move(reason));
}

}  // namespace dualkey::http::internal
