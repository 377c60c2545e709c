// pending, approve, deny and status; the approver's second factor.
#include <unistd.h>

#include "daemon/internal/core.h"
#include "daemon/protocol.h"

namespace dualkey::daemon::internal {
namespace {

using nlohmann::json;

Approval ToApproval(const approval::Request& r) {
  Approval a;
  a.id = r.id;
  a.code = r.code;
  a.agent = r.agent;
  a.channel = r.channel;
  a.input = r.input;
  a.cwd = r.cwd;
  a.reason = r.reason;
  a.approvals_needed = r.approvals_needed;
  a.approvers = r.approvers;
  a.state = std::string(approval::ToString(r.state));
  a.created_ms = r.created_ms;
  a.expires_ms = r.expires_ms;
  a.denied_by = r.denied_by;
  a.deny_reason = r.deny_reason;
  return a;
}

}  // namespace

Status CheckApproverCode(Core& core, const Peer& peer, const std::string& approver,
                         const std::string& totp) {
  if (approver.empty()) return Status::InvalidArgument("an approval needs an \"approver\" name");
  std::string secret, error;
  if (!core.store().ApproverSecret(approver, &secret, &error))
    return Status::NotFound("unknown approver '" + approver +
                            "' (add one with `dualkey approver add NAME`)");
  std::int64_t step = 0;
  if (!approval::CheckTotp(secret, totp, Core::NowMs() / 1000, &step)) {
    core.Record("approval_refused", json{{"approver", approver}, {"why", "bad code"}}, &peer);
    return Status::PermissionDenied("wrong or expired TOTP code for approver '" + approver + "'");
  }
  if (!core.store().UseTotpStep(approver, step, &error))
    return Status::FailedPrecondition("this TOTP code was already used; wait for the next one");
  return Status::Ok();
}

void AddApprovalOps(Dispatcher& dispatcher, Core& core) {
  dispatcher.Add(kOpPending, [&core](const Peer&, const json&) -> Result<json> {
    std::vector<approval::Request> requests;
    std::string error;
    if (!core.store().Pending(Core::NowMs(), &requests, &error))
      return Status::Unavailable("the store failed: " + error);
    PendingReply reply;
    for (const auto& r : requests) reply.requests.push_back(ToApproval(r));
    return ToJson(reply);
  });

  dispatcher.Add(kOpApprove, [&core](const Peer& peer, const json& body) -> Result<json> {
    ApproveRequest request;
    if (Status s = FromJson(body, &request); !s.ok()) return s;
    if (Status s = CheckApproverCode(core, peer, request.approver, request.totp); !s.ok()) return s;
    approval::Request r;
    std::string error;
    if (!core.store().Approve(request.id, request.approver, Core::NowMs(), &r, &error))
      return Status::FailedPrecondition(error);
    json fields{{"approval_id", r.id},
                {"approver", request.approver},
                {"state", approval::ToString(r.state)},
                {"agent", r.agent}};
    PutText(fields, "input", r.input);
    if (!core.Record("approval", std::move(fields), &peer))
      return Status::IOError("the approval is stored but the audit log could not be written");
    return ToJson(ApprovalReply{ToApproval(r)});
  });

  dispatcher.Add(kOpDeny, [&core](const Peer& peer, const json& body) -> Result<json> {
    DenyRequest request;
    if (Status s = FromJson(body, &request); !s.ok()) return s;
    approval::Request r;
    std::string error;
    if (!core.store().Deny(request.id, request.approver, request.reason, Core::NowMs(), &r, &error))
      return Status::FailedPrecondition(error);
    json fields{{"approval_id", r.id},
                {"by", request.approver},
                {"reason", r.deny_reason},
                {"agent", r.agent}};
    PutText(fields, "input", r.input);
    core.Record("denial", std::move(fields), &peer);
    return ToJson(ApprovalReply{ToApproval(r)});
  });
}

void AddStatusOps(Dispatcher& dispatcher, Core& core) {
  dispatcher.Add(kOpStatus, [&core](const Peer&, const json&) -> Result<json> {
    StatusReply reply;
    reply.pid = getpid();
    reply.socket = core.options().socket_path;
    reply.protected_install = core.layout().protected_install;
    reply.uid = static_cast<std::int64_t>(geteuid());
    return ToJson(reply);
  });
}

}  // namespace dualkey::daemon::internal
