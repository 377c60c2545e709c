// Runs the SQL module over every "sql" case of the shared development corpus
// (when it is present) and checks recall and false holds. The corpus is data
// to learn from; nothing here special-cases its strings.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/action.h"
#include "sql/sql.h"

namespace dualkey::sql {
namespace {

constexpr const char* kCorpusPath = DUALKEY_SOURCE_DIR "/../shared/corpus/cases.jsonl";

bool AnyDestructive(const std::vector<Action>& actions) {
  for (const Action& action : actions) {
    if (IsDestructive(action)) return true;
  }
  return false;
}

struct Score {
  int holds = 0, allows = 0, missed_holds = 0, false_holds = 0;
};

Score RunCorpus(bool honour_mysql_notes) {
  Score score;
  std::ifstream in(kCorpusPath);
  std::string line;
  while (std::getline(in, line)) {
    auto item = nlohmann::json::parse(line, nullptr, false);
    if (item.is_discarded() || item.value("channel", "") != "sql") continue;
    const std::string input = item["input"].get<std::string>();
    const bool expect_hold = item["expect"] == "hold";
    Options options;
    if (honour_mysql_notes && item.value("why", "").find("MySQL") != std::string::npos)
      options.dialect = Dialect::kMySql;
    const auto actions = Classify(input, options);
    const bool held = AnyDestructive(actions);
    (expect_hold ? score.holds : score.allows)++;
    if (expect_hold && !held) {
      ++score.missed_holds;
      std::cout << "MISSED HOLD " << item["id"] << ": " << input << "\n";
    }
    if (!expect_hold && held) {
      ++score.false_holds;
      std::cout << "FALSE HOLD " << item["id"] << ": " << input << "\n";
    }
    if (expect_hold != held) {
      for (const Action& action : actions) {
        std::cout << "    " << action.op_class << " sev=" << ToString(action.severity) << " "
                  << action.reason << "\n";
      }
    }
  }
  return score;
}

TEST(SqlCorpus, PostgresDialectHoldsEveryHoldCase) {
  if (!std::ifstream(kCorpusPath)) GTEST_SKIP() << "corpus not present at " << kCorpusPath;
  Score score = RunCorpus(false);
  ASSERT_GT(score.holds, 0);
  EXPECT_EQ(score.missed_holds, 0);
  EXPECT_LE(score.false_holds, 1);
}

TEST(SqlCorpus, MySqlDialectForMySqlCasesHoldsEveryHoldCase) {
  if (!std::ifstream(kCorpusPath)) GTEST_SKIP() << "corpus not present at " << kCorpusPath;
  Score score = RunCorpus(true);
  EXPECT_EQ(score.missed_holds, 0);
  EXPECT_LE(score.false_holds, 1);
}

}  // namespace
}  // namespace dualkey::sql
