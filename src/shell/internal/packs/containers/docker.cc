// docker, podman, nerdctl and compose: run/exec (bind mounts mapped back to
// host paths), rm, volume, system prune, compose down -v.

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/containers/containers.h"

namespace dualkey::shell::containers {

// ============================================================== docker

// Global options of docker/podman/nerdctl that take a value.
constexpr std::string_view kDockerGlobalWithValue[] = {"-H",
                                                       "--host",
                                                       "-c",
                                                       "--context",
                                                       "--config",
                                                       "-l",
                                                       "--log-level",
                                                       "--tlscacert",
                                                       "--tlscert",
                                                       "--tlskey",
                                                       "--url",
                                                       "--connection",
                                                       "--root",
                                                       "--runroot",
                                                       "--storage-driver",
                                                       "--cgroup-manager",
                                                       "--namespace",
                                                       "-n",
                                                       "--address",
                                                       "--identity",
                                                       "--module",
                                                       "--events-backend",
                                                       "--network-cmd-path",
                                                       "--runtime",
                                                       "--tmpdir",
                                                       "--volumepath",
                                                       "--imagestore",
                                                       "--storage-opt",
                                                       "--snapshotter",
                                                       "--cni-path",
                                                       "--data-root",
                                                       "--hosts-dir"};

// Options of `run`/`create`/`exec` that take a value. Boolean ones (--rm, -d,
// -i, -t, --privileged, --init ...) are not listed.
constexpr std::string_view kRunWithValue[] = {"-v",
                                              "--volume",
                                              "-e",
                                              "--env",
                                              "--env-file",
                                              "-p",
                                              "--publish",
                                              "--name",
                                              "-w",
                                              "--workdir",
                                              "-u",
                                              "--user",
                                              "--entrypoint",
                                              "--network",
                                              "--net",
                                              "-m",
                                              "--memory",
                                              "--mount",
                                              "-l",
                                              "--label",
                                              "--label-file",
                                              "--cpus",
                                              "--platform",
                                              "--restart",
                                              "-h",
                                              "--hostname",
                                              "--add-host",
                                              "--cap-add",
                                              "--cap-drop",
                                              "--device",
                                              "--dns",
                                              "--dns-search",
                                              "--dns-option",
                                              "--gpus",
                                              "--health-cmd",
                                              "--health-interval",
                                              "--health-retries",
                                              "--health-timeout",
                                              "--health-start-period",
                                              "--ipc",
                                              "--log-driver",
                                              "--log-opt",
                                              "--pid",
                                              "--pull",
                                              "--runtime",
                                              "--security-opt",
                                              "--shm-size",
                                              "--stop-signal",
                                              "--stop-timeout",
                                              "--tmpfs",
                                              "--ulimit",
                                              "--userns",
                                              "--uts",
                                              "--volumes-from",
                                              "--cidfile",
                                              "--expose",
                                              "--link",
                                              "--memory-swap",
                                              "--memory-reservation",
                                              "-a",
                                              "--attach",
                                              "--cgroupns",
                                              "--cgroup-parent",
                                              "--cpu-shares",
                                              "-c",
                                              "--cpuset-cpus",
                                              "--cpuset-mems",
                                              "--detach-keys",
                                              "--ip",
                                              "--ip6",
                                              "--mac-address",
                                              "--network-alias",
                                              "--isolation",
                                              "--kernel-memory",
                                              "--oom-score-adj",
                                              "--storage-opt",
                                              "--sysctl",
                                              "--group-add",
                                              "--blkio-weight",
                                              "--device-read-bps",
                                              "--device-write-bps",
                                              "--annotation",
                                              "--arch",
                                              "--os",
                                              "--variant",
                                              "--secret",
                                              "--env-merge",
                                              "--pod",
                                              "--index",
                                              "--hostuser",
                                              "--requires",
                                              "--sdnotify",
                                              "--seccomp-policy",
                                              "--timeout",
                                              "--chrootdirs",
                                              "--passwd-entry",
                                              "--preserve-fds",
                                              "--umask",
                                              "--uidmap",
                                              "--gidmap",
                                              "--subuidname",
                                              "--subgidname",
                                              "--decryption-key",
                                              "--image-volume",
                                              "--init-path",
                                              "--health-on-failure",
                                              "--log-level"};

struct Mount {
  std::string host;       // resolved host path ("" when unknown)
  std::string container;  // absolute path inside the container
};

// Reads -v SRC:DST[:opts], --volume=..., --mount type=bind,src=..,dst=...
std::vector<Mount> ParseMounts(std::span<const Arg> args, std::size_t end, const Invocation& inv,
                               const std::string& home) {
  std::vector<Mount> mounts;
  auto add = [&](std::string_view source, std::string_view target, const Arg& from) {
    if (target.empty() || target[0] != '/') return;
    Mount mount;
    mount.container = std::string(target);
    if (!source.empty() &&
        (source[0] == '/' || source[0] == '.' || source[0] == '~' || source[0] == '$')) {
      Arg source_arg{std::string(source), from.known};
      ResolvedPath resolved = ResolvePath(source_arg, inv.cwd, home);
      mount.host = resolved.path.empty() ? std::string(source) : resolved.path;
    } else if (!source.empty()) {
      // A named volume lives in the engine's data directory.
      mount.host = "/var/lib/docker/volumes/" + std::string(source) + "/_data";
    }
    mounts.push_back(std::move(mount));
  };
  for (std::size_t i = 0; i < end; ++i) {
    std::string_view text = args[i].text;
    std::string_view value;
    bool is_mount = false;
    if ((text == "-v" || text == "--volume") && i + 1 < end) {
      value = args[++i].text;
    } else if (text.starts_with("--volume=")) {
      value = text.substr(9);
    } else if (text.starts_with("-v") && text.size() > 2 && text[2] != '-') {
      value = text.substr(2);
    } else if (text == "--mount" && i + 1 < end) {
      value = args[++i].text;
      is_mount = true;
    } else if (text.starts_with("--mount=")) {
      value = text.substr(8);
      is_mount = true;
    } else {
      continue;
    }
    if (is_mount) {
      std::string_view source, target;
      while (!value.empty()) {
        auto comma = value.find(',');
        std::string_view field = value.substr(0, comma);
        auto eq = field.find('=');
        std::string_view key = field.substr(0, eq);
        std::string_view val = eq == std::string_view::npos ? "" : field.substr(eq + 1);
        if (key == "source" || key == "src") source = val;
        if (key == "target" || key == "dst" || key == "destination") target = val;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
      }
      add(source, target, args[i]);
    } else {
      auto colon = value.find(':');
      if (colon == std::string_view::npos) continue;  // anonymous volume
      std::string_view rest = value.substr(colon + 1);
      add(value.substr(0, colon), rest.substr(0, rest.find(':')), args[i]);
    }
  }
  // Longest container path first, so /host/data wins over /host.
  std::sort(mounts.begin(), mounts.end(),
            [](const Mount& a, const Mount& b) { return a.container.size() > b.container.size(); });
  return mounts;
}

bool PathBoundary(std::string_view text, std::size_t at) {
  return at >= text.size() || text[at] == '/' || text[at] == ' ' || text[at] == '\'' ||
         text[at] == '"' || text[at] == ';' || text[at] == '\n';
}

// Rewrites container paths under a bind mount to the host paths they reach,
// in plain arguments and inside script text (`sh -c 'rm -rf /host/x'`).
std::string MapToHost(std::string_view text, const std::vector<Mount>& mounts) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    const bool word_start = i == 0 || text[i - 1] == ' ' || text[i - 1] == '=' ||
                            text[i - 1] == '\'' || text[i - 1] == '"' || text[i - 1] == '\n' ||
                            text[i - 1] == ';' || text[i - 1] == '(';
    bool replaced = false;
    if (word_start && text[i] == '/') {
      for (const Mount& mount : mounts) {
        if (mount.host.empty()) continue;
        std::string_view container = mount.container;
        if (container == "/") continue;  // mapping "/" would rewrite everything
        if (text.substr(i).starts_with(container) && PathBoundary(text, i + container.size())) {
          // "/host/var" under a mount of "/" becomes "/var", not "//var".
          const bool more = i + container.size() < text.size() && text[i + container.size()] == '/';
          if (!(mount.host == "/" && more)) out.append(mount.host);
          i += container.size();
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out.push_back(text[i++]);
  }
  return out;
}

void DockerRun(const Invocation& inv, std::span<const Arg> args, Context& ctx) {
  // `args` starts after "run"/"create". The image is the first operand.
  std::size_t image = NextOperand(args, 0, kRunWithValue);
  if (image >= args.size()) return;
  std::vector<Mount> mounts = ParseMounts(args, image, inv, ctx.home());
  std::vector<Arg> command;
  std::string_view entrypoint = ValueOf(args.first(image), "", "--entrypoint");
  if (!entrypoint.empty()) command.push_back(Arg{std::string(entrypoint)});
  command.insert(command.end(), args.begin() + static_cast<std::ptrdiff_t>(image) + 1, args.end());
  for (Arg& arg : command) arg.text = MapToHost(arg.text, mounts);
  std::string workdir(ValueOf(args.first(image), "-w", "--workdir"));
  if (!workdir.empty()) workdir = MapToHost(workdir, mounts);
  const bool interactive = HasFlag(args.first(image), 'i', "--interactive");
  ClassifyInner(inv, command, interactive, workdir, ctx);
}

constexpr std::string_view kExecWithValue[] = {
    "-e", "--env",     "--env-file",    "-u",      "--user",
    "-w", "--workdir", "--detach-keys", "--index", "--preserve-fds"};

void DockerExec(const Invocation& inv, std::span<const Arg> args, Context& ctx) {
  std::size_t container = NextOperand(args, 0, kExecWithValue);
  if (container >= args.size()) return;
  std::string workdir(ValueOf(args.first(container), "-w", "--workdir"));
  const bool interactive = HasFlag(args.first(container), 'i', "--interactive");
  ClassifyInner(inv, args.subspan(container + 1), interactive, workdir, ctx);
}

constexpr std::string_view kNoValue[] = {""};
constexpr std::string_view kRmWithValue[] = {"--time",    "-t",       "--depend",
                                             "--cidfile", "--filter", "-f"};

void DockerRm(std::span<const Arg> args, std::string_view tool, Context& ctx) {
  std::vector<std::string> targets;
  bool unknown = false;
  bool production = false;
  for (std::string_view name : OperandsFrom(args, 0, kNoValue)) {
    targets.emplace_back(name);
    if (name.find('$') != std::string_view::npos) unknown = true;
    if (LooksProduction(name)) production = true;
  }
  const bool volumes = HasFlag(args, 'v', "--volumes");
  const bool all = HasFlag(args, 'a', "--all");
  if (volumes) {
    Emit(ctx, "container.volume.delete", targets, Reversibility::kIrreversible, Severity::kMedium,
         std::string(tool) + " rm -v also deletes the containers' anonymous volumes");
    return;
  }
  const bool broad = unknown || all || production;
  Emit(ctx, "container.delete", targets, Reversibility::kRecoverable,
       broad ? Severity::kMedium : Severity::kLow,
       broad ? std::string(tool) + " rm removes containers that are many, unknown or production"
             : std::string(tool) + " rm removes containers; images and volumes are kept");
}

void DockerVolume(std::span<const Arg> args, std::string_view tool, Context& ctx) {
  std::size_t verb = NextOperand(args, 0, kNoValue);
  if (verb >= args.size()) return;
  std::string_view action = args[verb].text;
  std::vector<std::string> targets;
  for (std::string_view name : OperandsFrom(args, verb + 1, kRmWithValue))
    targets.emplace_back(name);
  if (action == "rm" || action == "remove" || action == "prune") {
    Emit(ctx, "container.volume.delete", targets, Reversibility::kIrreversible, Severity::kHigh,
         std::string(tool) + " volume " + std::string(action) +
             " deletes volumes and the data in them");
    return;
  }
  if (action == "ls" || action == "list" || action == "inspect" || action == "exists") {
    EmitRead(ctx, targets, std::string(tool) + " volume " + std::string(action) + " only reads");
    return;
  }
  Emit(ctx, "container.volume.write", targets, Reversibility::kReversible, Severity::kLow,
       std::string(tool) + " volume " + std::string(action) + " creates or changes a volume");
}

void DockerSystem(std::span<const Arg> args, std::string_view tool, Context& ctx) {
  std::size_t verb = NextOperand(args, 0, kNoValue);
  if (verb >= args.size()) return;
  std::string_view action = args[verb].text;
  std::span<const Arg> rest = args.subspan(verb + 1);
  if (action == "prune") {
    if (HasLongFlag(rest, "--volumes")) {
      Emit(ctx, "container.volume.delete", {}, Reversibility::kIrreversible, Severity::kHigh,
           std::string(tool) + " system prune --volumes deletes every unused volume's data");
      return;
    }
    Emit(ctx, "container.prune", {}, Reversibility::kRecoverable, Severity::kLow,
         std::string(tool) +
             " system prune removes stopped containers, unused images, networks "
             "and build cache; volumes are kept");
    return;
  }
  if (action == "reset") {
    Emit(ctx, "container.volume.delete", {}, Reversibility::kIrreversible, Severity::kCritical,
         std::string(tool) + " system reset deletes all containers, images and volumes");
    return;
  }
  EmitRead(ctx, {}, std::string(tool) + " system " + std::string(action) + " only reports");
}

constexpr std::string_view kComposeWithValue[] = {
    "-f",        "--file",     "-p",     "--project-name", "--project-directory",
    "--profile", "--env-file", "--ansi", "--progress",     "--parallel",
    "-H",        "--host",     "-c",     "--context",      "--log-level"};

void Compose(const Invocation& inv, std::span<const Arg> args, std::string_view tool,
             Context& ctx) {
  std::size_t verb = NextOperand(args, 0, kComposeWithValue);
  if (verb >= args.size()) return;
  std::string_view action = args[verb].text;
  std::span<const Arg> rest = args.subspan(verb + 1);
  if (action == "down") {
    if (HasFlag(rest, 'v', "--volumes")) {
      Emit(ctx, "container.volume.delete", {}, Reversibility::kIrreversible, Severity::kMedium,
           std::string(tool) + " down -v deletes the project's named volumes and their data");
      return;
    }
    Emit(ctx, "container.delete", {}, Reversibility::kRecoverable, Severity::kLow,
         std::string(tool) + " down removes the project's containers; volumes are kept");
    return;
  }
  if (action == "rm") {
    const bool volumes = HasFlag(rest, 'v', "--volumes");
    Emit(ctx, volumes ? "container.volume.delete" : "container.delete", {},
         volumes ? Reversibility::kIrreversible : Reversibility::kRecoverable,
         volumes ? Severity::kMedium : Severity::kLow,
         std::string(tool) + " rm removes stopped service containers" +
             (volumes ? " and their anonymous volumes" : ""));
    return;
  }
  if (action == "exec") {
    std::size_t service = NextOperand(rest, 0, kExecWithValue);
    if (service < rest.size())
      ClassifyInner(inv, rest.subspan(service + 1), /*forwards_stdin=*/true,
                    std::string(ValueOf(rest.first(service), "-w", "--workdir")), ctx);
    return;
  }
  if (action == "run") {
    std::size_t service = NextOperand(rest, 0, kRunWithValue);
    if (service < rest.size())
      ClassifyInner(inv, rest.subspan(service + 1), /*forwards_stdin=*/true,
                    std::string(ValueOf(rest.first(service), "-w", "--workdir")), ctx);
    return;
  }
}

// Subcommands that only read or only change running state.
constexpr std::string_view kDockerReads[] = {
    "ps",      "ls",        "list",       "logs",    "inspect", "images",  "top",         "stats",
    "version", "info",      "events",     "history", "port",    "diff",    "search",      "login",
    "logout",  "pull",      "build",      "buildx",  "tag",     "push",    "save",        "export",
    "start",   "stop",      "restart",    "kill",    "pause",   "unpause", "wait",        "attach",
    "create",  "commit",    "load",       "import",  "network", "context", "healthcheck", "cp",
    "update",  "rename",    "manifest",   "secret",  "config",  "plugin",  "trust",       "scout",
    "init",    "generate",  "play",       "machine", "farm",    "kube",    "unshare",     "mount",
    "umount",  "namespace", "auto-update"};

void HandleDocker(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  const std::string tool(inv.name());
  std::size_t verb = NextOperand(args, 0, kDockerGlobalWithValue);
  if (verb >= args.size()) return;
  std::string_view command = args[verb].text;
  if (OpaqueIfUnknown(args, command, tool, ctx)) return;
  std::span<const Arg> rest = args.subspan(verb + 1);
  // Management forms: `container rm` == `rm`, `image prune` ...
  if (command == "container") {
    std::size_t sub = NextOperand(rest, 0, kNoValue);
    if (sub >= rest.size()) return;
    command = rest[sub].text;
    rest = rest.subspan(sub + 1);
    if (command == "prune") {
      Emit(ctx, "container.prune", {}, Reversibility::kRecoverable, Severity::kLow,
           tool + " container prune removes stopped containers");
      return;
    }
    if (command == "ls" || command == "list") command = "ps";
    if (command == "remove") command = "rm";
  }
  if (command == "exec") return DockerExec(inv, rest, ctx);
  if (command == "run") return DockerRun(inv, rest, ctx);
  if (command == "rm") return DockerRm(rest, tool, ctx);
  if (command == "volume") return DockerVolume(rest, tool, ctx);
  if (command == "system") return DockerSystem(rest, tool, ctx);
  if (command == "compose") return Compose(inv, rest, tool + " compose", ctx);
  if (command == "image" || command == "rmi" || command == "builder") {
    std::string_view action = command;
    if (command != "rmi") {
      std::size_t sub = NextOperand(rest, 0, kNoValue);
      action = sub < rest.size() ? std::string_view(rest[sub].text) : std::string_view();
    }
    if (action == "rm" || action == "rmi" || action == "remove" || action == "prune") {
      Emit(ctx, command == "builder" ? "container.cache.prune" : "container.image.prune", {},
           Reversibility::kRecoverable, Severity::kLow,
           tool + " removes images or build cache, which can be pulled or rebuilt");
      return;
    }
    EmitRead(ctx, {},
             tool + " " + std::string(command) + " " + std::string(action) +
                 " only reads or builds images");
    return;
  }
  if (command == "pod" || command == "service" || command == "stack" || command == "swarm") {
    std::size_t sub = NextOperand(rest, 0, kNoValue);
    std::string_view action =
        sub < rest.size() ? std::string_view(rest[sub].text) : std::string_view();
    if (action == "rm" || action == "remove" || action == "prune" || action == "leave") {
      Emit(ctx, "container.delete", {}, Reversibility::kRecoverable, Severity::kLow,
           tool + " " + std::string(command) + " " + std::string(action) +
               " removes services or pods; their volumes are kept");
      return;
    }
    EmitRead(ctx, {}, tool + " " + std::string(command) + " " + std::string(action));
    return;
  }
  if (InList(kDockerReads, command)) {
    EmitRead(ctx, {}, tool + " " + std::string(command) + " does not delete data");
  }
}

void HandleDockerCompose(const Invocation& inv, Context& ctx) {
  Compose(inv, ArgsOf(inv), inv.name(), ctx);
}

}  // namespace dualkey::shell::containers
