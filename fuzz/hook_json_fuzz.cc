// libFuzzer: every agent's hook on any stdin. Never a crash; the exit status
// is 0 (allow, or ask where the agent has it) or 2 (block); what goes to the
// agent is valid UTF-8; bytes that are not UTF-8 always block.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/json_text.h"
#include "hook/hook.h"

namespace hook = dualkey::hook;

namespace {

bool NothingExists(const std::string&) {
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > hook::kMaxInputBytes) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  hook::Environment env;
  env.home = "/home/dev";
  env.process_cwd = "/home/dev/app";
  env.path_exists = &NothingExists;
  const bool valid = dualkey::base::IsValidUtf8(input);
  for (hook::Agent agent : hook::kAllAgents) {
    const hook::HookReply reply = hook::Handle(agent, input, env);
    if (reply.exit_code != 0 && reply.exit_code != 2) std::abort();
    if (!dualkey::base::IsValidUtf8(reply.out) || !dualkey::base::IsValidUtf8(reply.err))
      std::abort();
    if (!valid && reply.exit_code != 2) std::abort();
  }
  return 0;
}
