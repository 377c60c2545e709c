// libFuzzer: the HTTP channel must never crash or hang on any bytes, and must
// always say something: the bytes as a request JSON (parse + classify), as a
// request body to GraphQL, SQL and REST endpoints, and as a GraphQL document.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/http.h"
#include "http/internal/graphql.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  using dualkey::http::Classify;
  using dualkey::http::Request;

  if (dualkey::Result<Request> parsed = dualkey::http::ParseRequestJson(text); parsed.ok()) {
    if (Classify(*parsed).empty()) std::abort();
  }

  // The bytes split into a URL (first line) and a body (the rest).
  std::size_t newline = text.find('\n');
  std::string url(text.substr(0, newline));
  std::string body(newline == std::string_view::npos ? "" : text.substr(newline + 1));
  for (const char* method : {"POST", "DELETE", "GET"}) {
    if (Classify(Request{method, url, {{"Content-Type", "application/json"}}, body}).empty())
      std::abort();
  }
  for (const char* endpoint : {"https://backboard.railway.app/graphql/v2",
                               "https://api.supabase.com/v1/projects/p/database/query",
                               "https://search:9200/i/_delete_by_query"}) {
    if (Classify(
            Request{"POST", endpoint, {{"Content-Type", "application/json"}}, std::string(text)})
            .empty())
      std::abort();
  }
  if (Classify(Request{"POST",
                       "https://x/graphql",
                       {{"Content-Type", "application/graphql"}},
                       std::string(text)})
          .empty())
    std::abort();

  dualkey::http::graphql::Document document;
  std::string error;
  if (dualkey::http::graphql::Parse(text, &document, &error)) {
    std::vector<const dualkey::http::graphql::Field*> fields;
    for (const auto& operation : document.operations)
      dualkey::http::graphql::RootFields(document, operation, &fields, &error);
  }
  return 0;
}
