// A TCP server whose every connection gets a thread of its own, for callers
// that are few: the daemon's HTTP listener and the loopback stand-ins of the
// demo and the drill (loopback_http.h).
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <thread>

namespace dualkey::base {

class ThreadedServer {
 public:
  // Runs on the connection's thread; the socket closes when it returns.
  using Connection = std::function<void(boost::asio::ip::tcp::socket)>;

  explicit ThreadedServer(Connection connection);
  // Stop(), then WaitIdle().
  ~ThreadedServer();
  ThreadedServer(const ThreadedServer&) = delete;
  ThreadedServer& operator=(const ThreadedServer&) = delete;

  // Listens at `endpoint` and accepts on a thread of its own.
  boost::system::error_code Start(const boost::asio::ip::tcp::endpoint& endpoint,
                                  bool reuse_address, int backlog);
  int port() const { return port_; }
  // True once Stop() began: a connection should finish.
  bool stopping() const { return stopping_; }
  // Closes the listening socket and joins the accepting thread; the
  // connections go on until they return.
  void Stop();
  // Waits until every connection's thread has returned.
  void WaitIdle();

 private:
  void Accept();

  Connection connection_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> active_{0};
};

}  // namespace dualkey::base
