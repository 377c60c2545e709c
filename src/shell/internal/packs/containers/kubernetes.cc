// kubectl (and oc, k3s, microk8s), helm, and local development clusters
// (minikube, kind, k3d).

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/containers/containers.h"

namespace dualkey::shell::containers {

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

}  // namespace dualkey::shell::containers
