// Commands that delete or empty files: rm, unlink, rmdir, shred, truncate,
// rimraf.

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

// rimraf PATH...: Node's rm -rf.
void HandleRimraf(const Invocation& inv, Context& ctx) {
  for (const Arg& operand : Operands(ArgsOf(inv), {"--glob", "--preserve-root"}))
    EmitDelete(operand, /*recursive=*/true, "rimraf (recursive delete) of", inv, ctx);
}

}  // namespace dualkey::shell::fs
