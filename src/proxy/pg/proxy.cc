// The proxy's wire: accepts agents, authenticates them by token, connects
// upstream with the real credentials, and runs each session's data phase:
// on the fast path's epoll thread (internal/pump.h) while nothing must
// wait, else as two coroutines on a strand: client->server (framed,
// Query/Parse decided in decide.cc, original bytes forwarded) and
// server->client (headers walked, whole buffers forwarded).
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
#include <unistd.h>

#include <filesystem>

#include "base/admission.h"
#include "proxy/pg/internal/scram.h"
#include "proxy/pg/internal/session.h"

namespace dualkey::pgproxy {
namespace {

// Text from a client for our log lines: valid UTF-8, no control characters.
std::string Printable(std::string_view text) {
  std::string out = base::ToValidUtf8(text.substr(0, 200));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

}  // namespace

void Session::Evict(const std::string& why) {
  if (closed_ || started_) return;
  shared_.Say("session " + std::to_string(id_) + " from " + address_ +
              ": not logged in yet; closed to make room (" + why + ")");
  Close();
}

Task<void> Session::Refuse() {
  auto self = shared_from_this();
  co_await Fatal("53300", "sorry, too many clients already: " + refusal);
  Close();
}

void Session::ArmDeadline(int seconds, std::string why) {
  auto self = shared_from_this();
  deadline_.expires_after(std::chrono::seconds(seconds));
  deadline_.async_wait([this, self, why = std::move(why)](asio::error_code ec) {
    if (ec || started_ || closed_) return;
    shared_.Say("session " + std::to_string(id_) + " from " + address_ + ": " + why + "; closed");
    Close();
  });
}

bool Session::MarkAuthenticated() {
  if (slot) slot->SetIdle(false);
  return !closed_;
}

Task<void> Session::Run() {
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
Task<void> Session::DataPhase() {
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
bool Session::EnterPump() {
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

void Session::Resume(int client_fd, int upstream_fd, std::string client_bytes,
                     const PumpHandBack& state) {
  auto self = shared_from_this();
  asio::post(strand_,
             [self, client_fd, upstream_fd, bytes = std::move(client_bytes), state]() mutable {
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
               self->transaction_status_ = state.transaction_status;
               self->syncs_outstanding_ = state.syncs_outstanding;
               self->unsynced_extended_ = state.unsynced_extended;
               asio::co_spawn(self->strand_, self->DataPhase(), asio::detached);
             });
}

void Session::Finished(const std::string& why) {
  auto self = shared_from_this();
  asio::post(strand_, [self, why] {
    if (!why.empty())
      self->shared_.Say("session " + std::to_string(self->id_) + " (" + self->agent_ + "): " + why);
    self->terminated_ = true;
    self->Close();
  });
}

void Session::Close() {
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

// --- startup and authentication -----------------------------------------
Task<std::string> Session::ReadStartupPacket() {
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

Task<void> Session::Fatal(const std::string& code, const std::string& message) {
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

Task<bool> Session::Handshake() {
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
    if (parsed->kind == wire::Startup::Kind::kSsl || parsed->kind == wire::Startup::Kind::kGssEnc) {
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
      co_await Fatal(
          "22021", std::string("the ") + field + " name in the startup packet is not valid UTF-8");
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

Task<bool> Session::AuthenticateClient() {
  std::optional<token::Token> found;
  {
    std::lock_guard lock(shared_.tokens_mutex);
    Result<token::Token> named = shared_.tokens.FindByName(agent_);
    if (named.ok())
      found = std::move(named).value();
    else if (!named.status().Is(Status::Code::kNotFound))
      shared_.Say("token store: " + named.status().message());
  }
  // An unknown name runs the same exchange against a mock verifier: the
  // same salt for the same name every time (as PostgreSQL does), keys no
  // password yields. Built without PBKDF2: a flood of made-up names must
  // not cost the proxy what a real login costs the client.
  token::ScramVerifier verifier = found ? found->scram : MockVerifier(agent_);
  scram::ServerExchange exchange(verifier);
  co_await client_.Write(wire::Builder('R').Int32(10).CString("SCRAM-SHA-256").Byte('\0').Finish());
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

token::ScramVerifier Session::MockVerifier(const std::string& name) const {
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

Task<void> Session::ForwardCancel(std::int32_t pid, std::int32_t key) {
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

Task<void> Session::ClientToServer() {
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
          Sent(piece.type);
          break;
        case wire::Framer::Piece::Kind::kContinuation:
          break;
        case wire::Framer::Piece::Kind::kWhole: {
          std::string_view body = data.substr(piece.offset + 5, piece.size - 5);
          std::optional<std::string> replacement;
          bool ok = true;
          // Before a decision that must wait (Decide), what came before it
          // goes out: the decision may need the server to have answered it
          // (facts are checked on this connection).
          switch (piece.type) {
            case 'Q': {
              std::string_view sql = body.substr(0, body.find('\0'));
              if (body.empty() || body.back() != '\0') {
                ok = false;
                break;
              }
              if (ForwardsNow(sql, nullptr)) break;
              cut(piece.offset);
              if (!out.empty()) co_await upstream_->WriteBuffers(out);
              out.clear();
              scratch.clear();
              run = piece.offset;
              Outcome o = co_await Decide(sql, nullptr);
              if (closed_) co_return;
              if (!o.forward) replacement = wire::BuildQuery(o.raise_sql);
              break;
            }
            case 'P': {
              std::optional<wire::ParseMessage> parse = wire::ParseParse(body);
              if (!parse) {
                ok = false;
                break;
              }
              const std::string name(parse->name);
              approved_.erase(name);
              if (ForwardsNow(parse->query, &parse->parameter_types)) break;
              cut(piece.offset);
              if (!out.empty()) co_await upstream_->WriteBuffers(out);
              out.clear();
              scratch.clear();
              run = piece.offset;
              Outcome o = co_await Decide(parse->query, &parse->parameter_types);
              if (closed_) co_return;
              if (!o.forward) {
                replacement = HeldExtended(o.raise_sql);
              } else if (o.approved || o.by_fact) {
                StatementState state;
                state.text = std::string(parse->query);
                state.by_fact = o.by_fact;
                state.batch = batch_;
                approved_[name] = std::move(state);
              }
              break;
            }
            case 'B': {
              std::optional<wire::BindHead> bind = wire::ParseBindHead(body);
              if (!bind) {
                ok = false;
                break;
              }
              const std::string name(bind->statement);
              auto it = approved_.find(name);
              if (it == approved_.end()) break;
              // An approval runs a statement once: a second execution is a
              // new request. A fact holds for the batch it was checked in.
              const bool again =
                  it->second.binds++ > 0 || (it->second.by_fact && it->second.batch != batch_);
              if (!again) break;
              const std::string text = it->second.text;
              cut(piece.offset);
              if (!out.empty()) co_await upstream_->WriteBuffers(out);
              out.clear();
              scratch.clear();
              run = piece.offset;
              // A query of the proxy's own would replace the unnamed
              // statement this Bind needs: no facts for it.
              bind_of_unnamed_ = name.empty();
              Outcome o = co_await Decide(text, nullptr);
              bind_of_unnamed_ = false;
              if (closed_) co_return;
              if (!o.forward) {
                replacement = HeldExtended(o.raise_sql);
              } else if (o.by_fact) {
                it = approved_.find(name);
                if (it != approved_.end()) {
                  it->second.binds = 1;
                  it->second.batch = batch_;
                }
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
          Sent(piece.type);
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

void Session::Sent(char type) {
  switch (type) {
    case 'Q':
      ++syncs_outstanding_;
      break;
    case 'S':
      ++syncs_outstanding_;
      ++batch_;
      unsynced_extended_ = false;
      break;
    case 'P':
    case 'B':
    case 'E':
    case 'D':
    case 'C':
    case 'H':
      unsynced_extended_ = true;
      break;
    default:
      break;
  }
}

// In place of a held Parse: an unnamed statement that raises the error at
// Execute. PostgreSQL then skips the client's messages up to Sync itself;
// the server->client side drops the ParseComplete/BindComplete it answers
// to these, so the client sees just the ErrorResponse.
std::string Session::HeldExtended(const std::string& raise_sql) {
  ++pending_injections_;
  return wire::BuildParse("", raise_sql) + wire::BuildBind("", "") + wire::BuildExecute("");
}

Task<void> Session::SendFatalToClient(const std::string& code, const std::string& message) {
  // Only safe at a message boundary of the server stream; otherwise close.
  if (server_mid_message_) co_return;
  co_await Fatal(code, message);
}

// --- server -> client -----------------------------------------------------
Task<void> Session::ServerToClient() {
  std::vector<char> buffer(kReadChunk);
  std::size_t filled = 0;
  std::size_t skip = 0;  // rest of a message being streamed
  std::vector<asio::const_buffer> out;
  std::deque<std::string> scratch;
  std::string held;          // ParseComplete/BindComplete answering an injection
  bool skip_to_own = false;  // the message being streamed answers the proxy's own query
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
        if (skip_to_own) {
          cut(pos);
          if (own_query_ != nullptr)
            own_query_->OnCopyPiece(std::string_view(buffer.data() + pos, take));
          run = pos + take;
        }
        skip -= take;
        pos += take;
        if (skip == 0) skip_to_own = false;
        continue;
      }
      if (filled - pos < 5) break;
      const char type = buffer[pos];
      const std::int32_t len = wire::ReadInt32(buffer.data() + pos + 1);
      if (len < 4) throw std::runtime_error("malformed message from upstream");
      const std::size_t size = static_cast<std::size_t>(len) + 1;
      if (own_query_ != nullptr && !OwnQuery::ForClient(type)) {
        // The answer to the proxy's own query: never the client's.
        if (filled - pos < size) {
          if (type == 'd' && size > kMaxServerCarry) {
            // A large row of a snapshot: streamed.
            cut(pos);
            own_query_->OnCopyPiece(std::string_view(buffer.data() + pos + 5, filled - pos - 5));
            skip = size - (filled - pos);
            skip_to_own = true;
            pos = run = filled;
            continue;
          }
          if (size > kMaxServerCarry) throw std::runtime_error("oversized message from upstream");
          break;
        }
        cut(pos);
        const bool done =
            own_query_->OnMessage(type, std::string_view(buffer.data() + pos + 5, size - 5));
        pos += size;
        run = pos;
        if (done) {
          transaction_status_ = own_query_->result().status;
          own_query_ = nullptr;
          NotifyIdle();
        }
        continue;
      }
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
        if (syncs_outstanding_ > 0) --syncs_outstanding_;
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
    NotifyIdle();
  }
}

namespace {

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
  shared.reporter = std::make_unique<client::DecisionReporter>(
      shared.daemon, client::ReporterOptions{.source = "pg_proxy"});

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
  // What is still queued for the audit log goes out before the exit.
  if (shared.reporter && !shared.reporter->Flush(3000))
    std::cerr << "dualkey pg-proxy: " << shared.reporter->stats().queued
              << " decisions could not be sent to the daemon's audit log before exiting\n";
  return 0;
}

}  // namespace dualkey::pgproxy
