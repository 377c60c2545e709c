#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "support/private_namespace.h"

namespace dualkey::drilltest {

std::string g_namespace_error;
bool g_in_namespace = false;
bool PrepareMounts(const std::string& scratch);

namespace {

long long NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
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

[[noreturn]] void ExecAs(const std::vector<std::string>& argv, const User* user,
                         const std::vector<std::string>& env) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  if (user != nullptr) {
    if (initgroups(user->name.c_str(), user->gid) != 0 ||
        setresgid(user->gid, user->gid, user->gid) != 0 ||
        setresuid(user->uid, user->uid, user->uid) != 0)
      _exit(126);
    if (chdir(user->home.c_str()) != 0 && chdir("/") != 0) _exit(126);
  }
  if (env.empty())
    execvp(args[0], args.data());
  else
    execvpe(args[0], args.data(), envp.data());
  _exit(127);
}

Ran Spawn(const std::vector<std::string>& argv, const User* user,
          const std::vector<std::string>& env, const std::string& stdin_text, int timeout_ms) {
  Ran ran;
  const long long start = NowMs();
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
      pipe2(err_pipe, O_CLOEXEC) != 0)
    return ran;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    ExecAs(argv, user, env);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  signal(SIGPIPE, SIG_IGN);
  std::size_t written = 0;
  if (stdin_text.empty()) {
    close(in_pipe[1]);
    in_pipe[1] = -1;
  }
  const long long deadline = NowMs() + timeout_ms;
  int open_fds = 2;
  while (open_fds > 0 || in_pipe[1] >= 0) {
    std::vector<pollfd> pfds;
    if (out_pipe[0] >= 0) pfds.push_back({out_pipe[0], POLLIN, 0});
    if (err_pipe[0] >= 0) pfds.push_back({err_pipe[0], POLLIN, 0});
    if (in_pipe[1] >= 0) pfds.push_back({in_pipe[1], POLLOUT, 0});
    const long long left = deadline - NowMs();
    if (left <= 0) {
      kill(pid, SIGKILL);
      break;
    }
    if (poll(pfds.data(), pfds.size(), static_cast<int>(left)) <= 0) continue;
    for (const pollfd& p : pfds) {
      if (p.revents == 0) continue;
      if (p.fd == in_pipe[1]) {
        ssize_t n = write(in_pipe[1], stdin_text.data() + written, stdin_text.size() - written);
        if (n > 0) written += static_cast<std::size_t>(n);
        if (n < 0 || written == stdin_text.size()) {
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
        --open_fds;
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
  ran.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  ran.ms = static_cast<double>(NowMs() - start);
  return ran;
}

bool Mount(const std::string& what, const std::string& where, const char* type, unsigned long flags,
           const std::string& data) {
  if (mount(what.c_str(), where.c_str(), type, flags, data.empty() ? nullptr : data.c_str()) == 0)
    return true;
  g_namespace_error = "mount " + std::string(type != nullptr ? type : "") + " on " + where + ": " +
                      std::strerror(errno);
  return false;
}

}  // namespace

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

bool InNamespace() {
  return g_in_namespace;
}

Ran RunRoot(const std::vector<std::string>& argv, const std::string& stdin_text, int timeout_ms) {
  return Spawn(argv, nullptr, {}, stdin_text, timeout_ms);
}

Ran RunAs(const User& user, const std::vector<std::string>& argv,
          const std::map<std::string, std::string>& env, const std::string& stdin_text,
          int timeout_ms) {
  return Spawn(argv, &user, UserEnv(user, env), stdin_text, timeout_ms);
}

Ran Shell(const std::string& command) {
  return RunRoot({"/bin/sh", "-c", command});
}

pid_t Background(const std::vector<std::string>& argv, const User* user, const std::string& log) {
  const std::vector<std::string> env =
      user != nullptr ? UserEnv(*user, {}) : std::vector<std::string>{};
  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int null = open("/dev/null", O_RDONLY);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    if (null >= 0) dup2(null, 0);
    ExecAs(argv, user, env);
  }
  return pid;
}

std::optional<User> FindUser(const std::string& name) {
  passwd* pw = getpwnam(name.c_str());
  if (pw == nullptr) return std::nullopt;
  return User{pw->pw_name, pw->pw_uid, pw->pw_gid, pw->pw_dir};
}

std::optional<User> AddUser(const std::string& name) {
  Ran ran = RunRoot({"useradd", "--create-home", "--shell", "/bin/bash", name});
  if (ran.exit_code != 0) return std::nullopt;
  return FindUser(name);
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

bool WaitForPort(int port, int timeout_ms) {
  const long long deadline = NowMs() + timeout_ms;
  while (NowMs() < deadline) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool up = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    close(fd);
    if (up) return true;
    usleep(50'000);
  }
  return false;
}

}  // namespace dualkey::drilltest

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return dualkey::test_support::RunTestsInPrivateNamespaces(
      "/tmp/dualkey-drilltest",
      "the drill's end-to-end test needs root (users, mounts; CI runs as root)",
      [](const std::string& scratch) {
        if (!dualkey::drilltest::PrepareMounts(scratch)) return false;
        dualkey::drilltest::g_in_namespace = true;
        return true;
      },
      &dualkey::drilltest::g_namespace_error);
}
