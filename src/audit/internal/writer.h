// The audit log's writer: extends the chain under a mutex, queues the lines
// and writes them with group commit (one write and one fdatasync for all the
// appenders waiting), signs checkpoints, undoes a failed write. Log::Open
// (recovery.cc) makes one once it knows where the chain goes on.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "audit/audit.h"
#include "audit/internal/format.h"
#include "base/status.h"

namespace dualkey::audit::internal {

// The end of the chain: the last entry's seq, hash and time, and how many
// entries follow the last checkpoint line.
struct Head {
  std::uint64_t seq = 0;
  std::string hash{kZeroHash};
  std::int64_t time_ms = 0;
  std::uint64_t since_checkpoint = 0;
};

class LogWriter : public Log {
 public:
  // Takes `fd` (an O_APPEND descriptor, flocked by the caller) and copies the
  // key; the writer closes and wipes them.
  static std::unique_ptr<LogWriter> Create(int fd, const SecretKey& sk, const PublicKeyBytes& pk,
                                           int checkpoint_every);

  // Called by Open before the log is shared: where the chain goes on, and
  // how far the file is already written and synced.
  virtual void Resume(const Head& head, const CheckpointInfo& durable_checkpoint) = 0;
  // Open finished: the destructor seals with a close checkpoint.
  virtual void SetReady() = 0;
  // Open only: the chain goes on from an entry the file no longer has.
  virtual void Rebase(std::uint64_t seq, const std::string& hash) = 0;
  // Open's own records, before the log is shared.
  virtual Result<std::uint64_t> AppendInternal(const std::string& kind, const Json& fields) = 0;
  // A checkpoint for the head with `event`, durable before returning.
  virtual Status WriteCheckpoint(std::string_view event, CheckpointInfo* written) = 0;
};

}  // namespace dualkey::audit::internal
