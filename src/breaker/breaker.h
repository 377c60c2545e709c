// The breaker and the rate limit, as counting alone: no store, no audit, no
// clock of their own (callers pass the time), so each is testable by
// itself. The daemon freezes an agent in its store and audits the trip
// (daemon/internal/breaker.h); these say when.
//
// The breaker counts attempts, not questions: the same action asked again
// within the window refreshes its time instead of counting again, so an
// agent (or a human running `check`) re-asking about one held action never
// trips it; distinct destructive actions do. The rate limit is a token
// bucket per agent on destructive requests.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace dualkey::breaker {

// Distinct destructive attempts per agent within a sliding window.
class AttemptWindow {
 public:
  // `attempts` distinct attempts within `window_seconds` trip the breaker.
  AttemptWindow(int attempts, int window_seconds);

  struct Counted {
    bool counted = false;  // a new attempt (false: one already in the window, refreshed)
    int count = 0;         // distinct attempts in the window, this one included
    bool trips = false;    // the count reached the limit
  };
  // A held or denied destructive attempt at `action_hash` by `agent`.
  Counted Attempt(const std::string& agent, const std::string& action_hash, std::int64_t now_ms);

  // What Attempt would do, without doing it (probes).
  struct Preview {
    bool counts = false;
    bool trips = false;
  };
  Preview Peek(const std::string& agent, const std::string& action_hash, std::int64_t now_ms) const;

  // Distinct attempts by `agent` within the window ending at `now_ms`.
  int Recent(const std::string& agent, std::int64_t now_ms) const;
  // Agents with attempts in that window.
  std::vector<std::string> ActiveAgents(std::int64_t now_ms) const;
  // After a human reset: the agent starts from zero.
  void Forget(const std::string& agent);

  int attempts() const { return attempts_; }
  int window_seconds() const { return window_seconds_; }

 private:
  struct Attempted {
    std::int64_t ms;
    std::string action_hash;
  };
  void Trim(std::deque<Attempted>* times, std::int64_t now_ms) const;

  const int attempts_;
  const int window_seconds_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::deque<Attempted>> by_agent_;
};

// A token bucket per agent: `burst` tokens, refilled at `per_minute`.
class RateLimiter {
 public:
  RateLimiter(int burst, double per_minute);

  // Takes a token; false when `agent` is over its rate (nothing taken).
  bool Take(const std::string& agent, std::int64_t now_ms);
  // Whether Take would succeed, without taking.
  bool Has(const std::string& agent, std::int64_t now_ms) const;

 private:
  struct Bucket {
    double tokens;
    double last;  // seconds
  };
  double Tokens(const Bucket& bucket, double now) const;

  const int burst_;
  const double per_minute_;
  mutable std::mutex mutex_;
  std::map<std::string, Bucket> buckets_;
};

}  // namespace dualkey::breaker
