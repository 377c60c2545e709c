#include "hook/install.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/process.h"
#include "base/toml_text.h"
#include "install/layout.h"

namespace dualkey::hook {
namespace {

using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

// Claude Code 2.1.295 added `onFailure: "block"`: a hook that cannot start,
// times out or exits oddly blocks instead of letting the call through.
constexpr int kClaudeOnFailureVersion[] = {2, 1, 295};
// Longer than the hook's own watchdog (kWatchdogSeconds), so the agent never
// times out first (which fails open) while dualkey is still answering.
constexpr int kHookTimeoutSeconds = 10;

// Where dualkey hooks in, per agent.
struct Wiring {
  std::vector<std::string> events;
  bool grouped = true;  // event -> [{matcher, hooks: [handler]}]; else event -> [handler]
  std::string matcher;  // grouped agents only
};

Wiring WiringFor(Agent agent) {
  switch (agent) {
    case Agent::kClaude:
      return {{"PreToolUse"}, true, "Bash|Write|Edit|MultiEdit|NotebookEdit|mcp__.*"};
    case Agent::kCodex:
      // Codex names file edits apply_patch; Write and Edit are its matcher aliases.
      return {{"PreToolUse"}, true, "Bash|apply_patch|Write|Edit|mcp__.*"};
    case Agent::kGemini:
      return {{"BeforeTool"}, true, "run_shell_command|write_file|replace|mcp__.*"};
    case Agent::kCursor:
      // preToolUse without a matcher: its matcher syntax is not documented, and
      // a matcher that matches nothing would silently leave file edits open.
      return {{"beforeShellExecution", "beforeMCPExecution", "preToolUse"}, false, ""};
  }
  return {};
}

ojson HandlerFor(Agent agent, const std::string& command, bool claude_on_failure) {
  switch (agent) {
    case Agent::kClaude: {
      ojson handler{{"type", "command"}, {"command", command}, {"timeout", kHookTimeoutSeconds}};
      if (claude_on_failure) handler["onFailure"] = "block";
      return handler;
    }
    case Agent::kCodex:
      return ojson{{"type", "command"}, {"command", command}, {"timeout", kHookTimeoutSeconds}};
    case Agent::kGemini:
      return ojson{{"name", "dualkey"},
                   {"type", "command"},
                   {"command", command},
                   {"timeout", kHookTimeoutSeconds * 1000}};  // milliseconds
    case Agent::kCursor:
      // No timeout: its unit (seconds or ms) is disputed, and too short a one
      // with failClosed would block everything.
      return ojson{{"command", command}, {"failClosed", true}};
  }
  return ojson::object();
}

std::string Trim(const std::string& text) {
  std::size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  std::size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

// Our handler: a command that runs a dualkey binary as `... hook AGENT`.
template <typename Json>
bool IsOurs(const Json& handler, Agent agent) {
  if (!handler.is_object()) return false;
  auto it = handler.find("command");
  if (it == handler.end() || !it->is_string()) return false;
  std::string command = Trim(it->template get<std::string>());
  std::string suffix = "hook " + std::string(ToString(agent));
  return command.find("dualkey") != std::string::npos && command.ends_with(suffix);
}

bool ReadFile(const std::string& path, std::string* text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  *text = buffer.str();
  return !in.bad();
}

std::string Now(const std::string& given) {
  if (!given.empty()) return given;
  time_t now = time(nullptr);
  tm local{};
  localtime_r(&now, &local);
  char buffer[32];
  strftime(buffer, sizeof(buffer), "%Y%m%d-%H%M%S", &local);
  return buffer;
}

struct Loaded {
  bool exists = false;
  bool ok = false;
  bool had_comments = false;
  std::string error;
  ojson root;
};

Loaded LoadConfig(const std::string& path) {
  Loaded loaded;
  std::string text;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    loaded.ok = true;
    loaded.root = ojson::object();
    return loaded;
  }
  loaded.exists = true;
  if (!ReadFile(path, &text)) {
    loaded.error = "cannot read " + path;
    return loaded;
  }
  if (Trim(text).empty()) {
    loaded.ok = true;
    loaded.root = ojson::object();
    return loaded;
  }
  loaded.root = ojson::parse(text, nullptr, false, /*ignore_comments=*/false);
  if (loaded.root.is_discarded()) {
    loaded.root = ojson::parse(text, nullptr, false, /*ignore_comments=*/true);
    loaded.had_comments = !loaded.root.is_discarded();
  }
  if (loaded.root.is_discarded()) {
    loaded.error = path + " is not valid JSON; fix it or move it away (nothing was changed)";
    return loaded;
  }
  if (!loaded.root.is_object()) {
    loaded.error = path + " does not hold a JSON object (nothing was changed)";
    return loaded;
  }
  loaded.ok = true;
  return loaded;
}

// Applies install or uninstall to `root`. Returns false with `error` when
// the file's hooks have a shape we must not touch.
bool Apply(Agent agent, bool uninstall, const ojson& handler, ojson* root, int* removed,
           std::string* error) {
  const Wiring wiring = WiringFor(agent);
  if (root->contains("hooks") && !(*root)["hooks"].is_object()) {
    *error = "its \"hooks\" entry is not an object";
    return false;
  }
  if (uninstall && !root->contains("hooks")) return true;
  ojson& hooks = (*root)["hooks"];
  if (hooks.is_null()) hooks = ojson::object();
  bool touched = false;

  for (const std::string& event : wiring.events) {
    if (hooks.contains(event) && !hooks[event].is_array()) {
      *error = "its hooks." + event + " entry is not a list";
      return false;
    }
    if (uninstall && !hooks.contains(event)) continue;
    ojson& list = hooks[event];
    if (list.is_null()) list = ojson::array();
    ojson desired = wiring.grouped
                        ? ojson{{"matcher", wiring.matcher}, {"hooks", ojson::array({handler})}}
                        : handler;

    // Already exactly as wanted: leave the file alone (idempotence).
    int ours = 0;
    for (const ojson& entry : list) {
      if (wiring.grouped) {
        if (entry.is_object() && entry.contains("hooks") && entry["hooks"].is_array())
          for (const ojson& h : entry["hooks"]) ours += IsOurs(h, agent) ? 1 : 0;
      } else {
        ours += IsOurs(entry, agent) ? 1 : 0;
      }
    }
    if (!uninstall && ours == 1) {
      bool exact = false;
      for (std::size_t i = 0; i < list.size(); ++i) {
        if (list[i] == desired && (wiring.grouped || i == 0)) exact = true;
      }
      if (exact) continue;
    }

    // Remove every dualkey handler; drop groups that only held ours.
    ojson kept = ojson::array();
    for (ojson& entry : list) {
      if (wiring.grouped && entry.is_object() && entry.contains("hooks") &&
          entry["hooks"].is_array()) {
        ojson handlers = ojson::array();
        bool dropped = false;
        for (ojson& h : entry["hooks"]) {
          if (IsOurs(h, agent)) {
            ++*removed;
            dropped = true;
          } else {
            handlers.push_back(std::move(h));
          }
        }
        if (dropped && handlers.empty()) continue;
        entry["hooks"] = std::move(handlers);
        kept.push_back(std::move(entry));
      } else if (!wiring.grouped && IsOurs(entry, agent)) {
        ++*removed;
      } else {
        kept.push_back(std::move(entry));
      }
    }
    if (!uninstall) {
      // Cursor runs only the first hook of an event in some versions: go first.
      if (wiring.grouped) {
        kept.push_back(desired);
      } else {
        kept.insert(kept.begin(), desired);
      }
    }
    list = std::move(kept);
    touched = true;
    if (list.empty()) hooks.erase(event);
  }
  if (hooks.empty() && (uninstall || touched)) root->erase("hooks");
  if (!uninstall && agent == Agent::kCursor && !root->contains("version")) {
    // Cursor requires "version": 1; put it first, as its docs do.
    ojson with_version{{"version", 1}};
    for (auto& [key, value] : root->items()) with_version[key] = value;
    *root = std::move(with_version);
  }
  return true;
}

bool WriteAtomically(const std::string& path, const std::string& text, std::string* error) {
  std::error_code ec;
  fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  std::string temp = path + ".dualkey-tmp-" + std::to_string(getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      *error = "cannot write " + temp;
      return false;
    }
  }
  struct stat info;
  if (stat(path.c_str(), &info) == 0) chmod(temp.c_str(), info.st_mode & 07777);
  if (rename(temp.c_str(), path.c_str()) != 0) {
    std::remove(temp.c_str());
    *error = "cannot replace " + path;
    return false;
  }
  return true;
}

std::string BackupPath(const std::string& path, const std::string& stamp) {
  std::string base = path + ".dualkey-backup-" + stamp;
  std::error_code ec;
  std::string candidate = base;
  for (int i = 1; fs::exists(candidate, ec) && i < 1000; ++i)
    candidate = base + "-" + std::to_string(i);
  return candidate;
}

bool VersionAtLeast(const std::vector<int>& version, const int (&minimum)[3]) {
  for (std::size_t i = 0; i < 3; ++i) {
    int part = i < version.size() ? version[i] : 0;
    if (part != minimum[i]) return part > minimum[i];
  }
  return true;
}

// Where to look next after installing, per agent.
std::string HowToCheck(Agent agent) {
  switch (agent) {
    case Agent::kClaude:
      return "Restart Claude Code (it snapshots hooks at startup) and review it in /hooks.";
    case Agent::kCursor:
      return "Restart Cursor (no hot reload); project hooks run only in trusted workspaces.";
    case Agent::kCodex:
      return "Codex runs only hooks you trusted: open /hooks in Codex and trust this one "
             "(hooks need Codex 0.124.0 or later, or [features] codex_hooks = true before).";
    case Agent::kGemini:
      return "Restart Gemini CLI; older builds also need \"tools\": {\"enableHooks\": true}.";
  }
  return "";
}

std::string Describe(Agent agent, const ojson& handler) {
  const Wiring wiring = WiringFor(agent);
  std::string out;
  for (const std::string& event : wiring.events) {
    out += "  " + event;
    if (wiring.grouped) out += " (matcher " + wiring.matcher + ")";
    out += ": " + handler["command"].get<std::string>();
    if (handler.contains("failClosed")) out += "  [failClosed: true]";
    if (handler.contains("onFailure")) out += "  [onFailure: block]";
    out += "\n";
  }
  return out;
}

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

// ---------------------------------------------------------------------------
// Codex's managed hooks: a marked block of TOML in requirements.toml. The
// rest of the file is the administrator's and is kept byte for byte.

constexpr std::string_view kTomlBegin =
    "# >>> dualkey: written by `dualkey setup`; `sudo dualkey setup --remove` takes it out\n";
constexpr std::string_view kTomlEnd = "# <<< dualkey\n";

std::string TomlString(const std::string& text) {
  std::ostringstream out;
  out << toml::value<std::string>(text);
  return out.str();
}

std::string CodexTomlBlock(const std::string& command) {
  const Wiring wiring = WiringFor(Agent::kCodex);
  std::string block(kTomlBegin);
  block += "[[hooks.PreToolUse]]\nmatcher = " + TomlString(wiring.matcher) + "\n\n";
  block += "[[hooks.PreToolUse.hooks]]\ntype = \"command\"\ncommand = " + TomlString(command) +
           "\ntimeout = " + std::to_string(kHookTimeoutSeconds) + "\n";
  block += kTomlEnd;
  return block;
}

// `text` without our block; `found` says whether there was one.
std::string WithoutTomlBlock(const std::string& text, bool* found) {
  *found = false;
  const std::size_t begin = text.find(kTomlBegin);
  if (begin == std::string::npos) return text;
  const std::size_t end = text.find(kTomlEnd, begin);
  if (end == std::string::npos) return text;  // a damaged block: leave the file alone
  *found = true;
  std::string out = text.substr(0, begin) + text.substr(end + kTomlEnd.size());
  // The blank line put before the block.
  if (begin >= 2 && out[begin - 1] == '\n' && out[begin - 2] == '\n') out.erase(begin - 1, 1);
  return out;
}

std::vector<std::string> TomlHookCommands(const toml::table& root) {
  std::vector<std::string> commands;
  const toml::array* groups = root["hooks"]["PreToolUse"].as_array();
  if (groups == nullptr) return commands;
  for (const toml::node& group : *groups) {
    const toml::table* table = group.as_table();
    if (table == nullptr) continue;
    const toml::array* handlers = (*table)["hooks"].as_array();
    if (handlers == nullptr) continue;
    for (const toml::node& handler : *handlers) {
      const toml::table* h = handler.as_table();
      if (h == nullptr) continue;
      if (auto command = (*h)["command"].value<std::string>()) commands.push_back(*command);
    }
  }
  return commands;
}

CommandOutput InstallCodexToml(const InstallRequest& request, const std::string& path,
                               const std::string& command) {
  CommandOutput result;
  std::string text;
  std::error_code ec;
  const bool exists = fs::exists(path, ec);
  if (exists && !ReadFile(path, &text)) {
    result.exit_code = 2;
    result.err = "dualkey: cannot read " + path + "\n";
    return result;
  }
  bool found = false;
  std::string base = WithoutTomlBlock(text, &found);
  std::string updated = base;
  if (!request.uninstall) {
    if (!updated.empty() && updated.back() != '\n') updated += "\n";
    if (!updated.empty()) updated += "\n";
    updated += CodexTomlBlock(command);
  }
  if (updated == text || (!exists && request.uninstall)) {
    result.out = request.uninstall ? "dualkey: no dualkey hook in " + path + "; nothing changed.\n"
                                   : "dualkey: the codex hook is already installed in " + path +
                                         "; nothing changed.\n";
    return result;
  }
  try {
    (void)base::ParseToml(updated, path);
  } catch (const toml::parse_error& e) {
    result.exit_code = 2;
    result.err = "dualkey: cannot add dualkey's hook to " + path +
                 ": the result would not parse (" + std::string(e.description()) + " at line " +
                 std::to_string(e.source().begin.line) +
                 "); its hooks are defined in a form dualkey does not edit (nothing was changed)\n";
    return result;
  }
  result.changed = true;
  if (request.dry_run) {
    result.out = "dualkey: dry run; would write " + path + ":\n" + updated;
    return result;
  }
  std::string error;
  if (!WriteAtomically(path, updated, &error)) {
    result.exit_code = 2;
    result.err = "dualkey: " + error + "\n";
    return result;
  }
  if (!exists) chmod(path.c_str(), 0644);
  result.out = request.uninstall ? "dualkey: removed the dualkey hook from " + path + "\n"
                                 : "dualkey: installed the codex hook in " + path + "\n" +
                                       "  PreToolUse (matcher " + WiringFor(Agent::kCodex).matcher +
                                       "): " + command + "  [managed: trusted by policy]\n";
  return result;
}

bool IsOursCommand(const std::string& command, Agent agent) {
  nlohmann::json handler{{"command", command}};
  return IsOurs(handler, agent);
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

std::vector<int> ParseVersion(const std::string& text) {
  std::vector<int> version;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') continue;
    std::size_t j = i;
    std::vector<int> parts;
    while (j < text.size() && parts.size() < 4) {
      int value = 0;
      std::size_t start = j;
      while (j < text.size() && text[j] >= '0' && text[j] <= '9' && j - start < 9)
        value = value * 10 + (text[j++] - '0');
      parts.push_back(value);
      if (j < text.size() && text[j] == '.' && j + 1 < text.size() && text[j + 1] >= '0' &&
          text[j + 1] <= '9') {
        ++j;
        continue;
      }
      break;
    }
    if (parts.size() >= 2) return parts;
    i = j;
  }
  return version;
}

std::string ConfigPath(Agent agent, bool project, const std::string& project_dir,
                       const std::string& home) {
  const std::string base = project ? project_dir : home;
  switch (agent) {
    case Agent::kClaude:
      return base + "/.claude/settings.json";
    case Agent::kCursor:
      return base + "/.cursor/hooks.json";
    case Agent::kCodex:
      return base + "/.codex/hooks.json";
    case Agent::kGemini:
      return base + "/.gemini/settings.json";
  }
  return "";
}

std::string HookCommand(const std::string& binary, Agent agent) {
  bool plain = !binary.empty();
  for (char c : binary) {
    bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '/' || c == '.' || c == '_' || c == '-' || c == '+' || c == ':' || c == '@';
    if (!safe) plain = false;
  }
  std::string quoted;
  if (plain) {
    quoted = binary;
  } else {
    quoted = "'";
    for (char c : binary) {
      if (c == '\'') {
        quoted += "'\\''";
      } else {
        quoted.push_back(c);
      }
    }
    quoted += "'";
  }
  return quoted + " hook " + std::string(ToString(agent));
}

std::string ManagedConfigPath(Agent agent) {
  switch (agent) {
    case Agent::kClaude:
      return "/etc/claude-code/managed-settings.json";
    case Agent::kCursor:
      return "/etc/cursor/hooks.json";
    case Agent::kCodex:
      return "/etc/codex/requirements.toml";
    case Agent::kGemini:
      return "/etc/gemini-cli/settings.json";
  }
  return "";
}

std::string HookBinary(const std::string& command) {
  std::string text = Trim(command);
  if (text.empty()) return "";
  std::string binary;
  std::size_t i = 0;
  if (text[0] == '\'') {
    // 'a'\''b' quoting, as HookCommand writes it.
    while (i < text.size()) {
      if (text[i] == '\'') {
        std::size_t close = text.find('\'', i + 1);
        if (close == std::string::npos) return "";
        binary += text.substr(i + 1, close - i - 1);
        i = close + 1;
        if (text.compare(i, 2, "\\'") == 0) {
          binary += '\'';
          i += 2;
          continue;
        }
        if (i < text.size() && text[i] == '\'') continue;
        break;
      }
      break;
    }
    return binary;
  }
  const std::size_t space = text.find_first_of(" \t");
  return text.substr(0, space);
}

std::string BuildTreeWarning(const std::string& binary) {
  if (binary.empty() || binary[0] != '/') return "";
  std::error_code ec;
  fs::path dir = fs::path(binary).parent_path();
  for (int depth = 0; depth < 64 && !dir.empty(); ++depth) {
    if (fs::exists(dir / "CMakeCache.txt", ec))
      return binary + " is inside a build tree (" + dir.string() +
             "): a rebuild, `git clean` or deleting the clone removes it, and then the agent's "
             "hook cannot start and the agent runs every call unchecked. Fix: sudo dualkey setup "
             "(or cmake --install build, then dualkey install AGENT --binary "
             "/usr/local/bin/dualkey)";
    if (fs::exists(dir / ".git", ec))
      return binary + " is inside a source checkout (" + dir.string() +
             "): deleting the clone removes it, and then the agent's hook cannot start and the "
             "agent runs every call unchecked. Fix: sudo dualkey setup";
    if (dir == dir.root_path()) break;
    dir = dir.parent_path();
  }
  return "";
}

bool UserCanReplace(const std::string& path, bool self) {
  // The file itself, then each directory above it: write access to any of
  // them lets this user change what the path holds (rename, replace).
  std::string current = path;
  bool first = true;
  while (!current.empty()) {
    struct stat st {};
    if (first && !self) {
      // Only the directories above count.
    } else if (lstat(current.c_str(), &st) == 0) {
      if (S_ISLNK(st.st_mode) && st.st_uid == geteuid()) return true;  // their symlink
      if (!S_ISLNK(st.st_mode)) {
        const bool writable = faccessat(AT_FDCWD, current.c_str(), W_OK, AT_EACCESS) == 0;
        if (writable) {
          // A sticky directory (like /tmp) lets others' files alone.
          if (first || !(S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX)) || st.st_uid == geteuid())
            return true;
        }
      }
    }
    if (current == "/") break;
    const std::size_t slash = current.find_last_of('/');
    if (slash == std::string::npos) break;
    current = slash == 0 ? "/" : current.substr(0, slash);
    first = false;
  }
  return false;
}

CommandOutput Install(const InstallRequest& request) {
  CommandOutput result;
  const std::string agent_name(ToString(request.agent));
  const std::string base = request.project ? request.project_dir : request.home;
  if (request.config_path.empty() && (base.empty() || base[0] != '/')) {
    result.exit_code = 2;
    result.err = std::string("dualkey: no ") + (request.project ? "project directory" : "home") +
                 " to install into\n";
    return result;
  }
  const std::string path =
      !request.config_path.empty()
          ? request.config_path
          : ConfigPath(request.agent, request.project, request.project_dir, request.home);
  const std::string build_tree = request.uninstall ? "" : BuildTreeWarning(request.binary);
  const std::string build_tree_note = build_tree.empty() ? "" : "warning: " + build_tree + "\n";
  if (request.agent == Agent::kCodex && path.ends_with(".toml")) {
    CommandOutput toml_result =
        InstallCodexToml(request, path, HookCommand(request.binary, request.agent));
    toml_result.out += build_tree_note;
    return toml_result;
  }
  Loaded loaded = LoadConfig(path);
  if (!loaded.ok) {
    result.exit_code = 2;
    result.err = "dualkey: " + loaded.error + "\n";
    return result;
  }
  if (request.uninstall && !loaded.exists) {
    result.out = "dualkey: " + path + " does not exist; nothing to remove.\n";
    return result;
  }

  bool on_failure = false;
  std::string version_note;
  if (request.agent == Agent::kClaude && !request.uninstall) {
    std::string version_text = request.agent_version;
    if (version_text.empty()) {
      base::ProcessResult run = base::RunProcess({"claude", "--version"}, "", "", 3000);
      if (run.exit_code == 0) version_text = run.out;
    }
    std::vector<int> version = ParseVersion(version_text);
    on_failure = !version.empty() && VersionAtLeast(version, kClaudeOnFailureVersion);
    if (version.empty()) {
      version_note =
          "note: Claude Code's version is unknown, so onFailure \"block\" (2.1.295+) was not set; "
          "a crashed or slow hook then lets the call run. Re-run with --agent-version.\n";
    } else if (!on_failure) {
      version_note =
          "note: this Claude Code is older than 2.1.295 and has no onFailure \"block\": "
          "a crashed or slow hook lets the call run.\n";
    }
  }

  std::string binary = request.binary;
  const ojson handler = HandlerFor(request.agent, HookCommand(binary, request.agent), on_failure);
  ojson updated = loaded.root;
  int removed = 0;
  std::string error;
  if (!Apply(request.agent, request.uninstall, handler, &updated, &removed, &error)) {
    result.exit_code = 2;
    result.err = "dualkey: cannot edit " + path + ": " + error + " (nothing was changed)\n";
    return result;
  }
  const bool changed =
      !loaded.exists ? !updated.empty() || !request.uninstall : updated != loaded.root;
  if (!changed) {
    result.out = request.uninstall
                     ? "dualkey: no dualkey hook in " + path + "; nothing changed.\n"
                     : "dualkey: the " + agent_name + " hook is already installed in " + path +
                           "; nothing changed.\n" + Describe(request.agent, handler) +
                           version_note + build_tree_note + "Check it: dualkey doctor\n";
    return result;
  }
  result.changed = true;
  const std::string text = updated.dump(2, ' ', false, ojson::error_handler_t::replace) + "\n";
  if (request.dry_run) {
    result.out = "dualkey: dry run; would write " + path + ":\n" + text + build_tree_note;
    return result;
  }
  std::string backup;
  if (loaded.exists) {
    backup = BackupPath(path, Now(request.timestamp));
    std::error_code ec;
    fs::copy_file(path, backup, fs::copy_options::none, ec);
    if (ec) {
      result.exit_code = 2;
      result.err = "dualkey: cannot back up " + path + " to " + backup + ": " + ec.message() +
                   " (nothing was changed)\n";
      return result;
    }
  }
  if (!WriteAtomically(path, text, &error)) {
    result.exit_code = 2;
    result.err = "dualkey: " + error + "\n";
    return result;
  }
  if (!loaded.exists && !request.config_path.empty()) chmod(path.c_str(), 0644);
  std::string out;
  if (request.uninstall) {
    out = "dualkey: removed " + std::to_string(removed) + " dualkey hook entr" +
          (removed == 1 ? "y" : "ies") + " from " + path + "\n";
  } else {
    out = "dualkey: installed the " + agent_name + " hook in " + path + "\n" +
          Describe(request.agent, handler);
  }
  if (!backup.empty()) out += "  backup of the previous file: " + backup + "\n";
  if (loaded.had_comments)
    out += "note: the comments in the file were dropped; the backup keeps them.\n";
  out += version_note;
  out += build_tree_note;
  if (!request.uninstall) out += HowToCheck(request.agent) + "\nCheck it: dualkey doctor\n";
  if (!request.uninstall && request.config_path.empty()) {
    Result<install::Layout> layout = install::CurrentLayout();
    if (layout.ok() && !layout->protected_install)
      out +=
          "Single-user mode, for trying dualkey out: an agent running as you can edit this "
          "file, dualkey's state and its policy. For real use: sudo dualkey setup\n";
  }
  result.out = std::move(out);
  return result;
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
