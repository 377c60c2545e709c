// `dualkey policy`: validate policy files and explain which rule decided.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "guard/guard.h"
#include "packs/catalog.h"
#include "policy/policy.h"

namespace dualkey::cli {
namespace {

using nlohmann::json;

std::string Home(const PolicyOptions& options) {
  if (!options.home.empty()) return options.home;
  const char* home = std::getenv("HOME");
  return home != nullptr && *home == '/' ? home : "/root";
}

// A pack file rather than a policy layer: in a packs/ directory, or with a
// [pack] table.
bool IsPackFile(const std::string& path, const std::string& text) {
  if (path.find("/packs/") != std::string::npos || path.starts_with("packs/")) return true;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::size_t start = line.find_first_not_of(" \t");
    if (start != std::string::npos && line.compare(start, 6, "[pack]") == 0) return true;
  }
  return false;
}

int Check(const PolicyOptions& options) {
  std::vector<std::string> errors;
  std::vector<std::pair<std::string, bool>> checked;  // path, ok
  if (options.files.empty()) {
    std::string cwd = options.cwd_given ? options.cwd : CurrentDirectory();
    policy::Policy loaded = policy::Load(policy::DefaultSources(cwd, Home(options)));
    errors = loaded.errors;
    for (const policy::Layer& layer : loaded.layers) checked.emplace_back(layer.path, true);
    if (loaded.packs)
      for (const auto& added : loaded.packs->added())
        checked.emplace_back(added->pack.source, true);
  } else {
    for (const std::string& path : options.files) {
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        errors.push_back(path + ": cannot be read");
        checked.emplace_back(path, false);
        continue;
      }
      std::stringstream text;
      text << in.rdbuf();
      if (IsPackFile(path, text.str())) {
        packs::Pack pack;
        checked.emplace_back(path, packs::ParsePack(text.str(), path, &pack, &errors));
        continue;
      }
      bool project = path.ends_with(".dualkey.toml");
      policy::Layer layer;
      bool ok = policy::ParseLayer(text.str(),
                                   project ? policy::LayerKind::kProject : policy::LayerKind::kUser,
                                   path, &layer, &errors);
      checked.emplace_back(path, ok);
    }
  }
  if (options.json) {
    json files = json::array();
    for (const auto& [path, ok] : checked) files.push_back(json{{"path", path}, {"ok", ok}});
    std::cout << json{{"ok", errors.empty()}, {"files", files}, {"errors", errors}}.dump() << "\n";
  } else {
    for (const auto& [path, ok] : checked)
      std::cout << (ok ? "ok      " : "ERROR   ") << path << "\n";
    for (const std::string& error : errors) std::cout << "error: " << error << "\n";
    if (!errors.empty())
      std::cout << "A policy that fails to load keeps every destructive action held.\n";
  }
  return errors.empty() ? 0 : 1;
}

int Explain(const PolicyOptions& options) {
  if (options.command.empty()) {
    std::cerr << "dualkey policy explain: give the command after --, e.g.\n"
                 "  dualkey policy explain -- 'git push --force origin main'\n";
    return 2;
  }
  guard::Request request;
  if (!ParseChannel(options.channel, &request.channel)) {
    std::cerr << "dualkey policy explain: unknown channel '" << options.channel << "'\n";
    return 2;
  }
  for (const std::string& word : options.command) {
    if (!request.input.empty()) request.input.push_back(' ');
    request.input += word;
  }
  request.cwd = options.cwd_given ? options.cwd : CurrentDirectory();
  request.home = Home(options);
  request.agent = options.agent;
  policy::Policy loaded = policy::Load(policy::DefaultSources(request.cwd, request.home));
  guard::Result result = guard::Check(request, loaded);
  std::vector<policy::ActionDecision> decisions =
      policy::Explain(loaded, result.verdict.actions, policy::Subject{request.agent});

  if (options.json) {
    json actions = json::array();
    for (const auto& d : decisions) {
      json steps = json::array();
      for (const auto& step : d.steps)
        steps.push_back(json{{"layer", policy::ToString(step.layer)},
                             {"path", step.path},
                             {"rule", step.rule},
                             {"line", step.line},
                             {"decision", policy::DecisionName(step.decision, step.snapshot)},
                             {"result", policy::DecisionName(step.result, step.result_snapshot)},
                             {"note", step.note}});
      actions.push_back(
          json{{"class", d.action.op_class},
               {"targets", d.action.targets},
               {"origin", d.action.origin.empty() ? "built-in classifier" : d.action.origin},
               {"decision", policy::DecisionName(d.decision, d.snapshot)},
               {"steps", steps}});
    }
    std::cout << json{{"decision", ToString(result.verdict.decision)},
                      {"snapshot", result.verdict.snapshot},
                      {"observe_only", result.verdict.observe_only},
                      {"reason", result.verdict.reason},
                      {"actions", actions},
                      {"errors", loaded.errors}}
                     .dump()
              << "\n";
    return result.verdict.decision == Decision::kAllow ? 0 : 1;
  }
  std::cout << "layers:\n";
  for (const policy::Layer& layer : loaded.layers)
    std::cout << "  " << policy::ToString(layer.kind) << "  " << layer.path
              << (layer.kind == policy::LayerKind::kProject ? "  (tighten-only)" : "") << "\n";
  for (const std::string& error : loaded.errors) std::cout << "  error: " << error << "\n";
  if (decisions.empty()) std::cout << "no actions: nothing destructive found\n";
  for (const auto& d : decisions) {
    std::cout << "\n" << d.action.op_class;
    for (const std::string& target : d.action.targets) std::cout << "  " << target;
    std::cout << "\n  " << d.action.reason << "\n";
    std::cout << "  classified by "
              << (d.action.origin.empty() ? "the built-in classifier" : d.action.origin) << "\n";
    for (const auto& step : d.steps) {
      std::cout << "  " << policy::ToString(step.layer);
      if (step.layer != policy::LayerKind::kBuiltin) std::cout << " " << step.path;
      if (step.line > 0) std::cout << ":" << step.line;
      std::cout << " rule '" << step.rule << "' says "
                << policy::DecisionName(step.decision, step.snapshot) << " -> "
                << policy::DecisionName(step.result, step.result_snapshot);
      if (!step.note.empty()) std::cout << "  (" << step.note << ")";
      std::cout << "\n";
    }
    std::cout << "  => " << policy::DecisionName(d.decision, d.snapshot) << "\n";
  }
  std::cout << "\ndecision: " << ToString(result.verdict.decision)
            << (result.verdict.snapshot
                    ? " (snapshot: the PostgreSQL proxy saves the rows and runs it when they are "
                      "few)"
                    : "")
            << (result.verdict.observe_only ? " (observe mode: not enforced)" : "") << " — "
            << result.verdict.reason << "\n";
  return result.verdict.decision == Decision::kAllow ? 0 : 1;
}

}  // namespace

int RunPolicy(const PolicyOptions& options) {
  if (options.action == "check") return Check(options);
  if (options.action == "explain") return Explain(options);
  std::cerr << "dualkey policy: use `policy check` or `policy explain`\n";
  return 2;
}

// `dualkey policy check|explain`: the subcommand and its options.
std::unique_ptr<Command> NewPolicyCommand() {
  class Policy final : public Command {
   public:
    void Add(CLI::App& app) override {
      policy_cmd = app.add_subcommand(
          "policy",
          "Validate policy files and explain decisions. Layers: built-in < "
          "/etc/dualkey/policy.toml\n"
          "< ~/.config/dualkey/policy.toml < .dualkey.toml (project; it can only tighten).");
      policy_cmd->require_subcommand(1);
      CLI::App* policy_check = policy_cmd->add_subcommand(
          "check",
          "Validate policy files (default: every layer in force here); line-numbered errors.");
      policy_check->add_option("files", policy.files, "policy files to validate");
      policy_check->add_option("--cwd", policy.cwd, "directory whose project layer to check")
          ->each([&](const std::string&) { policy.cwd_given = true; });
      policy_check->add_flag("--json", policy.json, "print JSON");
      policy_check->callback([&] { policy.action = "check"; });
      CLI::App* policy_explain =
          policy_cmd->add_subcommand("explain",
                                     "Show which rule of which layer decided a command:\n"
                                     "  dualkey policy explain -- 'git push --force origin main'");
      policy_explain->add_option("--channel", policy.channel, "shell (default), sql, http or mcp");
      policy_explain->add_option("--cwd", policy.cwd, "working directory (default: here)")
          ->each([&](const std::string&) { policy.cwd_given = true; });
      policy_explain->add_option("--home", policy.home, "home directory (default: $HOME)");
      policy_explain->add_option("--agent", policy.agent,
                                 "agent asking: claude, cursor, codex, gemini");
      policy_explain->add_flag("--json", policy.json, "print JSON");
      policy_explain->add_option("command", policy.command, "the command, after --");
      policy_explain->callback([&] { policy.action = "explain"; });
    }
    bool Parsed() const override { return policy_cmd->parsed(); }
    int Run() override { return RunPolicy(policy); }

   private:
    PolicyOptions policy;
    CLI::App* policy_cmd = nullptr;
  };
  return std::make_unique<Policy>();
}

}  // namespace dualkey::cli
