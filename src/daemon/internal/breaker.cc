#include "daemon/internal/breaker.h"

#include <algorithm>
#include <set>

#include "base/json_text.h"
#include "daemon/internal/protocol.h"

namespace dualkey::daemon::internal {

using nlohmann::json;

void Breaker::Trim(std::deque<Attempted>* times, std::int64_t now) const {
  const std::int64_t window_ms = core_.options().breaker_window_seconds * 1000LL;
  while (!times->empty() && times->front().ms < now - window_ms) times->pop_front();
}

void Breaker::Attempt(const std::string& agent, const std::string& action_hash,
                      const std::string& what, const Peer& peer) {
  const std::int64_t now = Core::NowMs();
  bool trip = false;
  int count = 0;
  {
    std::lock_guard lock(mutex_);
    auto& times = attempts_[agent];
    Trim(&times, now);
    auto same = std::find_if(times.begin(), times.end(),
                             [&](const Attempted& a) { return a.action_hash == action_hash; });
    if (same != times.end()) {
      // A question asked again: refresh it, do not count it twice.
      times.erase(same);
      times.push_back(Attempted{now, action_hash});
      return;
    }
    times.push_back(Attempted{now, action_hash});
    count = static_cast<int>(times.size());
    trip = count >= core_.options().breaker_attempts;
  }
  if (!trip) return;
  bool already = false;
  core_.store().IsFrozen(agent, &already);
  if (already) return;
  const std::string why = std::to_string(count) + " distinct destructive attempts within " +
                          std::to_string(core_.options().breaker_window_seconds) +
                          " s; the last: " + base::ToValidUtf8(what.substr(0, 300));
  core_.store().SetFrozen(agent, true, why);
  json fields{{"attempts", core_.options().breaker_attempts},
              {"window_seconds", core_.options().breaker_window_seconds},
              {"why", why}};
  PutText(fields, "agent", agent);
  core_.Record("breaker", std::move(fields), &peer);
}

Breaker::Preview Breaker::Peek(const std::string& agent, const std::string& action_hash) const {
  std::lock_guard lock(mutex_);
  Preview preview;
  auto found = attempts_.find(agent);
  std::deque<Attempted> times = found == attempts_.end() ? std::deque<Attempted>{} : found->second;
  Trim(&times, Core::NowMs());
  preview.counts = std::none_of(times.begin(), times.end(),
                                [&](const Attempted& a) { return a.action_hash == action_hash; });
  preview.trips =
      preview.counts && static_cast<int>(times.size()) + 1 >= core_.options().breaker_attempts;
  return preview;
}

double Breaker::Tokens(const Bucket& bucket, double now) const {
  const ServeOptions& o = core_.options();
  return std::min<double>(o.rate_burst,
                          bucket.tokens + (now - bucket.last) * o.rate_per_minute / 60.0);
}

bool Breaker::TakeToken(const std::string& agent) {
  std::lock_guard lock(mutex_);
  const double now = static_cast<double>(Core::NowMs()) / 1000.0;
  auto [it, inserted] =
      buckets_.try_emplace(agent, Bucket{static_cast<double>(core_.options().rate_burst), now});
  Bucket& bucket = it->second;
  bucket.tokens = Tokens(bucket, now);
  bucket.last = now;
  if (bucket.tokens < 1.0) return false;
  bucket.tokens -= 1.0;
  return true;
}

bool Breaker::HasToken(const std::string& agent) const {
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(agent);
  if (it == buckets_.end()) return core_.options().rate_burst >= 1;
  return Tokens(it->second, static_cast<double>(Core::NowMs()) / 1000.0) >= 1.0;
}

int Breaker::RecentAttempts(const std::string& agent) const {
  std::lock_guard lock(mutex_);
  auto found = attempts_.find(agent);
  if (found == attempts_.end()) return 0;
  Trim(&found->second, Core::NowMs());
  return static_cast<int>(found->second.size());
}

std::vector<std::string> Breaker::ActiveAgents() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  const std::int64_t now = Core::NowMs();
  for (auto& [agent, times] : attempts_) {
    Trim(&times, now);
    if (!times.empty()) out.push_back(agent);
  }
  return out;
}

void Breaker::Forget(const std::string& agent) {
  std::lock_guard lock(mutex_);
  attempts_.erase(agent);
}

namespace {

std::string ResetCommand(const std::string& agent) {
  return "dualkey breaker reset " + base::ToValidUtf8(agent) + " --as APPROVER";
}

}  // namespace

void AddBreakerOps(Dispatcher& dispatcher, Core& core, Breaker& breaker) {
  dispatcher.Add(
      kOpBreakerStatus, [&core, &breaker](const Peer&, const json& body) -> Result<json> {
        BreakerStatusRequest request;
        if (Status s = FromJson(body, &request); !s.ok()) return s;
        std::vector<approval::Store::Freeze> freezes;
        std::string error;
        if (Status st = core.store().Freezes(&freezes); !st.ok())
          return Status::Unavailable("the store failed: " + st.message());
        BreakerStatusReply reply;
        reply.attempts = core.options().breaker_attempts;
        reply.window_seconds = core.options().breaker_window_seconds;
        std::set<std::string> seen;
        auto add = [&](const std::string& agent, const approval::Store::Freeze* freeze) {
          if (!request.agent.empty() && agent != request.agent) return;
          if (!seen.insert(agent).second) return;
          BreakerAgent entry;
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
        return ToJson(reply);
      });
}

}  // namespace dualkey::daemon::internal
