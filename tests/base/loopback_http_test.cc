#include "base/loopback_http.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <memory>
#include <string>

namespace dualkey::base {
namespace {

namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

TEST(LoopbackHttp, AnswersEachRequestOfAConnectionThenStops) {
  std::atomic<int> served{0};
  auto server = std::make_unique<LoopbackHttpServer>(
      [&](const LoopbackHttpServer::Request& request) {
        ++served;
        LoopbackHttpServer::Response response{http::status::ok, request.version()};
        response.body() = std::string(request.target());
        response.keep_alive(request.keep_alive());
        response.prepare_payload();
        return response;
      },
      5);
  ASSERT_FALSE(server->Start());
  ASSERT_GT(server->port(), 0);

  boost::asio::io_context io;
  tcp::socket socket(io);
  socket.connect(
      {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(server->port())});
  boost::beast::flat_buffer buffer;
  for (const char* target : {"/one", "/two"}) {
    http::request<http::string_body> request{http::verb::get, target, 11};
    request.keep_alive(true);
    http::write(socket, request);
    http::response<http::string_body> response;
    http::read(socket, buffer, response);
    EXPECT_EQ(response.body(), target);
  }
  EXPECT_EQ(served, 2);
  socket.close();
  server.reset();  // waits for the connection's thread
}

}  // namespace
}  // namespace dualkey::base
