// Subcommands that rewrite or delete: push, reflog/gc/prune, history rewrites,
// clean/checkout/restore/switch/reset, branch/stash/update-ref, rm, worktree.

#include <cctype>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/git/git.h"

namespace dualkey::shell::gitpack {

// --- push ------------------------------------------------------------------

void HandlePush(const GitCommand& git, const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = git.args;
  std::vector<Arg> operands =
      Operands(args, {"-o", "--push-option", "--receive-pack", "--exec", "--repo"});
  const std::string remote =
      operands.empty() ? std::string("the default remote") : operands.front().text;
  const std::string where = remote + " (" + RepoLabel(git, inv) + ")";
  if (IsDryRun(args)) {
    Emit(ctx, "read.only", remote, Reversibility::kReversible, Severity::kNone,
         "git push --dry-run only reports what would be pushed");
    return;
  }
  if (HasLongFlag(args, "--mirror")) {
    Emit(ctx, "git.push.force", remote, Reversibility::kIrreversible, Severity::kHigh,
         "git push --mirror overwrites and deletes every ref on " + where);
    return;
  }
  const bool force = HasLongFlag(args, "--force") || HasShortFlag(args, 'f') ||
                     HasLongFlag(args, "--force-with-lease");
  const bool delete_all = HasLongFlag(args, "--delete") || HasShortFlag(args, 'd');
  bool flagged = false;

  std::span<const Arg> refspecs =
      operands.empty() ? std::span<const Arg>() : std::span<const Arg>(operands).subspan(1);
  for (const Arg& refspec : refspecs) {
    string_view spec = refspec.text;
    const bool plus = spec.starts_with('+');
    if (plus) spec.remove_prefix(1);
    std::size_t colon = spec.find(':');
    const bool deletes = delete_all || (colon == 0 && spec.size() > 1);
    string_view destination = colon == string_view::npos ? spec : spec.substr(colon + 1);
    if (!refspec.known) destination = "";  // unknown: assume the worst
    if (deletes) {
      flagged = true;
      Emit(ctx, IsTagRef(destination) ? "git.tag.delete" : "git.branch.delete",
           remote + " " + std::string(destination), Reversibility::kIrreversible,
           IsProtectedBranch(destination) ? Severity::kHigh : Severity::kMedium,
           "git push deletes " + std::string(destination) + " on " + where);
    } else if (force || plus) {
      flagged = true;
      Emit(ctx, "git.push.force", remote + " " + std::string(destination),
           Reversibility::kIrreversible,
           IsProtectedBranch(destination) ? Severity::kHigh : Severity::kMedium,
           "force push overwrites the history of " + std::string(destination) + " on " + where);
    }
  }
  if (force && refspecs.empty()) {
    flagged = true;
    const bool all = HasLongFlag(args, "--all") || HasLongFlag(args, "--branches");
    Emit(ctx, "git.push.force", remote, Reversibility::kIrreversible, Severity::kHigh,
         std::string("force push of ") + (all ? "every branch" : "the current branch") +
             " overwrites remote history on " + where);
  }
  if (HasLongFlag(args, "--prune")) {
    flagged = true;
    Emit(ctx, "git.branch.delete", remote, Reversibility::kIrreversible, Severity::kMedium,
         "git push --prune deletes remote branches that have no local counterpart on " + where);
  }
  if (!flagged)
    Emit(ctx, "vcs.push", remote, Reversibility::kReversible, Severity::kNone,
         "an ordinary push adds commits to " + where);
}

// --- history ---------------------------------------------------------------

// "now", "all", "0", "0.seconds.ago": expire everything, not just old entries.
bool ExpiresEverything(string_view value) {
  return value == "now" || value == "all" || value == "0" || value.starts_with("0.") ||
         value == "1.second.ago" || value == "never.ago";
}

void HandleReflog(const GitCommand& git, const Invocation& inv, Context& ctx) {
  std::vector<Arg> operands = Operands(git.args);
  if (operands.empty()) return;  // `git reflog` shows it
  const std::string& action = operands.front().text;
  if (action != "expire" && action != "delete") return;
  if (IsDryRun(git.args)) return;
  if (action == "delete") {
    Emit(ctx, "git.history.delete", RepoLabel(git, inv), Reversibility::kIrreversible,
         Severity::kMedium, "git reflog delete removes the entries that recover lost commits");
    return;
  }
  std::string expire = OptionValue(git.args, "--expire");
  std::string unreachable = OptionValue(git.args, "--expire-unreachable");
  if (ExpiresEverything(expire) || ExpiresEverything(unreachable)) {
    Emit(ctx, "git.history.delete", RepoLabel(git, inv), Reversibility::kIrreversible,
         Severity::kHigh,
         "git reflog expire --expire=now drops every reflog entry, so lost commits can no "
         "longer be recovered");
  }
}

void HandleGc(const GitCommand& git, const Invocation& inv, Context& ctx) {
  std::string prune = OptionValue(git.args, "--prune");
  if (ExpiresEverything(prune)) {
    Emit(ctx, "git.history.delete", RepoLabel(git, inv), Reversibility::kIrreversible,
         Severity::kHigh, "git gc --prune=now deletes every unreachable commit immediately");
  }
}

void HandlePrune(const GitCommand& git, const Invocation& inv, Context& ctx) {
  if (IsDryRun(git.args)) return;
  std::string expire = OptionValue(git.args, "--expire");
  // Without --expire, git prune removes unreachable objects of any age.
  const bool everything = expire.empty() || ExpiresEverything(expire);
  Emit(ctx, "git.history.delete", RepoLabel(git, inv), Reversibility::kIrreversible,
       everything ? Severity::kHigh : Severity::kMedium,
       "git prune deletes unreachable objects from the object database");
}

void HandleRewrite(const GitCommand& git, const Invocation& inv, Context& ctx) {
  const std::string& name = git.subcommand->text;
  if (HasLongFlag(git.args, "--help") || HasLongFlag(git.args, "--analyze") ||
      HasLongFlag(git.args, "--dry-run")) {
    Emit(ctx, "read.only", RepoLabel(git, inv), Reversibility::kReversible, Severity::kNone,
         "git " + name + " in analysis or dry-run mode changes nothing");
    return;
  }
  Emit(ctx, "git.history.rewrite", RepoLabel(git, inv), Reversibility::kRecoverable,
       Severity::kHigh, "git " + name + " rewrites the repository's history");
}

// --- working tree ----------------------------------------------------------

void HandleClean(const GitCommand& git, const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = git.args;
  if (IsDryRun(args)) {
    Emit(ctx, "read.only", RepoLabel(git, inv), Reversibility::kReversible, Severity::kNone,
         "git clean -n only lists what it would delete");
    return;
  }
  const bool force =
      HasShortFlag(args, 'f') || HasLongFlag(args, "--force") || git.require_force_off;
  if (!force) return;  // git refuses to clean without -f
  if (HasShortFlag(args, 'i') || HasLongFlag(args, "--interactive")) return;  // asks a human
  const bool ignored_too = HasShortFlag(args, 'x');
  const bool directories = HasShortFlag(args, 'd');
  std::string reason = "git clean deletes untracked files";
  if (directories) reason += " and directories";
  if (ignored_too) reason += ", including ignored ones such as .env files and local data";
  Emit(ctx, "git.clean", RepoLabel(git, inv), Reversibility::kIrreversible,
       ignored_too ? Severity::kHigh : Severity::kMedium, reason + "; git keeps no copy");
}

// Pathspecs that take the whole tree: ".", ":/", "*", or anything unknown.
bool IsWholeTreeSpec(const Arg& spec) {
  if (!spec.known) return true;
  string_view text = spec.text;
  return text == "." || text == "./" || text == ":/" || text == ":" || text == "*" ||
         text == ".." || text == "../" || text == "/" || IsPureWildcard(text);
}

void EmitDiscard(const GitCommand& git, const Invocation& inv, Context& ctx, bool whole_tree,
                 std::string what) {
  Emit(ctx, "git.discard", RepoLabel(git, inv), Reversibility::kIrreversible,
       whole_tree ? Severity::kMedium : Severity::kLow,
       what + (whole_tree ? " discards every uncommitted change in the working tree"
                          : " discards uncommitted changes to the named files"));
}

// `-bNAME`, `-cNAME`: a short option that takes a value swallows the rest
// of its cluster, so the letters of a branch name are not flags (`git
// checkout -bfeature/x` is not -f). Drops such arguments for flag tests.
std::vector<Arg> WithoutAttachedValues(std::span<const Arg> args, std::string_view letters) {
  std::vector<Arg> out;
  for (const Arg& arg : args) {
    const std::string& text = arg.text;
    if (text.size() > 2 && text[0] == '-' && text[1] != '-' &&
        letters.find(text[1]) != std::string_view::npos)
      continue;
    out.push_back(arg);
  }
  return out;
}

void HandleCheckout(const GitCommand& git, const Invocation& inv, Context& ctx) {
  const std::vector<Arg> flags = WithoutAttachedValues(git.args, "bB");
  std::span<const Arg> args = git.args;
  if (HasShortFlag(flags, 'f') || HasLongFlag(args, "--force")) {
    EmitDiscard(git, inv, ctx, true, "git checkout --force");
    return;
  }
  // Paths after `--`, or "." / ":/" as the only operand.
  bool after_dashes = false, has_paths = false, whole = false;
  for (const Arg& arg : args) {
    if (!after_dashes && arg.text == "--") {
      after_dashes = true;
      continue;
    }
    if (after_dashes) {
      has_paths = true;
      whole = whole || IsWholeTreeSpec(arg);
    }
  }
  if (!after_dashes) {
    for (const Arg& operand : Operands(args, {"-b", "-B", "--orphan", "--conflict"})) {
      if (operand.known && IsWholeTreeSpec(operand)) whole = has_paths = true;
    }
  }
  if (has_paths) EmitDiscard(git, inv, ctx, whole, "git checkout of paths");
}

void HandleRestore(const GitCommand& git, const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = git.args;
  const bool staged = HasShortFlag(args, 'S') || HasLongFlag(args, "--staged");
  const bool worktree = HasShortFlag(args, 'W') || HasLongFlag(args, "--worktree");
  if (staged && !worktree) return;  // only unstages
  std::vector<Arg> paths = Operands(args, {"-s", "--source", "--conflict"});
  if (paths.empty()) return;
  bool whole = false;
  for (const Arg& path : paths) whole = whole || IsWholeTreeSpec(path);
  EmitDiscard(git, inv, ctx, whole, "git restore");
}

void HandleSwitch(const GitCommand& git, const Invocation& inv, Context& ctx) {
  const std::vector<Arg> flags = WithoutAttachedValues(git.args, "cC");
  if (HasLongFlag(git.args, "--discard-changes") || HasShortFlag(flags, 'f') ||
      HasLongFlag(git.args, "--force"))
    EmitDiscard(git, inv, ctx, true, "git switch --discard-changes");
}

void HandleReset(const GitCommand& git, const Invocation& inv, Context& ctx) {
  if (HasLongFlag(git.args, "--hard")) EmitDiscard(git, inv, ctx, true, "git reset --hard");
}

// --- refs ------------------------------------------------------------------

void HandleBranch(const GitCommand& git, const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = git.args;
  const bool force_delete =
      HasShortFlag(args, 'D') || ((HasShortFlag(args, 'd') || HasLongFlag(args, "--delete")) &&
                                  (HasShortFlag(args, 'f') || HasLongFlag(args, "--force")));
  const bool safe_delete = HasShortFlag(args, 'd') || HasLongFlag(args, "--delete");
  const bool remote_tracking = HasShortFlag(args, 'r') || HasLongFlag(args, "--remotes");
  std::vector<Arg> branches =
      Operands(args, {"-u", "--set-upstream-to", "--contains", "--no-contains", "--merged",
                      "--no-merged", "--points-at", "--sort", "--format"});
  if (force_delete && !remote_tracking) {
    for (const Arg& branch : branches) {
      Emit(ctx, "git.branch.delete", branch.text, Reversibility::kRecoverable,
           IsProtectedBranch(branch.known ? string_view(branch.text) : "") ? Severity::kHigh
                                                                           : Severity::kMedium,
           "git branch -D deletes " + branch.text + " even if its commits are merged nowhere");
    }
  } else if (safe_delete || force_delete) {
    for (const Arg& branch : branches) {
      Emit(ctx, "vcs.branch", branch.text, Reversibility::kReversible, Severity::kLow,
           remote_tracking ? "deletes a remote-tracking ref; the remote keeps the branch"
                           : "git branch -d refuses to delete unmerged work");
    }
  }
}

void HandleStash(const GitCommand& git, const Invocation& inv, Context& ctx) {
  std::vector<Arg> operands = Operands(git.args);
  if (operands.empty()) return;
  const std::string& action = operands.front().text;
  if (action == "clear") {
    Emit(ctx, "git.stash.delete", RepoLabel(git, inv), Reversibility::kIrreversible,
         Severity::kHigh, "git stash clear deletes every stash entry");
  } else if (action == "drop") {
    Emit(ctx, "git.stash.delete", RepoLabel(git, inv), Reversibility::kIrreversible,
         Severity::kMedium, "git stash drop deletes stashed, uncommitted work");
  }
}

void HandleUpdateRef(const GitCommand& git, const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = git.args;
  if (HasShortFlag(args, 'd')) {
    std::vector<Arg> refs = Operands(args, {"-m"});
    string_view ref = refs.empty() || !refs.front().known ? "" : string_view(refs.front().text);
    Emit(ctx, IsTagRef(ref) ? "git.tag.delete" : "git.branch.delete", std::string(ref),
         Reversibility::kRecoverable, IsProtectedBranch(ref) ? Severity::kHigh : Severity::kMedium,
         "git update-ref -d deletes the ref " + std::string(ref));
    return;
  }
  if (HasLongFlag(args, "--stdin") &&
      (!inv.stdin_text_known || inv.stdin_text.find("delete") != std::string::npos ||
       inv.stdin_piped)) {
    Emit(ctx, "git.branch.delete", RepoLabel(git, inv), Reversibility::kRecoverable,
         Severity::kMedium, "git update-ref --stdin may delete refs");
  }
}

// git rm deletes tracked files from the working tree too; the whole tree
// (git rm -r .) is every file, and -f also loses their uncommitted changes.
void HandleRm(const GitCommand& git, const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = git.args;
  if (HasLongFlag(args, "--cached") || IsDryRun(args)) return;
  const bool recursive = HasShortFlag(args, 'r');
  const bool force = HasShortFlag(args, 'f') || HasLongFlag(args, "--force");
  bool whole = false;
  std::vector<Arg> paths = Operands(args, {"--pathspec-from-file"});
  if (HasLongFlag(args, "--pathspec-from-file")) whole = true;
  for (const Arg& path : paths) whole = whole || (recursive && IsWholeTreeSpec(path));
  if (paths.empty() && !whole) return;
  if (whole) {
    Emit(ctx, "git.discard", RepoLabel(git, inv), Reversibility::kRecoverable,
         force ? Severity::kHigh : Severity::kMedium,
         std::string("git rm -r") + (force ? "f" : "") +
             " of the whole tree deletes every tracked file from the working tree" +
             (force ? ", uncommitted changes included" : ""));
    return;
  }
  Emit(ctx, "git.discard", RepoLabel(git, inv), Reversibility::kRecoverable,
       force ? Severity::kMedium : Severity::kLow,
       force ? "git rm -f deletes the named files, uncommitted changes included"
             : "git rm deletes committed files, which history keeps");
}

void HandleWorktree(const GitCommand& git, const Invocation& inv, Context& ctx) {
  std::vector<Arg> operands = Operands(git.args);
  if (operands.empty() || operands[0].text != "remove") return;
  const bool force = HasShortFlag(git.args, 'f') || HasLongFlag(git.args, "--force");
  const std::string target = operands.size() > 1 ? operands[1].text : RepoLabel(git, inv);
  if (!force) {
    Emit(ctx, "vcs.worktree", target, Reversibility::kReversible, Severity::kLow,
         "git worktree remove refuses a worktree with changes");
    return;
  }
  Emit(ctx, "git.discard", target, Reversibility::kIrreversible, Severity::kMedium,
       "git worktree remove --force deletes the worktree " + target +
           " with its uncommitted and untracked files");
}

}  // namespace dualkey::shell::gitpack
