// The daemon's decision as a chain of small steps, in the spirit of Envoy's
// filter chains. A check is classified (its policy, guard), raised to the
// caller's minimum, then passed down the steps in order; the first step that
// decides stops the chain with an Outcome, and the audit step records it:
//
//   classify → raise to the caller's minimum → breaker (frozen?) → allow
//   → approval and vault save → rate limit → register hold → audit
//
// Each step has a narrow interface (the store, the vault, the limiter it
// needs, never the whole daemon) and is testable alone
// (tests/daemon/decision_steps_test.cc). DecisionPath (decision.h) runs the
// chain and answers check, probe and consume.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "approval/approval.h"
#include "audit/audit.h"
#include "base/status.h"
#include "breaker/breaker.h"
#include "client/protocol.h"
#include "daemon/internal/breaker.h"
#include "daemon/internal/core.h"
#include "policy/policy.h"
#include "shell/shell.h"
#include "vault/vault.h"

namespace dualkey::daemon::internal {

// One check on its way down the chain.
struct Exchange {
  Exchange(const Peer& peer, const client::CheckRequest& request) : peer(peer), request(request) {}
  // The exchange refers to the request: a temporary would dangle.
  Exchange(const Peer& peer, client::CheckRequest&& request) = delete;
  const Peer& peer;
  const client::CheckRequest& request;
  Verdict verdict;
  std::vector<shell::ExecutedCommand> commands;  // what would run, for a hold's details
  std::string agent;                             // "unknown" when none was given
  nlohmann::json fields;  // the action's audit fields: channel, agent, input, cwd, class
  // approval::ActionHash of the action as this agent's; computed on first
  // use (the allow path never needs it).
  const std::string& Hash();

 private:
  std::optional<std::string> hash_;
};

// What a step decided, and how the audit step records it.
struct Outcome {
  client::CheckReply reply;
  std::string_view kind = "verdict";  // the audit record's kind; "" = not recorded
  audit::Log::Durability durability = audit::Log::Durability::kSynced;
  nlohmann::json extra = nlohmann::json::object();  // more fields for the record
  // When the record cannot be made durable: reply anyway, hold instead, or
  // (a consumption) release the approval and hold.
  enum class IfUnrecorded : std::uint8_t { kReplyAnyway, kHold, kRelease };
  IfUnrecorded if_unrecorded = IfUnrecorded::kReplyAnyway;
  bool breaker_attempt = false;  // a destructive attempt, counted once recorded

  // A hold that could not be decided further (a store or vault failure):
  // still held, with the reason.
  static Outcome Held(std::string reason);
};

// A step of the chain: decides (an Outcome, which stops the chain) or passes.
class Step {
 public:
  virtual ~Step() = default;
  virtual std::string_view name() const = 0;
  virtual std::optional<Outcome> Run(Exchange& x) = 0;
};

// ---- classify --------------------------------------------------------------
// The policy that applies to the caller (sandbox, protected install or
// single user) and guard's verdict with it. Reads the layout and the system
// policy layer only.
class Classifier {
 public:
  Classifier(const install::Layout& layout, SystemPolicy& system_policy)
      : layout_(layout), system_policy_(system_policy) {}
  policy::Policy PolicyFor(const Peer& peer, const client::CheckRequest& request) const;
  // Fills x.verdict, x.commands and x.agent.
  void Classify(Exchange& x) const;

 private:
  const install::Layout& layout_;
  SystemPolicy& system_policy_;
};

// ---- raise to the caller's minimum ----------------------------------------
// A trusted component (the PostgreSQL proxy, the HTTP gateway) can know more
// than the text shows, such as the rows a DELETE would touch: it may raise
// the decision, never lower it, and say why for the human.
void RaiseToMinimum(const client::CheckRequest& request, Verdict* verdict);

// ---- breaker ---------------------------------------------------------------
// A frozen agent's actions (reads aside) are held until a human resets the
// breaker; a store that cannot say holds too.
class FreezeStep final : public Step {
 public:
  explicit FreezeStep(approval::Store& store) : store_(store) {}
  std::string_view name() const override { return "breaker"; }
  std::optional<Outcome> Run(Exchange& x) override;
  // Whether the verdict has an action the freeze applies to (not a read).
  static bool FreezeApplies(const Verdict& verdict);
  static std::string FrozenReason(const std::string& agent);

 private:
  approval::Store& store_;
};

// ---- allow -----------------------------------------------------------------
// What the policy allows, and what a trusted proxy's fact or snapshot
// allows without a human (see FactCanAllow): allowed, audited, nothing
// counted. Needs nothing but the exchange.
class AllowStep final : public Step {
 public:
  std::string_view name() const override { return "allow"; }
  std::optional<Outcome> Run(Exchange& x) override;
  // Whether the PostgreSQL proxy's fact or snapshot may stand in for a human.
  static bool FactCanAllow(const client::CheckRequest& request, const Verdict& verdict);
  static std::string AllowedReason(const client::CheckRequest& request, const Verdict& verdict);
};

// ---- approval and vault save ----------------------------------------------
// The vault approved actions are saved to: one per daemon, opened (and
// created with the default retention) on first use. Each save is audited as
// "vault_snapshot" through `core`.
class VaultSaver {
 public:
  VaultSaver(Core& core, std::string dir) : core_(core), dir_(std::move(dir)) {}
  // The vault directory for the daemon's options, absolute.
  static std::string DirFor(const ServeOptions& options);
  const std::string& dir() const { return dir_; }
  Result<vault::SnapshotInfo> Save(const std::vector<std::string>& targets,
                                   const std::string& agent, const std::string& input,
                                   const std::string& approval_id, const Peer& peer);

 private:
  Core& core_;
  const std::string dir_;
  std::mutex mutex_;
  std::optional<vault::Vault> vault_;
};

// Pending requests by action hash: the same action asked again while its
// request waits is the same request, not a new attempt.
class PendingHolds {
 public:
  // Requests that were pending before a restart are asked again, not anew.
  explicit PendingHolds(approval::Store& store);
  // The pending request registered for `hash` that is still waiting, if any.
  std::optional<approval::Request> Live(const std::string& hash);
  void Remember(const std::string& hash, const std::string& id);
  // Forgets pending requests that expired (called by the expiry loop).
  void Expired(const std::vector<approval::Request>& expired);

 private:
  approval::Store& store_;
  std::mutex mutex_;
  std::map<std::string, std::string> by_hash_;  // action hash -> approval id
};

// An approval given for this exact action is used once, after what the
// action destroys is saved to the vault; the same action asked again while
// its request waits is re-asked. Denials pass through untouched.
class ApprovalStep final : public Step {
 public:
  ApprovalStep(approval::Store& store, VaultSaver& vault, PendingHolds& holds)
      : store_(store), vault_(vault), holds_(holds) {}
  std::string_view name() const override { return "approval"; }
  std::optional<Outcome> Run(Exchange& x) override;

 private:
  approval::Store& store_;
  VaultSaver& vault_;
  PendingHolds& holds_;
};

// ---- rate limit --------------------------------------------------------------
// Every held or denied action that gets here is a destructive attempt: it
// takes a token; a denial, or an agent over its rate, is denied (and counted
// by the breaker).
class RateLimitStep final : public Step {
 public:
  explicit RateLimitStep(breaker::RateLimiter& limiter) : limiter_(limiter) {}
  std::string_view name() const override { return "rate_limit"; }
  std::optional<Outcome> Run(Exchange& x) override;

 private:
  breaker::RateLimiter& limiter_;
};

// ---- register hold -----------------------------------------------------------
// The last step: the held action becomes a pending request (with what a
// human needs to decide) for `ttl_seconds`. Always decides.
class HoldStep final : public Step {
 public:
  HoldStep(approval::Store& store, PendingHolds& holds, int ttl_seconds)
      : store_(store), holds_(holds), ttl_seconds_(ttl_seconds) {}
  std::string_view name() const override { return "hold"; }
  std::optional<Outcome> Run(Exchange& x) override;

 private:
  approval::Store& store_;
  PendingHolds& holds_;
  const int ttl_seconds_;
};

// ---- audit -------------------------------------------------------------------
// Records an outcome, then lets it take effect: audit first, then effect. A
// consumption whose record could not be made durable is released (the
// action must not run; its approval stays usable).
class AuditStep {
 public:
  AuditStep(Core& core, Breaker& breaker) : core_(core), breaker_(breaker) {}
  client::CheckReply Finish(Exchange& x, Outcome outcome);
  // A hold that could not be registered: still held, with the reason (audited).
  client::CheckReply Held(const Peer& peer, const nlohmann::json& action_fields,
                          std::string reason);
  client::CheckReply Unconsumed(const Peer& peer, const nlohmann::json& action_fields,
                                const std::string& approval_id, const std::string& audit_error);
  // The audit fields of an action: agent, channel, input, cwd.
  static nlohmann::json ActionFields(const client::ActionRef& action, const std::string& agent);
  // A reply's fields with the action's, as a record.
  static nlohmann::json ReplyFields(const nlohmann::json& action_fields,
                                    const client::CheckReply& reply);

 private:
  Core& core_;
  Breaker& breaker_;
};

}  // namespace dualkey::daemon::internal
