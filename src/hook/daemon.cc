// The hook's client of `dualkey serve`: one "check" round trip per request,
// through client::Client (socket from the layout, peer verified).
#include "client/client.h"
#include "hook/hook.h"

namespace dualkey::hook {

client::CheckRequest CheckRequestFor(const guard::Request& request) {
  client::CheckRequest ask;
  ask.action.channel = request.channel;
  ask.action.input = request.input;
  ask.action.cwd = request.cwd;
  ask.action.agent = request.agent;
  ask.home = request.home;
  ask.file_operation = request.file_operation;
  return ask;
}

namespace {

class Daemon final : public RemoteDecider {
 public:
  explicit Daemon(client::Client client) : client_(std::move(client)) {}

  Status Decide(const guard::Request& request, Verdict* verdict, HoldTicket* ticket) override {
    Result<client::CheckReply> reply = client_.Check(CheckRequestFor(request));
    if (!reply.ok()) return reply.status();
    verdict->decision = reply->decision;
    verdict->reason = reply->reason;
    ticket->state = HoldTicket::State::kNoDaemon;
    if ((reply->decision == Decision::kHold || reply->decision == Decision::kHold2) &&
        !reply->approval_id.empty()) {
      ticket->state = HoldTicket::State::kPending;
      ticket->approval_id = reply->approval_id;
    } else if (reply->decision == Decision::kHold || reply->decision == Decision::kHold2) {
      // Held without a request to approve (a frozen agent, a store that
      // failed): on a protected install never offered in the agent's UI.
      if (client_.protected_install()) ticket->state = HoldTicket::State::kBlocked;
    }
    return Status::Ok();
  }

  bool protected_install() const override { return client_.protected_install(); }

 private:
  client::Client client_;
};

}  // namespace

std::unique_ptr<RemoteDecider> DaemonDecider(client::Client client) {
  return std::make_unique<Daemon>(std::move(client));
}

}  // namespace dualkey::hook
