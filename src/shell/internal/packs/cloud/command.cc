// The command's shape: each tool's value options, the words collected from a
// command line, its options, dry runs and targets.

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "core/verbs.h"
#include "shell/internal/packs/cloud/cloud.h"

namespace dualkey::shell::cloud {

// A command word the evaluator could not know ($OP, $(...)) hides the verb.
void EmitUnknownVerb(Context& ctx, std::string_view tool, std::string_view word) {
  Emit(ctx, "opaque.exec", {}, Reversibility::kUnknown, Severity::kMedium,
       std::string(tool) + " runs a subcommand only known when it runs: " + std::string(word));
}

// Names that hold backups: deleting them is backup.delete.
bool NamesBackup(std::string_view text) {
  return IContains(text, "backup") || IContains(text, "snapshot") ||
         IContains(text, "recovery-point") || IContains(text, "recoverypoint");
}

// ================================================================ tools

// Options that take a value, per tool family. Unknown `--x value` options
// only risk taking a value for a command word, which the verb scan tolerates.
constexpr std::string_view kAwsValues[] = {"--profile",
                                           "--region",
                                           "--output",
                                           "--endpoint-url",
                                           "--query",
                                           "--cli-input-json",
                                           "--ca-bundle",
                                           "--color",
                                           "--cli-read-timeout",
                                           "--cli-connect-timeout",
                                           "--cli-binary-format",
                                           "--cli-input-yaml"};
constexpr std::string_view kGcloudValues[] = {
    "--project",         "--account",   "--configuration",
    "--format",          "--verbosity", "--impersonate-service-account",
    "--billing-project", "--zone",      "--region",
    "--flags-file",      "--filter",    "--limit",
    "--sort-by",         "--page-size", "--trace-token"};
constexpr std::string_view kAzValues[] = {"--subscription",   "--output", "-o",     "--query",
                                          "--resource-group", "-g",       "--name", "-n",
                                          "--location",       "-l"};
constexpr std::string_view kGenericValues[] = {"-a",
                                               "--app",
                                               "-c",
                                               "--config",
                                               "-r",
                                               "--region",
                                               "-o",
                                               "--org",
                                               "--output",
                                               "--context",
                                               "-t",
                                               "--access-token",
                                               "--token",
                                               "--scope",
                                               "-S",
                                               "--team",
                                               "-T",
                                               "--cwd",
                                               "--site",
                                               "--auth",
                                               "--filter",
                                               "--project-ref",
                                               "--workdir",
                                               "--project-id",
                                               "--api-key",
                                               "--org-id",
                                               "--service-token",
                                               "--service-token-id",
                                               "-s",
                                               "--service",
                                               "-e",
                                               "--environment",
                                               "--remote",
                                               "--profile",
                                               "--format",
                                               "--project",
                                               "-P",
                                               "--account",
                                               "--env",
                                               "--stage",
                                               "--context-name"};

constexpr CloudTool kTools[] = {
    {"aws", "aws", kAwsValues},
    {"gcloud", "gcloud", kGcloudValues},
    {"gsutil", "gsutil", kGenericValues},
    {"bq", "bq", kGcloudValues},
    {"az", "az", kAzValues},
    {"doctl", "doctl", kGenericValues},
    {"fly", "fly", kGenericValues},
    {"flyctl", "fly", kGenericValues},
    {"railway", "railway", kGenericValues},
    {"heroku", "heroku", kGenericValues},
    {"vercel", "vercel", kGenericValues},
    {"netlify", "netlify", kGenericValues},
    {"supabase", "supabase", kGenericValues},
    {"neonctl", "neonctl", kGenericValues},
    {"neon", "neonctl", kGenericValues},
    {"pscale", "pscale", kGenericValues},
    {"eksctl", "eksctl", kGenericValues},
    {"linode-cli", "linode-cli", kGenericValues},
    {"hcloud", "hcloud", kGenericValues},
    {"oci", "oci", kGenericValues},
    {"ibmcloud", "ibmcloud", kGenericValues},
    {"scw", "scw", kGenericValues},
    {"vultr-cli", "vultr-cli", kGenericValues},
    {"exo", "exo", kGenericValues},
    {"upctl", "upctl", kGenericValues},
    {"render", "render", kGenericValues},
    {"firebase", "firebase", kGenericValues},
    {"cf", "cf", kGenericValues},
    {"koyeb", "koyeb", kGenericValues},
    {"turso", "turso", kGenericValues},
    {"wrangler", "wrangler", kGenericValues},
    {"atlas", "atlas", kGenericValues},
    {"mongocli", "atlas", kGenericValues},
    {"eb", "eb", kGenericValues},
};

const CloudTool* FindTool(std::string_view name) {
  for (const CloudTool& tool : kTools)
    if (tool.name == name) return &tool;
  return nullptr;
}

CloudCommand Collect(const CloudTool& tool, std::span<const Arg> args) {
  CloudCommand cmd{tool.canonical, args, {}};
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view text = args[i].text;
    if (text == "--") break;
    if (text.size() > 1 && text[0] == '-') {
      if (text.find('=') == std::string_view::npos && InList(tool.with_value, text)) ++i;
      continue;
    }
    cmd.words.push_back(i);
  }
  return cmd;
}

bool HasOption(std::span<const Arg> args, std::string_view name) {
  for (const Arg& arg : args) {
    std::string_view text = arg.text;
    if (text == name) return true;
    if (text.starts_with(name) && text.size() > name.size() && text[name.size()] == '=')
      return true;
  }
  return false;
}

std::string_view OptionText(std::span<const Arg> args, std::string_view name) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view text = args[i].text;
    if (text == name) return i + 1 < args.size() ? std::string_view(args[i + 1].text) : "";
    if (text.starts_with(name) && text.size() > name.size() && text[name.size()] == '=')
      return text.substr(name.size() + 1);
  }
  return {};
}

bool IsDryRun(std::span<const Arg> args) {
  for (const Arg& arg : args) {
    std::string_view text = arg.text;
    if (text == "--dry-run" || text == "--dryrun" || text == "--dry-run=true" ||
        text == "--dry-run=client" || text == "--dry-run=server")
      return true;
  }
  return false;
}

// Option names whose values name what a command acts on.
bool IsTargetOption(std::string_view name) {
  static constexpr std::string_view kSuffixes[] = {
      "name",   "-id",     "-ids",     "identifier", "arn",       "bucket",   "app",
      "volume", "stack",   "cluster",  "instance",   "instances", "database", "group",
      "vault",  "project", "snapshot", "backup",     "branch",    "service",  "site",
      "table",  "db",      "key",      "repository", "function",  "queue",    "topic",
      "server", "account", "zone-id",  "secret-id",  "domain",    "space"};
  while (name.starts_with('-')) name.remove_prefix(1);
  if (name.empty()) return false;
  if (name == "a" || name == "g" || name == "n" || name == "id") return true;
  for (std::string_view suffix : kSuffixes)
    if (name.ends_with(suffix)) return true;
  return false;
}

// Positional words after the verb plus the values of naming options.
std::vector<std::string> TargetsOf(const CloudCommand& cmd, std::size_t verb) {
  std::vector<std::string> targets;
  for (std::size_t k = verb + 1; k < cmd.words.size(); ++k) targets.emplace_back(cmd.Word(k));
  std::span<const Arg> args = cmd.args;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view text = args[i].text;
    if (text.size() < 2 || text[0] != '-') continue;
    auto eq = text.find('=');
    std::string_view name = text.substr(0, eq);
    if (!IsTargetOption(name)) continue;
    if (eq != std::string_view::npos) {
      targets.emplace_back(text.substr(eq + 1));
    } else if (i + 1 < args.size() && !args[i + 1].text.starts_with("-")) {
      targets.push_back(args[i + 1].text);
      ++i;
    }
  }
  std::sort(targets.begin(), targets.end());
  targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
  return targets;
}

bool AnyNamesBackup(const CloudCommand& cmd, std::size_t upto,
                    const std::vector<std::string>& targets) {
  for (std::size_t k = 0; k <= upto && k < cmd.words.size(); ++k)
    if (NamesBackup(cmd.Word(k))) return true;
  for (const std::string& target : targets)
    if (NamesBackup(target)) return true;
  return false;
}

}  // namespace dualkey::shell::cloud
