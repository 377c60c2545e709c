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
#include <cctype>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/packs.h"
#include "shell/internal/paths.h"

namespace dualkey::shell {
namespace {

using std::string_view;

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

struct GitCommand {
  std::string repo;                  // from -C, resolved; empty when it is the cwd
  std::string alias_script;          // `-c alias.X=!cmd` when X is the subcommand
  std::string alias_expansion;       // `-c alias.X='push -f'`: git words X stands for
  std::vector<Arg> settings;         // every -c KEY=VALUE
  std::size_t subcommand_index = 0;  // in inv.argv
  bool require_force_off = false;    // -c clean.requireForce=false
  std::optional<Arg> subcommand;
  std::span<const Arg> args;  // after the subcommand
};

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

// --- code git runs ----------------------------------------------------------

// Settings whose value is a command git runs (through the shell, or as a
// program): core.sshCommand, core.pager, core.fsmonitor, diff.X.command,
// filter.X.clean, credential.helper=!..., uploadpack.packObjectsHook ...
bool IsCommandSetting(string_view key) {
  std::string lower;
  for (char c : key)
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  constexpr string_view kExact[] = {"core.sshcommand",
                                    "core.pager",
                                    "core.editor",
                                    "core.fsmonitor",
                                    "core.askpass",
                                    "core.gitproxy",
                                    "sequence.editor",
                                    "diff.external",
                                    "gpg.program",
                                    "gpg.ssh.program",
                                    "gpg.x509.program",
                                    "gpg.openpgp.program",
                                    "uploadpack.packobjectshook",
                                    "interactive.difffilter",
                                    "web.browser",
                                    "sendemail.sendmailcmd",
                                    "core.alternaterefscommand",
                                    "sendemail.tocmd",
                                    "sendemail.cccmd",
                                    "sendemail.validate",
                                    "gpg.ssh.defaultkeycommand"};
  for (string_view exact : kExact)
    if (lower == exact) return true;
  if (lower.starts_with("pager.")) return true;
  auto ends = [&](string_view suffix) { return lower.ends_with(suffix); };
  if (lower.starts_with("diff.") && (ends(".command") || ends(".textconv"))) return true;
  if (lower.starts_with("merge.") && ends(".driver")) return true;
  if (lower.starts_with("filter.") && (ends(".clean") || ends(".smudge") || ends(".process")))
    return true;
  if ((lower.starts_with("mergetool.") || lower.starts_with("difftool.") ||
       lower.starts_with("browser.") || lower.starts_with("man.")) &&
      ends(".cmd"))
    return true;
  if (lower.starts_with("remote.") && (ends(".uploadpack") || ends(".receivepack"))) return true;
  return false;
}

void RunGitCode(const Invocation& inv, Context& ctx, const std::string& cwd, const Arg& code,
                std::string what) {
  if (!code.known) {
    ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                        what + " is a command computed at run time"));
    return;
  }
  string_view text = code.text;
  if (text.starts_with('!')) text.remove_prefix(1);
  if (text.empty() || text == "true" || text == "false") return;
  if (inv.remote)
    ctx.ClassifyRemoteScript(text, inv.depth + 1);
  else
    ctx.ClassifyScript(text, cwd, inv.depth + 1);
}

// KEY=VALUE of a -c setting or of `git config KEY VALUE`.
void ClassifySetting(const Invocation& inv, Context& ctx, const std::string& cwd, string_view key,
                     const Arg& value, string_view how) {
  std::string lower(key);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "credential.helper") {
    // A helper name runs git-credential-NAME; `!cmd` and paths run as written.
    if (!value.known || value.text.starts_with('!') || value.text.starts_with('/'))
      RunGitCode(inv, ctx, cwd, value, std::string(how) + " credential.helper");
    return;
  }
  if (lower == "core.fsmonitor" &&
      (value.text == "true" || value.text == "false" || value.text.empty()))
    return;
  if (lower == "core.hookspath" || lower == "init.templatedir") return;
  if (lower.starts_with("submodule.") && lower.ends_with(".update")) {
    if (value.text.starts_with('!'))
      RunGitCode(inv, ctx, cwd, value, std::string(how) + " " + std::string(key));
    return;
  }
  if (IsCommandSetting(key))
    RunGitCode(inv, ctx, cwd, value, std::string(how) + " " + std::string(key));
}

// GIT_SSH_COMMAND, GIT_EDITOR ... and GIT_CONFIG_PARAMETERS / _COUNT in the
// environment git runs with.
void ClassifyGitEnvironment(const Invocation& inv, Context& ctx, const std::string& cwd) {
  if (!inv.env) return;
  constexpr string_view kCommands[] = {"GIT_SSH_COMMAND",     "GIT_SSH",          "GIT_EDITOR",
                                       "GIT_SEQUENCE_EDITOR", "GIT_PAGER",        "GIT_ASKPASS",
                                       "GIT_EXTERNAL_DIFF",   "GIT_PROXY_COMMAND"};
  for (string_view name : kCommands)
    if (const Arg* value = inv.EnvValue(name)) RunGitCode(inv, ctx, cwd, *value, std::string(name));
  if (const Arg* exec_path = inv.EnvValue("GIT_EXEC_PATH"))
    ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                        "GIT_EXEC_PATH makes git run its commands from " + exec_path->text));
  if (const Arg* parameters = inv.EnvValue("GIT_CONFIG_PARAMETERS")) {
    // 'key'='value' 'key2'='value2'
    const std::string& text = parameters->text;
    std::size_t i = 0;
    auto quoted = [&]() {
      std::string out;
      if (i < text.size() && text[i] == '\'') {
        ++i;
        while (i < text.size() && text[i] != '\'') out.push_back(text[i++]);
        ++i;
      } else {
        while (i < text.size() && text[i] != '=' && text[i] != ' ') out.push_back(text[i++]);
      }
      return out;
    };
    while (i < text.size()) {
      while (i < text.size() && text[i] == ' ') ++i;
      std::string key = quoted();
      std::string value;
      if (i < text.size() && text[i] == '=') {
        ++i;
        value = quoted();
      }
      if (key.empty()) break;
      std::size_t eq = key.find('=');
      if (eq != std::string::npos) {
        value = key.substr(eq + 1);
        key.resize(eq);
      }
      ClassifySetting(inv, ctx, cwd, key, Arg{value, parameters->known}, "GIT_CONFIG_PARAMETERS");
    }
  }
  if (const Arg* count = inv.EnvValue("GIT_CONFIG_COUNT")) {
    int n = 0;
    for (char c : count->text)
      n = std::isdigit(static_cast<unsigned char>(c)) ? n * 10 + (c - '0') : n;
    for (int k = 0; k < std::min(n, 64); ++k) {
      const Arg* key = inv.EnvValue("GIT_CONFIG_KEY_" + std::to_string(k));
      const Arg* value = inv.EnvValue("GIT_CONFIG_VALUE_" + std::to_string(k));
      if (key != nullptr && value != nullptr)
        ClassifySetting(inv, ctx, cwd, key->text, *value, "GIT_CONFIG_KEY_" + std::to_string(k));
    }
  }
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

// --- commands run by subcommands ----------------------------------------------

void HandleConfig(const GitCommand& git, const Invocation& inv, Context& ctx) {
  // git config [--global|--local|--file F|--add|--replace-all] KEY VALUE
  std::vector<Arg> operands = Operands(git.args, {"-f", "--file", "--blob", "--type", "--default",
                                                  "--comment", "--value", "--file"});
  for (const Arg& arg : git.args)
    if (arg.text.starts_with("--unset") || arg.text == "--get" || arg.text.starts_with("--get-") ||
        arg.text == "-l" || arg.text == "--list" || arg.text == "--remove-section" ||
        arg.text == "--rename-section" || arg.text == "-e" || arg.text == "--edit")
      return;
  if (!operands.empty() && In(operands[0].text, {"set", "get", "unset", "list", "edit"})) {
    if (operands[0].text != "set") return;
    operands.erase(operands.begin());
  }
  if (operands.size() < 2) return;
  const std::string cwd = git.repo.empty() ? inv.cwd : git.repo;
  const std::string& key = operands[0].text;
  const Arg& value = operands[1];
  if (key.size() > 6 && key.starts_with("alias.")) {
    if (value.text.starts_with('!') || !value.known)
      RunGitCode(inv, ctx, cwd, value, "git config " + key);
    return;
  }
  ClassifySetting(inv, ctx, cwd, key, value, "git config sets");
}

void HandleSubmodule(const GitCommand& git, const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = git.args;
  std::size_t i = 0;
  while (i < args.size() && args[i].text.starts_with("-")) ++i;  // --quiet
  if (i >= args.size() || args[i].text != "foreach") return;
  ++i;
  while (i < args.size() && args[i].text.starts_with("--")) ++i;  // --recursive
  if (i >= args.size()) return;
  std::string script;
  bool known = true;
  for (std::size_t k = i; k < args.size(); ++k) {
    if (!script.empty()) script.push_back(' ');
    script += args[k].text;
    known = known && args[k].known;
  }
  RunGitCode(inv, ctx, git.repo.empty() ? inv.cwd : git.repo, Arg{script, known},
             "git submodule foreach");
}

void HandleRebase(const GitCommand& git, const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = git.args;
  const std::string cwd = git.repo.empty() ? inv.cwd : git.repo;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    if ((text == "--exec" || text == "-x") && i + 1 < args.size()) {
      RunGitCode(inv, ctx, cwd, args[++i], "git rebase --exec");
    } else if (text.starts_with("--exec=")) {
      RunGitCode(inv, ctx, cwd, Arg{text.substr(7), args[i].known}, "git rebase --exec");
    } else if (text.size() > 2 && text.starts_with("-x")) {
      RunGitCode(inv, ctx, cwd, Arg{text.substr(2), args[i].known}, "git rebase -x");
    }
  }
}

void HandleBisect(const GitCommand& git, const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = git.args;
  if (args.size() < 2 || args[0].text != "run") return;
  Invocation inner;
  inner.argv.assign(args.begin() + 1, args.end());
  inner.cwd = git.repo.empty() ? inv.cwd : git.repo;
  inner.depth = inv.depth + 1;
  inner.remote = inv.remote;
  ctx.ClassifyInvocation(inner);
}

void HandleDifftool(const GitCommand& git, const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = git.args;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    if ((text == "-x" || text == "--extcmd") && i + 1 < args.size())
      RunGitCode(inv, ctx, inv.cwd, args[++i], "git difftool --extcmd");
    else if (text.starts_with("--extcmd="))
      RunGitCode(inv, ctx, inv.cwd, Arg{text.substr(9), args[i].known}, "git difftool --extcmd");
  }
}

// --upload-pack/--receive-pack/--exec name the program run for the other
// side (locally for a path remote); ext:: URLs run a command outright.
void ClassifyTransport(const GitCommand& git, const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = git.args;
  const std::string& sub = git.subcommand->text;
  if (!In(sub, {"clone", "fetch", "pull", "push", "ls-remote", "archive", "remote", "submodule"}))
    return;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    for (string_view option : {"--upload-pack", "--receive-pack", "--exec"}) {
      if (text == option && i + 1 < args.size()) {
        RunGitCode(inv, ctx, inv.cwd, args[i + 1], "git " + sub + " " + std::string(option));
      } else if (text.size() > option.size() && text.starts_with(option) &&
                 text[option.size()] == '=') {
        RunGitCode(inv, ctx, inv.cwd, Arg{text.substr(option.size() + 1), args[i].known},
                   "git " + sub + " " + std::string(option));
      }
    }
    if (text == "-u" && In(sub, {"clone", "fetch", "pull"}) && i + 1 < args.size())
      RunGitCode(inv, ctx, inv.cwd, args[i + 1], "git " + sub + " -u");
    if (args[i].known && text.starts_with("ext::")) {
      // ext::<command>: words split on spaces, "% " a space inside a word,
      // "%%" a percent sign.
      Invocation inner;
      std::string word;
      auto flush = [&] {
        if (!word.empty()) inner.argv.push_back(Arg{word});
        word.clear();
      };
      for (std::size_t k = 5; k < text.size(); ++k) {
        if (text[k] == '%' && k + 1 < text.size()) {
          char next = text[++k];
          word.push_back(next == ' ' ? ' ' : next == '%' ? '%' : '?');
        } else if (text[k] == ' ') {
          flush();
        } else {
          word.push_back(text[k]);
        }
      }
      flush();
      inner.cwd = inv.cwd;
      inner.depth = inv.depth + 1;
      inner.remote = inv.remote;
      if (!inner.argv.empty()) ctx.ClassifyInvocation(inner);
    }
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

constexpr PackEntry kGitPack[] = {
    {"git", HandleGit},
    {"git-filter-repo", HandleGitFilterRepo},
};

}  // namespace

std::span<const PackEntry> GitPack() {
  return kGitPack;
}

}  // namespace dualkey::shell
