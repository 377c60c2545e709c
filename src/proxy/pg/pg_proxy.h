// `dualkey pg-proxy`: a PostgreSQL wire-protocol proxy that owns the real
// database credentials. Agents log in with a scoped dualkey token; every
// statement is classified before it is forwarded, destructive ones wait for
// a human, and what an approved one destroys is snapshotted first.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dualkey::pgproxy {

// Where the real database is: postgresql://USER@HOST:PORT[/DB][?sslmode=...].
struct Upstream {
  std::string user;
  std::string host = "127.0.0.1";
  int port = 5432;
  std::string database;            // empty: the database the client asks for
  std::string sslmode = "prefer";  // disable | prefer | require | verify-full
  std::string sslrootcert;         // verify-full: CA file (default: system store)
  std::string password;            // from --upstream-password-file or PGPASSWORD
};

std::optional<Upstream> ParseUpstreamUri(std::string_view uri, std::string* error);

struct Options {
  std::string listen = "127.0.0.1:6432";
  Upstream upstream;
  std::string tls_cert;  // client leg TLS; both or neither
  std::string tls_key;
  std::string socket;     // the daemon's socket
  std::string state_dir;  // tokens and snapshots
  std::string vault_dir;  // snapshots go here ("" = $DUALKEY_VAULT, else state_dir/vault)
  bool snapshots_in_state_dir = false;  // the interim sink instead of the vault
  // Blast radius: hold a bounded DELETE/UPDATE above either threshold
  // (the fraction counts once the estimate reaches 100 rows). 0 disables.
  std::int64_t hold_rows_over = 1000;
  double hold_fraction_over = 0.10;
  // Count exactly (count(*)) when the table holds fewer rows than this.
  std::int64_t exact_count_under = 100000;
  int threads = 1;  // the coroutines' threads: logins and what must wait
  // Every session runs its data phase on the fast path's epoll threads
  // (this many; 0: one per 4 cores, 1 to 4), dropping to the coroutines
  // only for what must wait; no_fast_path keeps every session on the
  // coroutines (for comparison and debugging).
  int fast_path_threads = 0;
  bool no_fast_path = false;
  std::size_t max_statement_bytes = 16 << 20;  // Query/Parse larger than this close the session
  // A client that has not logged in (startup packet and SCRAM) this long
  // after connecting is closed: unauthenticated sockets cost descriptors and
  // memory, and a flood of them must not keep real agents out.
  int auth_timeout_seconds = 5;
  // After the login, the database has this long to accept the session.
  int connect_timeout_seconds = 15;
  // Open client connections, in all and from one address. At a limit, the
  // oldest connection that has not logged in yet makes room; when every one
  // has, the newcomer is refused (SQLSTATE 53300). Capped further by the
  // process's descriptor limit (two per session).
  std::size_t max_clients = 1000;
  std::size_t max_clients_per_address = 500;
  std::string pg_dump;  // default: next to the server binaries, else PATH
  bool quiet = false;
};

// Runs until SIGINT/SIGTERM; prints "dualkey pg-proxy: listening on A -> B"
// when ready. Returns the exit status.
int Run(const Options& options);

// --- Pre-destruction snapshots -------------------------------------------
// What an approved destructive statement is about to destroy.
struct SnapshotRequest {
  std::string kind;  // "drop-table" | "truncate" | "delete" | "update" | "drop-database"
  std::string database;
  std::string statement;
  std::string agent;
  std::string approval_id;
  std::vector<std::string> objects;  // qualified table names, or the database
};

// One snapshot being written: named parts streamed in chunks.
class SnapshotWriter {
 public:
  virtual ~SnapshotWriter() = default;
  virtual bool Append(const std::string& part, std::string_view bytes, std::string* error) = 0;
  // Makes the snapshot durable; returns its id.
  virtual std::optional<std::string> Commit(std::string* error) = 0;
  // Throws away a partial snapshot (also done by destruction without Commit).
  virtual void Abort() = 0;
};

// Where snapshots go. The state-directory sink is the interim home; the vault
// implements this interface later.
class SnapshotSink {
 public:
  virtual ~SnapshotSink() = default;
  virtual std::unique_ptr<SnapshotWriter> Begin(const SnapshotRequest& request,
                                                std::string* error) = 0;
};

// <state_dir>/snapshots/<id>/{ddl.sql, rows.copy, ..., meta.json}, fsync'd.
std::unique_ptr<SnapshotSink> MakeStateDirSink(std::string state_dir);

// The vault (the default): one snapshot per statement, whose stream replays
// with `dualkey vault restore SNAP --db URI`; parts are spooled in
// `spool_dir` (0700) until the commit.
std::unique_ptr<SnapshotSink> MakeVaultSink(std::string vault_dir, std::string spool_dir);

}  // namespace dualkey::pgproxy
