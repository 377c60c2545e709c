#include "audit/audit.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace dualkey::audit {
namespace {

using nlohmann::json;

// The tests' shorthand for the Status-returning API: 0 / null / empty, with
// `error` (when given) set to the Status's message, as the checks read best.
std::uint64_t SeqOf(const Result<std::uint64_t>& appended, std::string* error) {
  if (appended.ok()) return *appended;
  if (error != nullptr) *error = appended.status().message();
  return 0;
}
std::unique_ptr<Log> Opened(Result<std::unique_ptr<Log>> opened, std::string* error) {
  if (opened.ok()) return std::move(opened).value();
  if (error != nullptr) *error = opened.status().message();
  return nullptr;
}
std::size_t AppendAllCount(Log& log, const std::vector<Record>& records, std::string* error,
                           Log::Durability durability = Log::Durability::kSynced) {
  std::size_t appended = 0;
  const Status status = log.AppendAll(records, &appended, durability);
  if (!status.ok() && error != nullptr) *error = status.message();
  return appended;
}
std::vector<Entry> ReadEntries(const std::string& path, std::int64_t since_ms, std::string* error) {
  Result<std::vector<Entry>> entries = Read(path, since_ms);
  if (entries.ok()) return std::move(entries).value();
  if (error != nullptr) *error = entries.status().message();
  return {};
}

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "dualkey-audit-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    options_.path = dir_ + "/audit.jsonl";
    options_.key_path = dir_ + "/audit.key";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Log> OpenLog(int checkpoint_every = 1000) {
    OpenOptions options = options_;
    options.checkpoint_every = checkpoint_every;
    std::string error;
    std::unique_ptr<Log> log = Opened(Log::Open(options), &error);
    EXPECT_NE(log, nullptr) << error;
    return log;
  }

  // Appends `count` records to a fresh log and closes it.
  void WriteLog(int count, int checkpoint_every = 1000) {
    auto log = OpenLog(checkpoint_every);
    ASSERT_NE(log, nullptr);
    for (int i = 1; i <= count; ++i) {
      std::string error;
      json fields = {{"agent", "claude"}, {"n", i}, {"input", "rm -rf build"}};
      ASSERT_EQ(SeqOf(log->Append({"request", fields.dump()}), &error),
                static_cast<std::uint64_t>(i))
          << error;
    }
  }

  std::vector<std::string> Lines() const {
    std::ifstream in(options_.path, std::ios::binary);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  void SetLines(const std::vector<std::string>& lines) const {
    std::ofstream out(options_.path, std::ios::binary | std::ios::trunc);
    for (const std::string& line : lines) out << line << "\n";
  }
  std::string Contents() const {
    std::ifstream in(options_.path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  }
  void AppendRaw(const std::string& text) const {
    std::ofstream out(options_.path, std::ios::binary | std::ios::app);
    out << text;
  }
  // Index (0-based) of the line holding entry `seq`.
  std::size_t LineOfSeq(std::uint64_t seq) const {
    std::vector<std::string> lines = Lines();
    for (std::size_t i = 1; i < lines.size(); ++i) {
      json value = json::parse(lines[i], nullptr, false);
      if (value.contains("seq") && value["seq"] == seq) return i;
    }
    ADD_FAILURE() << "no seq " << seq;
    return 0;
  }

  static bool AnyProblemHas(const VerifyReport& report, const std::string& text) {
    return std::any_of(report.problems.begin(), report.problems.end(),
                       [&](const std::string& p) { return p.find(text) != std::string::npos; });
  }
  static bool AnyNoteHas(const VerifyReport& report, const std::string& text) {
    return std::any_of(report.notes.begin(), report.notes.end(),
                       [&](const std::string& n) { return n.find(text) != std::string::npos; });
  }
  static std::string Notes(const VerifyReport& report) {
    std::string all;
    for (const std::string& n : report.notes) all += n + "\n";
    return all;
  }
  static std::string Problems(const VerifyReport& report) {
    std::string all;
    for (const std::string& p : report.problems) all += p + "\n";
    return all;
  }

  std::string dir_;
  OpenOptions options_;
};

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  static const char* kDigits = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex += kDigits[digest[i] >> 4];
    hex += kDigits[digest[i] & 0xf];
  }
  return hex;
}

// ---- Format and round trip ------------------------------------------------

TEST_F(AuditTest, RoundTripVerifiesAndReads) {
  WriteLog(10);
  VerifyReport report = Verify(options_.path);
  EXPECT_TRUE(report.ok) << Problems(report);
  EXPECT_EQ(report.entries, 10u);
  EXPECT_EQ(report.last_seq, 10u);
  EXPECT_EQ(report.checkpoints, 2u);  // "open" at seq 0, "close" at seq 10
  EXPECT_EQ(report.last_checkpoint_seq, 10u);
  EXPECT_FALSE(AnyNoteHas(report, "not covered")) << Notes(report);
  EXPECT_TRUE(AnyNoteHas(report, "pin it with --pubkey")) << Notes(report);
  EXPECT_TRUE(Verify(options_.path, report.public_key).notes.empty());

  std::string error;
  std::vector<Entry> entries = ReadEntries(options_.path, 0, &error);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_EQ(entries.size(), 10u);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].seq, i + 1);
    EXPECT_EQ(entries[i].kind, "request");
    EXPECT_EQ(json::parse(entries[i].fields)["n"], i + 1);
    if (i > 0) EXPECT_EQ(entries[i].prev_hash, entries[i - 1].hash);
  }
  EXPECT_EQ(entries[0].prev_hash, std::string(64, '0'));
}

TEST_F(AuditTest, HashIsSha256OfPrevNewlineCanonicalRecord) {
  WriteLog(2);
  std::vector<std::string> lines = Lines();
  json header = json::parse(lines[0]);
  EXPECT_EQ(header["dualkey_audit"], 1);
  EXPECT_EQ(header["public_key"].get<std::string>().size(), 64u);
  EXPECT_TRUE(header["created_ms"].is_number_integer());
  EXPECT_EQ(lines[LineOfSeq(1)].rfind("{\"seq\":1,\"time_ms\":", 0), 0u) << lines[2];

  std::string prev(64, '0');
  for (int i = 1; i <= 2; ++i) {
    json entry = json::parse(lines[LineOfSeq(i)]);
    // The mac is the writer's own proof; it is not part of the chain.
    EXPECT_EQ(entry["mac"].get<std::string>().size(), 64u);
    json canonical = {{"seq", entry["seq"]},
                      {"time_ms", entry["time_ms"]},
                      {"kind", entry["kind"]},
                      {"fields", entry["fields"]}};
    EXPECT_EQ(entry["prev"], prev);
    EXPECT_EQ(entry["hash"], Sha256Hex(prev + "\n" + canonical.dump()));
    prev = entry["hash"];
  }
}

TEST_F(AuditTest, CheckpointsEveryNEntriesAndOnClose) {
  WriteLog(7, /*checkpoint_every=*/3);
  std::vector<std::string> lines = Lines();
  std::vector<std::uint64_t> checkpoint_seqs;
  for (const std::string& line : lines) {
    json value = json::parse(line);
    if (value.contains("checkpoint")) {
      checkpoint_seqs.push_back(value["checkpoint"]["seq"]);
      EXPECT_EQ(value["sig"].get<std::string>().size(), 128u);
    }
  }
  EXPECT_EQ(checkpoint_seqs, (std::vector<std::uint64_t>{0, 3, 6, 7}));
  EXPECT_EQ(json::parse(lines[1])["checkpoint"]["event"], "open");
  EXPECT_EQ(json::parse(lines.back())["checkpoint"]["event"], "close");
  VerifyReport report = Verify(options_.path);
  EXPECT_TRUE(report.ok) << Problems(report);
  EXPECT_EQ(report.checkpoints, 4u);
}

TEST_F(AuditTest, FilesAreCreatedPrivate) {
  WriteLog(1);
  struct stat st {};
  ASSERT_EQ(stat(options_.path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(options_.key_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(AuditTest, RefusesAKeyOthersCanRead) {
  WriteLog(1);
  ASSERT_EQ(chmod(options_.key_path.c_str(), 0644), 0);
  std::string error;
  EXPECT_EQ(Opened(Log::Open(options_), &error), nullptr);
  EXPECT_NE(error.find("chmod 600"), std::string::npos) << error;
}

TEST_F(AuditTest, PublicKeyMatchesHeaderAndVerifiesWithExplicitKey) {
  std::string key;
  {
    auto log = OpenLog();
    ASSERT_NE(log, nullptr);
    key = log->PublicKey();
    std::string error;
    ASSERT_EQ(SeqOf(log->Append({"verdict", R"({"decision":"hold"})"}), &error), 1u) << error;
  }
  EXPECT_EQ(json::parse(Lines()[0])["public_key"], key);
  VerifyReport report = Verify(options_.path, key);
  EXPECT_TRUE(report.ok) << Problems(report);
  EXPECT_EQ(report.public_key, key);
}

TEST_F(AuditTest, RejectsFieldsThatAreNotAJsonObject) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  std::string error;
  EXPECT_EQ(SeqOf(log->Append({"request", "not json"}), &error), 0u);
  EXPECT_FALSE(error.empty());
  error.clear();
  EXPECT_EQ(SeqOf(log->Append({"request", "[1,2]"}), &error), 0u);
  EXPECT_FALSE(error.empty());
  // Empty fields mean an empty object, and the chain starts at 1 regardless.
  EXPECT_EQ(SeqOf(log->Append({"expiry", ""}), &error), 1u) << error;
}

TEST_F(AuditTest, ScaryDataInFieldsIsEscapedNotInterpreted) {
  // A record whose input contains newlines and text that looks like a log line
  // must stay one line and round-trip unchanged.
  std::string input = "rm -rf /\n{\"seq\":1,\"hash\":\"00\"}\n\"checkpoint\" \xc3\xa9";
  {
    auto log = OpenLog();
    ASSERT_NE(log, nullptr);
    std::string error;
    ASSERT_EQ(SeqOf(log->Append({"request\nforged", json{{"input", input}}.dump()}), &error), 1u);
  }
  EXPECT_EQ(Lines().size(), 4u);  // header, open checkpoint, entry, close checkpoint
  VerifyReport report = Verify(options_.path);
  EXPECT_TRUE(report.ok) << Problems(report);
  std::vector<Entry> entries = ReadEntries(options_.path, 0, nullptr);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(json::parse(entries[0].fields)["input"], input);
  EXPECT_EQ(entries[0].kind, "request\nforged");
}

// ---- Tampering ---------------------------------------------------------------

TEST_F(AuditTest, DetectsAnEditedField) {
  WriteLog(5);
  std::vector<std::string> lines = Lines();
  std::size_t at = LineOfSeq(3);
  std::string& line = lines[at];
  line.replace(line.find("rm -rf build"), 12, "ls -la build");
  SetLines(lines);
  VerifyReport report = Verify(options_.path);
  EXPECT_FALSE(report.ok);
  EXPECT_TRUE(AnyProblemHas(report, "line " + std::to_string(at + 1) + ": seq 3: hash mismatch"))
      << Problems(report);
  EXPECT_EQ(report.problems.size(), 1u) << Problems(report);
}

TEST_F(AuditTest, DetectsAnEditedRecordWithRecomputedHash) {
  // The attacker recomputes the edited record's own hash: the next record's
  // prev no longer matches.
  WriteLog(5);
  std::vector<std::string> lines = Lines();
  std::size_t at = LineOfSeq(3);
  json entry = json::parse(lines[at]);
  entry["fields"]["input"] = "ls";
  json canonical = {{"seq", entry["seq"]},
                    {"time_ms", entry["time_ms"]},
                    {"kind", entry["kind"]},
                    {"fields", entry["fields"]}};
  entry["hash"] = Sha256Hex(entry["prev"].get<std::string>() + "\n" + canonical.dump());
  lines[at] = entry.dump();
  SetLines(lines);
  VerifyReport report = Verify(options_.path);
  EXPECT_FALSE(report.ok);
  EXPECT_TRUE(AnyProblemHas(report, "seq 4: prev does not match")) << Problems(report);
}

TEST_F(AuditTest, DetectsADeletedLine) {
  WriteLog(5);
  std::vector<std::string> lines = Lines();
  lines.erase(lines.begin() + static_cast<long>(LineOfSeq(3)));
  SetLines(lines);
  VerifyReport report = Verify(options_.path);
  EXPECT_FALSE(report.ok);
  EXPECT_TRUE(AnyProblemHas(report, "seq 4: follows seq 2 (records 3 removed")) << Problems(report);
}

TEST_F(AuditTest, DetectsSwappedLines) {
  WriteLog(5);
  std::vector<std::string> lines = Lines();
  std::swap(lines[LineOfSeq(2)], lines[LineOfSeq(3)]);
  SetLines(lines);
  VerifyReport report = Verify(options_.path);
  EXPECT_FALSE(report.ok);
  EXPECT_TRUE(AnyProblemHas(report, "seq 2: comes after seq 3 (records reordered"))
      << Problems(report);
}

TEST_F(AuditTest, DetectsRemovedEntriesBeforeACheckpoint) {
  WriteLog(10, /*checkpoint_every=*/5);
  std::vector<std::string> lines = Lines();
  // Cut entries 4 and 5 but leave the checkpoint for 5 that followed them.
  lines.erase(lines.begin() + static_cast<long>(LineOfSeq(4)),
              lines.begin() + static_cast<long>(LineOfSeq(5)) + 1);
  SetLines(lines);
  VerifyReport report = Verify(options_.path);
  EXPECT_FALSE(report.ok);
  EXPECT_TRUE(AnyProblemHas(report, "checkpoint at seq 5: but the entries before it end at seq 3"))
      << Problems(report);
}

TEST_F(AuditTest, TruncatedTailIsReportedAsTheLastSeq) {
  // A clean cut at a line boundary after the last checkpoint cannot be told
  // from a crash by the file alone: verify reports the last seq and the
  // unsigned tail, so an auditor with an external checkpoint sees it.
  WriteLog(10, /*checkpoint_every=*/5);
  std::vector<std::string> lines = Lines();
  lines.resize(LineOfSeq(7) + 1);
  SetLines(lines);
  VerifyReport report = Verify(options_.path);
  EXPECT_TRUE(report.ok) << Problems(report);
  EXPECT_EQ(report.last_seq, 7u);
  EXPECT_EQ(report.last_checkpoint_seq, 5u);
  EXPECT_TRUE(AnyNoteHas(report, "after seq 5 are not covered")) << Notes(report);

  std::ostringstream out, err;
  EXPECT_EQ(RunAuditCommand("verify", options_.path, 0, 0, false, out, err), 0);
  EXPECT_NE(out.str().find("last entry is seq 7"), std::string::npos) << out.str();
}

TEST_F(AuditTest, DetectsACorruptSignature) {
  WriteLog(4, /*checkpoint_every=*/2);
  std::vector<std::string> lines = Lines();
  for (std::string& line : lines) {
    json value = json::parse(line);
    if (value.contains("checkpoint") && value["checkpoint"]["seq"] == 2) {
      std::string sig = value["sig"];
      sig[10] = sig[10] == '0' ? '1' : '0';
      value["sig"] = sig;
      line = value.dump();
    }
  }
  SetLines(lines);
  VerifyReport report = Verify(options_.path);
  EXPECT_FALSE(report.ok);
  EXPECT_TRUE(AnyProblemHas(report, "checkpoint at seq 2: bad signature")) << Problems(report);
  EXPECT_EQ(report.checkpoints, 3u);  // open at 0, periodic and close at 4 still count
}

TEST_F(AuditTest, DetectsAnEditedCheckpointHash) {
  WriteLog(4, /*checkpoint_every=*/2);
  std::vector<std::string> lines = Lines();
  for (std::string& line : lines) {
    json value = json::parse(line);
    if (value.contains("checkpoint") && value["checkpoint"]["seq"] == 2) {
      value["checkpoint"]["hash"] = std::string(64, 'a');
      line = value.dump();
    }
  }
  SetLines(lines);
  VerifyReport report = Verify(options_.path);
  EXPECT_FALSE(report.ok);
  EXPECT_TRUE(AnyProblemHas(report, "checkpoint at seq 2: bad signature")) << Problems(report);
  EXPECT_TRUE(AnyProblemHas(report, "does not match the hash of entry 2")) << Problems(report);
}

TEST_F(AuditTest, ReplacedHeaderKeyFailsEverySignature) {
  WriteLog(4, /*checkpoint_every=*/2);
  std::string original_key = json::parse(Lines()[0])["public_key"];
  std::vector<std::string> lines = Lines();
  json header = json::parse(lines[0]);
  std::string key = header["public_key"];
  key[0] = key[0] == 'a' ? 'b' : 'a';
  header["public_key"] = key;
  lines[0] = header.dump();
  SetLines(lines);

  VerifyReport report = Verify(options_.path);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.checkpoints, 0u);
  EXPECT_TRUE(AnyProblemHas(report, "checkpoint at seq 2: bad signature")) << Problems(report);
  EXPECT_TRUE(AnyProblemHas(report, "checkpoint at seq 4: bad signature")) << Problems(report);

  // With the auditor's own copy of the key the replaced header is named.
  VerifyReport with_key = Verify(options_.path, original_key);
  EXPECT_FALSE(with_key.ok);
  EXPECT_TRUE(AnyProblemHas(with_key, "line 1: header public key")) << Problems(with_key);
  EXPECT_EQ(with_key.checkpoints, 4u);
}

TEST_F(AuditTest, WholeFileRewrittenWithAnotherKeyIsCaughtByAnExternalKey) {
  WriteLog(3);
  std::string real_key = json::parse(Lines()[0])["public_key"];
  // The attacker builds a whole new log with their own key.
  std::filesystem::remove(options_.path);
  std::filesystem::remove(options_.key_path);
  WriteLog(3);
  EXPECT_TRUE(Verify(options_.path).ok);             // self-consistent...
  EXPECT_FALSE(Verify(options_.path, real_key).ok);  // ...but not under the real key
}

TEST_F(AuditTest, DetectsABadHeader) {
  WriteLog(2);
  std::vector<std::string> lines = Lines();
  lines[0] = R"({"hello":"world"})";
  SetLines(lines);
  VerifyReport report = Verify(options_.path);
  EXPECT_FALSE(report.ok);
  EXPECT_TRUE(AnyProblemHas(report, "line 1: bad header")) << Problems(report);
  EXPECT_TRUE(AnyProblemHas(report, "cannot check the signature")) << Problems(report);
}

TEST_F(AuditTest, DetectsGarbageLines) {
  WriteLog(3);
  std::vector<std::string> lines = Lines();
  lines.insert(lines.begin() + 2, "this is not json");
  lines.insert(lines.begin() + 3, "");
  lines.insert(lines.begin() + 4, R"({"seq":"two"})");
  SetLines(lines);
  VerifyReport report = Verify(options_.path);
  EXPECT_FALSE(report.ok);
  EXPECT_TRUE(AnyProblemHas(report, "line 3: not a JSON object")) << Problems(report);
  EXPECT_TRUE(AnyProblemHas(report, "line 4: empty line")) << Problems(report);
  EXPECT_TRUE(AnyProblemHas(report, "line 5: malformed entry")) << Problems(report);
}

TEST_F(AuditTest, EmptyFileIsTamperedMissingFileIsUnreadable) {
  { std::ofstream touch(options_.path); }
  VerifyReport empty = Verify(options_.path);
  EXPECT_FALSE(empty.ok);
  EXPECT_FALSE(empty.unreadable);
  VerifyReport missing = Verify(dir_ + "/nope.jsonl");
  EXPECT_FALSE(missing.ok);
  EXPECT_TRUE(missing.unreadable);
  std::ostringstream out, err;
  EXPECT_EQ(RunAuditCommand("verify", dir_ + "/nope.jsonl", 0, 0, false, out, err), 2);
  EXPECT_EQ(RunAuditCommand("export", dir_ + "/nope.jsonl", 0, 0, false, out, err), 2);
}

// ---- Reopening, recovery ------------------------------------------------------

TEST_F(AuditTest, ReopenContinuesTheChain) {
  WriteLog(5);
  {
    auto log = OpenLog();
    ASSERT_NE(log, nullptr);
    std::string error;
    for (int i = 6; i <= 8; ++i) {
      EXPECT_EQ(SeqOf(log->Append({"approval", R"({"id":"a"})"}), &error),
                static_cast<std::uint64_t>(i));
    }
  }
  VerifyReport report = Verify(options_.path);
  EXPECT_TRUE(report.ok) << Problems(report);
  EXPECT_EQ(report.entries, 8u);
  EXPECT_EQ(report.checkpoints, 4u);  // open and close, twice
}

TEST_F(AuditTest, OpenSealsAnUncheckpointedTail) {
  WriteLog(5);
  std::vector<std::string> lines = Lines();
  lines.pop_back();  // as if the daemon died before its closing checkpoint
  SetLines(lines);
  OpenReport opened;
  {
    std::string error;
    auto log = Opened(Log::Open(options_, &opened), &error);
    ASSERT_NE(log, nullptr) << error;
  }
  EXPECT_EQ(opened.foreign_records, 0u);  // our own records: their macs say so
  EXPECT_EQ(opened.opened.seq, 5u);
  EXPECT_EQ(opened.opened.event, "open");
  VerifyReport report = Verify(options_.path);
  EXPECT_TRUE(report.ok) << Problems(report);
  EXPECT_EQ(report.last_checkpoint_seq, 5u);
  EXPECT_EQ(report.checkpoints, 3u);  // open at 0, Open's at 5, close at 5
}

TEST_F(AuditTest, TornLastLineIsCutAndTheChainContinues) {
  WriteLog(3);
  std::string before = Contents();
  AppendRaw(R"({"seq":4,"time_ms":17000,"kind":"requ)");
  VerifyReport torn = Verify(options_.path);
  EXPECT_TRUE(torn.ok) << Problems(torn);
  EXPECT_TRUE(std::any_of(torn.notes.begin(), torn.notes.end(), [](const std::string& n) {
    return n.find("torn") != std::string::npos;
  }));
  {
    auto log = OpenLog();
    ASSERT_NE(log, nullptr);
    // The partial line is gone, nothing else; Open signs where it resumes.
    EXPECT_EQ(Contents().rfind(before, 0), 0u);
    EXPECT_EQ(Contents().find("requ", before.size()), std::string::npos);
    std::string error;
    EXPECT_EQ(SeqOf(log->Append({"request", "{}"}), &error), 4u) << error;
  }
  VerifyReport report = Verify(options_.path);
  EXPECT_TRUE(report.ok) << Problems(report);
  EXPECT_EQ(report.last_seq, 4u);
  EXPECT_FALSE(AnyNoteHas(report, "torn")) << Notes(report);
  EXPECT_FALSE(AnyNoteHas(report, "not covered")) << Notes(report);
}

TEST_F(AuditTest, TornHeaderIsRewritten) {
  AppendRaw(R"({"dualkey_audit":1,"pub)");
  {
    auto log = OpenLog();
    ASSERT_NE(log, nullptr);
    std::string error;
    EXPECT_EQ(SeqOf(log->Append({"request", "{}"}), &error), 1u) << error;
  }
  EXPECT_TRUE(Verify(options_.path).ok);
}

TEST_F(AuditTest, OpenDoesNotSealOverAnEditedLastEntry) {
  WriteLog(3);
  std::vector<std::string> lines = Lines();
  lines.pop_back();  // the close checkpoint: as after a crash
  std::string& last = lines.back();
  last.replace(last.find("claude"), 6, "mallet");
  SetLines(lines);
  OpenReport opened;
  std::string error;
  {
    auto log = Opened(Log::Open(options_, &opened), &error);
    ASSERT_NE(log, nullptr) << error;
    // Our chain goes on from seq 2: seq 3 is Open's note naming the foreign record.
    EXPECT_EQ(SeqOf(log->Append({"request", "{}"}), &error), 4u) << error;
  }
  EXPECT_EQ(opened.foreign_records, 1u);
  EXPECT_EQ(opened.first_foreign_seq, 3u);
  EXPECT_EQ(opened.first_foreign_line, 5u);  // header, open, 1, 2, then the edited 3
  EXPECT_EQ(opened.opened.seq, 3u);          // the foreign_records note, not the edited record
  VerifyReport report = Verify(options_.path);
  EXPECT_FALSE(report.ok);
  EXPECT_TRUE(AnyProblemHas(report, "found 1 record(s) it did not write")) << Problems(report);
  EXPECT_EQ(report.first_foreign_line, 5u);
}

TEST_F(AuditTest, OpenReportsGarbageAtTheEndAndGoesOn) {
  WriteLog(3);
  AppendRaw("garbage\n");
  OpenReport opened;
  std::string error;
  {
    auto log = Opened(Log::Open(options_, &opened), &error);
    ASSERT_NE(log, nullptr) << error;
  }
  EXPECT_EQ(opened.foreign_records, 1u);
  EXPECT_FALSE(Verify(options_.path).ok);
}

TEST_F(AuditTest, OpenRefusesAnotherKey) {
  WriteLog(1);
  OpenOptions other = options_;
  other.key_path = dir_ + "/other.key";
  std::string error;
  EXPECT_EQ(Opened(Log::Open(other), &error), nullptr);
  EXPECT_NE(error.find("another signing key"), std::string::npos) << error;
}

TEST_F(AuditTest, SecondWriterIsLockedOut) {
  auto first = OpenLog();
  ASSERT_NE(first, nullptr);
  std::string error;
  EXPECT_EQ(Opened(Log::Open(options_), &error), nullptr);
  EXPECT_NE(error.find("in use"), std::string::npos) << error;
}

TEST_F(AuditTest, LongRecordsAreFoundWhenReadingTheTailBackwards) {
  std::string big(200000, 'x');  // longer than Open's first tail chunk
  {
    auto log = OpenLog();
    ASSERT_NE(log, nullptr);
    std::string error;
    ASSERT_EQ(SeqOf(log->Append({"request", json{{"input", big}}.dump()}), &error), 1u);
  }
  std::vector<std::string> lines = Lines();
  lines.pop_back();  // force Open to find the entry itself
  SetLines(lines);
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  std::string error;
  EXPECT_EQ(SeqOf(log->Append({"request", "{}"}), &error), 2u);
  log.reset();
  EXPECT_TRUE(Verify(options_.path).ok);
}

// ---- Records the log's key did not write, and logs that lost records ----------

// Appends a record chained correctly onto the file's last entry, as anyone
// can without the key (optionally with a made-up mac).
void AppendChained(const std::string& path, const std::string& mac = "") {
  std::ifstream in(path, std::ios::binary);
  json last;
  for (std::string line; std::getline(in, line);) {
    json value = json::parse(line, nullptr, false);
    if (value.is_object() && value.contains("seq") && !value.contains("checkpoint")) last = value;
  }
  const std::uint64_t seq = last.is_null() ? 1 : last["seq"].get<std::uint64_t>() + 1;
  const std::string prev = last.is_null() ? std::string(64, '0') : last["hash"].get<std::string>();
  const std::int64_t time_ms = last.is_null() ? 1 : last["time_ms"].get<std::int64_t>() + 1;
  json fields = {{"agent", "claude"}, {"decision", "allow"}, {"input", "rm -rf /"}};
  json canonical = {{"seq", seq}, {"time_ms", time_ms}, {"kind", "verdict"}, {"fields", fields}};
  json entry = {{"seq", seq},        {"time_ms", time_ms},
                {"kind", "verdict"}, {"fields", fields},
                {"prev", prev},      {"hash", Sha256Hex(prev + "\n" + canonical.dump())}};
  if (!mac.empty()) entry["mac"] = mac;
  std::ofstream(path, std::ios::binary | std::ios::app) << entry.dump() << "\n";
}

TEST_F(AuditTest, RecordsAppendedAfterCloseFailVerifyAndAreNeverSealedOver) {
  WriteLog(5);
  AppendChained(options_.path);  // while "the daemon" is stopped
  AppendChained(options_.path);
  // The chain is consistent, but nothing may follow the close seal.
  VerifyReport offline = Verify(options_.path);
  EXPECT_FALSE(offline.ok);
  EXPECT_EQ(offline.foreign_records, 2u);
  EXPECT_EQ(offline.first_foreign_seq, 6u);
  EXPECT_EQ(offline.first_foreign_line, 9u);  // header, open, 1..5, close, then 6
  EXPECT_TRUE(AnyProblemHas(offline, "line 9: seq 6: written after the log was closed"))
      << Problems(offline);

  OpenReport opened;
  std::string error;
  {
    auto log = Opened(Log::Open(options_, &opened), &error);
    ASSERT_NE(log, nullptr) << error;
    EXPECT_EQ(SeqOf(log->Append({"request", "{}"}), &error), 7u) << error;
  }
  EXPECT_EQ(opened.foreign_records, 2u);
  EXPECT_EQ(opened.first_foreign_seq, 6u);
  EXPECT_EQ(opened.first_foreign_line, 9u);
  // Our chain: 5 -> our note (6) -> 7; the foreign 6 and 7 are in no checkpoint's chain.
  std::vector<Entry> entries = ReadEntries(options_.path, 0, nullptr);
  ASSERT_EQ(entries.size(), 9u);
  EXPECT_EQ(entries[7].kind, "audit.foreign_records");
  EXPECT_EQ(entries[7].prev_hash, entries[4].hash);
  EXPECT_EQ(entries[8].prev_hash, entries[7].hash);
  VerifyReport after = Verify(options_.path);
  EXPECT_FALSE(after.ok);
  EXPECT_EQ(after.first_foreign_line, 9u);
  EXPECT_TRUE(AnyProblemHas(after,
                            "found 2 record(s) it did not write after its seq 5, the first "
                            "at line 9 (seq 6)"))
      << Problems(after);
}

TEST_F(AuditTest, RecordsAppendedAfterACrashWithoutOurMacAreForeign) {
  WriteLog(4);
  std::vector<std::string> lines = Lines();
  lines.pop_back();  // no close seal: as after kill -9, the tail is unsigned
  SetLines(lines);
  AppendChained(options_.path);                        // no mac at all
  AppendChained(options_.path, std::string(64, 'a'));  // a made-up one
  EXPECT_TRUE(Verify(options_.path).ok) << "offline, an unsigned tail is only a note";
  OpenReport opened;
  std::string error;
  ASSERT_NE(Opened(Log::Open(options_, &opened), &error), nullptr) << error;
  EXPECT_EQ(opened.foreign_records, 2u);
  EXPECT_EQ(opened.first_foreign_seq, 5u);
  EXPECT_FALSE(Verify(options_.path).ok);
}

TEST_F(AuditTest, ExpectedCheckpointCatchesADeletedLog) {
  CheckpointInfo sealed;
  {
    auto log = OpenLog();
    ASSERT_NE(log, nullptr);
    std::string error;
    for (int i = 0; i < 5; ++i)
      ASSERT_NE(SeqOf(log->Append({"request", "{}"}), &error), 0u) << error;
    ASSERT_TRUE(log->Checkpoint().ok()) << error;
    sealed = log->LastCheckpoint();
  }
  ASSERT_EQ(sealed.seq, 5u);
  std::filesystem::remove(options_.path);
  OpenOptions expecting = options_;
  expecting.expect_seq = sealed.seq;
  expecting.expect_hash = sealed.hash;
  OpenReport opened;
  std::string error;
  {
    auto log = Opened(Log::Open(expecting, &opened), &error);
    ASSERT_NE(log, nullptr) << error;
  }
  EXPECT_NE(opened.discontinuity.find("missing or empty"), std::string::npos)
      << opened.discontinuity;
  VerifyReport report = Verify(options_.path);
  EXPECT_FALSE(report.ok) << "a fresh log after a deletion must not verify as intact";
  EXPECT_TRUE(AnyProblemHas(report, "seq 6: follows seq 0 (records 1..5 removed"))
      << Problems(report);
  EXPECT_TRUE(AnyProblemHas(report, "store remembers a checkpoint at seq 5")) << Problems(report);
}

TEST_F(AuditTest, ExpectedCheckpointCatchesAShortenedLog) {
  WriteLog(8, /*checkpoint_every=*/4);
  std::vector<std::string> lines = Lines();
  const std::string seal8 = json::parse(lines[LineOfSeq(8)])["hash"];
  // Cut back to the checkpoint at 4: a consistent, signed, shorter log.
  lines.resize(LineOfSeq(4) + 2);
  SetLines(lines);
  ASSERT_TRUE(Verify(options_.path).ok);
  OpenOptions expecting = options_;
  expecting.expect_seq = 8;
  expecting.expect_hash = seal8;
  OpenReport opened;
  std::string error;
  { ASSERT_NE(Opened(Log::Open(expecting, &opened), &error), nullptr) << error; }
  EXPECT_NE(opened.discontinuity.find("ends at seq 4"), std::string::npos) << opened.discontinuity;
  VerifyReport report = Verify(options_.path);
  EXPECT_FALSE(report.ok);
  EXPECT_TRUE(AnyProblemHas(report, "seq 9: follows seq 4 (records 5..8 removed"))
      << Problems(report);
}

TEST_F(AuditTest, ExpectedCheckpointThatIsPresentChangesNothing) {
  WriteLog(6, /*checkpoint_every=*/3);
  const std::string hash3 = json::parse(Lines()[LineOfSeq(3)])["hash"];
  OpenOptions expecting = options_;
  expecting.expect_seq = 3;  // an older checkpoint, found by reading back
  expecting.expect_hash = hash3;
  OpenReport opened;
  std::string error;
  { ASSERT_NE(Opened(Log::Open(expecting, &opened), &error), nullptr) << error; }
  EXPECT_TRUE(opened.discontinuity.empty()) << opened.discontinuity;
  EXPECT_TRUE(Verify(options_.path).ok);
  // A different hash at that seq: the records were replaced.
  expecting.expect_hash = std::string(64, 'b');
  { ASSERT_NE(Opened(Log::Open(expecting, &opened), &error), nullptr) << error; }
  EXPECT_NE(opened.discontinuity.find("differs"), std::string::npos) << opened.discontinuity;
  EXPECT_FALSE(Verify(options_.path).ok);
}

TEST_F(AuditTest, CheckpointOnDemandAndPublicKeyOfTheKeyFile) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  std::string error;
  EXPECT_EQ(log->LastCheckpoint().seq, 0u);  // Open's
  ASSERT_EQ(SeqOf(log->Append({"request", "{}"}), &error), 1u);
  ASSERT_TRUE(log->Checkpoint().ok()) << error;
  EXPECT_EQ(log->LastCheckpoint().seq, 1u);
  EXPECT_EQ(log->LastCheckpoint().sig.size(), 128u);
  const std::size_t lines = Lines().size();
  ASSERT_TRUE(log->Checkpoint().ok());  // nothing new: no second line
  EXPECT_EQ(Lines().size(), lines);
  Result<std::string> key = PublicKeyOfKeyFile(options_.key_path);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(*key, log->PublicKey());
  ASSERT_TRUE(log->Close().ok()) << error;
  EXPECT_EQ(log->LastCheckpoint().event, "close");
  EXPECT_EQ(SeqOf(log->Append({"request", "{}"}), &error), 0u) << "closed";

  std::ostringstream out, err;
  EXPECT_EQ(RunAuditCommand("verify", options_.path, 0, 0, false, *key, out, err), 0) << out.str();
  EXPECT_NE(out.str().find("(pinned)"), std::string::npos) << out.str();
  std::string wrong = *key;
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  std::ostringstream bad;
  EXPECT_EQ(RunAuditCommand("verify", options_.path, 0, 0, false, wrong, bad, err), 1) << bad.str();
}

// A full disk (here: RLIMIT_FSIZE, which fails write() the same way): the
// failed records are cut off whole, the chain goes on from the last written
// one, and appends succeed again once there is room.
TEST_F(AuditTest, AFailedWriteIsUndoneAndTheLogRecovers) {
  WriteLog(3);
  const off_t size_before = static_cast<off_t>(std::filesystem::file_size(options_.path));
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    signal(SIGXFSZ, SIG_IGN);
    std::string error;
    auto log = Opened(Log::Open(options_), &error);
    if (!log) _exit(10);
    const std::string big(4000, 'x');
    rlimit limit{};
    getrlimit(RLIMIT_FSIZE, &limit);
    const rlim_t hard = limit.rlim_max;
    limit.rlim_cur = static_cast<rlim_t>(size_before + 5000);
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(11);
    // The first fits; the second is cut off in the middle and must vanish.
    if (SeqOf(log->Append({"request", json{{"pad", big}}.dump()}), &error) != 4) _exit(12);
    if (SeqOf(log->Append({"request", json{{"pad", big}}.dump()}), &error) != 0) _exit(13);
    if (error.find("File too large") == std::string::npos) _exit(14);
    // Failing fast while the disk is full...
    if (SeqOf(log->Append({"request", "{}"}, Log::Durability::kWritten), &error) != 0) _exit(15);
    // ...and back to normal once there is room (after the retry pause).
    limit.rlim_cur = hard;
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(16);
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    if (SeqOf(log->Append({"request", "{}"}), &error) != 5) _exit(17);
    if (SeqOf(log->Append({"request", "{}"}, Log::Durability::kWritten), &error) != 6) _exit(18);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  VerifyReport report = Verify(options_.path);
  EXPECT_TRUE(report.ok) << Problems(report);
  EXPECT_EQ(report.last_seq, 6u);
}

// A batch goes in as one Append each would: consecutive seqs, one chain,
// checkpoints where they fall due, and it verifies.
TEST_F(AuditTest, AppendAllChainsABatchInOrder) {
  options_.checkpoint_every = 4;
  std::string error;
  {
    auto log = Opened(Log::Open(options_), &error);
    ASSERT_TRUE(log) << error;
    ASSERT_EQ(SeqOf(log->Append({"request", json{{"n", 1}}.dump()}), &error), 1u) << error;
    std::vector<Record> batch;
    for (int n = 2; n <= 11; ++n) batch.push_back({"decision", json{{"n", n}}.dump()});
    EXPECT_EQ(AppendAllCount(*log, batch, &error, Log::Durability::kWritten), 10u) << error;
    EXPECT_EQ(AppendAllCount(*log, {}, &error), 0u);
    // Text the caller vouches is canonical goes in as it is, and verifies.
    EXPECT_EQ(
        SeqOf(log->Append({"request", json{{"n", 12}, {"z", "é"}}.dump(), /*canonical=*/true}),
              &error),
        12u)
        << error;
    // A record that is not a JSON object ends the batch there: the ones
    // before it go in.
    EXPECT_EQ(AppendAllCount(*log,
                             {{"decision", json{{"n", 13}}.dump()},
                              {"decision", "[1]"},
                              {"decision", json{{"n", 14}}.dump()}},
                             &error),
              1u);
    EXPECT_NE(error.find("not a JSON object"), std::string::npos) << error;
  }
  VerifyReport report = Verify(options_.path);
  EXPECT_TRUE(report.ok) << Problems(report);
  EXPECT_EQ(report.last_seq, 13u);
  std::vector<Entry> entries = ReadEntries(options_.path, 0, &error);
  ASSERT_EQ(entries.size(), 13u) << error;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].seq, i + 1);
    EXPECT_EQ(json::parse(entries[i].fields)["n"], i + 1);
  }
}

// A batch whose write fails (a full disk) is cut off whole and says so; the
// records of batches before it stay, and the log goes on afterwards.
TEST_F(AuditTest, AppendAllOfAFailedWriteKeepsNothingOfIt) {
  WriteLog(3);
  const off_t size_before = static_cast<off_t>(std::filesystem::file_size(options_.path));
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    signal(SIGXFSZ, SIG_IGN);
    std::string error;
    auto log = Opened(Log::Open(options_), &error);
    if (!log) _exit(10);
    rlimit limit{};
    getrlimit(RLIMIT_FSIZE, &limit);
    const rlim_t hard = limit.rlim_max;
    limit.rlim_cur = static_cast<rlim_t>(size_before + 5000);
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(11);
    const std::string pad(1500, 'x');
    std::vector<Record> fits(2, Record{"decision", json{{"pad", pad}}.dump()});
    if (AppendAllCount(*log, fits, &error, Log::Durability::kWritten) != 2) _exit(12);
    // 3 more do not fit: the whole batch went out in one write, and none of it stays.
    std::vector<Record> too_much(3, Record{"decision", json{{"pad", pad}}.dump()});
    if (AppendAllCount(*log, too_much, &error, Log::Durability::kWritten) != 0) _exit(13);
    if (error.find("File too large") == std::string::npos) _exit(14);
    limit.rlim_cur = hard;
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(16);
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    if (AppendAllCount(*log, too_much, &error) != 3) _exit(17);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  VerifyReport report = Verify(options_.path);
  EXPECT_TRUE(report.ok) << Problems(report);
  EXPECT_EQ(report.last_seq, 3u + 2u + 3u);
}

// ---- Concurrency and durability ------------------------------------------------

TEST_F(AuditTest, SixteenThreadsAppendEachRecordExactlyOnce) {
  constexpr int kThreads = 16;
  constexpr int kPerThread = 400;
  std::vector<std::vector<std::uint64_t>> seqs(kThreads);
  {
    auto log = OpenLog(/*checkpoint_every=*/100);
    ASSERT_NE(log, nullptr);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          std::string error;
          std::uint64_t seq =
              SeqOf(log->Append({"request", json{{"thread", t}, {"i", i}}.dump()}), &error);
          EXPECT_NE(seq, 0u) << error;
          seqs[t].push_back(seq);
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
  }
  std::set<std::uint64_t> all;
  for (const auto& list : seqs) all.insert(list.begin(), list.end());
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(*all.rbegin(), static_cast<std::uint64_t>(kThreads * kPerThread));

  std::vector<Entry> entries = ReadEntries(options_.path, 0, nullptr);
  ASSERT_EQ(entries.size(), static_cast<std::size_t>(kThreads * kPerThread));
  std::set<std::pair<int, int>> records;
  for (const Entry& entry : entries) {
    json fields = json::parse(entry.fields);
    records.insert({fields["thread"].get<int>(), fields["i"].get<int>()});
  }
  EXPECT_EQ(records.size(), static_cast<std::size_t>(kThreads * kPerThread));
  VerifyReport report = Verify(options_.path);
  EXPECT_TRUE(report.ok) << Problems(report);
  // Every 100 entries, plus open and close.
  EXPECT_EQ(report.checkpoints, static_cast<std::uint64_t>(kThreads * kPerThread / 100 + 2));
}

TEST_F(AuditTest, KillNineLosesNoAcknowledgedRecord) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pipe_fds[0]);
    std::string error;
    OpenOptions options = options_;
    options.checkpoint_every = 50;
    std::unique_ptr<Log> log = Opened(Log::Open(options), &error);
    if (!log) _exit(3);
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0;; ++i) {
          std::string append_error;
          std::uint64_t seq =
              SeqOf(log->Append(
                        {"request",
                         json{{"thread", t}, {"i", i}, {"pad", std::string(i % 300, 'p')}}.dump()}),
                    &append_error);
          if (seq == 0) _exit(4);
          // Acknowledged: only now is the seq reported (8-byte pipe writes are atomic).
          if (write(pipe_fds[1], &seq, sizeof(seq)) != sizeof(seq)) _exit(5);
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    _exit(0);
  }
  close(pipe_fds[1]);
  std::set<std::uint64_t> acknowledged;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::uint64_t seq = 0;
  while (acknowledged.size() < 3000 && std::chrono::steady_clock::now() < deadline &&
         read(pipe_fds[0], &seq, sizeof(seq)) == sizeof(seq)) {
    acknowledged.insert(seq);
  }
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  // Acks already in the pipe when the child died count too.
  while (read(pipe_fds[0], &seq, sizeof(seq)) == sizeof(seq)) acknowledged.insert(seq);
  close(pipe_fds[0]);
  ASSERT_GE(acknowledged.size(), 100u);

  {
    auto log = OpenLog();  // repairs a torn tail, seals it
    ASSERT_NE(log, nullptr);
  }
  VerifyReport report = Verify(options_.path);
  EXPECT_TRUE(report.ok) << Problems(report);
  std::set<std::uint64_t> present;
  for (const Entry& entry : ReadEntries(options_.path, 0, nullptr)) present.insert(entry.seq);
  for (std::uint64_t acked : acknowledged) {
    ASSERT_TRUE(present.count(acked)) << "acknowledged seq " << acked << " lost";
  }
  EXPECT_GE(report.last_seq, *acknowledged.rbegin());
}

// ---- The CLI logic ---------------------------------------------------------------

TEST_F(AuditTest, VerifyCommandExitStatuses) {
  WriteLog(3);
  std::ostringstream out, err;
  EXPECT_EQ(RunAuditCommand("verify", options_.path, 0, 0, false, out, err), 0);
  EXPECT_NE(out.str().find("intact"), std::string::npos) << out.str();

  std::ostringstream json_out;
  EXPECT_EQ(RunAuditCommand("verify", options_.path, 0, 0, true, json_out, err), 0);
  json result = json::parse(json_out.str());
  EXPECT_EQ(result["ok"], true);
  EXPECT_EQ(result["last_seq"], 3);

  std::vector<std::string> lines = Lines();
  lines.erase(lines.begin() + 2);
  SetLines(lines);
  std::ostringstream tampered;
  EXPECT_EQ(RunAuditCommand("verify", options_.path, 0, 0, false, tampered, err), 1);
  EXPECT_NE(tampered.str().find("TAMPERED"), std::string::npos);
  EXPECT_NE(tampered.str().find("line 3"), std::string::npos) << tampered.str();
}

TEST_F(AuditTest, TailPrintsTheLastEntries) {
  WriteLog(30);
  std::ostringstream out, err;
  EXPECT_EQ(RunAuditCommand("tail", options_.path, 0, 3, false, out, err), 0);
  std::vector<std::string> printed;
  std::istringstream lines(out.str());
  for (std::string line; std::getline(lines, line);) printed.push_back(line);
  ASSERT_EQ(printed.size(), 3u);
  EXPECT_EQ(printed[0].rfind("#28  ", 0), 0u) << printed[0];
  EXPECT_NE(printed[2].find("request"), std::string::npos);

  std::ostringstream json_out;
  EXPECT_EQ(RunAuditCommand("tail", options_.path, 0, 0, true, json_out, err), 0);
  std::istringstream json_lines(json_out.str());
  int count = 0;
  for (std::string line; std::getline(json_lines, line); ++count) {
    EXPECT_EQ(json::parse(line)["seq"], 11 + count);
  }
  EXPECT_EQ(count, 20);  // the default
}

TEST_F(AuditTest, ExportFiltersBySinceAndWritesJsonLines) {
  WriteLog(4);
  std::vector<Entry> entries = ReadEntries(options_.path, 0, nullptr);
  ASSERT_EQ(entries.size(), 4u);
  std::ostringstream all, err;
  EXPECT_EQ(RunAuditCommand("export", options_.path, 0, 0, false, all, err), 0);
  std::istringstream lines(all.str());
  int count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    json value = json::parse(line);
    EXPECT_EQ(value["hash"], entries[count].hash);
    EXPECT_TRUE(value["fields"].is_object());
  }
  EXPECT_EQ(count, 4);

  std::ostringstream future;
  EXPECT_EQ(
      RunAuditCommand("export", options_.path, entries.back().time_ms + 1, 0, false, future, err),
      0);
  EXPECT_TRUE(future.str().empty());
  EXPECT_EQ(ReadEntries(options_.path, entries[0].time_ms, nullptr).size(), 4u);
}

TEST_F(AuditTest, UnknownActionIsAnError) {
  std::ostringstream out, err;
  EXPECT_EQ(RunAuditCommand("rewrite", options_.path, 0, 0, false, out, err), 2);
  EXPECT_FALSE(err.str().empty());
}

}  // namespace
}  // namespace dualkey::audit

namespace dualkey::audit {
namespace {

// A record appended with Durability::kWritten is in the file when Append
// returns: a kill -9 right after loses none of them, and the chain verifies.
TEST_F(AuditTest, WrittenRecordsSurviveKillNine) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  if (child == 0) {
    std::string error;
    auto log = Opened(Log::Open(options_), &error);
    if (!log) _exit(1);
    for (int i = 1; i <= 500; ++i) {
      json fields = {{"agent", "claude"}, {"n", i}};
      if (SeqOf(log->Append({"verdict", fields.dump()}, Log::Durability::kWritten), &error) == 0)
        _exit(2);
    }
    // One synced record in the middle of written ones, then more written.
    if (SeqOf(log->Append({"hold", "{}"}), &error) == 0) _exit(3);
    for (int i = 0; i < 10; ++i)
      if (SeqOf(log->Append({"verdict", "{}"}, Log::Durability::kWritten), &error) == 0) _exit(4);
    char byte = 'x';
    if (write(ready[1], &byte, 1) != 1) _exit(5);
    pause();  // killed here
    _exit(0);
  }
  close(ready[1]);
  char byte;
  ASSERT_EQ(read(ready[0], &byte, 1), 1) << "the child failed before appending";
  close(ready[0]);
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status;
  waitpid(child, &status, 0);

  VerifyReport report = Verify(options_.path);
  EXPECT_TRUE(report.ok) << (report.problems.empty() ? "" : report.problems.front());
  EXPECT_EQ(report.last_seq, 511u);
  // And the log resumes after the crash.
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  std::string error;
  EXPECT_EQ(SeqOf(log->Append({"verdict", "{}"}, Log::Durability::kWritten), &error), 512u)
      << error;
}

}  // namespace
}  // namespace dualkey::audit
