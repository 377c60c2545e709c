// The audit log: every decision dualkey makes (request, verdict, approval,
// denial, expiry, breaker trip) appended to a hash-chained file that anyone
// can verify. Each record's hash covers the previous hash and the record's
// canonical JSON; periodic checkpoints are signed with Ed25519 (libsodium).
// The format is in docs/audit-format.md. Split like LevelDB's log:
// internal/format (record layout, canonical form, hashing), writer.cc (append,
// group commit), recovery.cc (Open: torn tail, foreign records), verify.cc
// (Verify, Read), keys.cc (the key file), command.cc (the CLI runner).
#pragma once

#include <atomic>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace dualkey::audit {

// What happened. `fields` is a JSON object text with the details
// (agent, channel, input, cwd, decision, reason, approval_id, approver...).
struct Record {
  std::string kind;    // "request", "verdict", "approval", "denial", "expiry", "breaker", ...
  std::string fields;  // canonical JSON object text, e.g. {"agent":"claude",...}
  // `fields` is already the canonical text of a JSON object (what
  // base::JsonDump makes of one): Append takes it as it is instead of parsing
  // and printing it again. Set only for such text: a record whose text is not
  // canonical would fail verification.
  bool canonical = false;
};

struct Entry {
  std::uint64_t seq = 0;
  std::int64_t time_ms = 0;  // wall clock, milliseconds since the epoch
  std::string kind;
  std::string fields;     // JSON object text
  std::string prev_hash;  // hex SHA-256 of the previous entry ("0"*64 for the first)
  std::string hash;       // hex SHA-256 over prev_hash and this entry's canonical form
  // 0 for an entry as written. n > 0: the nth decision of a "decisions"
  // entry (a batch the proxies and the gateway reported), given back by
  // Read and export as a "decision" entry of its own with the batch's
  // seq, hash and time (ReadableEntries).
  std::uint32_t item = 0;
};

// A "decisions" entry as the "decision" entries of its items, in order:
// each item's fields with the batch's "source", "peer" and "time_ms", and
// `item` numbering them from 1. Any other entry (or a batch not shaped as
// written) is appended as it is. `fields` must be canonical JSON text.
void AppendReadable(Entry entry, std::vector<Entry>* out);

// A signed checkpoint: the seq and hash of an entry and the log key's
// signature over them.
struct CheckpointInfo {
  std::uint64_t seq = 0;
  std::string hash;
  std::string sig;
  std::string event;  // "open", "close" or "" (periodic)
  std::int64_t time_ms = 0;
};

struct OpenOptions {
  std::string path;             // the log file (created 0600 if missing)
  std::string key_path;         // Ed25519 secret key file (created 0600 if missing)
  int checkpoint_every = 1000;  // entries between signed checkpoints
  // What an outside record (the daemon's store) says this log had reached:
  // a log that no longer contains this entry was deleted, replaced or
  // shortened, and Open records that before going on (see OpenReport).
  std::uint64_t expect_seq = 0;  // 0: nothing expected
  std::string expect_hash;
};

// What Open found at the end of an existing log and wrote about it. Open
// checks every record after the last signed checkpoint: records this key did
// not write (appended while the log was closed, or edited) are not sealed
// over; Open continues its own chain from its last own record and writes an
// "audit.foreign_records" entry naming them, which makes Verify fail. A log
// that lacks the expected entry gets an "audit.discontinuity" entry.
struct OpenReport {
  std::uint64_t foreign_records = 0;  // lines after the last own record that are not ours
  std::uint64_t first_foreign_seq = 0;
  std::uint64_t first_foreign_line = 0;
  std::string discontinuity;  // non-empty: what is missing, for people
  CheckpointInfo opened;      // the checkpoint Open signed
};

class Log {
 public:
  // Opens (or creates) the log, checks its tail is intact and resumes the
  // chain. kUnavailable: another process has it open; kPermissionDenied: the
  // key file is readable by others; kFailedPrecondition: the log was created
  // with another key; kCorruption: a bad header or key file; kIOError.
  static Result<std::unique_ptr<Log>> Open(const OpenOptions& options,
                                           OpenReport* report = nullptr);
  // Closing seals the log with a signed "close" checkpoint: anything found
  // after it that is not ours was written by someone else.
  virtual ~Log() = default;

  // How far a record has gone when Append returns.
  enum class Durability {
    kSynced,   // fdatasync'ed: survives a crash of the machine
    kWritten,  // written to the file: survives a crash or kill -9 of dualkey;
               // synced with the next kSynced append or within 100 ms
  };

  // Appends and, by default, makes it durable (fsync) before returning;
  // concurrent callers share one fsync (group commit). Thread-safe. Returns
  // the seq (from 1), or why the record could not be written:
  // kInvalidArgument (fields not a JSON object), kFailedPrecondition (the log
  // is closed), kUnavailable (a write failed under 100 ms ago), kIOError.
  // A failed write (a full disk) is undone: the partial bytes are cut off,
  // the records that went with it fail, and the chain goes on from the last
  // written record, so that once the disk has room appends succeed again
  // (within 100 ms; until then they fail at once). A failed fdatasync breaks
  // the log for good: the kernel may have dropped written pages.
  virtual Result<std::uint64_t> Append(const Record& record,
                                       Durability durability = Durability::kSynced) = 0;
  // Appends `records` in order as one Append each would, with one write (and
  // for kSynced one sync) for all of them: a batch costs about what one
  // record costs. `appended` (may be null) receives how many were appended,
  // a prefix: fewer than all, with the Status saying why, when a record is
  // not a JSON object or the write failed (the lost records are cut off as
  // Append's are).
  virtual Status AppendAll(const std::vector<Record>& records, std::size_t* appended,
                           Durability durability = Durability::kSynced) = 0;

  // Writes a signed checkpoint for the last entry unless one follows it
  // already; durable before returning.
  virtual Status Checkpoint() = 0;
  // Seals the log with a "close" checkpoint; later appends fail. The
  // destructor does it when it was not done.
  virtual Status Close() = 0;
  // The newest checkpoint that is durable in the file (seq 0 and empty hash
  // for a log without entries that was never sealed).
  virtual CheckpointInfo LastCheckpoint() const = 0;

  // The hex Ed25519 public key that verifies this log's checkpoints.
  virtual std::string PublicKey() const = 0;
};

// The hex public key of an audit key file (what `dualkey audit pubkey` prints
// and `audit verify --pubkey` expects); kNotFound when there is no key file.
Result<std::string> PublicKeyOfKeyFile(const std::string& key_path);

// A detached Ed25519 signature made with the audit key, for documents the
// daemon vouches for (a `dualkey drill` certificate). Callers put a
// domain-separating prefix in `message`, so a signature over one kind of
// document can never pass for a checkpoint or another kind. Reads the key
// file and never creates it (kNotFound when there is none).
struct DetachedSignature {
  std::string public_key;  // hex
  std::string signature;   // hex
};
Result<DetachedSignature> SignWithKeyFile(const std::string& key_path, std::string_view message);
// Whether `signature_hex` is `public_key_hex`'s signature over `message`.
bool VerifyDetached(std::string_view public_key_hex, std::string_view message,
                    std::string_view signature_hex);

struct VerifyReport {
  bool ok = false;
  std::uint64_t entries = 0;
  // The entries as Read (tail, export, search) gives them back: each item
  // of a "decisions" entry (a batch of decisions a proxy or the gateway
  // reported) is a record of its own.
  std::uint64_t records = 0;
  std::uint64_t checkpoints = 0;
  // First problem found, human readable: "line 12: hash mismatch (record edited)",
  // "line 40: seq 39 follows 37 (records removed)", "checkpoint at seq 2000: bad signature"...
  std::vector<std::string> problems;
  // The line of the first problem (0: none, or one about the whole file);
  // the header is line 1, so the entries start at line 2.
  std::uint64_t first_problem_line = 0;
  std::uint64_t first_problem_seq = 0;  // the seq that line names (0: none)
  // Additive details for auditors:
  bool unreadable = false;     // the file could not be opened or read at all
  std::uint64_t last_seq = 0;  // the last entry in the file ("last entry is seq N")
  std::string last_hash;       // its hash: compare with an external copy to detect truncation
  std::uint64_t last_checkpoint_seq = 0;  // the last signed checkpoint (0: none)
  std::string public_key;                 // the key signatures were checked with (hex)
  bool key_pinned = false;                // the key was given, not read from the header
  // Records not written by dualkey: found after a signed "close" checkpoint,
  // or named by the daemon in an "audit.foreign_records" entry when it started.
  std::uint64_t foreign_records = 0;
  std::uint64_t first_foreign_seq = 0;
  std::uint64_t first_foreign_line = 0;
  // Not tampering, but worth knowing: a torn final line from a crash, entries
  // after the last checkpoint (unsigned yet).
  std::vector<std::string> notes;
};

// Re-reads the whole file. `public_key` (hex) checks checkpoint signatures;
// empty: use the key recorded in the log's header.
VerifyReport Verify(const std::string& path, std::string_view public_key = {});

// Entries with time_ms >= since_ms (0: all), in order, a "decisions" entry
// as its items (AppendReadable); for tail/export. A torn final line is
// skipped. kNotFound when there is no file, kIOError.
Result<std::vector<Entry>> Read(const std::string& path, std::int64_t since_ms);

// `dualkey audit verify|tail|export`: the CLI logic. `since_ms` filters export
// (0: all), `tail_lines` is how many entries tail prints (<= 0: 20), `json`
// makes verify and tail print JSON (export always prints JSON lines).
// Returns the exit status: verify 0 intact, 1 tampered, 2 unreadable; tail and
// export 0 or 2 (unreadable / unknown action).
int RunAuditCommand(const std::string& action, const std::string& path, std::int64_t since_ms,
                    int tail_lines, bool json, std::ostream& out, std::ostream& err);
// The same; `public_key` (hex) pins the signer for verify.
int RunAuditCommand(const std::string& action, const std::string& path, std::int64_t since_ms,
                    int tail_lines, bool json, std::string_view public_key, std::ostream& out,
                    std::ostream& err);

// `dualkey audit export [--follow] [--format json|syslog]`: entries with
// time_ms >= since_ms as JSON lines (seq, time_ms, kind, fields, prev, hash)
// or RFC 5424 syslog lines (facility "log audit" (13), MSGID the kind,
// structured data [dualkey@32473 seq= hash=], the fields as the message).
// With `follow` it then waits for new entries, as `tail -F` does: across a
// daemon restart, and from the start of a file that was replaced. Returns
// when `stop` becomes true (checked every poll) or the output fails;
// the exit status is 0, or 2 when the log cannot be read at all.
struct ExportOptions {
  std::int64_t since_ms = 0;
  bool follow = false;
  enum class Format { kJson, kSyslog };
  Format format = Format::kJson;
  std::string hostname;  // syslog HOSTNAME; empty: gethostname()
  int poll_ms = 200;
  const std::atomic<bool>* stop = nullptr;
};
int Export(const std::string& path, const ExportOptions& options, std::ostream& out,
           std::ostream& err);
// One entry as an RFC 5424 line (no newline).
std::string SyslogLine(const Entry& entry, const std::string& hostname);

}  // namespace dualkey::audit
