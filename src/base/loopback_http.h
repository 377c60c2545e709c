// An HTTP/1.1 server on 127.0.0.1 at a port of its own, one thread a
// connection: the stand-ins that play an API for the demo and the drill.
#pragma once

#include <boost/beast/http.hpp>
#include <functional>

#include "base/threaded_server.h"

namespace dualkey::base {

class LoopbackHttpServer {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;
  using Handler = std::function<Response(const Request&)>;

  // A connection closes when its client does, when a read waits longer than
  // `read_timeout_seconds`, or once the server stops.
  LoopbackHttpServer(Handler handler, int read_timeout_seconds);

  // Listens; the error when it cannot.
  boost::system::error_code Start() {
    return server_.Start({boost::asio::ip::make_address("127.0.0.1"), 0}, false, 64);
  }
  int port() const { return server_.port(); }

 private:
  void Serve(boost::asio::ip::tcp::socket& socket);

  Handler handler_;
  int read_timeout_seconds_;
  ThreadedServer server_;  // last: stopped before the handler goes
};

}  // namespace dualkey::base
