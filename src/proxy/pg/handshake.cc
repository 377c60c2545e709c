// Startup and authentication: the startup packet (TLS, cancel requests),
// SCRAM-SHA-256 against the agent's token, then the upstream connection.
#include <openssl/evp.h>
#include <openssl/hmac.h>

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

void Session::ArmDeadline(int seconds, std::string why) {
  auto self = shared_from_this();
  deadline_.expires_after(std::chrono::seconds(seconds));
  deadline_.async_wait([this, self, why = std::move(why)](boost::system::error_code ec) {
    if (ec || started_ || closed_) return;
    shared_.Say("session " + std::to_string(id_) + " from " + address_ + ": " + why + "; closed");
    Close();
  });
}

bool Session::MarkAuthenticated() {
  if (slot) slot->SetIdle(false);
  return !closed_;
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
      if (tls) co_await client_.StartTls(*shared_.client_tls, TlsEngine::Role::kServer);
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
  boost::system::error_code ec;
  co_await socket.async_read_some(asio::buffer(&byte, 1),
                                  asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace dualkey::pgproxy
