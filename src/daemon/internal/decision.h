// The decision path: check, probe and consume. A check runs the chain of
// steps in chain.h (classify → raise to the caller's minimum → breaker →
// allow → approval and vault save → rate limit → register hold → audit);
// a probe asks each step what it would do and changes nothing; a consume
// uses an approval once, after the caller saved what the action destroys.
#pragma once

#include <vector>

#include "breaker/breaker.h"
#include "client/protocol.h"
#include "daemon/internal/breaker.h"
#include "daemon/internal/chain.h"
#include "daemon/internal/core.h"

namespace dualkey::daemon::internal {

class DecisionPath {
 public:
  DecisionPath(Core& core, Breaker& breaker);

  Result<client::CheckReply> Check(const Peer& peer, const client::CheckRequest& request);
  Result<client::ProbeReply> Probe(const Peer& peer, const client::CheckRequest& request);
  Result<client::CheckReply> Consume(const Peer& peer, const client::ConsumeRequest& request);

  // Forgets pending requests that expired (called by the expiry loop).
  void Expired(const std::vector<approval::Request>& expired);

 private:
  // classify → raise to the caller's minimum, with the action's audit fields.
  void Classify(Exchange& x) const;

  Core& core_;
  Breaker& breaker_;
  breaker::RateLimiter limiter_;
  Classifier classifier_;
  VaultSaver vault_;
  PendingHolds holds_;
  FreezeStep freeze_;
  AllowStep allow_;
  ApprovalStep approval_;
  RateLimitStep rate_limit_;
  HoldStep hold_;
  AuditStep audit_;
  // The steps in order; the last one (hold) always decides.
  const std::vector<Step*> chain_;
};

}  // namespace dualkey::daemon::internal
