// The disk pack: tools that overwrite, format, repartition or destroy block
// devices, volumes and pools. Any of them aimed at a device (or at a target
// only known at run time) is critical; read and dry-run modes are not
// flagged; pointed at an image file inside a project they are low.
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/packs.h"
#include "shell/internal/packs/shared.h"
#include "shell/internal/paths.h"

namespace dualkey::shell {
namespace {

using std::string_view;

using base::IEquals;
using shared::ArgsOf;

void Emit(Context& ctx, string_view op_class, std::vector<std::string> targets, Severity severity,
          std::string reason) {
  ctx.Emit(MakeAction(
      std::string(op_class), std::move(targets),
      severity >= Severity::kHigh ? Reversibility::kIrreversible : Reversibility::kRecoverable,
      severity, std::move(reason)));
}

void EmitRead(Context& ctx, std::vector<std::string> targets, std::string reason) {
  ctx.Emit(MakeAction("read.only", std::move(targets), Reversibility::kReversible, Severity::kNone,
                      std::move(reason)));
}

// Where a disk tool points: devices (and unknowns, which may be devices) or
// only regular files such as disk images.
struct DiskTargets {
  std::vector<std::string> devices;  // kDevice or kUnknown
  std::vector<std::string> files;    // anything else that is not /dev/null
};

// Words that are not options, resolved. Option values mixed in ("-L label")
// resolve to ordinary paths and so never count as devices.
DiskTargets CollectTargets(std::span<const Arg> args, const Invocation& inv, Context& ctx) {
  DiskTargets out;
  bool options_done = false;
  for (const Arg& arg : args) {
    if (!options_done && arg.text == "--") {
      options_done = true;
      continue;
    }
    if (!options_done && arg.known && arg.text.size() > 1 && arg.text[0] == '-') continue;
    if (arg.known && arg.text.empty()) continue;
    ResolvedPath path = ResolvePath(arg, inv.cwd, ctx.home());
    if (path.kind == PathKind::kDevice || path.kind == PathKind::kUnknown)
      out.devices.push_back(std::move(path.path));
    else if (path.kind != PathKind::kNull)
      out.files.push_back(std::move(path.path));
  }
  return out;
}

// Emits `op_class` critical on devices, low on image files, nothing when the
// command names no target (e.g. --help).
void EmitOnTargets(const DiskTargets& targets, string_view op_class, string_view tool,
                   string_view effect, Context& ctx) {
  std::string name(tool);
  if (!targets.devices.empty()) {
    Emit(ctx, op_class, targets.devices, Severity::kCritical,
         name + " " + std::string(effect) + " " + targets.devices.front() +
             ": everything on it is lost");
  } else if (!targets.files.empty()) {
    Emit(ctx, op_class, targets.files, Severity::kLow,
         name + " " + std::string(effect) + " an image file, not a device");
  }
}

// --- dd ----------------------------------------------------------------------

void HandleDd(const Invocation& inv, Context& ctx) {
  const Arg* input = nullptr;
  const Arg* output = nullptr;
  for (const Arg& arg : ArgsOf(inv)) {
    if (arg.text.starts_with("if=")) input = &arg;
    if (arg.text.starts_with("of=")) output = &arg;
  }
  auto value_of = [](const Arg& arg) {
    Arg value = arg;
    value.text = arg.text.substr(3);
    return value;
  };
  if (!output) {
    EmitRead(ctx, {input ? input->text.substr(3) : "stdin"}, "dd writes to stdout only");
    return;
  }
  ResolvedPath destination = ResolvePath(value_of(*output), inv.cwd, ctx.home());
  switch (destination.kind) {
    case PathKind::kNull:
      EmitRead(ctx, {destination.path}, "dd into /dev/null only reads");
      return;
    case PathKind::kDevice:
    case PathKind::kUnknown:
      Emit(ctx, "disk.wipe", {destination.path}, Severity::kCritical,
           "dd overwrites the device " + destination.path + " block by block");
      return;
    case PathKind::kData:
    case PathKind::kSystem:
    case PathKind::kRoot:
    case PathKind::kHome:
      Emit(ctx, "fs.overwrite", {destination.path}, Severity::kHigh,
           "dd overwrites " + destination.path + ", a " + std::string(ToString(destination.kind)) +
               " file");
      return;
    case PathKind::kBackup:
      Emit(ctx, "backup.create", {destination.path}, Severity::kLow,
           "dd writes an image into a backup location");
      return;
    default:
      break;
  }
  ResolvedPath source = input ? ResolvePath(value_of(*input), inv.cwd, ctx.home()) : ResolvedPath{};
  if (input && source.kind == PathKind::kDevice) {
    EmitRead(ctx, {source.path},
             "dd copies the device " + source.path + " into the file " + destination.path);
    return;
  }
  Emit(ctx, "fs.write", {destination.path}, Severity::kLow,
       "dd writes the ordinary file " + destination.path);
}

// --- formatting and wiping ---------------------------------------------------

void HandleMkfs(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  if (HasShortFlag(args, 'V') || HasLongFlag(args, "--version") || HasLongFlag(args, "--help"))
    return;
  if (HasShortFlag(args, 'n') && inv.name().starts_with("mke2fs")) return;  // -n: dry run
  EmitOnTargets(CollectTargets(args, inv, ctx), "disk.format", inv.name(),
                "creates a new file system on", ctx);
}

void HandleWipefs(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  if (HasShortFlag(args, 'n') || HasLongFlag(args, "--no-act")) return;
  const bool erases = HasShortFlag(args, 'a') || HasLongFlag(args, "--all") ||
                      HasShortFlag(args, 'o') || HasLongFlag(args, "--offset");
  if (!erases) return;  // without -a/-o wipefs only lists signatures
  EmitOnTargets(
      CollectTargets(Operands(args, {"-o", "--offset", "-t", "--types", "-b", "--backup"}), inv,
                     ctx),
      "disk.wipe", "wipefs", "erases the file system signatures of", ctx);
}

void HandleBlkdiscard(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  EmitOnTargets(CollectTargets(Operands(args, {"-o", "--offset", "-l", "--length", "-p", "--step"}),
                               inv, ctx),
                "disk.wipe", "blkdiscard", "discards every block of", ctx);
}

// --- partition tables --------------------------------------------------------

void HandleSgdisk(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  if (HasShortFlag(args, 'P') || HasLongFlag(args, "--pretend")) return;
  const bool zaps = HasShortFlag(args, 'Z') || HasShortFlag(args, 'z') ||
                    HasLongFlag(args, "--zap-all") || HasLongFlag(args, "--zap") ||
                    HasShortFlag(args, 'o') || HasLongFlag(args, "--clear");
  // Options that only read: print, info, verify, backup to a file, list types.
  bool writes = zaps;
  for (const Arg& arg : args) {
    const std::string& text = arg.text;
    if (text.size() < 2 || text[0] != '-') continue;
    if (text.starts_with("--")) {
      string_view name = string_view(text).substr(0, text.find('='));
      if (name != "--print" && name != "--info" && name != "--verify" && name != "--backup" &&
          name != "--list-types" && name != "--version" && name != "--help" && name != "--usage")
        writes = true;
    } else if (text.find_first_not_of("-pivbLV?") != std::string::npos) {
      writes = true;
    }
  }
  if (!writes) return;
  DiskTargets targets;
  for (const Arg& operand : Operands(args)) {
    ResolvedPath path = ResolvePath(operand, inv.cwd, ctx.home());
    if (path.kind == PathKind::kDevice || path.kind == PathKind::kUnknown)
      targets.devices.push_back(path.path);
    else if (path.kind != PathKind::kNull && operand.text.find('/') != std::string::npos)
      targets.files.push_back(path.path);
  }
  EmitOnTargets(targets, zaps ? "disk.wipe" : "disk.partition", "sgdisk",
                zaps ? "destroys the partition table of" : "rewrites the partition table of", ctx);
}

// fdisk, gdisk, cfdisk, cgdisk: interactive editors; -l only lists.
void HandleFdisk(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  if (HasShortFlag(args, 'l') || HasLongFlag(args, "--list") || HasLongFlag(args, "--help") ||
      HasShortFlag(args, 'V') || HasLongFlag(args, "--version"))
    return;
  EmitOnTargets(
      CollectTargets(
          Operands(args, {"-b", "--sector-size", "-c", "--compatibility", "-u", "--units",
                          "-H", "--heads",       "-S", "--sectors",       "-C", "--cylinders",
                          "-t", "--type",        "-w", "--wipe",          "-W", "--wipe-partitions",
                          "-L", "--color"}),
          inv, ctx),
      "disk.partition", inv.name(), "edits the partition table of", ctx);
}

void HandleSfdisk(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  if (HasShortFlag(args, 'n') || HasLongFlag(args, "--no-act")) return;
  constexpr string_view kReadOptions[] = {
      "-l", "--list",          "-d",     "--dump",   "-s",        "--show-size",
      "-g", "--show-geometry", "-V",     "--verify", "-J",        "--json",
      "-F", "--list-free",     "--help", "-h",       "--version", "--backup-pt-sectors"};
  for (string_view option : kReadOptions)
    if (HasLongFlag(args, option) || (option.size() == 2 && option[0] == '-' && option[1] != '-' &&
                                      HasShortFlag(args, option[1])))
      return;
  const bool deletes = HasLongFlag(args, "--delete");
  EmitOnTargets(CollectTargets(Operands(args, {"-N", "--partno", "-O", "--backup-file", "-X",
                                               "--label", "-Y", "--label-nested", "-w", "--wipe",
                                               "-W", "--wipe-partitions", "--color", "--lock"}),
                               inv, ctx),
                deletes ? "disk.wipe" : "disk.partition", "sfdisk",
                deletes ? "deletes partitions of" : "writes a new partition table to", ctx);
}

void HandleParted(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  if (HasShortFlag(args, 'l') || HasLongFlag(args, "--list") || HasLongFlag(args, "--help") ||
      HasLongFlag(args, "--version"))
    return;
  std::vector<Arg> operands = Operands(args, {"-a", "--align"});
  if (operands.empty()) return;
  constexpr string_view kDestroying[] = {"rm", "mklabel", "mktable", "mkfs"};
  constexpr string_view kChanging[] = {"mkpart",   "mkpartfs",    "resizepart", "resize", "rescue",
                                       "move",     "cp",          "name",       "set",    "toggle",
                                       "disk_set", "disk_toggle", "type"};
  constexpr string_view kReading[] = {"print",   "p",           "unit", "help",
                                      "version", "align-check", "quit", "select"};
  bool destroys = false, changes = false, any_command = false;
  for (std::size_t i = 1; i < operands.size(); ++i) {
    const Arg& word = operands[i];
    if (!word.known) {
      changes = true;
      continue;
    }
    for (string_view command : kDestroying) destroys = destroys || IEquals(word.text, command);
    for (string_view command : kChanging) changes = changes || IEquals(word.text, command);
    for (string_view command : kReading) any_command = any_command || IEquals(word.text, command);
  }
  any_command = any_command || destroys || changes;
  // No command words: the interactive prompt, driven by whatever stdin holds.
  if (!any_command) changes = true;
  if (!destroys && !changes) return;
  DiskTargets targets = CollectTargets(std::span<const Arg>(operands).first(1), inv, ctx);
  EmitOnTargets(
      targets, destroys ? "disk.wipe" : "disk.partition", "parted",
      destroys ? "deletes partitions or the partition table of" : "changes the partitions of", ctx);
}

// --- volumes and pools -------------------------------------------------------

void HandleLvm(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  if (HasShortFlag(args, 't') || HasLongFlag(args, "--test") || HasLongFlag(args, "--help")) return;
  std::vector<Arg> operands = Operands(
      args, {"-S", "--select", "--config", "--reportformat", "-L", "--size", "-l", "--extents"});
  if (operands.empty()) return;
  std::vector<std::string> targets;
  for (const Arg& operand : operands) targets.push_back(operand.text);
  const string_view name = inv.name();
  const bool format = name == "pvcreate";
  const std::string what = format ? "pvcreate initialises " : std::string(name) + " destroys ";
  Emit(ctx, format ? "disk.format" : "disk.volume.delete", targets,
       format ? Severity::kHigh : Severity::kCritical,
       what + targets.front() + " and the data on it");
}

void HandleZpool(const Invocation& inv, Context& ctx) {
  std::vector<Arg> operands = Operands(ArgsOf(inv), {"-o", "-O", "-R", "-m", "-t"});
  if (operands.empty()) return;
  const std::string& action = operands.front().text;
  std::vector<std::string> targets;
  for (std::size_t i = 1; i < operands.size(); ++i) targets.push_back(operands[i].text);
  if (targets.empty()) targets.push_back("zpool");
  if (action == "destroy") {
    Emit(ctx, "disk.volume.delete", targets, Severity::kCritical,
         "zpool destroy destroys the pool " + targets.front() + " and every dataset in it");
  } else if (action == "labelclear") {
    Emit(ctx, "disk.wipe", targets, Severity::kCritical,
         "zpool labelclear erases the ZFS label of " + targets.front());
  } else if (action == "create" && !HasShortFlag(ArgsOf(inv), 'n')) {
    Emit(ctx, "disk.format", targets, Severity::kHigh,
         "zpool create formats the listed devices into a new pool");
  }
}

void HandleZfs(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  std::vector<Arg> operands = Operands(args, {"-o", "-t", "-s", "-S"});
  if (operands.empty()) return;
  const std::string& action = operands.front().text;
  if (action != "destroy" && action != "rollback") return;
  if (HasShortFlag(args, 'n')) return;  // dry run
  std::vector<std::string> targets;
  bool snapshot = false;
  for (std::size_t i = 1; i < operands.size(); ++i) {
    targets.push_back(operands[i].text);
    snapshot = snapshot || operands[i].text.find('@') != std::string::npos;
  }
  if (targets.empty()) return;
  if (action == "rollback") {
    Emit(ctx, "fs.rollback", targets, Severity::kHigh,
         "zfs rollback discards every change made after " + targets.front() +
             (HasShortFlag(args, 'r') ? " and destroys later snapshots" : ""));
  } else if (snapshot) {
    Emit(ctx, "backup.delete", targets, Severity::kHigh,
         "zfs destroy deletes the snapshot " + targets.front());
  } else {
    Emit(ctx, "disk.volume.delete", targets, Severity::kCritical,
         "zfs destroy deletes the dataset " + targets.front() + " and its data");
  }
}

void HandleBtrfs(const Invocation& inv, Context& ctx) {
  std::vector<Arg> operands = Operands(ArgsOf(inv));
  if (operands.size() < 3) return;
  const std::string& group = operands[0].text;
  const std::string& action = operands[1].text;
  if (!(group.starts_with("sub") && (action == "delete" || action == "del"))) return;
  std::vector<std::string> targets;
  bool snapshot = false;
  for (std::size_t i = 2; i < operands.size(); ++i) {
    ResolvedPath path = ResolvePath(operands[i], inv.cwd, ctx.home());
    snapshot = snapshot || path.kind == PathKind::kBackup ||
               path.path.find("snapshot") != std::string::npos;
    targets.push_back(path.path);
  }
  if (snapshot)
    Emit(ctx, "backup.delete", targets, Severity::kHigh,
         "btrfs subvolume delete removes the snapshot " + targets.front());
  else
    Emit(ctx, "disk.volume.delete", targets, Severity::kCritical,
         "btrfs subvolume delete removes the subvolume " + targets.front() + " and its data");
}

// --- encryption, firmware erase, RAID ----------------------------------------

void HandleCryptsetup(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i].text;
    std::string target = i + 1 < args.size() ? args[i + 1].text : std::string("device");
    if (IEquals(word, "luksErase") || IEquals(word, "erase")) {
      Emit(ctx, "disk.wipe", {target}, Severity::kCritical,
           "cryptsetup luksErase destroys every key slot of " + target +
               ": the encrypted data can never be opened again");
      return;
    }
    if (IEquals(word, "luksFormat") || IEquals(word, "reencrypt")) {
      if (IEquals(word, "reencrypt")) return;  // keeps the data
      Emit(ctx, "disk.format", {target}, Severity::kCritical,
           "cryptsetup luksFormat formats " + target + " and destroys its contents");
      return;
    }
    if (IEquals(word, "luksKillSlot") || IEquals(word, "luksRemoveKey")) {
      Emit(ctx, "disk.key.delete", {target}, Severity::kHigh,
           "cryptsetup " + word + " removes a key of " + target +
               "; losing the last key loses the data");
      return;
    }
  }
}

void HandleHdparm(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  constexpr string_view kDestructive[] = {"--security-erase",       "--security-erase-enhanced",
                                          "--trim-sector-ranges",   "--trim-sector-ranges-stdin",
                                          "--write-sector",         "--make-bad-sector",
                                          "--fwdownload",           "--fwdownload-mode3",
                                          "--fwdownload-mode3-max", "--fwdownload-mode7",
                                          "--dco-restore"};
  for (string_view option : kDestructive) {
    if (!HasLongFlag(args, option)) continue;
    DiskTargets targets = CollectTargets(args, inv, ctx);
    std::vector<std::string> devices = targets.devices;
    if (devices.empty()) devices.push_back("disk");
    Emit(ctx, "disk.wipe", devices, Severity::kCritical,
         "hdparm " + std::string(option) + " erases or overwrites data on " + devices.front());
    return;
  }
}

void HandleNvme(const Invocation& inv, Context& ctx) {
  std::vector<Arg> operands = Operands(
      ArgsOf(inv), {"-n", "--namespace-id", "-s", "--ses", "-l", "--lbaf", "-a", "--sanact"});
  if (operands.empty()) return;
  const std::string& action = operands.front().text;
  if (action != "format" && action != "sanitize" && action != "delete-ns" &&
      action != "write-zeroes" && action != "dsm")
    return;
  if (action == "dsm" && !HasShortFlag(ArgsOf(inv), 'd') && !HasLongFlag(ArgsOf(inv), "--ad"))
    return;
  std::string target = operands.size() > 1 ? operands[1].text : std::string("nvme device");
  Emit(ctx, "disk.wipe", {target}, Severity::kCritical,
       "nvme " + action + " erases data on " + target);
}

void HandleBadblocks(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  if (!HasShortFlag(args, 'w')) return;  // read-only or non-destructive (-n) test
  EmitOnTargets(
      CollectTargets(Operands(args, {"-b", "-c", "-d", "-e", "-i", "-o", "-p", "-t"}), inv, ctx),
      "disk.wipe", "badblocks -w", "overwrites every block of", ctx);
}

void HandleMdadm(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  if (HasLongFlag(args, "--zero-superblock")) {
    EmitOnTargets(CollectTargets(args, inv, ctx), "disk.wipe", "mdadm --zero-superblock",
                  "erases the RAID metadata of", ctx);
  } else if (HasLongFlag(args, "--create") || HasShortFlag(args, 'C')) {
    DiskTargets targets = CollectTargets(args, inv, ctx);
    if (!targets.devices.empty())
      Emit(ctx, "disk.format", targets.devices, Severity::kHigh,
           "mdadm --create builds a new array over " + targets.devices.front());
  }
}

void HandleSgFormat(const Invocation& inv, Context& ctx) {
  EmitOnTargets(CollectTargets(ArgsOf(inv), inv, ctx), "disk.format", inv.name(),
                "low-level formats", ctx);
}

constexpr PackEntry kDiskPack[] = {
    {"dd", HandleDd},
    {"mkfs", HandleMkfs},
    {"mkfs.", HandleMkfs, /*prefix=*/true},
    {"mke2fs", HandleMkfs},
    {"mkswap", HandleMkfs},
    {"mkdosfs", HandleMkfs},
    {"mkntfs", HandleMkfs},
    {"mkexfatfs", HandleMkfs},
    {"wipefs", HandleWipefs},
    {"blkdiscard", HandleBlkdiscard},
    {"sgdisk", HandleSgdisk},
    {"fdisk", HandleFdisk},
    {"gdisk", HandleFdisk},
    {"cfdisk", HandleFdisk},
    {"cgdisk", HandleFdisk},
    {"sfdisk", HandleSfdisk},
    {"parted", HandleParted},
    {"lvremove", HandleLvm},
    {"vgremove", HandleLvm},
    {"pvremove", HandleLvm},
    {"lvreduce", HandleLvm},
    {"pvcreate", HandleLvm},
    {"zpool", HandleZpool},
    {"zfs", HandleZfs},
    {"btrfs", HandleBtrfs},
    {"cryptsetup", HandleCryptsetup},
    {"hdparm", HandleHdparm},
    {"nvme", HandleNvme},
    {"badblocks", HandleBadblocks},
    {"mdadm", HandleMdadm},
    {"sg_format", HandleSgFormat},
    {"sg_sanitize", HandleSgFormat},
};

}  // namespace

std::span<const PackEntry> DiskPack() {
  return kDiskPack;
}

}  // namespace dualkey::shell
