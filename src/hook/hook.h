// The agent hooks: `dualkey hook AGENT` reads a coding agent's pre-tool-use
// JSON, asks the guard about the tool call, and answers in that agent's exact
// protocol. Anything but a clear allow blocks: every agent fails open on a hook
// that crashes, hangs or answers wrongly, so this code must never do that.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "client/client.h"
#include "core/action.h"
#include "guard/guard.h"

namespace dualkey::hook {

enum class Agent { kClaude, kCursor, kCodex, kGemini };
inline constexpr Agent kAllAgents[] = {Agent::kClaude, Agent::kCursor, Agent::kCodex,
                                       Agent::kGemini};

bool ParseAgent(std::string_view name, Agent* out);
std::string_view ToString(Agent agent);

// Larger hook input is refused (blocked) unread: no tool call needs a MiB.
inline constexpr std::size_t kMaxInputBytes = 1u << 20;
// Hard deadline for the whole hook process (see ArmWatchdog); the configs
// that `dualkey install` writes give the agent a longer timeout than this.
inline constexpr unsigned kWatchdogSeconds = 5;

// What the hook process does: its exit status and the bytes it prints.
struct HookReply {
  int exit_code = 2;
  std::string out;  // stdout
  std::string err;  // stderr
};

// The seam for the approval daemon. A held call is offered to the resolver;
// with no daemon running the hook asks in the agent's own UI where it can
// (Claude, Cursor) and blocks where it cannot (Codex, Gemini). A daemon client
// returns kPending with an approval id (the block message names it, so a human
// can approve and the agent's retry passes) or kApproved for that retry.
// kUnreachable: a protected install whose daemon did not answer; kBlocked:
// its daemon held the call with nothing to approve (a frozen agent). Both
// block outright: nothing may be approved around the daemon, not even in
// the agent's own UI.
struct HoldTicket {
  enum class State { kNoDaemon, kPending, kApproved, kRejected, kUnreachable, kBlocked };
  State state = State::kNoDaemon;
  std::string approval_id;
};
class HoldResolver {
 public:
  virtual ~HoldResolver() = default;
  virtual HoldTicket Resolve(const guard::Request& request, const Verdict& verdict) = 0;
};

// The approval daemon deciding a whole request (it also audits it and
// registers holds as pending approvals). Not ok when it did not decide: the
// hook then decides locally, and a hold stays held. kNotFound means no
// daemon is set up here (single-user mode without `dualkey serve`).
class RemoteDecider {
 public:
  virtual ~RemoteDecider() = default;
  virtual Status Decide(const guard::Request& request, Verdict* verdict, HoldTicket* ticket) = 0;
  // A protected install: an unreachable daemon blocks holds (kUnreachable).
  virtual bool protected_install() const = 0;
};

// What the daemon is asked about `request` (check and probe alike).
client::CheckRequest CheckRequestFor(const guard::Request& request);

// A RemoteDecider that asks `dualkey serve` through client::Client (which
// finds the socket and checks who listens on it).
std::unique_ptr<RemoteDecider> DaemonDecider(client::Client client);
// The same, asking with a probe (probe.cc): registers no approval, counts
// toward no breaker, never answers "approved". For `dualkey doctor`.
std::unique_ptr<RemoteDecider> DaemonProbe(client::Client client);

struct Environment {
  std::string home;                  // the user's home, for ~ and $HOME
  std::string process_cwd;           // used when the agent sends no working directory
  HoldResolver* resolver = nullptr;  // null: no approval daemon
  RemoteDecider* daemon = nullptr;   // null: no daemon configured
  // Whether a path exists: a Write to a new file creates, to an old one
  // replaces. Null: ask the file system (lstat).
  bool (*path_exists)(const std::string& path) = nullptr;
  // Policy mode "observe": what would have been held is appended here, one
  // JSON line per call (empty: not recorded).
  std::string observe_log;
};

// Never throws; bounded in time and memory by kMaxInputBytes and the guard.
HookReply Handle(Agent agent, std::string_view stdin_json, const Environment& env);

// The block reply for when the call could not be checked at all (bad input,
// an internal error). Usable for an unknown agent too: exit 2 plus stderr is
// the one answer all four agents read as "blocked".
HookReply FailureReply(Agent agent, std::string_view why);

// Arms SIGALRM: if the process is still running after `seconds`, it prints
// the agent's block reply and exits 2, so a stuck hook never fails open.
void ArmWatchdog(Agent agent, unsigned seconds);

}  // namespace dualkey::hook
