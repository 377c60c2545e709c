// The hook's client of `dualkey serve`: one "check" round trip per request.
#include <nlohmann/json.hpp>

#include "hook/hook.h"
#include "policy/policy.h"
#include "daemon/daemon.h"

namespace dualkey::hook {
namespace {

class Daemon final : public RemoteDecider {
 public:
  Daemon(std::string socket_path, int timeout_ms)
      : socket_path_(std::move(socket_path)), timeout_ms_(timeout_ms) {}

  bool Decide(const guard::Request& request, Verdict* verdict, HoldTicket* ticket,
              std::string* error) override {
    nlohmann::json ask{{"op", "check"},
                       {"channel", ToString(request.channel)},
                       {"input", request.input},
                       {"cwd", request.cwd},
                       {"home", request.home},
                       {"agent", request.agent},
                       {"file_operation", request.file_operation}};
    std::optional<nlohmann::json> reply = daemon::Call(socket_path_, ask, timeout_ms_, error);
    if (!reply) return false;
    Decision decision;
    if (!reply->value("ok", false) || !(*reply).contains("decision") ||
        !(*reply)["decision"].is_string() ||
        !policy::ParseDecision((*reply)["decision"].get<std::string>(), &decision)) {
      *error = reply->value("error", "the daemon's answer has no decision");
      return false;
    }
    verdict->decision = decision;
    verdict->reason = reply->value("reason", "");
    ticket->state = HoldTicket::State::kNoDaemon;
    if (decision == Decision::kHold || decision == Decision::kHold2) {
      std::string id = reply->value("approval_id", "");
      if (!id.empty()) {
        ticket->state = HoldTicket::State::kPending;
        ticket->approval_id = id;
      }
    }
    return true;
  }

 private:
  std::string socket_path_;
  int timeout_ms_;
};

}  // namespace

std::unique_ptr<RemoteDecider> DaemonDecider(std::string socket_path, int timeout_ms) {
  return std::make_unique<Daemon>(std::move(socket_path), timeout_ms);
}

}  // namespace dualkey::hook
