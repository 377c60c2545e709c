// Searching the audit log, newest first, for people: the approver's page
// (History, GET /api/history) and `dualkey audit search` both go through
// here, so they find the same records and say the same words about them.
//
// The log is read backwards from its end (or from a cursor a previous page
// returned) in bounded steps: one search reads at most `SearchLimits` of it,
// however large the file, and says where to go on. Nothing here verifies the
// chain; VerifyStatus turns a Verify report into the words both show.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit.h"

namespace dualkey::audit {

// What a record decided, as a filter and as shown: a verdict's or a hold's
// decision (allow, hold, hold2, deny), a human's answer (approved: an
// approval that completed a hold, and the approved action when it ran;
// denied), or a hold that expired unanswered. Records of other kinds
// (probes, vault snapshots, sign-ins...) decide nothing and match no
// decision filter.
inline constexpr std::string_view kDecisions[] = {"allow",    "hold",   "hold2",  "deny",
                                                  "approved", "denied", "expired"};
inline constexpr int kMaxSearchLimit = 200;
inline constexpr std::size_t kMaxFilterLength = 256;

struct SearchQuery {
  std::string agent;     // exactly this agent
  std::string op_class;  // this class or its family: "fs.delete" matches "fs.delete.recursive"
  std::string decision;  // one of kDecisions
  std::string text;      // case-insensitive (ASCII) substring of the kind or any field's text
  int limit = 50;        // records to return, 1..kMaxSearchLimit
  // A previous result's next_cursor: go on from there (older records).
  // 0: from the newest record.
  std::uint64_t cursor = 0;
  // With `cursor`: the page before ended within the batch of decisions on
  // the line that ends there (a "decisions" entry, read as its items); the
  // search goes on from this item of it, down. 0: none.
  std::uint32_t cursor_item = 0;
};

// How much one search may read and return before it stops and hands back a
// cursor (the defaults keep a request to the daemon well under a second).
struct SearchLimits {
  std::uint64_t max_bytes = 16 << 20;       // of the file, read backwards
  std::uint64_t max_entries = 100'000;      // records parsed
  std::uint64_t max_reply_bytes = 2 << 20;  // of matching records' JSON
};

struct SearchResult {
  std::vector<nlohmann::json> records;  // newest first; see RecordJson
  // Where the next (older) page starts; 0: the start of the log was reached.
  std::uint64_t next_cursor = 0;
  std::uint32_t next_cursor_item = 0;  // SearchQuery::cursor_item for it
  std::uint64_t scanned = 0;           // records read
  bool scan_limited = false;           // stopped at SearchLimits before `limit` records matched
  std::uint64_t oldest_seq = 0;        // the oldest record read (0: none)
  std::int64_t oldest_time_ms = 0;
};

// Empty when the query is well-formed; else what is wrong, for people.
std::string CheckQuery(const SearchQuery& query);

// A cursor as a search gives it (CursorText): "OFFSET", or "OFFSET.ITEM"
// when the page ended within a batch of decisions. False (the query
// unchanged) when `text` is not one.
bool ParseCursor(std::string_view text, SearchQuery* query);
// The result's next cursor as text; "" when there is none.
std::string CursorText(const SearchResult& result);

// Searches the log at `path`. nullopt with `error` when the query is bad
// (CheckQuery), the cursor is not one a search returned for this file (both
// set `bad_query` when given), or the file cannot be read.
std::optional<SearchResult> Search(const std::string& path, const SearchQuery& query,
                                   std::string* error, const SearchLimits& limits = {},
                                   bool* bad_query = nullptr);

// One entry as shown: {"seq", "time_ms", "time" (UTC), "kind", "decision"
// (one of kDecisions or ""), "agent", "class", "channel", "input", "cwd",
// "approval_id", "approver", "summary" (the words), "snapshot_id" and
// "restore" (when it names a vault snapshot), "hash", "fields" (as written)}.
nlohmann::json RecordJson(std::uint64_t seq, std::int64_t time_ms, const std::string& kind,
                          const nlohmann::json& fields, const std::string& hash);
// The record's decision as in kDecisions, or "".
std::string DecisionOf(const std::string& kind, const nlohmann::json& fields);

// The exact command that restores the vault snapshot a record names
// ("dualkey vault restore ID --vault DIR", with --db for a database's
// snapshot), or "" when it names none or the id is not a snapshot id
// (a log edited to carry shell code never becomes a command to paste).
std::string RestoreCommand(const nlohmann::json& fields);

// `text` quoted for a POSIX shell when it needs it.
std::string ShellWord(std::string_view text);

// What a Verify of the log found, and when; shown beside every search.
struct VerifyStatus {
  enum class State { kNotChecked, kIntact, kBroken, kUnreadable };
  State state = State::kNotChecked;
  std::int64_t checked_ms = 0;  // when the check finished
  std::uint64_t entries = 0;
  std::uint64_t last_seq = 0;
  std::uint64_t broken_line = 0;  // the first problem's line and seq
  std::uint64_t broken_seq = 0;
  std::string problem;  // the first problem, as `audit verify` says it
  std::size_t problems = 0;
  // The file has not changed since the check (false: records were appended,
  // or it was edited, since; a newer check may be under way).
  bool current = true;
  bool checking = false;  // a check is running now
  std::string why_not;    // kNotChecked: why ("skipped with --no-verify")
};
VerifyStatus StatusOf(const VerifyReport& report, std::int64_t checked_ms);
// {"state": "intact"|"broken"|"unreadable"|"not_checked", "checked_ms",
//  "entries", "last_seq", "broken_line", "broken_seq", "problem",
//  "current", "checking", "words"}
nlohmann::json ToJson(const VerifyStatus& status);
// "audit log intact: 1,204 entries up to seq 1204 (checked 2025-05-01 12:00:03 UTC)",
// "audit log TAMPERED: broken at record 12 (line 13: ...) (checked ...)", ...
std::string VerifyWords(const VerifyStatus& status);

// "2025-05-01 12:00:03 UTC"
std::string UtcTime(std::int64_t time_ms);

// "searched 100,000 records back to seq N (time) without filling the page;
// ..." when the search stopped at its limits; else "".
std::string ScanWords(const SearchResult& result);

// A search and the verify status as one reply, the page's and `audit search
// --json`'s: {"ok": true, "records", "next_cursor"? (a string), "scanned",
// "scan_limited", "scan_words"?, "oldest_seq", "oldest_time"?, "decisions",
// "verify"}.
nlohmann::json SearchReply(const SearchResult& result, const VerifyStatus& status);

// `dualkey audit search` as text: the verify words, then each record (the
// same words as the page), then how to see more (`more` is the command
// line without --cursor; empty: say only the cursor).
std::string SearchText(const SearchResult& result, const VerifyStatus& status,
                       const std::string& more);

// Identifies a file's state for a cached check: a change of any of these
// means the cached answer is about an older file.
struct FileState {
  ino_t inode = 0;
  off_t size = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileState&) const = default;
};
std::optional<FileState> StateOf(const std::string& path);

}  // namespace dualkey::audit
