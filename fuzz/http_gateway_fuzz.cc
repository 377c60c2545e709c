// libFuzzer: the gateway's request plumbing and `dualkey scan` must never
// crash on any bytes: request targets, base URLs, the HTTP channel input a
// request becomes (with the bytes as headers and body), and credential
// scanning of the bytes as several kinds of file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gateway/internal/url.h"
#include "scan/scan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dualkey::gateway::internal;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::size_t newline = text.find('\n');
  std::string first(text.substr(0, newline));
  std::string rest(newline == std::string_view::npos ? "" : text.substr(newline + 1));

  Target target;
  std::string error;
  if (SplitTarget(first, &target, &error)) {
    if (target.upstream.empty() || target.path.empty() || target.path[0] != '/') std::abort();
    if (target.path.find("/../") != std::string::npos) std::abort();
  }
  BaseUrl base;
  if (ParseBaseUrl(first, &base, &error) && base.host.empty()) std::abort();

  ClassifiedRequest request = HttpChannelInput("POST", "https://h/" + first,
                                               {{first, rest}, {"Content-Type", first}}, rest);
  if (request.input.empty()) std::abort();

  for (const char* path : {"/h/.env", "/h/.pgpass", "/h/.netrc", "/h/.kube/config",
                           "/h/.railway/config.json", "/h/src/a.py"})
    dualkey::scan::ScanText(path, text);
  return 0;
}
