#include "base/threaded_server.h"

#include <boost/asio/post.hpp>
#include <chrono>
#include <memory>

namespace dualkey::base {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

ThreadedServer::ThreadedServer(Connection connection)
    : connection_(std::move(connection)), acceptor_(io_) {}

ThreadedServer::~ThreadedServer() {
  Stop();
  WaitIdle();
}

boost::system::error_code ThreadedServer::Start(const tcp::endpoint& endpoint, bool reuse_address,
                                                int backlog) {
  boost::system::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec && reuse_address) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(backlog, ec);
  if (ec) return ec;
  port_ = acceptor_.local_endpoint().port();
  Accept();
  thread_ = std::thread([this] { io_.run(); });
  return ec;
}

void ThreadedServer::Accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec) {
      if (acceptor_.is_open()) Accept();
      return;
    }
    ++active_;
    // The socket goes before the count drops: WaitIdle() may return, and
    // the io_context go, the moment it does.
    auto owned = std::make_unique<tcp::socket>(std::move(socket));
    std::thread([this, owned = std::move(owned)]() mutable {
      // A connection's failure ends that connection (its socket closes,
      // nothing is forwarded), never the process and its other connections.
      try {
        connection_(std::move(*owned));
      } catch (...) {
      }
      owned.reset();
      --active_;
    }).detach();
    Accept();
  });
}

void ThreadedServer::Stop() {
  asio::post(io_, [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
  });
  io_.stop();
  if (thread_.joinable()) thread_.join();
  stopping_ = true;
}

void ThreadedServer::WaitIdle() {
  while (active_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

}  // namespace dualkey::base
