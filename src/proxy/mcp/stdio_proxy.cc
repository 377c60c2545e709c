// `dualkey mcp -- SERVER...`: the stdio transport. Messages are lines of JSON
// (MCP stdio framing). Two pumps, one per direction, so neither side's
// back-pressure can deadlock the other; the client-to-server pump is the only
// place a tools/call can pass, and it passes only what the gate allowed.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "base/fd.h"
#include "base/json_text.h"
#include "install/layout.h"
#include "proxy/mcp/internal/gate.h"
#include "proxy/mcp/mcp_proxy.h"

extern char** environ;

namespace dualkey::mcpproxy {
namespace {

using internal::ClientMessage;
using internal::Gate;
using nlohmann::json;

// SIGTERM/SIGINT/SIGHUP reach the pumps through this pipe (a handler can do
// nothing else safely); the proxy then ends the server too instead of
// orphaning it.
int g_signal_write_fd = -1;
volatile sig_atomic_t g_signal = 0;
extern "C" void OnSignal(int number) {
  g_signal = number;
  char byte = 1;
  if (g_signal_write_fd >= 0) (void)!::write(g_signal_write_fd, &byte, 1);
}

using Fd = base::UniqueFd;

bool MakePipe(Fd* read_end, Fd* write_end) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  *read_end = Fd(fds[0]);
  *write_end = Fd(fds[1]);
  return true;
}

// Splits a byte stream into lines no longer than `max` (without the newline).
// A longer line is reported once through `on_oversized` with its first bytes
// and the rest is skipped or streamed, as the caller chooses.
class LineReader {
 public:
  explicit LineReader(std::size_t max) : max_(max) {}

  // Feeds bytes; calls on_line(line) for each complete line, and
  // on_overflow(chunk, first, last) for the pieces of an oversized one.
  template <typename OnLine, typename OnOverflow>
  void Feed(std::string_view data, OnLine&& on_line, OnOverflow&& on_overflow) {
    while (!data.empty()) {
      std::size_t newline = data.find('\n');
      std::string_view piece = data.substr(0, newline);
      if (overflowing_) {
        on_overflow(newline == std::string_view::npos ? piece : data.substr(0, newline + 1), false,
                    newline != std::string_view::npos);
      } else if (buffer_.size() + piece.size() > max_) {
        overflowing_ = true;
        std::string first = std::move(buffer_);
        buffer_.clear();
        first.append(newline == std::string_view::npos ? piece : data.substr(0, newline + 1));
        on_overflow(first, true, newline != std::string_view::npos);
      } else {
        buffer_.append(piece);
        if (newline != std::string_view::npos) {
          std::string line = std::move(buffer_);
          buffer_.clear();
          on_line(line);
        }
      }
      if (newline == std::string_view::npos) return;
      if (overflowing_) overflowing_ = false;
      data.remove_prefix(newline + 1);
    }
  }

 private:
  std::size_t max_;
  std::string buffer_;
  bool overflowing_ = false;
};

struct Child {
  pid_t pid = -1;
  Fd in;   // the server's stdin (we write)
  Fd out;  // the server's stdout (we read)
};

bool Spawn(const std::vector<std::string>& command, Child* child, std::string* error) {
  Fd in_read, in_write, out_read, out_write;
  if (!MakePipe(&in_read, &in_write) || !MakePipe(&out_read, &out_write)) {
    *error = std::string("pipe: ") + strerror(errno);
    return false;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_read.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  // The server's own signal mask and dispositions, not ours (SIGPIPE ignored).
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> argv;
  for (const std::string& word : command) argv.push_back(const_cast<char*>(word.c_str()));
  argv.push_back(nullptr);
  int status = posix_spawnp(&child->pid, argv[0], &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (status != 0) {
    *error = "cannot start " + command[0] + ": " + strerror(status);
    return false;
  }
  child->in = std::move(in_write);
  child->out = std::move(out_read);
  return true;
}

int ExitStatus(int raw) {
  if (WIFEXITED(raw)) return WEXITSTATUS(raw);
  if (WIFSIGNALED(raw)) return 128 + WTERMSIG(raw);
  return 1;
}

// Waits up to `ms` for the child; returns its exit status or -1.
int WaitFor(pid_t pid, int ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    int raw = 0;
    pid_t done = waitpid(pid, &raw, WNOHANG);
    if (done == pid) return ExitStatus(raw);
    if (done < 0 && errno != EINTR) return 1;
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Ends the child: closed stdin first (the polite way for an MCP server),
// then SIGTERM, then SIGKILL.
int Reap(pid_t pid, int grace_ms) {
  int status = WaitFor(pid, grace_ms);
  if (status >= 0) return status;
  kill(pid, SIGTERM);
  status = WaitFor(pid, 1000);
  if (status >= 0) return status;
  kill(pid, SIGKILL);
  return WaitFor(pid, 5000);
}

class StdioProxy {
 public:
  StdioProxy(const ProxyOptions& options, Gate* gate, Child* child, int client_in, int client_out,
             int signal_read)
      : options_(options),
        gate_(gate),
        child_(child),
        client_in_(client_in),
        client_out_(client_out),
        signal_read_(signal_read) {}

  int Run() {
    Fd stop_read, stop_write;
    if (!MakePipe(&stop_read, &stop_write)) return 2;
    stop_read_ = stop_read.get();
    std::thread server_pump([&] {
      PumpServer();
      server_gone_ = true;
      char byte = 1;
      (void)!::write(stop_write.get(), &byte, 1);
    });
    PumpClient();
    int status;
    if (g_signal != 0) {
      kill(child_->pid, SIGTERM);
      child_->in.Reset();
      Reap(child_->pid, 1500);
      server_pump.join();
      status = 128 + g_signal;
    } else if (server_gone_) {
      server_pump.join();
      status = Reap(child_->pid, 2000);
      AnswerPending(status);
    } else {
      // The client went: let the server finish what it was answering.
      child_->in.Reset();
      status = Reap(child_->pid, 2000);
      server_pump.join();
      status = 0;
    }
    return status;
  }

 private:
  void WriteClient(std::string_view line) {
    std::lock_guard<std::mutex> lock(client_mutex_);
    if (!client_ok_) return;
    std::string framed(line);
    framed.push_back('\n');
    if (!base::WriteFully(client_out_, framed)) client_ok_ = false;
  }

  // The server died or closed its stdout: every request it never answered
  // gets an error, so the client does not wait forever.
  void AnswerPending(int status) {
    std::set<std::string> pending;
    {
      std::lock_guard<std::mutex> lock(pending_mutex_);
      pending.swap(pending_);
    }
    for (const std::string& id : pending) {
      json parsed = json::parse(id, nullptr, false);
      WriteClient(base::JsonDump(internal::ErrorReply(
          parsed, internal::kServerGone,
          "the MCP server exited (status " + std::to_string(status) + ") before answering")));
    }
    if (!options_.verbose) return;
    std::cerr << "dualkey mcp: the server exited with status " << status << "\n";
  }

  void PumpServer() {
    LineReader reader(options_.max_message_bytes);
    std::unique_lock<std::mutex> streaming;  // held while an oversized line streams through
    char buffer[65536];
    for (;;) {
      ssize_t n = ::read(child_->out.get(), buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      reader.Feed(
          std::string_view(buffer, static_cast<std::size_t>(n)),
          [&](const std::string& line) {
            // Bytes as they are go to the client; the gate reads them with
            // invalid UTF-8 replaced, and fails closed on what it cannot read.
            std::vector<std::string> ids = gate_->FromServerText(line);
            if (!ids.empty()) {
              std::lock_guard<std::mutex> lock(pending_mutex_);
              for (const std::string& id : ids) pending_.erase(id);
            }
            WriteClient(line);
          },
          // The server's data is the client's business: a huge result streams
          // through unread rather than being dropped.
          [&](std::string_view chunk, bool first, bool last) {
            if (first)
              gate_->ServerMessageUnread("", "a server message longer than " +
                                                 std::to_string(options_.max_message_bytes) +
                                                 " bytes passed unread");
            if (first) streaming = std::unique_lock<std::mutex>(client_mutex_);
            if (client_ok_ && !base::WriteFully(client_out_, chunk)) client_ok_ = false;
            if (last) streaming.unlock();
          });
    }
  }

  void PumpClient() {
    LineReader reader(options_.max_message_bytes);
    char buffer[65536];
    bool server_open = true;
    for (;;) {
      pollfd fds[3] = {{client_in_, POLLIN, 0}, {stop_read_, POLLIN, 0}, {signal_read_, POLLIN, 0}};
      int ready = ::poll(fds, 3, -1);
      if (ready < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents != 0 || fds[2].revents != 0) return;  // the server is gone, or a signal
      ssize_t n = ::read(client_in_, buffer, sizeof(buffer));
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) return;  // the client went
      reader.Feed(
          std::string_view(buffer, static_cast<std::size_t>(n)),
          [&](std::string line) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.find_first_not_of(" \t") == std::string::npos) return;
            ClientMessage message = gate_->FromClient(line);
            if (!message.forward.empty() && server_open) {
              {
                std::lock_guard<std::mutex> lock(pending_mutex_);
                for (const std::string& id : message.forwarded_ids) pending_.insert(id);
              }
              message.forward.push_back('\n');
              if (!base::WriteFully(child_->in.get(), message.forward)) server_open = false;
            }
            std::string reply = Gate::ReplyText(message);
            if (!reply.empty()) WriteClient(reply);
          },
          [&](std::string_view, bool first, bool) {
            if (first)
              WriteClient(base::JsonDump(
                  internal::ErrorReply(nullptr, internal::kInvalidRequest,
                                       "Invalid Request (dualkey): a message longer than " +
                                           std::to_string(options_.max_message_bytes) +
                                           " bytes; dropped, not forwarded")));
          });
    }
  }

  const ProxyOptions& options_;
  Gate* gate_;
  Child* child_;
  int client_in_;
  int client_out_;
  int signal_read_;
  int stop_read_ = -1;
  std::atomic<bool> server_gone_{false};
  std::mutex client_mutex_;
  bool client_ok_ = true;  // guarded by client_mutex_
  std::mutex pending_mutex_;
  std::set<std::string> pending_;
};

}  // namespace

namespace internal {
policy::Policy LoadProxyPolicy(const ProxyOptions& options, GateConfig* config) {
  config->cwd = options.cwd;
  if (config->cwd.empty()) {
    char buffer[4096];
    if (getcwd(buffer, sizeof(buffer)) != nullptr) config->cwd = buffer;
  }
  config->home = options.home;
  if (config->home.empty()) {
    const char* home = std::getenv("HOME");
    if (home != nullptr) config->home = home;
  }
  config->server_name = options.server_name;
  config->agent = options.agent;
  config->socket_path =
      options.socket_path.empty() ? install::DefaultSocketPath() : options.socket_path;
  config->daemon_timeout_ms = options.daemon_timeout_ms;
  config->verbose = options.verbose;
  return policy::Load(policy::DefaultSources(config->cwd, config->home));
}
}  // namespace internal

int RunStdioProxy(const ProxyOptions& options) {
  if (options.server_command.empty()) {
    std::cerr << "dualkey mcp: no server command (dualkey mcp -- SERVER ARGS...)\n";
    return 2;
  }
  internal::GateConfig config;
  policy::Policy policy = internal::LoadProxyPolicy(options, &config);
  config.fallback_server_name = options.server_command.front();
  Gate gate(std::move(config), std::move(policy));

  // A server that dies mid-write must not kill us: we still owe the client
  // its answers.
  signal(SIGPIPE, SIG_IGN);
  Child child;
  std::string error;
  if (!Spawn(options.server_command, &child, &error)) {
    std::cerr << "dualkey mcp: " << error << "\n";
    return 2;
  }
  Fd signal_read, signal_write;
  if (!MakePipe(&signal_read, &signal_write)) return 2;
  g_signal_write_fd = signal_write.get();
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  for (int number : {SIGTERM, SIGINT, SIGHUP}) sigaction(number, &action, nullptr);
  StdioProxy proxy(options, &gate, &child, STDIN_FILENO, STDOUT_FILENO, signal_read.get());
  int status = proxy.Run();
  g_signal_write_fd = -1;
  return status;
}

}  // namespace dualkey::mcpproxy
