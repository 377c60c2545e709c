// SQL module cost per statement, next to libpg_query's own parse of the same
// text. Run: build/sql_bench --benchmark_min_time=0.5
//
// The JSON-vs-protobuf comparison decided the parse output the module uses:
// pg_query_parse (JSON) measured ~4x faster than pg_query_parse_protobuf
// (2.9 vs 11.3 us CPU per pgbench statement), and unpacking the protobuf
// adds ~7 us more. nlohmann's DOM over the JSON costs more than the parse
// itself (~8 us), hence the module's own flat JSON reader (json_tree.h).
// The protobuf rows are built only where protobuf-c's header is installed.
#include <benchmark/benchmark.h>
#include <pg_query.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policy/policy.h"
#include "sql/sql.h"

#if __has_include(<protobuf-c/protobuf-c.h>)
#include <pg_query/pg_query.pb-c.h>
#define DUALKEY_HAVE_PROTOBUF_C 1
#endif

namespace {

// pgbench's TPC-B-like transaction, with its variables filled in.
const std::vector<std::string> kPgbench = {
    "UPDATE pgbench_accounts SET abalance = abalance + 5 WHERE aid = 42;",
    "SELECT abalance FROM pgbench_accounts WHERE aid = 42;",
    "UPDATE pgbench_tellers SET tbalance = tbalance + 5 WHERE tid = 3;",
    "UPDATE pgbench_branches SET bbalance = bbalance + 5 WHERE bid = 1;",
    "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, 42, 5, "
    "CURRENT_TIMESTAMP);",
};

const std::vector<std::string>& CorpusSql() {
  static const std::vector<std::string> statements = [] {
    std::vector<std::string> out;
    std::ifstream in(DUALKEY_SOURCE_DIR "/../shared/corpus/cases.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      auto item = nlohmann::json::parse(line, nullptr, false);
      if (!item.is_discarded() && item.value("channel", "") == "sql")
        out.push_back(item["input"].get<std::string>());
    }
    return out;
  }();
  return statements;
}

const std::vector<std::string>& Inputs(int set) {
  return set == 0 ? kPgbench : CorpusSql();
}

void SetLabel(benchmark::State& state) {
  state.SetLabel(state.range(0) == 0 ? "pgbench" : "corpus-sql");
}

void BM_RawParseJson(benchmark::State& state) {
  const auto& inputs = Inputs(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    for (const auto& sql : inputs) {
      PgQueryParseResult result = pg_query_parse(sql.c_str());
      benchmark::DoNotOptimize(result.parse_tree);
      pg_query_free_parse_result(result);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<long>(inputs.size()));
  SetLabel(state);
}

void BM_RawParseJsonPlusNlohmannDom(benchmark::State& state) {
  const auto& inputs = Inputs(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    for (const auto& sql : inputs) {
      PgQueryParseResult result = pg_query_parse(sql.c_str());
      if (result.parse_tree != nullptr) {
        auto tree = nlohmann::json::parse(result.parse_tree, nullptr, false);
        benchmark::DoNotOptimize(tree);
      }
      pg_query_free_parse_result(result);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<long>(inputs.size()));
  SetLabel(state);
}

#ifdef DUALKEY_HAVE_PROTOBUF_C
void BM_RawParseProtobuf(benchmark::State& state) {
  const auto& inputs = Inputs(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    for (const auto& sql : inputs) {
      PgQueryProtobufParseResult result = pg_query_parse_protobuf(sql.c_str());
      benchmark::DoNotOptimize(result.parse_tree.data);
      pg_query_free_protobuf_parse_result(result);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<long>(inputs.size()));
  SetLabel(state);
}

void BM_RawParseProtobufPlusUnpack(benchmark::State& state) {
  const auto& inputs = Inputs(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    for (const auto& sql : inputs) {
      PgQueryProtobufParseResult result = pg_query_parse_protobuf(sql.c_str());
      if (result.error == nullptr) {
        PgQuery__ParseResult* tree = pg_query__parse_result__unpack(
            nullptr, result.parse_tree.len,
            reinterpret_cast<const uint8_t*>(result.parse_tree.data));
        benchmark::DoNotOptimize(tree);
        if (tree != nullptr) pg_query__parse_result__free_unpacked(tree, nullptr);
      }
      pg_query_free_protobuf_parse_result(result);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<long>(inputs.size()));
  SetLabel(state);
}
BENCHMARK(BM_RawParseProtobuf)->Arg(0)->Arg(1);
BENCHMARK(BM_RawParseProtobufPlusUnpack)->Arg(0)->Arg(1);
#endif

void BM_Classify(benchmark::State& state) {
  const auto& inputs = Inputs(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    for (const auto& sql : inputs) {
      auto actions = dualkey::sql::Classify(sql);
      benchmark::DoNotOptimize(actions);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<long>(inputs.size()));
  SetLabel(state);
}

void BM_ClassifyMySql(benchmark::State& state) {
  const auto& inputs = Inputs(static_cast<int>(state.range(0)));
  dualkey::sql::Options options;
  options.dialect = dualkey::sql::Dialect::kMySql;
  for (auto _ : state) {
    for (const auto& sql : inputs) {
      auto actions = dualkey::sql::Classify(sql, options);
      benchmark::DoNotOptimize(actions);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<long>(inputs.size()));
  SetLabel(state);
}

// The proxy's hot path for a statement seen before: one cache lookup.
void BM_CacheHit(benchmark::State& state) {
  const auto& inputs = Inputs(static_cast<int>(state.range(0)));
  dualkey::sql::DecisionCache cache(4096);
  std::vector<const std::string*> cached;
  for (const auto& sql : inputs)
    if (cache.Insert(sql, 1, dualkey::policy::Decide(dualkey::sql::Classify(sql))))
      cached.push_back(&sql);
  for (auto _ : state) {
    for (const std::string* sql : cached) benchmark::DoNotOptimize(cache.Find(*sql, 1));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<long>(cached.size()));
  SetLabel(state);
}
BENCHMARK(BM_CacheHit)->Arg(0)->Arg(1);

// The proxy's hot path for a plain SELECT whose numbers change (pgbench -S):
// the exact text misses, its shape key (sql::ReadShapeKey) hits.
void BM_ReadShapeKey(benchmark::State& state) {
  std::vector<std::string> selects;
  for (int aid = 1; aid <= 1000; ++aid)
    selects.push_back("SELECT abalance FROM pgbench_accounts WHERE aid = " +
                      std::to_string(aid * 7919 % 1000000) + ";");
  for (auto _ : state)
    for (const std::string& sql : selects)
      benchmark::DoNotOptimize(dualkey::sql::ReadShapeKey(sql));
  state.SetItemsProcessed(state.iterations() * static_cast<long>(selects.size()));
}
BENCHMARK(BM_ReadShapeKey);

BENCHMARK(BM_RawParseJson)->Arg(0)->Arg(1);
BENCHMARK(BM_RawParseJsonPlusNlohmannDom)->Arg(0)->Arg(1);
BENCHMARK(BM_Classify)->Arg(0)->Arg(1);
BENCHMARK(BM_ClassifyMySql)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
