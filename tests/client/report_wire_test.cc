// The report op's packed batches (client/report_wire.h): JSON strings
// escaped as nlohmann escapes them, decisions that come back as they went,
// and, against a real daemon, records written without a JSON tree that are
// canonical (the chain verifies), redacted, and field for field what the
// general path writes.
#include "client/report_wire.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/json_text.h"
#include "base/line_io.h"
#include "base/unix_socket.h"
#include "client/client.h"
#include "client/reporter.h"
#include "support/daemon.h"

namespace {

namespace fs = std::filesystem;
using dualkey::client::AppendJsonString;
using dualkey::client::AppendPacked;
using dualkey::client::NextPacked;
using dualkey::client::PackedDecision;
using dualkey::client::ReportedDecision;
using dualkey::client::ViewOf;
using nlohmann::json;

std::string Escaped(std::string_view text) {
  std::string out;
  AppendJsonString(&out, text);
  return out;
}

TEST(ReportWire, JsonStringsAreEscapedAsJsonDumpEscapesThem) {
  for (int c = 0; c < 0x80; ++c) {
    const std::string text = "a" + std::string(1, static_cast<char>(c)) + "b";
    EXPECT_EQ(Escaped(text), dualkey::base::JsonDump(json(text))) << "byte " << c;
  }
  for (std::string text : {std::string(), std::string("SELECT 'x' FROM \"t\" WHERE a = '\\n'"),
                           std::string("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
                           std::string("\x7f\x01\x1f"), std::string(1, '\0') + "nul"})
    EXPECT_EQ(Escaped(text), dualkey::base::JsonDump(json(text))) << text;
}

// Text is checked eight bytes at a time: a character to escape at every
// offset of a long text (in a word, across two) is escaped where it is,
// and bytes of 0x80 and above (UTF-8) are never mistaken for one.
TEST(ReportWire, EveryOffsetOfALongTextIsEscaped) {
  const std::string plain = "SELECT abalance FROM pgbench_accounts WHERE aid = 4\xC3\xA9;";
  for (const char special : {'"', '\\', '\n', '\x01', '\x1f', '\0'}) {
    for (std::size_t at = 0; at <= plain.size(); ++at) {
      std::string text = plain;
      text.insert(at, 1, special);
      if (!dualkey::base::IsValidUtf8(text)) continue;  // inside the é: not text
      EXPECT_EQ(Escaped(text), dualkey::base::JsonDump(json(text)))
          << "byte " << int(special) << " at " << at;
    }
  }
  const std::string high = "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xC3\xA9 ~\x7f\xF0\x9F\x98\x80 !#";
  EXPECT_EQ(Escaped(high), dualkey::base::JsonDump(json(high)));
}

ReportedDecision Decision(std::string input) {
  ReportedDecision d;
  d.time_ms = 1700000000123;
  d.action.channel = dualkey::Channel::kSql;
  d.action.input = std::move(input);
  d.action.agent = "agent:1";
  d.action.cwd = "/srv/app";
  d.decision = dualkey::Decision::kAllow;
  d.op_class = "read.only";
  d.forwarded = true;
  d.added_us = 17;
  return d;
}

TEST(ReportWire, PackedDecisionsComeBackAsTheyWent) {
  std::vector<ReportedDecision> sent = {Decision("SELECT 1"),
                                        Decision("SELECT '\xff\xfe' -- bytes"), Decision("")};
  sent[1].decision = dualkey::Decision::kHold;
  sent[1].forwarded = false;
  sent[1].added_us = -1;
  sent[1].reason = "held: 12:34 ~ odd:text";
  sent[1].action.channel = dualkey::Channel::kHttp;
  sent[2].action.agent.clear();
  sent[2].action.cwd = std::string("\xc3", 1);  // cut UTF-8
  std::string packed;
  for (const ReportedDecision& d : sent) AppendPacked(&packed, ViewOf(d));
  EXPECT_TRUE(dualkey::base::IsValidUtf8(packed));
  std::string_view rest = packed;
  for (const ReportedDecision& d : sent) {
    PackedDecision got;
    ASSERT_TRUE(NextPacked(&rest, &got).ok());
    EXPECT_EQ(got.time_ms, d.time_ms);
    EXPECT_EQ(got.decision, d.decision);
    EXPECT_EQ(got.forwarded, d.forwarded);
    EXPECT_EQ(got.added_us, d.added_us);
    EXPECT_EQ(got.channel, d.action.channel);
    EXPECT_EQ(got.agent, d.action.agent);
    EXPECT_EQ(got.cwd, d.action.cwd);
    EXPECT_EQ(got.input, d.action.input);
    EXPECT_EQ(got.op_class, d.op_class);
    EXPECT_EQ(got.reason, d.reason);
  }
  EXPECT_TRUE(rest.empty());
  // The line is one JSON object that says what it carries.
  dualkey::client::ReportRequest head;
  head.source = "pg_proxy";
  head.sender = "0123abcd";
  head.first = 4000000000ull;
  dualkey::client::ReportGap gap;
  gap.lost = 3;
  gap.first_lost = 7;
  gap.first_lost_destructive = 2;
  head.gaps.push_back(gap);
  std::string line = dualkey::client::PackedReportLine(head, packed, sent.size());
  ASSERT_EQ(line.back(), '\n');
  line.pop_back();
  const json parsed = json::parse(line);
  EXPECT_EQ(parsed["op"], "report");
  EXPECT_EQ(parsed["count"], 3);
  EXPECT_EQ(parsed["packed"].get<std::string>(), packed);
  // What the daemon reads of it: the same head.
  dualkey::client::ReportRequest read;
  ASSERT_TRUE(dualkey::client::FromJson(parsed, &read).ok());
  EXPECT_EQ(read.source, "pg_proxy");
  EXPECT_EQ(read.sender, "0123abcd");
  EXPECT_EQ(read.first, 4000000000ull);
  ASSERT_EQ(read.gaps.size(), 1u);
  EXPECT_EQ(read.gaps[0].lost, 3u);
  EXPECT_EQ(read.gaps[0].first_lost, 7u);
  EXPECT_EQ(read.gaps[0].first_lost_destructive, 2u);
  // Without a sender: no numbers either (a daemon writes it as it comes).
  head.sender.clear();
  const json unnamed = json::parse(dualkey::client::PackedReportLine(head, packed, sent.size()));
  EXPECT_FALSE(unnamed.contains("sender"));
  EXPECT_FALSE(unnamed.contains("first"));
}

TEST(ReportWire, GarbageIsRefused) {
  std::string packed;
  AppendPacked(&packed, ViewOf(Decision("SELECT 1")));
  for (std::size_t cut = 0; cut < packed.size(); ++cut) {
    std::string_view rest = std::string_view(packed).substr(0, cut);
    PackedDecision got;
    EXPECT_FALSE(NextPacked(&rest, &got).ok()) << cut;
  }
  for (std::string bad : {"x,5:allow1,0,3:sql0:0:0:0:0:", "1,5:maybe1,0,3:sql0:0:0:0:0:",
                          "1,5:allow2,0,3:sql0:0:0:0:0:", "1,5:allow1,0,3:sq_0:0:0:0:0:",
                          "1,5:allow1,0,3:sql0:0:99:x0:0:", "1,5:allow1,0,3:sql0:0:3~!!!0:0:"}) {
    std::string_view rest = bad;
    PackedDecision got;
    EXPECT_FALSE(NextPacked(&rest, &got).ok()) << bad;
  }
}

// ParseReportLine must give exactly what nlohmann's parser gives, or
// nothing (the caller then parses the general way).
// Returns whether it read the line itself.
bool ExpectSameAsTheParser(const std::string& line) {
  const nlohmann::json full = nlohmann::json::parse(line, nullptr, false);
  const std::optional<nlohmann::json> fast = dualkey::client::ParseReportLine(line);
  if (!fast) return false;
  EXPECT_FALSE(full.is_discarded()) << "read a line the parser refuses: " << line;
  EXPECT_EQ(*fast, full) << line;
  return true;
}

TEST(ReportWire, AReportLineIsReadWithoutTheLexerExactlyAsTheParserReadsIt) {
  dualkey::client::ReportRequest head;
  head.source = "pg_proxy";
  head.sender = "s1";
  std::string packed;
  for (int i = 0; i < 50; ++i) {
    dualkey::client::ReportedDecision d;
    d.action.input = "SELECT \"x\"\\ from t where a = '" + std::to_string(i) + "\t\x01 é 😀'";
    d.action.agent = "claude";
    d.time_ms = 1000 + i;
    dualkey::client::AppendPacked(&packed, dualkey::client::ViewOf(d));
  }
  std::string line = dualkey::client::PackedReportLine(head, packed, 50);
  line.pop_back();  // the newline
  const std::optional<nlohmann::json> fast = dualkey::client::ParseReportLine(line);
  ASSERT_TRUE(fast) << "the reporter's own line takes the fast way";
  EXPECT_EQ(*fast, nlohmann::json::parse(line));
  EXPECT_EQ((*fast)["packed"], packed);

  // Lines it must read exactly, or leave to the parser.
  for (const std::string& odd : std::vector<std::string>{
           R"({"packed":"a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\u20ac\ud83d\ude00\u0000"})",
           R"( { "op" : "report" , "packed" : "x" , "n" : [1,{"a":"]"}] } )",
           R"({"gaps":[{"packed":"inner"}],"packed":"outer"})",
           R"({"gaps":[{"packed":"inner"}]})",
           R"({"packed":"one","packed":"two"})",
           R"({"pack\u0065d":"escaped key","packed":"plain"})",
           R"({"packed":"plain","pack\u0065d":"escaped key"})",
           R"({"packed":1})",
           R"({"packed":"lone \ud800"})",
           R"({"packed":"lone \udc00 low"})",
           R"({"packed":"bad \x escape"})",
           R"({"packed":"short \u12"})",
           "{\"packed\":\"raw control \x01\"}",
           "{\"packed\":\"raw newline \n\"}",
           "{\"packed\":\"not utf-8 \xff\"}",
           R"({"packed":"unterminated)",
           R"({"packed":"x",})",
           R"({"packed":"x"} trailing)",
           R"(["packed","x"])",
           R"({"a":"\"packed\":\"x\"","packed":"y"})",
           R"({"a":1e5,"b":true,"c":null,"packed":"z","d":-0.5})",
       })
    ExpectSameAsTheParser(odd);
  EXPECT_EQ(dualkey::client::ParseReportLine(R"({"packed":"one","packed":"two"})"), std::nullopt);
  EXPECT_EQ(dualkey::client::ParseReportLine(R"({"packed":"lone \ud800"})"), std::nullopt);
  EXPECT_EQ(
      (*dualkey::client::ParseReportLine(R"({"gaps":[{"packed":"i"}],"packed":"o"})"))["packed"],
      "o");

  // Random strings from an alphabet of what is hard to escape.
  const std::vector<std::string> pieces = {
      "a",       " ",       "\\\"",     "\\\\",    "\\/",
      "\\n",     "\\t",     "\\u0041",  "\\u00e9", "\\ud83d\\ude00",
      "\\ud83d", "\\ude00", "\\x",      "\\u12g4", "\"",
      "\\",      "\x01",    "\xc3\xa9", "\xff",    "\xe2\x82",
      "}",       "]",       ",",        ":",       "{",
      "["};
  std::mt19937 random(20261206);
  int read_fast = 0, parseable = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string value;
    const int n = static_cast<int>(random() % 8);
    for (int k = 0; k < n; ++k) value += pieces[random() % pieces.size()];
    const std::string prefix = random() % 2 ? R"({"op":"report",)" : "{";
    const std::string suffix = random() % 2 ? R"(,"count":3})" : "}";
    const std::string line = prefix + "\"packed\":\"" + value + "\"" + suffix;
    read_fast += ExpectSameAsTheParser(line);
    parseable += !nlohmann::json::parse(line, nullptr, false).is_discarded();
    ExpectSameAsTheParser(R"({"packed":"ok","s":")" + value + "\"}");
  }
  EXPECT_EQ(read_fast, parseable) << "every line the parser takes is read the fast way too";
  EXPECT_GT(read_fast, 2000);
}

class ReportToDaemon : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(DUALKEY_BINARY).parent_path() /
           ("report-wire-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "state");
    socket_ = (dir_ / "d.sock").string();
    ASSERT_TRUE(daemon_.Start((dir_ / "state").string(), socket_)) << "the daemon did not start";
  }
  void TearDown() override {
    daemon_.Stop();
    fs::remove_all(dir_);
  }
  std::vector<json> Records(const std::string& kind) {
    return dualkey::test_support::AuditRecords((dir_ / "state/audit.jsonl").string(), kind);
  }
  fs::path dir_;
  std::string socket_;
  dualkey::test_support::DaemonProcess daemon_;
};

// Written without a tree, the records are canonical (audit verify
// recomputes every hash from the parsed fields), redacted, and carry every
// field the general path writes; bytes that are not UTF-8 keep their exact
// form in FIELD_b64.
TEST_F(ReportToDaemon, PackedRecordsAreCanonicalRedactedAndComplete) {
  std::vector<ReportedDecision> sent = {
      Decision("SELECT abalance FROM pgbench_accounts WHERE aid = 42;"),
      Decision("SELECT \"quoted\", 'back\\slash', E'\\t' \x01\x1f\x7f -- caf\xC3\xA9"),
      Decision("ALTER ROLE app PASSWORD 'Sup3r-s3cret-pw'"), Decision("SELECT '\xff\xfe'"),
      Decision("SELECT 2")};
  sent[2].forwarded = false;
  sent[2].decision = dualkey::Decision::kHold;
  sent[2].reason = "held: postgresql://app:hunter2-very-secret@db/shop";
  sent[4].action.agent.clear();
  sent[4].action.cwd.clear();
  sent[4].op_class.clear();
  sent[4].added_us = -1;
  sent.push_back(Decision("SELECT 3"));  // back to the first's agent, class and outcome
  // Outcomes that differ in the decision alone.
  sent.push_back(Decision("DELETE FROM t"));
  sent.back().decision = dualkey::Decision::kHold;
  sent.back().forwarded = false;
  sent.push_back(Decision("DROP TABLE t"));
  sent.back().decision = dualkey::Decision::kDeny;
  sent.back().forwarded = false;
  dualkey::client::ReporterOptions options;
  options.source = "test_proxy";
  options.flush_ms = 5;
  {
    dualkey::client::DecisionReporter reporter(
        dualkey::client::Client::ForThisProcess(dualkey::client::ClientOptions{socket_, 2000}),
        options);
    for (const ReportedDecision& d : sent) ASSERT_TRUE(reporter.Report(d, false));
    ASSERT_TRUE(reporter.Flush(5000));
    EXPECT_EQ(reporter.stats().delivered, sent.size());
  }
  const std::vector<json> records = Records("decision");
  ASSERT_EQ(records.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    const json& r = records[i];
    EXPECT_EQ(r["source"], "test_proxy");
    EXPECT_EQ(r["channel"], "sql");
    EXPECT_EQ(r["decided_ms"], sent[i].time_ms);
    EXPECT_EQ(r["forwarded"], sent[i].forwarded);
    EXPECT_EQ(r["peer"].value("via", ""), "unix");
    EXPECT_TRUE(r.contains("time_ms"));
    EXPECT_EQ(r.contains("added_us"), sent[i].added_us >= 0);
    // Each item's own, where the fields a run shares change and change back.
    EXPECT_EQ(r["decision"], std::string(dualkey::ToString(sent[i].decision)));
    EXPECT_EQ(r["agent"], sent[i].action.agent.empty() ? "unknown" : sent[i].action.agent);
    EXPECT_EQ(r["cwd"], sent[i].action.cwd);
    EXPECT_EQ(r["class"], sent[i].op_class.empty() ? "none" : sent[i].op_class);
  }
  EXPECT_EQ(records[0]["input"], sent[0].action.input);
  EXPECT_EQ(records[0]["agent"], "agent:1");
  EXPECT_EQ(records[0]["cwd"], "/srv/app");
  EXPECT_EQ(records[0]["class"], "read.only");
  EXPECT_EQ(records[0]["added_us"], 17);
  EXPECT_EQ(records[0]["decision"], "allow");
  EXPECT_FALSE(records[0].contains("reason"));
  EXPECT_EQ(records[1]["input"], sent[1].action.input);
  EXPECT_EQ(records[2]["decision"], "hold");
  EXPECT_NE(records[2]["reason"].get<std::string>().find("redacted"), std::string::npos);
  EXPECT_TRUE(records[3].contains("input_b64"));
  EXPECT_EQ(records[4]["agent"], "unknown");
  EXPECT_EQ(records[4]["class"], "none");
  EXPECT_EQ(records[4]["cwd"], "");
  std::ifstream in(dir_ / "state/audit.jsonl");
  std::stringstream all;
  all << in.rdbuf();
  EXPECT_EQ(all.str().find("Sup3r-s3cret-pw"), std::string::npos);
  EXPECT_EQ(all.str().find("hunter2-very-secret"), std::string::npos);
  const std::string verify = std::string(DUALKEY_BINARY) + " audit verify --file " +
                             (dir_ / "state/audit.jsonl").string() + " >/dev/null 2>&1";
  EXPECT_EQ(system(verify.c_str()), 0);
}

// A sender from before "packed" still has its "decisions" recorded.
TEST_F(ReportToDaemon, DecisionsObjectsStillRecorded) {
  dualkey::client::ReportRequest request;
  request.source = "old_proxy";
  request.decisions.push_back(Decision("SELECT 7"));
  auto reply = dualkey::client::CallAt(socket_, dualkey::client::ToJson(request), 2000);
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  EXPECT_EQ(reply->value("recorded", 0), 1);
  EXPECT_FALSE(reply->value("packed", false));
  const std::vector<json> records = Records("decision");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["input"], "SELECT 7");
  EXPECT_EQ(records[0]["source"], "old_proxy");
}

}  // namespace

// The reporter's queue against a plain deque of the same decisions: pushes,
// batches cut by count and by bytes, and partial pops interleaved (a
// daemon that took part of a batch), across the queue's compactions.
TEST(PackedQueue, GivesBackWhatWasQueuedInOrderWhateverIsTakenWhen) {
  dualkey::client::PackedQueue queue;
  std::deque<ReportedDecision> model;
  std::mt19937 random(7);
  int next = 0;
  std::string batch;
  for (int step = 0; step < 4000; ++step) {
    const int pushes = static_cast<int>(random() % 5);
    for (int i = 0; i < pushes; ++i) {
      ReportedDecision d =
          Decision("SELECT " + std::string(random() % 300, 'x') + " -- " + std::to_string(next++));
      d.time_ms = next;
      queue.Push(ViewOf(d));
      model.push_back(std::move(d));
    }
    ASSERT_EQ(queue.size(), model.size());
    const std::size_t max_count = 1 + random() % 8;
    const std::size_t max_bytes = 1 + random() % 1200;
    const std::size_t count = queue.Front(max_count, max_bytes, &batch);
    ASSERT_LE(count, std::min(max_count, model.size()));
    if (!model.empty()) ASSERT_GE(count, 1u);
    // Cut by bytes only where the batch reached them.
    if (count < std::min(max_count, model.size())) ASSERT_GE(batch.size(), max_bytes);
    std::string_view rest = batch;
    for (std::size_t i = 0; i < count; ++i) {
      PackedDecision got;
      ASSERT_TRUE(NextPacked(&rest, &got).ok());
      ASSERT_EQ(got.input, model[i].action.input);
      ASSERT_EQ(got.time_ms, model[i].time_ms);
    }
    ASSERT_TRUE(rest.empty());
    const std::size_t taken = random() % (count + 2);  // at times more than the batch
    queue.Pop(taken);
    model.erase(model.begin(),
                model.begin() + static_cast<std::ptrdiff_t>(std::min(taken, model.size())));
    ASSERT_EQ(queue.size(), model.size());
    std::size_t bytes = 0;
    for (const ReportedDecision& d : model) {
      std::string one;
      AppendPacked(&one, ViewOf(d));
      bytes += one.size();
    }
    ASSERT_EQ(queue.bytes(), bytes);
  }
  EXPECT_GT(next, 5000);
}

// A daemon from before "packed" ignores the field and records only the gap
// of a packed batch; the reporter then sends its queue again as decision
// objects, each field as it was reported. This stand-in answers as such a
// daemon did, on a real socket, reading requests with the protocol's own
// codec.
TEST(PackedQueue, ADaemonFromBeforePackedGetsEveryDecisionAsObjects) {
  const fs::path dir = fs::temp_directory_path() / ("report-legacy-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string socket = (dir / "old.sock").string();
  auto listening = dualkey::base::ListenUnixSocket(socket, 4);
  ASSERT_TRUE(listening.ok()) << listening.status().message();
  std::mutex mutex;
  std::vector<ReportedDecision> received;
  int packed_requests = 0;
  std::atomic<bool> stop{false};
  std::thread old_daemon([&] {
    while (!stop) {
      pollfd pfd{listening->get(), POLLIN, 0};
      if (poll(&pfd, 1, 50) <= 0) continue;
      const int fd = accept(listening->get(), nullptr, nullptr);
      if (fd < 0) continue;
      std::string buffer, line;
      while (dualkey::base::ReadLine(fd, &buffer, &line, 2000, &stop)) {
        const json body = json::parse(line);
        dualkey::client::ReportRequest request;
        json reply{{"ok", true}, {"recorded", 0}};
        if (dualkey::client::FromJson(body, &request).ok()) {
          std::lock_guard lock(mutex);
          packed_requests += body.contains("packed");
          for (const ReportedDecision& d : request.decisions) received.push_back(d);
          reply["recorded"] = request.decisions.size() + request.gaps.size();
        }
        if (!dualkey::base::WriteAll(fd, reply.dump() + "\n")) break;
      }
      close(fd);
    }
  });
  std::vector<ReportedDecision> sent;
  for (int i = 0; i < 40; ++i) {
    ReportedDecision d = Decision("SELECT " + std::to_string(i) + (i % 7 == 0 ? " é" : ""));
    d.time_ms = 1000 + i;
    d.added_us = i % 3 == 0 ? -1 : i;
    d.forwarded = i % 5 != 0;
    d.decision = i % 5 == 0 ? dualkey::Decision::kHold : dualkey::Decision::kAllow;
    d.reason = i % 5 == 0 ? "held: " + std::to_string(i) : "";
    d.action.cwd = i % 2 == 0 ? "/srv" : "";
    sent.push_back(d);
  }
  {
    dualkey::client::ReporterOptions options;
    options.source = "test_proxy";
    options.flush_ms = 5;
    options.max_batch = 16;
    dualkey::client::DecisionReporter reporter(
        dualkey::client::Client::ForThisProcess(dualkey::client::ClientOptions{socket, 2000}),
        options);
    for (const ReportedDecision& d : sent) ASSERT_TRUE(reporter.Report(d, false));
    ASSERT_TRUE(reporter.Flush(5000));
    EXPECT_EQ(reporter.stats().delivered, sent.size());
  }
  stop = true;
  old_daemon.join();
  fs::remove_all(dir);
  EXPECT_EQ(packed_requests, 1);  // the first batch; then objects only
  ASSERT_EQ(received.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(received[i].action.input, sent[i].action.input);
    EXPECT_EQ(received[i].action.cwd, sent[i].action.cwd);
    EXPECT_EQ(received[i].action.agent, sent[i].action.agent);
    EXPECT_EQ(received[i].action.channel, sent[i].action.channel);
    EXPECT_EQ(received[i].time_ms, sent[i].time_ms);
    EXPECT_EQ(received[i].added_us, sent[i].added_us);
    EXPECT_EQ(received[i].forwarded, sent[i].forwarded);
    EXPECT_EQ(received[i].decision, sent[i].decision);
    EXPECT_EQ(received[i].op_class, sent[i].op_class);
    EXPECT_EQ(received[i].reason, sent[i].reason);
  }
}
