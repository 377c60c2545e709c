// One proxied session and the state all sessions share. The session's
// methods live in files by role:
//   listener.cc         the process: listening socket, accept loop, Run()
//   session.cc          a session's life: admission, the data phase on the
//                       pump or on coroutines, the hand-overs both ways
//   internal/pump.cc    the fast path (a few epoll threads, every session)
//   internal/tls.cc     TLS over memory BIOs, for the pump and coroutines
//   handshake.cc        startup packet, TLS, SCRAM against the token, the
//                       upstream connection, cancel requests
//   client_side.cc      client -> server: framing, statements decided, held
//                       ones replaced
//   server_side.cc      server -> client: answers to the proxy's own queries
//                       and to held statements taken out
//   upstream_uri.cc     the upstream URI and HOST:PORT
//   decide.cc           the verdict of each statement: caches, the daemon,
//                       blast-radius estimates, holds
//   session_facts.cc    catalog facts and small snapshots, checked on the
//                       session's own connection (own queries)
//   session_snapshot.cc what an approved statement destroys, saved first
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/admission.h"
#include "base/json_text.h"
#include "client/client.h"
#include "client/reporter.h"
#include "core/action.h"
#include "policy/policy.h"
#include "proxy/pg/internal/leg.h"
#include "proxy/pg/internal/own_query.h"
#include "proxy/pg/internal/pump.h"
#include "proxy/pg/internal/scram.h"
#include "proxy/pg/internal/upstream.h"
#include "proxy/pg/pg_proxy.h"
#include "sql/shape.h"
#include "sql/sql.h"
#include "token/token.h"

namespace dualkey::pgproxy {

using nlohmann::json;

inline constexpr const char* kHeldCode = "DKH01";
inline constexpr const char* kDeniedCode = "DKH02";
inline constexpr std::size_t kReadChunk = 64 * 1024;
inline constexpr std::size_t kMaxServerCarry = 1 << 20;

// Cancel keys handed to clients -> the upstream backend to cancel.
struct CancelTarget {
  std::int32_t pid = 0;
  std::int32_t key = 0;
};

class Session;

struct Shared {
  Options options;
  policy::Policy policy;
  std::mutex tokens_mutex;
  token::Store tokens;
  std::unique_ptr<SnapshotSink> sink;
  std::mutex sink_mutex;
  std::mutex cancel_mutex;
  std::map<std::pair<std::int32_t, std::int32_t>, CancelTarget> cancels;
  std::mutex sessions_mutex;
  std::set<std::shared_ptr<Session>> sessions;
  std::unique_ptr<asio::ssl::context> client_tls;
  asio::ssl::context upstream_tls{asio::ssl::context::tls_client};
  std::unique_ptr<Pump> pump;  // the fast path for plain sessions; null: coroutines only
  asio::thread_pool blocking{2};
  std::mutex log_mutex;
  std::string log_path;
  std::atomic<std::uint64_t> next_session{1};

  // The daemon, found and checked the one way every client does.
  const client::Client daemon;
  // Every decision made here without asking the daemon goes to its audit log.
  std::unique_ptr<client::DecisionReporter> reporter;

  // Client connections in all and per address; one that has not logged in
  // yet is "idle" there, and the oldest such makes room at a limit.
  std::unique_ptr<base::Admission> admission;

  // Keys the mock salts of unknown user names (AuthenticateClient).
  std::string mock_salt_key = scram::RandomBytes(32);

  explicit Shared(const Options& o)
      : options(o),
        tokens(o.state_dir),
        daemon(client::Client::ForThisProcess(client::ClientOptions{o.socket, 5000})) {}

  void Log(const json& event) {
    std::lock_guard lock(log_mutex);
    std::ofstream out(log_path, std::ios::app);
    out << base::JsonDump(event) << "\n";
  }
  void Say(const std::string& line) {
    if (!options.quiet) std::cerr << "dualkey pg-proxy: " << line << "\n";
  }
};

// Runs `fn` on the blocking pool; co_await resumes on the caller's executor.
// (No coroutine wrapper: GCC 12 destroys class-type coroutine parameters twice.)
template <class F>
auto OnPool(Shared& shared, F fn) {
  using R = std::invoke_result_t<F&>;
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(R)>(
      [&shared](auto handler, F work) {
        asio::post(
            shared.blocking, [handler = std::move(handler), work = std::move(work)]() mutable {
              R result = work();
              auto executor = asio::get_associated_executor(handler);
              asio::dispatch(executor,
                             [handler = std::move(handler), result = std::move(result)]() mutable {
                               std::move(handler)(std::move(result));
                             });
            });
      },
      asio::use_awaitable, std::move(fn));
}

// An allowed verdict whose every action only reads (decide.cc).
bool OnlyReads(const Verdict& verdict);
// 1234567 as "1,234,567", for the reasons a session gives (decide.cc).
std::string Thousands(std::int64_t n);

// The outcome of looking at a held statement's facts (session_facts.cc).
struct FactOutcome {
  enum class Kind {
    kNone,              // no fact lets it run: a human decides (detail says why, if known)
    kNothingDestroyed,  // the catalog says it destroys nothing (fact)
    kSnapshot,          // what it destroys is small and saved (snapshot_id)
  } kind = Kind::kNone;
  std::string fact;         // "table public.t is empty", "public.x does not exist"
  std::string snapshot_id;  // kSnapshot
  std::string measured;     // kSnapshot: "3 rows, 96 bytes of public.knex_lock"
  std::string detail;       // kNone: for the human, e.g. why no snapshot stood in
};

class Session : public std::enable_shared_from_this<Session>, public PumpSession {
 public:
  Session(Shared& shared, tcp::socket socket, std::string address)
      : shared_(shared),
        strand_(socket.get_executor()),
        client_(std::move(socket)),
        deadline_(strand_),
        address_(std::move(address)),
        id_(shared.next_session++) {}

  const asio::any_io_executor& executor() const { return strand_; }
  const std::string& address() const { return address_; }
  // Its place under the connection limits (Accept fills it).
  std::unique_ptr<base::Admission::Slot> slot;

  // Made room for a newcomer at a connection limit (on the session's strand).
  void Evict(const std::string& why);

  // A connection over a limit: told why, then closed. (The reason is a
  // member: GCC 12 destroys class-type coroutine parameters twice.)
  std::string refusal;
  Task<void> Refuse();

  Task<void> Run();
  // Both directions on coroutines: sessions the pump handed back (and all
  // of them under --no-fast-path).
  Task<void> DataPhase();

  // --- the pump (fast path) -------------------------------------------------
  // The sockets leave asio for one of the pump's epoll threads; nothing of asio's is
  // pending on them after the handshake.
  bool EnterPump(const PumpHandBack& state = {}, std::string client_bytes = {});
  bool ForwardsNow(std::string_view sql, const std::vector<std::int32_t>* parameter_types) override;
  void Resume(PumpSide client, PumpSide upstream, std::string client_bytes,
              const PumpHandBack& state) override;
  void Finished(const std::string& why) override;
  void Close();

 private:
  // --- startup and authentication (handshake.cc) ------------------------------
  // Closes the session in `seconds` unless it has started (logged in and
  // connected) by then; `why` goes to the log.
  void ArmDeadline(int seconds, std::string why);
  // The client logged in: it no longer makes room for newcomers. False when
  // it was already chosen to (the session then ends).
  bool MarkAuthenticated();
  Task<std::string> ReadStartupPacket();
  Task<void> Fatal(const std::string& code, const std::string& message);
  Task<bool> Handshake();
  Task<bool> AuthenticateClient();
  // For a user name without a token: the same salt for the same name every
  // time (as PostgreSQL does), keys no password yields, no PBKDF2.
  token::ScramVerifier MockVerifier(const std::string& name) const;
  Task<void> ForwardCancel(std::int32_t pid, std::int32_t key);

  // --- deciding (decide.cc) ---------------------------------------------------
  struct Outcome {
    bool forward = true;
    std::string raise_sql;  // when held: the DO block that raises the error
    bool approved = false;  // by a human, once
    bool by_fact = false;   // by a catalog fact or a small snapshot, for this execution only
  };
  client::ActionRef ActionOf(std::string_view sql) const;
  client::CheckRequest CheckRequest(std::string_view sql, const std::string& detail) const;
  client::ConsumeRequest ConsumeRequest(std::string_view sql, const std::string& snapshot_id) const;
  client::CheckRequest AllowedRequest(std::string_view sql, const FactOutcome& facts) const;
  // One request to the daemon on the blocking pool: its reply, or why there
  // is none. Not a coroutine (the lambda is built here, not as a temporary
  // inside a co_await, which GCC 12 miscompiles).
  using DaemonAnswer = std::pair<std::optional<client::CheckReply>, std::string>;
  auto AskDaemon(client::CheckRequest request) {
    auto ask = [client = shared_.daemon, request = std::move(request)] {
      return Answer(client.Check(request));
    };
    return OnPool(shared_, std::move(ask));
  }
  auto ConsumeOnDaemon(client::ConsumeRequest request) {
    auto ask = [client = shared_.daemon, request = std::move(request)] {
      return Answer(client.Consume(request));
    };
    return OnPool(shared_, std::move(ask));
  }
  static DaemonAnswer Answer(const Result<client::CheckReply>& reply) {
    if (reply.ok()) return DaemonAnswer(*reply, std::string());
    return DaemonAnswer(std::nullopt, reply.status().message());
  }
  void LogEvent(const std::string& event, const std::string& statement, const std::string& key,
                const std::string& value, const std::string& approval_id);
  Outcome Hold(const char* code, const std::string& message, const std::string& hint);
  // Reports a decision made here (not by the daemon) for the audit log.
  // False when a destructive one cannot be recorded: the caller holds it.
  Outcome AllowedHere(std::string_view sql, const Verdict& verdict);
  bool ReportLocal(std::string_view sql, const Verdict& verdict, Decision decision, bool forwarded,
                   std::int64_t added_us, const std::string& reason = "");
  Outcome HeldByDaemon(const client::CheckReply& reply, const std::string& fallback_reason);
  bool BlastRadiusOn() const;
  // The verdict of a statement: from the caches (the exact text, or a plain
  // SELECT's shape: "... WHERE aid = 7" and "... aid = 48211" share one), or
  // classified now and cached. Valid until the next call.
  const Verdict& Classify(std::string_view sql);
  // Decide for a statement ForwardsNow did not let through.
  Task<Outcome> Decide(std::string_view sql, const std::vector<std::int32_t>* parameter_types);
  // A statement that is not UTF-8 was read as Latin-1 (sql_text.h): its
  // ASCII names are what the server sees, the rest may not be. What it
  // destroys is saved whole, and one naming a table with other bytes cannot
  // be saved at all (`error`).
  static void ShapesOfBytes(std::vector<sql::StatementShape>* shapes, std::string* error);
  SideConnection& Side();
  static std::optional<std::int64_t> Number(const SideConnection::Result& r);
  // Rows a DELETE/UPDATE touches: the planner's estimate, or an exact count
  // where the table is small. Any failure counts as over the threshold (fail
  // closed) with the reason in the detail.
  Task<void> EstimateRows(const sql::StatementShape& shape,
                          const std::vector<std::int32_t>* parameter_types, std::string* detail,
                          bool* over);
  // PREPARE name AS ... seen on this session: EXECUTE name is judged by it.
  void RememberPrepared(std::string_view sql);
  std::string WithPrepared(std::string_view sql) const;

  // --- facts and small snapshots (session_facts.cc) ---------------------------
  // Whether the server has answered everything sent so far (so a query of
  // the proxy's own can run on the session's connection now); waits for
  // outstanding answers up to a deadline.
  Task<bool> WaitIdle(std::string* why);
  // Runs `sql` (one simple-query message) on the session's connection; the
  // answers go to `query`, not the client. False (and `why`) when it
  // could not run; the session is closed when its state is unknown after.
  Task<bool> RunOwnQuery(const std::string& sql, OwnQuery* query, std::string* why);
  // Checks wrapped so that they change nothing (facts.h); the answers from
  // the first check on. False with `why` when they failed.
  Task<bool> RunChecks(const std::vector<std::string>& checks, OwnQuery* query, std::size_t* first,
                       std::string* why);
  Task<FactOutcome> EstablishFacts(std::string_view sql, const Verdict& verdict);

  // --- snapshots of approved statements (session_snapshot.cc) -----------------
  Task<std::optional<std::string>> Snapshot(const std::vector<sql::StatementShape>& shapes,
                                            const std::string& statement,
                                            const std::string& approval_id, std::string* error);
  // pg_dump with the real credentials in the child's environment only.
  Task<bool> PgDump(const std::vector<std::string>& args, const std::string& database,
                    const std::string& part, SnapshotWriter& writer, std::string* error);

  // --- client -> server / server -> client (client_side.cc, server_side.cc) ---
  struct StatementState {
    std::string text;  // for re-checking an approved one
    int binds = 0;
    bool by_fact = false;     // allowed by a fact: valid for a Bind of the same batch only
    std::uint64_t batch = 0;  // the batch (Sync count) it was decided in
  };
  Task<void> ClientToServer();
  // Whether the session may go back to the pump now, between two client
  // messages: nothing the pump does not follow is in flight (approved
  // statements to watch, injected holds to answer, a query of the proxy's
  // own, a client message begun).
  bool MayReturnToPump(const wire::Framer& framer) const;
  // Stops the server->client side at a message boundary and hands the
  // session to the pump with `to_pump_bytes_`. False (the coroutines go on)
  // when the server's side did not come to a stop soon.
  Task<bool> ReturnToPump();
  // In place of a held Parse: an unnamed statement that raises the error at
  // Execute. PostgreSQL then skips the client's messages up to Sync itself;
  // the server->client side drops the ParseComplete/BindComplete it answers
  // to these, so the client sees just the ErrorResponse.
  std::string HeldExtended(const std::string& raise_sql);
  Task<void> SendFatalToClient(const std::string& code, const std::string& message);
  Task<void> ServerToClient();
  // Spawns ServerToClient in a new data phase (DataPhase, ReturnToPump).
  void StartServerToClient();
  // Counts a client message on its way to the server: Query and Sync each
  // get one ReadyForQuery; extended-protocol messages before a Sync leave
  // the server mid-batch.
  void Sent(char type);
  // The server's end of the session went quiet: wake whoever waits for it.
  void NotifyIdle();

  Shared& shared_;
  asio::any_io_executor strand_;
  Leg client_;
  asio::steady_timer deadline_;  // --auth-timeout, then the database's connect timeout
  std::string address_;
  std::unique_ptr<Leg> upstream_;
  std::unique_ptr<SideConnection> side_;
  std::uint64_t id_;
  std::string agent_;
  std::string database_;
  std::string cwd_;
  int server_version_ = 0;
  sql::DecisionCache cache_{1024};
  sql::DecisionCache shape_cache_{256};  // ReadShapeKey -> allowed verdicts that only read
  Verdict uncached_;                     // Classify's answer when the caches refuse it
  asio::generic::stream_protocol client_protocol_{AF_INET, IPPROTO_TCP};
  asio::generic::stream_protocol upstream_protocol_{AF_INET, IPPROTO_TCP};
  std::string resume_bytes_;        // client bytes the pump read but did not forward
  std::string to_pump_bytes_;       // client bytes read here, for the pump (ReturnToPump)
  bool in_pump_ = false;            // the pump has the sockets
  bool leaving_for_pump_ = false;   // ServerToClient: stop at the next boundary
  std::uint64_t data_phase_ = 0;    // DataPhase runs so far
  std::uint64_t parked_phase_ = 0;  // the phase whose ServerToClient stopped for the pump
  asio::steady_timer* park_waiter_ = nullptr;  // cancelled when ServerToClient stops
  struct TableSize {
    std::int64_t reltuples = -1;
    std::int64_t pages = 0;
    std::int64_t counted = -1;  // count(*), for tables under --exact-count-under
    std::chrono::steady_clock::time_point measured{};
  };
  static constexpr std::chrono::seconds kTableSizeTtl{1};
  std::map<std::string, TableSize> table_sizes_;  // for blast-radius estimates
  std::map<std::string, StatementState> approved_;
  std::map<std::string, std::string> prepared_;  // PREPARE name -> its statement
  int pending_injections_ = 0;
  char transaction_status_ = 'I';
  bool server_mid_message_ = false;
  // ReadyForQuery messages the server still owes (Query and Sync sent).
  int syncs_outstanding_ = 0;
  // Extended-protocol messages sent since the last Sync.
  bool unsynced_extended_ = false;
  std::uint64_t batch_ = 0;                    // Syncs sent so far
  OwnQuery* own_query_ = nullptr;              // the server's answers go here while set
  bool bind_of_unnamed_ = false;               // deciding a Bind of the unnamed statement
  asio::steady_timer* idle_waiter_ = nullptr;  // cancelled when the server goes quiet
  bool started_ = false;
  bool closed_ = false;
  // ForwardsNow allowed a destructive statement whose decision could not be
  // queued for the audit log (the daemon away, the queue full): Decide holds it.
  bool audit_refused_ = false;
  bool terminated_ = false;
  bool cancel_key_registered_ = false;
  std::int32_t public_pid_ = 0;
  std::int32_t public_key_ = 0;
};

}  // namespace dualkey::pgproxy
