// libFuzzer: the MCP proxy's gate on any bytes from either side. The first
// byte picks the side (client message, server message, or a server message
// then a call of each tool it may have listed); the rest is the message.
// Never a crash or an exception; what goes back to the client is valid
// UTF-8 JSON; what goes on to the server is valid UTF-8 (bytes that are not
// are refused, never forwarded); a call the gate forwards is one the local
// policy allows.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/json_text.h"
#include "policy/policy.h"
#include "proxy/mcp/internal/gate.h"

namespace internal = dualkey::mcpproxy::internal;

namespace {

internal::Gate& TheGate() {
  static internal::Gate* gate = [] {
    internal::GateConfig config;
    config.server_name = "fuzz";
    config.cwd = "/home/dev/app";
    config.home = "/home/dev";
    // No daemon: anything not allowed locally is held.
    return new internal::Gate(config, dualkey::policy::Builtin());
  }();
  return *gate;
}

void CheckClient(std::string_view text) {
  internal::ClientMessage message = TheGate().FromClient(text);
  const std::string reply = internal::Gate::ReplyText(message);
  if (!reply.empty() && !dualkey::base::JsonParse(reply)) std::abort();
  if (!message.forward.empty() && !dualkey::base::IsValidUtf8(message.forward)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      CheckClient(bytes);
      break;
    case 1:
      (void)TheGate().FromServerText(bytes);
      break;
    default: {
      // A tools/list asked, the bytes as its answer, then a call of a tool.
      CheckClient(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
      (void)TheGate().FromServerText(bytes);
      if (size % 2 == 0) TheGate().ServerMessageUnread("", "fuzz");
      CheckClient(
          R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_weather","arguments":{}}})");
      break;
    }
  }
  return 0;
}
