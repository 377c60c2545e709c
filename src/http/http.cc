// The HTTP channel's entry points: validate the request, take it apart once
// (internal::Facts), and ask the classifiers in order of specificity: SQL
// endpoints, GraphQL endpoints, AWS, the REST provider tables, then generic
// rules by method. See internal/ for each.
#include "http/http.h"

#include <array>
#include <cctype>
#include <nlohmann/json.hpp>

#include "core/verbs.h"
#include "http/internal/facts.h"

namespace dualkey::http {
namespace {

using internal::Facts;
using internal::MakeAction;
using internal::Opaque;

// `name` read as a verb (core/verbs.h) when it destroys what it names (not
// a soft object) and is shaped like an identifier: letters, digits and the
// characters of `also`.
bool DestroyingWord(std::string_view name, std::string_view also, std::string* verb) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && also.find(c) == std::string_view::npos)
      return false;
  const verbs::Reading reading = verbs::ReadName(name);
  if (reading.kind != verbs::Kind::kDestroy || reading.soft) return false;
  *verb = std::string(name);
  return true;
}

// The last path segment read as a verb (core/verbs.h): POST .../destroy,
// .../doDelete, .../delete_series, .../purge, .../bulk-delete destroy what
// they name whatever the method; .../remove-tag, .../reset-password do not
// (soft objects). Only names shaped like identifiers are read.
bool DestroyingPath(const Facts& facts, std::string* verb) {
  const auto& segments = facts.url().segments;
  if (segments.empty()) return false;
  std::string_view last = segments.back();
  if (std::size_t colon = last.rfind(':'); colon != std::string_view::npos)
    last = last.substr(colon + 1);
  return DestroyingWord(last, "-_", verb);
}

bool DestroyingName(std::string_view name, std::string* verb) {
  return DestroyingWord(name, "-_./:", verb);
}

// Fields that name the operation an RPC-shaped request asks for, whatever
// the path: JSON-RPC's "method", and the action/operation/command fields of
// the many APIs that dispatch on one endpoint.
constexpr std::array<std::string_view, 6> kOperationFields = {"method", "action",  "operation",
                                                              "op",     "command", "cmd"};

// The operation a request names outside its path: a query flag shaped like
// a verb (S3's POST ?delete), an operation field in the query
// (?action=DeleteQueue), or one in a JSON body (a JSON-RPC call, or a batch
// of them). A destroying verb there destroys like one at the path's end.
bool DestroyingOperation(const Facts& facts, std::string* verb) {
  for (const auto& [name, value] : facts.url().query) {
    if (value.empty() && DestroyingName(name, verb)) return true;
    for (std::string_view field : kOperationFields)
      if (internal::IEquals(name, field) && DestroyingName(value, verb)) return true;
  }
  const nlohmann::json* body = facts.Json();
  if (body == nullptr) return false;
  auto names_destroy = [&](const nlohmann::json& call) {
    if (!call.is_object()) return false;
    for (std::string_view field : kOperationFields) {
      auto found = call.find(std::string(field));
      if (found != call.end() && found->is_string() &&
          DestroyingName(found->get_ref<const std::string&>(), verb))
        return true;
    }
    return false;
  };
  if (names_destroy(*body)) return true;
  if (body->is_array()) {
    std::size_t looked = 0;
    for (const nlohmann::json& call : *body) {
      if (++looked > 1000) break;
      if (names_destroy(call)) return true;
    }
  }
  return false;
}

void ClassifyGeneric(const Facts& facts, std::vector<Action>* out) {
  const std::string target = facts.Target();
  if (facts.IsRead()) {
    out->push_back(internal::Read(facts, facts.method() + " only reads"));
    return;
  }
  if (facts.IsDelete()) {
    const bool backup = internal::NamesBackup(target);
    out->push_back(MakeAction(backup ? "backup.delete" : "http.delete", {target},
                              Reversibility::kIrreversible,
                              backup ? Severity::kCritical : Severity::kMedium,
                              backup ? "a DELETE on something that names backups or snapshots"
                                     : "a DELETE on an API dualkey has no table for"));
    return;
  }
  if (std::string verb; DestroyingPath(facts, &verb)) {
    const bool backup = internal::NamesBackup(target);
    out->push_back(MakeAction(
        backup ? "backup.delete" : "http.delete", {target}, Reversibility::kIrreversible,
        backup ? Severity::kCritical : Severity::kMedium,
        facts.method() + " to a path ending in \"" + verb + "\" destroys what it names"));
    return;
  }
  if (std::string verb; DestroyingOperation(facts, &verb)) {
    const bool backup = internal::NamesBackup(target);
    out->push_back(MakeAction(
        backup ? "backup.delete" : "http.delete", {target}, Reversibility::kIrreversible,
        backup ? Severity::kCritical : Severity::kMedium,
        facts.method() + " names the operation \"" + verb + "\", which destroys what it names"));
    return;
  }
  out->push_back(
      MakeAction("http.write", {target}, Reversibility::kReversible, Severity::kLow,
                 facts.method() + " sends data to an API; no rule marks it destructive"));
}

void ClassifyWithMethod(const Request& request, std::string method, const internal::Url& url,
                        std::vector<Action>* out) {
  Facts facts(request, std::move(method), url);
  if (internal::ClassifySqlEndpoint(facts, out)) return;
  if (internal::ClassifyGraphqlEndpoint(facts, out)) return;
  if (internal::ClassifyAws(facts, out)) return;
  if (internal::ClassifyProviders(facts, out)) return;
  ClassifyGeneric(facts, out);
}

std::string_view HeaderValue(const Request& request, std::string_view name) {
  for (const auto& [key, value] : request.headers)
    if (internal::IEquals(key, name)) return value;
  return {};
}

bool NormaliseMethod(std::string_view text, std::string* out) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  out->clear();
  if (text.empty()) {
    *out = "GET";
    return true;
  }
  if (text.size() > 32) return false;
  for (char c : text) {
    if (!std::isalpha(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    out->push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return true;
}

}  // namespace

std::vector<Action> Classify(const Request& request, const Options& options) {
  std::vector<Action> out;
  if (request.body.size() > options.max_body_bytes) {
    out.push_back(Opaque("the request body is " + std::to_string(request.body.size()) +
                         " bytes, more than the " + std::to_string(options.max_body_bytes) +
                         " dualkey reads, so it is held unread"));
    return out;
  }
  std::string method;
  if (!NormaliseMethod(request.method, &method)) {
    out.push_back(Opaque("the HTTP method \"" + request.method.substr(0, 40) + "\" is not valid"));
    return out;
  }
  internal::Url url;
  std::string error;
  if (!internal::ParseUrl(request.url, HeaderValue(request, "host"), &url, &error)) {
    out.push_back(Opaque(error + " (\"" + request.url.substr(0, 200) + "\")"));
    return out;
  }
  if (url.scheme != "http" && url.scheme != "https" && url.scheme != "ws" && url.scheme != "wss") {
    out.push_back(Opaque("\"" + url.scheme + "\" is not an HTTP URL"));
    return out;
  }
  ClassifyWithMethod(request, method, url, &out);

  // A method override header (or _method field) makes many frameworks run a
  // different method than the one sent: classify that one too.
  std::string_view override_text = HeaderValue(request, "x-http-method-override");
  if (override_text.empty()) override_text = HeaderValue(request, "x-http-method");
  if (override_text.empty()) override_text = HeaderValue(request, "x-method-override");
  std::string from_param;
  if (override_text.empty()) {
    for (const auto& [key, value] : url.query)
      if (key == "_method") from_param = value;
    if (from_param.empty() &&
        internal::IContains(HeaderValue(request, "content-type"), "x-www-form-urlencoded"))
      for (const auto& [key, value] : internal::ParseForm(request.body))
        if (key == "_method") from_param = value;
    override_text = from_param;
  }
  std::string override_method;
  if (!override_text.empty()) {
    if (!NormaliseMethod(override_text, &override_method)) {
      out.push_back(Opaque("the method override \"" + std::string(override_text.substr(0, 40)) +
                           "\" is not valid"));
    } else if (override_method != method) {
      ClassifyWithMethod(request, override_method, url, &out);
    }
  }
  return out;
}

Result<Request> ParseRequestJson(std::string_view text) {
  // Ordered: headers keep the order they were written in.
  using json = nlohmann::ordered_json;
  Request out;
  if (internal::JsonDepth(text) > internal::kMaxJsonDepth)
    return Status::InvalidArgument("the HTTP request JSON nests too deeply");
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return Status::InvalidArgument("the HTTP request is not valid JSON");
  if (!parsed.is_object())
    return Status::InvalidArgument(
        "the HTTP request must be a JSON object {\"method\", \"url\", \"headers\", \"body\"}");
  auto text_of = [](const json& value) {
    return value.is_string() ? value.get<std::string>() : value.dump();
  };
  if (auto it = parsed.find("method"); it != parsed.end()) {
    if (!it->is_string()) return Status::InvalidArgument("\"method\" must be a string");
    out.method = it->get<std::string>();
  }
  auto url = parsed.find("url");
  if (url == parsed.end() || !url->is_string() || url->get_ref<const std::string&>().empty())
    return Status::InvalidArgument("the HTTP request has no \"url\" string");
  out.url = url->get<std::string>();
  if (auto it = parsed.find("headers"); it != parsed.end() && !it->is_null()) {
    if (it->is_object()) {
      for (auto header = it->begin(); header != it->end(); ++header) {
        if (header->is_array()) {
          for (const json& value : *header) out.headers.emplace_back(header.key(), text_of(value));
        } else {
          out.headers.emplace_back(header.key(), text_of(*header));
        }
      }
    } else if (it->is_array()) {
      for (const json& pair : *it) {
        if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string())
          return Status::InvalidArgument(
              "\"headers\" must be an object or a list of [name, value] pairs");
        out.headers.emplace_back(pair[0].get<std::string>(), text_of(pair[1]));
      }
    } else
      return Status::InvalidArgument("\"headers\" must be an object");
  }
  if (auto it = parsed.find("body"); it != parsed.end() && !it->is_null()) out.body = text_of(*it);
  return out;
}

}  // namespace dualkey::http
