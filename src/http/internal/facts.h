// What the HTTP classifiers see: a request taken apart once (URL parsed and
// percent-decoded, method normalised, content type, form fields, JSON body
// parsed on demand), plus the text helpers and route tables they share.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/text.h"
#include "core/action.h"
#include "http/http.h"

namespace dualkey::http::internal {

using Params = std::vector<std::pair<std::string, std::string>>;

struct Url {
  std::string scheme;  // lower case: "https"
  std::string host;    // lower case, no trailing dot; IPv6 without brackets
  int port = 0;        // explicit, or the scheme's default
  // Path segments, percent-decoded, empty segments dropped, "." and ".."
  // resolved the way servers normalise them.
  std::vector<std::string> segments;
  Params query;      // decoded names and values, '+' as space
  std::string path;  // "/" + segments joined by "/", for targets and messages
};

// Parses an absolute URL; origin-form ("/x") when `default_host` is given.
bool ParseUrl(std::string_view text, std::string_view default_host, Url* out, std::string* error);
// Percent-decoding; an invalid escape is kept as written.
std::string PercentDecode(std::string_view text, bool plus_as_space);
// a=1&b=2 (form bodies and query strings).
Params ParseForm(std::string_view text);

// ------------------------------------------------------------ text helpers
// Case-insensitive ASCII comparison, one definition for every channel.
using base::HexValue;
using base::IContains;
using base::IEquals;
using base::IStartsWith;
using base::Lower;
using base::ToLower;
// Glob with '*' matching any run of characters (case-insensitive).
bool GlobMatch(std::string_view pattern, std::string_view text);
// Names that hold backups: deleting them is backup.delete.
bool NamesBackup(std::string_view text);
// Deepest [ / { nesting outside strings; bounds recursion before parsing.
std::size_t JsonDepth(std::string_view text);
constexpr std::size_t kMaxJsonDepth = 256;

// ------------------------------------------------------------ the request
class Facts {
 public:
  Facts(const Request& request, std::string method, Url url);

  const Request& request() const { return request_; }
  const std::string& method() const { return method_; }
  const Url& url() const { return url_; }
  const std::string& body() const { return request_.body; }
  std::string_view content_type() const { return content_type_; }  // lower case, no params

  std::string_view Header(std::string_view name) const;        // "" when absent
  const std::string* QueryParam(std::string_view name) const;  // case-insensitive
  bool HasQueryParam(std::string_view name) const { return QueryParam(name) != nullptr; }
  // Fields of a form-encoded body (empty for other bodies).
  const Params& form() const { return form_; }
  const std::string* FormOrQueryParam(std::string_view name) const;
  // The body as JSON, or nullptr when it is not JSON (parsed once).
  const nlohmann::json* Json() const;

  bool IsRead() const;  // GET, HEAD, OPTIONS
  bool IsDelete() const { return method_ == "DELETE"; }
  bool IsWrite() const { return !IsRead() && !IsDelete(); }  // POST, PUT, PATCH, ...

  // host + path, the usual target of an Action.
  std::string Target() const;

 private:
  const Request& request_;
  std::string method_;
  Url url_;
  std::string content_type_;
  Params form_;
  mutable bool json_parsed_ = false;
  mutable std::optional<nlohmann::json> json_;
};

// ------------------------------------------------------------ actions
Action MakeAction(std::string op_class, std::vector<std::string> targets,
                  Reversibility reversibility, Severity severity, std::string reason);
Action Opaque(std::string reason);
Action Read(const Facts& facts, std::string reason);

// ------------------------------------------------------------ route tables
// One row: a host glob ("" any host), the methods it covers ("DELETE",
// "POST|PUT", "*"), a path pattern of '/'-separated segment globs where "**"
// as the last segment matches any number of segments (none included), and
// what such a request is.
struct Route {
  std::string_view host;
  std::string_view methods;
  std::string_view path;
  std::string_view op_class;
  Severity severity;
  Reversibility reversibility;
  std::string_view reason;
};

// `skip` leading path segments are not matched (an API mounted under a
// prefix, such as GitHub Enterprise's /api/v3).
bool RouteMatches(const Route& route, const Facts& facts, std::size_t skip = 0);
// First matching row, or nullptr.
const Route* FindRoute(std::span<const Route> table, const Facts& facts, std::size_t skip = 0);
// The row as an Action on host+path. A destroying class whose path names
// backups or snapshots becomes backup.delete.
Action RouteAction(const Route& route, const Facts& facts);

// ------------------------------------------------------------ families
// Each returns true when it recognised the request and appended its Actions.
bool ClassifyGraphqlEndpoint(const Facts& facts, std::vector<Action>* out);
bool ClassifySqlEndpoint(const Facts& facts, std::vector<Action>* out);
bool ClassifyAws(const Facts& facts, std::vector<Action>* out);
bool ClassifyProviders(const Facts& facts, std::vector<Action>* out);  // the REST tables

}  // namespace dualkey::http::internal
