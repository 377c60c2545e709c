// Test harness for the MCP proxy: the npm packages (real MCP servers and the
// official SDK client) installed once into the build tree, child processes
// with pipes, a real `dualkey serve` with a TOTP approver.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "approval/approval.h"
#include "base/text.h"
#include "client/client.h"
#include "daemon/daemon.h"

extern char** environ;

namespace dualkey::testing {

namespace fs = std::filesystem;

// The daemon's raw reply (or nullopt with `error`), as these tests read it.
inline std::optional<nlohmann::json> DaemonCall(const std::string& socket,
                                                const nlohmann::json& request, int timeout_ms,
                                                std::string* error) {
  Result<nlohmann::json> reply = client::CallAt(socket, request, timeout_ms);
  if (!reply.ok()) {
    *error = reply.status().ToString();
    return std::nullopt;
  }
  return *reply;
}
using nlohmann::json;

inline std::string Quote(const std::string& text) {
  return dualkey::base::ShellSingleQuote(text);
}

inline std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

struct ShellOutput {
  int status = -1;
  std::string out;
};

inline ShellOutput Shell(const std::string& command) {
  ShellOutput output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return output;
  std::array<char, 4096> buffer;
  std::size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    output.out.append(buffer.data(), n);
  int raw = pclose(pipe);
  output.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return output;
}

// The npm packages of tests/mcp_proxy/node, installed with `npm ci` into
// BUILD/mcp_proxy_node once (again only when package-lock.json changes).
// ctest runs each test in its own process, several at once: an exclusive
// lock on the directory makes one process install while the others wait,
// so no test ever loads a half-written node_modules.
class NodePackages {
 public:
  static const NodePackages& Get() {
    static NodePackages packages;
    return packages;
  }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  fs::path dir() const { return dir_; }
  std::string Module(const std::string& relative) const {
    return (dir_ / "node_modules" / relative).string();
  }
  std::string Client() const { return (dir_ / "client.mjs").string(); }
  std::string FilesystemServer() const {
    return Module("@modelcontextprotocol/server-filesystem/dist/index.js");
  }
  std::string PostgresServer() const {
    return Module("@modelcontextprotocol/server-postgres/dist/index.js");
  }
  std::string EverythingServer() const {
    return Module("@modelcontextprotocol/server-everything/dist/index.js");
  }

 private:
  NodePackages() {
    const fs::path source = fs::path(DUALKEY_SOURCE_DIR) / "tests/mcp_proxy/node";
    dir_ = fs::path(DUALKEY_BINARY).parent_path() / "mcp_proxy_node";
    if (Shell("command -v node && command -v npm").status != 0) {
      error_ =
          "node and npm are needed for the MCP proxy tests (real MCP servers from npm); "
          "scripts/install-deps.sh installs them";
      return;
    }
    std::error_code ec;
    fs::create_directories(dir_, ec);
    const int lock_fd = open((dir_ / ".install-lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX) != 0) {
      error_ = "cannot lock " + (dir_ / ".install-lock").string();
      if (lock_fd >= 0) close(lock_fd);
      return;
    }
    Install(source);
    close(lock_fd);  // releases the lock
  }

  void Install(const fs::path& source) {
    std::error_code ec;
    for (const char* name : {"package.json", "package-lock.json", "client.mjs"})
      fs::copy_file(source / name, dir_ / name, fs::copy_options::overwrite_existing, ec);
    const std::string lock = ReadAll(source / "package-lock.json");
    const fs::path stamp = dir_ / "node_modules" / ".dualkey-lock";
    if (!lock.empty() && ReadAll(stamp) == lock) return;
    ShellOutput installed =
        Shell("cd " + Quote(dir_.string()) + " && npm ci --no-audit --no-fund --loglevel=error");
    if (installed.status != 0) {
      error_ = "npm ci in " + dir_.string() + " failed (the npm registry must be reachable):\n" +
               installed.out;
      return;
    }
    std::ofstream(stamp, std::ios::binary) << lock;
  }

  fs::path dir_;
  std::string error_;
};

// A child process with its stdin and stdout on pipes (stderr inherited).
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
        const std::string& cwd = "") {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) return;
    // Built before fork: the child of a threaded process must not allocate.
    std::vector<std::string> environment;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string entry = *e;
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
      if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
      execvpe(args[0], args.data(), envp.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    in_ = in[1];
    out_ = out[0];
  }
  ~Child() {
    CloseStdin();
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      int status;
      waitpid(pid_, &status, 0);
    }
    if (out_ >= 0) close(out_);
  }

  bool Write(const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
      ssize_t n = write(in_, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }
  bool WriteLine(const std::string& line) { return Write(line + "\n"); }
  void CloseStdin() {
    if (in_ >= 0) close(in_);
    in_ = -1;
  }

  // One line from stdout, or nullopt after `timeout_ms` or at EOF.
  std::optional<std::string> ReadLine(int timeout_ms = 20000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      std::size_t newline = buffer_.find('\n');
      if (newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) return std::nullopt;
      pollfd fd{out_, POLLIN, 0};
      if (poll(&fd, 1, static_cast<int>(left)) <= 0) continue;
      char chunk[65536];
      ssize_t n = read(out_, chunk, sizeof(chunk));
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  std::optional<json> ReadJson(int timeout_ms = 20000) {
    std::optional<std::string> line = ReadLine(timeout_ms);
    if (!line) return std::nullopt;
    json parsed = json::parse(*line, nullptr, false);
    if (parsed.is_discarded()) return json{{"unparsable", *line}};
    return parsed;
  }

  // Exit status after up to `timeout_ms`, or -1 (still running).
  int Wait(int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      int raw;
      if (waitpid(pid_, &raw, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  bool reaped_ = false;
  std::string buffer_;
};

// The SDK client script, one command and one JSON answer at a time.
class NodeClient {
 public:
  NodeClient(const std::vector<std::string>& env = {})
      : child_({"node", NodePackages::Get().Client()}, env) {}
  json Do(const json& command, int timeout_ms = 30000) {
    if (!child_.WriteLine(command.dump())) return json{{"ok", false}, {"error", "client gone"}};
    return child_.ReadJson(timeout_ms).value_or(json{{"ok", false}, {"error", "no answer"}});
  }
  json Call(const std::string& tool, const json& arguments) {
    return Do(json{{"op", "call"}, {"name", tool}, {"arguments", arguments}});
  }
  ~NodeClient() {
    Do(json{{"op", "close"}}, 5000);
    child_.Wait(5000);
  }

 private:
  Child child_;
};

// The text of a tool result's first content item.
inline std::string ResultText(const json& answer) {
  const json* result = answer.contains("result") ? &answer["result"] : nullptr;
  if (result == nullptr || !result->contains("content") || (*result)["content"].empty()) return "";
  return (*result)["content"][0].value("text", "");
}
inline bool IsHeld(const json& answer) {
  return answer.value("ok", false) && answer["result"].value("isError", false) &&
         ResultText(answer).find("dualkey held this call") != std::string::npos;
}

// A real daemon with one approver (as tests/daemon does).
class RealDaemon {
 public:
  explicit RealDaemon(const fs::path& state) : state_(state) {
    fs::create_directories(state_ / "home");
    socket_ = (state_ / "d.sock").string();
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<std::string> args = {DUALKEY_BINARY, "serve", "--state", state_.string(),
                                       "--socket",     socket_, "--quiet", "--breaker-attempts",
                                       "1000"};
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    for (int i = 0; i < 250; ++i) {
      std::string error;
      if (DaemonCall(socket_, json{{"op", "status"}}, 200, &error)) {
        running_ = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ShellOutput added = Run("approver add alice --state " + Quote(state_.string()));
    std::size_t at = added.out.find("secret=");
    if (at != std::string::npos)
      secret_ = added.out.substr(at + 7, added.out.find('&', at) - at - 7);
  }
  ~RealDaemon() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status;
      waitpid(pid_, &status, 0);
    }
  }
  bool ok() const { return running_ && !secret_.empty(); }
  const std::string& socket() const { return socket_; }
  ShellOutput Run(const std::string& args) {
    return Shell("HOME=" + Quote((state_ / "home").string()) + " DUALKEY_SOCKET=" + Quote(socket_) +
                 " DUALKEY_STATE_DIR=" + Quote(state_.string()) + " " + DUALKEY_BINARY + " " +
                 args);
  }
  ShellOutput Approve(const std::string& id) {
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    return Run("approve " + id + " --as alice --code " + approval::TotpCode(secret_, now));
  }

 private:
  fs::path state_;
  std::string socket_;
  std::string secret_;
  pid_t pid_ = -1;
  bool running_ = false;
};

// How many times `needle` occurs in `haystack`.
inline int Count(const std::string& haystack, const std::string& needle) {
  int count = 0;
  for (std::size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size()))
    ++count;
  return count;
}

}  // namespace dualkey::testing
