// The page's History: searches and a cached verify status (internal/history.h).
#include "daemon/internal/history.h"

#include <algorithm>
#include <chrono>

namespace dualkey::daemon::internal {
namespace {

using nlohmann::json;

constexpr int kMaxSearchesAtOnce = 4;
constexpr int kWaitForCheckMs = 250;  // a small log's first check shows at once

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

AuditHistory::AuditHistory(std::string path, std::string public_key, std::int64_t min_gap_ms)
    : path_(std::move(path)), public_key_(std::move(public_key)), min_gap_ms_(min_gap_ms) {}

AuditHistory::~AuditHistory() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  if (worker_.joinable()) worker_.join();
}

void AuditHistory::Check(std::optional<audit::FileState> state) {
  const auto started = std::chrono::steady_clock::now();
  const audit::VerifyReport report = audit::Verify(path_, public_key_);
  const std::int64_t took = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - started)
                                .count();
  std::lock_guard lock(mu_);
  last_ = audit::StatusOf(report, NowMs());
  last_state_ = state;
  last_took_ms_ = took;
  checking_ = false;
  done_.notify_all();
}

audit::VerifyStatus AuditHistory::Status() {
  const std::optional<audit::FileState> now_state = audit::StateOf(path_);
  std::unique_lock lock(mu_);
  const std::int64_t now = NowMs();
  const bool changed = !last_ || !now_state || !last_state_ || *now_state != *last_state_;
  const std::int64_t gap = std::max(min_gap_ms_, 20 * last_took_ms_);
  if (changed && !checking_ && !stopping_ && (!last_ || now - last_started_ms_ >= gap)) {
    // A finished worker (checking_ is false) has only to exit.
    if (worker_.joinable()) worker_.join();
    checking_ = true;
    last_started_ms_ = now;
    worker_ = std::thread([this, now_state] { Check(now_state); });
  }
  if (checking_)
    done_.wait_for(lock, std::chrono::milliseconds(kWaitForCheckMs), [&] { return !checking_; });
  audit::VerifyStatus status = last_.value_or(audit::VerifyStatus{});
  const std::optional<audit::FileState> latest = audit::StateOf(path_);
  status.current = last_ && last_state_ && latest && *latest == *last_state_;
  status.checking = checking_;
  return status;
}

Result<json> AuditHistory::Search(const audit::SearchQuery& query) {
  {
    std::lock_guard lock(mu_);
    if (searching_ >= kMaxSearchesAtOnce)
      return dualkey::Status::ResourceExhausted(
          "too many history searches at once; try again in a moment");
    ++searching_;
  }
  struct Done {
    AuditHistory* self;
    ~Done() {
      std::lock_guard lock(self->mu_);
      --self->searching_;
    }
  } done{this};
  bool bad_query = false;
  std::string error;
  std::optional<audit::SearchResult> found = audit::Search(path_, query, &error, {}, &bad_query);
  if (!found)
    return bad_query ? dualkey::Status::InvalidArgument(error)
                     : dualkey::Status::Unavailable(error);
  return audit::SearchReply(*found, Status());
}

}  // namespace dualkey::daemon::internal
