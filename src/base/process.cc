#include "base/process.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace dualkey::base {
namespace {

constexpr std::size_t kMaxCapture = 1u << 20;

long long NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

void CloseAll(std::initializer_list<int> fds) {
  for (int fd : fds)
    if (fd >= 0) close(fd);
}

std::optional<Identity> FromPasswd(const passwd* pw) {
  if (pw == nullptr) return std::nullopt;
  Identity who;
  who.set = true;
  who.name = pw->pw_name;
  who.uid = pw->pw_uid;
  who.gid = pw->pw_gid;
  who.home = pw->pw_dir != nullptr ? pw->pw_dir : "/";
  int count = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  if (getgrouplist(pw->pw_name, pw->pw_gid, groups.data(), &count) < 0) {
    groups.resize(static_cast<std::size_t>(count));
    if (getgrouplist(pw->pw_name, pw->pw_gid, groups.data(), &count) < 0) count = 0;
  }
  groups.resize(static_cast<std::size_t>(count));
  who.groups = std::move(groups);
  return who;
}

// Everything the child needs, prepared before fork: after it, only
// async-signal-safe calls.
struct Prepared {
  std::vector<char*> argv;
  std::vector<char*> envp;
  bool inherit_env = true;
};

Prepared Prepare(const Spawn& spawn) {
  Prepared p;
  for (const std::string& a : spawn.argv) p.argv.push_back(const_cast<char*>(a.c_str()));
  p.argv.push_back(nullptr);
  p.inherit_env = spawn.env.empty();
  for (const std::string& e : spawn.env) p.envp.push_back(const_cast<char*>(e.c_str()));
  p.envp.push_back(nullptr);
  return p;
}

// In the child: `in`, `out` and `err` become 0, 1 and 2; every other
// descriptor is closed.
[[noreturn]] void Exec(const Spawn& spawn, const Prepared& p, int in, int out, int err) {
  dup2(in, STDIN_FILENO);
  dup2(out, STDOUT_FILENO);
  dup2(err, STDERR_FILENO);
  close_range(3, ~0u, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
  if (spawn.own_process_group) setpgid(0, 0);
  if (spawn.as.set && (geteuid() == 0 || spawn.as.uid != geteuid())) {
    if (setgroups(spawn.as.groups.size(), spawn.as.groups.data()) != 0 ||
        setresgid(spawn.as.gid, spawn.as.gid, spawn.as.gid) != 0 ||
        setresuid(spawn.as.uid, spawn.as.uid, spawn.as.uid) != 0)
      _exit(126);
  }
  // After the change of user, which clears the setting.
  if (spawn.die_with_parent) prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (!spawn.cwd.empty() && chdir(spawn.cwd.c_str()) != 0) _exit(126);
  if (p.inherit_env)
    execvp(p.argv[0], p.argv.data());
  else
    execvpe(p.argv[0], p.argv.data(), p.envp.data());
  _exit(127);
}

std::string Errno(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

// Feeds `stdin_text` to `in_fd` and drains `out_fd` and `err_fd` into
// `result` until both close or `deadline` passes. Closes all three.
void Pump(int in_fd, int out_fd, int err_fd, const std::string& stdin_text, long long deadline,
          ProcessResult& result) {
  fcntl(in_fd, F_SETFL, O_NONBLOCK);
  std::size_t written = 0;
  if (stdin_text.empty()) CloseFd(in_fd);
  char buffer[8192];
  while (out_fd >= 0 || err_fd >= 0) {
    const long long left = deadline - NowMs();
    if (left <= 0) {
      result.timed_out = true;
      break;
    }
    pollfd fds[3];
    int count = 0;
    if (in_fd >= 0) fds[count++] = {in_fd, POLLOUT, 0};
    if (out_fd >= 0) fds[count++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[count++] = {err_fd, POLLIN, 0};
    const int ready = poll(fds, static_cast<nfds_t>(count), static_cast<int>(left));
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < count; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in_fd) {
        const ssize_t n = write(in_fd, stdin_text.data() + written, stdin_text.size() - written);
        if (n > 0) written += static_cast<std::size_t>(n);
        if (n < 0 && errno != EAGAIN && errno != EINTR) CloseFd(in_fd);
        if (written >= stdin_text.size()) CloseFd(in_fd);
        continue;
      }
      int& fd = fds[i].fd == out_fd ? out_fd : err_fd;
      std::string& sink = fds[i].fd == out_fd ? result.out : result.err;
      const ssize_t n = read(fd, buffer, sizeof(buffer));
      if (n > 0) {
        if (sink.size() < kMaxCapture) sink.append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        CloseFd(fd);
      }
    }
  }
  CloseFd(in_fd);
  CloseFd(out_fd);
  CloseFd(err_fd);
}

}  // namespace

std::optional<Identity> IdentityOf(const std::string& user) {
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (getpwnam_r(user.c_str(), &pw, buffer.data(), buffer.size(), &found) != 0) return std::nullopt;
  return FromPasswd(found);
}

std::optional<Identity> IdentityOfUid(uid_t uid) {
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (getpwuid_r(uid, &pw, buffer.data(), buffer.size(), &found) != 0) return std::nullopt;
  return FromPasswd(found);
}

std::vector<std::string> EnvironmentFor(const Identity& who,
                                        const std::vector<std::string>& extra) {
  std::vector<std::string> env = {
      "HOME=" + who.home,    "USER=" + who.name,
      "LOGNAME=" + who.name, "PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
      "LANG=C.UTF-8",        "SHELL=/bin/sh"};
  for (const std::string& e : extra) {
    const std::string name = e.substr(0, e.find('='));
    std::erase_if(env, [&](const std::string& have) { return have.starts_with(name + "="); });
    env.push_back(e);
  }
  return env;
}

ProcessResult Run(const Spawn& spawn, const std::string& stdin_text, int timeout_ms) {
  ProcessResult result;
  if (spawn.argv.empty()) {
    result.why = "nothing to run";
    return result;
  }
  const long long start = NowMs();
  int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
      pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.why = Errno("pipe");
    CloseAll({in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]});
    return result;
  }
  const Prepared prepared = Prepare(spawn);
  // A child that exits without reading its stdin must not kill us.
  struct sigaction ignore {
  }, previous{};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &previous);
  const pid_t pid = fork();
  if (pid < 0) {
    result.why = Errno("fork");
    CloseAll({in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]});
    sigaction(SIGPIPE, &previous, nullptr);
    return result;
  }
  if (pid == 0) Exec(spawn, prepared, in_pipe[0], out_pipe[1], err_pipe[1]);
  result.started = true;
  CloseAll({in_pipe[0], out_pipe[1], err_pipe[1]});
  Pump(in_pipe[1], out_pipe[0], err_pipe[0], stdin_text, start + timeout_ms, result);
  if (result.timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  sigaction(SIGPIPE, &previous, nullptr);
  if (!result.timed_out && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (result.exit_code == 126 && result.out.empty() && result.err.empty())
    result.why = "could not become " + spawn.as.name + " or enter " + spawn.cwd;
  result.ms = static_cast<double>(NowMs() - start);
  return result;
}

ProcessResult RunProcess(const std::vector<std::string>& argv, const std::string& stdin_text,
                         const std::string& cwd, int timeout_ms) {
  Spawn spawn;
  spawn.argv = argv;
  spawn.cwd = cwd;
  return Run(spawn, stdin_text, timeout_ms);
}

ProcessResult RunShell(const std::string& command_line, const std::string& stdin_text,
                       const std::string& cwd, int timeout_ms) {
  return RunProcess({"/bin/sh", "-c", command_line}, stdin_text, cwd, timeout_ms);
}

Result<std::unique_ptr<Child>> Child::Start(const Spawn& spawn, const std::string& log_path,
                                            Stdio stdio) {
  if (spawn.argv.empty()) return Status::InvalidArgument("nothing to run");
  int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1};
  if (stdio == Stdio::kPipes) {
    if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0) {
      CloseAll({in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1]});
      return Status::IOError(Errno("pipe"));
    }
  } else {
    in_pipe[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  const int log_fd = open(log_path.empty() ? "/dev/null" : log_path.c_str(),
                          O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0 || in_pipe[0] < 0) {
    const Status failed = Status::IOError(Errno(("cannot open " + log_path).c_str()));
    CloseAll({in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], log_fd});
    return failed;
  }
  const Prepared prepared = Prepare(spawn);
  const pid_t pid = fork();
  if (pid < 0) {
    const Status failed = Status::IOError(Errno("fork"));
    CloseAll({in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], log_fd});
    return failed;
  }
  if (pid == 0)
    Exec(spawn, prepared, in_pipe[0], stdio == Stdio::kPipes ? out_pipe[1] : log_fd, log_fd);
  CloseAll({in_pipe[0], out_pipe[1], log_fd});
  std::unique_ptr<Child> child(new Child());
  child->pid_ = pid;
  child->in_ = in_pipe[1];
  child->out_ = out_pipe[0];
  return child;
}

Child::~Child() {
  Stop(1000);
}

bool Child::Write(const std::string& text, int timeout_ms) {
  std::size_t written = 0;
  const long long deadline = NowMs() + timeout_ms;
  while (written < text.size() && in_ >= 0) {
    const long long left = deadline - NowMs();
    if (left <= 0) return false;
    pollfd pfd{in_, POLLOUT, 0};
    if (poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
    const ssize_t n = write(in_, text.data() + written, text.size() - written);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return false;
    written += static_cast<std::size_t>(n);
  }
  return written == text.size();
}

std::optional<std::string> Child::ReadLine(int timeout_ms) {
  const long long deadline = NowMs() + timeout_ms;
  while (true) {
    const std::size_t newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      return line;
    }
    if (out_ < 0) return std::nullopt;
    const long long left = deadline - NowMs();
    if (left <= 0) return std::nullopt;
    pollfd pfd{out_, POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(left));
    if (ready <= 0) continue;
    char chunk[65536];
    const ssize_t n = read(out_, chunk, sizeof(chunk));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      CloseFd(out_);
      continue;
    }
    if (buffer_.size() < 16 * kMaxCapture) buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

void Child::CloseStdin() {
  CloseFd(in_);
}

bool Child::Running() {
  if (pid_ < 0 || reaped_) return false;
  int status = 0;
  const pid_t done = waitpid(pid_, &status, WNOHANG);
  if (done == pid_) {
    reaped_ = true;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return false;
  }
  return done == 0;
}

int Child::Stop(int grace_ms) {
  if (pid_ < 0) return status_;
  // A child reading its stdin gets the first half of the grace to end on
  // its own; any other is asked at once.
  const bool piped = in_ >= 0;
  CloseFd(in_);
  const long long deadline = NowMs() + grace_ms;
  const long long term_at = piped ? deadline - grace_ms / 2 : 0;
  bool termed = false;
  while (Running()) {
    if (!termed && NowMs() >= term_at) {
      kill(pid_, SIGTERM);
      termed = true;
    }
    if (NowMs() >= deadline) {
      kill(pid_, SIGKILL);
      int status = 0;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      reaped_ = true;
      status_ = -1;
      break;
    }
    usleep(5'000);
  }
  CloseFd(out_);
  pid_ = -1;
  return status_;
}

}  // namespace dualkey::base
