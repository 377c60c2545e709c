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

#include "base/file_text.h"
#include "base/process.h"
#include "base/toml_text.h"
#include "hook/internal/config.h"
#include "install/layout.h"

namespace dualkey::hook {
namespace config {

namespace fs = std::filesystem;

// Claude Code 2.1.295 added `onFailure: "block"`: a hook that cannot start,
// times out or exits oddly blocks instead of letting the call through.
constexpr int kClaudeOnFailureVersion[] = {2, 1, 295};
// Longer than the hook's own watchdog (kWatchdogSeconds), so the agent never
// times out first (which fails open) while dualkey is still answering.
constexpr int kHookTimeoutSeconds = 10;

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
  if (!base::ReadFile(path, &text)) {
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
  const std::string temp = path + ".dualkey-tmp-" + std::to_string(getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      std::remove(temp.c_str());
      *error = "cannot write " + temp;
      return false;
    }
  }
  struct stat info {};
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
  if (exists && !base::ReadFile(path, &text)) {
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
}  // namespace config

using namespace config;  // NOLINT: the installer's own helpers

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
    backup = BackupPath(path, request.timestamp.empty() ? base::LocalStamp() : request.timestamp);
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

}  // namespace dualkey::hook
