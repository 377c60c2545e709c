// Rate limit → register hold (chain.h).
#include "daemon/internal/chain.h"
#include "daemon/internal/hold_details.h"

namespace dualkey::daemon::internal {

std::optional<Outcome> RateLimitStep::Run(Exchange& x) {
  // Held or denied: a destructive attempt for the breaker and the rate limit.
  const bool limited = !limiter_.Take(x.agent, Core::NowMs());
  if (x.verdict.decision != Decision::kDeny && !limited) return std::nullopt;
  Outcome out;
  out.reply.decision = Decision::kDeny;
  out.reply.reason = limited ? "rate limit: too many destructive requests from agent '" + x.agent +
                                   "' (" + x.verdict.reason + ")"
                             : x.verdict.reason;
  out.breaker_attempt = true;
  return out;
}

std::optional<Outcome> HoldStep::Run(Exchange& x) {
  const Verdict& verdict = x.verdict;
  const client::CheckRequest& request = x.request;
  const std::string& hash = x.Hash();
  approval::Request pending;
  pending.action_hash = hash;
  pending.agent = x.agent;
  pending.channel = std::string(ToString(request.action.channel));
  pending.input = request.action.input;
  pending.cwd = request.action.cwd;
  pending.reason = verdict.reason;
  pending.approvals_needed = verdict.decision == Decision::kHold2 ? 2 : 1;
  pending.created_ms = Core::NowMs();
  pending.expires_ms = pending.created_ms + ttl_seconds_ * 1000LL;
  pending.details = HoldDetails(request, verdict, x.commands,
                                x.peer.known ? static_cast<long long>(x.peer.uid) : -1);
  approval::Request stored;
  if (Status st = store_.Hold(pending, &stored); !st.ok())
    return Outcome::Held("the approval store failed: " + st.message());
  holds_.Remember(hash, stored.id);
  Outcome out;
  out.kind = "hold";
  client::CheckReply& reply = out.reply;
  reply.decision = verdict.decision;
  reply.reason = verdict.reason;
  reply.approval_id = stored.id;
  reply.code = stored.code;
  reply.approvals_needed = stored.approvals_needed;
  reply.expires_ms = stored.expires_ms;
  // Another daemon sharing the store registered it first: asked again.
  reply.reasked = stored.created_ms != pending.created_ms;
  out.breaker_attempt = !reply.reasked;
  return out;
}

}  // namespace dualkey::daemon::internal
