// Searching the audit log (audit/search.h): the filters, paging newest first
// with a cursor, the bounds on how much one search reads, the restore
// command of an approved action's snapshot, and the verify words.
#include "audit/search.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "audit/audit.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
namespace audit = dualkey::audit;

class Search : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dualkey-search-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    options_.path = (dir_ / "audit.jsonl").string();
    options_.key_path = (dir_ / "audit.key").string();
    options_.checkpoint_every = 7;  // checkpoint lines between entries too
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A day of decisions: 30 agent requests from two agents, one approved
  // delete with its snapshot, one denial.
  void WriteDay() {
    auto opened = audit::Log::Open(options_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    std::unique_ptr<audit::Log> log = std::move(opened).value();
    auto add = [&](const std::string& kind, const json& fields) {
      auto appended = log->Append({kind, fields.dump()});
      ASSERT_TRUE(appended.ok()) << appended.status().ToString();
    };
    for (int i = 0; i < 30; ++i) {
      const std::string agent = i % 3 == 0 ? "codex" : "claude";
      if (i % 5 == 0)
        add("hold", {{"agent", agent},
                     {"class", "fs.delete.recursive"},
                     {"decision", "hold"},
                     {"approval_id", "ap_" + std::to_string(i)},
                     {"input", "rm -rf /srv/" + std::to_string(i)},
                     {"reason", "recursive delete"}});
      else
        add("verdict", {{"agent", agent},
                        {"class", i % 2 ? "fs.read" : "db.drop.table"},
                        {"decision", i % 2 ? "allow" : "deny"},
                        {"input", "cat notes-" + std::to_string(i)}});
    }
    add("approval", {{"agent", "claude"},
                     {"approval_id", "ap_5"},
                     {"approver", "alice"},
                     {"factor", "passkey"},
                     {"state", "approved"},
                     {"via", "page"}});
    add("vault_snapshot", {{"agent", "claude"},
                           {"snapshot_id", "0123abcd4567ef89"},
                           {"vault", "/var/lib/my vault"},
                           {"approval_id", "ap_5"},
                           {"files", 3},
                           {"bytes", 40}});
    add("consumed", {{"agent", "claude"},
                     {"class", "fs.delete.recursive"},
                     {"decision", "allow"},
                     {"approved", true},
                     {"approval_id", "ap_5"},
                     {"approvers", {"alice"}},
                     {"snapshot_id", "0123abcd4567ef89"},
                     {"vault", "/var/lib/my vault"},
                     {"input", "rm -rf /srv/5"}});
    add("denial", {{"agent", "codex"},
                   {"approval_id", "ap_0"},
                   {"by", "bob"},
                   {"reason", "not <b>today</b>"}});
    ASSERT_TRUE(log->Close().ok());
  }

  audit::SearchResult Find(audit::SearchQuery query, const audit::SearchLimits& limits = {}) {
    std::string error;
    std::optional<audit::SearchResult> found = audit::Search(options_.path, query, &error, limits);
    EXPECT_TRUE(found) << error;
    return found.value_or(audit::SearchResult{});
  }

  static std::vector<std::uint64_t> Seqs(const audit::SearchResult& r) {
    std::vector<std::uint64_t> out;
    for (const json& record : r.records) out.push_back(record["seq"]);
    return out;
  }

  fs::path dir_;
  audit::OpenOptions options_;
};

TEST_F(Search, NewestFirstAndEveryFilter) {
  WriteDay();
  audit::SearchQuery all;
  all.limit = 200;
  audit::SearchResult everything = Find(all);
  ASSERT_EQ(everything.records.size(), 34u);
  EXPECT_EQ(everything.next_cursor, 0u) << "the start of the log was reached";
  EXPECT_EQ(everything.records.front()["kind"], "denial");
  std::vector<std::uint64_t> seqs = Seqs(everything);
  EXPECT_TRUE(std::is_sorted(seqs.rbegin(), seqs.rend()));

  audit::SearchQuery q = all;
  q.agent = "codex";
  for (const json& r : Find(q).records) EXPECT_EQ(r["agent"], "codex") << r.dump();
  EXPECT_EQ(Find(q).records.size(), 11u);

  q = all;
  q.op_class = "fs.delete";  // the family
  audit::SearchResult deletes = Find(q);
  EXPECT_EQ(deletes.records.size(), 7u);  // 6 holds and the run
  for (const json& r : deletes.records) EXPECT_EQ(r["class"], "fs.delete.recursive");
  q.op_class = "fs.del";  // not a family name
  EXPECT_TRUE(Find(q).records.empty());

  q = all;
  q.decision = "hold";
  EXPECT_EQ(Find(q).records.size(), 6u);
  q.decision = "approved";
  audit::SearchResult approved = Find(q);
  ASSERT_EQ(approved.records.size(), 2u);  // the approval and the approved run
  EXPECT_EQ(approved.records[0]["kind"], "consumed");
  EXPECT_EQ(approved.records[1]["kind"], "approval");
  q.decision = "denied";
  EXPECT_EQ(Find(q).records.size(), 1u);
  q.decision = "deny";
  EXPECT_EQ(Find(q).records.size(), 12u);

  q = all;
  q.text = "NOTES-1";                     // any case, any field
  EXPECT_EQ(Find(q).records.size(), 9u);  // notes-1, and notes-11..19 but the holds 15
  q.agent = "codex";
  q.decision = "allow";
  for (const json& r : Find(q).records) {
    EXPECT_EQ(r["agent"], "codex");
    EXPECT_EQ(r["decision"], "allow");
  }
}

TEST_F(Search, PagesWithACursorWithoutGapsOrRepeats) {
  WriteDay();
  audit::SearchQuery q;
  q.limit = 4;
  std::vector<std::uint64_t> seen;
  for (int page = 0; page < 20; ++page) {
    audit::SearchResult r = Find(q);
    EXPECT_LE(r.records.size(), 4u);
    for (std::uint64_t s : Seqs(r)) seen.push_back(s);
    if (r.next_cursor == 0) break;
    q.cursor = r.next_cursor;
  }
  ASSERT_EQ(seen.size(), 34u);
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], 34 - i);
}

TEST_F(Search, OneSearchReadsABoundedPartAndSaysWhereToGoOn) {
  WriteDay();
  audit::SearchQuery q;
  q.decision = "expired";  // matches nothing: the whole log would be read
  audit::SearchLimits limits;
  limits.max_entries = 10;
  audit::SearchResult first = Find(q, limits);
  EXPECT_TRUE(first.records.empty());
  EXPECT_TRUE(first.scan_limited);
  EXPECT_EQ(first.scanned, 10u);
  EXPECT_EQ(first.oldest_seq, 25u);
  ASSERT_NE(first.next_cursor, 0u);
  EXPECT_NE(audit::ScanWords(first).find("searched 10 records back to seq 25"), std::string::npos)
      << audit::ScanWords(first);
  // Going on reaches the start.
  q.cursor = first.next_cursor;
  std::uint64_t pages = 1;
  while (q.cursor != 0 && pages < 10) {
    audit::SearchResult next = Find(q, limits);
    q.cursor = next.next_cursor;
    ++pages;
  }
  EXPECT_EQ(pages, 4u);
  limits = {};
  limits.max_bytes = 1;  // at least one line each time
  audit::SearchResult tiny = Find(audit::SearchQuery{}, limits);
  EXPECT_LE(tiny.scanned, 1u);
  EXPECT_NE(tiny.next_cursor, 0u);
}

TEST_F(Search, AHugeLogIsReadInBoundedStepsWithTheDefaults) {
  {
    options_.checkpoint_every = 1000;
    auto opened = audit::Log::Open(options_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    std::unique_ptr<audit::Log> log = std::move(opened).value();
    for (int i = 0; i < 150'000; ++i)
      ASSERT_TRUE(log->Append({"verdict", json{{"agent", "claude"},
                                               {"class", "fs.read"},
                                               {"decision", "allow"},
                                               {"input", "cat file-" + std::to_string(i)}}
                                              .dump()},
                              audit::Log::Durability::kWritten)
                      .ok());
    ASSERT_TRUE(log->Close().ok());
  }
  audit::SearchQuery q;
  q.decision = "denied";  // none: a search that would read everything
  const auto started = std::chrono::steady_clock::now();
  audit::SearchResult r = Find(q);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  EXPECT_TRUE(r.records.empty());
  EXPECT_TRUE(r.scan_limited);
  // At most 16 MiB (these lines are ~370 bytes) or 100,000 records.
  EXPECT_GT(r.scanned, 40'000u);
  EXPECT_LT(r.scanned, 150'000u);
  EXPECT_EQ(r.oldest_seq, 150'000u - r.scanned + 1);
  EXPECT_NE(r.next_cursor, 0u);
#ifdef DUALKEY_SANITIZED
  constexpr long kBoundMs = 50'000;  // instrumented code runs several times slower
#else
  constexpr long kBoundMs = 5000;
#endif
  EXPECT_LT(ms, kBoundMs) << "one search reads a bounded part of the log";
  std::cout << "[ search ] " << r.scanned << " records read in " << ms << " ms (decision)\n";
  // Filters on what a line must contain pass most lines over unparsed.
  q = {};
  q.agent = "codex";
  q.text = "file-1";
  const auto quick = std::chrono::steady_clock::now();
  audit::SearchResult none = Find(q);
  std::cout << "[ search ] " << none.scanned << " records read in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - quick)
                   .count()
            << " ms (agent and text)\n";
  EXPECT_TRUE(none.records.empty());
  EXPECT_EQ(none.scanned, r.scanned);
  q.agent = "claude";
  q.text = "FILE-149999";
  audit::SearchResult one = Find(q);
  ASSERT_EQ(one.records.size(), 1u);
  EXPECT_EQ(one.records[0]["input"], "cat file-149999");
  // The newest page of an unfiltered search reads only what it shows.
  audit::SearchResult newest = Find(audit::SearchQuery{});
  EXPECT_EQ(newest.records.size(), 50u);
  EXPECT_EQ(newest.scanned, 50u);
}

TEST_F(Search, BadQueriesAndCursorsAreRefusedWithWhy) {
  WriteDay();
  auto refused = [&](audit::SearchQuery q) {
    std::string error;
    bool bad = false;
    EXPECT_FALSE(audit::Search(options_.path, q, &error, {}, &bad));
    EXPECT_TRUE(bad);
    return error;
  };
  audit::SearchQuery q;
  q.limit = 0;
  EXPECT_NE(refused(q).find("limit must be a whole number from 1 to 200"), std::string::npos);
  q.limit = 201;
  EXPECT_FALSE(refused(q).empty());
  q = {};
  q.decision = "maybe";
  EXPECT_NE(refused(q).find("one of: allow, hold, hold2, deny, approved, denied, expired"),
            std::string::npos);
  q = {};
  q.agent = std::string(300, 'a');
  EXPECT_NE(refused(q).find("agent is longer than"), std::string::npos);
  q = {};
  q.text = "\xff\xfe";
  EXPECT_NE(refused(q).find("not valid UTF-8"), std::string::npos);
  q = {};
  q.cursor = 3;  // inside the header line
  EXPECT_NE(refused(q).find("is not a place in this log"), std::string::npos);
  q.cursor = 1'000'000'000;  // past the end
  EXPECT_FALSE(refused(q).empty());

  std::string error;
  bool bad = true;
  EXPECT_FALSE(audit::Search((dir_ / "missing.jsonl").string(), {}, &error, {}, &bad));
  EXPECT_FALSE(bad) << "an unreadable file is not the query's fault";
  EXPECT_NE(error.find("cannot open"), std::string::npos);
}

TEST_F(Search, ATornFinalLineIsNoRecordYet) {
  WriteDay();
  std::ofstream(options_.path, std::ios::app) << R"({"seq":35,"time_ms":1,"kind":"verd)";
  audit::SearchResult r = Find(audit::SearchQuery{});
  ASSERT_FALSE(r.records.empty());
  EXPECT_EQ(r.records.front()["seq"], 34);
}

TEST_F(Search, ApprovedActionsCarryTheirSnapshotAndTheExactRestoreCommand) {
  WriteDay();
  audit::SearchQuery q;
  q.decision = "approved";
  audit::SearchResult r = Find(q);
  ASSERT_EQ(r.records.size(), 2u);
  const std::string command = "dualkey vault restore 0123abcd4567ef89 --vault '/var/lib/my vault'";
  EXPECT_EQ(r.records[0]["snapshot_id"], "0123abcd4567ef89");
  EXPECT_EQ(r.records[0]["restore"], command);
  EXPECT_EQ(r.records[0]["approver"], "alice");
  // The approval, written before the run, links to the run's snapshot.
  EXPECT_EQ(r.records[1]["snapshot_id"], "0123abcd4567ef89");
  EXPECT_EQ(r.records[1]["restore"], command);
  EXPECT_EQ(r.records[1]["summary"], "alice approved ap_5 with a passkey on the page");

  // A database's snapshot names the database; quoting keeps shell out.
  EXPECT_EQ(audit::RestoreCommand(
                json{{"snapshot_id", "abc123"}, {"channel", "sql"}, {"cwd", "pg:shop db"}}),
            "dualkey vault restore abc123 --db 'shop db'");
  EXPECT_EQ(audit::RestoreCommand(json{{"snapshot_id", "abc"}, {"vault", "/x/it's"}}),
            "dualkey vault restore abc --vault '/x/it'\\''s'");
  // An edited log never turns into a command to paste.
  for (const char* id : {"abc; rm -rf /", "$(reboot)", "-rf", "", "a b"})
    EXPECT_EQ(audit::RestoreCommand(json{{"snapshot_id", id}}), "") << id;
  EXPECT_EQ(audit::RestoreCommand(json{{"input", "x"}}), "");
}

// A "decisions" entry (a proxy's batch) is searched as its decisions,
// newest first, each found by its own agent, class, decision and text, with
// the batch's seq and its place in it.
TEST_F(Search, EachDecisionOfABatchIsARecord) {
  {
    auto opened = audit::Log::Open(options_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    std::unique_ptr<audit::Log> log = std::move(opened).value();
    json items = json::array();
    for (int i = 0; i < 5; ++i)
      items.push_back({{"agent", i == 3 ? "codex" : "claude"},
                       {"channel", "sql"},
                       {"class", i == 3 ? "db.write.bounded" : "read.only"},
                       {"cwd", ""},
                       {"decided_ms", i},
                       {"decision", i == 3 ? "hold" : "allow"},
                       {"forwarded", i != 3},
                       {"input", "SELECT " + std::to_string(i)}});
    json batch{{"decisions", items}, {"source", "pg_proxy"}, {"time_ms", 1}};
    ASSERT_TRUE(log->Append({"verdict", json{{"decision", "allow"}, {"input", "ls"}}.dump()}).ok());
    ASSERT_TRUE(log->Append({"decisions", batch.dump()}).ok());
    ASSERT_TRUE(log->Close().ok());
  }
  audit::SearchResult all = Find({});
  ASSERT_EQ(all.records.size(), 6u);
  EXPECT_EQ(all.records[0]["item"], 5);
  EXPECT_EQ(all.records[0]["seq"], 2);
  EXPECT_EQ(all.records[0]["kind"], "decision");
  EXPECT_EQ(all.records[0]["input"], "SELECT 4");
  EXPECT_EQ(all.records[4]["item"], 1);
  EXPECT_FALSE(all.records[5].contains("item"));

  audit::SearchQuery q;
  q.agent = "codex";
  audit::SearchResult codex = Find(q);
  ASSERT_EQ(codex.records.size(), 1u);
  EXPECT_EQ(codex.records[0]["input"], "SELECT 3");
  EXPECT_EQ(codex.records[0]["decision"], "hold");
  q = {};
  q.text = "select 2";
  audit::SearchResult two = Find(q);
  ASSERT_EQ(two.records.size(), 1u);
  EXPECT_EQ(two.records[0]["item"], 3);
  EXPECT_EQ(two.records[0]["fields"]["source"], "pg_proxy");

  // A page that fills up within the batch ends there; its cursor ("N.M")
  // goes on with the batch's next item, and the pages together hold every
  // record once, in order.
  q = {};
  q.limit = 2;
  std::vector<std::string> inputs;
  std::vector<std::string> cursors;
  for (int page = 0; page < 5; ++page) {
    audit::SearchResult got = Find(q);
    ASSERT_LE(got.records.size(), 2u);
    for (const json& r : got.records) inputs.push_back(r["input"].get<std::string>());
    cursors.push_back(audit::CursorText(got));
    if (got.next_cursor == 0) break;
    ASSERT_TRUE(audit::ParseCursor(audit::CursorText(got), &q)) << audit::CursorText(got);
  }
  EXPECT_EQ(inputs, (std::vector<std::string>{"SELECT 4", "SELECT 3", "SELECT 2", "SELECT 1",
                                              "SELECT 0", "ls"}));
  ASSERT_GE(cursors.size(), 2u);
  EXPECT_NE(cursors[0].find('.'), std::string::npos) << cursors[0];
  EXPECT_EQ(cursors[0].substr(cursors[0].find('.')), ".3");
  EXPECT_EQ(cursors[1].substr(cursors[1].find('.')), ".1");

  audit::SearchQuery bad;
  for (const char* text : {"", "0", "12.", ".3", "12.0", "12.x", "x", "1.2.3", "-4"})
    EXPECT_FALSE(audit::ParseCursor(text, &bad)) << text;
  EXPECT_EQ(bad.cursor, 0u);
}

TEST_F(Search, DecisionsAndWords) {
  EXPECT_EQ(audit::DecisionOf("consumed", json::object()), "approved");
  EXPECT_EQ(audit::DecisionOf("approval", json{{"state", "approved"}}), "approved");
  EXPECT_EQ(audit::DecisionOf("approval", json{{"state", "pending"}}), "hold2");
  EXPECT_EQ(audit::DecisionOf("denial", json::object()), "denied");
  EXPECT_EQ(audit::DecisionOf("expiry", json::object()), "expired");
  EXPECT_EQ(audit::DecisionOf("verdict", json{{"decision", "deny"}}), "deny");
  EXPECT_EQ(audit::DecisionOf("verdict", json{{"decision", "approved"}}), "");
  EXPECT_EQ(audit::DecisionOf("probe", json{{"decision", "hold"}}), "")
      << "a probe decides nothing";

  json hold = audit::RecordJson(
      7, 0, "hold",
      json{{"approval_id", "ap_x"}, {"code", "ABC-DEF"}, {"approvals_needed", 2}, {"reason", "r"}},
      "h");
  EXPECT_EQ(hold["summary"], "held as ap_x (code ABC-DEF), needs 2 approvals: r");
  EXPECT_EQ(hold["time"], "1970-01-01 00:00:00 UTC");
}

TEST_F(Search, VerifyWordsSayWhereTheChainBreaks) {
  WriteDay();
  audit::VerifyStatus intact = audit::StatusOf(audit::Verify(options_.path), 1'000);
  EXPECT_EQ(intact.state, audit::VerifyStatus::State::kIntact);
  EXPECT_EQ(audit::VerifyWords(intact),
            "audit log intact: 34 entries up to seq 34 (checked 1970-01-01 00:00:01 UTC)");

  // Edit record 12's input in place.
  std::ifstream in(options_.path);
  std::stringstream text;
  text << in.rdbuf();
  std::string log = text.str();
  const std::size_t at = log.find("cat notes-11");
  ASSERT_NE(at, std::string::npos);
  log.replace(at, 3, "rm ");
  std::ofstream(options_.path, std::ios::trunc) << log;

  audit::VerifyStatus broken = audit::StatusOf(audit::Verify(options_.path), 1'000);
  EXPECT_EQ(broken.state, audit::VerifyStatus::State::kBroken);
  EXPECT_EQ(broken.broken_seq, 12u);
  const std::string words = audit::VerifyWords(broken);
  EXPECT_TRUE(words.starts_with("audit log TAMPERED: broken at record 12 (line "));
  EXPECT_NE(words.find("hash mismatch (record edited)"), std::string::npos) << words;
  json j = audit::ToJson(broken);
  EXPECT_EQ(j["state"], "broken");
  EXPECT_EQ(j["broken_seq"], 12);

  audit::VerifyStatus none;
  none.why_not = "skipped";
  EXPECT_EQ(audit::VerifyWords(none), "audit log not checked (skipped)");
  EXPECT_EQ(audit::ToJson(none)["state"], "not_checked");
}

TEST_F(Search, TextForTheTerminalHasTheSameWords) {
  WriteDay();
  audit::SearchQuery q;
  q.decision = "approved";
  q.limit = 1;
  audit::SearchResult r = Find(q);
  audit::VerifyStatus status;
  const std::string text = audit::SearchText(r, status, "dualkey audit search --decision approved");
  EXPECT_NE(text.find("#33  "), std::string::npos) << text;
  EXPECT_NE(text.find("  approved  consumed  agent claude  class fs.delete.recursive\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("restore: dualkey vault restore 0123abcd4567ef89 --vault '/var/lib/my "
                      "vault'"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("older records: dualkey audit search --decision approved --cursor "),
            std::string::npos)
      << text;
  json reply = audit::SearchReply(r, status);
  EXPECT_EQ(reply["records"][0]["summary"], r.records[0]["summary"]);
  EXPECT_TRUE(reply["next_cursor"].is_string());
}

}  // namespace
