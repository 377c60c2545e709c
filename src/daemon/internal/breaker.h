// The breaker and the rate limit: a burst of destructive attempts by one
// agent freezes it until a human resets it. It counts attempts, not
// questions: the same action asked again within the window refreshes its
// time instead of counting again, so an agent (or a human running `check`)
// re-asking about one held action never trips it; distinct destructive
// actions do.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/internal/core.h"

namespace dualkey::daemon::internal {

class Breaker {
 public:
  explicit Breaker(Core& core) : core_(core) {}

  // A held or denied destructive attempt at `action_hash` by `agent`. Trips
  // (freezes the agent in the store, audited) when the distinct attempts in
  // the window reach the limit; `what` (the action, for people) is kept as
  // the reason of the freeze.
  void Attempt(const std::string& agent, const std::string& action_hash, const std::string& what,
               const Peer& peer);

  // What Attempt would do, without doing it (probes).
  struct Preview {
    bool counts = false;  // a new attempt (not one already in the window)
    bool trips = false;
  };
  Preview Peek(const std::string& agent, const std::string& action_hash) const;

  // The token bucket on destructive requests: false when `agent` is over
  // its rate. HasToken only looks.
  bool TakeToken(const std::string& agent);
  bool HasToken(const std::string& agent) const;

  // Distinct attempts by `agent` within the current window.
  int RecentAttempts(const std::string& agent) const;
  // Agents with attempts in the current window.
  std::vector<std::string> ActiveAgents() const;

  // After a human reset: the agent starts from zero.
  void Forget(const std::string& agent);

 private:
  struct Attempted {
    std::int64_t ms;
    std::string action_hash;
  };
  struct Bucket {
    double tokens;
    double last;
  };
  // Drops attempts older than the window.
  void Trim(std::deque<Attempted>* times, std::int64_t now) const;
  double Tokens(const Bucket& bucket, double now) const;

  Core& core_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::deque<Attempted>> attempts_;
  std::map<std::string, Bucket> buckets_;
};

}  // namespace dualkey::daemon::internal
