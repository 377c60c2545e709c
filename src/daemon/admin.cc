// The humans' side of the daemon (see internal/admin.h). Every handler that
// changes state follows one order:
//   1. refuse what cannot work without looking at any code (unknown request,
//      already approved, bad name...);
//   2. approval::Authorize: lockouts, the attempt counted, the code checked;
//      a refusal is audited;
//   3. the audit record of the effect, made durable (fdatasync);
//   4. the effect and the code's spending, in one store transaction.
// So a failed audit write (a full disk) leaves the state unchanged and the
// code unspent, and an effect that cannot be applied after its record was
// written gets a "..._not_applied" record saying why.
#include "daemon/internal/admin.h"

#include <unistd.h>

#include <optional>

#include "base/json_text.h"
#include "client/protocol.h"
#include "client/words.h"
#include "daemon/internal/breaker.h"
#include "daemon/internal/passkey.h"

namespace dualkey::daemon::internal {
namespace {

using nlohmann::json;

// A refusal as the protocol says it, with what a person needs to know.
json Refusal(const Status& status, int failures = -1, std::int64_t locked_until_ms = 0) {
  json reply = client::ErrorJson(status);
  if (failures >= 0) reply["failures"] = failures;
  if (locked_until_ms > 0) reply["locked_until_ms"] = locked_until_ms;
  return reply;
}

class Admin {
 public:
  Admin(Core& core, Breaker& breaker, approval::LockoutPolicy policy)
      : core_(core), breaker_(breaker), policy_(policy) {}

  json Approve(const Peer& peer, const json& body);
  json BreakerReset(const Peer& peer, const json& body);
  json Pending();
  json ApproverAdd(const Peer& peer, const json& body);
  json ApproverRemove(const Peer& peer, const json& body);
  json ApproverRotate(const Peer& peer, const json& body);
  json ApproverList();
  json AuditInfo();

 private:
  // Checks `approver`'s `code` (or passkey answer, bound to `binding`, ""
  // = the subject) for `subject`; audits a refusal. The refusal to answer,
  // or nullopt with `spend` filled.
  std::optional<json> Authorize(const std::string& approver, const std::string& code,
                                const std::string& subject, const Peer& peer,
                                approval::TotpSpend* spend,
                                const std::optional<client::PasskeyAnswer>& passkey = std::nullopt,
                                const std::string& binding = "");
  // Audit first: false with the refusal to answer when the record is not durable.
  bool AuditFirst(const std::string& kind, json fields, const Peer& peer, json* refusal);
  void AuditNotApplied(const std::string& kind, json fields, const Peer& peer,
                       const std::string& why);

  Core& core_;
  Breaker& breaker_;
  const approval::LockoutPolicy policy_;
};

std::optional<json> Admin::Authorize(const std::string& approver, const std::string& code,
                                     const std::string& subject, const Peer& peer,
                                     approval::TotpSpend* spend,
                                     const std::optional<client::PasskeyAnswer>& passkey,
                                     const std::string& binding) {
  const std::int64_t now = Core::NowMs();
  Result<approval::SecondFactor> factor = SecondFactorOf(core_, code, passkey, binding);
  if (!factor.ok()) return Refusal(factor.status());
  approval::AuthResult result =
      approval::Authorize(core_.store(), approver, *factor, subject, now, policy_);
  if (result.status.ok()) {
    *spend = result.spend;
    return std::nullopt;
  }
  json fields{{"approver", base::ToValidUtf8(approver)},
              {"subject", subject},
              {"why", result.status.message()},
              {"failures", result.failures},
              {"factor", passkey ? "passkey" : "totp"}};
  if (result.locked_until_ms > now) {
    fields["locked_until_ms"] = result.locked_until_ms;
    fields["locked_scope"] = result.locked_scope;
  }
  if (result.counted) {
    // A failed guess changes what the next attempt may do: synced like any
    // decision. (The count is in the store already, whatever happens here.)
    core_.Record("auth_failed", std::move(fields), &peer);
  } else if (result.locked) {
    // Refused unseen: cheap to record, and a flood of them costs no fsync.
    core_.Record("auth_locked", std::move(fields), &peer, audit::Log::Durability::kWritten);
  } else if (!result.status.Is(Status::Code::kInvalidArgument)) {
    core_.Record("auth_error", std::move(fields), &peer, audit::Log::Durability::kWritten);
  }
  return Refusal(result.status, result.failures,
                 result.locked_until_ms > now ? result.locked_until_ms : 0);
}

bool Admin::AuditFirst(const std::string& kind, json fields, const Peer& peer, json* refusal) {
  std::string error;
  if (core_.Record(kind, std::move(fields), &peer, audit::Log::Durability::kSynced, &error))
    return true;
  *refusal = Refusal(Status::IOError(
      "the audit log could not be written (" + error +
      "): nothing was changed and the code is unspent; try again once the log can be written "
      "(a full disk?)"));
  return false;
}

void Admin::AuditNotApplied(const std::string& kind, json fields, const Peer& peer,
                            const std::string& why) {
  fields["why"] = why;
  core_.Record(kind + "_not_applied", std::move(fields), &peer);
}

json Admin::Approve(const Peer& peer, const json& body) {
  client::ApproveRequest request;
  if (Status s = client::FromJson(body, &request); !s.ok()) return Refusal(s);
  if (request.id.empty())
    return Refusal(Status::InvalidArgument("approve needs an \"id\" (the approval id or code)"));
  approval::Request held;
  if (Status st = core_.store().Get(request.id, &held); !st.ok()) return Refusal(st);
  if (Status can = approval::CanApprove(held, request.approver, Core::NowMs()); !can.ok())
    return Refusal(can);

  approval::TotpSpend spend;
  if (std::optional<json> refused = Authorize(request.approver, request.totp, "request:" + held.id,
                                              peer, &spend, request.passkey, ApprovalBinding(held)))
    return *refused;
  const bool completes = static_cast<int>(held.approvers.size()) + 1 >= held.approvals_needed;
  json fields{{"approval_id", held.id},
              {"approver", request.approver},
              {"factor", request.passkey ? "passkey" : "totp"},
              {"state", completes ? "approved" : "pending"},
              {"approvals", held.approvers.size() + 1},
              {"approvals_needed", held.approvals_needed},
              {"agent", held.agent},
              {"held_ms", Core::NowMs() - held.created_ms}};
  client::PutText(fields, "input", held.input);
  // The page sends why (and says it was the page); the CLI may later.
  if (std::string reason; client::GetText(body, "reason", &reason).ok() && !reason.empty())
    fields["reason"] = base::ToValidUtf8(reason.substr(0, 500));
  if (std::string via; client::GetText(body, "via", &via).ok() && via == "page")
    fields["via"] = "page";
  json refusal;
  if (!AuditFirst("approval", std::move(fields), peer, &refusal)) return refusal;
  approval::Request stored;
  if (Status st = core_.store().Approve(held.id, request.approver, Core::NowMs(), &stored, &spend);
      !st.ok()) {
    AuditNotApplied("approval", json{{"approval_id", held.id}, {"approver", request.approver}},
                    peer, st.message());
    return Refusal(Status::FailedPrecondition(st.message() + " (the approval was not applied)"));
  }
  return client::ToJson(client::ApprovalReply{ToApproval(stored)});
}

json Admin::BreakerReset(const Peer& peer, const json& body) {
  client::BreakerResetRequest request;
  if (Status s = client::FromJson(body, &request); !s.ok()) return Refusal(s);
  if (request.agent.empty())
    return Refusal(Status::InvalidArgument("breaker_reset needs an \"agent\""));
  approval::TotpSpend spend;
  if (std::optional<json> refused =
          Authorize(request.approver, request.totp, "breaker:" + request.agent, peer, &spend,
                    request.passkey))
    return *refused;
  json fields{{"approver", request.approver}};
  client::PutText(fields, "agent", request.agent);
  json refusal;
  if (!AuditFirst("breaker_reset", fields, peer, &refusal)) return refusal;
  if (Status st =
          core_.store().SetFrozen(request.agent, false, "reset by " + request.approver, &spend);
      !st.ok()) {
    AuditNotApplied("breaker_reset", std::move(fields), peer, st.message());
    return Refusal(Status::Unavailable(st.message() + " (the breaker was not reset)"));
  }
  breaker_.Forget(request.agent);
  return client::ToJson(client::BreakerResetReply{request.agent, false});
}

json Admin::Pending() {
  std::vector<approval::Request> requests;
  std::vector<approval::Lockout> lockouts;
  const std::int64_t now = Core::NowMs();
  Status read = core_.store().Pending(now, &requests);
  if (read.ok()) read = core_.store().Lockouts(now, policy_, &lockouts);
  if (!read.ok()) return Refusal(Status::Unavailable("the store failed: " + read.message()));
  client::PendingReply reply;
  for (const auto& r : requests) {
    client::Approval a = ToApproval(r);
    // What the daemon worked out when it held the action, and the words for it.
    approval::Item item;
    bool found = false;
    if (core_.store().GetItem("hold", r.id, now, &item, &found).ok() && found)
      if (std::optional<json> details = base::JsonParse(item.value))
        if (details->is_object()) a.details = std::move(*details);
    a.words = client::HoldWords(a, now);
    for (const approval::Lockout& lockout : lockouts) {
      if (lockout.scope != "request:" + r.id) continue;
      a.failed_codes = lockout.failures;
      if (lockout.locked_until_ms > now) a.locked_until_ms = lockout.locked_until_ms;
    }
    reply.requests.push_back(std::move(a));
  }
  for (const approval::Lockout& lockout : lockouts)
    reply.failed_codes.push_back(
        client::FailedCodes{lockout.scope, lockout.failures, lockout.last_failure_ms,
                            lockout.locked_until_ms > now ? lockout.locked_until_ms : 0});
  return client::ToJson(reply);
}

json Admin::ApproverAdd(const Peer& peer, const json& body) {
  client::ApproverRequest request;
  if (Status s = client::FromJson(body, &request); !s.ok()) return Refusal(s);
  const std::string& name = request.name;
  if (!approval::ValidApproverName(name))
    return Refusal(Status::InvalidArgument(
        "an approver's name is 1-128 bytes of text without control characters"));
  std::vector<std::string> names;
  if (Status st = core_.store().Approvers(&names); !st.ok())
    return Refusal(Status::Unavailable("the store failed: " + st.message()));
  for (const std::string& existing : names)
    if (existing == name)
      return Refusal(Status::FailedPrecondition("approver " + name + " already exists"));
  const std::string secret = approval::NewTotpSecret();
  if (secret.empty()) return Refusal(Status::Internal("the random number generator failed"));
  client::ApproverReply reply;
  reply.name = name;
  if (names.empty()) {
    // The first approver: nobody can vouch with a code yet, so only the
    // machine's administrator or the daemon's own account may enrol one. On
    // a protected install the agent is neither.
    if (!peer.admin) {
      core_.Record("approver_add_refused",
                   json{{"name", name},
                        {"why", "first approver, asked by neither root nor the daemon's user"}},
                   &peer);
      return Refusal(Status::PermissionDenied(
          "the first approver can be enrolled only by root or by the daemon's own user (uid " +
          std::to_string(geteuid()) + "): run `sudo dualkey approver add " + name + "`"));
    }
    json refusal;
    if (!AuditFirst("approver_added", json{{"name", name}, {"first", true}}, peer, &refusal))
      return refusal;
    if (Status st = core_.store().AddApprover(name, secret, /*only_if_first=*/true); !st.ok()) {
      AuditNotApplied("approver_added", json{{"name", name}}, peer, st.message());
      return Refusal(Status::FailedPrecondition(st.message()));
    }
    reply.first = true;
  } else {
    // A new approver is itself an action a human approves: an existing
    // approver's fresh code, never the agent's say-so.
    approval::TotpSpend spend;
    if (std::optional<json> refused = Authorize(
            request.approver, request.totp, "approver_add:" + name, peer, &spend, request.passkey))
      return *refused;
    json fields{{"name", name}, {"approver", request.approver}};
    json refusal;
    if (!AuditFirst("approver_added", fields, peer, &refusal)) return refusal;
    if (Status st = core_.store().AddApprover(name, secret, false, &spend); !st.ok()) {
      AuditNotApplied("approver_added", std::move(fields), peer, st.message());
      return Refusal(Status::FailedPrecondition(st.message()));
    }
  }
  reply.secret = secret;
  reply.uri = approval::TotpUri(name, secret);
  return client::ToJson(reply);
}

json Admin::ApproverRemove(const Peer& peer, const json& body) {
  client::ApproverRequest request;
  if (Status s = client::FromJson(body, &request); !s.ok()) return Refusal(s);
  const std::string& name = request.name;
  if (Status st = core_.store().ApproverSecret(name, nullptr); !st.ok()) return Refusal(st);
  std::vector<std::string> names;
  if (Status st = core_.store().Approvers(&names); !st.ok())
    return Refusal(Status::Unavailable("the store failed: " + st.message()));
  if (names.size() <= 1)
    return Refusal(Status::FailedPrecondition(
        "cannot remove " + name +
        ", the last approver: nobody could approve; enrol another first"));
  approval::TotpSpend spend;
  if (std::optional<json> refused = Authorize(
          request.approver, request.totp, "approver_remove:" + name, peer, &spend, request.passkey))
    return *refused;
  json fields{{"name", name}, {"approver", request.approver}};
  json refusal;
  if (!AuditFirst("approver_removed", fields, peer, &refusal)) return refusal;
  if (Status st = core_.store().RemoveApprover(name, &spend); !st.ok()) {
    AuditNotApplied("approver_removed", std::move(fields), peer, st.message());
    return Refusal(Status::FailedPrecondition(st.message()));
  }
  client::ApproverReply reply;
  reply.name = name;
  reply.removed = true;
  return client::ToJson(reply);
}

json Admin::ApproverRotate(const Peer& peer, const json& body) {
  client::ApproverRequest request;
  if (Status s = client::FromJson(body, &request); !s.ok()) return Refusal(s);
  const std::string& name = request.name;
  if (Status st = core_.store().ApproverSecret(name, nullptr); !st.ok()) return Refusal(st);
  approval::TotpSpend spend;
  if (std::optional<json> refused = Authorize(
          request.approver, request.totp, "approver_rotate:" + name, peer, &spend, request.passkey))
    return *refused;
  const std::string secret = approval::NewTotpSecret();
  if (secret.empty()) return Refusal(Status::Internal("the random number generator failed"));
  json fields{{"name", name}, {"approver", request.approver}};
  json refusal;
  if (!AuditFirst("approver_rotated", fields, peer, &refusal)) return refusal;
  if (Status st = core_.store().RotateApprover(name, secret, &spend); !st.ok()) {
    AuditNotApplied("approver_rotated", std::move(fields), peer, st.message());
    return Refusal(Status::FailedPrecondition(st.message()));
  }
  client::ApproverReply reply;
  reply.name = name;
  reply.secret = secret;
  reply.uri = approval::TotpUri(name, secret);
  return client::ToJson(reply);
}

json Admin::ApproverList() {
  client::ApproverListReply reply;
  if (Status st = core_.store().Approvers(&reply.approvers); !st.ok())
    return Refusal(Status::Unavailable("the store failed: " + st.message()));
  return client::ToJson(reply);
}

json Admin::AuditInfo() {
  const audit::CheckpointInfo last = core_.log().LastCheckpoint();
  client::AuditInfoReply reply;
  reply.public_key = core_.log().PublicKey();
  reply.path = core_.options().state_dir + "/audit.jsonl";
  reply.checkpoint_seq = last.seq;
  reply.checkpoint_hash = last.hash;
  return client::ToJson(reply);
}

}  // namespace

void AddAdminOps(Dispatcher& dispatcher, Core& core, Breaker& breaker,
                 approval::LockoutPolicy policy) {
  // One Admin for the daemon's life: the dispatcher's handlers share it.
  auto admin = std::make_shared<Admin>(core, breaker, policy);
  auto add = [&](std::string_view op, json (Admin::*handler)(const Peer&, const json&)) {
    dispatcher.Add(op, [admin, handler](const Peer& peer, const json& body) -> Result<json> {
      return ((*admin).*handler)(peer, body);
    });
  };
  add(client::kOpApprove, &Admin::Approve);
  add(client::kOpBreakerReset, &Admin::BreakerReset);
  add(client::kOpApproverAdd, &Admin::ApproverAdd);
  add(client::kOpApproverRemove, &Admin::ApproverRemove);
  add(client::kOpApproverRotate, &Admin::ApproverRotate);
  dispatcher.Add(client::kOpPending,
                 [admin](const Peer&, const json&) -> Result<json> { return admin->Pending(); });
  dispatcher.Add(client::kOpApproverList, [admin](const Peer&, const json&) -> Result<json> {
    return admin->ApproverList();
  });
  dispatcher.Add(client::kOpAuditInfo,
                 [admin](const Peer&, const json&) -> Result<json> { return admin->AuditInfo(); });
}

}  // namespace dualkey::daemon::internal
