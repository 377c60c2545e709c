// libFuzzer: the whole shell guard (parse, evaluate, unwrap, classify,
// decide) on arbitrary bytes must never crash, hang or allow what it could
// not parse.
#include <cstddef>
#include <cstdint>
#include <string>

#include "guard/guard.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dualkey::guard::Request request;
  request.channel = dualkey::Channel::kShell;
  request.input.assign(reinterpret_cast<const char*>(data), size);
  request.cwd = "/home/dev/app";
  request.home = "/home/dev";
  dualkey::guard::Result result = dualkey::guard::Check(request);
  if (!result.parse_error.empty() && result.verdict.decision == dualkey::Decision::kAllow)
    __builtin_trap();  // an unparseable command must never be allowed
  return 0;
}
