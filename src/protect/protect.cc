#include "protect/protect.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <tuple>
#include <vector>

#include "paths/names.h"

namespace dualkey::protect {
namespace {

using std::string_view;

bool IsSameOrUnder(string_view path, string_view dir) {
  if (dir.empty()) return false;
  if (dir == "/") return !path.empty() && path[0] == '/';
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  if (!path.starts_with(dir)) return false;
  return path.size() == dir.size() || path[dir.size()] == '/';
}

std::string Join(string_view dir, string_view rest) {
  std::string out(dir);
  if (out.empty() || out.back() != '/') out.push_back('/');
  out.append(rest);
  return out;
}

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && value[0] == '/' ? std::string(value) : std::string();
}

// Locations that do not depend on the home, read once.
struct Fixed {
  std::vector<std::string> state_dirs{"/var/lib/dualkey"};
  std::vector<std::string> config_dirs{"/etc/dualkey"};
  std::vector<std::string> sockets{"/run/dualkey"};
  std::vector<std::string> binaries{"/usr/local/bin/dualkey", "/usr/bin/dualkey",
                                    "/opt/dualkey/bin/dualkey"};
  std::string xdg_state;   // $XDG_STATE_HOME/dualkey
  std::string xdg_config;  // $XDG_CONFIG_HOME/dualkey

  Fixed() {
    if (std::string dir = Env("DUALKEY_STATE_DIR"); !dir.empty()) state_dirs.push_back(dir);
    if (std::string xdg = Env("XDG_STATE_HOME"); !xdg.empty()) xdg_state = xdg + "/dualkey";
    if (std::string xdg = Env("XDG_CONFIG_HOME"); !xdg.empty()) xdg_config = xdg + "/dualkey";
    if (!xdg_state.empty()) state_dirs.push_back(xdg_state);
    if (!xdg_config.empty()) config_dirs.push_back(xdg_config);
    if (std::string socket = Env("DUALKEY_SOCKET"); !socket.empty()) sockets.push_back(socket);
    // The running binary, when it is dualkey (the hook, the daemon, check).
    char buffer[4096];
    ssize_t n = readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
    if (n > 0) {
      string_view exe(buffer, static_cast<std::size_t>(n));
      if (paths::BaseName(exe) == "dualkey") binaries.emplace_back(exe);
    }
  }
};

const Fixed& Locations() {
  static const Fixed fixed;
  return fixed;
}

// Files inside the state that only record or coordinate: reading them is
// fine (the audit log is meant to be read and verified).
bool IsReadableStateFile(string_view base) {
  return base.ends_with(".jsonl") || base.find(".jsonl.") != string_view::npos ||
         base.ends_with(".log") || base.ends_with(".pid") || base.ends_with(".sock") ||
         base.ends_with(".lock") || base == "vault" || base == "README" || base.ends_with(".md");
}

Place StatePlace(string_view path, string_view dir) {
  if (path == dir) return {Kind::kGuardState, "dualkey's state directory"};
  string_view base = paths::BaseName(path);
  if (base.ends_with(".sock")) return {Kind::kGuardSocket, "dualkey's socket"};
  string_view rel = path.substr(dir.size() + 1);
  if (rel.starts_with("vault")) return {Kind::kGuardState, "dualkey's vault"};
  if (IsReadableStateFile(base)) {
    if (base.starts_with("audit")) return {Kind::kGuardState, "dualkey's audit log"};
    return {Kind::kGuardState, "dualkey's state"};
  }
  if (base.ends_with(".key") || base.find("key") != string_view::npos)
    return {Kind::kGuardSecret, "dualkey's keys"};
  if (rel.starts_with("credentials")) return {Kind::kGuardSecret, "dualkey's credential store"};
  return {Kind::kGuardSecret, "dualkey's store (approver secrets and approvals)"};
}

// Agents' hook configurations, by parent directory and file name.
struct AgentFile {
  string_view dir;   // the directory's own name
  string_view file;  // exact name, or a prefix when it ends with '*'
};
constexpr AgentFile kAgentFiles[] = {
    {".claude", "settings*.json"},
    {".cursor", "hooks.json"},
    {".codex", "hooks.json"},
    {".codex", "config.toml"},
    {".codex", "requirements.toml"},
    {".gemini", "settings.json"},
    {"ClaudeCode", "managed-settings*.json"},
    {"claude-code", "managed-settings*.json"},
    {"Cursor", "hooks.json"},
    {"gemini-cli", "settings.json"},
    {"codex", "managed_config.toml"},
    {"codex", "config.toml"},
};

bool NameMatches(string_view pattern, string_view name) {
  std::size_t star = pattern.find('*');
  if (star == string_view::npos) return pattern == name;
  return name.starts_with(pattern.substr(0, star)) && name.ends_with(pattern.substr(star + 1)) &&
         name.size() >= pattern.size() - 1;
}

bool IsAgentHooks(string_view path) {
  string_view base = paths::BaseName(path);
  string_view parent = paths::BaseName(paths::DirName(path));
  for (const AgentFile& file : kAgentFiles)
    if (parent == file.dir && NameMatches(file.file, base)) return true;
  // Plugin hooks: .../.claude/plugins/<plugin>/hooks/hooks.json
  if (base == "hooks.json" && parent == "hooks" && path.find("/.claude/") != string_view::npos)
    return true;
  return false;
}

// Startup files, relative to the home or absolute.
constexpr string_view kHomeStartup[] = {
    ".bashrc",          ".bash_profile", ".bash_login", ".profile",
    ".zshrc",           ".zprofile",     ".zshenv",     ".zlogin",
    ".kshrc",           ".mkshrc",       ".cshrc",      ".tcshrc",
    ".pam_environment", ".xprofile",     ".xsessionrc", ".config/fish/config.fish",
};
constexpr string_view kHomeStartupDirs[] = {".config/environment.d",
                                            ".config/fish/conf.d",
                                            ".config/systemd/user.conf.d",
                                            ".bashrc.d",
                                            ".zshrc.d",
                                            ".config/zsh"};
constexpr string_view kSystemStartup[] = {
    "/etc/environment",     "/etc/profile",      "/etc/bash.bashrc", "/etc/bashrc",
    "/etc/zshenv",          "/etc/zprofile",     "/etc/zshrc",       "/etc/zsh/zshenv",
    "/etc/zsh/zshrc",       "/etc/zsh/zprofile", "/etc/login.defs",  "/etc/security/pam_env.conf",
    "/etc/fish/config.fish"};
constexpr string_view kSystemStartupDirs[] = {"/etc/profile.d", "/etc/environment.d",
                                              "/etc/fish/conf.d", "/etc/systemd/user.conf.d",
                                              "/etc/systemd/system.conf.d"};

bool IsStartupFile(string_view path, string_view home) {
  for (string_view file : kSystemStartup)
    if (path == file) return true;
  for (string_view dir : kSystemStartupDirs)
    if (IsSameOrUnder(path, dir) && path != dir) return true;
  if (home.empty() || !IsSameOrUnder(path, home) || path.size() <= home.size() + 1) return false;
  string_view rel = path.substr(home.size() + 1);
  for (string_view file : kHomeStartup)
    if (rel == file) return true;
  for (string_view dir : kHomeStartupDirs)
    if (IsSameOrUnder(rel, dir) && rel != dir) return true;
  return false;
}

bool HasComponent(string_view path, string_view name) {
  std::size_t at = 0;
  while ((at = path.find(name, at)) != string_view::npos) {
    const bool starts = at > 0 && path[at - 1] == '/';
    const std::size_t end = at + name.size();
    if (starts && (end == path.size() || path[end] == '/')) return true;
    ++at;
  }
  return false;
}

}  // namespace

Place Classify(std::string_view path, std::string_view home) {
  if (path.empty() || path[0] != '/') return {};
  const Fixed& fixed = Locations();
  while (home.size() > 1 && home.back() == '/') home.remove_suffix(1);
  for (const std::string& binary : fixed.binaries)
    if (path == binary) return {Kind::kGuardBinary, "dualkey's binary"};
  for (const std::string& socket : fixed.sockets)
    if (IsSameOrUnder(path, socket)) return {Kind::kGuardSocket, "dualkey's socket"};
  for (const std::string& dir : fixed.state_dirs)
    if (IsSameOrUnder(path, dir)) return StatePlace(path, dir);
  if (!home.empty() && home != "/" && IsSameOrUnder(path, home) && path.size() > home.size() + 1) {
    // Below the home, without building strings: the path's part after it.
    const string_view rel = path.substr(home.size() + 1);
    constexpr string_view kState = ".local/state/dualkey";
    if (IsSameOrUnder(rel, kState) || (rel.starts_with(kState) && rel.size() == kState.size()))
      return StatePlace(path, path.substr(0, home.size() + 1 + kState.size()));
    if (IsSameOrUnder(rel, ".config/dualkey") ||
        (rel.starts_with(".config/dualkey") && rel.size() == 15))
      return {Kind::kGuardPolicy, "dualkey's policy"};
  }
  for (const std::string& dir : fixed.config_dirs)
    if (IsSameOrUnder(path, dir)) return {Kind::kGuardPolicy, "dualkey's policy"};
  const string_view base = paths::BaseName(path);
  if (path.find("dualkey") != string_view::npos) {
    if (base == ".dualkey.toml") return {Kind::kGuardPolicy, "a project's dualkey policy"};
    if (HasComponent(path, ".dualkey")) return {Kind::kGuardPolicy, "a project's dualkey packs"};
  }
  // The agents' files and the startup files have telling names: skip the
  // tables for every other path.
  if ((base.ends_with(".json") || base.ends_with(".toml")) &&
      (path.find("laude") != string_view::npos || path.find("ursor") != string_view::npos ||
       path.find("codex") != string_view::npos || path.find("gemini") != string_view::npos) &&
      IsAgentHooks(path))
    return {Kind::kAgentHooks, "an agent's hook settings"};
  if ((path.starts_with("/etc/") || (!base.empty() && base[0] == '.') ||
       path.find("/.config/") != string_view::npos || path.find("rc.d/") != string_view::npos) &&
      IsStartupFile(path, home))
    return {Kind::kStartupFile, "a shell startup file"};
  return {};
}

bool ContainsGuard(std::string_view dir, std::string_view home, Place* place) {
  if (dir.empty() || dir[0] != '/') return false;
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  while (home.size() > 1 && home.back() == '/') home.remove_suffix(1);
  // The root, a home or a directory above homes: deleting those is already
  // the worst case the file system rules hold (`rm -rf ~`, `rm -rf /`), and
  // says so more plainly than "reaches dualkey's state".
  if (dir == "/" || (!home.empty() && IsSameOrUnder(home, dir))) return false;
  if (dir == "/home" || dir == "/Users" || dir == "/root") return false;
  const Fixed& fixed = Locations();
  auto related = [&](string_view root) {
    return IsSameOrUnder(root, dir) || IsSameOrUnder(dir, root);
  };
  for (const std::string& root : fixed.state_dirs)
    if (related(root)) return *place = {Kind::kGuardState, "dualkey's state"}, true;
  for (const std::string& root : fixed.config_dirs)
    if (related(root)) return *place = {Kind::kGuardPolicy, "dualkey's policy"}, true;
  for (const std::string& root : fixed.sockets)
    if (related(root)) return *place = {Kind::kGuardSocket, "dualkey's socket"}, true;
  for (const std::string& root : fixed.binaries)
    if (IsSameOrUnder(root, dir)) return *place = {Kind::kGuardBinary, "dualkey's binary"}, true;
  if (!home.empty() && home != "/") {
    if (IsSameOrUnder(dir, home)) {
      const string_view rel = dir.substr(home.size() + 1);
      struct Root {
        string_view rel;
        Place place;
      };
      static constexpr Root kRoots[] = {
          {".local/state/dualkey", {Kind::kGuardState, "dualkey's state"}},
          {".config/dualkey", {Kind::kGuardPolicy, "dualkey's policy"}},
          {".claude", {Kind::kAgentHooks, "an agent's hook settings"}},
          {".cursor", {Kind::kAgentHooks, "an agent's hook settings"}},
          {".codex", {Kind::kAgentHooks, "an agent's hook settings"}},
          {".gemini", {Kind::kAgentHooks, "an agent's hook settings"}},
      };
      for (const Root& root : kRoots)
        if (IsSameOrUnder(root.rel, rel) || IsSameOrUnder(rel, root.rel))
          return *place = root.place, true;
    }
  }
  // A project's .claude/.cursor/.codex/.gemini or .dualkey directory itself.
  string_view base = paths::BaseName(dir);
  if (base == ".claude" || base == ".cursor" || base == ".codex" || base == ".gemini") {
    *place = {Kind::kAgentHooks, "an agent's hook settings"};
    return true;
  }
  if (base == ".dualkey") {
    *place = {Kind::kGuardPolicy, "a project's dualkey packs"};
    return true;
  }
  return false;
}

bool SetsGuardEnvironment(std::string_view text) {
  if (text.find("DUALKEY_") != string_view::npos) return true;
  if (text.find("XDG_CONFIG_HOME") != string_view::npos ||
      text.find("XDG_STATE_HOME") != string_view::npos)
    return true;
  // PATH=..., export PATH=..., set -x PATH ..., path+=(...), fish_add_path.
  if (text.find("fish_add_path") != string_view::npos) {
    std::size_t at = text.find("fish_add_path");
    string_view rest = text.substr(at + 13);
    return rest.find(" -a") == string_view::npos && rest.find("--append") == string_view::npos;
  }
  if (text.find("path+=") != string_view::npos || text.find("path=(") != string_view::npos)
    return true;
  std::size_t at = 0;
  while ((at = text.find("PATH", at)) != string_view::npos) {
    const bool word_start =
        at == 0 || !(std::isalnum(static_cast<unsigned char>(text[at - 1])) || text[at - 1] == '_');
    std::size_t after = at + 4;
    at = after;
    if (!word_start) continue;
    while (after < text.size() && (text[after] == ' ' || text[after] == '\t')) ++after;
    string_view value;
    if (after < text.size() && text[after] == '=') {
      value = text.substr(after + 1);
    } else if (text.substr(0, at).ends_with("set -x PATH") ||
               text.substr(0, at).ends_with("set -gx PATH") ||
               text.substr(0, at).ends_with("setenv PATH")) {
      value = text.substr(after);
    } else {
      continue;
    }
    while (!value.empty() && (value[0] == '"' || value[0] == '\'' || value[0] == ' '))
      value.remove_prefix(1);
    // Appending keeps the existing order: PATH=$PATH:/x.
    if (value.starts_with("$PATH") || value.starts_with("${PATH}") || value.starts_with("$path"))
      continue;
    return true;
  }
  return false;
}

Place TextMentions(std::string_view text, std::string_view home) {
  struct Needle {
    string_view text;
    Place place;
  };
  static constexpr Needle kNeedles[] = {
      {".local/state/dualkey", {Kind::kGuardSecret, "dualkey's state"}},
      {"/var/lib/dualkey", {Kind::kGuardSecret, "dualkey's state"}},
      {"audit.key", {Kind::kGuardSecret, "dualkey's audit key"}},
      {"state.sqlite", {Kind::kGuardSecret, "dualkey's store"}},
      {".config/dualkey", {Kind::kGuardPolicy, "dualkey's policy"}},
      {"/etc/dualkey", {Kind::kGuardPolicy, "dualkey's policy"}},
      {"dualkey/policy.toml", {Kind::kGuardPolicy, "dualkey's policy"}},
      {".dualkey.toml", {Kind::kGuardPolicy, "a project's dualkey policy"}},
      {"/run/dualkey", {Kind::kGuardSocket, "dualkey's socket"}},
      {"/usr/local/bin/dualkey", {Kind::kGuardBinary, "dualkey's binary"}},
      {".claude/settings", {Kind::kAgentHooks, "Claude Code's settings"}},
      {"managed-settings.json", {Kind::kAgentHooks, "Claude Code's managed settings"}},
      {".cursor/hooks.json", {Kind::kAgentHooks, "Cursor's hooks"}},
      {".codex/hooks.json", {Kind::kAgentHooks, "Codex's hooks"}},
      {".codex/config.toml", {Kind::kAgentHooks, "Codex's config"}},
      {".gemini/settings.json", {Kind::kAgentHooks, "Gemini CLI's settings"}},
  };
  for (const Needle& needle : kNeedles)
    if (text.find(needle.text) != string_view::npos) return needle.place;
  // Split spellings: Path.home() / ".claude" / "settings.json",
  // os.path.join(home, '.claude', 'settings.json').
  for (auto [dir, file, what] : {std::tuple{".claude", "settings", "Claude Code's settings"},
                                 {".cursor", "hooks.json", "Cursor's hooks"},
                                 {".codex", "hooks.json", "Codex's hooks"},
                                 {".gemini", "settings.json", "Gemini CLI's settings"},
                                 {"dualkey", "policy.toml", "dualkey's policy"}}) {
    std::size_t d = text.find(dir);
    if (d != string_view::npos && text.find(file, d) != string_view::npos &&
        string_view(dir) != "dualkey")
      return {Kind::kAgentHooks, what};
    if (d != string_view::npos && string_view(dir) == "dualkey" &&
        text.find(file, d) != string_view::npos && text.find(".config") != string_view::npos)
      return {Kind::kGuardPolicy, what};
  }
  (void)home;
  return {};
}

bool CodeWrites(std::string_view code) {
  static constexpr string_view kWrites[] = {
      "'w'",
      "\"w\"",
      "'a'",
      "\"a\"",
      "'w+'",
      "\"w+\"",
      "'r+'",
      "\"r+\"",
      "'wb'",
      "\"wb\"",
      "'ab'",
      "\"ab\"",
      "write",
      "dump(",
      "unlink",
      "remove",
      "rmtree",
      "rename",
      "replace(",
      "truncate",
      "chmod",
      "chown",
      "symlink",
      "system(",
      "subprocess",
      "popen",
      "exec",
      "spawn",
      "writeFile",
      "appendFile",
      "rmSync",
      "rmdir",
      "copyFile",
      "copy(",
      "copy2",
      "copyfile",
      "move(",
      "shutil",
      "FileUtils",
      "File.open",
      "IO.write",
      "File.write",
      "file_put_contents",
      "fopen",
      "print >",
      ">>",
      "Set-Content",
      "Out-File",
      "Remove-Item",
      "del ",
      "delete",
      "os.replace",
      "touch(",
  };
  for (string_view needle : kWrites)
    if (code.find(needle) != string_view::npos) return true;
  return false;
}

std::string ResolveLiteral(std::string_view path, std::string_view cwd, std::string_view home) {
  std::string joined;
  if (path.starts_with("~/") || path == "~") {
    joined = std::string(home) + std::string(path.substr(1));
  } else if (!path.empty() && path[0] == '/') {
    joined = std::string(path);
  } else if (!cwd.empty() && cwd[0] == '/') {
    joined = Join(cwd, path);
  } else {
    return std::string(path);
  }
  std::vector<string_view> parts;
  string_view rest = joined;
  while (!rest.empty()) {
    std::size_t slash = rest.find('/');
    string_view part = rest.substr(0, slash);
    rest = slash == string_view::npos ? string_view() : rest.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (string_view part : parts) {
    out.push_back('/');
    out.append(part);
  }
  return out.empty() ? "/" : out;
}

bool IsCredentialFile(std::string_view path, std::string_view home) {
  const string_view base = paths::BaseName(path);
  const string_view parent = paths::BaseName(paths::DirName(path));
  auto is_env_file = [](string_view name) {
    if (name == ".env" || name == ".envrc") return true;
    if (name.starts_with(".env.")) {
      string_view suffix = name.substr(5);
      for (string_view placeholder :
           {"example", "sample", "template", "dist", "defaults", "schema", "tpl"})
        if (suffix == placeholder) return false;
      return true;
    }
    return name.size() > 4 && name.ends_with(".env");
  };
  if (is_env_file(base)) return true;
  static constexpr std::array<string_view, 8> kNames = {".pgpass",  ".netrc", ".git-credentials",
                                                        ".pypirc",  "id_rsa", "id_ed25519",
                                                        "id_ecdsa", "id_dsa"};
  if (std::find(kNames.begin(), kNames.end(), base) != kNames.end()) return true;
  if (parent == ".aws" && (base == "credentials" || base == "config")) return true;
  if (parent == ".kube" && base == "config") return true;
  if (parent == ".docker" && base == "config.json") return true;
  if (parent == ".railway" && base == "config.json") return true;
  if (parent == ".fly" && base == "config.yml") return true;
  if (parent == "gh" && base == "hosts.yml") return true;
  if (parent == "gcloud" && (base == "application_default_credentials.json" ||
                             base == "credentials.db" || base == "access_tokens.db"))
    return true;
  if (parent == ".azure" && (base == "accessTokens.json" || base == "msal_token_cache.json"))
    return true;
  if (base == "credentials.tfrc.json" || base == "kubeconfig") return true;
  if (base == "environ" && path.starts_with("/proc/")) return true;
  if (path.find("/dualkey/credentials/") != string_view::npos) return true;
  auto under = [&](string_view relative) {
    return !home.empty() && IsSameOrUnder(path, Join(home, relative));
  };
  if (under(".npmrc") || under(".ssh")) {
    // ~/.ssh: private keys and anything unrecognised; public keys and
    // known_hosts are not secrets.
    return !base.ends_with(".pub") && base != "known_hosts" && base != "known_hosts.old" &&
           base != "config" && base != "authorized_keys" && base != ".ssh";
  }
  return false;
}

}  // namespace dualkey::protect
