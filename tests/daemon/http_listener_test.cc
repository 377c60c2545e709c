// The daemon's HTTP listener end to end: the real binary with --http on a
// free loopback port, plain and with TLS (a self-signed certificate made by
// `openssl req`), spoken to over real sockets.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "base/free_port.h"
#include "support/daemon.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using dualkey::base::FreeLoopbackPort;

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

std::string Request(const std::string& method, const std::string& path, const std::string& body) {
  return method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
         "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

struct Response {
  int status = 0;
  std::string body;
};

Response Parse(const std::string& raw) {
  Response r;
  if (raw.size() > 12) r.status = std::atoi(raw.substr(9, 3).c_str());
  std::size_t split = raw.find("\r\n\r\n");
  if (split != std::string::npos) r.body = raw.substr(split + 4);
  return r;
}

Response Plain(int port, const std::string& request) {
  int fd = Connect(port);
  if (fd < 0) return {};
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string raw;
  char buffer[4096];
  ssize_t n;
  while ((n = recv(fd, buffer, sizeof buffer, 0)) > 0) raw.append(buffer, n);
  close(fd);
  return Parse(raw);
}

Response Tls(int port, const std::string& request) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  int fd = Connect(port);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  std::string raw;
  if (fd >= 0 && SSL_connect(ssl) == 1) {
    SSL_write(ssl, request.data(), static_cast<int>(request.size()));
    char buffer[4096];
    int n;
    while ((n = SSL_read(ssl, buffer, sizeof buffer)) > 0) raw.append(buffer, n);
  }
  SSL_free(ssl);
  if (fd >= 0) close(fd);
  SSL_CTX_free(ctx);
  return Parse(raw);
}

class HttpListener : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(DUALKEY_BINARY).parent_path() /
           ("http-listener-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    daemon_.Stop();
    fs::remove_all(dir_);
  }
  bool Start(std::vector<std::string> extra) {
    port_ = FreeLoopbackPort();
    std::vector<std::string> args = {"--http", "127.0.0.1:" + std::to_string(port_)};
    args.insert(args.end(), extra.begin(), extra.end());
    if (!daemon_.Start(dir_.string(), (dir_ / "d.sock").string(), args)) return false;
    for (int i = 0; i < 250; ++i) {
      int fd = Connect(port_);
      if (fd >= 0) {
        close(fd);
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  fs::path dir_;
  int port_ = 0;
  dualkey::test_support::DaemonProcess daemon_;
};

TEST_F(HttpListener, ChecksOverHttpHoldAndAllowLikeTheSocket) {
  ASSERT_TRUE(Start({}));
  Response held =
      Plain(port_, Request("POST", "/v1/check",
                           R"({"channel":"shell","input":"rm -rf /srv/data","agent":"a"})"));
  ASSERT_EQ(held.status, 200) << held.body;
  json reply = json::parse(held.body);
  EXPECT_EQ(reply["decision"], "hold");
  EXPECT_FALSE(reply["approval_id"].get<std::string>().empty());

  Response pending = Plain(port_, Request("GET", "/v1/pending", ""));
  ASSERT_EQ(pending.status, 200);
  EXPECT_EQ(json::parse(pending.body)["requests"].size(), 1u);

  Response allowed =
      Plain(port_, Request("POST", "/v1/check", R"({"channel":"shell","input":"ls","agent":"a"})"));
  EXPECT_EQ(json::parse(allowed.body)["decision"], "allow");

  // An approval over HTTP still needs a valid TOTP code.
  Response approve = Plain(
      port_,
      Request("POST", "/v1/approve",
              json{{"id", reply["approval_id"]}, {"approver", "x"}, {"totp", "000000"}}.dump()));
  EXPECT_EQ(approve.status, 400) << approve.body;
}

TEST_F(HttpListener, BadRequestsGetErrorsNeverAllow) {
  ASSERT_TRUE(Start({}));
  Response garbage = Plain(port_, Request("POST", "/v1/check", "{not json"));
  EXPECT_EQ(garbage.status, 400);
  EXPECT_EQ(json::parse(garbage.body)["decision"], "hold");
  EXPECT_EQ(Plain(port_, Request("GET", "/v1/check", "")).status, 405);
  EXPECT_EQ(Plain(port_, Request("POST", "/other", "{}")).status, 404);
  Response junk = Plain(port_, "THIS IS NOT HTTP\r\n\r\n");
  EXPECT_EQ(junk.status, 400);
  std::string huge(2 << 20, 'x');
  Response oversized = Plain(port_, Request("POST", "/v1/check", huge));
  EXPECT_TRUE(oversized.status == 413 || oversized.status == 0) << oversized.status;
  // Still serving.
  EXPECT_EQ(Plain(port_, Request("GET", "/v1/status", "")).status, 200);
}

// Bytes that are not UTF-8: raw in the body they are refused (and a check
// is held); carried exactly as input_b64 they are decided on the real bytes.
TEST_F(HttpListener, InvalidUtf8IsRefusedOrCarriedExactlyNeverAllowed) {
  ASSERT_TRUE(Start({}));
  const std::string raw =
      std::string("{\"channel\":\"shell\",\"input\":\"rm -rf /srv/d\xff\",") + "\"agent\":\"a\"}";
  Response refused = Plain(port_, Request("POST", "/v1/check", raw));
  EXPECT_EQ(refused.status, 400) << refused.body;
  json refusal = json::parse(refused.body);
  EXPECT_EQ(refusal["decision"], "hold");
  EXPECT_NE(refusal["error"].get<std::string>().find("UTF-8"), std::string::npos);
  // "rm -rf /srv/d\xff", base64.
  Response exact = Plain(port_, Request("POST", "/v1/check",
                                        R"({"channel":"shell","input":"rm -rf /srv/d?",)"
                                        R"("input_b64":"cm0gLXJmIC9zcnYvZP8=","agent":"a"})"));
  ASSERT_EQ(exact.status, 200) << exact.body;
  json held = json::parse(exact.body);
  EXPECT_EQ(held["decision"], "hold");
  EXPECT_FALSE(held["approval_id"].get<std::string>().empty());
  // An op name that is not UTF-8 is an error, not a crash.
  Response op = Plain(port_, Request("POST", "/v1/ch\xff", "{}"));
  EXPECT_EQ(op.status, 400);
  EXPECT_EQ(Plain(port_, Request("GET", "/v1/status", "")).status, 200);
}

TEST_F(HttpListener, ServesHttpsWithAConfiguredCertificate) {
  const std::string cert = (dir_ / "cert.pem").string(), key = (dir_ / "key.pem").string();
  const std::string command =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout '" + key +
      "' -out '" + cert + "' >/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0);
  ASSERT_TRUE(Start({"--tls-cert", cert, "--tls-key", key}));
  Response status = Tls(port_, Request("GET", "/v1/status", ""));
  EXPECT_EQ(status.status, 200) << status.body;
  Response held = Tls(
      port_,
      Request("POST", "/v1/check", R"({"channel":"sql","input":"DROP TABLE orders","agent":"a"})"));
  EXPECT_EQ(json::parse(held.body)["decision"], "hold");
  // Plain HTTP to the TLS port gets nothing useful.
  EXPECT_NE(Plain(port_, Request("GET", "/v1/status", "")).status, 200);
}

}  // namespace
