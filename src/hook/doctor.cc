// `dualkey doctor`'s view of the agent hooks: each config read, the
// dualkey handlers found in it, and the installed command run as the agent
// would run it, on a harmless and on a destructive sample.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/process.h"
#include "base/toml_text.h"
#include "hook/install.h"
#include "hook/internal/config.h"
#include "install/layout.h"

namespace dualkey::hook {
namespace {

using namespace config;  // NOLINT: the installer's helpers
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------
// doctor

enum class Outcome { kAllowed, kAsked, kBlocked, kFailedOpen };

std::string_view ToString(Outcome outcome) {
  switch (outcome) {
    case Outcome::kAllowed:
      return "allowed";
    case Outcome::kAsked:
      return "asked";
    case Outcome::kBlocked:
      return "blocked";
    case Outcome::kFailedOpen:
      return "failed-open";
  }
  return "failed-open";
}

std::string SampleInput(Agent agent, const std::string& command, const std::string& cwd) {
  nlohmann::json input;
  switch (agent) {
    case Agent::kClaude:
    case Agent::kCodex:
      input = {{"session_id", "dualkey-doctor"},
               {"transcript_path", nullptr},
               {"cwd", cwd},
               {"permission_mode", "default"},
               {"hook_event_name", "PreToolUse"},
               {"tool_name", "Bash"},
               {"tool_input", {{"command", command}}},
               {"tool_use_id", "dualkey-doctor"}};
      if (agent == Agent::kCodex) input["turn_id"] = "dualkey-doctor";
      break;
    case Agent::kCursor:
      input = {{"conversation_id", "dualkey-doctor"},
               {"generation_id", "dualkey-doctor"},
               {"hook_event_name", "beforeShellExecution"},
               {"workspace_roots", {cwd}},
               {"command", command},
               {"cwd", cwd}};
      break;
    case Agent::kGemini:
      input = {{"session_id", "dualkey-doctor"},
               {"transcript_path", ""},
               {"cwd", cwd},
               {"hook_event_name", "BeforeTool"},
               {"timestamp", "1970-01-01T00:00:00Z"},
               {"tool_name", "run_shell_command"},
               {"tool_input", {{"command", command}}}};
      break;
  }
  return input.dump();
}

// How the agent reads what its hook did, per its protocol.
Outcome Interpret(Agent agent, const base::ProcessResult& run, std::string* detail) {
  if (!run.started) {
    *detail = "could not start";
    return Outcome::kFailedOpen;
  }
  if (run.timed_out) {
    *detail = "timed out";
    return Outcome::kFailedOpen;
  }
  if (run.exit_code == 2) {
    if (agent == Agent::kCodex && Trim(run.err).empty()) {
      *detail = "exit 2 with empty stderr (Codex ignores it)";
      return Outcome::kFailedOpen;
    }
    *detail = "exit 2";
    return Outcome::kBlocked;
  }
  if (run.exit_code != 0) {
    *detail = "exit " + std::to_string(run.exit_code);
    return Outcome::kFailedOpen;
  }
  *detail = "exit 0";
  if (Trim(run.out).empty()) return Outcome::kAllowed;
  nlohmann::json reply = nlohmann::json::parse(run.out, nullptr, false);
  if (reply.is_discarded() || !reply.is_object()) {
    *detail = "exit 0, stdout is not JSON";
    return Outcome::kAllowed;
  }
  std::string decision;
  switch (agent) {
    case Agent::kClaude:
    case Agent::kCodex: {
      auto specific = reply.find("hookSpecificOutput");
      if (specific != reply.end() && specific->is_object()) {
        auto it = specific->find("permissionDecision");
        if (it != specific->end() && it->is_string()) decision = it->get<std::string>();
      }
      if (decision.empty() && reply.contains("decision") && reply["decision"].is_string())
        decision = reply["decision"] == "block" ? "deny" : reply["decision"].get<std::string>();
      break;
    }
    case Agent::kCursor:
      if (reply.contains("permission") && reply["permission"].is_string())
        decision = reply["permission"].get<std::string>();
      break;
    case Agent::kGemini:
      if (reply.contains("decision") && reply["decision"].is_string())
        decision = reply["decision"].get<std::string>();
      if (decision == "block") decision = "deny";
      break;
  }
  if (!decision.empty()) *detail += ", " + decision;
  if (decision == "deny") return Outcome::kBlocked;
  if (decision == "ask") {
    if (agent == Agent::kCodex || agent == Agent::kGemini) {
      *detail += " (unsupported here: the call runs)";
      return Outcome::kFailedOpen;
    }
    return Outcome::kAsked;
  }
  return Outcome::kAllowed;
}

// The dualkey handlers in a config, with their fail-closed setting.
struct Found {
  std::string command;
  bool fail_closed = false;
};

std::vector<Found> FindOurs(Agent agent, const ojson& root) {
  std::vector<Found> found;
  if (!root.is_object() || !root.contains("hooks") || !root["hooks"].is_object()) return found;
  const ojson& hooks = root["hooks"];
  const Wiring wiring = WiringFor(agent);
  auto add = [&](const ojson& handler) {
    if (!IsOurs(handler, agent)) return;
    Found f;
    f.command = handler["command"].get<std::string>();
    if (agent == Agent::kCursor)
      f.fail_closed = handler.contains("failClosed") && handler["failClosed"] == true;
    if (agent == Agent::kClaude)
      f.fail_closed = handler.contains("onFailure") && handler["onFailure"] == "block";
    for (const Found& other : found)
      if (other.command == f.command) return;
    found.push_back(std::move(f));
  };
  for (const std::string& event : wiring.events) {
    if (!hooks.contains(event) || !hooks[event].is_array()) continue;
    for (const ojson& entry : hooks[event]) {
      if (wiring.grouped) {
        if (entry.is_object() && entry.contains("hooks") && entry["hooks"].is_array())
          for (const ojson& h : entry["hooks"]) add(h);
      } else {
        add(entry);
      }
    }
  }
  return found;
}

}  // namespace

std::string InterpretHookRun(Agent agent, bool started, bool timed_out, int exit_code,
                             const std::string& out, const std::string& err, std::string* detail) {
  base::ProcessResult run;
  run.started = started;
  run.timed_out = timed_out;
  run.exit_code = exit_code;
  run.out = out;
  run.err = err;
  return std::string(ToString(Interpret(agent, run, detail)));
}

std::vector<ConfigCheck> CheckHooks(const DoctorRequest& request) {
  constexpr const char* kHarmless = "ls -la";
  constexpr const char* kDestructive = "rm -rf ~";
  std::vector<ConfigCheck> checks;
  const std::string sample_cwd = !request.project_dir.empty() ? request.project_dir : request.home;

  for (Agent agent : kAllAgents) {
    std::vector<std::pair<std::string, std::string>> scopes;
    if (request.managed) scopes.push_back({"managed", ManagedConfigPath(agent)});
    scopes.push_back({"user", ConfigPath(agent, false, "", request.home)});
    if (!request.project_dir.empty()) {
      std::string project = ConfigPath(agent, true, request.project_dir, "");
      if (project != scopes.back().second) scopes.push_back({"project", project});
    }
    for (const auto& [scope, path] : scopes) {
      ConfigCheck check;
      check.agent = agent;
      check.scope = scope;
      check.path = path;
      std::vector<Found> found;
      std::error_code ec;
      if (path.ends_with(".toml")) {
        if (fs::exists(path, ec)) {
          try {
            toml::table root = base::ParseTomlFile(path);
            for (const std::string& command : TomlHookCommands(root))
              if (IsOursCommand(command, agent)) found.push_back({command, false});
          } catch (const toml::parse_error& e) {
            check.error = path + " is not valid TOML: " + std::string(e.description());
          }
        }
      } else {
        Loaded loaded = LoadConfig(path);
        if (!loaded.ok)
          check.error = loaded.error;
        else
          found = FindOurs(agent, loaded.root);
      }
      check.installed = !found.empty();
      check.user_can_edit = UserCanReplace(path);
      check.all_protected = check.installed;
      for (const Found& f : found) {
        HookCheck hook;
        hook.command = f.command;
        hook.fail_closed = f.fail_closed;
        if (!request.run_samples) {
          check.all_protected = false;
          check.hooks.push_back(std::move(hook));
          continue;
        }
        const std::string run_command = request.probe ? f.command + " --probe" : f.command;
        base::ProcessResult harmless = base::RunShell(
            run_command, SampleInput(agent, kHarmless, sample_cwd), sample_cwd, request.timeout_ms);
        base::ProcessResult destructive =
            base::RunShell(run_command, SampleInput(agent, kDestructive, sample_cwd), sample_cwd,
                           request.timeout_ms);
        const Outcome harmless_outcome = Interpret(agent, harmless, &hook.harmless_detail);
        const Outcome destructive_outcome = Interpret(agent, destructive, &hook.destructive_detail);
        hook.harmless_outcome = std::string(ToString(harmless_outcome));
        hook.destructive_outcome = std::string(ToString(destructive_outcome));
        hook.is_protected =
            harmless_outcome == Outcome::kAllowed &&
            (destructive_outcome == Outcome::kBlocked || destructive_outcome == Outcome::kAsked);
        hook.fail_closed = f.fail_closed;
        hook.fail_closed_text =
            agent == Agent::kCursor ? (f.fail_closed ? "failClosed: true" : "failClosed not set")
            : agent == Agent::kClaude
                ? (f.fail_closed ? "onFailure: block" : "onFailure not set (needs 2.1.295+)")
                : "none (this agent fails open if the hook breaks)";
        hook.build_tree_warning = BuildTreeWarning(HookBinary(f.command));
        check.all_protected = check.all_protected && hook.is_protected;
        check.hooks.push_back(std::move(hook));
      }
      checks.push_back(std::move(check));
    }
  }
  return checks;
}

nlohmann::json ToJson(const ConfigCheck& check) {
  nlohmann::json entry{{"agent", ToString(check.agent)},
                       {"scope", check.scope},
                       {"config", check.path},
                       {"installed", check.installed},
                       {"user_can_edit", check.user_can_edit}};
  if (!check.error.empty()) entry["error"] = check.error;
  if (!check.installed) return entry;
  nlohmann::json hooks = nlohmann::json::array();
  for (const HookCheck& h : check.hooks) {
    nlohmann::json hook{
        {"command", h.command},
        {"harmless",
         {{"command", "ls -la"}, {"outcome", h.harmless_outcome}, {"detail", h.harmless_detail}}},
        {"destructive",
         {{"command", "rm -rf ~"},
          {"outcome", h.destructive_outcome},
          {"detail", h.destructive_detail}}},
        {"fail_closed", h.fail_closed},
        {"protected", h.is_protected}};
    if (!h.build_tree_warning.empty()) hook["build_tree_warning"] = h.build_tree_warning;
    hooks.push_back(std::move(hook));
  }
  entry["hooks"] = std::move(hooks);
  entry["protected"] = check.all_protected;
  return entry;
}

std::string ToText(const ConfigCheck& check) {
  const std::string agent(ToString(check.agent));
  if (!check.error.empty()) return agent + " (" + check.scope + "): " + check.error + "\n";
  if (!check.installed)
    return agent + " (" + check.scope + ", " + check.path + "): not installed\n";
  std::string text = agent + " (" + check.scope + ", " + check.path + "):\n";
  for (const HookCheck& h : check.hooks) {
    text += "  hook:        " + h.command + "\n";
    text += "  ls -la:      " + h.harmless_outcome + " (" + h.harmless_detail + ")\n";
    text += "  rm -rf ~:    " + h.destructive_outcome + " (" + h.destructive_detail + ")\n";
    text += "  fail-closed: " + h.fail_closed_text + "\n";
    if (!h.build_tree_warning.empty()) text += "  WARNING:     " + h.build_tree_warning + "\n";
    text += std::string("  => ") + (h.is_protected ? "protected" : "NOT PROTECTED") + "\n";
  }
  if (check.user_can_edit)
    text += "  (you can edit this file, so an agent running as you can remove this hook)\n";
  return text;
}

CommandOutput Doctor(const DoctorRequest& request) {
  CommandOutput result;
  nlohmann::json report = nlohmann::json::array();
  std::string text;
  int installed = 0;
  int unprotected = 0;
  for (const ConfigCheck& check : CheckHooks(request)) {
    if (check.installed) {
      ++installed;
      if (!check.all_protected) ++unprotected;
    }
    if (check.installed || !check.error.empty() || request.json) report.push_back(ToJson(check));
    if (check.scope == "managed" && !check.installed && check.error.empty()) continue;
    text += ToText(check);
  }
  const bool ok = installed > 0 && unprotected == 0;
  if (installed == 0) text += "dualkey is not installed for any agent: dualkey install AGENT\n";
  result.exit_code = ok ? 0 : 1;
  if (request.json) {
    result.out =
        nlohmann::json{{"protected", ok}, {"installed", installed}, {"agents", report}}.dump(
            2, ' ', false, nlohmann::json::error_handler_t::replace) +
        "\n";
  } else {
    result.out = std::move(text);
  }
  return result;
}

}  // namespace dualkey::hook
