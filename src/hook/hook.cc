#include "hook/hook.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>

#include "hook/internal/tool_call.h"

namespace dualkey::hook {
namespace {

using json = nlohmann::ordered_json;
using std::string_view;

// Reasons can carry command text: one line, bounded, in every reply.
constexpr std::size_t kMaxReasonBytes = 600;

constexpr string_view kDoNotWorkAround =
    "Do not try to reach the same result another way (another command, tool, script or path); "
    "tell the user what you wanted to do and why.";

std::string OneLine(string_view text) {
  std::string out;
  out.reserve(std::min(text.size(), kMaxReasonBytes) + 3);
  for (char c : text) {
    if (out.size() >= kMaxReasonBytes) {
      // Do not cut a UTF-8 sequence in half.
      while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80)
        out.pop_back();
      if (!out.empty() && (static_cast<unsigned char>(out.back()) & 0x80) != 0) out.pop_back();
      out += "...";
      break;
    }
    out.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '.')) out.pop_back();
  return out;
}

std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

HookReply AllowReply(Agent agent) {
  HookReply reply;
  reply.exit_code = 0;
  switch (agent) {
    case Agent::kClaude:
    case Agent::kCodex:
      break;  // no output: no opinion, the agent's own permission rules still apply
    case Agent::kCursor:
      // Cursor wants an answer: with failClosed an empty reply blocks.
      reply.out = "{\"permission\":\"allow\"}\n";
      break;
    case Agent::kGemini:
      reply.out = "{}\n";  // stdout must be JSON; an empty object decides nothing
      break;
  }
  return reply;
}

// Exit 2 plus a reason on stderr blocks in all four agents (Codex needs the
// stderr non-empty). Cursor also gets its deny JSON.
HookReply BlockReply(Agent agent, const std::string& message, const std::string& user_message) {
  HookReply reply;
  reply.exit_code = 2;
  reply.err = message + "\n";
  if (agent == Agent::kCursor) {
    reply.out = Dump(
        json{{"permission", "deny"}, {"user_message", user_message}, {"agent_message", message}});
  }
  return reply;
}

// Held with no approval daemon: "ask" where the agent has it.
HookReply AskReply(Agent agent, const std::string& reason, bool two_approvers) {
  const std::string who = two_approvers ? "two humans" : "a human";
  const std::string user_message = "dualkey holds this for " + who + " to approve: " + reason + ".";
  if (agent == Agent::kClaude) {
    HookReply reply;
    reply.exit_code = 0;
    reply.out = Dump(json{{"hookSpecificOutput",
                           {{"hookEventName", "PreToolUse"},
                            {"permissionDecision", "ask"},
                            {"permissionDecisionReason", user_message}}}});
    return reply;
  }
  const std::string agent_message = "dualkey: " + who +
                                    " must approve this exact action first: " + reason + ". " +
                                    std::string(kDoNotWorkAround);
  if (agent == Agent::kCursor) {
    HookReply reply;
    reply.exit_code = 0;
    reply.out = Dump(json{
        {"permission", "ask"}, {"user_message", user_message}, {"agent_message", agent_message}});
    return reply;
  }
  // Codex treats "ask" as a failed hook (which runs the tool), Gemini has none.
  return BlockReply(agent,
                    "dualkey blocked this: " + who +
                        " must approve this exact action first, and this agent cannot ask "
                        "for approval: " +
                        reason + ". " + std::string(kDoNotWorkAround),
                    user_message);
}

// Observe mode lets the call run; the user reads later what would have been held.
void RecordObserved(Agent agent, const guard::Request& request, const Verdict& verdict,
                    const Environment& env) {
  if (env.observe_log.empty()) return;
  std::string dir = env.observe_log.substr(0, env.observe_log.rfind('/'));
  for (std::size_t slash = 1; slash != std::string::npos && slash < dir.size();) {
    slash = dir.find('/', slash + 1);
    mkdir(dir.substr(0, slash).c_str(), 0700);
  }
  int fd = open(env.observe_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return;
  std::string line = Dump(json{{"time", static_cast<long long>(time(nullptr))},
                               {"agent", ToString(agent)},
                               {"channel", dualkey::ToString(request.channel)},
                               {"input", request.input},
                               {"cwd", request.cwd},
                               {"would", dualkey::ToString(verdict.decision)},
                               {"reason", verdict.reason}});
  if (line.empty() || line.back() != '\n') line.push_back('\n');
  ssize_t ignored = write(fd, line.data(), line.size());  // one write: O_APPEND keeps lines whole
  (void)ignored;
  close(fd);
}

HookReply DecideReply(Agent agent, const guard::Request& first, const Verdict& verdict,
                      const Environment& env, const HoldTicket* daemon_ticket) {
  if (verdict.decision == Decision::kAllow) return AllowReply(agent);
  if (verdict.observe_only) {
    RecordObserved(agent, first, verdict, env);
    return AllowReply(agent);
  }
  const std::string reason = OneLine(verdict.reason.empty() ? "held" : verdict.reason);
  if (verdict.decision == Decision::kDeny) {
    return BlockReply(
        agent, "dualkey denied this by policy: " + reason + ". " + std::string(kDoNotWorkAround),
        "dualkey denied this by policy: " + reason + ".");
  }
  const bool two = verdict.decision == Decision::kHold2;
  HoldTicket ticket;
  if (daemon_ticket != nullptr)
    ticket = *daemon_ticket;
  else if (env.resolver != nullptr)
    ticket = env.resolver->Resolve(first, verdict);
  switch (ticket.state) {
    case HoldTicket::State::kApproved:
      return AllowReply(agent);
    case HoldTicket::State::kRejected:
      return BlockReply(agent,
                        "dualkey blocked this: a human rejected it (approval " +
                            OneLine(ticket.approval_id) + "): " + reason + ". " +
                            std::string(kDoNotWorkAround),
                        "dualkey: rejected (" + OneLine(ticket.approval_id) + "): " + reason + ".");
    case HoldTicket::State::kPending: {
      const std::string id = OneLine(ticket.approval_id);
      return BlockReply(agent,
                        "dualkey holds this as approval " + id + ": " + reason + ". " +
                            (two ? "Two humans" : "A human") +
                            " must approve it (dualkey approve " + id +
                            "); then retry exactly the same call. Do not try to reach the same "
                            "result another way.",
                        "dualkey holds this as approval " + id + ": " + reason + ".");
    }
    case HoldTicket::State::kUnreachable:
      return BlockReply(agent,
                        "dualkey blocked this: " + reason +
                            ". It cannot be approved until the dualkey daemon answers; tell the "
                            "user. " +
                            std::string(kDoNotWorkAround),
                        "dualkey blocked this (the daemon is unreachable): " + reason + ".");
    case HoldTicket::State::kBlocked:
      return BlockReply(agent,
                        "dualkey blocked this: " + reason + ". " + std::string(kDoNotWorkAround),
                        "dualkey blocked this: " + reason + ".");
    case HoldTicket::State::kNoDaemon:
      break;
  }
  return AskReply(agent, reason, two);
}

HookReply HandleUnchecked(Agent agent, string_view stdin_json, const Environment& env) {
  if (stdin_json.size() > kMaxInputBytes)
    return FailureReply(agent, "the hook input is larger than 1 MiB");
  internal::ToolCall call = internal::ParseToolCall(agent, stdin_json, env);
  if (!call.ok) return FailureReply(agent, call.error);
  if (call.read_only) return AllowReply(agent);

  Verdict combined;
  guard::Request first;
  std::optional<HoldTicket> combined_ticket;
  if (call.unknown_tool) {
    combined.decision = Decision::kHold;
    combined.reason = "dualkey does not know the tool '" + call.tool + "', so it is held";
    first.agent = std::string(ToString(agent));
    first.input = call.tool;
    first.cwd = env.process_cwd;
    first.home = env.home;
  } else {
    // The strictest verdict over every request (a patch touches many files).
    // The daemon decides when it runs (and audits, and registers holds);
    // otherwise the guard decides here.
    bool any = false;
    bool all_observe = true;
    for (const guard::Request& request : call.requests) {
      Verdict verdict;
      HoldTicket ticket;
      const Status asked = env.daemon != nullptr ? env.daemon->Decide(request, &verdict, &ticket)
                                                 : Status::NotFound("no daemon");
      const bool remote = asked.ok();
      const bool guarded = env.daemon != nullptr && env.daemon->protected_install();
      if (!remote) {
        // The daemon's rule for a decision it could not give: the local
        // verdict, never lowered; on a protected install nothing held can be
        // approved around it.
        verdict = guard::Check(request).verdict;
        if (guarded || !asked.Is(Status::Code::kNotFound))
          verdict = client::Unreachable(std::move(verdict), asked);
        if (guarded) ticket.state = HoldTicket::State::kUnreachable;
      }
      all_observe = all_observe && verdict.observe_only;
      if (!any || verdict.decision > combined.decision) {
        combined.decision = verdict.decision;
        combined.reason = std::move(verdict.reason);
        first = request;
        combined_ticket = remote || guarded ? std::optional<HoldTicket>(ticket) : std::nullopt;
      }
      for (Action& action : verdict.actions) combined.actions.push_back(std::move(action));
      any = true;
    }
    if (!any) return FailureReply(agent, "the tool call names nothing to check");
    combined.observe_only = all_observe;
  }
  return DecideReply(agent, first, combined, env, combined_ticket ? &*combined_ticket : nullptr);
}

// The watchdog's reply, rendered before the alarm can fire: a signal handler
// may only write() bytes it already has.
struct WatchdogText {
  const char* out;
  const char* err;
};
constexpr WatchdogText kWatchdogTexts[] = {
    {"", "dualkey could not finish checking this tool call in time, so it is blocked.\n"},
    {"{\"permission\":\"deny\",\"user_message\":\"dualkey timed out; blocked.\","
     "\"agent_message\":\"dualkey could not finish checking this tool call in time, so it is "
     "blocked.\"}\n",
     "dualkey could not finish checking this tool call in time, so it is blocked.\n"},
    {"", "dualkey could not finish checking this tool call in time, so it is blocked.\n"},
    {"", "dualkey could not finish checking this tool call in time, so it is blocked.\n"},
};
// Set once before the alarm is armed; read only by the handler.
volatile sig_atomic_t watchdog_agent = 0;

void WriteAll(int fd, const char* text) {
  std::size_t left = std::strlen(text);
  while (left > 0) {
    ssize_t n = write(fd, text, left);
    if (n <= 0) return;
    text += n;
    left -= static_cast<std::size_t>(n);
  }
}

void OnWatchdog(int) {
  const WatchdogText& text = kWatchdogTexts[watchdog_agent];
  WriteAll(STDOUT_FILENO, text.out);
  WriteAll(STDERR_FILENO, text.err);
  _exit(2);
}

}  // namespace

bool ParseAgent(string_view name, Agent* out) {
  for (Agent agent : kAllAgents) {
    if (ToString(agent) == name) {
      *out = agent;
      return true;
    }
  }
  return false;
}

string_view ToString(Agent agent) {
  switch (agent) {
    case Agent::kClaude:
      return "claude";
    case Agent::kCursor:
      return "cursor";
    case Agent::kCodex:
      return "codex";
    case Agent::kGemini:
      return "gemini";
  }
  return "unknown";
}

HookReply FailureReply(Agent agent, string_view why) {
  const std::string reason = OneLine(why);
  return BlockReply(agent,
                    "dualkey could not check this tool call (" + reason + "), so it is blocked. " +
                        std::string(kDoNotWorkAround),
                    "dualkey blocked a tool call it could not check: " + reason + ".");
}

HookReply Handle(Agent agent, string_view stdin_json, const Environment& env) {
  try {
    return HandleUnchecked(agent, stdin_json, env);
  } catch (const std::exception& e) {
    try {
      return FailureReply(agent, std::string("internal error: ") + e.what());
    } catch (...) {
    }
  } catch (...) {
  }
  // Out of memory even for the message: the bare minimum every agent reads.
  HookReply reply;
  reply.exit_code = 2;
  reply.err = "dualkey: blocked\n";  // fits the small-string buffer: no allocation
  return reply;
}

void ArmWatchdog(Agent agent, unsigned seconds) {
  watchdog_agent = static_cast<sig_atomic_t>(agent);
  struct sigaction action {};
  action.sa_handler = &OnWatchdog;
  sigemptyset(&action.sa_mask);
  sigaction(SIGALRM, &action, nullptr);
  alarm(seconds);
}

}  // namespace dualkey::hook
