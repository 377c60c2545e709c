#include "breaker/breaker.h"

#include <algorithm>

namespace dualkey::breaker {

AttemptWindow::AttemptWindow(int attempts, int window_seconds)
    : attempts_(attempts), window_seconds_(window_seconds) {}

void AttemptWindow::Trim(std::deque<Attempted>* times, std::int64_t now_ms) const {
  const std::int64_t window_ms = window_seconds_ * 1000LL;
  while (!times->empty() && times->front().ms < now_ms - window_ms) times->pop_front();
}

AttemptWindow::Counted AttemptWindow::Attempt(const std::string& agent,
                                              const std::string& action_hash, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  auto& times = by_agent_[agent];
  Trim(&times, now_ms);
  Counted out;
  auto same = std::find_if(times.begin(), times.end(),
                           [&](const Attempted& a) { return a.action_hash == action_hash; });
  if (same != times.end()) {
    // A question asked again: refresh it, do not count it twice.
    times.erase(same);
    times.push_back(Attempted{now_ms, action_hash});
    out.count = static_cast<int>(times.size());
    return out;
  }
  times.push_back(Attempted{now_ms, action_hash});
  out.counted = true;
  out.count = static_cast<int>(times.size());
  out.trips = out.count >= attempts_;
  return out;
}

AttemptWindow::Preview AttemptWindow::Peek(const std::string& agent, const std::string& action_hash,
                                           std::int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  Preview preview;
  auto found = by_agent_.find(agent);
  std::deque<Attempted> times = found == by_agent_.end() ? std::deque<Attempted>{} : found->second;
  Trim(&times, now_ms);
  preview.counts = std::none_of(times.begin(), times.end(),
                                [&](const Attempted& a) { return a.action_hash == action_hash; });
  preview.trips = preview.counts && static_cast<int>(times.size()) + 1 >= attempts_;
  return preview;
}

int AttemptWindow::Recent(const std::string& agent, std::int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  auto found = by_agent_.find(agent);
  if (found == by_agent_.end()) return 0;
  Trim(&found->second, now_ms);
  return static_cast<int>(found->second.size());
}

std::vector<std::string> AttemptWindow::ActiveAgents(std::int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (auto& [agent, times] : by_agent_) {
    Trim(&times, now_ms);
    if (!times.empty()) out.push_back(agent);
  }
  return out;
}

void AttemptWindow::Forget(const std::string& agent) {
  std::lock_guard lock(mutex_);
  by_agent_.erase(agent);
}

RateLimiter::RateLimiter(int burst, double per_minute) : burst_(burst), per_minute_(per_minute) {}

double RateLimiter::Tokens(const Bucket& bucket, double now) const {
  return std::min<double>(burst_, bucket.tokens + (now - bucket.last) * per_minute_ / 60.0);
}

bool RateLimiter::Take(const std::string& agent, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  const double now = static_cast<double>(now_ms) / 1000.0;
  auto [it, inserted] = buckets_.try_emplace(agent, Bucket{static_cast<double>(burst_), now});
  Bucket& bucket = it->second;
  bucket.tokens = Tokens(bucket, now);
  bucket.last = now;
  if (bucket.tokens < 1.0) return false;
  bucket.tokens -= 1.0;
  return true;
}

bool RateLimiter::Has(const std::string& agent, std::int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(agent);
  if (it == buckets_.end()) return burst_ >= 1;
  return Tokens(it->second, static_cast<double>(now_ms) / 1000.0) >= 1.0;
}

}  // namespace dualkey::breaker
