#include "base/loopback_http.h"

#include <sys/socket.h>

#include <boost/beast/core/flat_buffer.hpp>

namespace dualkey::base {

namespace http = boost::beast::http;

LoopbackHttpServer::LoopbackHttpServer(Handler handler, int read_timeout_seconds)
    : handler_(std::move(handler)),
      read_timeout_seconds_(read_timeout_seconds),
      server_([this](boost::asio::ip::tcp::socket socket) { Serve(socket); }) {}

void LoopbackHttpServer::Serve(boost::asio::ip::tcp::socket& socket) {
  timeval timeout{read_timeout_seconds_, 0};
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  boost::beast::flat_buffer buffer;
  while (!server_.stopping()) {
    Request request;
    boost::beast::error_code ec;
    http::read(socket, buffer, request, ec);
    if (ec) return;
    Response response = handler_(request);
    http::write(socket, response, ec);
    if (ec || !request.keep_alive()) return;
  }
}

}  // namespace dualkey::base
