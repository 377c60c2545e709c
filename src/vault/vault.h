// The vault: where dualkey keeps what an approved destructive action destroys,
// and its own copies of important data. A content-addressed, deduplicating,
// append-only store with signed snapshots and a retention lock: nothing younger
// than its retention can be deleted through this API, and expired data goes
// only through Prune, which needs a human's TOTP code and is audited.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "core/action.h"
#include "install/layout.h"

namespace dualkey::vault {

// Who saved a snapshot and why: shown by `vault ls/show`, signed with it.
struct SnapshotMeta {
  std::string who;          // human or agent identity ("alice", "claude")
  std::string action;       // what was about to happen ("rm -rf /srv/data/uploads")
  std::string approval_id;  // the approval that allowed it, if any
  std::string
      kind;  // "files" | "pg_dump" | "sql_rows"; empty: files for paths, sql_rows for streams
  std::vector<std::string> tags;
};

struct SnapshotInfo {
  std::string id;
  std::int64_t created_ms = 0;
  std::int64_t retain_until_ms = 0;  // effective: never earlier than the vault's retention allows
  SnapshotMeta meta;
  std::vector<std::string> roots;  // the paths (or stream names) saved
  std::uint64_t files = 0;         // regular files and streams
  std::uint64_t bytes = 0;         // their total size
  std::uint64_t added_bytes =
      0;  // bytes this snapshot added to the vault (after dedup, compressed)
};

// One entry of a snapshot, for `vault show`.
struct EntryInfo {
  std::string path;
  std::string type;  // "file" | "dir" | "symlink" | "stream"
  std::uint32_t mode = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::string target;  // symlinks
};

// Progress of a long operation; `report` is called from a worker thread at
// most every `interval_ms` and once at the end.
struct ProgressState {
  std::uint64_t bytes_done = 0, bytes_total = 0;
  std::uint64_t files_done = 0, files_total = 0;
};
struct Progress {
  std::function<void(const ProgressState&)> report;
  int interval_ms = 100;
};

// A stream saved as one named entry (a pg_dump, COPY rows + DDL). `read` fills
// up to `capacity` bytes and returns how many, 0 at the end, -1 on error.
struct NamedStream {
  std::string name;
  std::function<std::int64_t(char* buffer, std::size_t capacity)> read;
};
NamedStream StreamFromFd(std::string name, int fd);  // does not close fd
NamedStream StreamFromString(std::string name, std::string data);

struct InitOptions {
  int retention_days = 30;
  std::uint32_t average_chunk = 1 << 20;  // content-defined chunking target (power of two)
  int compression_level = 1;              // zstd
  int normalization = 0;  // FastCDC normalized chunking level 0-2 (internal/chunker.h)
};

struct RestoreOptions {
  std::string to_dir;             // "": put files back where they were
  bool overwrite = false;         // replace files that exist (default: refuse)
  std::vector<std::string> only;  // restore only these paths (and what is under them)
  const Progress* progress = nullptr;
};

struct RestoreReport {
  std::uint64_t files = 0, bytes = 0;
  std::vector<std::string> problems;  // empty: every byte restored and checked
};

struct VerifyReport {
  bool ok = false;
  std::uint64_t snapshots = 0, packs = 0, chunks = 0, bytes = 0;
  std::vector<std::string> problems;  // damage found: "pack 3f.. offset 123: chunk hash mismatch"
  std::vector<std::string> notes;     // not damage: unreferenced packs left by an interrupted put
  // Snapshots that cannot be restored whole, each with why ("3 chunk(s)
  // missing or damaged, first in /srv/a"; "12 chunk(s) in packs no readable
  // index names: `vault gc` re-indexes them").
  std::vector<std::pair<std::string, std::string>> unrestorable;
};

struct GcOptions {
  bool dry_run = false;  // say what would change, change nothing
};

struct GcReport {
  std::vector<std::string> packs_removed;  // referenced by no snapshot
  std::uint64_t bytes_freed = 0;
  std::vector<std::string> packs_reindexed;  // snapshots need them; no readable index named them
  std::vector<std::string> index_replaced;   // index objects folded into one new one
};

struct PruneOptions {
  std::string approver;  // a human enrolled with `dualkey approver add`
  std::string totp;      // their current code
  std::string store;     // the approval store: SQLite path or postgresql://...
  bool dry_run = false;  // still needs the code: it shows what an approver could delete
};

struct PruneReport {
  std::vector<std::string> snapshots_removed;
  std::uint64_t packs_removed = 0, bytes_freed = 0;
  std::vector<std::string> kept_unexpired;  // snapshots still under retention
};

// One Vault object is for one thread at a time (open one per thread; opening
// is cheap). Several processes may use one vault: writers (puts, prune) take
// turns through a lock, and readers see every snapshot saved before.
//
// Errors are values (base/status.h). kIOError: a read or write of the vault
// failed (or what was read did not verify); the other codes are named where
// they can come back.
class Vault {
 public:
  // Opens an existing vault (read-only work needs no lock; puts take one).
  // kNotFound: there is no vault at `dir`; kCorruption: its configuration is
  // not a vault's.
  static Result<Vault> Open(const std::string& dir);
  // Creates a vault, or on an existing one extends its retention (never
  // shortens: kFailedPrecondition). kInvalidArgument: options out of range.
  static Status Init(const std::string& dir, const InitOptions& options);
  static Status Init(const std::string& dir, int retention_days);
  // Opens the vault, creating it with `retention_days` first when it cannot
  // be opened: what the daemon and the proxy do before their first save.
  static Result<Vault> OpenOrInit(const std::string& dir, int retention_days);

  Vault(Vault&&) noexcept;
  Vault& operator=(Vault&&) noexcept;
  ~Vault();

  // Saves files and trees (absolute paths kept, so a restore puts them back
  // where they were); durable before returning. Fails, saving nothing, when
  // a file cannot be read or keeps changing while it is read.
  Result<SnapshotInfo> PutPaths(const std::vector<std::string>& paths, const SnapshotMeta& meta,
                                const Progress* progress);
  // Saves streams as named entries of one snapshot; durable before returning.
  Result<SnapshotInfo> PutStreams(const std::vector<NamedStream>& streams,
                                  const SnapshotMeta& meta);

  // Snapshots, oldest first.
  Result<std::vector<SnapshotInfo>> List() const;
  // `id` may be a unique prefix or "latest". kNotFound: no snapshot matches
  // (or there is none yet); kInvalidArgument: the prefix is ambiguous. The
  // same for Restore and RestoreStream.
  Result<SnapshotInfo> Show(const std::string& id, std::vector<EntryInfo>* entries) const;
  // Restores files (to their original place or under to_dir); every chunk is
  // re-hashed on the way. Streams are written as files named after the stream.
  // kFailedPrecondition: something is in the way (a path exists without
  // --overwrite, a link or non-directory on a path); nothing was restored.
  // kInvalidArgument: streams without a to_dir.
  Result<RestoreReport> Restore(const std::string& id, const RestoreOptions& options) const;
  // Writes one stream entry of a snapshot to `fd` (for pg_restore/psql).
  Status RestoreStream(const std::string& id, const std::string& name, int fd) const;
  // Re-reads and re-hashes every chunk of every pack, checks every snapshot's
  // signature and that every chunk it needs is present and intact.
  VerifyReport Verify(const Progress* progress) const;
  // Deletes snapshots past their retention and the packs only they used.
  // Needs an approver's valid TOTP code (each code works once); audited. A
  // refused code comes back with the approval store's Status;
  // kUnavailable: the audit log or the approval store cannot be opened.
  Result<PruneReport> Prune(const PruneOptions& options);
  // Collects what no snapshot refers to (packs left by an interrupted put)
  // and re-indexes packs that snapshots need but no readable index names (a
  // damaged index object). Removes nothing a snapshot needs, and nothing at
  // all while a snapshot cannot be read (kFailedPrecondition); audited in the
  // vault's audit log.
  Result<GcReport> Gc(const GcOptions& options);

  int retention_days() const;
  const std::string& dir() const;

  struct Impl;  // internal/impl.h

 private:
  explicit Vault(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// $DUALKEY_VAULT, else <state dir>/vault (install::DefaultStateDir()).
std::string DefaultVaultDir();

// What an approved destructive action would destroy on this machine: the
// existing local paths among the targets of its destructive file-system
// actions (deletes, overwrites, truncations, shreds, moves' sources), globs
// expanded, block devices and temp files left out, nested paths folded into
// their parent. The daemon saves these with PutPaths before letting the
// command run, and keeps it held when the save fails.
std::vector<std::string> FileTargets(const std::vector<Action>& actions);

}  // namespace dualkey::vault
