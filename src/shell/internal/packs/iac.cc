// Infrastructure as code: terraform, tofu, terragrunt, pulumi, cdk, cdktf,
// serverless, sst, sam.
//
// Destroying a stack is always held, with or without -auto-approve/--yes:
// those flags only skip the tool's own prompt, which an agent answers anyway.
// Plans, previews and dry runs only read. Decisions made here:
// - `terraform apply` is kLow: it may replace resources, but the plan is not
//   visible from the command line; `-replace=ADDR` forces a replacement and
//   is held.
// - `taint`/`untaint`, `force-unlock`, `state mv` are kLow: they change state
//   bookkeeping and can be undone.
// - `state rm`, `state push`, `workspace delete -force`, `pulumi stack rm` lose
//   track of real resources and are held.
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
using shared::OpaqueIfUnknown;

// Terraform accepts -flag and --flag alike.
bool HasTfFlag(std::span<const Arg> args, std::string_view name) {
  for (const Arg& arg : args) {
    std::string_view text = arg.text;
    if (text.starts_with("--")) text.remove_prefix(1);
    if (text == name) return true;
    if (text.starts_with(name) && text.size() > name.size() && text[name.size()] == '=') {
      std::string_view value = text.substr(name.size() + 1);
      return value != "false" && value != "0";
    }
  }
  return false;
}

std::string_view TfValue(std::span<const Arg> args, std::string_view name) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view text = args[i].text;
    if (text.starts_with("--")) text.remove_prefix(1);
    if (text.starts_with(name) && text.size() > name.size() && text[name.size()] == '=')
      return text.substr(name.size() + 1);
  }
  return {};
}

// Words that are not options. Terraform's options are all -name[=value].
std::vector<std::string_view> TfOperands(std::span<const Arg> args) {
  std::vector<std::string_view> out;
  for (const Arg& arg : args)
    if (arg.text.empty() || arg.text[0] != '-') out.push_back(arg.text);
  return out;
}

using shared::Emit;
using shared::EmitRead;

// ============================================================ terraform

// The directory a terraform command acts on: -chdir=DIR or the cwd.
std::string TfRoot(const Invocation& inv, std::span<const Arg> global, Context& ctx) {
  std::string_view chdir = TfValue(global, "-chdir");
  if (!chdir.empty()) {
    ResolvedPath resolved = ResolvePath(Arg{std::string(chdir)}, inv.cwd, ctx.home());
    return resolved.path.empty() ? std::string(chdir) : resolved.path;
  }
  return inv.cwd;
}

std::vector<std::string> TfTargets(std::string root, std::span<const Arg> args) {
  std::vector<std::string> targets;
  if (!root.empty()) targets.push_back(std::move(root));
  for (const Arg& arg : args) {
    std::string_view text = arg.text;
    if (text.starts_with("--")) text.remove_prefix(1);
    if (text.starts_with("-target=")) targets.emplace_back(text.substr(8));
  }
  return targets;
}

constexpr std::string_view kTfReads[] = {"plan",
                                         "show",
                                         "output",
                                         "validate",
                                         "fmt",
                                         "init",
                                         "providers",
                                         "graph",
                                         "version",
                                         "console",
                                         "get",
                                         "login",
                                         "logout",
                                         "test",
                                         "modules",
                                         "metadata",
                                         "hclfmt",
                                         "render-json",
                                         "output-module-groups",
                                         "graph-dependencies",
                                         "validate-inputs",
                                         "info",
                                         "find",
                                         "list",
                                         "dag",
                                         "render",
                                         "scaffold",
                                         "catalog"};

void ClassifyTerraformCommand(const Invocation& inv, std::string_view tool,
                              std::span<const Arg> global, std::string_view command,
                              std::span<const Arg> rest, bool run_all, Context& ctx) {
  const std::string name(tool);
  std::vector<std::string> targets = TfTargets(TfRoot(inv, global, ctx), rest);
  const Severity destroy_severity = run_all ? Severity::kCritical : Severity::kHigh;
  if (command == "destroy" || command == "destroy-all") {
    if (HasTfFlag(rest, "-help") || HasTfFlag(rest, "-h")) return;
    Emit(ctx, "iac.destroy", targets, Reversibility::kIrreversible, destroy_severity,
         name + " destroy deletes every resource the configuration manages" +
             (run_all ? " across all modules" : ""));
    return;
  }
  if (command == "apply" || command == "apply-all") {
    if (HasTfFlag(rest, "-destroy")) {
      Emit(ctx, "iac.destroy", targets, Reversibility::kIrreversible, destroy_severity,
           name + " apply -destroy deletes every resource the configuration manages");
      return;
    }
    // A saved plan made with `plan -destroy -out=destroy.tfplan`.
    for (std::string_view operand : TfOperands(rest)) {
      if (operand.find("destroy") != std::string_view::npos) {
        Emit(ctx, "iac.destroy", targets, Reversibility::kIrreversible, destroy_severity,
             name + " apply runs a saved plan named as a destroy plan");
        return;
      }
    }
    if (!TfValue(rest, "-replace").empty()) {
      Emit(ctx, "iac.replace", targets, Reversibility::kIrreversible, Severity::kMedium,
           name + " apply -replace destroys and recreates a resource, losing its data");
      return;
    }
    Emit(ctx, "iac.apply", targets, Reversibility::kRecoverable, Severity::kLow,
         name + " apply changes infrastructure to match the configuration");
    return;
  }
  if (command == "state") {
    std::vector<std::string_view> operands = TfOperands(rest);
    std::string_view sub = operands.empty() ? std::string_view() : operands[0];
    for (std::size_t k = 1; k < operands.size(); ++k) targets.emplace_back(operands[k]);
    if (sub == "rm") {
      if (HasTfFlag(rest, "-dry-run")) return EmitRead(ctx, targets, name + " state rm -dry-run");
      Emit(ctx, "iac.state.delete", targets, Reversibility::kRecoverable, Severity::kMedium,
           name + " state rm makes terraform forget resources, leaving them unmanaged");
      return;
    }
    if (sub == "push") {
      const bool force = HasTfFlag(rest, "-force");
      Emit(ctx, "iac.state.overwrite", targets, Reversibility::kIrreversible,
           force ? Severity::kHigh : Severity::kMedium,
           name + " state push overwrites the remote state");
      return;
    }
    if (sub == "list" || sub == "show" || sub == "pull") {
      EmitRead(ctx, targets, name + " state " + std::string(sub) + " only reads");
      return;
    }
    Emit(ctx, "iac.state.change", targets, Reversibility::kRecoverable, Severity::kLow,
         name + " state " + std::string(sub) + " rewrites state bookkeeping");
    return;
  }
  if (command == "workspace") {
    std::vector<std::string_view> operands = TfOperands(rest);
    std::string_view sub = operands.empty() ? std::string_view() : operands[0];
    if (sub == "delete") {
      // Without -force terraform refuses to delete a workspace holding state.
      const bool force = HasTfFlag(rest, "-force");
      for (std::size_t k = 1; k < operands.size(); ++k) targets.emplace_back(operands[k]);
      Emit(ctx, force ? "iac.state.delete" : "iac.workspace.delete", targets,
           force ? Reversibility::kIrreversible : Reversibility::kRecoverable,
           force ? Severity::kHigh : Severity::kLow,
           force ? name + " workspace delete -force drops a workspace and its state"
                 : name + " workspace delete removes an empty workspace");
      return;
    }
    EmitRead(ctx, targets, name + " workspace " + std::string(sub));
    return;
  }
  if (command == "taint" || command == "untaint" || command == "force-unlock" ||
      command == "import" || command == "refresh") {
    Emit(ctx, "iac.state.change", targets, Reversibility::kRecoverable, Severity::kLow,
         name + " " + std::string(command) + " changes state bookkeeping; it can be undone");
    return;
  }
  if (InList(kTfReads, command)) {
    EmitRead(ctx, targets, name + " " + std::string(command) + " does not change resources");
    return;
  }
}

void HandleTerraform(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  std::size_t verb = 0;
  while (verb < args.size() && args[verb].text.starts_with("-")) ++verb;
  if (verb >= args.size()) return;
  if (OpaqueIfUnknown(args, args[verb].text, inv.name(), ctx)) return;
  ClassifyTerraformCommand(inv, inv.name(), args.first(verb), args[verb].text,
                           args.subspan(verb + 1), /*run_all=*/false, ctx);
}

// terragrunt: `run-all destroy`, `destroy-all`, `run --all -- destroy`,
// `run destroy`, or plain terraform commands.
void HandleTerragrunt(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  bool run_all = false;
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    std::string_view text = args[i].text;
    if (text == "run-all" || text == "--all" || text == "-all" || text == "--terragrunt-all") {
      run_all = true;
      continue;
    }
    if (text == "run" || text == "--" || text.starts_with("-")) continue;
    break;
  }
  if (i >= args.size()) return;
  std::string_view command = args[i].text;
  if (OpaqueIfUnknown(args, command, "terragrunt", ctx)) return;
  if (command.ends_with("-all")) run_all = true;
  ClassifyTerraformCommand(inv, "terragrunt", args.first(i), command, args.subspan(i + 1), run_all,
                           ctx);
}

// ================================================================ pulumi

constexpr std::string_view kPulumiWithValue[] = {"-s",
                                                 "--stack",
                                                 "-C",
                                                 "--cwd",
                                                 "--config-file",
                                                 "-c",
                                                 "--config",
                                                 "-t",
                                                 "--target",
                                                 "-m",
                                                 "--message",
                                                 "--parallel",
                                                 "-p",
                                                 "--exec-kind",
                                                 "--color",
                                                 "-v",
                                                 "--verbose",
                                                 "--replace",
                                                 "--suppress-permalink",
                                                 "--exclude",
                                                 "--tracing",
                                                 "--profiling",
                                                 "--memprofilerate",
                                                 "--logflow",
                                                 "--secrets-provider",
                                                 "--plan",
                                                 "--import-file",
                                                 "--exec-agent",
                                                 "--policy-pack",
                                                 "--policy-pack-config"};

std::vector<std::string_view> PulumiOperands(std::span<const Arg> args) {
  std::vector<std::string_view> out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view text = args[i].text;
    if (text.size() > 1 && text[0] == '-') {
      if (text.find('=') == std::string_view::npos && InList(kPulumiWithValue, text)) ++i;
      continue;
    }
    out.push_back(text);
  }
  return out;
}

std::string_view PulumiValue(std::span<const Arg> args, std::string_view short_name,
                             std::string_view long_name) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view text = args[i].text;
    if ((text == short_name || text == long_name) && i + 1 < args.size()) return args[i + 1].text;
    if (text.starts_with(long_name) && text.size() > long_name.size() &&
        text[long_name.size()] == '=')
      return text.substr(long_name.size() + 1);
  }
  return {};
}

void HandlePulumi(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  std::vector<std::string_view> operands = PulumiOperands(args);
  if (operands.empty()) return;
  std::vector<std::string> targets;
  if (std::string_view stack = PulumiValue(args, "-s", "--stack"); !stack.empty())
    targets.emplace_back(stack);
  else if (!inv.cwd.empty())
    targets.push_back(inv.cwd);
  std::string_view command = operands[0];
  if (OpaqueIfUnknown(args, command, "pulumi", ctx)) return;
  if (operands.size() > 1 && OpaqueIfUnknown(args, operands[1], "pulumi", ctx)) return;
  const bool preview_only = HasLongFlag(args, "--preview-only");
  if (command == "destroy" || command == "down") {
    if (preview_only) return EmitRead(ctx, targets, "pulumi destroy --preview-only only previews");
    Emit(ctx, "iac.destroy", targets, Reversibility::kIrreversible, Severity::kHigh,
         "pulumi destroy deletes every resource in the stack");
    return;
  }
  if (command == "stack" && operands.size() >= 2 &&
      (operands[1] == "rm" || operands[1] == "remove")) {
    if (operands.size() >= 3) targets.emplace_back(operands[2]);
    const bool force = HasShortFlag(args, 'f') || HasLongFlag(args, "--force");
    Emit(ctx, "iac.state.delete", targets, Reversibility::kIrreversible,
         force ? Severity::kHigh : Severity::kMedium,
         force ? "pulumi stack rm --force deletes the stack and its state even with live "
                 "resources, leaving them unmanaged"
               : "pulumi stack rm deletes the stack, its history and configuration");
    return;
  }
  if (command == "state" && operands.size() >= 2 && operands[1] == "delete") {
    Emit(ctx, "iac.state.delete", targets, Reversibility::kRecoverable, Severity::kMedium,
         "pulumi state delete makes pulumi forget a resource");
    return;
  }
  if (command == "up" || command == "update") {
    if (preview_only) return EmitRead(ctx, targets, "pulumi up --preview-only only previews");
    const bool replace = !PulumiValue(args, "", "--replace").empty();
    Emit(ctx, replace ? "iac.replace" : "iac.apply", targets,
         replace ? Reversibility::kIrreversible : Reversibility::kRecoverable,
         replace ? Severity::kMedium : Severity::kLow,
         replace ? "pulumi up --replace destroys and recreates a resource"
                 : "pulumi up changes infrastructure to match the program");
    return;
  }
  EmitRead(ctx, targets, "pulumi " + std::string(command) + " does not destroy resources");
}

// ================================================= cdk, cdktf, serverless, sst

struct DestroyVerb {
  std::string_view tool;
  std::string_view verb;     // the subcommand that tears the stack down
  std::size_t position = 0;  // index among the operands: `copilot app delete` has 1
};

constexpr DestroyVerb kDestroyVerbs[] = {
    {"cdk", "destroy"},       {"cdktf", "destroy"},  {"serverless", "remove"},
    {"sls", "remove"},        {"sst", "remove"},     {"sam", "delete"},
    {"copilot", "delete", 1}, {"amplify", "delete"}, {"cdk8s", "destroy"},
};

void HandleStackTool(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  std::string_view tool = inv.name();
  std::vector<std::string_view> operands;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view text = args[i].text;
    if (text.size() > 1 && text[0] == '-') continue;
    operands.push_back(text);
  }
  if (operands.empty()) return;
  for (std::size_t k = 0; k < operands.size() && k < 2; ++k)
    if (OpaqueIfUnknown(args, operands[k], tool, ctx)) return;
  std::vector<std::string> targets;
  if (!inv.cwd.empty()) targets.push_back(inv.cwd);
  for (const DestroyVerb& entry : kDestroyVerbs) {
    if (entry.tool != tool) continue;
    const std::size_t k = entry.position;
    if (k >= operands.size() || operands[k] != entry.verb) continue;
    if (HasLongFlag(args, "--dry-run")) return EmitRead(ctx, targets, "dry run");
    for (std::size_t t = k + 1; t < operands.size(); ++t) targets.emplace_back(operands[t]);
    Emit(ctx, "iac.destroy", targets, Reversibility::kIrreversible, Severity::kHigh,
         std::string(tool) + " " + std::string(entry.verb) +
             " deletes the deployed stack and its resources");
    return;
  }
  Emit(ctx, "iac.apply", targets, Reversibility::kRecoverable, Severity::kLow,
       std::string(tool) + " " + std::string(operands[0]) + " does not tear down a stack");
}

constexpr PackEntry kIacPack[] = {
    {"terraform", HandleTerraform},  {"tofu", HandleTerraform},    {"terragrunt", HandleTerragrunt},
    {"pulumi", HandlePulumi},        {"cdk", HandleStackTool},     {"cdktf", HandleStackTool},
    {"serverless", HandleStackTool}, {"sls", HandleStackTool},     {"sst", HandleStackTool},
    {"sam", HandleStackTool},        {"copilot", HandleStackTool}, {"amplify", HandleStackTool},
    {"cdk8s", HandleStackTool},
};

}  // namespace

std::span<const PackEntry> IacPack() {
  return kIacPack;
}

}  // namespace dualkey::shell
