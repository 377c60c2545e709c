// Backup tools: restic, borg, kopia, rclone, pgbackrest, wal-g, barman,
// velero, tarsnap, duplicity, rdiff-backup, timeshift, snapper, tmutil.
//
// Deleting backups is the last line an incident crosses, so every delete,
// forget, prune or expire is backup.delete (held by the default policy)
// unless the tool is told to only show what it would do (--dry-run, -n, or
// tools like wal-g and duplicity that need --confirm/--force to act).
// Classes starting with "backup." other than backup.create/backup.read are
// held, so harmless operations use other names (read.only, repo.*).
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/packs.h"
#include "shell/internal/packs/shared.h"
#include "shell/internal/paths.h"

namespace dualkey::shell {
namespace {

using shared::ArgsOf;
using shared::Emit;
using shared::EmitRead;
using shared::OpaqueIfUnknown;

void EmitDelete(Context& ctx, std::vector<std::string> targets, Severity severity,
                std::string reason) {
  Emit(ctx, "backup.delete", std::move(targets), Reversibility::kIrreversible, severity,
       std::move(reason));
}

void EmitCreate(Context& ctx, std::vector<std::string> targets, std::string reason) {
  Emit(ctx, "backup.create", std::move(targets), Reversibility::kReversible, Severity::kNone,
       std::move(reason));
}

// OperandsFrom as strings of their own.
std::vector<std::string> OperandStrings(std::span<const Arg> args, std::size_t from,
                                        std::span<const std::string_view> with_value) {
  const std::vector<std::string_view> views = OperandsFrom(args, from, with_value);
  return {views.begin(), views.end()};
}

std::string ValueOf(std::span<const Arg> args, std::string_view short_name,
                    std::string_view long_name) {
  std::string value = short_name.empty() ? std::string() : OptionValue(args, short_name);
  if (value.empty() && !long_name.empty()) value = OptionValue(args, long_name);
  return value;
}

bool DryRun(std::span<const Arg> args, bool short_n = true) {
  return HasLongFlag(args, "--dry-run") || (short_n && HasShortFlag(args, 'n'));
}

// ================================================================ restic

constexpr std::string_view kResticValues[] = {"-r",
                                              "--repo",
                                              "--repository-file",
                                              "-p",
                                              "--password-file",
                                              "--password-command",
                                              "--cache-dir",
                                              "-o",
                                              "--option",
                                              "--limit-upload",
                                              "--limit-download",
                                              "--tls-client-cert",
                                              "--cacert",
                                              "--key-hint",
                                              "--pack-size",
                                              "--compression",
                                              "--keep-last",
                                              "--keep-hourly",
                                              "--keep-daily",
                                              "--keep-weekly",
                                              "--keep-monthly",
                                              "--keep-yearly",
                                              "--keep-within",
                                              "--keep-tag",
                                              "--host",
                                              "--tag",
                                              "--path",
                                              "--group-by",
                                              "--max-unused",
                                              "--max-repack-size",
                                              "-t",
                                              "--target",
                                              "--include",
                                              "--exclude",
                                              "-e",
                                              "-i",
                                              "--files-from",
                                              "--stdin-filename",
                                              "--exclude-file",
                                              "--iexclude",
                                              "--iinclude",
                                              "--time",
                                              "--parent",
                                              "--snapshot-id"};

void HandleRestic(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  std::size_t verb = NextOperand(args, 0, kResticValues);
  if (verb >= args.size()) return;
  std::string_view command = args[verb].text;
  if (OpaqueIfUnknown(args, command, inv.name(), ctx)) return;
  std::span<const Arg> rest = args.subspan(verb + 1);
  std::string repo = ValueOf(args, "-r", "--repo");
  std::vector<std::string> targets;
  if (!repo.empty()) targets.push_back(repo);
  for (std::string& operand : OperandStrings(rest, 0, kResticValues))
    targets.push_back(std::move(operand));

  if (command == "forget" || command == "prune") {
    if (DryRun(rest)) return EmitRead(ctx, targets, "restic --dry-run only lists what would go");
    const bool prune = command == "prune" || HasLongFlag(rest, "--prune");
    EmitDelete(ctx, targets, Severity::kHigh,
               prune ? "restic " + std::string(command) + " deletes snapshots' data for good"
                     : "restic forget removes snapshots from the repository");
    return;
  }
  if (command == "key" && !rest.empty()) {
    std::size_t sub = NextOperand(rest, 0, kResticValues);
    if (sub < rest.size() && (rest[sub].text == "remove" || rest[sub].text == "rm")) {
      EmitDelete(ctx, targets, Severity::kMedium,
                 "restic key remove deletes a key; losing the last one locks the repository");
      return;
    }
  }
  if ((command == "rewrite" && HasLongFlag(rest, "--forget")) ||
      (command == "repair" && HasLongFlag(rest, "--forget"))) {
    if (DryRun(rest)) return EmitRead(ctx, targets, "dry run");
    EmitDelete(ctx, targets, Severity::kMedium,
               "restic " + std::string(command) + " --forget replaces original snapshots");
    return;
  }
  if (command == "backup" || command == "init" || command == "copy" || command == "recover")
    return EmitCreate(ctx, targets, "restic " + std::string(command) + " adds to a repository");
  if (command == "restore") {
    std::string target = ValueOf(rest, "-t", "--target");
    ResolvedPath path = ResolvePath(Arg{target}, inv.cwd, ctx.home());
    const bool risky = path.kind == PathKind::kRoot || path.kind == PathKind::kSystem ||
                       path.kind == PathKind::kHome || path.kind == PathKind::kData;
    const bool deletes = HasLongFlag(rest, "--delete");
    if (risky || deletes) {
      Emit(ctx, "fs.overwrite", {path.path.empty() ? target : path.path},
           Reversibility::kIrreversible, Severity::kHigh,
           "restic restore overwrites live files" +
               std::string(deletes ? " and deletes those not in the snapshot" : ""));
      return;
    }
    Emit(ctx, "backup.read", {target}, Reversibility::kReversible, Severity::kLow,
         "restic restore writes a snapshot's files into " + target);
    return;
  }
  static constexpr std::string_view kReads[] = {
      "snapshots", "ls",          "check",    "stats",   "find",     "diff",    "cat",    "dump",
      "mount",     "version",     "list",     "help",    "generate", "cache",   "unlock", "tag",
      "migrate",   "self-update", "features", "options", "key",      "rewrite", "repair"};
  if (InList(kReads, command))
    return EmitRead(ctx, targets, "restic " + std::string(command) + " does not delete backups");
  // An unknown subcommand of a backup tool: fail closed.
  Emit(ctx, "backup.unknown", targets, Reversibility::kUnknown, Severity::kMedium,
       "restic " + std::string(command) + " is not a known subcommand");
}

// ================================================================== borg

constexpr std::string_view kBorgValues[] = {"--remote-path",
                                            "--rsh",
                                            "--lock-wait",
                                            "--umask",
                                            "--upload-ratelimit",
                                            "--upload-buffer",
                                            "-r",
                                            "--repo",
                                            "--keep-within",
                                            "--keep-last",
                                            "--keep-secondly",
                                            "--keep-minutely",
                                            "-H",
                                            "--keep-hourly",
                                            "-d",
                                            "--keep-daily",
                                            "-w",
                                            "--keep-weekly",
                                            "-m",
                                            "--keep-monthly",
                                            "-y",
                                            "--keep-yearly",
                                            "-a",
                                            "--match-archives",
                                            "--glob-archives",
                                            "-P",
                                            "--prefix",
                                            "--sort-by",
                                            "--first",
                                            "--last",
                                            "-e",
                                            "--exclude",
                                            "--exclude-from",
                                            "--pattern",
                                            "--patterns-from",
                                            "-C",
                                            "--compression",
                                            "--comment",
                                            "--timestamp",
                                            "--chunker-params",
                                            "--format",
                                            "--checkpoint-interval",
                                            "--encryption",
                                            "--threshold"};

void HandleBorg(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  std::size_t verb = NextOperand(args, 0, kBorgValues);
  if (verb >= args.size()) return;
  std::string_view command = args[verb].text;
  if (OpaqueIfUnknown(args, command, inv.name(), ctx)) return;
  std::span<const Arg> rest = args.subspan(verb + 1);
  std::vector<std::string> targets = OperandStrings(rest, 0, kBorgValues);
  std::string repo = ValueOf(args, "-r", "--repo");
  if (!repo.empty()) targets.insert(targets.begin(), repo);
  const bool dry = DryRun(rest);
  if (command == "delete" || command == "rdelete" || command == "repo-delete") {
    if (dry) return EmitRead(ctx, targets, "borg delete --dry-run only lists");
    // `borg delete REPO` (no ::archive, no -a filter) deletes the whole repository.
    bool whole = command != "delete";
    if (command == "delete" && ValueOf(rest, "-a", "--match-archives").empty() &&
        ValueOf(rest, "", "--glob-archives").empty() && ValueOf(rest, "-P", "--prefix").empty()) {
      whole = std::none_of(targets.begin(), targets.end(), [](const std::string& target) {
        return target.find("::") != std::string::npos && !target.ends_with("::");
      });
    }
    EmitDelete(ctx, targets, whole ? Severity::kCritical : Severity::kHigh,
               whole ? "borg delete removes the whole backup repository"
                     : "borg delete removes backup archives");
    return;
  }
  if (command == "prune") {
    if (dry) return EmitRead(ctx, targets, "borg prune --dry-run only lists");
    EmitDelete(ctx, targets, Severity::kHigh, "borg prune deletes archives outside the retention");
    return;
  }
  if (command == "recreate") {
    if (dry) return EmitRead(ctx, targets, "borg recreate --dry-run");
    EmitDelete(ctx, targets, Severity::kMedium,
               "borg recreate rewrites archives and can drop their files");
    return;
  }
  if (command == "check" && HasLongFlag(rest, "--repair")) {
    EmitDelete(ctx, targets, Severity::kMedium,
               "borg check --repair may delete damaged archive data");
    return;
  }
  if (command == "create" || command == "init" || command == "rcreate" ||
      command == "repo-create" || command == "transfer" || command == "import-tar")
    return EmitCreate(ctx, targets, "borg " + std::string(command) + " adds to a repository");
  if (command == "compact" || command == "rcompact" || command == "repo-compact" ||
      command == "break-lock" || command == "rename" || command == "key" || command == "upgrade" ||
      command == "config" || command == "with-lock") {
    Emit(ctx, "repo.maintain", targets, Reversibility::kRecoverable, Severity::kLow,
         "borg " + std::string(command) + " maintains the repository; no archive is deleted");
    return;
  }
  if (command == "extract") {
    Emit(ctx, "backup.read", targets, Reversibility::kReversible, Severity::kLow,
         "borg extract writes an archive's files into the current directory");
    return;
  }
  EmitRead(ctx, targets, "borg " + std::string(command) + " only reads the repository");
}

// ================================================================= kopia

void HandleKopia(const Invocation& inv, Context& ctx) {
  static constexpr std::string_view kValues[] = {
      "--config-file",    "--password",       "-p", "--log-dir", "--log-level",
      "--file-log-level", "--cache-directory"};
  std::span<const Arg> args = ArgsOf(inv);
  std::vector<std::string> words = OperandStrings(args, 0, kValues);
  if (words.empty()) return;
  if (OpaqueIfUnknown(args, words[0], "kopia", ctx)) return;
  if (words.size() > 1 && OpaqueIfUnknown(args, words[1], "kopia", ctx)) return;
  auto word = [&](std::size_t k) -> std::string_view {
    return k < words.size() ? std::string_view(words[k]) : std::string_view();
  };
  std::vector<std::string> targets(words.begin() + std::min<std::ptrdiff_t>(2, words.size()),
                                   words.end());
  const bool confirmed = HasLongFlag(args, "--delete");
  const bool dry = HasLongFlag(args, "--dry-run");
  // `snapshot delete`/`snapshot expire` only list until --delete is given.
  if ((word(0) == "snapshot" || word(0) == "snap") &&
      (word(1) == "delete" || word(1) == "rm" || word(1) == "expire")) {
    if (!confirmed || dry)
      return EmitRead(ctx, targets,
                      "kopia snapshot " + std::string(word(1)) + " without --delete only lists");
    EmitDelete(ctx, targets, Severity::kHigh, "kopia snapshot delete --delete removes snapshots");
    return;
  }
  if ((word(0) == "content" || word(0) == "blob" || word(0) == "manifest" || word(0) == "index") &&
      (word(1) == "delete" || word(1) == "rm" || word(1) == "gc")) {
    if (word(1) == "gc" && !confirmed) return EmitRead(ctx, targets, "kopia blob gc dry run");
    EmitDelete(ctx, targets, Severity::kHigh,
               "kopia " + std::string(word(0)) + " " + std::string(word(1)) +
                   " deletes repository data directly");
    return;
  }
  if (word(0) == "policy" && word(1) == "set") {
    for (const Arg& arg : args) {
      std::string_view text = arg.text;
      if (text.starts_with("--keep-") && text.ends_with("=0")) {
        EmitDelete(ctx, targets, Severity::kHigh,
                   "kopia policy set with a retention of 0 expires existing snapshots");
        return;
      }
    }
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i].text.starts_with("--keep-") && args[i + 1].text == "0") {
        EmitDelete(ctx, targets, Severity::kHigh,
                   "kopia policy set with a retention of 0 expires existing snapshots");
        return;
      }
    }
  }
  if ((word(0) == "snapshot" && word(1) == "create") ||
      (word(0) == "repository" && word(1) == "create"))
    return EmitCreate(ctx, targets, "kopia creates snapshots or a repository");
  if (word(0) == "maintenance" && word(1) == "run") {
    Emit(ctx, "repo.maintain", targets, Reversibility::kRecoverable, Severity::kLow,
         "kopia maintenance frees space of snapshots already deleted");
    return;
  }
  EmitRead(ctx, targets, "kopia " + std::string(word(0)) + " does not delete snapshots");
}

// ================================================================ rclone

constexpr std::string_view kRcloneValues[] = {
    "--config",       "--backup-dir",  "--suffix",       "--include",      "--exclude",
    "--filter",       "--filter-from", "--include-from", "--exclude-from", "--files-from",
    "--min-age",      "--max-age",     "--min-size",     "--max-size",     "--transfers",
    "--checkers",     "--bwlimit",     "--log-file",     "--log-level",    "--max-delete",
    "--max-transfer", "--order-by",    "--compare-dest", "--copy-dest",    "--retries",
    "--timeout",      "--contimeout",  "--user-agent",   "--stats",        "-c"};

bool IsRemote(std::string_view path) {
  auto colon = path.find(':');
  auto slash = path.find('/');
  return colon != std::string_view::npos && colon > 0 &&
         (slash == std::string_view::npos || colon < slash);
}

bool NamesBackup(std::string_view text) {
  return text.find("backup") != std::string_view::npos ||
         text.find("Backup") != std::string_view::npos ||
         text.find("BACKUP") != std::string_view::npos ||
         text.find("snapshot") != std::string_view::npos;
}

void HandleRclone(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  std::size_t verb = NextOperand(args, 0, kRcloneValues);
  if (verb >= args.size()) return;
  std::string_view command = args[verb].text;
  if (OpaqueIfUnknown(args, command, inv.name(), ctx)) return;
  std::span<const Arg> rest = args.subspan(verb + 1);
  std::vector<std::string> paths = OperandStrings(rest, 0, kRcloneValues);
  const bool dry = HasLongFlag(args, "--dry-run") || HasShortFlag(args, 'n');
  auto class_for = [&](std::string_view path) {
    return NamesBackup(path) ? std::string("backup.delete")
           : IsRemote(path)  ? std::string("cloud.delete")
                             : std::string("fs.delete");
  };
  auto local_severity = [&](std::string_view path, Severity otherwise) {
    if (IsRemote(path)) return otherwise;
    ResolvedPath resolved = ResolvePath(Arg{std::string(path)}, inv.cwd, ctx.home());
    if (resolved.kind == PathKind::kDisposable || resolved.kind == PathKind::kTemp)
      return Severity::kLow;
    return otherwise;
  };
  if (command == "purge" || command == "delete" || command == "deletefile" ||
      command == "cleanup" || command == "dedupe") {
    if (dry) return EmitRead(ctx, paths, "rclone --dry-run only lists what would go");
    std::string target = paths.empty() ? std::string() : paths.front();
    const Severity severity = command == "deletefile"                       ? Severity::kMedium
                              : command == "cleanup" || command == "dedupe" ? Severity::kMedium
                                                                            : Severity::kHigh;
    Emit(ctx, class_for(target), paths, Reversibility::kIrreversible,
         local_severity(target, severity),
         "rclone " + std::string(command) + " deletes files at " + target);
    return;
  }
  if (command == "rmdir" || command == "rmdirs") {
    Emit(ctx, "fs.delete.empty", paths, Reversibility::kReversible, Severity::kLow,
         "rclone " + std::string(command) + " removes empty directories only");
    return;
  }
  if (command == "sync" || command == "bisync") {
    if (dry) return EmitRead(ctx, paths, "rclone sync --dry-run only lists what would change");
    std::string dest = paths.empty() ? std::string() : paths.back();
    // --backup-dir moves what sync would delete instead of deleting it.
    if (HasLongFlag(args, "--backup-dir")) {
      Emit(ctx, "fs.sync", paths, Reversibility::kRecoverable, Severity::kLow,
           "rclone sync moves replaced files into --backup-dir");
      return;
    }
    Emit(ctx, class_for(dest), {dest}, Reversibility::kIrreversible,
         local_severity(dest, Severity::kHigh),
         "rclone " + std::string(command) + " deletes whatever at " + dest + " the source lacks");
    return;
  }
  if (command == "move" || command == "moveto") {
    Emit(ctx, "fs.move", paths, Reversibility::kRecoverable, Severity::kLow,
         "rclone " + std::string(command) + " moves files; they still exist at the destination");
    return;
  }
  if (command == "copy" || command == "copyto" || command == "copyurl" || command == "mkdir" ||
      command == "touch" || command == "rcat")
    return Emit(ctx, "fs.write", paths, Reversibility::kRecoverable, Severity::kLow,
                "rclone " + std::string(command) + " adds files without deleting");
  EmitRead(ctx, paths, "rclone " + std::string(command) + " does not delete files");
}

// ============================================== database backup managers

void HandlePgbackrest(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  static constexpr std::string_view kValues[] = {
      "--stanza", "--config", "--repo", "--set", "--type", "--log-level-console", "--pg1-path"};
  std::vector<std::string> words = OperandStrings(args, 0, kValues);
  if (words.empty()) return;
  std::string_view command = words[0];
  if (OpaqueIfUnknown(args, command, inv.name(), ctx)) return;
  std::vector<std::string> targets;
  if (std::string stanza = ValueOf(args, "", "--stanza"); !stanza.empty())
    targets.push_back(stanza);
  if (command == "stanza-delete" || command == "repo-rm") {
    EmitDelete(ctx, targets, Severity::kCritical,
               "pgbackrest " + std::string(command) + " deletes the stanza's backups and WAL");
    return;
  }
  if (command == "expire") {
    if (HasLongFlag(args, "--dry-run"))
      return EmitRead(ctx, targets, "pgbackrest expire --dry-run only lists");
    EmitDelete(ctx, targets, Severity::kHigh, "pgbackrest expire deletes old backups");
    return;
  }
  if (command == "restore") {
    const bool overwrite = HasLongFlag(args, "--delta") || HasLongFlag(args, "--force");
    Emit(ctx, overwrite ? "db.overwrite" : "db.restore", targets,
         overwrite ? Reversibility::kIrreversible : Reversibility::kReversible,
         overwrite ? Severity::kHigh : Severity::kLow,
         overwrite ? "pgbackrest restore --delta/--force overwrites the live data directory"
                   : "pgbackrest restore into an empty data directory");
    return;
  }
  if (command == "backup" || command == "stanza-create" || command == "stanza-upgrade" ||
      command == "archive-push")
    return EmitCreate(ctx, targets, "pgbackrest " + std::string(command));
  EmitRead(ctx, targets, "pgbackrest " + std::string(command) + " does not delete backups");
}

void HandleWalg(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  static constexpr std::string_view kValues[] = {"--config", "--turbo", "--target-user-data"};
  std::vector<std::string> words = OperandStrings(args, 0, kValues);
  if (words.empty()) return;
  std::string_view command = words[0];
  if (OpaqueIfUnknown(args, command, inv.name(), ctx)) return;
  std::vector<std::string> targets(words.begin() + 1, words.end());
  if (command == "delete" || (command == "st" && words.size() > 1 && words[1] == "rm")) {
    // wal-g delete only lists what it would delete until --confirm.
    if (command == "delete" && !HasLongFlag(args, "--confirm"))
      return EmitRead(ctx, targets, "wal-g delete without --confirm only lists");
    EmitDelete(ctx, targets, Severity::kHigh, "wal-g deletes backups or WAL from storage");
    return;
  }
  if (command.ends_with("-push")) return EmitCreate(ctx, targets, "wal-g pushes a backup");
  if (command.ends_with("-fetch")) {
    Emit(ctx, "backup.read", targets, Reversibility::kReversible, Severity::kLow,
         "wal-g fetches a backup into a directory");
    return;
  }
  EmitRead(ctx, targets, "wal-g " + std::string(command) + " does not delete backups");
}

void HandleBarman(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  static constexpr std::string_view kValues[] = {"-c", "--config", "--target-time",
                                                 "--remote-ssh-command", "--target-name"};
  std::vector<std::string> words = OperandStrings(args, 0, kValues);
  if (words.empty()) return;
  std::string_view command = words[0];
  if (OpaqueIfUnknown(args, command, inv.name(), ctx)) return;
  std::vector<std::string> targets(words.begin() + 1, words.end());
  if (command == "delete") {
    EmitDelete(ctx, targets, Severity::kHigh, "barman delete removes a base backup");
    return;
  }
  if (command == "keep" && HasLongFlag(args, "--release")) {
    EmitDelete(ctx, targets, Severity::kMedium,
               "barman keep --release lets retention delete a kept backup");
    return;
  }
  if (command == "backup" || command == "switch-wal" || command == "cron")
    return EmitCreate(ctx, targets, "barman " + std::string(command));
  if (command == "recover" || command == "restore") {
    Emit(ctx, "db.restore", targets, Reversibility::kRecoverable, Severity::kMedium,
         "barman recover writes a backup over the destination directory");
    return;
  }
  EmitRead(ctx, targets, "barman " + std::string(command) + " does not delete backups");
}

void HandleVelero(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  static constexpr std::string_view kValues[] = {
      "-n",         "--namespace", "--kubeconfig",  "--kubecontext",        "-o",   "--output",
      "--selector", "-l",          "--from-backup", "--include-namespaces", "--ttl"};
  std::vector<std::string> words = OperandStrings(args, 0, kValues);
  if (words.empty()) return;
  // Both `velero backup delete X` and `velero delete backup X`.
  if (OpaqueIfUnknown(args, words[0], "velero", ctx)) return;
  if (words.size() > 1 && OpaqueIfUnknown(args, words[1], "velero", ctx)) return;
  std::string_view noun = words[0];
  std::string_view verb = words.size() > 1 ? std::string_view(words[1]) : std::string_view();
  if (noun == "delete") std::swap(noun, verb);
  std::vector<std::string> targets(words.begin() + std::min<std::ptrdiff_t>(2, words.size()),
                                   words.end());
  if (verb == "delete") {
    if (noun == "backup" || noun == "backups" || noun == "backup-location" ||
        noun == "snapshot-location" || noun == "schedule") {
      EmitDelete(ctx, targets, noun == "schedule" ? Severity::kMedium : Severity::kHigh,
                 "velero " + std::string(noun) + " delete removes backups or what makes them");
      return;
    }
    Emit(ctx, "k8s.delete", targets, Reversibility::kRecoverable, Severity::kLow,
         "velero " + std::string(noun) + " delete removes a record, not backup data");
    return;
  }
  if (noun == "uninstall") {
    EmitDelete(ctx, {}, Severity::kHigh, "velero uninstall removes velero and its backup records");
    return;
  }
  if (noun == "backup" && verb == "create") return EmitCreate(ctx, targets, "velero backup create");
  if (noun == "restore" && verb == "create") {
    Emit(ctx, "k8s.restore", targets, Reversibility::kRecoverable, Severity::kLow,
         "velero restore recreates objects from a backup");
    return;
  }
  EmitRead(ctx, targets, "velero " + std::string(words[0]) + " does not delete backups");
}

void HandleTarsnap(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  std::vector<std::string> targets;
  std::string archive = OptionValue(args, "-f");
  if (!archive.empty()) targets.push_back(archive);
  if (HasLongFlag(args, "--nuke")) {
    EmitDelete(ctx, targets, Severity::kCritical, "tarsnap --nuke deletes every archive");
    return;
  }
  // -d may be clustered with others (-df is not valid, but -d -f is).
  for (const Arg& arg : args) {
    if (arg.text == "-d") {
      if (HasLongFlag(args, "--dry-run")) return EmitRead(ctx, targets, "dry run");
      EmitDelete(ctx, targets, Severity::kHigh, "tarsnap -d deletes archives");
      return;
    }
  }
  if (HasShortFlag(args, 'c')) return EmitCreate(ctx, targets, "tarsnap -c creates an archive");
  EmitRead(ctx, targets, "tarsnap lists or extracts archives");
}

void HandleDuplicity(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  std::vector<Arg> operands = Operands(args, {"--name", "--archive-dir", "--encrypt-key",
                                              "--sign-key", "--gpg-options", "-t", "--time"});
  if (operands.empty()) return;
  std::string_view command = operands[0].text;
  std::vector<std::string> targets;
  for (const Arg& arg : operands) targets.push_back(arg.text);
  if (command.starts_with("remove-")) {
    // Without --force duplicity only lists what it would remove.
    if (!HasLongFlag(args, "--force"))
      return EmitRead(ctx, targets, "duplicity " + std::string(command) + " without --force");
    EmitDelete(ctx, targets, Severity::kHigh,
               "duplicity " + std::string(command) + " --force deletes backup sets");
    return;
  }
  if (command == "full" || command == "incremental" || command == "incr" || command == "backup")
    return EmitCreate(ctx, targets, "duplicity makes a backup");
  if (command == "cleanup" && HasLongFlag(args, "--force")) {
    Emit(ctx, "repo.maintain", targets, Reversibility::kRecoverable, Severity::kLow,
         "duplicity cleanup removes leftovers of failed sessions");
    return;
  }
  EmitRead(ctx, targets, "duplicity " + std::string(command));
}

void HandleRdiffBackup(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  bool removes = false;
  for (const Arg& arg : args)
    if (arg.text.starts_with("--remove-older-than") || arg.text == "remove") removes = true;
  std::vector<std::string> targets;
  for (const Arg& arg : Operands(args, {"--remove-older-than"})) targets.push_back(arg.text);
  if (removes) {
    EmitDelete(ctx, targets, Severity::kHigh, "rdiff-backup removes old increments");
    return;
  }
  EmitCreate(ctx, targets, "rdiff-backup makes or reads a backup");
}

// System snapshot tools: timeshift, snapper, tmutil.
void HandleSnapshotTool(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  std::string_view name = inv.name();
  bool deletes = false;
  for (const Arg& arg : args) {
    std::string_view text = arg.text;
    if (name == "timeshift" && (text == "--delete" || text == "--delete-all")) deletes = true;
    if (name == "snapper" && (text == "delete" || text == "rm" || text == "remove")) deletes = true;
    if (name == "tmutil" && (text == "delete" || text == "deletelocalsnapshots" ||
                             text == "thinlocalsnapshots" || text == "disable"))
      deletes = true;
  }
  std::vector<std::string> targets;
  for (const Arg& arg : Operands(args)) targets.push_back(arg.text);
  if (deletes) {
    EmitDelete(ctx, targets, Severity::kHigh,
               std::string(name) + " deletes system snapshots or turns backups off");
    return;
  }
  EmitRead(ctx, targets, std::string(name) + " does not delete snapshots");
}

// crontab -r (and -ir) removes every scheduled job of the user at once,
// the nightly backup among them; there is no undo. Listing and editing pass.
void HandleCrontab(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  if (HasShortFlag(args, 'r')) {
    Emit(ctx, "schedule.delete", {"crontab"}, Reversibility::kIrreversible, Severity::kMedium,
         "crontab -r removes every scheduled job (backups included), with no undo");
    return;
  }
  // `crontab FILE` replaces the whole table with FILE's contents.
  for (const Arg& arg : args) {
    if (arg.text.empty() || arg.text[0] == '-') continue;
    Emit(ctx, "schedule.replace", {"crontab"}, Reversibility::kIrreversible, Severity::kLow,
         "crontab FILE replaces every scheduled job with the file's");
    return;
  }
}

constexpr PackEntry kBackupPack[] = {
    {"crontab", HandleCrontab},
    {"restic", HandleRestic},
    {"borg", HandleBorg},
    {"borg2", HandleBorg},
    {"borgmatic", HandleBorg},
    {"kopia", HandleKopia},
    {"rclone", HandleRclone},
    {"pgbackrest", HandlePgbackrest},
    {"wal-g", HandleWalg},
    {"wal-e", HandleWalg},
    {"barman", HandleBarman},
    {"velero", HandleVelero},
    {"tarsnap", HandleTarsnap},
    {"duplicity", HandleDuplicity},
    {"rdiff-backup", HandleRdiffBackup},
    {"timeshift", HandleSnapshotTool},
    {"snapper", HandleSnapshotTool},
    {"tmutil", HandleSnapshotTool},
};

}  // namespace

std::span<const PackEntry> BackupPack() {
  return kBackupPack;
}

}  // namespace dualkey::shell
