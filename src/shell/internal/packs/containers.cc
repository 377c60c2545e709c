// Containers and Kubernetes: docker, podman, nerdctl, docker-compose,
// kubectl (and oc), helm.
//
// Commands run inside a container (`docker exec C cmd`, `docker run IMG cmd`,
// `kubectl exec POD -- cmd`) are handed back to the dispatcher as an inner
// Invocation. For `docker run`, bind mounts are mapped back to host paths so
// `-v /:/host alpine rm -rf /host/var/lib` is judged as a delete of /var/lib.
//
// Decisions the corpus leaves open, made here on purpose:
// - `docker rm` of a container is kLow: containers are rebuilt from images and
//   their data belongs in volumes. `rm -v` (anonymous volumes) is held.
// - `compose down -v` is held (kMedium): it deletes the project's named
//   volumes, which is where local databases keep their data.
// - `kubectl delete pod NAME` is kLow: a pod is recreated by its controller.
//   Pods by selector or --all, and everything else, are held.
// - `kubectl scale --replicas=0`, drain, cordon, rollout: outages that can be
//   undone, not data loss: kLow.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/packs.h"
#include "shell/internal/paths.h"

namespace dualkey::shell {
namespace {

std::span<const Arg> ArgsOf(const Invocation& inv) {
  return inv.argv.empty() ? std::span<const Arg>() : std::span<const Arg>(inv.argv).subspan(1);
}

// A subcommand word the evaluator could not know ($ACTION, $(...)): what the
// command does is unknown, so it is opaque and held.
bool OpaqueIfUnknown(std::span<const Arg> args, std::string_view word, std::string_view tool,
                     Context& ctx) {
  for (const Arg& arg : args) {
    if (arg.known || arg.text != word) continue;
    ctx.Emit(MakeAction(
        "opaque.exec", {}, Reversibility::kUnknown, Severity::kMedium,
        std::string(tool) + " runs a subcommand only known when it runs: " + std::string(word)));
    return true;
  }
  return false;
}

void Emit(Context& ctx, std::string op_class, std::vector<std::string> targets, Reversibility rev,
          Severity severity, std::string reason) {
  ctx.Emit(MakeAction(std::move(op_class), std::move(targets), rev, severity, std::move(reason)));
}

void EmitRead(Context& ctx, std::vector<std::string> targets, std::string reason) {
  Emit(ctx, "read.only", std::move(targets), Reversibility::kReversible, Severity::kNone,
       std::move(reason));
}

// True for "prod", "production", "prd-..." style names.
bool LooksProduction(std::string_view name) {
  return name.find("prod") != std::string_view::npos || name.find("PROD") != std::string_view::npos;
}

// Operands after `from`, skipping options and their values.
std::vector<std::string_view> OperandsFrom(std::span<const Arg> args, std::size_t from,
                                           std::span<const std::string_view> with_value) {
  std::vector<std::string_view> out;
  for (std::size_t i = NextOperand(args, from, with_value); i < args.size();
       i = NextOperand(args, i + 1, with_value))
    out.push_back(args[i].text);
  return out;
}

// The value of `--name VALUE` / `--name=VALUE` / `-n VALUE` before `--`.
std::string_view ValueOf(std::span<const Arg> args, std::string_view short_name,
                         std::string_view long_name) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view text = args[i].text;
    if (text == "--") break;
    if ((text == short_name && !short_name.empty()) || text == long_name)
      return i + 1 < args.size() ? std::string_view(args[i + 1].text) : std::string_view();
    if (!long_name.empty() && text.starts_with(long_name) && text.size() > long_name.size() &&
        text[long_name.size()] == '=')
      return text.substr(long_name.size() + 1);
    if (short_name.size() == 2 && text.size() > 2 && text.starts_with(short_name) && text[1] != '-')
      return text.substr(2);
  }
  return {};
}

bool HasFlag(std::span<const Arg> args, char short_flag, std::string_view long_flag) {
  return (short_flag != 0 && HasShortFlag(args, short_flag)) ||
         (!long_flag.empty() && HasLongFlag(args, long_flag));
}

// Builds the inner command a container runs and hands it to the dispatcher.
void ClassifyInner(const Invocation& inv, std::span<const Arg> command, bool forwards_stdin,
                   std::string cwd, Context& ctx) {
  if (command.empty()) return;
  Invocation inner;
  inner.argv.assign(command.begin(), command.end());
  inner.cwd = std::move(cwd);
  inner.depth = inv.depth + 1;
  inner.remote = true;  // inside a container: its files are not the host's
  if (forwards_stdin) {
    inner.has_stdin_text = inv.has_stdin_text;
    inner.stdin_text = inv.stdin_text;
    inner.stdin_text_known = inv.stdin_text_known;
    inner.stdin_piped = inv.stdin_piped;
    inner.piped_from = inv.piped_from;
  }
  ctx.ClassifyInvocation(inner);
}

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

// ============================================================== kubectl

constexpr std::string_view kKubectlWithValue[] = {"-n",
                                                  "--namespace",
                                                  "--context",
                                                  "--cluster",
                                                  "--kubeconfig",
                                                  "-s",
                                                  "--server",
                                                  "--user",
                                                  "--token",
                                                  "--as",
                                                  "--as-group",
                                                  "--request-timeout",
                                                  "-o",
                                                  "--output",
                                                  "-f",
                                                  "--filename",
                                                  "-c",
                                                  "--container",
                                                  "-l",
                                                  "--selector",
                                                  "--field-selector",
                                                  "-L",
                                                  "--label-columns",
                                                  "--grace-period",
                                                  "--timeout",
                                                  "--replicas",
                                                  "-k",
                                                  "--kustomize",
                                                  "--image",
                                                  "--type",
                                                  "--sort-by",
                                                  "--template",
                                                  "--cascade",
                                                  "--pod-running-timeout",
                                                  "--certificate-authority",
                                                  "--client-certificate",
                                                  "--client-key",
                                                  "--cache-dir",
                                                  "--tail",
                                                  "--since",
                                                  "--prune-allowlist",
                                                  "--field-manager",
                                                  "--raw",
                                                  "--for",
                                                  "-p",
                                                  "--patch",
                                                  "--profile",
                                                  "--target",
                                                  "--env",
                                                  "--port",
                                                  "--overrides",
                                                  "--restart",
                                                  "--subresource",
                                                  "--chunk-size",
                                                  "--show-kind"};

struct KubeKind {
  std::string_view name;  // any alias, lowercase
  Severity severity;
};

// What deleting a kind reaches. Unlisted kinds are kMedium.
constexpr KubeKind kKubeKinds[] = {
    {"namespace", Severity::kCritical},
    {"namespaces", Severity::kCritical},
    {"ns", Severity::kCritical},
    {"project", Severity::kCritical},
    {"projects", Severity::kCritical},
    {"persistentvolumeclaim", Severity::kHigh},
    {"persistentvolumeclaims", Severity::kHigh},
    {"pvc", Severity::kHigh},
    {"persistentvolume", Severity::kHigh},
    {"persistentvolumes", Severity::kHigh},
    {"pv", Severity::kHigh},
    {"statefulset", Severity::kHigh},
    {"statefulsets", Severity::kHigh},
    {"sts", Severity::kHigh},
    {"customresourcedefinition", Severity::kCritical},
    {"customresourcedefinitions", Severity::kCritical},
    {"crd", Severity::kCritical},
    {"crds", Severity::kCritical},
    {"volumesnapshot", Severity::kHigh},
    {"volumesnapshots", Severity::kHigh},
    {"pod", Severity::kLow},
    {"pods", Severity::kLow},
    {"po", Severity::kLow},
    {"event", Severity::kLow},
    {"events", Severity::kLow},
    {"ev", Severity::kLow},
};

Severity KindSeverity(std::string_view kind) {
  auto dot = kind.find('.');  // "deployments.apps"
  kind = kind.substr(0, dot);
  for (const KubeKind& entry : kKubeKinds)
    if (entry.name == kind) return entry.severity;
  return Severity::kMedium;
}

bool DryRun(std::span<const Arg> args) {
  for (const Arg& arg : args) {
    if (arg.text == "--") break;
    if (arg.text == "--dry-run") return true;
    if (arg.text.starts_with("--dry-run=")) return arg.text != "--dry-run=none";
  }
  return false;
}

void KubectlDelete(std::span<const Arg> args, std::string_view tool, Context& ctx) {
  if (DryRun(args)) {
    EmitRead(ctx, {}, std::string(tool) + " delete --dry-run only shows what would go");
    return;
  }
  std::string ns(ValueOf(args, "-n", "--namespace"));
  std::vector<std::string_view> operands = OperandsFrom(args, 0, kKubectlWithValue);
  bool all = HasLongFlag(args, "--all") || HasFlag(args, 'A', "--all-namespaces");
  const bool selector =
      !ValueOf(args, "-l", "--selector").empty() || !ValueOf(args, "", "--field-selector").empty();
  const bool from_files =
      !ValueOf(args, "-f", "--filename").empty() || !ValueOf(args, "-k", "--kustomize").empty();
  Severity severity = Severity::kNone;
  std::vector<std::string> targets;
  std::size_t names = 0;
  auto add_kind = [&](std::string_view kinds) {
    while (!kinds.empty()) {
      auto comma = kinds.find(',');
      severity = std::max(severity, KindSeverity(kinds.substr(0, comma)));
      if (comma == std::string_view::npos) break;
      kinds.remove_prefix(comma + 1);
    }
  };
  if (!operands.empty()) {
    if (operands[0].find('/') != std::string_view::npos) {
      // kind/name forms: every operand names one object.
      for (std::string_view operand : operands) {
        add_kind(operand.substr(0, operand.find('/')));
        targets.push_back((ns.empty() ? "" : ns + "/") + std::string(operand));
        ++names;
      }
    } else {
      add_kind(operands[0]);
      for (std::size_t k = 1; k < operands.size(); ++k) {
        targets.push_back((ns.empty() ? "" : ns + "/") + std::string(operands[0]) + "/" +
                          std::string(operands[k]));
        ++names;
        if (operands[k].find('$') != std::string_view::npos) all = true;
      }
    }
  }
  if (from_files) {
    severity = std::max(severity, Severity::kMedium);
    targets.push_back(std::string(!ValueOf(args, "-f", "--filename").empty()
                                      ? ValueOf(args, "-f", "--filename")
                                      : ValueOf(args, "-k", "--kustomize")));
  }
  if (severity == Severity::kNone) severity = Severity::kMedium;
  // Many objects at once: never the low end.
  if ((all || selector || (names == 0 && !from_files)) && severity < Severity::kHigh)
    severity = Severity::kHigh;
  if (LooksProduction(ns) && severity == Severity::kLow && names > 3) severity = Severity::kMedium;
  if (targets.empty() && !ns.empty()) targets.push_back(ns);
  Emit(ctx, "k8s.delete", targets, Reversibility::kIrreversible, severity,
       std::string(tool) + " delete removes Kubernetes objects" +
           (all || selector ? " in bulk" : "") + (ns.empty() ? "" : " in namespace " + ns));
}

constexpr std::string_view kKubectlReads[] = {
    "get",           "describe",     "logs",     "log",          "top",         "explain",
    "api-resources", "api-versions", "version",  "cluster-info", "diff",        "events",
    "wait",          "port-forward", "proxy",    "auth",         "completion",  "plugin",
    "kustomize",     "options",      "alpha",    "whoami",       "config",      "certificate",
    "attach",        "create",       "expose",   "label",        "annotate",    "autoscale",
    "set",           "patch",        "edit",     "rollout",      "cordon",      "uncordon",
    "taint",         "cp",           "scale",    "drain",        "apply",       "replace",
    "run",           "debug",        "exec",     "login",        "status",      "new-app",
    "new-project",   "project",      "projects", "start-build",  "import-image"};

void HandleKubectlArgs(const Invocation& inv, std::span<const Arg> args, std::string_view tool,
                       Context& ctx) {
  std::size_t verb = NextOperand(args, 0, kKubectlWithValue);
  if (verb >= args.size()) return;
  std::string_view command = args[verb].text;
  if (OpaqueIfUnknown(args, command, tool, ctx)) return;
  // Options may come before the verb (`kubectl -n prod delete ...`): keep them.
  std::vector<Arg> rest_store(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(verb));
  rest_store.insert(rest_store.end(), args.begin() + static_cast<std::ptrdiff_t>(verb) + 1,
                    args.end());
  std::span<const Arg> rest = rest_store;
  const std::string name(tool);
  if (command == "delete") return KubectlDelete(rest, tool, ctx);
  if (command == "exec" || command == "run" || command == "debug") {
    // The command follows `--`; the old `exec POD cmd` form has none.
    std::span<const Arg> after = args.subspan(verb + 1);
    auto dashes =
        std::find_if(after.begin(), after.end(), [](const Arg& arg) { return arg.text == "--"; });
    std::span<const Arg> inner;
    if (dashes != after.end()) {
      inner = after.subspan(static_cast<std::size_t>(dashes - after.begin()) + 1);
    } else if (command == "exec") {
      std::size_t pod = NextOperand(after, 0, kKubectlWithValue);
      std::size_t cmd = NextOperand(after, pod + 1, kKubectlWithValue);
      if (cmd < after.size()) inner = after.subspan(cmd);
    }
    const bool interactive = HasFlag(
        after.first(dashes == after.end() ? after.size()
                                          : static_cast<std::size_t>(dashes - after.begin())),
        'i', "--stdin");
    ClassifyInner(inv, inner, interactive, {}, ctx);
    if (inner.empty())
      EmitRead(ctx, {}, name + " " + std::string(command) + " starts a session or a workload");
    return;
  }
  if (command == "apply" && (HasLongFlag(rest, "--prune") || HasLongFlag(rest, "--force"))) {
    if (DryRun(rest)) return EmitRead(ctx, {}, name + " apply --dry-run only shows changes");
    const bool prune = HasLongFlag(rest, "--prune");
    Emit(ctx, prune ? "k8s.delete" : "k8s.replace", {}, Reversibility::kIrreversible,
         prune ? Severity::kHigh : Severity::kMedium,
         prune ? name + " apply --prune deletes every matching object not in the manifests"
               : name + " apply --force deletes and recreates objects that conflict");
    return;
  }
  if (command == "replace" && HasLongFlag(rest, "--force") && !DryRun(rest)) {
    Emit(ctx, "k8s.replace", {}, Reversibility::kIrreversible, Severity::kMedium,
         name + " replace --force deletes and recreates the objects");
    return;
  }
  if (command == "scale" || command == "drain" || command == "cordon" || command == "rollout" ||
      command == "taint") {
    Emit(ctx, "k8s.scale", {}, Reversibility::kRecoverable, Severity::kLow,
         name + " " + std::string(command) +
             " changes where or how many pods run; no data is "
             "deleted and it can be undone");
    return;
  }
  if (InList(kKubectlReads, command))
    EmitRead(ctx, {}, name + " " + std::string(command) + " does not delete objects");
}

void HandleKubectl(const Invocation& inv, Context& ctx) {
  HandleKubectlArgs(inv, ArgsOf(inv), inv.name(), ctx);
}

// `k3s kubectl ...`, `microk8s kubectl ...` (also microk8s.kubectl).
void HandleEmbeddedKubectl(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  if (inv.name().ends_with(".kubectl")) return HandleKubectlArgs(inv, args, "kubectl", ctx);
  if (!args.empty() && args[0].text == "kubectl")
    HandleKubectlArgs(inv, args.subspan(1), "kubectl", ctx);
}

// ================================================================= helm

constexpr std::string_view kHelmWithValue[] = {"-n",
                                               "--namespace",
                                               "--kube-context",
                                               "--kubeconfig",
                                               "--timeout",
                                               "--description",
                                               "--cascade",
                                               "--kube-apiserver",
                                               "--kube-token",
                                               "--kube-as-user",
                                               "--registry-config",
                                               "--repository-config",
                                               "--repository-cache",
                                               "-o",
                                               "--output",
                                               "-f",
                                               "--values",
                                               "--set",
                                               "--version",
                                               "--burst-limit",
                                               "--qps"};

void HandleHelm(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  std::size_t verb = NextOperand(args, 0, kHelmWithValue);
  if (verb >= args.size()) return;
  std::string_view command = args[verb].text;
  if (OpaqueIfUnknown(args, command, "helm", ctx)) return;
  std::span<const Arg> rest = args.subspan(verb + 1);
  if (command == "uninstall" || command == "delete" || command == "del" || command == "un") {
    if (HasLongFlag(args, "--dry-run")) {
      EmitRead(ctx, {}, "helm uninstall --dry-run only shows what would go");
      return;
    }
    std::string ns(ValueOf(args, "-n", "--namespace"));
    std::vector<std::string> targets;
    for (std::string_view release : OperandsFrom(rest, 0, kHelmWithValue))
      targets.push_back((ns.empty() ? "" : ns + "/") + std::string(release));
    Emit(ctx, "k8s.delete", targets, Reversibility::kIrreversible, Severity::kHigh,
         "helm uninstall deletes every Kubernetes object of the release");
    return;
  }
  if (command == "rollback" || command == "upgrade" || command == "install") {
    Emit(ctx, "k8s.deploy", {}, Reversibility::kRecoverable, Severity::kLow,
         "helm " + std::string(command) + " deploys a release");
    return;
  }
  EmitRead(ctx, {}, "helm " + std::string(command) + " does not delete releases");
}

// Local development clusters: deleting one is routine.
void HandleLocalCluster(const Invocation& inv, Context& ctx) {
  for (const Arg& arg : ArgsOf(inv)) {
    if (arg.text == "delete") {
      Emit(ctx, "k8s.cluster.delete", {}, Reversibility::kRecoverable, Severity::kLow,
           std::string(inv.name()) + " delete removes a local development cluster");
      return;
    }
  }
}

constexpr PackEntry kContainerPack[] = {
    {"docker", HandleDocker},
    {"podman", HandleDocker},
    {"nerdctl", HandleDocker},
    {"docker-compose", HandleDockerCompose},
    {"podman-compose", HandleDockerCompose},
    {"kubectl", HandleKubectl},
    {"oc", HandleKubectl},
    {"k3s", HandleEmbeddedKubectl},
    {"microk8s", HandleEmbeddedKubectl},
    {"microk8s.kubectl", HandleEmbeddedKubectl},
    {"helm", HandleHelm},
    {"minikube", HandleLocalCluster},
    {"kind", HandleLocalCluster},
    {"k3d", HandleLocalCluster},
};

}  // namespace

std::span<const PackEntry> ContainerPack() {
  return kContainerPack;
}

}  // namespace dualkey::shell
