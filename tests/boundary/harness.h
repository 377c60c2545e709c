// The attack suite's world: a private mount and PID namespace in which
// /etc, /var/lib, /run, /usr/local/bin and /home are overlays on a tmpfs, so
// the protected install this suite makes (users included) is seen by no
// other process on the machine and vanishes with the namespace; every
// process started here dies with it. Helpers play the agent (an ordinary
// user) and the human (root, the approver's TOTP secret).
#pragma once

#include <sys/types.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace dualkey::boundary {

// Set up by main() before the tests run; empty when it worked.
extern std::string g_namespace_error;
// Private mounts: / made private, a fresh /proc, overlays on a tmpfs at
// `scratch` over the directories the install touches.
bool PrepareNamespace(const std::string& scratch);

inline constexpr const char* kBinary = "/usr/local/bin/dualkey";
inline constexpr const char* kStateDir = "/var/lib/dualkey";
inline constexpr const char* kSocket = "/run/dualkey/dualkey.sock";
inline constexpr const char* kPidFile = "/run/dualkey/dualkey.pid";

struct User {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
};

struct Ran {
  int exit_code = -1;  // -1: killed or not started
  std::string out, err;
  std::string all() const { return out + err; }
};

// argv run as root (this process), or as `user` (its uid, gid and groups,
// HOME/USER/PATH set, plus `env`). Killed after timeout_ms.
Ran RunRoot(const std::vector<std::string>& argv, const std::string& stdin_text = "",
            int timeout_ms = 30000);
Ran RunAs(const User& user, const std::vector<std::string>& argv,
          const std::map<std::string, std::string>& env = {}, const std::string& stdin_text = "",
          int timeout_ms = 30000);
Ran Shell(const std::string& command);  // /bin/sh -c as root

// A new ordinary user with a home under /home (in this namespace only).
std::optional<User> AddUser(const std::string& name);
std::optional<User> FindUser(const std::string& name);

// The Claude Code hook input for a Bash call, and for a Write.
std::string BashCall(const std::string& command, const std::string& cwd);
std::string WriteCall(const std::string& path, const std::string& content, const std::string& cwd);
// The Gemini CLI hook input for a shell call and a file write.
std::string GeminiShell(const std::string& command, const std::string& cwd);
std::string GeminiWrite(const std::string& path, const std::string& content,
                        const std::string& cwd);
// Whether Claude Code (or Gemini CLI) would stop the call: exit 2, or a deny
// or ask.
bool Stopped(const Ran& hook);

// One request line to a Unix socket, one reply line, as `user` (root when
// null). nullopt when nothing answers.
std::optional<nlohmann::json> Ask(const std::string& socket, const nlohmann::json& request,
                                  const User* user = nullptr);

// The approver's current TOTP code from an otpauth:// URI's secret.
std::string TotpNow(const std::string& secret);

// Whether any live process runs as `uid`.
std::vector<pid_t> ProcessesOf(uid_t uid);

std::string ReadText(const std::string& path);
bool Exists(const std::string& path);

}  // namespace dualkey::boundary
