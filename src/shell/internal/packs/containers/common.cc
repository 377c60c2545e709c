// What the container handlers share: emitting, option values, production-looking
// names, and handing a command run inside a container back to the dispatcher.

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/containers/containers.h"

namespace dualkey::shell::containers {

// True for "prod", "production", "prd-..." style names.
bool LooksProduction(std::string_view name) {
  return name.find("prod") != std::string_view::npos || name.find("PROD") != std::string_view::npos;
}

// The value of `--name VALUE` / `--name=VALUE` / `-n VALUE` before `--`.
std::string_view ValueOf(std::span<const Arg> args, std::string_view short_name,
                         std::string_view long_name) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view text = args[i].text;
    if (text == "--") break;
    if ((text == short_name && !short_name.empty()) || text == long_name)
      return i + 1 < args.size() ? std::string_view(args[i + 1].text) : std::string_view();
    if (!long_name.empty() && text.starts_with(long_name) && text.size() > long_name.size() &&
        text[long_name.size()] == '=')
      return text.substr(long_name.size() + 1);
    if (short_name.size() == 2 && text.size() > 2 && text.starts_with(short_name) && text[1] != '-')
      return text.substr(2);
  }
  return {};
}

bool HasFlag(std::span<const Arg> args, char short_flag, std::string_view long_flag) {
  return (short_flag != 0 && HasShortFlag(args, short_flag)) ||
         (!long_flag.empty() && HasLongFlag(args, long_flag));
}

// Builds the inner command a container runs and hands it to the dispatcher.
void ClassifyInner(const Invocation& inv, std::span<const Arg> command, bool forwards_stdin,
                   std::string cwd, Context& ctx) {
  if (command.empty()) return;
  Invocation inner;
  inner.argv.assign(command.begin(), command.end());
  inner.cwd = std::move(cwd);
  inner.depth = inv.depth + 1;
  inner.remote = true;  // inside a container: its files are not the host's
  if (forwards_stdin) {
    inner.has_stdin_text = inv.has_stdin_text;
    inner.stdin_text = inv.stdin_text;
    inner.stdin_text_known = inv.stdin_text_known;
    inner.stdin_piped = inv.stdin_piped;
    inner.piped_from = inv.piped_from;
  }
  ctx.ClassifyInvocation(inner);
}

}  // namespace dualkey::shell::containers
