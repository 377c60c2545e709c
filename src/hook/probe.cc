// `dualkey hook AGENT --probe`, what `dualkey doctor` runs: the installed hook
// command asks the daemon with a probe (client::Client::Probe), which
// registers no approval, counts toward no breaker and uses up no approval.
// A daemon that cannot be asked leaves the hook's own verdict, which
// registers nothing either.
#include "client/client.h"
#include "hook/hook.h"

namespace dualkey::hook {
namespace {

class Probe final : public RemoteDecider {
 public:
  explicit Probe(client::Client client) : client_(std::move(client)) {}

  Status Decide(const guard::Request& request, Verdict* verdict, HoldTicket* ticket) override {
    Result<client::ProbeReply> reply = client_.Probe(CheckRequestFor(request));
    if (!reply.ok()) return reply.status();
    // A probe never lets through what a check would hold: it uses no
    // approval, so an action that waits for one stays a hold here.
    *verdict = guard::Check(request).verdict;
    if (reply->decision > verdict->decision) {
      verdict->decision = reply->decision;
      verdict->reason = reply->reason;
    }
    ticket->state = HoldTicket::State::kNoDaemon;
    return Status::Ok();
  }

  bool protected_install() const override { return client_.protected_install(); }

 private:
  client::Client client_;
};

}  // namespace

std::unique_ptr<RemoteDecider> DaemonProbe(client::Client client) {
  return std::make_unique<Probe>(std::move(client));
}

}  // namespace dualkey::hook
