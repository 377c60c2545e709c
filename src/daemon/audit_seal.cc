// The daemon's audit log and the store's memory of it (see internal/admin.h).
//
// The file alone cannot show that it was deleted and started again, cut
// back to an older checkpoint, or swapped for another: each of those is a
// consistent file. So every durable checkpoint the daemon signs is also
// remembered in the approval store (a PostgreSQL store keeps it off this
// host), and Open is told what to expect. Seals are taken from the
// housekeeping loop, never on the path of a request.
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "daemon/internal/admin.h"

namespace dualkey::daemon::internal {
namespace {

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Which log this is, for the store: host and absolute path, so daemons of
// several hosts can share one PostgreSQL store.
std::string LogId(const std::string& path) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::error_code ignored;
  std::filesystem::path absolute = std::filesystem::absolute(path, ignored);
  return std::string(host) + ":" + (absolute.empty() ? path : absolute.lexically_normal().string());
}

bool Remember(approval::Store& store, const std::string& log_id, const std::string& public_key,
              const audit::CheckpointInfo& checkpoint, std::string* error) {
  approval::AuditSeal seal;
  seal.log_id = log_id;
  seal.seq = checkpoint.seq;
  seal.hash = checkpoint.hash;
  seal.sig = checkpoint.sig;
  seal.public_key = public_key;
  seal.time_ms = checkpoint.time_ms != 0 ? checkpoint.time_ms : NowMs();
  Status remembered = store.RememberAuditSeal(seal);
  if (!remembered.ok() && error != nullptr) *error = remembered.message();
  return remembered.ok();
}

}  // namespace

Result<std::unique_ptr<audit::Log>> OpenAuditLog(const audit::OpenOptions& given,
                                                 approval::Store& store,
                                                 std::vector<std::string>* warnings) {
  audit::OpenOptions options = given;
  const std::string log_id = LogId(options.path);
  approval::AuditSeal seal;
  bool remembered = false;
  if (Status st = store.LastAuditSeal(log_id, &seal, &remembered); !st.ok())
    return Status::Unavailable("cannot read the audit log's last checkpoint from the store: " +
                               st.message());
  if (remembered) {
    options.expect_seq = seal.seq;
    options.expect_hash = seal.hash;
    Result<std::string> key = audit::PublicKeyOfKeyFile(options.key_path);
    if (!key.ok() || *key != seal.public_key)
      warnings->push_back("the audit key " + options.key_path +
                          (key.ok() ? " is not the one" : " is missing; it is not the one") +
                          " that signed this log's last checkpoint (the store remembers key " +
                          seal.public_key + "): the key was replaced");
  }
  audit::OpenReport report;
  Result<std::unique_ptr<audit::Log>> opened = audit::Log::Open(options, &report);
  if (!opened.ok()) return opened.status();
  std::unique_ptr<audit::Log> log = std::move(opened).value();
  if (report.foreign_records > 0)
    warnings->push_back(std::to_string(report.foreign_records) + " record(s) of " + options.path +
                        " were not written by this daemon (the first at line " +
                        std::to_string(report.first_foreign_line) + ", seq " +
                        std::to_string(report.first_foreign_seq) +
                        "): appended or edited while it was stopped. They are recorded as "
                        "foreign, never signed over; `dualkey audit verify` fails from now on");
  if (!report.discontinuity.empty())
    warnings->push_back(report.discontinuity +
                        ": the log was deleted, replaced or shortened while the daemon was "
                        "stopped; recorded, and `dualkey audit verify` fails from now on");
  std::string remember_error;
  if (!Remember(store, log_id, log->PublicKey(), report.opened, &remember_error))
    warnings->push_back("cannot remember the audit checkpoint in the store: " + remember_error);
  return log;
}

AuditSealer::AuditSealer(audit::Log& log, approval::Store& store, const std::string& audit_path,
                         std::int64_t every_ms)
    : log_(log),
      store_(store),
      log_id_(LogId(audit_path)),
      every_ms_(every_ms),
      last_checkpoint_ms_(NowMs()) {
  const audit::CheckpointInfo last = log_.LastCheckpoint();
  remembered_seq_ = last.seq;  // OpenAuditLog remembered the opening checkpoint
  remembered_hash_ = last.hash;
}

void AuditSealer::Tick() {
  std::string error;
  const std::int64_t now = NowMs();
  if (now - last_checkpoint_ms_ >= every_ms_) {
    last_checkpoint_ms_ = now;
    log_.Checkpoint().ok();  // nothing to do when the last entry has one; else next tick
  }
  const audit::CheckpointInfo last = log_.LastCheckpoint();
  if (last.seq == remembered_seq_ && last.hash == remembered_hash_) return;
  if (!Remember(store_, log_id_, log_.PublicKey(), last, &error)) return;  // next tick
  remembered_seq_ = last.seq;
  remembered_hash_ = last.hash;
}

void AuditSealer::Close() {
  log_.Close().ok();  // a broken log cannot be sealed; Tick remembers what is durable
  Tick();
}

}  // namespace dualkey::daemon::internal
