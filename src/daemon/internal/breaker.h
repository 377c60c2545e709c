// The daemon's breaker: the attempt window (breaker/breaker.h) plus what a
// trip does here: the agent is frozen in the store (it stays frozen across
// restarts) and the trip is audited. A burst of destructive attempts by one
// agent freezes it until a human resets it; the same action asked again is
// not a new attempt.
#pragma once

#include <string>
#include <vector>

#include "breaker/breaker.h"
#include "daemon/internal/core.h"

namespace dualkey::daemon::internal {

class Breaker {
 public:
  explicit Breaker(Core& core);

  // A held or denied destructive attempt at `action_hash` by `agent`. Trips
  // (freezes the agent in the store, audited) when the distinct attempts in
  // the window reach the limit; `what` (the action, for people) is kept as
  // the reason of the freeze.
  void Attempt(const std::string& agent, const std::string& action_hash, const std::string& what,
               const Peer& peer);

  // What Attempt would do, without doing it (probes).
  using Preview = breaker::AttemptWindow::Preview;
  Preview Peek(const std::string& agent, const std::string& action_hash) const;

  // Distinct attempts by `agent` within the current window.
  int RecentAttempts(const std::string& agent) const;
  // Agents with attempts in the current window.
  std::vector<std::string> ActiveAgents() const;

  // After a human reset: the agent starts from zero.
  void Forget(const std::string& agent);

 private:
  Core& core_;
  breaker::AttemptWindow window_;
};

}  // namespace dualkey::daemon::internal
