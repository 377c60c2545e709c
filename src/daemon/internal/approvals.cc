// deny and status. (pending, approve, breaker_reset and approver
// administration, which need a human's code, are admin.cc's.)
#include <unistd.h>

#include "client/protocol.h"
#include "daemon/internal/core.h"

namespace dualkey::daemon::internal {

using nlohmann::json;

client::Approval ToApproval(const approval::Request& r) {
  client::Approval a;
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

void AddApprovalOps(Dispatcher& dispatcher, Core& core) {
  dispatcher.Add(client::kOpDeny, [&core](const Peer& peer, const json& body) -> Result<json> {
    client::DenyRequest request;
    if (Status s = client::FromJson(body, &request); !s.ok()) return s;
    approval::Request r;
    if (Status st =
            core.store().Deny(request.id, request.approver, request.reason, Core::NowMs(), &r);
        !st.ok())
      return Status::FailedPrecondition(st.message());
    json fields{{"approval_id", r.id},
                {"by", request.approver},
                {"reason", r.deny_reason},
                {"agent", r.agent},
                {"held_ms", Core::NowMs() - r.created_ms}};
    client::PutText(fields, "input", r.input);
    core.Record("denial", std::move(fields), &peer);
    return client::ToJson(client::ApprovalReply{ToApproval(r)});
  });
}

void AddStatusOps(Dispatcher& dispatcher, Core& core) {
  dispatcher.Add(client::kOpStatus, [&core](const Peer&, const json&) -> Result<json> {
    client::StatusReply reply;
    reply.pid = getpid();
    reply.socket = core.options().socket_path;
    reply.protected_install = core.layout().protected_install;
    reply.uid = static_cast<std::int64_t>(geteuid());
    const json policy = core.system_policy().StatusJson();
    reply.policy_path = policy.value("path", "");
    reply.policy_loaded_ms = policy.value("loaded_ms", std::int64_t{0});
    reply.policy_errors = policy.value("errors", std::vector<std::string>{});
    reply.policy_reload_failed_ms = policy.value("reload_failed_ms", std::int64_t{0});
    reply.policy_reload_errors = policy.value("reload_errors", std::vector<std::string>{});
    return client::ToJson(reply);
  });
}

}  // namespace dualkey::daemon::internal
