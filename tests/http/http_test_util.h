// Helpers for the HTTP channel tests: build a request, classify it, and ask
// what the default policy would do with the result.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/action.h"
#include "http/http.h"

namespace dualkey::http::test {

struct Outcome {
  std::vector<Action> actions;

  bool Held() const {
    for (const Action& action : actions)
      if (IsDestructive(action)) return true;
    return false;
  }
  bool Has(std::string_view op_class) const {
    for (const Action& action : actions)
      if (action.op_class == op_class) return true;
    return false;
  }
  const Action* Find(std::string_view op_class) const {
    for (const Action& action : actions)
      if (action.op_class == op_class) return &action;
    return nullptr;
  }
  std::string Classes() const {
    std::string out;
    for (const Action& action : actions) out += (out.empty() ? "" : ",") + action.op_class;
    return out;
  }
};

inline Outcome Send(std::string method, std::string url,
                    std::vector<std::pair<std::string, std::string>> headers = {},
                    std::string body = "") {
  Request request{std::move(method), std::move(url), std::move(headers), std::move(body)};
  return Outcome{Classify(request)};
}

inline Outcome Json(std::string url, std::string body) {
  return Send("POST", std::move(url), {{"Content-Type", "application/json"}}, std::move(body));
}

inline Outcome Form(std::string url, std::string body) {
  return Send("POST", std::move(url), {{"Content-Type", "application/x-www-form-urlencoded"}},
              std::move(body));
}

}  // namespace dualkey::http::test
