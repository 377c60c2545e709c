#include "harness.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "approval/approval.h"
#include "base/unix_socket.h"
#include "setup/system.h"
#include "support/private_namespace.h"

namespace dualkey::boundary {

std::string g_namespace_error;

namespace {

long long NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

struct SpawnOptions {
  const User* user = nullptr;
  std::vector<std::string> env;  // empty with user == null: inherit
  std::string stdin_text;
  int timeout_ms = 30000;
};

Ran Spawn(const std::vector<std::string>& argv, const SpawnOptions& options) {
  Ran ran;
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
      pipe2(err_pipe, O_CLOEXEC) != 0)
    return ran;
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& e : options.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const bool inherit = options.user == nullptr && options.env.empty();
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    if (options.user != nullptr) {
      const User& u = *options.user;
      if (initgroups(u.name.c_str(), u.gid) != 0 || setresgid(u.gid, u.gid, u.gid) != 0 ||
          setresuid(u.uid, u.uid, u.uid) != 0)
        _exit(126);
      if (chdir(u.home.c_str()) != 0) _exit(126);
    }
    if (inherit)
      execvp(args[0], args.data());
    else
      execvpe(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (pid < 0) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    close(err_pipe[0]);
    return ran;
  }
  signal(SIGPIPE, SIG_IGN);
  std::size_t written = 0;
  if (options.stdin_text.empty()) {
    close(in_pipe[1]);
    in_pipe[1] = -1;
  }
  const long long deadline = NowMs() + options.timeout_ms;
  int fds_open = 2;
  bool killed = false;
  while (fds_open > 0 || in_pipe[1] >= 0) {
    std::vector<pollfd> pfds;
    if (out_pipe[0] >= 0) pfds.push_back({out_pipe[0], POLLIN, 0});
    if (err_pipe[0] >= 0) pfds.push_back({err_pipe[0], POLLIN, 0});
    if (in_pipe[1] >= 0) pfds.push_back({in_pipe[1], POLLOUT, 0});
    const long long left = deadline - NowMs();
    if (left <= 0) {
      kill(pid, SIGKILL);
      killed = true;
      break;
    }
    if (poll(pfds.data(), pfds.size(), static_cast<int>(left)) <= 0) continue;
    for (const pollfd& p : pfds) {
      if (p.revents == 0) continue;
      if (p.fd == in_pipe[1]) {
        ssize_t n = write(in_pipe[1], options.stdin_text.data() + written,
                          options.stdin_text.size() - written);
        if (n > 0) written += static_cast<std::size_t>(n);
        if (n < 0 || written == options.stdin_text.size()) {
          close(in_pipe[1]);
          in_pipe[1] = -1;
        }
        continue;
      }
      char buffer[65536];
      ssize_t n = read(p.fd, buffer, sizeof(buffer));
      if (n <= 0) {
        if (p.fd == out_pipe[0])
          out_pipe[0] = -1;
        else
          err_pipe[0] = -1;
        close(p.fd);
        --fds_open;
        continue;
      }
      (p.fd == out_pipe[0] ? ran.out : ran.err).append(buffer, static_cast<std::size_t>(n));
    }
  }
  for (int fd : {in_pipe[1], out_pipe[0], err_pipe[0]})
    if (fd >= 0) close(fd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ran.exit_code = !killed && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return ran;
}

std::vector<std::string> UserEnv(const User& user,
                                 const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env = {
      {"HOME", user.home},
      {"USER", user.name},
      {"LOGNAME", user.name},
      {"PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"},
      {"LANG", "C.UTF-8"}};
  for (const auto& [k, v] : extra) env[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

// The namespace: PID 1 of a new PID namespace reaps; its child runs the
// tests. When the tests end PID 1 exits and the kernel kills whatever is
// left (daemons included); the mounts go with the last process.
bool Mount(const std::string& what, const std::string& where, const char* type, unsigned long flags,
           const std::string& data) {
  if (mount(what.c_str(), where.c_str(), type, flags, data.empty() ? nullptr : data.c_str()) == 0)
    return true;
  g_namespace_error = "mount " + std::string(type != nullptr ? type : "") + " on " + where + ": " +
                      std::strerror(errno);
  return false;
}

bool PrepareMounts(const std::string& scratch) {
  if (!Mount("none", "/", nullptr, MS_REC | MS_PRIVATE, "")) return false;
  if (!Mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "")) return false;
  if (!Mount("tmpfs", scratch, "tmpfs", 0, "size=2g,mode=0700")) return false;
  for (const std::string dir : {"/etc", "/var/lib", "/run", "/usr/local/bin", "/home"}) {
    std::string name = dir.substr(1);
    for (char& c : name) c = c == '/' ? '_' : c;
    const std::string upper = scratch + "/" + name + "/upper";
    const std::string work = scratch + "/" + name + "/work";
    mkdir((scratch + "/" + name).c_str(), 0755);
    mkdir(upper.c_str(), 0755);
    mkdir(work.c_str(), 0755);
    if (!Mount("overlay", dir, "overlay", 0,
               "lowerdir=" + dir + ",upperdir=" + upper + ",workdir=" + work))
      return false;
  }
  return true;
}

}  // namespace

bool PrepareNamespace(const std::string& scratch) {
  return PrepareMounts(scratch);
}

Ran RunRoot(const std::vector<std::string>& argv, const std::string& stdin_text, int timeout_ms) {
  SpawnOptions options;
  options.stdin_text = stdin_text;
  options.timeout_ms = timeout_ms;
  return Spawn(argv, options);
}

Ran RunAs(const User& user, const std::vector<std::string>& argv,
          const std::map<std::string, std::string>& env, const std::string& stdin_text,
          int timeout_ms) {
  SpawnOptions options;
  options.user = &user;
  options.env = UserEnv(user, env);
  options.stdin_text = stdin_text;
  options.timeout_ms = timeout_ms;
  return Spawn(argv, options);
}

Ran Shell(const std::string& command) {
  return RunRoot({"/bin/sh", "-c", command});
}

std::optional<User> FindUser(const std::string& name) {
  std::optional<setup::sys::Account> account = setup::sys::LookupUser(name);
  if (!account) return std::nullopt;
  return User{account->name, account->uid, account->gid, account->home};
}

std::optional<User> AddUser(const std::string& name) {
  Ran ran = RunRoot({"useradd", "--create-home", "--shell", "/bin/bash", name});
  if (ran.exit_code != 0) return std::nullopt;
  return FindUser(name);
}

std::string BashCall(const std::string& command, const std::string& cwd) {
  return nlohmann::json{{"session_id", "boundary"},
                        {"cwd", cwd},
                        {"permission_mode", "default"},
                        {"hook_event_name", "PreToolUse"},
                        {"tool_name", "Bash"},
                        {"tool_input", {{"command", command}}},
                        {"tool_use_id", "toolu_boundary"}}
      .dump();
}

std::string WriteCall(const std::string& path, const std::string& content, const std::string& cwd) {
  return nlohmann::json{
      {"session_id", "boundary"},       {"cwd", cwd},
      {"permission_mode", "default"},   {"hook_event_name", "PreToolUse"},
      {"tool_name", "Write"},           {"tool_input", {{"file_path", path}, {"content", content}}},
      {"tool_use_id", "toolu_boundary"}}
      .dump();
}

std::string GeminiShell(const std::string& command, const std::string& cwd) {
  return nlohmann::json{{"session_id", "boundary"},
                        {"transcript_path", ""},
                        {"cwd", cwd},
                        {"hook_event_name", "BeforeTool"},
                        {"timestamp", "2026-01-01T00:00:00Z"},
                        {"tool_name", "run_shell_command"},
                        {"tool_input", {{"command", command}}}}
      .dump();
}

std::string GeminiWrite(const std::string& path, const std::string& content,
                        const std::string& cwd) {
  return nlohmann::json{{"session_id", "boundary"},
                        {"transcript_path", ""},
                        {"cwd", cwd},
                        {"hook_event_name", "BeforeTool"},
                        {"timestamp", "2026-01-01T00:00:00Z"},
                        {"tool_name", "write_file"},
                        {"tool_input", {{"file_path", path}, {"content", content}}}}
      .dump();
}

bool Stopped(const Ran& hook) {
  if (hook.exit_code == 2) return true;
  if (hook.exit_code != 0) return false;  // the agents run the call on any other exit
  nlohmann::json reply = nlohmann::json::parse(hook.out, nullptr, false);
  if (!reply.is_object()) return false;
  if (reply.value("decision", "") == "deny" || reply.value("decision", "") == "block") return true;
  const std::string decision =
      reply.contains("hookSpecificOutput") && reply["hookSpecificOutput"].is_object()
          ? reply["hookSpecificOutput"].value("permissionDecision", "")
          : "";
  return decision == "deny" || decision == "ask";
}

std::optional<nlohmann::json> Ask(const std::string& socket_path, const nlohmann::json& request,
                                  const User* user) {
  auto talk = [&](std::string* out) -> int {
    Result<base::UniqueFd> connected = base::ConnectUnixSocket(socket_path);
    if (!connected.ok()) return 1;
    const int fd = connected->release();
    const std::string line = request.dump() + "\n";
    if (send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
      close(fd);
      return 1;
    }
    std::string reply;
    char buffer[65536];
    const long long deadline = NowMs() + 10000;
    while (reply.find('\n') == std::string::npos && NowMs() < deadline) {
      pollfd pfd{fd, POLLIN, 0};
      if (poll(&pfd, 1, 200) <= 0) continue;
      ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      reply.append(buffer, static_cast<std::size_t>(n));
    }
    close(fd);
    *out = reply.substr(0, reply.find('\n'));
    return reply.find('\n') == std::string::npos ? 1 : 0;
  };
  std::string line;
  int status;
  if (user == nullptr) {
    status = talk(&line);
  } else {
    setup::sys::Account account{user->name, user->uid, user->gid, user->home, ""};
    status = setup::sys::RunAs(account, talk, &line);
  }
  if (status != 0) return std::nullopt;
  nlohmann::json reply = nlohmann::json::parse(line, nullptr, false);
  if (reply.is_discarded()) return std::nullopt;
  return reply;
}

std::string TotpNow(const std::string& secret) {
  return approval::TotpCode(secret, static_cast<std::int64_t>(std::time(nullptr)));
}

std::vector<pid_t> ProcessesOf(uid_t uid) {
  return setup::sys::ProcessesOf(uid);
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

}  // namespace dualkey::boundary

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return dualkey::test_support::RunTestsInPrivateNamespaces(
      "/tmp/dualkey-boundary",
      "the boundary suite needs root (it creates users and mounts; CI runs as root)",
      dualkey::boundary::PrepareNamespace, &dualkey::boundary::g_namespace_error);
}
