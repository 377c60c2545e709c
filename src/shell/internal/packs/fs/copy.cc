// Commands that copy, move or archive onto a target: mv, cp, rsync (--delete,
// --remove-source-files), tar (--remove-files, carried commands), tee.

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

// Ordinary data (a project, temp or disposable files, anything else):
// deleting it once a copy exists elsewhere loses little. Not homes, roots,
// backups and the like.
bool IsOrdinaryData(PathKind kind) {
  return kind == PathKind::kProject || kind == PathKind::kOther || kind == PathKind::kTemp ||
         kind == PathKind::kDisposable;
}

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
    if (IsOrdinaryData(target.kind))
      assessment.severity = remote ? Severity::kMedium : Severity::kLow;
    else if (assessment.severity < Severity::kMedium)
      assessment.severity = Severity::kMedium;
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
      if (IsOrdinaryData(target.kind))
        assessment.severity = Severity::kLow;
      else if (assessment.severity > Severity::kMedium)
        assessment.severity = Severity::kMedium;
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

}  // namespace dualkey::shell::fs
