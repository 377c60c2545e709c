// The proxy: accepts agents, authenticates them by token, connects upstream
// with the real credentials, and runs each session as two coroutines on a
// strand: client->server (framed, Query/Parse classified, original bytes
// forwarded) and server->client (headers walked, whole buffers forwarded).
//
// Held statements are never forwarded. In their place the proxy sends a DO
// block that raises SQLSTATE DKH01 with the approval message, so PostgreSQL
// itself produces the error and the transaction state (aborted inside
// BEGIN, untouched outside) exactly as it would for a failing statement.
#include <fcntl.h>
#include <malloc.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "base/admission.h"
#include "base/json_text.h"
#include "daemon/client.h"
#include "daemon/daemon.h"
#include "guard/guard.h"
#include "policy/policy.h"
#include "proxy/pg/internal/leg.h"
#include "proxy/pg/internal/pump.h"
#include "proxy/pg/internal/scram.h"
#include "proxy/pg/internal/sql_text.h"
#include "proxy/pg/internal/statement.h"
#include "proxy/pg/internal/upstream.h"
#include "proxy/pg/pg_proxy.h"
#include "sql/sql.h"
#include "token/token.h"

extern char** environ;

namespace dualkey::pgproxy {
namespace {

using nlohmann::json;

constexpr const char* kHeldCode = "DKH01";
constexpr const char* kDeniedCode = "DKH02";
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kMaxServerCarry = 1 << 20;

std::string Thousands(std::int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return n < 0 ? "-" + out : out;
}

// A literal safe inside a PL/pgSQL string whatever standard_conforming_strings
// and client_encoding say: no backslashes, quotes doubled, no control
// characters, no '$', and ASCII only (the DO block is read in the client's
// encoding; a non-ASCII character could be invalid there and turn the held
// statement's error into another). Each non-ASCII character becomes '?'.
std::string PlainLiteral(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\'') {
      out += "''";
    } else if (c == '\\') {
      out.push_back('/');
    } else if (c == '$') {
      out.push_back('S');
    } else if (u < 0x20 || u == 0x7f) {
      out.push_back(' ');
    } else if (u >= 0x80) {
      if (u >= 0xC0 || (u < 0xC0 && out.back() != '?')) out.push_back('?');
    } else {
      out.push_back(c);
    }
    if (out.size() > 4000) break;
  }
  return out + "'";
}

// Text from a client for our log lines: valid UTF-8, no control characters.
std::string Printable(std::string_view text) {
  std::string out = base::ToValidUtf8(text.substr(0, 200));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

std::string RaiseSql(const char* code, std::string_view message, std::string_view hint) {
  return "DO $dualkey$BEGIN RAISE EXCEPTION USING ERRCODE = '" + std::string(code) +
         "', MESSAGE = " + PlainLiteral(message) + ", HINT = " + PlainLiteral(hint) +
         "; END$dualkey$";
}

bool HasClass(const Verdict& verdict, std::string_view op_class) {
  for (const Action& a : verdict.actions)
    if (a.op_class == op_class) return true;
  return false;
}

// An allowed verdict that only reads: what a plain SELECT's shape may share.
bool OnlyReads(const Verdict& verdict) {
  if (verdict.Enforced() != Decision::kAllow) return false;
  for (const Action& a : verdict.actions)
    if (a.op_class != "read.only") return false;
  return true;
}

std::string FindPgDump(const std::string& configured) {
  if (!configured.empty()) return configured;
  for (int version = 20; version >= 10; --version) {
    const std::string path = "/usr/lib/postgresql/" + std::to_string(version) + "/bin/pg_dump";
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return "pg_dump";
}

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
  const daemon::Client daemon;

  // Client connections in all and per address; one that has not logged in
  // yet is "idle" there, and the oldest such makes room at a limit.
  std::unique_ptr<base::Admission> admission;

  // Keys the mock salts of unknown user names (AuthenticateClient).
  std::string mock_salt_key = scram::RandomBytes(32);

  explicit Shared(const Options& o)
      : options(o),
        tokens(o.state_dir),
        daemon(daemon::Client::ForThisProcess(daemon::ClientOptions{o.socket, 5000})) {}

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
  void Evict(const std::string& why) {
    if (closed_ || started_) return;
    shared_.Say("session " + std::to_string(id_) + " from " + address_ +
                ": not logged in yet; closed to make room (" + why + ")");
    Close();
  }

  // A connection over a limit: told why, then closed. (The reason is a
  // member: GCC 12 destroys class-type coroutine parameters twice.)
  std::string refusal;
  Task<void> Refuse() {
    auto self = shared_from_this();
    co_await Fatal("53300", "sorry, too many clients already: " + refusal);
    Close();
  }

  Task<void> Run() {
    auto self = shared_from_this();
    // Until the client has logged in: --auth-timeout. Then the database has
    // connect_timeout_seconds to take the session.
    ArmDeadline(
        shared_.options.auth_timeout_seconds,
        "did not log in within " + std::to_string(shared_.options.auth_timeout_seconds) + " s");
    bool ready = false;
    try {
      ready = co_await Handshake();
    } catch (const std::exception& e) {
      if (!closed_) shared_.Say("session " + std::to_string(id_) + ": " + e.what());
    }
    started_ = true;
    deadline_.cancel();
    if (!ready) {
      Close();
      co_return;
    }
    if (shared_.pump != nullptr && !client_.tls() && !upstream_->tls() && EnterPump()) co_return;
    co_await DataPhase();
  }

  // Both directions on coroutines: TLS sessions, and sessions the pump
  // handed back.
  Task<void> DataPhase() {
    auto self = shared_from_this();
    asio::co_spawn(strand_, ServerToClient(), [self](std::exception_ptr) { self->Close(); });
    try {
      co_await ClientToServer();
    } catch (const std::exception& e) {
      if (!closed_ && !terminated_)
        shared_.Say("session " + std::to_string(id_) + " (" + agent_ + "): " + e.what());
    }
    Close();
  }

  // --- the pump (fast path) -------------------------------------------------
  // The sockets leave asio for the pump's epoll thread; nothing of asio's is
  // pending on them after the handshake.
  bool EnterPump() {
    asio::error_code ec;
    client_protocol_ = client_.socket().local_endpoint(ec).protocol();
    if (!ec) upstream_protocol_ = upstream_->socket().local_endpoint(ec).protocol();
    if (ec) return false;
    const int client_fd = client_.socket().release(ec);
    if (ec) return false;
    const int upstream_fd = upstream_->socket().release(ec);
    if (ec) {
      client_.socket().assign(client_protocol_, client_fd, ec);
      return false;
    }
    for (int fd : {client_fd, upstream_fd}) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    shared_.pump->Add(shared_from_this(), client_fd, upstream_fd);
    return true;
  }

  bool ForwardsNow(std::string_view sql,
                   const std::vector<std::int32_t>* /*parameter_types*/) override {
    if (HasEncodingDependentEscape(sql)) return false;
    std::string storage;
    const std::string_view text = SqlForClassification(sql, &storage);
    const Verdict& verdict = Classify(text);
    return verdict.Enforced() == Decision::kAllow &&
           !(BlastRadiusOn() && HasClass(verdict, "db.write.bounded"));
  }

  void Resume(int client_fd, int upstream_fd, std::string client_bytes,
              char transaction_status) override {
    auto self = shared_from_this();
    asio::post(strand_, [self, client_fd, upstream_fd, bytes = std::move(client_bytes),
                         transaction_status]() mutable {
      asio::error_code ec;
      self->client_.socket().assign(self->client_protocol_, client_fd, ec);
      if (!ec) self->upstream_->socket().assign(self->upstream_protocol_, upstream_fd, ec);
      if (ec) {
        close(client_fd);
        close(upstream_fd);
        self->shared_.Say("session " + std::to_string(self->id_) + ": " + ec.message());
        self->Close();
        return;
      }
      self->resume_bytes_ = std::move(bytes);
      self->transaction_status_ = transaction_status;
      asio::co_spawn(self->strand_, self->DataPhase(), asio::detached);
    });
  }

  void Finished(const std::string& why) override {
    auto self = shared_from_this();
    asio::post(strand_, [self, why] {
      if (!why.empty())
        self->shared_.Say("session " + std::to_string(self->id_) + " (" + self->agent_ +
                          "): " + why);
      self->terminated_ = true;
      self->Close();
    });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    deadline_.cancel();
    slot.reset();
    client_.Close();
    if (upstream_) upstream_->Close();
    if (side_) side_->Close();
    if (cancel_key_registered_) {
      std::lock_guard lock(shared_.cancel_mutex);
      shared_.cancels.erase({public_pid_, public_key_});
    }
    std::lock_guard lock(shared_.sessions_mutex);
    shared_.sessions.erase(shared_from_this());
  }

 private:
  void ArmDeadline(int seconds, std::string why) {
    auto self = shared_from_this();
    deadline_.expires_after(std::chrono::seconds(seconds));
    deadline_.async_wait([this, self, why = std::move(why)](asio::error_code ec) {
      if (ec || started_ || closed_) return;
      shared_.Say("session " + std::to_string(id_) + " from " + address_ + ": " + why + "; closed");
      Close();
    });
  }

  // The client logged in: it no longer makes room for newcomers. False when
  // it was already chosen to (the session then ends).
  bool MarkAuthenticated() {
    if (slot) slot->SetIdle(false);
    return !closed_;
  }

  // --- startup and authentication -----------------------------------------
  Task<std::string> ReadStartupPacket() {
    char head[4];
    co_await client_.ReadExactly(head, 4);
    const std::int32_t len = wire::ReadInt32(head);
    if (len < 8 || static_cast<std::size_t>(len) > wire::kMaxStartupBytes)
      throw std::runtime_error("invalid startup packet length " + std::to_string(len));
    std::string packet(static_cast<std::size_t>(len), '\0');
    std::memcpy(packet.data(), head, 4);
    co_await client_.ReadExactly(packet.data() + 4, packet.size() - 4);
    co_return packet;
  }

  Task<void> Fatal(const std::string& code, const std::string& message) {
    wire::ErrorFields f;
    f.severity = "FATAL";
    f.code = code;
    f.message = message;
    asio::error_code ignored;
    try {
      co_await client_.Write(wire::BuildError(f));
    } catch (const std::exception&) {
    }
  }

  Task<bool> Handshake() {
    wire::Startup startup;
    for (int round = 0;; ++round) {
      std::string packet = co_await ReadStartupPacket();
      std::string error;
      std::optional<wire::Startup> parsed = wire::ParseStartup(packet, &error);
      if (!parsed) {
        co_await Fatal("08P01", error);
        throw std::runtime_error("bad startup packet: " + error);
      }
      if (parsed->kind == wire::Startup::Kind::kCancel) {
        co_await ForwardCancel(parsed->cancel_pid, parsed->cancel_key);
        co_return false;
      }
      if (parsed->kind == wire::Startup::Kind::kSsl ||
          parsed->kind == wire::Startup::Kind::kGssEnc) {
        if (round > 1 || client_.tls()) throw std::runtime_error("repeated encryption request");
        const bool tls = parsed->kind == wire::Startup::Kind::kSsl && shared_.client_tls;
        co_await client_.Write(std::string_view(tls ? "S" : "N", 1));
        if (tls) co_await client_.StartTls(*shared_.client_tls, asio::ssl::stream_base::server);
        continue;
      }
      startup = std::move(*parsed);
      break;
    }
    agent_ = startup.Get("user");
    if (agent_.empty()) {
      co_await Fatal("28000", "no user name given: connect with the dualkey token's name as user");
      co_return false;
    }
    // Names go into the daemon's JSON and the audit log: UTF-8 or nothing.
    for (const char* field : {"user", "database"}) {
      if (!base::IsValidUtf8(startup.Get(field))) {
        co_await Fatal("22021", std::string("the ") + field +
                                    " name in the startup packet is not valid UTF-8");
        co_return false;
      }
    }
    const std::string replication = startup.Get("replication");
    if (!replication.empty() && replication != "false" && replication != "0" &&
        replication != "off" && replication != "no") {
      co_await Fatal("28000", "replication connections are not proxied by dualkey");
      co_return false;
    }
    database_ = startup.Get("database");
    if (database_.empty()) database_ = agent_;
    const Upstream& up = shared_.options.upstream;
    if (!up.database.empty()) {
      if (database_ != up.database && database_ != agent_) {
        co_await Fatal("3D000", "this dualkey proxy serves database \"" + up.database + "\" only");
        co_return false;
      }
      database_ = up.database;
    }

    if (!co_await AuthenticateClient()) co_return false;
    if (!MarkAuthenticated()) co_return false;
    ArmDeadline(shared_.options.connect_timeout_seconds,
                "the database did not take the session within " +
                    std::to_string(shared_.options.connect_timeout_seconds) + " s");

    std::vector<std::pair<std::string, std::string>> forwarded;
    for (const auto& [name, value] : startup.parameters)
      if (name != "user" && name != "database" && name != "replication" && name != "options")
        forwarded.emplace_back(name, value);
    UpstreamSession up_session =
        co_await ConnectUpstream(up, shared_.upstream_tls, database_, forwarded);
    if (!up_session.leg) {
      shared_.Say("session " + std::to_string(id_) + " (" + agent_ + "): " + up_session.error);
      if (!up_session.error_response.empty()) {
        co_await client_.Write(up_session.error_response);
      } else {
        co_await Fatal("08006", "dualkey cannot reach the database: " + up_session.error);
      }
      co_return false;
    }
    upstream_ = std::move(up_session.leg);
    server_version_ = up_session.server_version_num;
    // The client gets its own cancel key; the upstream's stays here.
    public_pid_ = up_session.backend_pid;
    std::string random = scram::RandomBytes(4);
    public_key_ = wire::ReadInt32(random.data());
    {
      std::lock_guard lock(shared_.cancel_mutex);
      CancelTarget target;
      target.pid = up_session.backend_pid;
      target.key = up_session.backend_key;
      shared_.cancels[std::make_pair(public_pid_, public_key_)] = target;
      cancel_key_registered_ = true;
    }
    std::string greeting = wire::Builder('R').Int32(0).Finish();
    greeting += wire::Builder('K').Int32(public_pid_).Int32(public_key_).Finish();
    greeting += up_session.greeting;
    co_await client_.Write(greeting);
    cwd_ = "pg:" + database_;
    co_return true;
  }

  Task<bool> AuthenticateClient() {
    std::optional<token::Token> found;
    std::string store_error;
    {
      std::lock_guard lock(shared_.tokens_mutex);
      found = shared_.tokens.FindByName(agent_, &store_error);
    }
    if (!store_error.empty()) shared_.Say("token store: " + store_error);
    // An unknown name runs the same exchange against a mock verifier: the
    // same salt for the same name every time (as PostgreSQL does), keys no
    // password yields. Built without PBKDF2: a flood of made-up names must
    // not cost the proxy what a real login costs the client.
    token::ScramVerifier verifier = found ? found->scram : MockVerifier(agent_);
    scram::ServerExchange exchange(verifier);
    co_await client_.Write(
        wire::Builder('R').Int32(10).CString("SCRAM-SHA-256").Byte('\0').Finish());
    Message initial = co_await ReadMessage(client_, wire::kMaxAuthMessageBytes);
    wire::Reader r(initial.body);
    std::string_view mechanism = r.CString();
    const std::int32_t len = r.Int32();
    std::string_view first = r.Bytes(len < 0 ? 0 : static_cast<std::size_t>(len));
    std::string error;
    if (initial.type != 'p' || !r.ok() || mechanism != "SCRAM-SHA-256") {
      co_await Fatal("28000", "expected a SCRAM-SHA-256 SASLInitialResponse");
      co_return false;
    }
    std::optional<std::string> server_first = exchange.First(first, &error);
    if (!server_first) {
      co_await Fatal("08P01", error);
      co_return false;
    }
    co_await client_.Write(wire::Builder('R').Int32(11).Raw(*server_first).Finish());
    Message response = co_await ReadMessage(client_, wire::kMaxAuthMessageBytes);
    std::optional<std::string> server_final;
    if (response.type == 'p') server_final = exchange.Final(response.body, &error);
    if (!server_final || !found) {
      shared_.Say("session " + std::to_string(id_) + ": authentication failed for \"" +
                  Printable(agent_) + "\"" + (found ? "" : " (no such token)"));
      co_await Fatal("28P01", "password authentication failed for user \"" + agent_ + "\"");
      co_return false;
    }
    if (!found->Allows("pg")) {
      co_await Fatal("28000", "token \"" + agent_ + "\" has no pg scope");
      co_return false;
    }
    co_await client_.Write(wire::Builder('R').Int32(12).Raw(*server_final).Finish());
    co_return true;
  }

  token::ScramVerifier MockVerifier(const std::string& name) const {
    token::ScramVerifier verifier;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), shared_.mock_salt_key.data(), static_cast<int>(shared_.mock_salt_key.size()),
         reinterpret_cast<const unsigned char*>(name.data()), name.size(), digest, &length);
    verifier.salt.assign(reinterpret_cast<const char*>(digest), 16);
    verifier.iterations = 4096;
    const std::string keys = scram::RandomBytes(64);
    std::memcpy(verifier.stored_key.data(), keys.data(), 32);
    std::memcpy(verifier.server_key.data(), keys.data() + 32, 32);
    return verifier;
  }

  Task<void> ForwardCancel(std::int32_t pid, std::int32_t key) {
    std::optional<CancelTarget> target;
    {
      std::lock_guard lock(shared_.cancel_mutex);
      auto it = shared_.cancels.find({pid, key});
      if (it != shared_.cancels.end()) target = it->second;
    }
    if (!target) co_return;  // like PostgreSQL: say nothing
    StreamSocket socket = co_await ConnectSocket(shared_.options.upstream);
    std::string request;
    wire::AppendInt32(request, 16);
    wire::AppendInt32(request, wire::kCancelRequest);
    wire::AppendInt32(request, target->pid);
    wire::AppendInt32(request, target->key);
    co_await asio::async_write(socket, asio::buffer(request), asio::use_awaitable);
    char byte;
    asio::error_code ec;
    co_await socket.async_read_some(asio::buffer(&byte, 1),
                                    asio::redirect_error(asio::use_awaitable, ec));
  }

  // --- deciding ------------------------------------------------------------
  // (Built outside the coroutines: GCC 12 miscompiles braced lists in them.)
  daemon::CheckRequest CheckRequest(std::string_view sql, const std::string& detail) const {
    // defer_consume: an approved statement's approval is used up only after
    // the snapshot of what it destroys is saved (ConsumeRequest).
    daemon::CheckRequest request;
    request.action = ActionOf(sql);
    request.defer_consume = true;
    if (!detail.empty()) {
      request.min_decision = Decision::kHold;
      request.detail = base::ToValidUtf8(detail);  // may quote the database's errors
    }
    return request;
  }

  daemon::ActionRef ActionOf(std::string_view sql) const {
    daemon::ActionRef action;
    action.channel = Channel::kSql;
    action.input = std::string(sql);
    action.cwd = cwd_;
    action.agent = agent_;
    return action;
  }

  // One request to the daemon on the blocking pool: its reply, or why there
  // is none. Not a coroutine (the lambda is built here, not as a temporary
  // inside a co_await, which GCC 12 miscompiles).
  using DaemonAnswer = std::pair<std::optional<daemon::CheckReply>, std::string>;
  auto AskDaemon(daemon::CheckRequest request) {
    auto ask = [client = shared_.daemon, request = std::move(request)] {
      return Answer(client.Check(request));
    };
    return OnPool(shared_, std::move(ask));
  }
  auto ConsumeOnDaemon(daemon::ConsumeRequest request) {
    auto ask = [client = shared_.daemon, request = std::move(request)] {
      return Answer(client.Consume(request));
    };
    return OnPool(shared_, std::move(ask));
  }
  static DaemonAnswer Answer(const Result<daemon::CheckReply>& reply) {
    if (reply.ok()) return DaemonAnswer(*reply, std::string());
    return DaemonAnswer(std::nullopt, reply.status().message());
  }

  daemon::ConsumeRequest ConsumeRequest(std::string_view sql, const std::string& snapshot_id) const {
    daemon::ConsumeRequest request;
    request.action = ActionOf(sql);
    request.snapshot_id = snapshot_id;
    return request;
  }

  void LogEvent(const std::string& event, const std::string& statement, const std::string& key,
                const std::string& value, const std::string& approval_id) {
    shared_.Log({{"event", event},
                 {"session", id_},
                 {"agent", agent_},
                 {"database", database_},
                 {key, value},
                 {"approval_id", approval_id},
                 {"statement", statement.substr(0, 2000)}});
  }

  template <class... A>
  static std::vector<std::string> Args(const A&... a) {
    std::vector<std::string> out;
    (out.emplace_back(a), ...);
    return out;
  }

  struct Outcome {
    bool forward = true;
    std::string raise_sql;  // when held: the DO block that raises the error
    bool approved = false;
  };

  Outcome Hold(const char* code, const std::string& message, const std::string& hint) {
    Outcome o;
    o.forward = false;
    o.raise_sql = RaiseSql(code, message, hint);
    return o;
  }

  bool BlastRadiusOn() const {
    return shared_.options.hold_rows_over > 0 || shared_.options.hold_fraction_over > 0;
  }

  // The verdict of a statement: from the caches (the exact text, or a plain
  // SELECT's shape: "... WHERE aid = 7" and "... aid = 48211" share one), or
  // classified now and cached. Valid until the next call.
  const Verdict& Classify(std::string_view sql) {
    if (const Verdict* cached = cache_.Find(sql, 0)) return *cached;
    const std::string shape = sql::ReadShapeKey(sql);
    if (!shape.empty()) {
      const Verdict* same_shape = shape_cache_.Find(shape, 0);
      if (same_shape != nullptr && OnlyReads(*same_shape)) return *same_shape;
    }
    guard::Request request;
    request.channel = Channel::kSql;
    request.input = std::string(sql);
    request.cwd = cwd_;
    request.agent = agent_;
    uncached_ = guard::Check(request, shared_.policy).verdict;
    if (!shape.empty() && OnlyReads(uncached_)) {
      if (shape_cache_.Insert(shape, 0, uncached_)) return *shape_cache_.Find(shape, 0);
    } else if (cache_.Insert(sql, 0, uncached_)) {
      return *cache_.Find(sql, 0);
    }
    return uncached_;
  }

  Task<Outcome> Decide(std::string_view raw, const std::vector<std::int32_t>* parameter_types) {
    // Hot path: allowed, with no rows to estimate.
    if (ForwardsNow(raw, parameter_types)) co_return Outcome{};
    // From here on, the statement as the classifier reads it (sql_text.h):
    // what the daemon is asked about, approves and audits.
    std::string storage;
    const std::string_view sql = SqlForClassification(raw, &storage);
    const bool reread = WasReread(raw, sql);
    const bool blast = BlastRadiusOn();
    const Verdict verdict = Classify(sql);  // a copy: what follows awaits
    std::string detail;
    std::vector<StatementShape> shapes;
    bool over_threshold = false;
    if (HasEncodingDependentEscape(raw)) {
      over_threshold = true;
      detail =
          "a non-ASCII byte right before a backslash and a quote reads differently under the "
          "SJIS, BIG5, GBK, UHC, GB18030 and JOHAB client encodings, so dualkey cannot tell "
          "where its strings end";
    } else if (verdict.Enforced() == Decision::kAllow && reread && blast &&
               HasClass(verdict, "db.write.bounded")) {
      over_threshold = true;
      detail = "the statement is not UTF-8, so the rows it touches cannot be estimated";
    } else if (verdict.Enforced() == Decision::kAllow) {
      if (!(blast && HasClass(verdict, "db.write.bounded"))) co_return Outcome{};
      shapes = AnalyseStatements(sql);
      for (const StatementShape& shape : shapes) {
        if (shape.kind != StatementShape::Kind::kDelete &&
            shape.kind != StatementShape::Kind::kUpdate)
          continue;
        std::string estimate_detail;
        bool over = false;
        co_await EstimateRows(shape, parameter_types, &estimate_detail, &over);
        if (over) {
          over_threshold = true;
          detail += (detail.empty() ? "" : "; ") + estimate_detail;
        }
      }
      if (!over_threshold) co_return Outcome{};
    }

    // Not allowed here: the daemon decides, and may hold for a human.
    daemon::CheckRequest request = CheckRequest(sql, over_threshold ? detail : std::string());
    const std::string socket = shared_.daemon.socket_path();
    // (No structured bindings over co_await: GCC 12 destroys them twice.)
    DaemonAnswer answer = co_await AskDaemon(std::move(request));
    if (!answer.first) {
      co_return Hold(kHeldCode,
                     "dualkey held this statement: the dualkey daemon could not be reached (" +
                         answer.second + ")",
                     "Start `dualkey serve` (socket " + socket + ") and send the statement again.");
    }
    const daemon::CheckReply& reply = *answer.first;
    const std::string reason = reply.reason.empty() ? verdict.reason : reply.reason;
    LogEvent("decision", std::string(sql), "decision", std::string(ToString(reply.decision)),
             reply.approval_id);
    if (reply.decision == Decision::kAllow) co_return Outcome{};
    if (reply.approval_ready) {
      // Approved: save what it destroys, then use the approval up. A failed
      // save leaves the approval for the next try.
      const std::string approval_id = reply.approval_id;
      if (shapes.empty()) shapes = AnalyseStatements(sql);
      std::string snapshot_error;
      std::optional<std::string> snapshot_id;
      if (reread) ShapesOfBytes(&shapes, &snapshot_error);
      if (snapshot_error.empty())
        snapshot_id = co_await Snapshot(shapes, std::string(sql), approval_id, &snapshot_error);
      if (!snapshot_id && !snapshot_error.empty()) {
        shared_.Say("session " + std::to_string(id_) + ": snapshot failed: " + snapshot_error);
        co_return Hold(kHeldCode,
                       "dualkey held this approved statement: the snapshot of what it destroys "
                       "failed (" +
                           snapshot_error + "); it did not run",
                       "Fix the cause and send the statement again; approval " + approval_id +
                           " still stands.");
      }
      DaemonAnswer used = co_await ConsumeOnDaemon(ConsumeRequest(sql, snapshot_id.value_or("")));
      if (!used.first || used.first->decision != Decision::kAllow)
        co_return Hold(kHeldCode,
                       "dualkey held this approved statement: the approval could not be used (" +
                           (used.first ? used.first->reason : used.second) + ")",
                       "Ask for a new approval: send the statement again.");
      LogEvent("consumed", std::string(sql), "snapshot_id", snapshot_id.value_or(""), approval_id);
      Outcome o;
      o.approved = true;
      co_return o;
    }
    const std::string& id = reply.approval_id;
    if (reply.decision == Decision::kDeny)
      co_return Hold(kDeniedCode, "dualkey denied this statement: " + reason,
                     "A human decided or the policy denies it; do not retry unchanged.");
    if (reply.frozen)
      co_return Hold(kHeldCode, "dualkey held this statement: " + reason,
                     "A human must reset the breaker (dualkey breaker reset " + agent_ +
                         "; see dualkey breaker status); then send the statement again.");
    if (id.empty())
      co_return Hold(kHeldCode, "dualkey held this statement: " + reason,
                     "Nothing can be approved until the cause is fixed; then send it again.");
    std::string message = "dualkey held this statement for approval " + id;
    if (!reply.code.empty()) message += " (code " + reply.code + ")";
    message += ": " + reason + ". A human must run: dualkey approve " + id;
    co_return Hold(kHeldCode, message,
                   "After the approval, send the identical statement again on this token; it "
                   "then runs once.");
  }

  // A statement that is not UTF-8 was read as Latin-1: its ASCII names are
  // what the server sees, the rest may not be. What it destroys is saved
  // whole (the WHERE clause may not select the same rows), and a statement
  // naming a table with other bytes cannot be saved at all.
  static void ShapesOfBytes(std::vector<StatementShape>* shapes, std::string* error) {
    for (StatementShape& shape : *shapes) {
      if (shape.kind == StatementShape::Kind::kOther) continue;
      for (const std::string& name : shape.objects) {
        for (char c : name) {
          if (static_cast<unsigned char>(c) >= 0x80) {
            *error = "the statement is not UTF-8 and names " + base::ToValidUtf8(name) +
                     ", which dualkey cannot look up as the server would; send it as UTF-8";
            return;
          }
        }
      }
      shape.complex = true;
    }
  }

  SideConnection& Side() {
    if (!side_)
      side_ = std::make_unique<SideConnection>(shared_.options.upstream, shared_.upstream_tls,
                                               database_);
    return *side_;
  }

  static std::optional<std::int64_t> Number(const SideConnection::Result& r) {
    if (!r.error.empty() || r.rows.empty() || r.rows[0].empty() || !r.rows[0][0])
      return std::nullopt;
    try {
      return static_cast<std::int64_t>(std::stod(*r.rows[0][0]));
    } catch (...) {
      return std::nullopt;
    }
  }

  // Rows a DELETE/UPDATE touches: the planner's estimate, or an exact count
  // where the table is small. Any failure counts as over the threshold (fail
  // closed) with the reason in the detail.
  Task<void> EstimateRows(const StatementShape& shape,
                          const std::vector<std::int32_t>* parameter_types, std::string* detail,
                          bool* over) {
    const Options& o = shared_.options;
    const char* verb = shape.kind == StatementShape::Kind::kDelete ? "deletes" : "updates";
    try {
      SideConnection& side = Side();
      std::string explain;
      if (shape.has_parameters) {
        // A generic plan: PostgreSQL 16 has EXPLAIN (GENERIC_PLAN); before,
        // a prepared statement with plan_cache_mode = force_generic_plan.
        const std::string ping = "SELECT 1";
        co_await side.Query(ping);
        if (side.server_version_num() >= 160000) {
          explain = "EXPLAIN (FORMAT JSON, VERBOSE, GENERIC_PLAN) " + shape.text;
        } else {
          std::vector<std::int32_t> types;
          std::vector<std::int32_t> given;
          if (parameter_types) given = *parameter_types;
          SideConnection::Result described = co_await side.Describe(shape.text, given, &types);
          if (!described.error.empty()) throw std::runtime_error(described.error);
          std::string type_list, nulls;
          for (std::size_t i = 0; i < types.size(); ++i) {
            const std::string format = "SELECT format_type(" + std::to_string(types[i]) + ", NULL)";
            SideConnection::Result name = co_await side.Query(format);
            if (!name.error.empty() || name.rows.empty() || !name.rows[0][0])
              throw std::runtime_error("unknown parameter type");
            type_list += (i ? "," : "") + *name.rows[0][0];
            nulls += std::string(i ? "," : "") + "NULL";
          }
          std::string prepare =
              "DEALLOCATE ALL; SET plan_cache_mode = force_generic_plan; PREPARE dualkey_estimate";
          if (!type_list.empty()) prepare += "(" + type_list + ")";
          prepare += " AS " + shape.text;
          SideConnection::Result prepared = co_await side.Query(prepare);
          if (!prepared.error.empty()) throw std::runtime_error(prepared.error);
          explain = "EXPLAIN (FORMAT JSON, VERBOSE) EXECUTE dualkey_estimate" +
                    (nulls.empty() ? "" : "(" + nulls + ")");
        }
      } else {
        explain = "EXPLAIN (FORMAT JSON, VERBOSE) " + shape.text;
      }
      SideConnection::Result plan = co_await side.Query(explain);
      if (shape.has_parameters && side.server_version_num() < 160000) {
        const std::string reset = "DEALLOCATE ALL; RESET plan_cache_mode";
        co_await side.Query(reset);
      }
      if (!plan.error.empty() || plan.rows.empty() || !plan.rows[0][0])
        throw std::runtime_error(plan.error.empty() ? "no plan" : plan.error);
      json doc = json::parse(*plan.rows[0][0], nullptr, false);
      if (doc.is_discarded() || !doc.is_array() || doc.empty())
        throw std::runtime_error("unreadable plan");
      const json& top = doc[0]["Plan"];
      std::int64_t rows = 0;
      if (top.contains("Plans") && top["Plans"].is_array() && !top["Plans"].empty())
        rows = top["Plans"][0].value("Plan Rows", std::int64_t{0});
      else
        rows = top.value("Plan Rows", std::int64_t{0});
      const std::string schema = top.value("Schema", "");
      const std::string relation = top.value("Relation Name", "");
      const std::string qualified = schema.empty() ? relation : schema + "." + relation;
      std::int64_t table_rows = -1;
      bool exact = false;
      if (!relation.empty()) {
        // A table's size is asked at most once a second per session: a write
        // workload would otherwise pay two more round trips per statement.
        const auto now = std::chrono::steady_clock::now();
        TableSize& known = table_sizes_[qualified];
        if (now - known.measured > kTableSizeTtl) {
          known = TableSize{};
          const std::string size_sql =
              "SELECT c.reltuples::bigint, pg_relation_size(c.oid) / 8192 FROM pg_class c "
              "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = " +
              SqlLiteral(schema) + " AND c.relname = " + SqlLiteral(relation);
          SideConnection::Result size = co_await side.Query(size_sql);
          if (size.error.empty() && !size.rows.empty() && size.rows[0].size() == 2 &&
              size.rows[0][0] && size.rows[0][1]) {
            known.reltuples = std::stoll(*size.rows[0][0]);
            known.pages = std::stoll(*size.rows[0][1]);
          }
          const bool small = known.reltuples >= 0 ? known.reltuples < o.exact_count_under
                                                  : known.pages * 100 < o.exact_count_under;
          if (small && o.exact_count_under > 0) {
            const std::string target = SqlIdentifier(schema) + "." + SqlIdentifier(relation);
            const std::string count_all = "SELECT count(*) FROM " + target;
            SideConnection::Result all = co_await side.Query(count_all);
            if (auto n = Number(all)) known.counted = *n;
          }
          known.measured = now;
        }
        table_rows = known.counted >= 0 ? known.counted : known.reltuples;
        // A table too small for either threshold needs no exact count of
        // what the statement touches: it cannot be over.
        const bool could_be_over = known.counted < 0 ||
                                   (o.hold_rows_over > 0 && known.counted > o.hold_rows_over) ||
                                   (o.hold_fraction_over > 0 && known.counted >= 100);
        if (known.counted >= 0 && could_be_over) {
          if (!shape.has_parameters && !shape.complex) {
            std::string count = "SELECT count(*) FROM " + shape.objects.at(0) +
                                (shape.alias.empty() ? "" : " " + shape.alias) +
                                (shape.where.empty() ? "" : " WHERE " + shape.where);
            SideConnection::Result counted = co_await side.Query(count);
            if (auto n = Number(counted)) {
              rows = *n;
              exact = true;
            }
          }
        } else if (known.counted >= 0) {
          rows = std::min(rows, known.counted);  // the planner may guess more than there is
        }
      }
      const bool over_rows = o.hold_rows_over > 0 && rows > o.hold_rows_over;
      const bool over_fraction =
          o.hold_fraction_over > 0 && rows >= 100 && table_rows > 0 &&
          static_cast<double>(rows) > o.hold_fraction_over * static_cast<double>(table_rows);
      *over = over_rows || over_fraction;
      *detail =
          std::string(verb) + (exact ? " " : " ~") + Thousands(rows) + " rows of " + qualified;
      if (table_rows > 0)
        *detail += " (of " + std::string(exact ? "" : "~") + Thousands(table_rows) + ")";
      if (shape.has_parameters) *detail += " (generic plan: parameters unknown)";
    } catch (const std::exception& e) {
      *over = true;
      *detail = std::string("could not estimate the rows it ") + verb + ": " + e.what();
      if (side_) side_->Close();
      side_.reset();
    }
  }

  // --- snapshots ------------------------------------------------------------
  Task<std::optional<std::string>> Snapshot(const std::vector<StatementShape>& shapes,
                                            const std::string& statement,
                                            const std::string& approval_id, std::string* error) {
    SnapshotRequest request;
    request.database = database_;
    request.statement = statement;
    request.agent = agent_;
    request.approval_id = approval_id;
    bool needed = false;
    for (const StatementShape& s : shapes) {
      switch (s.kind) {
        case StatementShape::Kind::kDropTable:
          request.kind = request.kind.empty() ? "drop-table" : request.kind;
          needed = true;
          break;
        case StatementShape::Kind::kTruncate:
          request.kind = request.kind.empty() ? "truncate" : request.kind;
          needed = true;
          break;
        case StatementShape::Kind::kDelete:
          request.kind = request.kind.empty() ? "delete" : request.kind;
          needed = true;
          break;
        case StatementShape::Kind::kUpdate:
          request.kind = request.kind.empty() ? "update" : request.kind;
          needed = true;
          break;
        case StatementShape::Kind::kDropDatabase:
          request.kind = request.kind.empty() ? "drop-database" : request.kind;
          needed = true;
          break;
        default:
          break;
      }
    }
    if (!needed) co_return std::nullopt;
    std::unique_ptr<SnapshotWriter> writer;
    {
      std::lock_guard lock(shared_.sink_mutex);
      writer = shared_.sink->Begin(request, error);
    }
    if (!writer) co_return std::nullopt;
    int table_index = 0;
    try {
      SideConnection& side = Side();
      for (const StatementShape& s : shapes) {
        if (s.kind == StatementShape::Kind::kOther) continue;
        if (s.kind == StatementShape::Kind::kDropDatabase) {
          for (const std::string& db : s.objects) {
            const std::vector<std::string> args = Args("-Fc");
            const std::string part = "database." + db + ".dump";
            if (!co_await PgDump(args, db, part, *writer, error)) throw std::runtime_error(*error);
          }
          continue;
        }
        for (const std::string& object : s.objects) {
          const std::string resolve =
              "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = "
              "c.relnamespace WHERE c.oid = to_regclass(" +
              SqlLiteral(object) + ")";
          SideConnection::Result resolved = co_await side.Query(resolve);
          if (!resolved.error.empty()) throw std::runtime_error(resolved.error);
          if (resolved.rows.empty()) continue;  // IF EXISTS on a missing table
          const std::string schema = resolved.rows[0][0].value_or("");
          const std::string table = resolved.rows[0][1].value_or("");
          const std::string qualified = SqlIdentifier(schema) + "." + SqlIdentifier(table);
          const std::vector<std::string> args = Args("--schema-only", "-t", qualified);
          const std::string ddl_part = "ddl.sql";
          if (!co_await PgDump(args, database_, ddl_part, *writer, error))
            throw std::runtime_error(*error);
          std::string select = "SELECT * FROM " + qualified;
          const bool rows_only = (s.kind == StatementShape::Kind::kDelete ||
                                  s.kind == StatementShape::Kind::kUpdate) &&
                                 !s.complex && !s.has_parameters && !s.where.empty();
          if (rows_only)
            select = "SELECT * FROM " + qualified + (s.alias.empty() ? "" : " " + s.alias) +
                     " WHERE " + s.where;
          const std::string part =
              table_index == 0 ? "rows.copy" : "rows." + std::to_string(table_index) + ".copy";
          ++table_index;
          std::string write_error;
          const std::string copy_sql = "COPY (" + select + ") TO STDOUT";
          const std::function<bool(std::string_view)> sink = [&](std::string_view chunk) {
            return writer->Append(part, chunk, &write_error);
          };
          std::string copy_error = co_await side.CopyOut(copy_sql, sink);
          if (!copy_error.empty())
            throw std::runtime_error(write_error.empty() ? copy_error : write_error);
          // Make the part exist even for an empty table.
          if (!writer->Append(part, "", &write_error)) throw std::runtime_error(write_error);
          const std::string entry = "-- " + schema + "." + table + " -> " + part + "\n";
          if (!writer->Append("objects.txt", entry, &write_error))
            throw std::runtime_error(write_error);
        }
      }
    } catch (const std::exception& e) {
      *error = e.what();
      writer->Abort();
      if (side_) side_->Close();
      side_.reset();
      co_return std::nullopt;
    }
    std::optional<std::string> id = writer->Commit(error);
    if (!id) {
      writer->Abort();
      co_return std::nullopt;
    }
    LogEvent("snapshot", statement, "snapshot_id", *id, approval_id);
    shared_.Say("snapshot " + *id + " saved before approved " + request.kind + " (approval " +
                approval_id + ")");
    co_return id;
  }

  // pg_dump with the real credentials in the child's environment only.
  Task<bool> PgDump(const std::vector<std::string>& args, const std::string& database,
                    const std::string& part, SnapshotWriter& writer, std::string* error) {
    const Upstream up = shared_.options.upstream;
    const std::string binary = FindPgDump(shared_.options.pg_dump);
    SnapshotWriter* out = &writer;
    auto dump = [=]() -> std::pair<bool, std::string> {
      std::vector<std::string> argv = {
          binary, "--no-password", "-h", up.host, "-p", std::to_string(up.port),
          "-U",   up.user,         "-d", database};
      for (const auto& a : args) argv.push_back(a);
      std::vector<std::string> env;
      for (char** e = environ; *e != nullptr; ++e)
        if (std::strncmp(*e, "PG", 2) != 0) env.emplace_back(*e);
      env.push_back("PGPASSWORD=" + up.password);
      env.push_back("PGSSLMODE=" + up.sslmode);
      if (!up.sslrootcert.empty()) env.push_back("PGSSLROOTCERT=" + up.sslrootcert);
      std::vector<char*> argp, envp;
      for (auto& a : argv) argp.push_back(a.data());
      argp.push_back(nullptr);
      for (auto& e : env) envp.push_back(e.data());
      envp.push_back(nullptr);
      int out_pipe[2], err_pipe[2];
      if (pipe2(out_pipe, O_CLOEXEC) != 0) return {false, "pipe failed"};
      if (pipe2(err_pipe, O_CLOEXEC) != 0) {
        close(out_pipe[0]);
        close(out_pipe[1]);
        return {false, "pipe failed"};
      }
      const pid_t pid = fork();
      if (pid < 0) return {false, "fork failed"};
      if (pid == 0) {
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, 0);
        if (binary.find('/') != std::string::npos)
          execve(binary.c_str(), argp.data(), envp.data());
        else
          execvpe(binary.c_str(), argp.data(), envp.data());
        _exit(127);
      }
      close(out_pipe[1]);
      close(err_pipe[1]);
      std::string write_error;
      bool write_ok = true;
      char buffer[65536];
      while (true) {
        ssize_t n = read(out_pipe[0], buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (write_ok) write_ok = out->Append(part, std::string_view(buffer, n), &write_error);
      }
      close(out_pipe[0]);
      std::string stderr_text;
      while (true) {
        ssize_t n = read(err_pipe[0], buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (stderr_text.size() < 4000) stderr_text.append(buffer, n);
      }
      close(err_pipe[0]);
      int status = 0;
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      if (!write_ok) return {false, write_error};
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return {false, "pg_dump failed: " +
                           (stderr_text.empty()
                                ? std::string("exit status ") + std::to_string(WEXITSTATUS(status))
                                : stderr_text)};
      return {true, ""};
    };
    std::pair<bool, std::string> result = co_await OnPool(shared_, std::move(dump));
    if (!result.first) *error = result.second;
    co_return result.first;
  }

  // --- client -> server -----------------------------------------------------
  struct StatementState {
    std::string text;  // for re-checking an approved one
    int binds = 0;
  };

  Task<void> ClientToServer() {
    std::vector<char> buffer(kReadChunk);
    std::size_t start = 0, filled = 0;
    wire::Framer framer(shared_.options.max_statement_bytes);
    std::vector<asio::const_buffer> out;
    std::deque<std::string> scratch;
    // Bytes the pump read but left to us (from a message boundary).
    std::string resumed = std::move(resume_bytes_);
    resume_bytes_.clear();
    if (resumed.size() > buffer.size()) buffer.resize(resumed.size());
    std::memcpy(buffer.data(), resumed.data(), resumed.size());
    std::size_t carried = resumed.size();
    while (true) {
      if (start == filled) start = filled = 0;
      if (filled == buffer.size()) {
        if (start > 0) {
          std::memmove(buffer.data(), buffer.data() + start, filled - start);
          filled -= start;
          start = 0;
        } else {
          buffer.resize(
              std::min(buffer.size() * 2, shared_.options.max_statement_bytes + kReadChunk));
        }
      }
      asio::error_code ec;
      std::size_t n = carried;
      carried = 0;
      if (n == 0)
        n = co_await client_.ReadSome(asio::buffer(buffer.data() + filled, buffer.size() - filled),
                                      ec);
      if (ec) {
        if (terminated_ || closed_) co_return;
        if (framer.in_message() || filled > start)
          shared_.Say("session " + std::to_string(id_) + " (" + agent_ +
                      "): client went away mid-message; session closed");
        co_return;
      }
      filled += n;
      std::string_view data(buffer.data(), filled);
      std::size_t pos = start, run = start;
      out.clear();
      scratch.clear();
      auto cut = [&](std::size_t at) {
        if (at > run) out.emplace_back(asio::buffer(buffer.data() + run, at - run));
      };
      // Whole, so each is looked at before a byte of it passes: statements,
      // binds of approved statements, the function-call protocol (refused)
      // and password messages (out of place after login).
      const std::string_view whole_types = approved_.empty() ? "QPFp" : "QPBFp";
      bool stop = false;
      while (!stop) {
        wire::Framer::Piece piece = framer.Next(data, &pos, whole_types);
        switch (piece.kind) {
          case wire::Framer::Piece::Kind::kNeedMore:
            stop = true;
            break;
          case wire::Framer::Piece::Kind::kError:
            shared_.Say("session " + std::to_string(id_) + " (" + agent_ + "): " + piece.error);
            co_await SendFatalToClient("08P01", "dualkey closed the session: " + piece.error);
            co_return;
          case wire::Framer::Piece::Kind::kHead:
          case wire::Framer::Piece::Kind::kContinuation:
            break;
          case wire::Framer::Piece::Kind::kWhole: {
            std::string_view body = data.substr(piece.offset + 5, piece.size - 5);
            std::optional<std::string> replacement;
            bool ok = true;
            switch (piece.type) {
              case 'Q': {
                std::string_view sql = body.substr(0, body.find('\0'));
                if (body.empty() || body.back() != '\0') {
                  ok = false;
                  break;
                }
                Outcome o = co_await Decide(sql, nullptr);
                if (!o.forward) replacement = wire::BuildQuery(o.raise_sql);
                break;
              }
              case 'P': {
                std::optional<wire::ParseMessage> parse = wire::ParseParse(body);
                if (!parse) {
                  ok = false;
                  break;
                }
                Outcome o = co_await Decide(parse->query, &parse->parameter_types);
                const std::string name(parse->name);
                approved_.erase(name);
                if (!o.forward) {
                  replacement = HeldExtended(o.raise_sql);
                } else if (o.approved) {
                  approved_[name] = StatementState{std::string(parse->query), 0};
                }
                break;
              }
              case 'B': {
                std::optional<wire::BindHead> bind = wire::ParseBindHead(body);
                if (!bind) {
                  ok = false;
                  break;
                }
                auto it = approved_.find(std::string(bind->statement));
                if (it != approved_.end() && it->second.binds++ > 0) {
                  // An approval runs a statement once: a second execution is
                  // a new request.
                  Outcome o = co_await Decide(it->second.text, nullptr);
                  if (!o.forward) replacement = HeldExtended(o.raise_sql);
                }
                break;
              }
              case 'C': {
                auto target = wire::ParseTargetedName(body);
                if (target && target->first == 'S') approved_.erase(std::string(target->second));
                break;
              }
              case 'F':
                co_await SendFatalToClient(
                    "0A000",
                    "dualkey does not proxy the function-call protocol (it cannot be "
                    "classified); use SELECT");
                co_return;
              case 'p':
                ok = false;
                break;
              case 'X':
                terminated_ = true;
                stop = true;
                break;
              default:
                break;
            }
            if (!ok) {
              co_await SendFatalToClient("08P01", std::string("dualkey closed the session: "
                                                              "malformed message of type ") +
                                                      piece.type);
              co_return;
            }
            if (replacement) {
              cut(piece.offset);
              scratch.push_back(std::move(*replacement));
              out.emplace_back(asio::buffer(scratch.back()));
              run = piece.offset + piece.size;
            }
            break;
          }
        }
      }
      cut(pos);
      start = pos;
      if (!out.empty()) co_await upstream_->WriteBuffers(out);
      if (terminated_) {
        upstream_->Close();
        co_return;
      }
    }
  }

  // In place of a held Parse: an unnamed statement that raises the error at
  // Execute. PostgreSQL then skips the client's messages up to Sync itself;
  // the server->client side drops the ParseComplete/BindComplete it answers
  // to these, so the client sees just the ErrorResponse.
  std::string HeldExtended(const std::string& raise_sql) {
    ++pending_injections_;
    return wire::BuildParse("", raise_sql) + wire::BuildBind("", "") + wire::BuildExecute("");
  }

  Task<void> SendFatalToClient(const std::string& code, const std::string& message) {
    // Only safe at a message boundary of the server stream; otherwise close.
    if (server_mid_message_) co_return;
    co_await Fatal(code, message);
  }

  // --- server -> client -----------------------------------------------------
  Task<void> ServerToClient() {
    std::vector<char> buffer(kReadChunk);
    std::size_t filled = 0;
    std::size_t skip = 0;  // rest of a message being streamed
    std::vector<asio::const_buffer> out;
    std::deque<std::string> scratch;
    std::string held;  // ParseComplete/BindComplete answering an injection
    while (true) {
      if (filled == buffer.size())
        buffer.resize(std::min(buffer.size() * 2, kMaxServerCarry + kReadChunk));
      asio::error_code ec;
      const std::size_t n = co_await upstream_->ReadSome(
          asio::buffer(buffer.data() + filled, buffer.size() - filled), ec);
      if (ec) {
        if (closed_ || terminated_) co_return;
        shared_.Say("session " + std::to_string(id_) + " (" + agent_ +
                    "): upstream connection lost: " + ec.message());
        if (skip == 0 && filled == 0 && held.empty()) {
          wire::ErrorFields f;
          f.severity = "FATAL";
          f.code = "08006";
          f.message = "dualkey: the database connection was lost (" + ec.message() + ")";
          asio::error_code ignored;
          const std::string bytes = wire::BuildError(f);
          co_await client_.WriteBuffers(asio::buffer(bytes));
        }
        co_return;
      }
      filled += n;
      std::size_t pos = 0, run = 0;
      out.clear();
      scratch.clear();
      auto cut = [&](std::size_t at) {
        if (at > run) out.emplace_back(asio::buffer(buffer.data() + run, at - run));
      };
      while (pos < filled) {
        if (skip > 0) {
          const std::size_t take = std::min(skip, filled - pos);
          skip -= take;
          pos += take;
          continue;
        }
        if (filled - pos < 5) break;
        const char type = buffer[pos];
        const std::int32_t len = wire::ReadInt32(buffer.data() + pos + 1);
        if (len < 4) throw std::runtime_error("malformed message from upstream");
        const std::size_t size = static_cast<std::size_t>(len) + 1;
        const bool small_needed =
            type == 'Z' || (pending_injections_ > 0 && (type == '1' || type == '2' || type == 'E'));
        if (small_needed && filled - pos < size) {
          if (size > kMaxServerCarry) throw std::runtime_error("oversized message from upstream");
          break;
        }
        if (type == 'Z') {
          if (!held.empty()) {
            cut(pos);
            scratch.push_back(std::move(held));
            out.emplace_back(asio::buffer(scratch.back()));
            held.clear();
            run = pos;
          }
          pending_injections_ = 0;
          transaction_status_ = buffer[pos + 5];
        } else if (pending_injections_ > 0) {
          const bool parse_complete = type == '1' && held.empty();
          const bool bind_complete = type == '2' && held.size() == 5 && held[0] == '1';
          if (parse_complete || bind_complete) {
            cut(pos);
            held.append(buffer.data() + pos, size);
            pos += size;
            run = pos;
            continue;
          }
          bool drop_held = false;
          if (type == 'E') {
            wire::ErrorFields f =
                wire::ParseError(std::string_view(buffer.data() + pos + 5, size - 5));
            if (f.code == kHeldCode || f.code == kDeniedCode) {
              --pending_injections_;
              drop_held = held.size() == 10;
            }
          }
          if (!held.empty()) {
            cut(pos);
            if (!drop_held) {
              scratch.push_back(held);
              out.emplace_back(asio::buffer(scratch.back()));
            }
            held.clear();
            run = pos;
          }
        }
        if (filled - pos >= size) {
          pos += size;
        } else {
          skip = size - (filled - pos);
          pos = filled;
        }
      }
      cut(pos);
      server_mid_message_ = skip > 0 || pos < filled;
      if (!out.empty()) co_await client_.WriteBuffers(out);
      if (pos < filled) std::memmove(buffer.data(), buffer.data() + pos, filled - pos);
      filled -= pos;
    }
  }

  Shared& shared_;
  asio::any_io_executor strand_;
  Leg client_;
  asio::steady_timer deadline_;
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
  std::string resume_bytes_;  // client bytes the pump read but did not forward
  struct TableSize {
    std::int64_t reltuples = -1;
    std::int64_t pages = 0;
    std::int64_t counted = -1;  // count(*), for tables under --exact-count-under
    std::chrono::steady_clock::time_point measured{};
  };
  static constexpr std::chrono::seconds kTableSizeTtl{1};
  std::map<std::string, TableSize> table_sizes_;  // for blast-radius estimates
  std::map<std::string, StatementState> approved_;
  int pending_injections_ = 0;
  char transaction_status_ = 'I';
  bool server_mid_message_ = false;
  bool started_ = false;
  bool closed_ = false;
  bool terminated_ = false;
  bool cancel_key_registered_ = false;
  std::int32_t public_pid_ = 0;
  std::int32_t public_key_ = 0;
};

bool SplitHostPort(const std::string& text, std::string* host, int* port) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  *host = text.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']')
    *host = host->substr(1, host->size() - 2);
  try {
    *port = std::stoi(text.substr(colon + 1));
  } catch (...) {
    return false;
  }
  return *port >= 0 && *port < 65536 && !host->empty();
}

std::string PercentDecode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() &&
        std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

Task<void> Accept(Shared& shared, tcp::acceptor& acceptor) {
  asio::steady_timer pause(acceptor.get_executor());
  while (true) {
    asio::error_code ec;
    // Each session on its own strand when several threads run the loop; with
    // one thread everything is serialised already and a strand only costs.
    tcp::socket socket(shared.options.threads > 1
                           ? asio::any_io_executor(asio::make_strand(acceptor.get_executor()))
                           : acceptor.get_executor());
    co_await acceptor.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (!acceptor.is_open()) co_return;
      // Out of descriptors (EMFILE): free one held by a client that has not
      // logged in, and wait a moment either way: retrying at once would spin
      // (the pending connection stays in the backlog until then).
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
          ec == asio::error::no_memory || ec.value() == ENFILE)
        shared.admission->EvictOldestIdle();
      pause.expires_after(std::chrono::milliseconds(20));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    const tcp::endpoint peer = socket.remote_endpoint(ec);
    std::string address = ec ? std::string("?") : peer.address().to_string();
    auto session = std::make_shared<Session>(shared, std::move(socket), std::move(address));
    std::weak_ptr<Session> weak = session;
    session->slot = shared.admission->Admit(
        session->address(),
        [weak] {
          if (std::shared_ptr<Session> victim = weak.lock())
            asio::post(victim->executor(), [victim] { victim->Evict("a connection limit"); });
        },
        &session->refusal);
    const bool admitted = session->slot != nullptr;
    {
      std::lock_guard lock(shared.sessions_mutex);
      shared.sessions.insert(session);
    }
    if (!admitted) {
      shared.Say("refused a connection from " + session->address() + ": " + session->refusal);
      asio::co_spawn(session->executor(), session->Refuse(), asio::detached);
      continue;
    }
    asio::co_spawn(session->executor(), session->Run(), asio::detached);
  }
}

// Gives memory a flood made the allocator keep back to the system once the
// sessions are gone (glibc keeps freed heap for reuse otherwise).
Task<void> TrimMemory(Shared& shared, asio::io_context& io) {
  asio::steady_timer timer(io);
  while (true) {
    timer.expires_after(std::chrono::seconds(1));
    asio::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    const std::size_t peak = shared.admission->TakePeak();
    if (peak >= 64 && shared.admission->open() < peak / 2) malloc_trim(0);
  }
}

}  // namespace

std::optional<Upstream> ParseUpstreamUri(std::string_view uri, std::string* error) {
  Upstream up;
  std::string_view rest;
  for (std::string_view scheme : {"postgresql://", "postgres://"})
    if (uri.starts_with(scheme)) rest = uri.substr(scheme.size());
  if (rest.empty()) {
    *error = "the upstream is postgresql://USER@HOST[:PORT][/DB][?sslmode=...]";
    return std::nullopt;
  }
  std::string_view query;
  if (std::size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (std::size_t slash = rest.find('/'); slash != std::string_view::npos) {
    up.database = PercentDecode(rest.substr(slash + 1));
    rest = rest.substr(0, slash);
  }
  const std::size_t at = rest.rfind('@');
  if (at == std::string_view::npos) {
    *error = "the upstream URI needs a user: postgresql://USER@HOST:PORT";
    return std::nullopt;
  }
  std::string_view userinfo = rest.substr(0, at);
  if (userinfo.find(':') != std::string_view::npos) {
    *error = "no password in the upstream URI: use --upstream-password-file or PGPASSWORD";
    return std::nullopt;
  }
  up.user = PercentDecode(userinfo);
  std::string_view hostport = rest.substr(at + 1);
  if (hostport.find(':') != std::string_view::npos && hostport.back() != ']') {
    if (!SplitHostPort(std::string(hostport), &up.host, &up.port) || up.port == 0) {
      *error = "bad host:port in the upstream URI";
      return std::nullopt;
    }
  } else {
    up.host = std::string(hostport);
  }
  up.host = PercentDecode(up.host);  // %2Fvar%2Frun%2Fpostgresql: a socket directory
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    std::size_t eq = pair.find('=');
    std::string key(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1));
    if (key == "sslmode") {
      if (value == "allow") value = "prefer";
      if (value == "verify-ca") value = "verify-full";
      if (value != "disable" && value != "prefer" && value != "require" && value != "verify-full") {
        *error = "sslmode is disable, prefer, require or verify-full";
        return std::nullopt;
      }
      up.sslmode = value;
    } else if (key == "sslrootcert") {
      up.sslrootcert = value;
    } else if (key == "host") {
      up.host = value;
    } else if (key == "port") {
      try {
        up.port = std::stoi(value);
      } catch (...) {
        up.port = 0;
      }
      if (up.port <= 0 || up.port > 65535) {
        *error = "bad port in the upstream URI";
        return std::nullopt;
      }
    } else {
      *error = "unknown upstream URI parameter '" + key + "' (sslmode, sslrootcert, host, port)";
      return std::nullopt;
    }
  }
  if (up.host.empty()) {
    *error = "the upstream URI needs a host (a name, an address, or a socket directory)";
    return std::nullopt;
  }
  if (up.host.front() != '/' && up.host.find('/') != std::string::npos) {
    *error = "a Unix socket directory in the upstream URI must be an absolute path";
    return std::nullopt;
  }
  return up;
}

int Run(const Options& options) {
  signal(SIGPIPE, SIG_IGN);
  // Shared state and the io_context live until the process exits: sessions'
  // coroutines may still hold sockets when the loop stops, and tearing them
  // down buys nothing at exit.
  Shared& shared = *new Shared(options);
  const char* home = std::getenv("HOME");
  shared.policy = policy::Load(policy::DefaultSources("", home ? home : ""));
  for (const std::string& e : shared.policy.errors)
    std::cerr << "dualkey pg-proxy: policy: " << e << " (destructive statements stay held)\n";
  std::error_code ec;
  std::filesystem::create_directories(options.state_dir, ec);
  if (options.snapshots_in_state_dir) {
    shared.sink = MakeStateDirSink(options.state_dir);
  } else {
    const char* env_vault = std::getenv("DUALKEY_VAULT");
    const std::string vault_dir = !options.vault_dir.empty() ? options.vault_dir
                                  : env_vault != nullptr && *env_vault != '\0'
                                      ? std::string(env_vault)
                                      : options.state_dir + "/vault";
    shared.sink = MakeVaultSink(vault_dir, options.state_dir + "/snapshot-spool");
  }
  shared.log_path = options.state_dir + "/pg-proxy.log";
  // Each session holds two descriptors (client, database) and briefly a
  // third (row estimates, snapshots): the limit on clients must fit under
  // the process's descriptor limit, raised to its hard maximum first.
  std::size_t max_clients = options.max_clients;
  {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
      if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
        getrlimit(RLIMIT_NOFILE, &limit);
      }
      const std::size_t fits =
          limit.rlim_cur > 128 ? static_cast<std::size_t>((limit.rlim_cur - 64) / 2) : 32;
      if (fits < max_clients) {
        std::cerr << "dualkey pg-proxy: at most " << fits << " clients (the descriptor limit is "
                  << limit.rlim_cur << "; --max-clients " << options.max_clients << " lowered)\n";
        max_clients = fits;
      }
    }
  }
  shared.admission = std::make_unique<base::Admission>(
      base::Admission::Limits{max_clients, options.max_clients_per_address});

  try {
    if (!options.tls_cert.empty()) {
      shared.client_tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
      shared.client_tls->set_options(asio::ssl::context::default_workarounds |
                                     asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                                     asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
      shared.client_tls->use_certificate_chain_file(options.tls_cert);
      shared.client_tls->use_private_key_file(options.tls_key, asio::ssl::context::pem);
    }
    if (options.upstream.sslmode == "verify-full") {
      shared.upstream_tls.set_verify_mode(asio::ssl::verify_peer);
      if (options.upstream.sslrootcert.empty())
        shared.upstream_tls.set_default_verify_paths();
      else
        shared.upstream_tls.load_verify_file(options.upstream.sslrootcert);
    } else {
      shared.upstream_tls.set_verify_mode(asio::ssl::verify_none);
    }
  } catch (const std::exception& e) {
    std::cerr << "dualkey pg-proxy: TLS setup failed: " << e.what() << "\n";
    return 2;
  }

  std::string listen_host;
  int listen_port = 0;
  if (!SplitHostPort(options.listen, &listen_host, &listen_port)) {
    std::cerr << "dualkey pg-proxy: --listen is HOST:PORT\n";
    return 2;
  }
  const int threads = std::max(1, options.threads);
  asio::io_context& io = *new asio::io_context(threads);
  tcp::acceptor& acceptor = *new tcp::acceptor(io);
  try {
    tcp::endpoint endpoint(asio::ip::make_address(listen_host),
                           static_cast<unsigned short>(listen_port));
    acceptor.open(endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
  } catch (const std::exception& e) {
    std::cerr << "dualkey pg-proxy: cannot listen on " << options.listen << ": " << e.what()
              << "\n";
    return 1;
  }
  asio::signal_set& signals = *new asio::signal_set(io, SIGINT, SIGTERM);
  asio::steady_timer& grace = *new asio::steady_timer(io);
  signals.async_wait([&](asio::error_code, int) {
    asio::error_code ignored;
    acceptor.close(ignored);
    std::vector<std::shared_ptr<Session>> open;
    {
      std::lock_guard lock(shared.sessions_mutex);
      open.assign(shared.sessions.begin(), shared.sessions.end());
    }
    for (auto& s : open) asio::post(s->executor(), [s] { s->Close(); });
    // Let the closes run, then stop.
    grace.expires_after(std::chrono::milliseconds(200));
    grace.async_wait([&](asio::error_code) { io.stop(); });
  });
  asio::co_spawn(io, Accept(shared, acceptor), asio::detached);
  asio::co_spawn(io, TrimMemory(shared, io), asio::detached);
  if (!options.no_fast_path) {
    std::string pump_error;
    shared.pump = Pump::Start(options.max_statement_bytes, &pump_error);
    if (shared.pump == nullptr)
      std::cerr << "dualkey pg-proxy: fast path off (" << pump_error << ")\n";
  }
  const auto bound = acceptor.local_endpoint();
  std::cout << "dualkey pg-proxy: listening on " << bound.address().to_string() << ":"
            << bound.port() << " -> " << options.upstream.host << ":" << options.upstream.port
            << std::endl;
  std::vector<std::thread> workers;
  for (int i = 1; i < threads; ++i) workers.emplace_back([&] { io.run(); });
  io.run();
  for (auto& t : workers) t.join();
  return 0;
}

}  // namespace dualkey::pgproxy
