// Other writes that destroy without deleting: sort -o, install, ln -f,
// fallocate --punch-hole, and recursive chmod/chown.

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

}  // namespace dualkey::shell::fs
