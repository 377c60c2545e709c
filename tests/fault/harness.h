// The fault suite's tools: real dualkey processes (daemon, gateway, proxies,
// CLI), raw sockets for floods, /proc for "still alive", CPU and memory.
// Every check a fault test makes is one of four: no crash, no allow that
// should not be, nothing acknowledged lost, service back (a good client works
// during and after).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "approval/approval.h"
#include "client/client.h"

extern char** environ;

namespace dualkey::fault {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

inline std::string Quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

inline std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

struct Output {
  int status = -1;  // exit status; 128+signal when killed
  std::string out;
};

// A shell command line; stdout and stderr together.
inline Output Sh(const std::string& command, const std::string& input = "") {
  std::string line = command;
  std::string input_file;
  if (!input.empty()) {
    input_file =
        (fs::temp_directory_path() / ("dualkey-fault-in-" + std::to_string(getpid()) + "-" +
                                      std::to_string(Clock::now().time_since_epoch().count())))
            .string();
    std::ofstream(input_file, std::ios::binary) << input;
    line += " < " + Quote(input_file);
  }
  Output output;
  FILE* pipe = popen((line + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return output;
  char buffer[4096];
  std::size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.out.append(buffer, n);
  const int raw = pclose(pipe);
  output.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : WIFSIGNALED(raw) ? 128 + WTERMSIG(raw) : -1;
  if (!input_file.empty()) fs::remove(input_file);
  return output;
}

// A child process with its stdin and stdout piped; killed when destroyed.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::vector<std::string>& env = {}) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) return;
    std::vector<std::string> environment;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry = *e;
      bool replaced = false;
      for (const std::string& assignment : env)
        replaced = replaced || entry.substr(0, entry.find('=') + 1) ==
                                   assignment.substr(0, assignment.find('=') + 1);
      if (!replaced) environment.push_back(entry);
    }
    for (const std::string& assignment : env) environment.push_back(assignment);
    std::vector<char*> envp;
    for (std::string& entry : environment) envp.push_back(entry.data());
    envp.push_back(nullptr);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      execvpe(args[0], args.data(), envp.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    in_ = in[1];
    out_ = out[0];
  }
  ~Process() {
    CloseStdin();
    Stop(SIGKILL);
    if (out_ >= 0) close(out_);
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool Alive() const {
    if (pid_ <= 0 || exited_) return false;
    siginfo_t info{};
    return waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
  }
  bool Write(const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = write(in_, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }
  void CloseStdin() {
    if (in_ >= 0) close(in_);
    in_ = -1;
  }
  // One line of stdout (without the newline), or nullopt after `ms`.
  std::optional<std::string> ReadLine(int ms = 10000) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(ms);
    for (;;) {
      const std::size_t newline = buffer_.find('\n');
      if (newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return line;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return std::nullopt;
      pollfd pfd{out_, POLLIN, 0};
      if (poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
      char chunk[4096];
      const ssize_t n = read(out_, chunk, sizeof(chunk));
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  // Stops it; its exit status (128+signal when killed by one).
  int Stop(int signal = SIGTERM) {
    if (pid_ <= 0 || exited_) return status_;
    kill(pid_, signal);
    int raw = 0;
    waitpid(pid_, &raw, 0);
    exited_ = true;
    status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    return status_;
  }

 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  std::string buffer_;
  bool exited_ = false;
  int status_ = -1;
};

inline int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Sends `bytes`, reads until the peer closes or `ms` pass.
inline std::string Exchange(int port, const std::string& bytes, int ms = 5000) {
  const int fd = Connect(port);
  if (fd < 0) return "<connect failed>";
  ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string answer;
  const auto deadline = Clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left)) <= 0) break;
    char buffer[4096];
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  close(fd);
  return answer;
}

// True when the peer has closed `fd` (a read returns 0 or an error now).
inline bool ClosedByPeer(int fd) {
  pollfd pfd{fd, POLLIN, 0};
  if (poll(&pfd, 1, 0) <= 0) return false;
  char byte;
  return recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
}

// Sockets held open by a flood; closed when destroyed.
class Flood {
 public:
  ~Flood() { CloseAll(); }
  // Opens `count` connections, each sending `first_bytes` (may be empty).
  void Open(int port, int count, const std::string& first_bytes) {
    for (int i = 0; i < count; ++i) {
      const int fd = Connect(port);
      if (fd < 0) {
        ++refused_;
        continue;
      }
      if (!first_bytes.empty()) ::send(fd, first_bytes.data(), first_bytes.size(), MSG_NOSIGNAL);
      fds_.push_back(fd);
    }
  }
  // A byte on every socket still open (a slow header that never ends).
  void Trickle(const std::string& byte = "X") {
    for (int fd : fds_) ::send(fd, byte.data(), byte.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  int ClosedByPeerCount() const {
    int closed = 0;
    for (int fd : fds_) closed += ClosedByPeer(fd);
    return closed;
  }
  std::size_t size() const { return fds_.size(); }
  void CloseAll() {
    for (int fd : fds_) close(fd);
    fds_.clear();
  }

 private:
  std::vector<int> fds_;
  int refused_ = 0;
};

inline long ProcStatusKb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  return -1;
}

// User+system CPU seconds the process has used.
inline double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A daemon with a TOTP approver in its own state directory.
class Daemon {
 public:
  explicit Daemon(const fs::path& dir) : dir_(dir) {
    fs::create_directories(dir / "state");
    fs::permissions(dir / "state", fs::perms::owner_all);
    socket_ = (dir / "d.sock").string();
    process_ = std::make_unique<Process>(
        std::vector<std::string>{DUALKEY_BINARY, "serve", "--state", state(), "--socket", socket_,
                                 "--quiet", "--breaker-attempts", "100000"},
        std::vector<std::string>{"HOME=" + (dir / "home").string()});
    for (int i = 0; i < 250 && !up_; ++i) {
      up_ = client::CallAt(socket_, json{{"op", "status"}}, 200).ok();
      if (!up_) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  bool up() const { return up_; }
  bool Alive() const { return process_->Alive(); }
  std::string state() const { return (dir_ / "state").string(); }
  const std::string& socket() const { return socket_; }
  // HOME, the socket and the state for dualkey CLI commands.
  std::string Env() const {
    return "HOME=" + Quote((dir_ / "home").string()) + " DUALKEY_SOCKET=" + Quote(socket_) +
           " DUALKEY_STATE_DIR=" + Quote(state()) + " ";
  }
  Output Cli(const std::string& args, const std::string& input = "") const {
    return Sh(Env() + DUALKEY_BINARY + " " + args, input);
  }
  // A token for an agent; its secret.
  std::string Token(const std::string& name, const std::string& scope) const {
    Output made =
        Cli("token add " + name + " --scope " + scope + " --json --state-dir " + Quote(state()));
    const std::size_t brace = made.out.find('{');
    if (made.status != 0 || brace == std::string::npos) return "";
    return json::parse(made.out.substr(brace), nullptr, false).value("token", "");
  }
  std::string PendingJson() const { return Cli("pending --json").out; }

 private:
  fs::path dir_;
  std::string socket_;
  std::unique_ptr<Process> process_;
  bool up_ = false;
};

// A scratch directory named after the running test, removed at the end.
inline fs::path ScratchDir(const std::string& test_name) {
  fs::path dir = fs::path(DUALKEY_BINARY).parent_path() /
                 ("fault-" + std::to_string(getpid()) + "-" + test_name);
  fs::remove_all(dir);
  fs::create_directories(dir / "home");
  return dir;
}

// Runs `body` repeatedly for `duration`, every `period`; the number of runs
// and of failures (body returned false).
template <typename Body>
std::pair<int, int> Repeatedly(std::chrono::milliseconds duration, std::chrono::milliseconds period,
                               Body body) {
  int runs = 0, failures = 0;
  const auto end = Clock::now() + duration;
  while (Clock::now() < end) {
    ++runs;
    failures += body() ? 0 : 1;
    std::this_thread::sleep_for(period);
  }
  return {runs, failures};
}

}  // namespace dualkey::fault
