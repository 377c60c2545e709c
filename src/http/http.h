// The HTTP channel: turns an HTTP request an agent is about to send (a cloud
// API call, a GraphQL mutation, a search-cluster delete) into Actions, with
// provider tables for AWS, GCP, Azure, Kubernetes, GitHub/GitLab, search and
// document stores and platform management APIs, and a GraphQL parser.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "core/action.h"

namespace dualkey::http {

struct Request {
  std::string method;  // any case; "" is treated as GET
  // Absolute ("https://host/path?q") or origin-form ("/path?q", host from the
  // Host header). A URL without a scheme is read as https.
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // as sent, in order
  std::string body;                                          // the bytes on the wire
};

struct Options {
  // Larger bodies are held unread (opaque.http) rather than parsed.
  std::size_t max_body_bytes = 1 << 20;
};

// One Action per effect the request has (a GraphQL document with several
// mutations yields several). All Actions are on Channel::kHttp. Input that
// cannot be understood (bad URL, GraphQL that does not parse, oversized body)
// yields an "opaque.http" Action, which the policy holds. Never throws.
std::vector<Action> Classify(const Request& request, const Options& options = {});

// Reads the JSON shape {"method", "url", "headers"?, "body"?} (headers an
// object of strings; body a string, other JSON values are taken as their
// serialisation). Returns false with a reason on anything else. Never throws.
Result<Request> ParseRequestJson(std::string_view json);

}  // namespace dualkey::http
