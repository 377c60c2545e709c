// Helpers several packs share, one definition each. A pack takes the ones it
// uses with `using shared::Name;` where its own copy used to be.
#pragma once

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/text.h"
#include "shell/internal/invocation.h"

namespace dualkey::shell::shared {

// The command's arguments after its name.
inline std::span<const Arg> ArgsOf(const Invocation& inv) {
  return inv.argv.empty() ? std::span<const Arg>() : std::span<const Arg>(inv.argv).subspan(1);
}

inline bool In(std::string_view text, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), text) != set.end();
}

using base::Lower;

inline void Emit(Context& ctx, std::string op_class, std::vector<std::string> targets,
                 Reversibility rev, Severity severity, std::string reason) {
  ctx.Emit(MakeAction(std::move(op_class), std::move(targets), rev, severity, std::move(reason)));
}

inline void EmitRead(Context& ctx, std::vector<std::string> targets, std::string reason) {
  Emit(ctx, "read.only", std::move(targets), Reversibility::kReversible, Severity::kNone,
       std::move(reason));
}

inline Action Opaque(std::string reason) {
  return MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh, std::move(reason));
}

// A subcommand word the evaluator could not know ($ACTION, $(...)): what the
// command does is unknown, so it is opaque and held.
inline bool OpaqueIfUnknown(std::span<const Arg> args, std::string_view word, std::string_view tool,
                            Context& ctx) {
  for (const Arg& arg : args) {
    if (arg.known || arg.text != word) continue;
    ctx.Emit(MakeAction(
        "opaque.exec", {}, Reversibility::kUnknown, Severity::kMedium,
        std::string(tool) + " runs a subcommand only known when it runs: " + std::string(word)));
    return true;
  }
  return false;
}

// The inner command: same cwd and stdin, one level deeper.
inline Invocation Inner(const Invocation& outer, std::span<const Arg> argv) {
  Invocation inner;
  inner.argv.assign(argv.begin(), argv.end());
  inner.cwd = outer.cwd;
  inner.depth = outer.depth + 1;
  inner.remote = outer.remote;
  inner.has_stdin_text = outer.has_stdin_text;
  inner.stdin_text = outer.stdin_text;
  inner.stdin_text_known = outer.stdin_text_known;
  inner.stdin_piped = outer.stdin_piped;
  inner.piped_from = outer.piped_from;
  inner.piped_text = outer.piped_text;
  return inner;
}

}  // namespace dualkey::shell::shared
