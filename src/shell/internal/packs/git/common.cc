// What the git handlers share: protected branches, parsing the global options
// and the subcommand (ParseGit), emitting.

#include <cctype>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/git/git.h"

namespace dualkey::shell::gitpack {

constexpr string_view kProtectedBranches[] = {
    "main",       "master",  "trunk",  "develop", "development", "dev",  "prod",
    "production", "release", "stable", "staging", "live",        "HEAD", "gh-pages",
};

// A branch whose loss or rewrite hurts others: main, release/*, anything prod.
bool IsProtectedBranch(string_view ref) {
  for (string_view prefix : {string_view("refs/heads/"), string_view("refs/remotes/")})
    if (ref.starts_with(prefix)) ref.remove_prefix(prefix.size());
  if (ref.empty()) return true;  // unnamed: the current branch or upstream
  for (string_view name : kProtectedBranches)
    if (ref == name) return true;
  return ref.starts_with("release") || ref.find("prod") != string_view::npos;
}

bool In(string_view text, std::initializer_list<string_view> set) {
  for (string_view item : set)
    if (item == text) return true;
  return false;
}

bool IsTagRef(string_view ref) {
  return ref.starts_with("refs/tags/");
}

GitCommand ParseGit(const Invocation& inv, Context& ctx) {
  GitCommand out;
  std::span<const Arg> argv(inv.argv);
  std::vector<std::pair<std::string, std::string>> aliases;
  std::size_t i = 1;
  for (; i < argv.size(); ++i) {
    const std::string& text = argv[i].text;
    if (text == "-C" && i + 1 < argv.size()) {
      std::string base = out.repo.empty() ? inv.cwd : out.repo;
      out.repo = ResolvePath(argv[++i], base, ctx.home()).path;
    } else if ((text == "-c" && i + 1 < argv.size()) ||
               (text.starts_with("-c") && text.size() > 2)) {
      const std::string setting = text == "-c" ? argv[++i].text : text.substr(2);
      out.settings.push_back(Arg{setting, argv[i].known});
      if (setting.starts_with("alias.")) {
        std::size_t eq = setting.find('=');
        if (eq != std::string::npos && eq + 1 < setting.size())
          aliases.emplace_back(setting.substr(6, eq - 6), setting.substr(eq + 1));
      }
      if (setting == "clean.requireForce=false" || setting == "clean.requireforce=false")
        out.require_force_off = true;
    } else if (text == "--git-dir" || text == "--work-tree" || text == "--namespace" ||
               text == "--config-env" || text == "--super-prefix") {
      ++i;
    } else if (text.starts_with("-")) {
      // --no-pager, -p, --bare, --git-dir=X ...
    } else {
      break;
    }
  }
  if (i < argv.size()) {
    out.subcommand = argv[i];
    out.subcommand_index = i;
    out.args = argv.subspan(i + 1);
    for (const auto& [name, value] : aliases) {
      if (name != argv[i].text) continue;
      if (value.starts_with('!'))
        out.alias_script = value.substr(1);
      else
        out.alias_expansion = value;
    }
  }
  return out;
}

std::string RepoLabel(const GitCommand& git, const Invocation& inv) {
  if (!git.repo.empty()) return git.repo;
  return inv.cwd.empty() ? std::string("the current repository") : inv.cwd;
}

void Emit(Context& ctx, string_view op_class, std::string target, Reversibility reversibility,
          Severity severity, std::string reason) {
  ctx.Emit(MakeAction(std::string(op_class), {std::move(target)}, reversibility, severity,
                      std::move(reason)));
}

bool IsDryRun(std::span<const Arg> args) {
  return HasLongFlag(args, "--dry-run") || HasShortFlag(args, 'n');
}

}  // namespace dualkey::shell::gitpack
