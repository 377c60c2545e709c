#include "daemon/internal/breaker.h"

#include <algorithm>
#include <set>

#include "base/json_text.h"
#include "client/protocol.h"

namespace dualkey::daemon::internal {

using nlohmann::json;

Breaker::Breaker(Core& core)
    : core_(core),
      window_(core.options().breaker_attempts, core.options().breaker_window_seconds) {}

void Breaker::Attempt(const std::string& agent, const std::string& action_hash,
                      const std::string& what, const Peer& peer) {
  const breaker::AttemptWindow::Counted counted =
      window_.Attempt(agent, action_hash, Core::NowMs());
  if (!counted.trips) return;
  bool already = false;
  core_.store().IsFrozen(agent, &already);
  if (already) return;
  const std::string why = std::to_string(counted.count) + " distinct destructive attempts within " +
                          std::to_string(core_.options().breaker_window_seconds) +
                          " s; the last: " + base::ToValidUtf8(what.substr(0, 300));
  core_.store().SetFrozen(agent, true, why);
  json fields{{"attempts", core_.options().breaker_attempts},
              {"window_seconds", core_.options().breaker_window_seconds},
              {"why", why}};
  client::PutText(fields, "agent", agent);
  core_.Record("breaker", std::move(fields), &peer);
}

Breaker::Preview Breaker::Peek(const std::string& agent, const std::string& action_hash) const {
  return window_.Peek(agent, action_hash, Core::NowMs());
}

int Breaker::RecentAttempts(const std::string& agent) const {
  return window_.Recent(agent, Core::NowMs());
}

std::vector<std::string> Breaker::ActiveAgents() const {
  return window_.ActiveAgents(Core::NowMs());
}

void Breaker::Forget(const std::string& agent) {
  window_.Forget(agent);
}

namespace {

std::string ResetCommand(const std::string& agent) {
  return "dualkey breaker reset " + base::ToValidUtf8(agent) + " --as APPROVER";
}

}  // namespace

void AddBreakerOps(Dispatcher& dispatcher, Core& core, Breaker& breaker) {
  dispatcher.Add(
      client::kOpBreakerStatus, [&core, &breaker](const Peer&, const json& body) -> Result<json> {
        client::BreakerStatusRequest request;
        if (Status s = client::FromJson(body, &request); !s.ok()) return s;
        std::vector<approval::Store::Freeze> freezes;
        if (Status st = core.store().Freezes(&freezes); !st.ok())
          return Status::Unavailable("the store failed: " + st.message());
        client::BreakerStatusReply reply;
        reply.attempts = core.options().breaker_attempts;
        reply.window_seconds = core.options().breaker_window_seconds;
        std::set<std::string> seen;
        auto add = [&](const std::string& agent, const approval::Store::Freeze* freeze) {
          if (!request.agent.empty() && agent != request.agent) return;
          if (!seen.insert(agent).second) return;
          client::BreakerAgent entry;
          entry.agent = agent;
          if (freeze != nullptr && freeze->frozen) {
            entry.frozen = true;
            entry.since_ms = freeze->updated_ms;
            entry.why = freeze->why;
            entry.reset = ResetCommand(agent);
          } else if (freeze != nullptr) {
            entry.why = freeze->why;  // "reset by alice"
          }
          entry.recent_attempts = breaker.RecentAttempts(agent);
          reply.agents.push_back(std::move(entry));
        };
        for (const auto& freeze : freezes)
          if (freeze.frozen) add(freeze.agent, &freeze);
        for (const std::string& agent : breaker.ActiveAgents()) {
          auto found = std::find_if(freezes.begin(), freezes.end(),
                                    [&](const auto& f) { return f.agent == agent; });
          add(agent, found == freezes.end() ? nullptr : &*found);
        }
        if (!request.agent.empty() && seen.empty()) {
          // Asked about one agent the daemon has nothing on: it is not frozen.
          bool frozen = false;
          if (Status st = core.store().IsFrozen(request.agent, &frozen); !st.ok())
            return Status::Unavailable("the store failed: " + st.message());
          auto found = std::find_if(freezes.begin(), freezes.end(),
                                    [&](const auto& f) { return f.agent == request.agent; });
          add(request.agent, found == freezes.end() ? nullptr : &*found);
        }
        return client::ToJson(reply);
      });
}

}  // namespace dualkey::daemon::internal
