// The git pack: what rewrites or deletes history, refs, stashes and
// uncommitted work, locally or on a remote. Everyday commands (status, log,
// diff, commit, fetch, pull, an ordinary push) are not flagged.
//
// Decisions worth knowing:
// - Force pushes are held whatever the branch: main/master/release/prod and
//   unnamed targets are high, other branches medium (still held; whether a
//   personal branch may be force-pushed is left to the policy).
// - `branch -d` is allowed (git refuses unmerged branches); -D is held.
// - `reset --hard`, `checkout -- .`, `restore .`, `checkout -f`, `switch
//   --discard-changes` discard uncommitted work that no reflog keeps: medium,
//   held. Discarding named files is low.
// - `stash drop` and `stash clear` lose stashed work: medium and high.
//
// This file dispatches a git command line to its subcommand's handler; the
// handlers live under packs/git/, with what they share in packs/git/git.h.
#include "shell/internal/packs/git/git.h"

#include <span>
#include <string>
#include <string_view>

#include "shell/internal/packs/packs.h"

namespace dualkey::shell::gitpack {

struct SubcommandEntry {
  string_view name;
  void (*handler)(const GitCommand&, const Invocation&, Context&);
};

constexpr SubcommandEntry kSubcommands[] = {
    {"push", HandlePush},
    {"filter-branch", HandleRewrite},
    {"filter-repo", HandleRewrite},
    {"reflog", HandleReflog},
    {"gc", HandleGc},
    {"prune", HandlePrune},
    {"clean", HandleClean},
    {"branch", HandleBranch},
    {"stash", HandleStash},
    {"update-ref", HandleUpdateRef},
    {"checkout", HandleCheckout},
    {"restore", HandleRestore},
    {"switch", HandleSwitch},
    {"reset", HandleReset},
    {"config", HandleConfig},
    {"submodule", HandleSubmodule},
    {"rebase", HandleRebase},
    {"bisect", HandleBisect},
    {"difftool", HandleDifftool},
    {"rm", HandleRm},
    {"worktree", HandleWorktree},
};

void HandleGit(const Invocation& inv, Context& ctx) {
  GitCommand git = ParseGit(inv, ctx);
  const std::string cwd = git.repo.empty() ? inv.cwd : git.repo;
  for (const Arg& setting : git.settings) {
    std::size_t eq = setting.text.find('=');
    if (eq == std::string::npos || setting.text.starts_with("alias.")) continue;
    ClassifySetting(inv, ctx, cwd, string_view(setting.text).substr(0, eq),
                    Arg{setting.text.substr(eq + 1), setting.known}, "git -c");
  }
  ClassifyGitEnvironment(inv, ctx, cwd);
  if (!git.subcommand) return;
  if (!git.alias_script.empty()) {
    ctx.ClassifyScript(git.alias_script, cwd, inv.depth + 1);
    return;
  }
  if (!git.alias_expansion.empty() && inv.depth < 8) {
    // alias.X='push --force': `git X args` is `git push --force args`.
    Invocation expanded;
    expanded.argv.assign(inv.argv.begin(),
                         inv.argv.begin() + static_cast<std::ptrdiff_t>(git.subcommand_index));
    std::size_t i = 0;
    const std::string& words = git.alias_expansion;
    while (i < words.size()) {
      while (i < words.size() && words[i] == ' ') ++i;
      std::size_t end = words.find(' ', i);
      if (end == std::string::npos) end = words.size();
      if (end > i) expanded.argv.push_back(Arg{words.substr(i, end - i)});
      i = end;
    }
    // Drop the alias settings so the expansion does not loop.
    std::vector<Arg> argv;
    for (std::size_t k = 0; k < expanded.argv.size(); ++k) {
      if (expanded.argv[k].text == "-c" && k + 1 < expanded.argv.size() &&
          expanded.argv[k + 1].text.starts_with("alias.")) {
        ++k;
        continue;
      }
      argv.push_back(expanded.argv[k]);
    }
    argv.insert(argv.end(), git.args.begin(), git.args.end());
    expanded.argv = std::move(argv);
    expanded.cwd = inv.cwd;
    expanded.depth = inv.depth + 1;
    expanded.remote = inv.remote;
    ctx.ClassifyInvocation(expanded);
    return;
  }
  if (!git.subcommand->known) {
    ctx.Emit(MakeAction("opaque.exec", {RepoLabel(git, inv)}, Reversibility::kUnknown,
                        Severity::kMedium,
                        "the git subcommand is only known at run time: " + git.subcommand->text));
    return;
  }
  ClassifyTransport(git, inv, ctx);
  for (const SubcommandEntry& entry : kSubcommands) {
    if (entry.name == git.subcommand->text) {
      entry.handler(git, inv, ctx);
      return;
    }
  }
}

// `git-filter-repo` also runs on its own.
void HandleGitFilterRepo(const Invocation& inv, Context& ctx) {
  GitCommand git;
  git.subcommand = Arg{"filter-repo"};
  if (!inv.argv.empty()) git.args = std::span<const Arg>(inv.argv).subspan(1);
  HandleRewrite(git, inv, ctx);
}

}  // namespace dualkey::shell::gitpack

namespace dualkey::shell {
namespace {

constexpr PackEntry kGitPack[] = {
    {"git", gitpack::HandleGit},
    {"git-filter-repo", gitpack::HandleGitFilterRepo},
};

}  // namespace

std::span<const PackEntry> GitPack() {
  return kGitPack;
}

}  // namespace dualkey::shell
