// libFuzzer: the shell evaluator alone (parse, then walk with expansion) on
// arbitrary scripts. Whatever the input, evaluation stays inside its budget:
// no more expanded text than max_expansion_bytes, no more copied state than
// max_copy_bytes, no more steps than max_steps; a spent budget is reported
// (so the command is held); and no command handed on carries more text than
// the budget allows. The budget here is smaller than the product's, so the
// fuzzer reaches it with short inputs.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "shell/internal/evaluate.h"
#include "shell/internal/parser.h"

namespace {

using dualkey::shell::Arg;
using dualkey::shell::EvalBudget;
using dualkey::shell::EvalLimits;
using dualkey::shell::Evaluator;
using dualkey::shell::Invocation;
using dualkey::shell::InvocationSink;

class BudgetCheckingSink final : public InvocationSink {
 public:
  explicit BudgetCheckingSink(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  void OnInvocation(const Invocation& invocation) override {
    std::size_t bytes = invocation.stdin_text.size();
    for (const Arg& arg : invocation.argv) bytes += arg.text.size();
    if (invocation.piped_text) bytes += invocation.piped_text->size();
    // Everything a command carries was produced by expansion, or is literal
    // script text (bounded by the parser's input limit).
    if (bytes > max_bytes_ + 2 * kMaxScript) __builtin_trap();
  }
  void OnOpaque(std::string) override { opaque = true; }

  static constexpr std::size_t kMaxScript = 4096;
  bool opaque = false;

 private:
  std::size_t max_bytes_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > BudgetCheckingSink::kMaxScript) return 0;
  std::string_view script(reinterpret_cast<const char*>(data), size);
  dualkey::shell::ParseResult parsed = dualkey::shell::Parse(script);
  if (!parsed.ok) return 0;
  EvalLimits limits;
  limits.max_expansion_bytes = 64 * 1024;
  limits.max_copy_bytes = 1 << 20;
  limits.max_steps = 20000;
  EvalBudget budget(limits);
  BudgetCheckingSink sink(limits.max_expansion_bytes);
  {
    Evaluator evaluator(sink, {}, "/home/dev/app", "/home/dev", 0, limits, &budget);
    evaluator.Run(*parsed.list);
  }
  if (budget.expanded_bytes() > limits.max_expansion_bytes) __builtin_trap();
  if (budget.copied_bytes() > limits.max_copy_bytes) __builtin_trap();
  if (budget.exhausted() && !sink.opaque) __builtin_trap();  // a spent budget is held
  return 0;
}
