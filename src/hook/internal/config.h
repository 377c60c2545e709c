// What the hook installers (install.cc, install_mcp.cc) and the doctor
// (doctor.cc) share: where dualkey hooks in per agent, which handlers are
// ours, an agent config file as loaded and written.
#pragma once

#include <toml++/toml.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hook/hook.h"

namespace dualkey::hook::config {

using ojson = nlohmann::ordered_json;

// Where dualkey hooks in, per agent.
struct Wiring {
  std::vector<std::string> events;
  bool grouped = true;  // event -> [{matcher, hooks: [handler]}]; else event -> [handler]
  std::string matcher;  // grouped agents only
};

Wiring WiringFor(Agent agent);

std::string Trim(const std::string& text);

// Our handler: a command that runs a dualkey binary as `... hook AGENT`.
template <typename Json>
inline bool IsOurs(const Json& handler, Agent agent) {
  if (!handler.is_object()) return false;
  auto it = handler.find("command");
  if (it == handler.end() || !it->is_string()) return false;
  std::string command = Trim(it->template get<std::string>());
  std::string suffix = "hook " + std::string(ToString(agent));
  return command.find("dualkey") != std::string::npos && command.ends_with(suffix);
}

bool IsOursCommand(const std::string& command, Agent agent);

// An agent's JSON config as read: whether it exists and parsed, and whether
// it had comments (which rewriting would lose).
struct Loaded {
  bool exists = false;
  bool ok = false;
  bool had_comments = false;
  std::string error;
  ojson root;
};

Loaded LoadConfig(const std::string& path);

// Replaces `path` with `text` through a temporary file beside it (keeping
// the old file's mode), creating missing directories; false with `error`.
bool WriteAtomically(const std::string& path, const std::string& text, std::string* error);

// `path`.dualkey-backup-`stamp`, or with -1, -2, ... after it when taken.
std::string BackupPath(const std::string& path, const std::string& stamp);

// The commands of the hooks in a Codex requirements.toml.
std::vector<std::string> TomlHookCommands(const toml::table& root);

}  // namespace dualkey::hook::config
