// The page's History (GET /api/history): the audit log searched newest first
// (audit/search.h, the same search and words as `dualkey audit search`) with
// the chain's verify status. Verifying re-reads the whole file, so it is
// never done on a request's path: the status is a cached check, redone in
// the background when the file changed since (by inode, size and mtime),
// at most every few seconds and for at most about 5% of the time (a check
// that took 10 s is not redone within 200 s), and it always says when it
// was made and whether the file changed since.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "audit/search.h"
#include "base/status.h"

namespace dualkey::daemon::internal {

class AuditHistory {
 public:
  // `public_key` (hex) pins the signer the check expects: the daemon's own.
  AuditHistory(std::string path, std::string public_key, std::int64_t min_gap_ms = 2000);
  ~AuditHistory();  // waits for a check under way
  AuditHistory(const AuditHistory&) = delete;
  AuditHistory& operator=(const AuditHistory&) = delete;

  // The last check's status (kNotChecked before the first), starting a
  // check in the background when one is due. Never waits for a check.
  audit::VerifyStatus Status();

  // A search (bounded by audit::SearchLimits) and the status, as the page's
  // reply: {"ok", "records", "next_cursor"?, "scanned", "scan_limited",
  // "oldest_seq", "oldest_time"?, "verify", "decisions"}. Busy (too many
  // searches at once): kResourceExhausted (429); a bad query or cursor:
  // kInvalidArgument (400); the log cannot be read: kUnavailable (503).
  Result<nlohmann::json> Search(const audit::SearchQuery& query);

 private:
  void Check(std::optional<audit::FileState> state);

  const std::string path_;
  const std::string public_key_;
  const std::int64_t min_gap_ms_;
  std::mutex mu_;
  std::condition_variable done_;
  bool checking_ = false;
  bool stopping_ = false;
  std::optional<audit::VerifyStatus> last_;
  std::optional<audit::FileState> last_state_;  // the file as the last check began
  std::int64_t last_started_ms_ = 0;
  std::int64_t last_took_ms_ = 0;
  int searching_ = 0;
  std::thread worker_;
};

}  // namespace dualkey::daemon::internal
