// The audit step (chain.h): audit first, then effect.
#include "daemon/internal/chain.h"

namespace dualkey::daemon::internal {

using nlohmann::json;

Outcome Outcome::Held(std::string reason) {
  Outcome out;
  out.reply.decision = Decision::kHold;
  out.reply.reason = std::move(reason);
  return out;
}

json AuditStep::ActionFields(const client::ActionRef& action, const std::string& agent) {
  json fields{{"channel", std::string(ToString(action.channel))}};
  client::PutText(fields, "agent", agent);
  client::PutText(fields, "input", action.input);
  client::PutText(fields, "cwd", action.cwd);
  return fields;
}

json AuditStep::ReplyFields(const json& action_fields, const client::CheckReply& reply) {
  json fields = client::ToJson(reply);
  fields.erase("ok");
  for (auto& [key, value] : action_fields.items()) fields[key] = value;
  return fields;
}

client::CheckReply AuditStep::Finish(Exchange& x, Outcome outcome) {
  if (outcome.kind.empty()) return std::move(outcome.reply);
  json record = ReplyFields(x.fields, outcome.reply);
  for (auto& [key, value] : outcome.extra.items()) record[key] = value;
  std::string failure;
  if (!core_.Record(outcome.kind, std::move(record), &x.peer, outcome.durability, &failure)) {
    switch (outcome.if_unrecorded) {
      case Outcome::IfUnrecorded::kReplyAnyway:
        break;
      case Outcome::IfUnrecorded::kHold:
        return Held(x.peer, x.fields, "the audit log could not be written");
      case Outcome::IfUnrecorded::kRelease:
        return Unconsumed(x.peer, x.fields, outcome.reply.approval_id, failure);
    }
  }
  if (outcome.breaker_attempt) breaker_.Attempt(x.agent, x.Hash(), x.request.action.input, x.peer);
  return std::move(outcome.reply);
}

client::CheckReply AuditStep::Held(const Peer& peer, const json& action_fields,
                                   std::string reason) {
  client::CheckReply reply;
  reply.decision = Decision::kHold;
  reply.reason = std::move(reason);
  core_.Record("verdict", ReplyFields(action_fields, reply), &peer);
  return reply;
}

client::CheckReply AuditStep::Unconsumed(const Peer& peer, const json& action_fields,
                                         const std::string& approval_id,
                                         const std::string& audit_error) {
  const Status release = core_.store().ReleaseConsumption(approval_id);
  const bool released = release.ok();
  return Held(peer, action_fields,
              "approved, but the audit log could not be written (" + audit_error +
                  "); it stays held and nothing ran" +
                  (released ? "; the approval is still usable"
                            : "; the approval could not be released: " + release.message()));
}

}  // namespace dualkey::daemon::internal
