// A session's life: admitted or refused, the handshake, then its data phase
// on one of the pump's epoll threads (internal/pump.h) or on coroutines, and closing.
#include "proxy/pg/internal/session.h"

#include <fcntl.h>
#include <unistd.h>

namespace dualkey::pgproxy {
namespace {

// How long a session waits for its server side to stop at a boundary before
// it stays on the coroutines for one more message.
constexpr auto kParkWait = std::chrono::milliseconds(100);

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
  if (shared_.pump != nullptr && EnterPump()) co_return;
  co_await DataPhase();
}

// Both directions on coroutines: sessions the pump handed back, and all
// of them under --no-fast-path.
Task<void> Session::DataPhase() {
  auto self = shared_from_this();
  StartServerToClient();
  try {
    co_await ClientToServer();
  } catch (const std::exception& e) {
    if (!closed_ && !terminated_)
      shared_.Say("session " + std::to_string(id_) + " (" + agent_ + "): " + e.what());
  }
  if (!in_pump_) Close();
}

bool Session::MayReturnToPump(const wire::Framer& framer) const {
  return shared_.pump != nullptr && !closed_ && !terminated_ && approved_.empty() &&
         pending_injections_ == 0 && own_query_ == nullptr && !audit_refused_ &&
         !framer.in_message() && !server_mid_message_;
}

Task<bool> Session::ReturnToPump() {
  leaving_for_pump_ = true;
  // ServerToClient is most likely waiting for the server: wake it.
  boost::system::error_code ignored;
  upstream_->socket().cancel(ignored);
  if (parked_phase_ != data_phase_) {
    asio::steady_timer timer(strand_);
    timer.expires_after(kParkWait);
    park_waiter_ = &timer;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    park_waiter_ = nullptr;
  }
  leaving_for_pump_ = false;
  if (parked_phase_ != data_phase_ || closed_) co_return false;
  PumpHandBack state;
  state.transaction_status = transaction_status_;
  state.syncs_outstanding = syncs_outstanding_;
  state.unsynced_extended = unsynced_extended_;
  if (EnterPump(state, std::move(to_pump_bytes_))) co_return true;
  // The sockets stayed here: the coroutines go on, the server side anew.
  StartServerToClient();
  co_return false;
}

// A new phase: its server side ends the session when it ends, unless it
// stopped for the pump.
void Session::StartServerToClient() {
  const std::uint64_t phase = ++data_phase_;
  auto self = shared_from_this();
  asio::co_spawn(strand_, ServerToClient(), [self, phase](std::exception_ptr) {
    if (self->parked_phase_ != phase) self->Close();
  });
}

// --- the pump (fast path) -------------------------------------------------
// The sockets, and their TLS engines, leave asio for the pump's epoll
// thread; nothing of asio's is pending on them after the handshake.
bool Session::EnterPump(const PumpHandBack& state, std::string client_bytes) {
  boost::system::error_code ec;
  client_protocol_ = client_.socket().local_endpoint(ec).protocol();
  if (!ec) upstream_protocol_ = upstream_->socket().local_endpoint(ec).protocol();
  if (ec) return false;
  PumpSide client, upstream;
  client.fd = client_.socket().release(ec);
  if (ec) return false;
  upstream.fd = upstream_->socket().release(ec);
  if (ec) {
    client_.socket().assign(client_protocol_, client.fd, ec);
    return false;
  }
  for (int fd : {client.fd, upstream.fd}) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  client.tls = client_.TakeTls();
  upstream.tls = upstream_->TakeTls();
  in_pump_ = true;
  shared_.pump->Add(shared_from_this(), std::move(client), std::move(upstream), state,
                    std::move(client_bytes));
  return true;
}

void Session::Resume(PumpSide client, PumpSide upstream, std::string client_bytes,
                     const PumpHandBack& state) {
  auto self = shared_from_this();
  // (A lambda holding the sides: asio::post wants a copyable handler.)
  auto sides =
      std::make_shared<std::pair<PumpSide, PumpSide>>(std::move(client), std::move(upstream));
  asio::post(strand_, [self, sides, bytes = std::move(client_bytes), state]() mutable {
    auto& [client, upstream] = *sides;
    // A descriptor asio took is closed by Close(); only the others here
    // (closing one twice could close another session's, reused meanwhile).
    boost::system::error_code ec;
    self->client_.socket().assign(self->client_protocol_, client.fd, ec);
    if (ec) close(client.fd);
    if (!ec) {
      self->upstream_->socket().assign(self->upstream_protocol_, upstream.fd, ec);
      if (ec) close(upstream.fd);
    } else {
      close(upstream.fd);
    }
    if (ec) {
      self->shared_.Say("session " + std::to_string(self->id_) + ": " + ec.message());
      self->Close();
      return;
    }
    self->in_pump_ = false;
    self->client_.GiveTls(std::move(client.tls));
    self->upstream_->GiveTls(std::move(upstream.tls));
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

}  // namespace dualkey::pgproxy
