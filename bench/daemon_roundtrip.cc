// Decision round trips to `dualkey serve` over its Unix socket: what a hook
// pays per tool call (connect, one check, close), what a proxy pays on a
// kept-open connection, and 64 agents asking at once. Starts its own daemon
// in a temp state directory.
//
//   build/daemon_roundtrip [path/to/dualkey] [requests]
// Last line: p50_us=N p99_us=N connect_p50_us=N agents64_p50_us=N agents64_p99_us=N agents64_rps=N
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "daemon/daemon.h"

namespace {

// The daemon's raw reply (or nullopt with `error`), as these tests read it.
[[maybe_unused]] std::optional<nlohmann::json> DaemonCall(const std::string& socket,
                                                          const nlohmann::json& request,
                                                          int timeout_ms, std::string* error) {
  dualkey::Result<nlohmann::json> reply = dualkey::client::CallAt(socket, request, timeout_ms);
  if (!reply.ok()) {
    *error = reply.status().ToString();
    return std::nullopt;
  }
  return *reply;
}

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * (v.size() - 1) + 0.5))];
}

// A kept-open connection speaking the daemon's line protocol.
class Connection {
 public:
  explicit Connection(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~Connection() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  bool RoundTrip(const std::string& line, std::string* reply) {
    if (send(fd_, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size()))
      return false;
    reply->clear();
    char buffer[4096];
    while (reply->empty() || reply->back() != '\n') {
      ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return false;
      reply->append(buffer, static_cast<std::size_t>(n));
    }
    return true;
  }

 private:
  int fd_ = -1;
};

}  // namespace

int main(int argc, char** argv) {
  const std::string binary = argc > 1 ? argv[1] : DUALKEY_SOURCE_DIR "/build/dualkey";
  const int requests = argc > 2 ? std::atoi(argv[2]) : 5000;
  const auto state =
      std::filesystem::temp_directory_path() / ("dualkey-daemon-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(state);
  const std::string socket_path = (state / "d.sock").string();
  pid_t pid = fork();
  if (pid == 0) {
    execl(binary.c_str(), binary.c_str(), "serve", "--state", state.c_str(), "--socket",
          socket_path.c_str(), "--quiet", static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string error;
  bool up = false;
  for (int i = 0; i < 300 && !up; ++i) {
    up = DaemonCall(socket_path, json{{"op", "status"}}, 200, &error).has_value();
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!up) {
    std::cerr << "daemon did not start: " << error << "\n";
    return 1;
  }
  const json request{
      {"op", "check"},          {"channel", "shell"},  {"input", "git status && ls -la"},
      {"cwd", "/home/dev/app"}, {"home", "/home/dev"}, {"agent", "bench"}};
  const std::string line = request.dump() + "\n";

  // 1. A hook: connect, ask, close (client::Call), one agent.
  std::vector<double> connect_us;
  for (int i = 0; i < requests / 5; ++i) {
    auto start = Clock::now();
    auto reply = DaemonCall(socket_path, request, 2000, &error);
    connect_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    if (!reply || (*reply)["decision"] != "allow") {
      std::cerr << "unexpected reply: " << (reply ? reply->dump() : error) << "\n";
      return 1;
    }
  }
  // 2. A proxy: one kept-open connection.
  std::vector<double> kept_us;
  {
    Connection c(socket_path);
    std::string reply;
    for (int i = 0; i < requests && c.ok(); ++i) {
      auto start = Clock::now();
      if (!c.RoundTrip(line, &reply)) break;
      kept_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    }
  }
  // 3. 64 agents at once, each with its own connection.
  constexpr int kAgents = 64;
  std::vector<std::vector<double>> per_agent(kAgents);
  const int each = std::max(1, requests / kAgents);
  auto start_all = Clock::now();
  std::vector<std::thread> agents;
  for (int a = 0; a < kAgents; ++a) {
    agents.emplace_back([&, a] {
      json r = request;
      r["agent"] = "bench-" + std::to_string(a);
      const std::string own = r.dump() + "\n";
      Connection c(socket_path);
      std::string reply;
      for (int i = 0; i < each && c.ok(); ++i) {
        auto start = Clock::now();
        if (!c.RoundTrip(own, &reply)) break;
        per_agent[a].push_back(
            std::chrono::duration<double, std::micro>(Clock::now() - start).count());
      }
    });
  }
  for (auto& t : agents) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start_all).count();
  std::vector<double> all;
  for (auto& v : per_agent) all.insert(all.end(), v.begin(), v.end());

  kill(pid, SIGTERM);
  int status;
  waitpid(pid, &status, 0);
  std::filesystem::remove_all(state);

  std::printf("%-34s %10s %10s %8s\n", "decision round trip (allow)", "p50 us", "p99 us", "n");
  std::printf("%-34s %10.1f %10.1f %8zu\n", "hook: connect+check+close", Percentile(connect_us, .5),
              Percentile(connect_us, .99), connect_us.size());
  std::printf("%-34s %10.1f %10.1f %8zu\n", "proxy: kept-open connection", Percentile(kept_us, .5),
              Percentile(kept_us, .99), kept_us.size());
  std::printf("%-34s %10.1f %10.1f %8zu  (%.0f decisions/s)\n", "64 agents at once",
              Percentile(all, .5), Percentile(all, .99), all.size(), all.size() / seconds);
  std::printf(
      "p50_us=%.1f p99_us=%.1f connect_p50_us=%.1f agents64_p50_us=%.1f agents64_p99_us=%.1f "
      "agents64_rps=%.0f\n",
      Percentile(kept_us, .5), Percentile(kept_us, .99), Percentile(connect_us, .5),
      Percentile(all, .5), Percentile(all, .99), all.size() / seconds);
  return kept_us.size() == static_cast<std::size_t>(requests) &&
                 all.size() == static_cast<std::size_t>(each * kAgents)
             ? 0
             : 1;
}
