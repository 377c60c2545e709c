// Parse + evaluate + classify + decide, per shell command, over a corpus of
// real agent commands: the shared development corpus when it sits beside the
// repo, else the project's own labelled cases.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "guard/guard.h"
#include "policy/policy.h"
#include "shell/internal/parser.h"

namespace {

struct Case {
  std::string input;
  std::string cwd;
};

const std::vector<Case>& Corpus() {
  static const std::vector<Case> cases = [] {
    std::vector<Case> out;
    for (const char* rel : {"/../shared/corpus/cases.jsonl", "/tests/cases/shell.jsonl"}) {
      std::ifstream in(std::string(DUALKEY_SOURCE_DIR) + rel);
      std::string line;
      while (std::getline(in, line)) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || j.value("channel", "") != "shell") continue;
        out.push_back({j["input"].get<std::string>(), j.value("cwd", "")});
      }
      if (!out.empty()) break;
    }
    return out;
  }();
  return cases;
}

// One iteration = one command of the corpus, round robin: parse, evaluate,
// unwrap, classify and decide, with the policy loaded once (as the daemon
// and a hook process do).
void BM_CheckShellCommand(benchmark::State& state) {
  const auto& cases = Corpus();
  const dualkey::policy::Policy policy = dualkey::policy::Builtin();
  std::size_t i = 0;
  for (auto _ : state) {
    const Case& c = cases[i++ % cases.size()];
    dualkey::guard::Request request{dualkey::Channel::kShell, c.input, c.cwd, "/home/dev"};
    benchmark::DoNotOptimize(dualkey::guard::Check(request, policy));
  }
  state.counters["commands"] = static_cast<double>(cases.size());
}
BENCHMARK(BM_CheckShellCommand);

// Finding and reading the policy layers (system, user, project) for a cwd:
// paid once per hook process.
void BM_LoadPolicyLayers(benchmark::State& state) {
  for (auto _ : state)
    benchmark::DoNotOptimize(
        dualkey::policy::Load(dualkey::policy::DefaultSources("/home/dev/app", "/home/dev")));
}
BENCHMARK(BM_LoadPolicyLayers);

void BM_ParseOnly(benchmark::State& state) {
  const auto& cases = Corpus();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(dualkey::shell::Parse(cases[i++ % cases.size()].input));
  }
}
BENCHMARK(BM_ParseOnly);

void BM_CheckSimpleCommand(benchmark::State& state) {
  const dualkey::policy::Policy policy = dualkey::policy::Builtin();
  dualkey::guard::Request request{dualkey::Channel::kShell, "ls -la", "/home/dev/app", "/home/dev"};
  for (auto _ : state) benchmark::DoNotOptimize(dualkey::guard::Check(request, policy));
}
BENCHMARK(BM_CheckSimpleCommand);

}  // namespace

BENCHMARK_MAIN();
