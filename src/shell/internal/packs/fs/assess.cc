// How bad a delete or a write is, by where its target is (paths.h) and what
// version control can give back; emitting the action; file redirections.

#include <sys/stat.h>

#include <cctype>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/git_facts.h"
#include "shell/internal/packs/fs/fs.h"

namespace dualkey::shell::fs {

// The home that `path` lies in: the user's, or /home/<x>, /Users/<x>, /root.
string_view HomeOf(string_view path, string_view home) {
  if (!home.empty() && home != "/" && IsSameOrUnder(path, home)) return home;
  if (IsSameOrUnder(path, "/root")) return "/root";
  for (string_view top : {string_view("/home/"), string_view("/Users/")}) {
    if (!path.starts_with(top)) continue;
    std::size_t end = path.find('/', top.size());
    return end == string_view::npos ? path : path.substr(0, end);
  }
  return {};
}

// A glob that matches any name in its directory: `*`, `*.*`, `**`.
bool MatchesEveryName(string_view name) {
  return name == "*" || name == "*.*" || name == "**" || name == "*.*.*" || name == "{*,.*}";
}

// A recursive delete of this directory takes a whole project or more: the
// working directory or one of its ancestors, a folder directly in a home,
// a project in ~/projects, or a top-level directory like /app.
bool IsWholeProject(string_view path, const Invocation& inv, string_view home) {
  string_view base = GlobBase(path);
  if (base.empty() || base[0] != '/') return false;
  if (!inv.cwd.empty() && IsSameOrUnder(inv.cwd, base)) return true;
  string_view owner_home = HomeOf(base, home);
  int depth = PathDepth(base) - (owner_home.empty() ? 0 : PathDepth(owner_home));
  if (depth <= 1) return true;
  return depth == 2 && IsProjectContainerName(BaseName(DirName(base)));
}

// "report.pdf", "main.tsx": a name with a short, non-numeric extension is a
// file, not a directory ("v1.2" and "site.d" are not taken as files).
bool LooksLikeFileName(string_view name) {
  std::size_t dot = name.rfind('.');
  if (dot == string_view::npos || dot == 0 || dot + 1 >= name.size()) return false;
  string_view extension = name.substr(dot + 1);
  if (extension.size() > 5 || extension == "d" || extension == "app") return false;
  bool has_letter = false;
  for (char c : extension) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
    has_letter = has_letter || std::isalpha(static_cast<unsigned char>(c));
  }
  return has_letter;
}

bool IsDockerVolumePath(string_view path) {
  return IsSameOrUnder(path, "/var/lib/docker/volumes") ||
         IsSameOrUnder(path, "/var/lib/containers/storage/volumes");
}

// Deleting `target` (rm, unlink, rsync --delete, mv to /dev/null ...).
Assessment AssessDelete(const ResolvedPath& target, bool recursive, const Invocation& inv,
                        string_view home) {
  const Severity everything = recursive ? Severity::kCritical : Severity::kHigh;
  switch (target.kind) {
    case PathKind::kRoot:
      return {"fs.delete.root", everything, Reversibility::kIrreversible, "the root file system"};
    case PathKind::kHome:
      return {"fs.delete.home", everything, Reversibility::kIrreversible, "a home directory"};
    case PathKind::kSystem:
      return {"fs.delete.system", everything, Reversibility::kIrreversible, "system files"};
    case PathKind::kNull:
      return {"fs.delete.system", Severity::kHigh, Reversibility::kIrreversible,
              "a system device node"};
    case PathKind::kBackup:
      return {"backup.delete", everything, Reversibility::kIrreversible, "backups"};
    case PathKind::kData:
      if (IsDockerVolumePath(target.path))
        return {"container.volume.delete", Severity::kHigh, Reversibility::kIrreversible,
                "container volumes"};
      if (IsDatabaseFileName(BaseName(target.path)))
        return {"fs.delete.database", Severity::kHigh, Reversibility::kIrreversible,
                "a database file"};
      if (recursive)
        return {"fs.delete.recursive", Severity::kHigh, Reversibility::kIrreversible,
                "service data"};
      return {"fs.delete", Severity::kMedium, Reversibility::kIrreversible, "service data"};
    case PathKind::kVcs:
      if (recursive || BaseName(target.path) == ".git")
        return {"git.history.delete", Severity::kHigh, Reversibility::kIrreversible,
                "the repository's history"};
      return {"fs.delete", Severity::kLow, Reversibility::kRecoverable,
              "a file inside .git such as a stale lock"};
    case PathKind::kDisposable:
      return {"fs.delete.scoped", Severity::kLow, Reversibility::kRecoverable,
              "build output or a cache"};
    case PathKind::kTemp:
      return {"fs.delete.temp", Severity::kLow, Reversibility::kRecoverable, "temporary files"};
    case PathKind::kDevice:
      return {"fs.delete.device", Severity::kMedium, Reversibility::kRecoverable, "a device node"};
    case PathKind::kProject:
    case PathKind::kOther:
      if (recursive) {
        if (IsWholeProject(target.path, inv, home)) {
          const bool in_home = !HomeOf(target.path, home).empty();
          return {in_home ? "fs.delete.home" : "fs.delete.recursive", Severity::kHigh,
                  Reversibility::kIrreversible, "a whole project or top-level folder"};
        }
        // `rm -rf notes.txt`: the habitual -r on what is plainly a file.
        if (target.glob || !LooksLikeFileName(BaseName(target.path)))
          return {"fs.delete.recursive", Severity::kMedium, Reversibility::kIrreversible,
                  "a directory tree of ordinary files", /*facts_may_decide=*/true};
      }
      if (IsSensitiveHomeEntry(target.path, home))
        return {"fs.delete", Severity::kMedium, Reversibility::kIrreversible,
                "keys or credentials"};
      if (target.glob && IsWholeProject(target.path, inv, home))
        return {"fs.delete", Severity::kMedium, Reversibility::kIrreversible,
                "every file of a project directory"};
      // `rm uploads/*` empties a directory as surely as `rm -r` would; a
      // pattern with a name in it (`*.o`, `core.*`) picks files out.
      if (target.glob && MatchesEveryName(BaseName(target.path)))
        return {"fs.delete", Severity::kMedium, Reversibility::kIrreversible,
                "every file of a directory", /*facts_may_decide=*/true};
      return {"fs.delete",
              Severity::kLow,
              Reversibility::kIrreversible,
              "an ordinary file",
              /*facts_may_decide=*/false,
              /*raised_when_unversioned=*/!target.glob};
    case PathKind::kUnknown:
      if (recursive)
        return {"fs.delete.recursive", Severity::kHigh, Reversibility::kUnknown,
                "a target only known at run time"};
      return {"fs.delete", Severity::kMedium, Reversibility::kUnknown,
              "a target only known at run time"};
  }
  return {"fs.delete", Severity::kHigh, Reversibility::kUnknown, "an unclassified target"};
}

bool IsUnderProcOrSys(string_view path) {
  return IsSameOrUnder(path, "/proc") || IsSameOrUnder(path, "/sys");
}

// Writing to `target`: a `>`/`>>` redirection, tee, cp from /dev/null.
// `emptying` is true when nothing is written, so the file just loses its data.
std::optional<Assessment> AssessWrite(const ResolvedPath& target, WriteMode mode, bool emptying,
                                      string_view home) {
  const bool append = mode == WriteMode::kAppend;
  const string_view name = BaseName(target.path);
  switch (target.kind) {
    case PathKind::kNull:
    case PathKind::kRoot:
    case PathKind::kHome:  // a directory: the shell refuses the redirection
      return std::nullopt;
    case PathKind::kDevice:
      return Assessment{"disk.wipe", Severity::kCritical, Reversibility::kIrreversible,
                        "a block device"};
    case PathKind::kData:
      if (IsDatabaseFileName(name))
        return append ? Assessment{"fs.write", Severity::kMedium, Reversibility::kIrreversible,
                                   "a database file, which raw appends corrupt"}
                      : Assessment{"fs.truncate", Severity::kHigh, Reversibility::kIrreversible,
                                   "a database file"};
      if (append || IsLogFileName(name))
        return Assessment{"fs.write", Severity::kLow, Reversibility::kReversible, "a data file"};
      if (emptying)
        return Assessment{"fs.truncate", Severity::kHigh, Reversibility::kIrreversible,
                          "a service data file"};
      return Assessment{"fs.overwrite", Severity::kMedium, Reversibility::kIrreversible,
                        "a service data file"};
    case PathKind::kSystem:
      if (IsLogFileName(name))
        return Assessment{"fs.write", Severity::kLow, Reversibility::kReversible, "a log file"};
      if (target.path == "/proc/sysrq-trigger")
        return Assessment{"system.power", Severity::kCritical, Reversibility::kIrreversible,
                          "the kernel's SysRq trigger"};
      if (IsUnderProcOrSys(target.path))
        return Assessment{"system.tune", Severity::kMedium, Reversibility::kRecoverable,
                          "kernel settings"};
      // A new file in a drop-in directory (/etc/apt/sources.list.d/x.list)
      // adds configuration without replacing any.
      if (BaseName(DirName(target.path)).ends_with(".d"))
        return Assessment{"fs.write", Severity::kLow, Reversibility::kReversible,
                          "a drop-in configuration file"};
      if (append)
        return Assessment{"fs.write", Severity::kMedium, Reversibility::kRecoverable,
                          "a system file"};
      return Assessment{emptying ? "fs.truncate" : "fs.overwrite", Severity::kHigh,
                        Reversibility::kIrreversible, "a system file"};
    case PathKind::kBackup:
      if (append)
        return Assessment{"fs.write", Severity::kLow, Reversibility::kReversible, "a backup"};
      if (emptying)
        return Assessment{"backup.delete", Severity::kHigh, Reversibility::kIrreversible,
                          "a backup, emptied"};
      return Assessment{"backup.create", Severity::kLow, Reversibility::kReversible,
                        "a backup being written"};
    case PathKind::kVcs: {
      const bool routine = target.path.find("/.git/hooks/") != std::string::npos ||
                           target.path.find("/.git/info/") != std::string::npos ||
                           name.ends_with(".lock") || name == "COMMIT_EDITMSG";
      if (append || routine)
        return Assessment{"fs.write", Severity::kLow, Reversibility::kReversible,
                          "a file inside .git"};
      return Assessment{"fs.overwrite", Severity::kMedium, Reversibility::kIrreversible,
                        "the repository's internal data"};
    }
    case PathKind::kProject:
    case PathKind::kOther:
    case PathKind::kTemp:
    case PathKind::kDisposable:
      if (!append && IsSensitiveHomeEntry(target.path, home))
        return Assessment{"fs.overwrite", Severity::kMedium, Reversibility::kIrreversible,
                          "keys or credentials"};
      if (emptying && !append && target.glob && MatchesEveryName(BaseName(target.path)))
        return Assessment{"fs.truncate", Severity::kMedium, Reversibility::kIrreversible,
                          "every file of a directory"};
      return Assessment{emptying && !append ? "fs.truncate" : "fs.write",
                        Severity::kLow,
                        Reversibility::kRecoverable,
                        "an ordinary file",
                        /*facts_may_decide=*/false,
                        /*raised_when_unversioned=*/emptying && !append && !target.glob &&
                            (target.kind == PathKind::kProject || target.kind == PathKind::kOther)};
    case PathKind::kUnknown:
      if (append)
        return Assessment{"fs.write", Severity::kLow, Reversibility::kRecoverable,
                          "a file only known at run time"};
      return Assessment{"fs.truncate", Severity::kMedium, Reversibility::kUnknown,
                        "a file only known at run time"};
  }
  return std::nullopt;
}

void EmitAssessment(Context& ctx, const Assessment& assessment, string_view target,
                    string_view verb, string_view note) {
  std::string reason;
  reason.reserve(verb.size() + target.size() + assessment.what.size() + note.size() + 8);
  reason.append(verb).append(" ").append(target).append(" (").append(assessment.what).append(")");
  if (!note.empty()) reason.append("; ").append(note);
  ctx.Emit(MakeAction(std::string(assessment.op_class), {std::string(target)},
                      assessment.reversibility, assessment.severity, std::move(reason)));
}

ResolvedPath Resolve(const Arg& arg, const Invocation& inv, Context& ctx) {
  return ResolvePath(arg, inv.cwd, ctx.home());
}

// Facts over names: a delete the name rules hold (an ordinary folder of a
// project) is judged by what it would lose on this machine. A path the same
// command line created a moment earlier holds only what the line made; in a
// git work tree, unchanged tracked files are restorable from history and
// ignored ones are the project's declared output, while untracked and
// modified files are held with their count, size and names. Where no fact
// can be read (no work tree, a remote host, a repository too large or
// corrupt) the name rules stand, never an allow.
Assessment DecideByFacts(const ResolvedPath& target, const Arg& operand, Assessment assessment,
                         const Invocation& inv, Context& ctx, std::string* note) {
  if (!assessment.facts_may_decide || inv.remote || target.path.empty() || target.path[0] != '/')
    return assessment;
  if (ctx.CreatedHere(operand, inv.cwd, inv.remote)) {
    assessment.op_class = "fs.delete.scoped";
    assessment.severity = Severity::kLow;
    assessment.reversibility = Reversibility::kReversible;
    assessment.what = "created earlier in this command line";
    return assessment;
  }
  const LossFacts facts = ctx.LossFactsFor(GlobBase(target.path));
  std::string described = facts.Describe();
  if (!described.empty()) {
    if (!note->empty()) note->append("; ");
    note->append(described);
  }
  if (facts.LosesNothing()) {
    assessment.op_class = "fs.delete.scoped";
    assessment.severity = Severity::kLow;
    assessment.reversibility = Reversibility::kRecoverable;
    assessment.what =
        facts.ignored > 0 && facts.tracked == 0 ? "output git ignores" : "files git can restore";
  }
  return assessment;
}

// One ordinary file deleted or emptied is low impact by its name: in a git
// work tree it is restorable or the agent's own scratch. Outside every work
// tree, an existing file with data has no copy dualkey can see, so the fact
// raises it to a hold with its size. Where the facts cannot be read (remote,
// missing, unreadable, created by this line) the names decide.
Assessment RaiseWhenUnversioned(const ResolvedPath& target, const Arg& operand,
                                Assessment assessment, const Invocation& inv, Context& ctx,
                                std::string* note) {
  if (!assessment.raised_when_unversioned || inv.remote || target.path.empty() ||
      target.path[0] != '/')
    return assessment;
  struct stat st {};
  if (lstat(target.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
    return assessment;
  if (ctx.CreatedHere(operand, inv.cwd, inv.remote)) return assessment;
  if (ctx.LossFactsFor(target.path).outcome != LossFacts::Outcome::kNoWorkTree) return assessment;
  assessment.severity = Severity::kMedium;
  assessment.reversibility = Reversibility::kIrreversible;
  assessment.what = "an ordinary file outside version control";
  if (!note->empty()) note->append("; ");
  note->append(HumanBytes(static_cast<std::uint64_t>(st.st_size)) +
               " that no work tree can restore");
  return assessment;
}

// A delete of `operand` with today's name rules, then the facts.
void EmitDelete(const Arg& operand, bool recursive, string_view verb, const Invocation& inv,
                Context& ctx, std::string note) {
  ResolvedPath target = Resolve(operand, inv, ctx);
  Assessment assessment = DecideByFacts(
      target, operand, AssessDelete(target, recursive, inv, ctx.home()), inv, ctx, &note);
  assessment = RaiseWhenUnversioned(target, operand, assessment, inv, ctx, &note);
  EmitAssessment(ctx, assessment, target.path, verb, note);
}

// For a write target with run-time parts (`> backup-$(date).sql`), a stand-in
// where each unknown part is a plain name, so the known directory still
// counts. Targets that start with an unknown part stay unknown.
std::optional<Arg> ProbeForUnknown(const Arg& arg) {
  const std::string& text = arg.text;
  if (text.empty() || text[0] == '$' || text[0] == '`') return std::nullopt;
  Arg probe;
  probe.glob = arg.glob;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '$' && c != '`') {
      probe.text.push_back(c);
      continue;
    }
    probe.text.push_back('x');
    if (c == '`') {
      std::size_t end = text.find('`', i + 1);
      i = end == std::string::npos ? text.size() : end;
      continue;
    }
    if (i + 1 < text.size() && (text[i + 1] == '{' || text[i + 1] == '(')) {
      const char open = text[i + 1], close = open == '{' ? '}' : ')';
      int level = 0;
      std::size_t j = i + 1;
      for (; j < text.size(); ++j) {
        if (text[j] == open) ++level;
        if (text[j] == close && --level == 0) break;
      }
      i = j;
      continue;
    }
    while (i + 1 < text.size() &&
           (std::isalnum(static_cast<unsigned char>(text[i + 1])) || text[i + 1] == '_'))
      ++i;
  }
  return probe;
}

ResolvedPath ResolveWriteTarget(const Arg& arg, const Invocation& inv, Context& ctx) {
  ResolvedPath target = Resolve(arg, inv, ctx);
  if (target.kind != PathKind::kUnknown) return target;
  if (std::optional<Arg> probe = ProbeForUnknown(arg)) {
    ResolvedPath guess = Resolve(*probe, inv, ctx);
    if (guess.kind != PathKind::kUnknown) {
      guess.path = arg.text;
      return guess;
    }
  }
  return target;
}

void EmitWrite(const Arg& arg, WriteMode mode, bool emptying, string_view verb,
               const Invocation& inv, Context& ctx) {
  ResolvedPath target = ResolveWriteTarget(arg, inv, ctx);
  if (std::optional<Assessment> assessment = AssessWrite(target, mode, emptying, ctx.home())) {
    std::string note;
    *assessment = RaiseWhenUnversioned(target, arg, *assessment, inv, ctx, &note);
    EmitAssessment(ctx, *assessment, target.path, verb, note);
  }
}

// The command writes nothing, so `cmd > file` only empties the file.
bool IsEmptyingCommand(const Invocation& inv) {
  if (inv.argv.empty()) return true;  // a bare `> file`
  if (inv.has_stdin_text || inv.stdin_piped) return false;
  const string_view name = inv.name();
  if (name == ":" || name == "true" || name == "false") return true;
  if (name == "echo" || name == "printf") {
    for (const Arg& arg : ArgsOf(inv)) {
      if (!arg.known) return false;
      if (arg.text.empty() || arg.text == "-n" || arg.text == "-e" || arg.text == "-E" ||
          arg.text == "-ne" || arg.text == "-en")
        continue;
      return false;
    }
    return true;
  }
  if (name == "cat") {
    std::span<const Arg> args = ArgsOf(inv);
    if (args.empty()) return false;  // cat copies stdin
    for (const Arg& arg : args)
      if (arg.text != "/dev/null") return false;
    return true;
  }
  return false;
}

}  // namespace dualkey::shell::fs

namespace dualkey::shell {

using namespace fs;

void ClassifyWriteTo(const Arg& target, bool append, bool emptying, std::string_view verb,
                     const Invocation& inv, Context& ctx) {
  EmitWrite(target, append ? WriteMode::kAppend : WriteMode::kTruncate, emptying, verb, inv, ctx);
}

void ClassifyRedirect(const FileRedirect& redirect, const Invocation& inv, Context& ctx) {
  switch (redirect.kind) {
    case RedirectKind::kTruncate:
      EmitWrite(redirect.target, WriteMode::kTruncate, IsEmptyingCommand(inv),
                IsEmptyingCommand(inv) ? "redirection empties" : "redirection overwrites", inv,
                ctx);
      return;
    case RedirectKind::kAppend:
      EmitWrite(redirect.target, WriteMode::kAppend, false, "redirection appends to", inv, ctx);
      return;
    case RedirectKind::kRead:
    case RedirectKind::kDup:
      return;
  }
}

}  // namespace dualkey::shell
