// Runs the real dualkey binary: the labelled cases in tests/cases/ and the
// `check` command's contract (exit codes, --json, --jsonl with bad lines).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "support/daemon.h"

namespace {

using nlohmann::json;

using RunResult = dualkey::test_support::Output;
using dualkey::test_support::Quote;

RunResult Execute(const std::string& args, const std::string& stdin_text = "") {
  // Hermetic: never ask a daemon that may run on this machine.
  std::string command =
      "DUALKEY_SOCKET=/nonexistent/dualkey.sock " + std::string(DUALKEY_BINARY) + " " + args;
  std::string input_file;
  if (!stdin_text.empty()) {
    input_file =
        std::filesystem::temp_directory_path() / ("dualkey-cli-" + std::to_string(getpid()));
    std::ofstream(input_file) << stdin_text;
    command += " < " + input_file;
  }
  RunResult run = dualkey::test_support::Shell(command);
  if (!input_file.empty()) std::filesystem::remove(input_file);
  return run;
}

std::vector<json> Lines(const std::string& out) {
  std::vector<json> lines;
  std::size_t start = 0;
  while (start < out.size()) {
    std::size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    if (end > start) lines.push_back(json::parse(out.substr(start, end - start)));
    start = end + 1;
  }
  return lines;
}

bool Held(const std::string& decision) {
  return decision == "hold" || decision == "hold2" || decision == "deny";
}

class LabelledCases : public ::testing::TestWithParam<std::string> {};

// Every case in tests/cases/<file>.jsonl must get its expected decision.
TEST_P(LabelledCases, EveryCaseDecidedAsLabelled) {
  const std::string path = std::string(DUALKEY_SOURCE_DIR) + "/tests/cases/" + GetParam();
  std::map<std::string, json> expected;
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    json c = json::parse(line);
    expected[c["id"].get<std::string>()] = c;
  }
  RunResult run = Execute("check --home /home/dev --jsonl " + Quote(path));
  ASSERT_EQ(run.status, 0);
  std::size_t answered = 0;
  for (const json& result : Lines(run.out)) {
    std::string id = result["id"].get<std::string>();
    auto it = expected.find(id);
    ASSERT_NE(it, expected.end()) << id;
    ++answered;
    const json& c = it->second;
    bool want_held = c["expect"] == "hold";
    EXPECT_EQ(Held(result["decision"].get<std::string>()), want_held)
        << id << " " << c["input"].dump() << " (cwd " << c.value("cwd", "-") << ") expected "
        << c["expect"] << ", got " << result.dump();
  }
  EXPECT_EQ(answered, expected.size());
}

INSTANTIATE_TEST_SUITE_P(Cases, LabelledCases,
                         ::testing::Values("shell.jsonl", "http.jsonl", "mcp.jsonl", "sql.jsonl"));

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("dualkey-cli-packs-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
    return (path_ / name).string();
  }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST(PacksCommand, ListsTheBuiltInPacks) {
  RunResult run = Execute("packs list --json");
  ASSERT_EQ(run.status, 0) << run.out;
  json out = json::parse(run.out);
  EXPECT_GE(out["packs"].size(), 60u);
  bool gh = false;
  for (const json& pack : out["packs"]) gh = gh || pack["name"] == "github-cli";
  EXPECT_TRUE(gh);
}

TEST(PacksCommand, TestRunsEveryBuiltInPacksCases) {
  RunResult run = Execute("packs test --json");
  ASSERT_EQ(run.status, 0) << run.out;
  json out = json::parse(run.out);
  EXPECT_TRUE(out["ok"].get<bool>());
  EXPECT_GT(out["passed"].get<int>(), 400);
}

TEST(PacksCommand, TestAFileReportsFailuresAndErrors) {
  TempDir dir;
  std::string good = dir.Write("acme.toml",
                               "[pack]\nname = \"acme\"\n[[tool]]\nnames = [\"acmectl\"]\n"
                               "[[rule]]\nname = \"purge\"\ncommand = \"acmectl cache purge\"\n"
                               "class = \"cache.clear\"\nseverity = \"low\"\n"
                               "[[test]]\ncommand = \"acmectl cache purge\"\nexpect = \"allow\"\n"
                               "[[test]]\ncommand = \"acmectl db drop\"\nexpect = \"hold\"\n");
  EXPECT_EQ(Execute("packs test " + Quote(good)).status, 0);
  std::string wrong = dir.Write("wrong.toml",
                                "[pack]\nname = \"w\"\n[[tool]]\nnames = [\"acmectl\"]\n"
                                "[[test]]\ncommand = \"acmectl db drop\"\nexpect = \"allow\"\n");
  RunResult failed = Execute("packs test --json " + Quote(wrong));
  EXPECT_EQ(failed.status, 1);
  EXPECT_EQ(json::parse(failed.out)["failed"].get<int>(), 1);
  std::string broken = dir.Write("broken.toml", "[pack]\nname = \"b\"\n[[tool]]\nnames = 3\n");
  RunResult error = Execute("packs test " + Quote(broken));
  EXPECT_EQ(error.status, 1);
  EXPECT_NE(error.out.find("broken.toml:4"), std::string::npos) << error.out;
}

TEST(PolicyCommand, CheckReportsABrokenPackWithFileAndLine) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/packs");
  std::string broken =
      dir.Write("packs/x.toml", "[pack]\nname = \"x\"\n\n[[tool]]\nkind = \"odd\"\n");
  RunResult run = Execute("policy check " + Quote(broken));
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.out.find("x.toml:5"), std::string::npos) << run.out;
}

TEST(PolicyCommand, ExplainNamesThePackAndRule) {
  RunResult run =
      Execute("policy explain --home /home/dev --cwd /home/dev/app -- gh repo delete acme/x");
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.out.find("pack github-cli, rule repo-delete"), std::string::npos) << run.out;
  run = Execute(
      "policy explain --json --home /home/dev --cwd /home/dev/app -- acmectl tenants purge");
  json out = json::parse(run.out);
  EXPECT_EQ(out["actions"][0]["origin"], "unknown-command rule");
}

TEST(CheckCommand, ExitStatusIsZeroForAllowAndOneForHold) {
  EXPECT_EQ(Execute("check --cwd /home/dev/app -- ls -la").status, 0);
  EXPECT_EQ(Execute("check --cwd /home/dev/app -- " + Quote("rm -rf /")).status, 1);
}

TEST(CheckCommand, UsageErrorsExitTwo) {
  EXPECT_EQ(Execute("check").status, 2);
  EXPECT_EQ(Execute("check --bogus-flag -- ls").status, 2);
  EXPECT_EQ(Execute("frobnicate").status, 2);
  EXPECT_EQ(Execute("check --channel smtp -- ls").status, 2);
  EXPECT_EQ(Execute("check --cwd relative/dir -- ls").status, 2);
}

TEST(CheckCommand, JsonOutputCarriesDecisionAndActions) {
  RunResult run =
      Execute("check --json --cwd /home/dev/app -- " + Quote("rm -rf /var/lib/postgresql"));
  EXPECT_EQ(run.status, 1);
  json out = json::parse(run.out);
  EXPECT_EQ(out["decision"], "hold");
  ASSERT_FALSE(out["actions"].empty());
  const json& action = out["actions"][0];
  EXPECT_TRUE(action.contains("class"));
  EXPECT_TRUE(action.contains("targets"));
  EXPECT_EQ(action["reversible"], false);
  EXPECT_FALSE(action["reason"].get<std::string>().empty());
}

TEST(CheckCommand, HumanOutputShowsWhatRunsAndTheDecision) {
  RunResult run = Execute("check --cwd /home/dev/app -- " + Quote("sudo bash -c 'rm -rf /srv/x'"));
  EXPECT_NE(run.out.find("rm -rf /srv/x"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("decision: hold"), std::string::npos) << run.out;
}

TEST(CheckCommand, JsonlKeepsGoingAfterMalformedLines) {
  std::string input =
      "{\"id\":\"a\",\"channel\":\"shell\",\"input\":\"ls\"}\n"
      "this is not json\n"
      "{\"id\":\"b\",\"channel\":\"carrier-pigeon\",\"input\":\"x\"}\n"
      "{\"id\":\"c\",\"channel\":\"shell\"}\n"
      "\n"
      "{\"id\":\"d\",\"channel\":\"shell\",\"input\":\"rm -rf /\"}\n";
  RunResult run = Execute("check --jsonl -", input);
  EXPECT_EQ(run.status, 0);
  std::vector<json> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0]["decision"], "allow");
  EXPECT_EQ(lines[1]["line"], 2);
  EXPECT_EQ(lines[1]["decision"], "hold");
  EXPECT_TRUE(lines[1].contains("error"));
  EXPECT_EQ(lines[2]["id"], "b");
  EXPECT_EQ(lines[2]["decision"], "hold");
  EXPECT_EQ(lines[3]["id"], "c");
  EXPECT_EQ(lines[3]["decision"], "hold");
  EXPECT_EQ(lines[4]["id"], "d");
  EXPECT_EQ(lines[4]["decision"], "hold");
}

// A case that is not UTF-8 is refused with a clear error under its id, and
// the cases after it are still checked.
TEST(CheckCommand, JsonlRefusesInvalidUtf8AndKeepsGoing) {
  std::string input =
      "{\"id\":\"bad\",\"channel\":\"shell\",\"input\":\"ls \xff\"}\n"
      "{\"id\":\"sql\",\"channel\":\"sql\",\"input\":\"SELECT 1 \xc3\"}\n"
      "\xfe\xfe\n"
      "{\"id\":\"ok\",\"channel\":\"shell\",\"input\":\"ls\"}\n";
  RunResult run = Execute("check --jsonl -", input);
  EXPECT_EQ(run.status, 0);
  std::vector<json> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 4u) << run.out;
  EXPECT_EQ(lines[0]["id"], "bad");
  EXPECT_EQ(lines[0]["decision"], "hold");
  EXPECT_NE(lines[0]["error"].get<std::string>().find("not valid UTF-8 (byte 42)"),
            std::string::npos)
      << lines[0];
  EXPECT_EQ(lines[1]["id"], "sql");
  EXPECT_EQ(lines[1]["decision"], "hold");
  EXPECT_TRUE(lines[2]["id"].is_null());
  EXPECT_EQ(lines[2]["decision"], "hold");
  EXPECT_EQ(lines[3]["decision"], "allow");
}

TEST(CheckCommand, HttpAndMcpChannelsAreClassifiedAndFailClosedOnBadInput) {
  std::string input =
      "{\"id\":\"h1\",\"channel\":\"http\",\"input\":{\"method\":\"GET\",\"url\":\"https://"
      "api.example.com/v1/items\"}}\n"
      "{\"id\":\"h2\",\"channel\":\"http\",\"input\":{\"method\":\"DELETE\",\"url\":\"https://"
      "api.example.com/v1/items\"}}\n"
      "{\"id\":\"h3\",\"channel\":\"http\",\"input\":{\"url\":42}}\n"
      "{\"id\":\"m1\",\"channel\":\"mcp\",\"input\":{\"server\":\"pg\",\"tool\":\"query\","
      "\"arguments\":{\"sql\":\"SELECT 1\"}}}\n"
      "{\"id\":\"m2\",\"channel\":\"mcp\",\"input\":{\"server\":\"pg\",\"tool\":\"query\","
      "\"arguments\":{\"sql\":\"DROP TABLE t\"}}}\n"
      "{\"id\":\"m3\",\"channel\":\"mcp\",\"input\":{\"server\":\"s\"}}\n";
  std::vector<json> lines = Lines(Execute("check --jsonl -", input).out);
  ASSERT_EQ(lines.size(), 6u);
  std::map<std::string, std::string> decisions;
  for (const json& line : lines) decisions[line["id"]] = line["decision"];
  EXPECT_EQ(decisions["h1"], "allow");
  EXPECT_EQ(decisions["h2"], "hold");
  EXPECT_EQ(decisions["h3"], "hold");
  EXPECT_EQ(decisions["m1"], "allow");
  EXPECT_EQ(decisions["m2"], "hold");
  EXPECT_EQ(decisions["m3"], "hold");
}

// Text channels take text: an input of another type is refused under its
// id and held, never read as the JSON text it would dump to (the list
// ["rm","-rf","/"] was once allowed as the command `["rm","-rf","/"]`).
TEST(CheckCommand, JsonlHoldsAnInputOfTheWrongType) {
  std::string input =
      "{\"id\":\"argv\",\"channel\":\"shell\",\"input\":[\"rm\",\"-rf\",\"/\"]}\n"
      "{\"id\":\"object\",\"channel\":\"shell\",\"input\":{\"command\":\"rm -rf /\"}}\n"
      "{\"id\":\"number\",\"channel\":\"sql\",\"input\":5}\n"
      "{\"id\":\"path\",\"channel\":\"file\",\"input\":null}\n"
      "{\"id\":\"list\",\"channel\":\"http\",\"input\":[\"DELETE\",\"https://x/\"]}\n"
      "{\"id\":\"server\",\"channel\":\"mcp\",\"input\":{\"server\":1,\"tool\":\"q\"}}\n"
      "{\"id\":\"ok\",\"channel\":\"shell\",\"input\":\"ls\"}\n";
  std::vector<json> lines = Lines(Execute("check --jsonl -", input).out);
  ASSERT_EQ(lines.size(), 7u);
  for (std::size_t i = 0; i + 1 < lines.size(); ++i)
    EXPECT_EQ(lines[i]["decision"], "hold") << lines[i];
  EXPECT_EQ(lines[0]["id"], "argv");
  EXPECT_NE(lines[0].value("error", "").find("must be a string"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[6]["decision"], "allow");
}

TEST(CheckCommand, MissingFileIsAUsageError) {
  EXPECT_EQ(Execute("check --jsonl /nonexistent/cases.jsonl").status, 2);
}

}  // namespace
