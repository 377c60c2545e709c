// One side of a proxied session on the coroutines: a socket, with TLS (an
// engine over memory BIOs, tls.h, which the pump drives the same way) when
// the session asked for it, and the few operations the proxy uses. Also the helpers that
// read whole messages during startup and authentication.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/asio.h"
#include "proxy/pg/internal/tls.h"
#include "proxy/pg/internal/wire.h"

namespace dualkey::pgproxy {

namespace asio = boost::asio;

using tcp = asio::ip::tcp;
// TCP, or a Unix socket for an upstream on the same machine.
using StreamSocket = asio::generic::stream_protocol::socket;
template <class T>
using Task = asio::awaitable<T>;

class Leg {
 public:
  explicit Leg(StreamSocket socket)
      : socket_(std::move(socket)), write_done_(socket_.get_executor()) {
    write_done_.expires_at(asio::steady_timer::time_point::max());
  }
  explicit Leg(tcp::socket socket) : Leg(StreamSocket(std::move(socket))) {}
  Leg(const Leg&) = delete;
  Leg& operator=(const Leg&) = delete;

  StreamSocket& socket() { return socket_; }
  bool tls() const { return tls_ != nullptr; }

  // The TLS state leaves with the socket's descriptor for the pump, and
  // comes back with it (session.cc). Only between reads and writes.
  std::unique_ptr<TlsEngine> TakeTls() { return std::move(tls_); }
  void GiveTls(std::unique_ptr<TlsEngine> tls) { tls_ = std::move(tls); }

  // The TLS handshake on this socket; throws with OpenSSL's reason.
  Task<void> StartTls(asio::ssl::context& context, TlsEngine::Role role,
                      const std::string& server_name = {}) {
    std::string error;
    tls_ = TlsEngine::Start(context.native_handle(), role, server_name, &error);
    if (tls_ == nullptr) throw std::runtime_error(error);
    cipher_.resize(kCipherChunk);
    while (true) {
      const TlsEngine::Status status = tls_->Handshake();
      // The last flight, or the alert that says why not.
      if (tls_->HasOutput()) co_await SendTlsOutput();
      if (status == TlsEngine::Status::kOk) co_return;
      if (status != TlsEngine::Status::kWantRead)
        throw std::runtime_error(status == TlsEngine::Status::kClosed
                                     ? std::string("TLS: the peer closed during the handshake")
                                     : tls_->error());
      const std::size_t n =
          co_await socket_.async_read_some(asio::buffer(cipher_), asio::use_awaitable);
      tls_->Feed(cipher_.data(), n);
    }
  }

  Task<std::size_t> ReadSome(asio::mutable_buffer buffer) {
    boost::system::error_code ec;
    const std::size_t n = co_await ReadSome(buffer, ec);
    if (ec && tls_ != nullptr) throw boost::system::system_error(ec, tls_->error());
    if (ec) throw boost::system::system_error(ec);
    co_return n;
  }

  // Same, with the error returned instead of thrown (EOF included).
  Task<std::size_t> ReadSome(asio::mutable_buffer buffer, boost::system::error_code& ec) {
    if (!tls_)
      co_return co_await socket_.async_read_some(buffer,
                                                 asio::redirect_error(asio::use_awaitable, ec));
    if (buffer.size() == 0) co_return 0;
    while (true) {
      std::size_t n = 0;
      const TlsEngine::Status status =
          tls_->Read(static_cast<char*>(buffer.data()), buffer.size(), &n);
      if (status == TlsEngine::Status::kOk) co_return n;
      if (status == TlsEngine::Status::kClosed) {
        ec = asio::error::eof;
        co_return 0;
      }
      if (status == TlsEngine::Status::kError) {
        ec = boost::system::errc::make_error_code(boost::system::errc::protocol_error);
        co_return 0;
      }
      // What reading made TLS say (a key update's answer) goes out unless a
      // write is on its way, which then takes it.
      if (tls_->HasOutput() && !writing_) {
        WriterGuard guard(*this);
        co_await SendTlsOutput();
      }
      n = co_await socket_.async_read_some(asio::buffer(cipher_),
                                           asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return 0;
      tls_->Feed(cipher_.data(), n);
    }
  }

  Task<void> ReadExactly(char* data, std::size_t size) {
    if (!tls_) {
      co_await asio::async_read(socket_, asio::buffer(data, size), asio::use_awaitable);
      co_return;
    }
    for (std::size_t got = 0; got < size;)
      got += co_await ReadSome(asio::buffer(data + got, size - got));
  }

  template <class Buffers>
  Task<void> WriteBuffers(const Buffers& buffers) {
    if (!tls_) {
      co_await WritePlain(buffers);
      co_return;
    }
    // One write at a time: records go out in the order they were sealed.
    boost::system::error_code ignored;
    while (writing_)
      co_await write_done_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    if (tls_ == nullptr) throw std::runtime_error("connection closed");
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
         ++it) {
      asio::const_buffer b(*it);
      if (!tls_->Write(static_cast<const char*>(b.data()), b.size()))
        throw std::runtime_error(tls_->error());
    }
    WriterGuard guard(*this);
    co_await SendTlsOutput();
  }

  Task<void> Write(std::string_view bytes) {
    co_await WriteBuffers(asio::buffer(bytes.data(), bytes.size()));
  }

  void Close() {
    boost::system::error_code ignored;
    socket_.shutdown(StreamSocket::shutdown_both, ignored);
    socket_.close(ignored);
    write_done_.cancel();
  }

 private:
  static constexpr std::size_t kCipherChunk = 32 * 1024;

  // Marks a write in progress for its scope; the end wakes waiting writers.
  struct WriterGuard {
    explicit WriterGuard(Leg& leg) : leg(leg) { leg.writing_ = true; }
    ~WriterGuard() {
      leg.writing_ = false;
      leg.write_done_.cancel();
    }
    Leg& leg;
  };

  // The engine's ciphertext, all of it, to the socket (under a WriterGuard).
  Task<void> SendTlsOutput() {
    sealed_.clear();
    tls_->TakeOutput(sealed_);
    if (!sealed_.empty()) co_await WritePlain(asio::buffer(sealed_));
  }

  template <class Buffers>
  Task<void> WritePlain(const Buffers& buffers) {
    // A plain socket almost always takes a small write at once: sending it
    // here saves the completion's trip through the scheduler (and the
    // epoll_wait that trip costs). Only what the kernel did not take waits.
    boost::system::error_code ec;
    if (!socket_.non_blocking()) socket_.non_blocking(true, ec);
    std::size_t sent = ec ? 0 : socket_.write_some(buffers, ec);
    const std::size_t total = asio::buffer_size(buffers);
    if (sent == total) co_return;
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again)
      throw boost::system::system_error(ec);
    std::vector<asio::const_buffer> remaining;
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
         ++it) {
      asio::const_buffer b(*it);
      const std::size_t skip = std::min(sent, b.size());
      sent -= skip;
      if (b.size() > skip) remaining.push_back(b + skip);
    }
    co_await asio::async_write(socket_, remaining, asio::use_awaitable);
  }

  StreamSocket socket_;
  // Woken (cancelled) when a TLS write ends; its expiry stays at "never".
  asio::steady_timer write_done_;
  std::unique_ptr<TlsEngine> tls_;
  std::vector<char> cipher_;  // ciphertext read, before the engine takes it
  std::string sealed_;        // ciphertext being written
  bool writing_ = false;
};

// One typed message read whole (type, body without the length).
struct Message {
  char type = 0;
  std::string body;
};

// Reads one typed message; throws on I/O errors; a length outside
// [4, max_bytes] is a protocol error (std::runtime_error).
inline Task<Message> ReadMessage(Leg& leg, std::size_t max_bytes) {
  char head[5];
  co_await leg.ReadExactly(head, 5);
  const std::int32_t len = wire::ReadInt32(head + 1);
  if (len < 4 || static_cast<std::size_t>(len) > max_bytes)
    throw std::runtime_error("invalid message length " + std::to_string(len));
  Message m;
  m.type = head[0];
  m.body.resize(static_cast<std::size_t>(len) - 4);
  if (!m.body.empty()) co_await leg.ReadExactly(m.body.data(), m.body.size());
  co_return m;
}

}  // namespace dualkey::pgproxy
