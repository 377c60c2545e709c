// The daemon's side of "every decision in the audit log": batches of
// decisions as the PostgreSQL proxy reports them (packed, pgbench -S
// statements, 300 a batch: 20 ms of a proxy at 15k statements a second),
// sent to a real `dualkey serve` over its socket and written to its
// hash-chained log before it answers. The figure to watch is
// daemon_cpu_us (the daemon's CPU time per decision, from /proc), which
// does not move with the machine's other load as TPS in
// bench/pg_proxy_compare.sh does.
//
//   build/report_bench [--benchmark_min_time=3]
// DUALKEY_BINARY (default: build/dualkey of this tree) is the daemon;
// DUALKEY_BENCH_DIR (default: the temp directory) holds its state.
#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "client/client.h"
#include "client/report_wire.h"

namespace {

namespace fs = std::filesystem;
using dualkey::client::Client;
using dualkey::client::ClientOptions;

// A daemon of its own, stopped when the benchmark ends.
class Daemon {
 public:
  Daemon() {
    const char* base = std::getenv("DUALKEY_BENCH_DIR");
    std::string pattern =
        ((base != nullptr ? fs::path(base) : fs::temp_directory_path()) / "dualkey-report-XXXXXX")
            .string();
    if (mkdtemp(pattern.data()) == nullptr) return;
    dir_ = pattern;
    socket_ = dir_ + "/d.sock";
    const char* binary = std::getenv("DUALKEY_BINARY");
    const std::string program = binary != nullptr ? binary : DUALKEY_SOURCE_DIR "/build/dualkey";
    pid_ = fork();
    if (pid_ == 0) {
      setsid();  // its own session, as installed (see bench/pg_proxy_compare.sh)
      execl(program.c_str(), program.c_str(), "serve", "--state-dir", dir_.c_str(), "--socket",
            socket_.c_str(), "--quiet", static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 300 && !fs::exists(socket_); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ~Daemon() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  bool up() const { return pid_ > 0 && fs::exists(socket_); }
  const std::string& socket() const { return socket_; }
  // User plus system CPU time so far, in microseconds.
  double CpuUs() const {
    std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    std::istringstream fields(text.substr(text.rfind(')') + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i)
      if (i == 14 || i == 15) ticks += std::stod(field);
    return ticks * 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
  }

 private:
  std::string dir_, socket_;
  pid_t pid_ = -1;
};

void BM_ReportBatch(benchmark::State& state) {
  Daemon daemon;
  if (!daemon.up()) {
    state.SkipWithError("dualkey serve did not start (DUALKEY_BINARY?)");
    return;
  }
  ClientOptions options;
  options.socket_path = daemon.socket();
  const Client client = Client::ForThisProcess(options);
  Client::Connection connection(client);
  const auto batch = static_cast<std::size_t>(state.range(0));
  dualkey::client::ReportRequest head;
  head.source = "pg_proxy";
  head.sender = "report-bench";
  std::uint64_t next = 0, aid = 1;
  const double cpu_before = daemon.CpuUs();
  for (auto _ : state) {
    state.PauseTiming();
    std::string packed;
    for (std::size_t i = 0; i < batch; ++i) {
      dualkey::client::ReportedDecision d;
      d.time_ms = 1796000000000 + static_cast<std::int64_t>(aid);
      d.action.channel = dualkey::Channel::kSql;
      d.action.agent = "pgbench";
      d.action.input = "SELECT abalance FROM pgbench_accounts WHERE aid = " +
                       std::to_string(aid++ * 7919 % 1000000) + ";";
      d.op_class = "db.read";
      d.forwarded = true;
      d.added_us = 3;
      dualkey::client::AppendPacked(&packed, dualkey::client::ViewOf(d));
    }
    head.first = next;
    const std::string line = dualkey::client::PackedReportLine(head, packed, batch);
    state.ResumeTiming();
    dualkey::Result<nlohmann::json> reply = connection.CallLine(line);
    if (!reply.ok() || reply->value("recorded", std::uint64_t{0}) != batch) {
      state.SkipWithError(reply.ok() ? ("recorded: " + reply->dump()).c_str()
                                     : reply.status().ToString().c_str());
      break;
    }
    next += batch;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(next));
  if (next > 0) state.counters["daemon_cpu_us"] = (daemon.CpuUs() - cpu_before) / next;
}
// 300: a proxy at 15k statements a second (its batches go every 20 ms); 30:
// one at 1.5k, where what a batch costs whatever its size (a read, a write
// and an fdatasync of the log) is shared by fewer decisions.
BENCHMARK(BM_ReportBatch)->Arg(30)->Arg(300)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
