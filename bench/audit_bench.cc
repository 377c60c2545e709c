// Audit log appends per second with durability: every Append returns only
// after fdatasync, and concurrent appenders share syncs (group commit). With
// one thread the rate is the disk's sync rate; with many it is the sync rate
// times the batch size. Also the cost of Verify per entry.
//
// Run: build/audit_bench --benchmark_min_time=2
// The log goes to $DUALKEY_BENCH_DIR (default: the system temp directory):
// point it at the disk the daemon's state directory lives on.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "audit/audit.h"

namespace {

using dualkey::audit::Log;

std::string MakeDir() {
  const char* base = std::getenv("DUALKEY_BENCH_DIR");
  std::string pattern =
      (std::filesystem::path(base ? base : std::filesystem::temp_directory_path().string()) /
       "dualkey-audit-bench-XXXXXX")
          .string();
  if (mkdtemp(pattern.data()) == nullptr) return {};
  return pattern;
}

// A typical verdict record, as the daemon writes it.
std::string TypicalFields(int thread) {
  return nlohmann::json{{"agent", "claude-" + std::to_string(thread)},
                        {"channel", "shell"},
                        {"input", "rm -rf ./build/artifacts"},
                        {"cwd", "/home/dev/project"},
                        {"operation", "fs.delete.recursive"},
                        {"decision", "hold"},
                        {"reason", "recursive delete outside the scratch area"}}
      .dump();
}

// Shared between the benchmark's threads: thread 0 opens it before the
// timing loop and closes it after (Google Benchmark puts a barrier there).
struct Shared {
  std::string dir;
  std::unique_ptr<Log> log;
};
Shared& State() {
  static Shared shared;
  return shared;
}

void BM_AppendDurable(benchmark::State& state) {
  Shared& shared = State();
  if (state.thread_index() == 0) {
    shared.dir = MakeDir();
    dualkey::audit::OpenOptions options;
    options.path = shared.dir + "/audit.jsonl";
    options.key_path = shared.dir + "/audit.key";
    auto opened = Log::Open(options);
    if (opened.ok())
      shared.log = std::move(opened).value();
    else
      state.SkipWithError(("open failed: " + opened.status().message()).c_str());
  }
  const dualkey::audit::Record record{"verdict", TypicalFields(state.thread_index())};
  for (auto _ : state) {
    if (!shared.log) break;
    if (auto appended = shared.log->Append(record); !appended.ok()) {
      state.SkipWithError(("append failed: " + appended.status().message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    shared.log.reset();
    std::filesystem::remove_all(shared.dir);
  }
}
BENCHMARK(BM_AppendDurable)->Threads(1)->Threads(16)->Threads(64)->Threads(256)->UseRealTime();

// The hot path of a plain allow: written to the file before the reply,
// synced by group commit within 100 ms (no fsync of its own).
void BM_AppendWritten(benchmark::State& state) {
  Shared& shared = State();
  if (state.thread_index() == 0) {
    shared.dir = MakeDir();
    dualkey::audit::OpenOptions options;
    options.path = shared.dir + "/audit.jsonl";
    options.key_path = shared.dir + "/audit.key";
    auto opened = Log::Open(options);
    if (opened.ok())
      shared.log = std::move(opened).value();
    else
      state.SkipWithError(("open failed: " + opened.status().message()).c_str());
  }
  const dualkey::audit::Record record{"verdict", TypicalFields(state.thread_index())};
  for (auto _ : state) {
    if (!shared.log) break;
    if (auto appended = shared.log->Append(record, Log::Durability::kWritten); !appended.ok()) {
      state.SkipWithError(("append failed: " + appended.status().message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    shared.log.reset();
    std::filesystem::remove_all(shared.dir);
  }
}
BENCHMARK(BM_AppendWritten)->Threads(1)->Threads(8)->UseRealTime();

void BM_Verify(benchmark::State& state) {
  std::string dir = MakeDir();
  dualkey::audit::OpenOptions options;
  options.path = dir + "/audit.jsonl";
  options.key_path = dir + "/audit.key";
  const int entries = static_cast<int>(state.range(0));
  {
    auto log = Log::Open(options);
    if (!log.ok()) {
      state.SkipWithError(log.status().message().c_str());
      return;
    }
    // Sequential appends would each sync: fine for a few thousand.
    for (int i = 0; i < entries; ++i) (*log)->Append({"verdict", TypicalFields(i)}).ok();
  }
  for (auto _ : state) {
    auto report = dualkey::audit::Verify(options.path);
    if (!report.ok) state.SkipWithError("verify failed");
    benchmark::DoNotOptimize(report);
  }
  state.SetItemsProcessed(state.iterations() * entries);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_Verify)->Arg(2000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
