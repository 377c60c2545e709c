// The drill's end-to-end world: like tests/boundary, a private mount and PID
// namespace in which /etc, /var/lib, /run, /usr/local/bin and /home are
// overlays on a tmpfs, so the protected install, its users, its PostgreSQL
// and its proxies exist only for this test binary and vanish with it.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dualkey::drilltest {

extern std::string g_namespace_error;
// True once main() has made the private namespace (root only).
bool InNamespace();

struct User {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
};

struct Ran {
  int exit_code = -1;
  std::string out, err;
  double ms = 0;
  std::string all() const { return out + err; }
};

Ran RunRoot(const std::vector<std::string>& argv, const std::string& stdin_text = "",
            int timeout_ms = 120000);
Ran RunAs(const User& user, const std::vector<std::string>& argv,
          const std::map<std::string, std::string>& env = {}, const std::string& stdin_text = "",
          int timeout_ms = 60000);
Ran Shell(const std::string& command);

// A background process (as `user`, or root), output to `log`. Killed with
// the namespace at the latest.
pid_t Background(const std::vector<std::string>& argv, const User* user, const std::string& log);

std::optional<User> AddUser(const std::string& name);
std::optional<User> FindUser(const std::string& name);

std::string ReadText(const std::string& path);
bool WriteText(const std::string& path, const std::string& text);
bool Exists(const std::string& path);
// Waits until something listens on 127.0.0.1:port.
bool WaitForPort(int port, int timeout_ms);

}  // namespace dualkey::drilltest
