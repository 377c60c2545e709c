// The decision path: check, probe and consume. Classifies the action with
// the policy that applies to the caller, applies the breaker and the rate
// limit, registers holds as pending approvals (once per action: asking
// again is not a new attempt), uses approvals once, saves what an approved
// action destroys to the vault first, and audits every answer.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "daemon/internal/breaker.h"
#include "daemon/internal/core.h"
#include "daemon/internal/protocol.h"
#include "policy/policy.h"
#include "shell/shell.h"
#include "vault/vault.h"

namespace dualkey::daemon::internal {

class DecisionPath {
 public:
  DecisionPath(Core& core, Breaker& breaker);

  Result<CheckReply> Check(const Peer& peer, const CheckRequest& request);
  Result<ProbeReply> Probe(const Peer& peer, const CheckRequest& request);
  Result<CheckReply> Consume(const Peer& peer, const ConsumeRequest& request);

  // Forgets pending requests that expired (called by the expiry loop).
  void Expired(const std::vector<approval::Request>& expired);

 private:
  struct Classified {
    Verdict verdict;
    std::vector<shell::ExecutedCommand> commands;  // what would run, for a hold's details
    std::string agent;                             // "unknown" when none was given
    // approval::ActionHash of the action as this agent's.
    std::string Hash(const ActionRef& action) const;
  };
  Classified Classify(const Peer& peer, const CheckRequest& request) const;
  policy::Policy PolicyFor(const Peer& peer, const CheckRequest& request) const;

  // The pending request registered for `hash` that is still waiting, if any.
  std::optional<approval::Request> LivePending(const std::string& hash);

  // Saves what an approved action destroys; audited as "vault_snapshot"
  // with the snapshot id, the vault and the approval it serves.
  std::optional<vault::SnapshotInfo> SaveToVault(const std::vector<std::string>& targets,
                                                 const std::string& agent, const std::string& input,
                                                 const std::string& approval_id, const Peer& peer,
                                                 std::string* error);

  // The audit fields of an action: agent, channel, input, cwd.
  static nlohmann::json ActionFields(const ActionRef& action, const std::string& agent);
  // A hold that could not be registered: still held, with the reason.
  CheckReply Held(const Peer& peer, const nlohmann::json& action_fields, std::string reason);
  // Audit first, then effect: a consumption whose record could not be made
  // durable is released (the action must not run; its approval stays usable).
  CheckReply Unconsumed(const Peer& peer, const nlohmann::json& action_fields,
                        const std::string& approval_id, const std::string& audit_error);

  Core& core_;
  Breaker& breaker_;
  std::mutex holds_mutex_;
  std::map<std::string, std::string> pending_by_hash_;  // action hash -> approval id
  const std::string vault_dir_;                         // absolute
  std::mutex vault_mutex_;
  std::optional<vault::Vault> vault_;
};

}  // namespace dualkey::daemon::internal
