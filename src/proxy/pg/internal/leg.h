// One side of a proxied session: a TCP socket, optionally wrapped in TLS,
// with the few coroutine operations the proxy uses. Also the helpers that
// read whole messages during startup and authentication.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/asio.h"
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
  explicit Leg(StreamSocket socket) : socket_(std::move(socket)) {}
  explicit Leg(tcp::socket socket) : socket_(std::move(socket)) {}
  Leg(const Leg&) = delete;
  Leg& operator=(const Leg&) = delete;

  StreamSocket& socket() { return socket_; }
  bool tls() const { return tls_ != nullptr; }

  Task<void> StartTls(asio::ssl::context& context, asio::ssl::stream_base::handshake_type type,
                      const std::string& server_name = {}) {
    tls_ = std::make_unique<asio::ssl::stream<StreamSocket&>>(socket_, context);
    if (!server_name.empty()) {
      SSL_set_tlsext_host_name(tls_->native_handle(), server_name.c_str());
      tls_->set_verify_callback(asio::ssl::host_name_verification(server_name));
    }
    co_await tls_->async_handshake(type, asio::use_awaitable);
  }

  Task<std::size_t> ReadSome(asio::mutable_buffer buffer) {
    if (tls_) co_return co_await tls_->async_read_some(buffer, asio::use_awaitable);
    co_return co_await socket_.async_read_some(buffer, asio::use_awaitable);
  }

  // Same, with the error returned instead of thrown (EOF included).
  Task<std::size_t> ReadSome(asio::mutable_buffer buffer, boost::system::error_code& ec) {
    if (tls_)
      co_return co_await tls_->async_read_some(buffer,
                                               asio::redirect_error(asio::use_awaitable, ec));
    co_return co_await socket_.async_read_some(buffer,
                                               asio::redirect_error(asio::use_awaitable, ec));
  }

  Task<void> ReadExactly(char* data, std::size_t size) {
    if (tls_)
      co_await asio::async_read(*tls_, asio::buffer(data, size), asio::use_awaitable);
    else
      co_await asio::async_read(socket_, asio::buffer(data, size), asio::use_awaitable);
  }

  template <class Buffers>
  Task<void> WriteBuffers(const Buffers& buffers) {
    if (tls_) {
      co_await asio::async_write(*tls_, buffers, asio::use_awaitable);
      co_return;
    }
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

  Task<void> Write(std::string_view bytes) {
    co_await WriteBuffers(asio::buffer(bytes.data(), bytes.size()));
  }

  void Close() {
    boost::system::error_code ignored;
    socket_.shutdown(StreamSocket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  StreamSocket socket_;
  std::unique_ptr<asio::ssl::stream<StreamSocket&>> tls_;
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
