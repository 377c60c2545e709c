#include "daemon/internal/decision.h"

#include "base/json_text.h"
#include "client/protocol.h"
#include "client/reporter.h"

namespace dualkey::daemon::internal {

using nlohmann::json;

DecisionPath::DecisionPath(Core& core, Breaker& breaker)
    : core_(core),
      breaker_(breaker),
      limiter_(core.options().rate_burst, core.options().rate_per_minute),
      classifier_(core.layout(), core.system_policy()),
      vault_(core, VaultSaver::DirFor(core.options())),
      holds_(core.store()),
      freeze_(core.store()),
      approval_(core.store(), vault_, holds_),
      rate_limit_(limiter_),
      hold_(core.store(), holds_, core.options().approval_ttl_seconds),
      audit_(core, breaker),
      chain_{&freeze_, &allow_, &approval_, &rate_limit_, &hold_} {}

void DecisionPath::Classify(Exchange& x) const {
  classifier_.Classify(x);
  RaiseToMinimum(x.request, &x.verdict);
  x.fields = AuditStep::ActionFields(x.request.action, x.agent);
  x.fields["class"] = base::ToValidUtf8(client::DecidingClass(x.verdict));
}

Result<client::CheckReply> DecisionPath::Check(const Peer& peer,
                                               const client::CheckRequest& request) {
  Exchange x(peer, request);
  Classify(x);
  for (Step* step : chain_)
    if (std::optional<Outcome> outcome = step->Run(x)) return audit_.Finish(x, std::move(*outcome));
  return Status::Internal("the decision chain ended without a decision");  // hold always decides
}

Result<client::ProbeReply> DecisionPath::Probe(const Peer& peer,
                                               const client::CheckRequest& request) {
  Exchange x(peer, request);
  Classify(x);
  const Verdict& verdict = x.verdict;
  client::ProbeReply reply;
  reply.decision = verdict.Enforced();
  reply.reason = verdict.reason;
  if (verdict.observe_only) reply.observed = verdict.decision;
  if (Status st = core_.store().IsFrozen(x.agent, &reply.frozen); !st.ok())
    return Status::Unavailable("the approval store is unreachable: " + st.message());
  if (reply.frozen && FreezeStep::FreezeApplies(verdict)) {
    reply.decision = Decision::kHold;
    reply.reason = FreezeStep::FrozenReason(x.agent);
    reply.would = "hold";
  } else if (verdict.Enforced() == Decision::kAllow) {
    reply.would = "allow";
  } else if (AllowStep::FactCanAllow(request, verdict)) {
    reply.would = "allow";
    reply.decision = Decision::kAllow;
    reply.reason = AllowStep::AllowedReason(request, verdict);
  } else {
    const std::string& hash = x.Hash();
    bool approved = false;
    std::string approved_id;
    if (verdict.decision != Decision::kDeny) {
      if (Status st = core_.store().HasApproval(hash, Core::NowMs(), &approved, &approved_id);
          !st.ok())
        return Status::Unavailable("the approval store failed: " + st.message());
    }
    std::optional<approval::Request> waiting;
    if (approved) {
      reply.would = "use_approval";
      reply.approval_id = approved_id;
      reply.decision = request.defer_consume ? Decision::kHold : Decision::kAllow;
    } else if (verdict.decision != Decision::kDeny && (waiting = holds_.Live(hash))) {
      reply.would = "reask";
      reply.approval_id = waiting->id;
    } else {
      const bool limited = !limiter_.Has(x.agent, Core::NowMs());
      reply.rate_limited = limited;
      reply.would = verdict.decision == Decision::kDeny || limited ? "deny" : "register";
      if (limited) reply.decision = Decision::kDeny;
      const Breaker::Preview preview = breaker_.Peek(x.agent, hash);
      reply.counts_for_breaker = preview.counts;
      reply.would_trip_breaker = preview.trips;
    }
  }
  json fields = client::ToJson(reply);
  fields.erase("ok");
  const json action = AuditStep::ActionFields(request.action, x.agent);
  for (const auto& [key, value] : action.items()) fields[key] = value;
  // An entry marked as a probe: it asked, it changed nothing.
  core_.Record("probe", std::move(fields), &peer, audit::Log::Durability::kWritten);
  return reply;
}

Result<client::CheckReply> DecisionPath::Consume(const Peer& peer,
                                                 const client::ConsumeRequest& request) {
  const std::string agent = request.action.agent.empty() ? "unknown" : request.action.agent;
  const json fields = AuditStep::ActionFields(request.action, agent);
  const std::string hash = approval::ActionHash(ToString(request.action.channel),
                                                request.action.input, request.action.cwd, agent);
  approval::Request consumed;
  if (Status st = core_.store().ConsumeApproval(hash, Core::NowMs(), &consumed); !st.ok())
    return audit_.Held(peer, fields,
                       st.Is(Status::Code::kNotFound)
                           ? "no approval left for this action (used, expired or never given)"
                           : "the approval store failed: " + st.message());
  client::CheckReply reply;
  reply.decision = Decision::kAllow;
  reply.approved = true;
  reply.approval_id = consumed.id;
  reply.approvers = consumed.approvers;
  std::string approvers;
  for (const auto& name : consumed.approvers)
    approvers += (approvers.empty() ? "" : " and ") + name;
  reply.reason = "approved by " + approvers + " (used once)";
  if (!request.snapshot_id.empty()) {
    reply.snapshot_id = request.snapshot_id;
    reply.reason += "; saved first as vault snapshot " + request.snapshot_id +
                    " (dualkey vault restore " + request.snapshot_id + ")";
  }
  std::string audit_error;
  if (!core_.Record("consumed", AuditStep::ReplyFields(fields, reply), &peer,
                    audit::Log::Durability::kSynced, &audit_error))
    return audit_.Unconsumed(peer, fields, consumed.id, audit_error);
  return reply;
}

void DecisionPath::Expired(const std::vector<approval::Request>& expired) {
  holds_.Expired(expired);
}

void AddDecisionOps(Dispatcher& dispatcher, DecisionPath& decisions) {
  dispatcher.Add(
      client::kOpCheck,
      [&decisions](const Peer& peer, const json& body) -> Result<json> {
        client::CheckRequest request;
        if (Status s = client::FromJson(body, &request); !s.ok()) return s;
        Result<client::CheckReply> reply = decisions.Check(peer, request);
        if (!reply.ok()) return reply.status();
        return client::ToJson(*reply);
      },
      /*decides=*/true);
  dispatcher.Add(
      client::kOpProbe,
      [&decisions](const Peer& peer, const json& body) -> Result<json> {
        client::CheckRequest request;
        if (Status s = client::FromJson(body, &request); !s.ok()) return s;
        Result<client::ProbeReply> reply = decisions.Probe(peer, request);
        if (!reply.ok()) return reply.status();
        return client::ToJson(*reply);
      },
      /*decides=*/true);
  dispatcher.Add(
      client::kOpConsume,
      [&decisions](const Peer& peer, const json& body) -> Result<json> {
        client::ConsumeRequest request;
        if (Status s = client::FromJson(body, &request); !s.ok()) return s;
        Result<client::CheckReply> reply = decisions.Consume(peer, request);
        if (!reply.ok()) return reply.status();
        return client::ToJson(*reply);
      },
      /*decides=*/true);
}

}  // namespace dualkey::daemon::internal
