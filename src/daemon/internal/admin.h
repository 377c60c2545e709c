// The humans' side of the daemon: approving held actions, resetting the
// breaker and administering approvers. Each needs a human's TOTP code,
// checked by approval::Authorize (the one place codes are checked, with its
// lockouts), and each takes effect only once its audit record is durable:
// a failed audit write leaves the state unchanged and the code unspent.
// Also the daemon's audit log with the store's memory of it (audit_seal.cc).
//
// AddAdminOps registers after the other Add* calls: it takes pending,
// approve and breaker_reset over, and adds the approver_* ops and audit_info.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "approval/approval.h"
#include "audit/audit.h"
#include "daemon/internal/core.h"

namespace dualkey::daemon::internal {

class Breaker;
void AddAdminOps(Dispatcher& dispatcher, Core& core, Breaker& breaker,
                 approval::LockoutPolicy policy = {});

// The daemon's audit log, opened against the checkpoint the store remembers
// for it (so a deleted, replaced or shortened log is recorded as such); what
// Open found is returned as warnings for the operator. Remembers the opening
// checkpoint in the store.
Result<std::unique_ptr<audit::Log>> OpenAuditLog(const audit::OpenOptions& options,
                                                 approval::Store& store,
                                                 std::vector<std::string>* warnings);

// Keeps the store's memory of the log current without touching the hot
// path: from the daemon's housekeeping loop, a checkpoint at least once a
// minute while records arrive, and every new durable checkpoint remembered.
class AuditSealer {
 public:
  AuditSealer(audit::Log& log, approval::Store& store, const std::string& audit_path,
              std::int64_t every_ms = 60'000);
  void Tick();
  // Seals the log with its close checkpoint and remembers it.
  void Close();

 private:
  audit::Log& log_;
  approval::Store& store_;
  const std::string log_id_;
  const std::int64_t every_ms_;
  std::int64_t last_checkpoint_ms_;
  std::uint64_t remembered_seq_ = 0;
  std::string remembered_hash_;
};

}  // namespace dualkey::daemon::internal
