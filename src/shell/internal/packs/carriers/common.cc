// What the carrier handlers share: running carried argv or shell text, and reading
// what a command gets on stdin.

#include <algorithm>
#include <array>
#include <cctype>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/carriers/carriers.h"

namespace dualkey::shell::carriers {

string_view Basename(string_view path) {
  auto slash = path.rfind('/');
  return slash == string_view::npos ? path : path.substr(slash + 1);
}

std::string Join(Args args, bool* known) {
  std::string out;
  *known = true;
  for (const Arg& arg : args) {
    if (!out.empty()) out.push_back(' ');
    out += arg.text;
    *known = *known && arg.known;
  }
  return out;
}

void RunScriptText(const Invocation& inv, Context& ctx, const Arg& script,
                   const std::string& what) {
  if (!script.known) {
    ctx.Emit(Opaque(what + " runs shell text computed at run time (" + script.text + ")"));
    return;
  }
  if (inv.remote)
    ctx.ClassifyRemoteScript(script.text, inv.depth + 1);
  else
    ctx.ClassifyScript(script.text, inv.cwd, inv.depth + 1);
}

void RunArgv(const Invocation& inv, Context& ctx, Args argv) {
  if (!argv.empty()) ctx.ClassifyInvocation(Inner(inv, argv));
}

void RunArgv(const Invocation& inv, Context& ctx, std::vector<std::string> words) {
  std::vector<Arg> argv;
  for (std::string& word : words) argv.push_back(Arg{std::move(word)});
  RunArgv(inv, ctx, Args(argv));
}

// The text a command reads on stdin, or why it cannot be known: a file
// redirect, a here-document, or a pipe.
StdinKind ReadStdin(const Invocation& inv, Context& ctx, std::string* text, std::string* source) {
  for (const FileRedirect& redirect : inv.redirects) {
    if (redirect.kind != RedirectKind::kRead || (redirect.fd != -1 && redirect.fd != 0)) continue;
    CodeFile file = ctx.ReadCodeFile(redirect.target, inv.cwd, inv.remote);
    *source = redirect.target.text;
    if (file.state == CodeFile::State::kText) {
      *text = std::move(file.text);
      return StdinKind::kText;
    }
    return file.state == CodeFile::State::kMissing ? StdinKind::kNone : StdinKind::kUnknown;
  }
  if (!inv.has_stdin_text && !inv.stdin_piped) return StdinKind::kNone;
  std::optional<std::string> in = inv.StdinText();
  if (!in) {
    *source =
        inv.stdin_piped && !inv.piped_from.empty() ? "`" + inv.piped_from[0].text + "`" : "stdin";
    return StdinKind::kUnknown;
  }
  *text = std::move(*in);
  return StdinKind::kText;
}

}  // namespace dualkey::shell::carriers
