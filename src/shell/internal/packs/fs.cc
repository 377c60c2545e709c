// The file system pack: commands that delete, empty or overwrite files (rm,
// unlink, rmdir, shred, truncate, mv and cp onto special targets, rsync
// --delete, tar --remove-files, tee, recursive chmod/chown) and file
// redirections. Severity comes from where the target is (paths.h): build
// output, caches and temp paths are low and allowed; ordinary project files
// are low for single-file work and medium when a whole tree goes; data,
// system, home, root and backups are high or critical.
#include <sys/stat.h>

#include <cctype>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/git_facts.h"
#include "shell/internal/packs/packs.h"
#include "shell/internal/paths.h"

namespace dualkey::shell {
namespace {

using std::string_view;

// What one operation does to one resolved target.
struct Assessment {
  string_view op_class;
  Severity severity = Severity::kNone;
  Reversibility reversibility = Reversibility::kIrreversible;
  string_view what;  // the kind of place, for the reason
  // Held by the name rules alone (an ordinary folder of a project): facts
  // about what the delete loses (FactsDecide) may settle it.
  bool facts_may_decide = false;
  // Low impact by the names (one ordinary file deleted or emptied): the
  // facts raise it when no version control can give the data back.
  bool raised_when_unversioned = false;
};

std::span<const Arg> ArgsOf(const Invocation& inv) {
  return inv.argv.empty() ? std::span<const Arg>() : std::span<const Arg>(inv.argv).subspan(1);
}

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

enum class WriteMode { kTruncate, kAppend };

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
                    string_view verb, string_view note = {}) {
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
                Context& ctx, std::string note = {}) {
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

// --- Commands --------------------------------------------------------------

// GNU tools accept unambiguous abbreviations of long options: --recur is
// --recursive. `min_length` keeps the shortest accepted form unambiguous.
bool HasLongFlagOrAbbreviation(std::span<const Arg> args, string_view flag,
                               std::size_t min_length) {
  for (const Arg& arg : args) {
    if (arg.text == "--") break;
    string_view text = arg.text;
    text = text.substr(0, text.find('='));
    if (text.size() >= min_length && flag.starts_with(text)) return true;
  }
  return false;
}

void HandleRm(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  const bool recursive = HasShortFlag(args, 'r') || HasShortFlag(args, 'R') ||
                         HasLongFlagOrAbbreviation(args, "--recursive", 5);
  const bool no_preserve_root = HasLongFlagOrAbbreviation(args, "--no-preserve-root", 6);
  const string_view verb = recursive ? "recursive delete of" : "delete of";
  for (const Arg& operand : Operands(args))
    EmitDelete(operand, recursive, verb, inv, ctx,
               no_preserve_root ? "--no-preserve-root disables the root guard" : "");
}

void HandleUnlink(const Invocation& inv, Context& ctx) {
  for (const Arg& operand : Operands(ArgsOf(inv))) {
    ResolvedPath target = Resolve(operand, inv, ctx);
    EmitAssessment(ctx, AssessDelete(target, false, inv, ctx.home()), target.path, "unlink of");
  }
}

void HandleRmdir(const Invocation& inv, Context& ctx) {
  // rmdir only removes empty directories: nothing is lost.
  for (const Arg& operand : Operands(ArgsOf(inv))) {
    ResolvedPath target = Resolve(operand, inv, ctx);
    EmitAssessment(
        ctx, {"fs.delete.empty", Severity::kLow, Reversibility::kReversible, "an empty directory"},
        target.path, "rmdir of");
  }
}

void HandleShred(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  const bool removes = HasShortFlag(args, 'u') || HasLongFlag(args, "--remove");
  const string_view verb = removes ? "shred (overwrite and delete) of" : "shred (overwrite) of";
  for (const Arg& operand :
       Operands(args, {"-n", "--iterations", "-s", "--size", "--random-source"})) {
    ResolvedPath target = Resolve(operand, inv, ctx);
    Assessment assessment;
    switch (target.kind) {
      case PathKind::kNull:
        continue;
      case PathKind::kDevice:
        assessment = {"disk.wipe", Severity::kCritical, Reversibility::kIrreversible,
                      "a block device"};
        break;
      case PathKind::kRoot:
      case PathKind::kHome:
      case PathKind::kSystem:
        assessment = {"disk.wipe", Severity::kCritical, Reversibility::kIrreversible,
                      "system or home files"};
        break;
      case PathKind::kBackup:
        assessment = {"backup.delete", Severity::kCritical, Reversibility::kIrreversible,
                      "a backup"};
        break;
      case PathKind::kData:
        assessment = {"disk.wipe", Severity::kHigh, Reversibility::kIrreversible, "service data"};
        break;
      case PathKind::kUnknown:
        assessment = {"disk.wipe", Severity::kHigh, Reversibility::kUnknown,
                      "a target only known at run time"};
        break;
      case PathKind::kTemp:
      case PathKind::kDisposable:
        assessment = {"fs.shred", Severity::kLow, Reversibility::kIrreversible,
                      "temporary or disposable files"};
        break;
      case PathKind::kVcs:
      case PathKind::kProject:
      case PathKind::kOther:
        assessment = {"fs.shred", Severity::kMedium, Reversibility::kIrreversible,
                      "an ordinary file, destroyed beyond recovery"};
        break;
    }
    EmitAssessment(ctx, assessment, target.path, verb);
  }
}

// "0", "00", "0K", "0MiB": a size of nothing.
bool IsZeroSize(string_view size) {
  std::size_t digits = 0;
  while (digits < size.size() && size[digits] == '0') ++digits;
  if (digits == 0) return false;
  for (char c : size.substr(digits))
    if (!std::isalpha(static_cast<unsigned char>(c))) return false;
  return true;
}

void HandleTruncate(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  std::string size = OptionValue(args, "-s");
  if (size.empty()) size = OptionValue(args, "--size");
  // +N, >N and %N only ever grow a file; everything else may cut it.
  const bool grows_only = !size.empty() && (size[0] == '+' || size[0] == '>' || size[0] == '%');
  const bool to_zero = IsZeroSize(size);
  for (const Arg& operand : Operands(args, {"-s", "--size", "-r", "--reference"})) {
    if (grows_only) {  // nothing is lost
      ResolvedPath target = Resolve(operand, inv, ctx);
      EmitAssessment(ctx,
                     {"fs.write", Severity::kLow, Reversibility::kReversible, "a file that grows"},
                     target.path, "truncate (grow) of");
    } else {
      EmitWrite(operand, WriteMode::kTruncate, /*emptying=*/true,
                to_zero ? "truncate to zero of" : "truncate (shrink) of", inv, ctx);
    }
  }
}

// Destination and sources of cp/mv, honouring -t DIR.
struct CopyOperands {
  std::vector<Arg> sources;
  std::optional<Arg> destination;
  bool into_directory = false;
};

CopyOperands SplitCopyOperands(std::span<const Arg> args) {
  CopyOperands out;
  std::vector<Arg> operands = Operands(args, {"-t", "--target-directory", "-S", "--suffix"});
  std::string target_dir = OptionValue(args, "-t");
  if (target_dir.empty()) target_dir = OptionValue(args, "--target-directory");
  if (!target_dir.empty()) {
    Arg dir;
    dir.text = target_dir;
    dir.known = target_dir.find('$') == std::string::npos;
    out.destination = dir;
    out.into_directory = true;
    out.sources = std::move(operands);
    return out;
  }
  if (operands.size() < 2) return out;
  out.destination = operands.back();
  operands.pop_back();
  out.sources = std::move(operands);
  out.into_directory = out.sources.size() > 1 || out.destination->text.ends_with('/');
  return out;
}

void HandleMv(const Invocation& inv, Context& ctx) {
  CopyOperands ops = SplitCopyOperands(ArgsOf(inv));
  if (!ops.destination) return;
  ResolvedPath destination = Resolve(*ops.destination, inv, ctx);
  if (destination.kind == PathKind::kNull) {
    for (const Arg& source : ops.sources) {
      ResolvedPath target = Resolve(source, inv, ctx);
      EmitAssessment(ctx, AssessDelete(target, /*recursive=*/true, inv, ctx.home()), target.path,
                     "move to /dev/null (a delete) of");
    }
    return;
  }
  if (!ops.into_directory && destination.kind == PathKind::kData &&
      IsDatabaseFileName(BaseName(destination.path))) {
    EmitAssessment(
        ctx, {"fs.overwrite", Severity::kHigh, Reversibility::kIrreversible, "a database file"},
        destination.path, "mv replaces");
  }
  for (const Arg& source : ops.sources) {
    ResolvedPath target = Resolve(source, inv, ctx);
    Severity severity = Severity::kNone;
    switch (target.kind) {
      case PathKind::kRoot:
      case PathKind::kHome:
      case PathKind::kSystem:
        severity = Severity::kHigh;
        break;
      case PathKind::kData:
      case PathKind::kBackup:
        severity = Severity::kMedium;
        break;
      case PathKind::kVcs:
        if (BaseName(target.path) == ".git") severity = Severity::kMedium;
        break;
      default:
        break;
    }
    if (severity == Severity::kNone) continue;  // ordinary moves are everyday work
    EmitAssessment(ctx,
                   {"fs.move", severity, Reversibility::kRecoverable,
                    "moves data that services or the system expect in place"},
                   target.path, "mv of");
  }
}

void HandleCp(const Invocation& inv, Context& ctx) {
  CopyOperands ops = SplitCopyOperands(ArgsOf(inv));
  if (!ops.destination) return;
  bool from_nothing = false;
  for (const Arg& source : ops.sources)
    if (source.text == "/dev/null" || source.text == "/dev/zero") from_nothing = true;
  ResolvedPath destination = Resolve(*ops.destination, inv, ctx);
  if (from_nothing) {
    EmitWrite(*ops.destination, WriteMode::kTruncate, /*emptying=*/true,
              "cp from /dev/null empties", inv, ctx);
  } else if (destination.kind == PathKind::kDevice) {
    EmitWrite(*ops.destination, WriteMode::kTruncate, false, "cp onto a device", inv, ctx);
  } else if (!ops.into_directory && destination.kind == PathKind::kData &&
             IsDatabaseFileName(BaseName(destination.path))) {
    EmitAssessment(
        ctx, {"fs.overwrite", Severity::kHigh, Reversibility::kIrreversible, "a database file"},
        destination.path, "cp replaces");
  } else if (!ops.into_directory && destination.kind == PathKind::kData &&
             LooksLikeFileName(BaseName(destination.path)) &&
             !IsLogFileName(BaseName(destination.path)) &&
             !(HasShortFlag(ArgsOf(inv), 'n') || HasLongFlag(ArgsOf(inv), "--no-clobber") ||
               HasShortFlag(ArgsOf(inv), 'b') || HasLongFlag(ArgsOf(inv), "--backup"))) {
    EmitAssessment(
        ctx,
        {"fs.overwrite", Severity::kMedium, Reversibility::kIrreversible, "a service data file"},
        destination.path, "cp replaces");
  }
}

constexpr string_view kRsyncDeleteFlags[] = {
    "--delete",       "--del",          "--delete-before",   "--delete-during",
    "--delete-delay", "--delete-after", "--delete-excluded", "--delete-missing-args",
};

bool IsRemoteSpec(string_view spec) {
  if (spec.starts_with("rsync://")) return true;
  std::size_t colon = spec.find(':');
  if (colon == string_view::npos || colon == 0) return false;
  std::size_t slash = spec.find('/');
  return slash == string_view::npos || colon < slash;
}

std::vector<Arg> RsyncOperands(std::span<const Arg> args);

// rsync --remove-source-files deletes what it sent: the data now lives only
// at the destination (a remote one, a /dev/null, a dry run that is not).
void HandleRsyncRemoveSources(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  if (HasLongFlag(args, "--dry-run") || HasShortFlag(args, 'n')) return;
  std::vector<Arg> operands = RsyncOperands(args);
  if (operands.size() < 2) return;
  const Arg& destination = operands.back();
  const bool remote = destination.known && IsRemoteSpec(destination.text);
  for (std::size_t k = 0; k + 1 < operands.size(); ++k) {
    const Arg& source = operands[k];
    if (source.known && IsRemoteSpec(source.text)) continue;  // removed on the remote side
    ResolvedPath target = Resolve(source, inv, ctx);
    Assessment assessment = AssessDelete(target, /*recursive=*/true, inv, ctx.home());
    assessment.reversibility = Reversibility::kRecoverable;
    switch (target.kind) {
      case PathKind::kProject:
      case PathKind::kOther:
      case PathKind::kTemp:
      case PathKind::kDisposable:
        assessment.severity = remote ? Severity::kMedium : Severity::kLow;
        break;
      default:
        if (assessment.severity < Severity::kMedium) assessment.severity = Severity::kMedium;
    }
    EmitAssessment(ctx, assessment, target.path, "rsync --remove-source-files deletes",
                   remote ? "the only copy is then on " + destination.text
                          : "a copy stays at " + destination.text);
  }
}

std::vector<Arg> RsyncOperands(std::span<const Arg> args) {
  return Operands(args, {"-e",
                         "--rsh",
                         "--exclude",
                         "--include",
                         "-f",
                         "--filter",
                         "--exclude-from",
                         "--include-from",
                         "--files-from",
                         "--rsync-path",
                         "--password-file",
                         "--log-file",
                         "--chmod",
                         "--chown",
                         "-B",
                         "--block-size",
                         "--backup-dir",
                         "--suffix",
                         "--partial-dir",
                         "-T",
                         "--temp-dir",
                         "--compare-dest",
                         "--copy-dest",
                         "--link-dest",
                         "--max-size",
                         "--min-size",
                         "--bwlimit",
                         "--timeout",
                         "--port",
                         "-M",
                         "--remote-option",
                         "--out-format",
                         "--max-delete",
                         "--info",
                         "--debug",
                         "--iconv"});
}

void HandleRsync(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  // -e/--rsh runs a local command (normally ssh) to reach the remote side.
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    std::optional<Arg> rsh;
    if ((text == "-e" || text == "--rsh") && i + 1 < args.size())
      rsh = args[++i];
    else if (text.starts_with("--rsh="))
      rsh = Arg{text.substr(6), args[i].known};
    if (!rsh) continue;
    if (!rsh->known)
      ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                          "rsync -e runs a command computed at run time"));
    else
      ctx.ClassifyScript(rsh->text, inv.cwd, inv.depth + 1);
  }
  if (HasLongFlag(args, "--remove-source-files")) HandleRsyncRemoveSources(inv, ctx);
  bool deletes = false;
  for (string_view flag : kRsyncDeleteFlags) deletes = deletes || HasLongFlag(args, flag);
  if (!deletes) return;
  std::vector<Arg> operands = RsyncOperands(args);
  if (operands.size() < 2) return;
  const Arg& destination = operands.back();
  if (HasLongFlag(args, "--dry-run") || HasShortFlag(args, 'n')) {
    ctx.Emit(MakeAction("read.only", {destination.text}, Reversibility::kReversible,
                        Severity::kNone, "rsync --delete --dry-run only lists what it would do"));
    return;
  }
  if (destination.known && IsRemoteSpec(destination.text)) {
    ctx.Emit(MakeAction("fs.delete.recursive", {destination.text}, Reversibility::kIrreversible,
                        Severity::kHigh,
                        "rsync --delete removes every file on the remote destination " +
                            destination.text + " that the source lacks"));
    return;
  }
  EmitDelete(destination, /*recursive=*/true, "rsync --delete prunes", inv, ctx,
             "files missing from the source are removed");
}

bool IsAllLetters(string_view text) {
  for (char c : text)
    if (!std::isalpha(static_cast<unsigned char>(c))) return false;
  return !text.empty();
}

// Commands tar itself runs: --to-command (per member), --checkpoint-action
// exec=, --use-compress-program/-I, --info-script/-F, --rsh-command.
void RunTarCarriedCommands(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  auto run = [&](const Arg& command, string_view what) {
    if (!command.known) {
      ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                          "tar " + std::string(what) + " runs a command computed at run time"));
      return;
    }
    ctx.ClassifyScript(command.text, inv.cwd, inv.depth + 1);
  };
  constexpr string_view kCommandOptions[] = {
      "--to-command",  "--use-compress-program", "--info-script",     "--new-volume-script",
      "--rsh-command", "--rmt-command",          "--compress-program"};
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    if (text == "--") break;
    if (text.starts_with("--checkpoint-action=")) {
      string_view action = string_view(text).substr(20);
      if (action.starts_with("exec="))
        run(Arg{std::string(action.substr(5)), args[i].known}, "--checkpoint-action=exec");
      continue;
    }
    bool matched = false;
    for (string_view option : kCommandOptions) {
      if (text == option && i + 1 < args.size()) {
        run(args[++i], option);
        matched = true;
        break;
      }
      if (text.size() > option.size() && text.starts_with(option) && text[option.size()] == '=') {
        run(Arg{text.substr(option.size() + 1), args[i].known}, option);
        matched = true;
        break;
      }
    }
    if (matched) continue;
    if ((text == "-I" || text == "-F") && i + 1 < args.size()) {
      run(args[++i], text == "-I" ? "-I" : "-F");
    } else if (text.size() > 2 && (text.starts_with("-I") || text.starts_with("-F")) &&
               text[1] != '-' && !IsAllLetters(text.substr(1))) {
      run(Arg{text.substr(2), args[i].known}, text.substr(0, 2));
    }
  }
}

// tar -c over an archive that is a backup: the old backup is replaced.
// Held when the backup exists here or when nothing goes into the new one.
void CheckTarOverwritesBackup(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  bool create = HasLongFlag(args, "--create");
  std::optional<Arg> archive;
  std::vector<Arg> inputs;
  bool from_list = false, empty_list = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    if (text.starts_with("--file=")) {
      archive = Arg{text.substr(7), args[i].known};
    } else if (text == "--file" && i + 1 < args.size()) {
      archive = args[++i];
    } else if ((text == "-T" || text == "--files-from") && i + 1 < args.size()) {
      from_list = true;
      empty_list = args[++i].text == "/dev/null";
    } else if (text.starts_with("--files-from=")) {
      from_list = true;
      empty_list = text.substr(13) == "/dev/null";
    } else if (text == "-C" || text == "--directory" || text == "-X" || text == "--exclude-from") {
      ++i;
    } else if (text.starts_with("--")) {
    } else if (text.size() > 1 && (text[0] == '-' || (i == 0 && IsAllLetters(text)))) {
      if (text.find('c') != std::string::npos) create = true;
      std::size_t f = text.find('f');
      if (f != std::string::npos) {
        if (f + 1 < text.size())
          archive = Arg{text.substr(f + 1), args[i].known};
        else if (i + 1 < args.size())
          archive = args[++i];
      }
    } else {
      inputs.push_back(args[i]);
    }
  }
  if (!create || !archive || archive->text == "-") return;
  ResolvedPath target = Resolve(*archive, inv, ctx);
  if (target.kind != PathKind::kBackup) return;
  bool empty = (from_list && empty_list && inputs.empty()) || (!from_list && inputs.empty());
  for (const Arg& input : inputs) empty = empty || input.text == "/dev/null";
  struct stat st;
  const bool exists = !target.path.empty() && target.path[0] == '/' &&
                      ::stat(target.path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
  if (!exists && !empty) return;
  EmitAssessment(
      ctx,
      {"backup.overwrite", Severity::kHigh, Reversibility::kIrreversible,
       empty ? "a backup, replaced by an empty archive" : "an existing backup, replaced"},
      target.path, "tar -c overwrites");
}

// tar --remove-files deletes its inputs once archived; --delete removes
// members from an archive.
void HandleTar(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  RunTarCarriedCommands(inv, ctx);
  CheckTarOverwritesBackup(inv, ctx);
  const bool remove_files = HasLongFlag(args, "--remove-files");
  const bool delete_members = HasLongFlag(args, "--delete");
  if (!remove_files && !delete_members) return;

  // Find the archive (-f/--file, clustered -czf X, or old style `czf X`) and
  // the -C directory the inputs are relative to.
  std::optional<Arg> archive;
  std::string directory = inv.cwd;
  std::vector<Arg> inputs;
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    auto next = [&]() -> std::optional<Arg> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    if (options_done || text.empty() || text == "-") {
      if (!text.empty()) inputs.push_back(args[i]);
      continue;
    }
    if (text == "--") {
      options_done = true;
      continue;
    }
    if (text.starts_with("--file=")) {
      archive = Arg{text.substr(7), args[i].known};
    } else if (text == "--file") {
      archive = next();
    } else if (text == "-C" || text == "--directory") {
      if (std::optional<Arg> dir = next()) directory = ResolvePath(*dir, inv.cwd, ctx.home()).path;
    } else if (text.starts_with("--directory=")) {
      directory = ResolvePath(Arg{text.substr(12)}, inv.cwd, ctx.home()).path;
    } else if (text.starts_with("--")) {
      // other long options take their values with '='
    } else if (text[0] == '-' || (i == 0 && IsAllLetters(text))) {
      // A cluster: -czf ARCHIVE, -fARCHIVE, or old-style `czf ARCHIVE`.
      std::size_t f = text.find('f');
      if (f != std::string::npos) {
        if (f + 1 < text.size())
          archive = Arg{text.substr(f + 1), args[i].known};
        else
          archive = next();
      }
    } else {
      inputs.push_back(args[i]);
    }
  }

  if (delete_members) {
    if (!archive) return;
    ResolvedPath target = Resolve(*archive, inv, ctx);
    if (target.kind == PathKind::kBackup)
      EmitAssessment(ctx,
                     {"backup.delete", Severity::kHigh, Reversibility::kIrreversible, "a backup"},
                     target.path, "tar --delete removes members of");
    return;
  }

  // Whether the inputs survive somewhere: a real archive file keeps them.
  bool archived = false;
  if (archive && archive->text != "-") {
    PathKind kind = Resolve(*archive, inv, ctx).kind;
    archived = kind != PathKind::kNull && kind != PathKind::kUnknown;
  }
  for (const Arg& input : inputs) {
    ResolvedPath target = ResolvePath(input, directory, ctx.home());
    Assessment assessment = AssessDelete(target, /*recursive=*/true, inv, ctx.home());
    if (archived) {
      assessment.reversibility = Reversibility::kRecoverable;
      switch (target.kind) {
        case PathKind::kProject:
        case PathKind::kOther:
        case PathKind::kTemp:
        case PathKind::kDisposable:
          assessment.severity = Severity::kLow;
          break;
        default:
          if (assessment.severity > Severity::kMedium) assessment.severity = Severity::kMedium;
      }
    }
    EmitAssessment(ctx, assessment, target.path, "tar --remove-files deletes",
                   archived ? "a copy stays in the archive" : "the archive is not kept");
  }
}

void HandleTee(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  const WriteMode mode = (HasShortFlag(args, 'a') || HasLongFlag(args, "--append"))
                             ? WriteMode::kAppend
                             : WriteMode::kTruncate;
  for (const Arg& operand : Operands(args))
    EmitWrite(operand, mode, /*emptying=*/false,
              mode == WriteMode::kAppend ? "tee -a appends to" : "tee overwrites", inv, ctx);
}

// --- writes that destroy without deleting ----------------------------------

// sort -o FILE: FILE is truncated first. Sorting a file into itself keeps its
// lines; anything else replaces the file's content (sort -o f /dev/null empties it).
void HandleSort(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  std::string compress = OptionValue(args, "--compress-program");
  if (!compress.empty()) ctx.ClassifyScript(compress, inv.cwd, inv.depth + 1);
  std::string output = OptionValue(args, "-o");
  if (output.empty()) output = OptionValue(args, "--output");
  if (output.empty()) return;
  std::vector<Arg> inputs =
      Operands(args, {"-o", "--output", "-k", "--key", "-t", "--field-separator", "-T",
                      "--temporary-directory", "-S", "--buffer-size", "--parallel", "--batch-size",
                      "--files0-from", "--random-source", "--compress-program"});
  bool in_place = false, empty = !inputs.empty();
  for (const Arg& input : inputs) {
    in_place = in_place || input.text == output;
    empty = empty && input.text == "/dev/null";
  }
  if (in_place) return;  // the file's own lines, sorted
  Arg target{output, output.find('$') == std::string::npos};
  EmitWrite(target, WriteMode::kTruncate, empty, empty ? "sort -o empties" : "sort -o replaces",
            inv, ctx);
}

// What a sed script does, as far as destroying goes.
struct SedEffects {
  bool deletes_lines = false;         // d/D/c on some lines
  bool deletes_all = false;           // d (or c) on every line: the file is emptied
  bool empties_lines = false;         // s/.*// and the like
  std::vector<std::string> executed;  // e COMMAND, s///e replacements
  bool executes_unknown = false;
  std::vector<std::string> written;  // w FILE
};

SedEffects ParseSed(string_view script) {
  SedEffects out;
  std::size_t i = 0;
  const std::size_t n = script.size();
  auto skip_blank = [&] {
    while (i < n &&
           (script[i] == ' ' || script[i] == '\t' || script[i] == ';' || script[i] == '\n'))
      ++i;
  };
  auto rest_of_line = [&] {
    std::size_t start = i;
    while (i < n && script[i] != '\n') ++i;
    string_view text = script.substr(start, i - start);
    text.remove_prefix(std::min(text.size(), text.find_first_not_of(" \t")));
    return std::string(text);
  };
  // Reads a delimited part (regex or replacement) after the delimiter.
  auto delimited = [&](char delimiter) {
    std::string part;
    while (i < n && script[i] != delimiter) {
      if (script[i] == '\\' && i + 1 < n) {
        if (script[i + 1] != delimiter) part.push_back('\\');
        part.push_back(script[i + 1]);
        i += 2;
        continue;
      }
      part.push_back(script[i++]);
    }
    if (i < n) ++i;
    return part;
  };
  int guard = 0;
  while (i < n && ++guard < 4096) {
    skip_blank();
    if (i >= n) break;
    // Address: N, $, /re/, \cREc, first~step; optional ,addr2; optional !
    std::string address;
    auto read_address = [&] {
      std::size_t start = i;
      if (i < n && (std::isdigit(static_cast<unsigned char>(script[i])) || script[i] == '$')) {
        while (i < n && (std::isdigit(static_cast<unsigned char>(script[i])) || script[i] == '$' ||
                         script[i] == '~'))
          ++i;
      } else if (i < n && (script[i] == '/' || script[i] == '\\')) {
        char delimiter = script[i] == '\\' && i + 1 < n ? script[++i] : '/';
        ++i;
        delimited(delimiter);
        while (i < n && (script[i] == 'I' || script[i] == 'M')) ++i;
      }
      address.append(script.substr(start, i - start));
    };
    read_address();
    if (i < n && script[i] == ',') {
      address.push_back(',');
      ++i;
      if (i < n && (script[i] == '+' || script[i] == '~')) ++i;
      read_address();
    }
    while (i < n && script[i] == ' ') ++i;
    bool negated = false;
    if (i < n && script[i] == '!') {
      negated = true;
      ++i;
      while (i < n && script[i] == ' ') ++i;
    }
    if (i >= n) break;
    const char command = script[i++];
    const bool every_line =
        !negated && (address.empty() || address == "1,$" || address == "0,$" || address == "/^/" ||
                     address == "/.*/" || address == "/^.*$/");
    switch (command) {
      case '{':
      case '}':
      case '=':
      case 'p':
      case 'P':
      case 'n':
      case 'N':
      case 'g':
      case 'G':
      case 'h':
      case 'H':
      case 'x':
      case 'l':
      case 'z':
      case 'F':
        break;
      case 'd':
      case 'D':
        out.deletes_lines = true;
        out.deletes_all = out.deletes_all || (every_line && command == 'd');
        break;
      case 'c':
        out.deletes_lines = true;
        out.deletes_all = out.deletes_all || every_line;
        rest_of_line();
        break;
      case 'a':
      case 'i':
      case 'r':
      case 'R':
      case 'b':
      case 't':
      case 'T':
      case ':':
      case 'v':
      case 'q':
      case 'Q':
      case 'L':
        rest_of_line();
        break;
      case 'w':
      case 'W':
        out.written.push_back(rest_of_line());
        break;
      case 'e': {
        std::string text = rest_of_line();
        if (text.empty())
          out.executes_unknown = true;  // runs the pattern space
        else
          out.executed.push_back(std::move(text));
        break;
      }
      case 's':
      case 'y': {
        if (i >= n) break;
        const char delimiter = script[i++];
        std::string regex = delimited(delimiter);
        std::string replacement = delimited(delimiter);
        std::string flags;
        while (i < n && script[i] != ';' && script[i] != '\n' && script[i] != '}') {
          if (script[i] == 'w') {
            ++i;
            out.written.push_back(rest_of_line());
            break;
          }
          flags.push_back(script[i++]);
        }
        if (command == 's') {
          if (replacement.empty() && (regex == ".*" || regex == "^.*$" || regex == "^.*" ||
                                      regex == ".\\+" || regex == ".+"))
            out.empties_lines = true;
          if (flags.find('e') != std::string::npos) {
            if (replacement.find('\\') != std::string::npos ||
                replacement.find('&') != std::string::npos)
              out.executes_unknown = true;
            else
              out.executed.push_back(replacement);
          }
        }
        break;
      }
      default:
        rest_of_line();
        break;
    }
  }
  return out;
}

// sed -i edits files in place. Deleting lines of data loses them (-i with a
// backup suffix keeps a copy); e and s///e run commands.
void HandleSed(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  bool in_place = false, backup = false;
  std::vector<Arg> scripts;
  std::vector<Arg> files;
  std::vector<Arg> script_files;
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    if (!options_done && text == "--") {
      options_done = true;
      continue;
    }
    if (!options_done && text.starts_with("--")) {
      if (text == "--in-place")
        in_place = true;
      else if (text.starts_with("--in-place="))
        in_place = backup = true;
      else if (text == "--expression" && i + 1 < args.size())
        scripts.push_back(args[++i]);
      else if (text.starts_with("--expression="))
        scripts.push_back(Arg{text.substr(13), args[i].known});
      else if (text == "--file" && i + 1 < args.size())
        script_files.push_back(args[++i]);
      else if (text == "--line-length" && i + 1 < args.size())
        ++i;
      continue;
    }
    if (!options_done && text.size() > 1 && text[0] == '-') {
      for (std::size_t k = 1; k < text.size(); ++k) {
        const char c = text[k];
        if (c == 'i') {
          in_place = true;
          if (k + 1 < text.size()) backup = true;  // -i.bak
          break;
        }
        if (c == 'e' || c == 'f' || c == 'l') {
          std::string value = k + 1 < text.size()   ? text.substr(k + 1)
                              : i + 1 < args.size() ? args[++i].text
                                                    : std::string();
          if (c == 'e') scripts.push_back(Arg{value, args[i].known});
          if (c == 'f') script_files.push_back(Arg{value, args[i].known});
          break;
        }
      }
      continue;
    }
    if (scripts.empty() && script_files.empty())
      scripts.push_back(args[i]);
    else
      files.push_back(args[i]);
  }
  SedEffects effects;
  bool script_known = true;
  auto merge = [&](string_view text) {
    SedEffects one = ParseSed(text);
    effects.deletes_lines |= one.deletes_lines;
    effects.deletes_all |= one.deletes_all;
    effects.empties_lines |= one.empties_lines;
    effects.executes_unknown |= one.executes_unknown;
    for (std::string& command : one.executed) effects.executed.push_back(std::move(command));
    for (std::string& file : one.written) effects.written.push_back(std::move(file));
  };
  for (const Arg& script : scripts) {
    if (!script.known)
      script_known = false;
    else
      merge(script.text);
  }
  for (const Arg& file : script_files) {
    CodeFile content = ctx.ReadCodeFile(file, inv.cwd, inv.remote);
    if (content.state == CodeFile::State::kText)
      merge(content.text);
    else if (content.state != CodeFile::State::kMissing)
      script_known = false;
  }
  for (const std::string& command : effects.executed)
    ctx.ClassifyScript(command, inv.cwd, inv.depth + 1);
  if (effects.executes_unknown)
    ctx.Emit(
        MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                   "sed runs the text it edits as a shell command (e), which cannot be known"));
  for (const std::string& file : effects.written)
    if (file != "/dev/stdout" && file != "/dev/stderr")
      EmitWrite(Arg{file}, WriteMode::kTruncate, false, "sed w overwrites", inv, ctx);
  if (!in_place) return;
  if (!script_known) {
    for (const Arg& file : files)
      EmitWrite(file, WriteMode::kTruncate, false,
                "sed -i with a script computed at run time rewrites", inv, ctx);
    return;
  }
  const bool emptying = effects.deletes_all || effects.empties_lines;
  for (const Arg& file : files) {
    if (backup) {
      EmitWrite(file, WriteMode::kAppend, false, "sed -i (with a backup copy) edits", inv, ctx);
    } else if (emptying || effects.deletes_lines) {
      EmitWrite(file, WriteMode::kTruncate, emptying,
                emptying ? "sed -i deletes every line of" : "sed -i deletes lines of", inv, ctx);
    } else {
      // An edit keeps the data: judged like an append (a database file still
      // corrupts, a system file still counts).
      EmitWrite(file, WriteMode::kAppend, false, "sed -i edits", inv, ctx);
    }
  }
}

// install SRC... DEST: DEST is replaced (or created); -d only makes directories.
void HandleInstall(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  if (HasShortFlag(args, 'd') || HasLongFlag(args, "--directory")) return;
  std::vector<Arg> operands =
      Operands(args, {"-m", "--mode", "-o", "--owner", "-g", "--group", "-t", "--target-directory",
                      "-S", "--suffix", "--strip-program", "-Z", "--context"});
  std::string target_dir = OptionValue(args, "-t");
  if (target_dir.empty()) target_dir = OptionValue(args, "--target-directory");
  if (!target_dir.empty() || operands.size() != 2) return;  // into a directory: new names
  if (HasShortFlag(args, 'b') || HasLongFlag(args, "--backup")) return;
  const Arg& destination = operands[1];
  if (destination.text.ends_with('/')) return;
  ResolvedPath target = Resolve(destination, inv, ctx);
  if (target.kind == PathKind::kData || target.kind == PathKind::kBackup ||
      target.kind == PathKind::kDevice)
    EmitWrite(destination, WriteMode::kTruncate, false, "install replaces", inv, ctx);
}

// ln -sf TARGET LINK: an existing LINK is removed first (ln -sf /dev/null db.sqlite).
void HandleLn(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  if (!(HasShortFlag(args, 'f') || HasLongFlag(args, "--force"))) return;
  if (HasShortFlag(args, 'b') || HasLongFlag(args, "--backup")) return;
  std::vector<Arg> operands = Operands(args, {"-t", "--target-directory", "-S", "--suffix"});
  std::string target_dir = OptionValue(args, "-t");
  if (target_dir.empty()) target_dir = OptionValue(args, "--target-directory");
  std::vector<Arg> links;
  if (!target_dir.empty()) {
    for (const Arg& source : operands) {
      std::string_view base = BaseName(source.text);
      links.push_back(Arg{target_dir + "/" + std::string(base), source.known});
    }
  } else if (operands.size() == 2 && !operands[1].text.ends_with('/')) {
    links.push_back(operands[1]);
  } else {
    return;  // LINK in a directory: a new entry named after the target
  }
  // -n (--no-dereference) replaces a link to a directory: a release switch
  // (ln -sfn releases/42 current), no data behind it is lost.
  if (HasShortFlag(args, 'n') || HasLongFlag(args, "--no-dereference")) return;
  for (const Arg& link : links) {
    ResolvedPath target = Resolve(link, inv, ctx);
    if (target.kind == PathKind::kNull) continue;
    struct stat st;
    if (!target.path.empty() && target.path[0] == '/' && ::lstat(target.path.c_str(), &st) == 0 &&
        S_ISLNK(st.st_mode))
      continue;  // an existing link is replaced: nothing it pointed to is lost
    // Replacing a file by a link deletes its data; a link to /dev/null
    // also swallows everything written there later.
    EmitAssessment(ctx, AssessDelete(target, /*recursive=*/false, inv, ctx.home()), target.path,
                   "ln -f replaces");
  }
}

// fallocate -p/--punch-hole, -c/--collapse-range, -z/--zero-range free or
// zero a file's blocks: the data in the range is gone.
void HandleFallocate(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  const bool destroys = HasShortFlag(args, 'p') || HasShortFlag(args, 'c') ||
                        HasShortFlag(args, 'z') || HasLongFlag(args, "--punch-hole") ||
                        HasLongFlag(args, "--collapse-range") || HasLongFlag(args, "--zero-range");
  if (!destroys) return;
  for (const Arg& operand : Operands(args, {"-o", "--offset", "-l", "--length"}))
    EmitWrite(operand, WriteMode::kTruncate, /*emptying=*/true, "fallocate frees the data of", inv,
              ctx);
}

// rimraf PATH...: Node's rm -rf.
void HandleRimraf(const Invocation& inv, Context& ctx) {
  for (const Arg& operand : Operands(ArgsOf(inv), {"--glob", "--preserve-root"}))
    EmitDelete(operand, /*recursive=*/true, "rimraf (recursive delete) of", inv, ctx);
}

// Recursive permission or owner changes over the system, a home or data can
// lock services and users out (chmod -R 000 /, chown -R x /usr).
void HandlePermissions(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  const bool recursive = HasShortFlag(args, 'R') || HasLongFlag(args, "--recursive");
  const bool has_reference = HasLongFlag(args, "--reference");
  bool skipped_spec = has_reference;  // the mode or owner comes first
  bool options_done = false;
  for (const Arg& arg : args) {
    const std::string& text = arg.text;
    if (!options_done && text == "--") {
      options_done = true;
      continue;
    }
    if (!options_done && text.size() > 1 && text[0] == '-') {
      // chmod -w FILE: a mode that looks like an option
      if (!skipped_spec && inv.name() == "chmod" &&
          text.find_first_not_of("-rwxXstugoa,=+") == std::string::npos &&
          text.find_first_of("rwxXst") != std::string::npos && text != "-R") {
        skipped_spec = true;
      }
      continue;
    }
    if (!skipped_spec) {
      skipped_spec = true;
      continue;
    }
    ResolvedPath target = Resolve(arg, inv, ctx);
    Severity severity = Severity::kNone;
    switch (target.kind) {
      case PathKind::kRoot:
        severity = recursive ? Severity::kCritical : Severity::kHigh;
        break;
      case PathKind::kSystem:
      case PathKind::kHome:
        severity = recursive ? Severity::kHigh : Severity::kNone;
        break;
      case PathKind::kData:
      case PathKind::kBackup:
        severity = recursive ? Severity::kMedium : Severity::kNone;
        break;
      default:
        break;
    }
    if (severity == Severity::kNone) continue;
    std::string verb(inv.name());
    verb += recursive ? " -R over" : " of";
    EmitAssessment(ctx,
                   {"fs.permissions", severity, Reversibility::kRecoverable,
                    "permissions the system or its services rely on"},
                   target.path, verb);
  }
}

constexpr PackEntry kFsPack[] = {
    {"rm", HandleRm},
    {"unlink", HandleUnlink},
    {"rmdir", HandleRmdir},
    {"shred", HandleShred},
    {"truncate", HandleTruncate},
    {"mv", HandleMv},
    {"cp", HandleCp},
    {"rsync", HandleRsync},
    {"tar", HandleTar},
    {"gtar", HandleTar},
    {"tee", HandleTee},
    {"sort", HandleSort},
    {"sed", HandleSed},
    {"gsed", HandleSed},
    {"install", HandleInstall},
    {"ln", HandleLn},
    {"fallocate", HandleFallocate},
    {"rimraf", HandleRimraf},
    {"chmod", HandlePermissions},
    {"chown", HandlePermissions},
    {"chgrp", HandlePermissions},
};

}  // namespace

std::span<const PackEntry> FsPack() {
  return kFsPack;
}

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
