// The gateway end to end with real sockets and processes: an HTTPS upstream
// in this process (self-signed certificate made with `openssl req`) that
// records every request it receives, a real daemon (`dualkey serve`) with an
// approver, and `dualkey gateway http` as a child process in between.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "approval/approval.h"
#include "base/asio.h"
#include "client/client.h"
#include "daemon/daemon.h"
#include "gateway/internal/sigv4.h"
#include "support/daemon.h"

namespace {

// The daemon's raw reply (or nullopt with `error`), as these tests read it.
[[maybe_unused]] std::optional<nlohmann::json> DaemonCall(const std::string& socket,
                                                          const nlohmann::json& request,
                                                          int timeout_ms, std::string* error) {
  dualkey::Result<nlohmann::json> reply = dualkey::client::CallAt(socket, request, timeout_ms);
  if (!reply.ok()) {
    *error = reply.status().ToString();
    return std::nullopt;
  }
  return *reply;
}

namespace fs = std::filesystem;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;

constexpr const char* kRealBearer = "real-upstream-secret-0123456789";
constexpr const char* kRealAwsKeyId = "AKIDREALKEY0000000000";
constexpr const char* kRealAwsSecret = "realSecretKey/0123456789abcdefghijklmnopq";

struct Seen {
  std::string method, target, body;
  std::map<std::string, std::string> headers;  // lower-case names
  bool sigv4_ok = false;
};

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// An HTTPS server that records requests and answers 200 with what it saw.
class Upstream {
 public:
  Upstream(const std::string& cert, const std::string& key) : tls_(ssl::context::tls_server) {
    tls_.use_certificate_chain_file(cert);
    tls_.use_private_key_file(key, ssl::context::pem);
    acceptor_.open(tcp::v4());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accepting_ = std::thread([this] { AcceptLoop(); });
  }

  ~Upstream() {
    stopping_ = true;
    try {
      tcp::socket poke(io_);
      poke.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_));
    } catch (...) {
    }
    accepting_.join();
    for (std::thread& t : connections_) t.join();
  }

  unsigned short port() const { return port_; }

  std::vector<Seen> Requests() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

  std::size_t CountPath(const std::string& target) {
    std::size_t n = 0;
    for (const Seen& s : Requests()) n += s.target == target;
    return n;
  }

 private:
  void AcceptLoop() {
    for (;;) {
      tcp::socket socket(io_);
      beast::error_code ec;
      acceptor_.accept(socket, ec);
      if (stopping_) return;
      if (ec) continue;
      connections_.emplace_back([this, s = std::move(socket)]() mutable { Serve(std::move(s)); });
    }
  }

  void Serve(tcp::socket socket) {
    ssl::stream<tcp::socket> stream(std::move(socket), tls_);
    beast::error_code ec;
    stream.handshake(ssl::stream_base::server, ec);
    if (ec) return;
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
      http::read(stream, buffer, request, ec);
      if (ec) return;
      Seen seen;
      seen.method = std::string(request.method_string());
      seen.target = std::string(request.target());
      seen.body = request.body();
      for (const auto& field : request)
        seen.headers[Lower(field.name_string())] = std::string(field.value());
      if (seen.target.starts_with("/aws/")) seen.sigv4_ok = CheckSigV4(request);
      {
        std::lock_guard lock(mutex_);
        seen_.push_back(seen);
      }
      http::response<http::string_body> response{http::status::ok, 11};
      response.set(http::field::content_type, "application/json");
      if (seen.target == "/api/big") {
        response.body() = std::string(3 << 20, 'x');
      } else {
        response.body() = json{
            {"method", seen.method},
            {"target", seen.target},
            {"authorization", seen.headers["authorization"]},
            {"sigv4_ok",
             seen.sigv4_ok}}.dump();
      }
      if (seen.target.starts_with("/aws/") && !seen.sigv4_ok)
        response.result(http::status::forbidden);
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      http::write(stream, response, ec);
      if (ec || !request.keep_alive()) return;
    }
  }

  // What AWS does: recompute the signature from the request and the real keys.
  static bool CheckSigV4(const http::request<http::string_body>& request) {
    using namespace dualkey::gateway::internal;
    std::string authorization(request[http::field::authorization]);
    std::size_t signed_at = authorization.find("SignedHeaders=");
    if (signed_at == std::string::npos) return false;
    std::string signed_list =
        authorization.substr(signed_at + 14, authorization.find(',', signed_at) - signed_at - 14);
    SigV4Request sign;
    sign.method = std::string(request.method_string());
    std::string target(request.target());
    std::size_t q = target.find('?');
    sign.path = target.substr(0, q);
    sign.query = q == std::string::npos ? "" : target.substr(q + 1);
    for (const auto& field : request) {
      const std::string name = Lower(field.name_string());
      if ((";" + signed_list + ";").find(";" + name + ";") != std::string::npos)
        sign.headers.emplace_back(name, std::string(field.value()));
    }
    sign.payload_sha256_hex = Sha256Hex(request.body());
    if (std::string(request["x-amz-content-sha256"]) != sign.payload_sha256_hex) return false;
    AwsKeys keys{kRealAwsKeyId, kRealAwsSecret, ""};
    return SignV4(sign, keys, "us-east-1", "service", std::string(request["x-amz-date"]))
               .authorization == authorization;
  }

  net::io_context io_;
  ssl::context tls_;
  tcp::acceptor acceptor_{io_};
  unsigned short port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accepting_;
  std::vector<std::thread> connections_;
  std::mutex mutex_;
  std::vector<Seen> seen_;
};

struct Reply {
  int status = 0;
  json body;
  std::string raw_body;
};

std::string Quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int RunShell(const std::string& command, std::string* out) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  char buffer[4096];
  std::size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out->append(buffer, n);
  int raw = pclose(pipe);
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

class Gateway : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::path(DUALKEY_BINARY).parent_path() / ("gateway-test-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "home");
    fs::create_directories(dir_ / "state");
    fs::permissions(dir_ / "state", fs::perms::owner_all);
    state_ = (dir_ / "state").string();
    socket_ = (dir_ / "d.sock").string();
    std::string out;
    ASSERT_EQ(RunShell("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                       "-nodes -days 1 -subj /CN=localhost -addext "
                       "subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
                           Quote((dir_ / "key.pem").string()) + " -out " +
                           Quote((dir_ / "cert.pem").string()),
                       &out),
              0)
        << out;
    upstream_ = new Upstream((dir_ / "cert.pem").string(), (dir_ / "key.pem").string());

    daemon_pid_ = Spawn({DUALKEY_BINARY, "serve", "--state", state_, "--socket", socket_, "--quiet",
                         "--breaker-attempts", "1000"},
                        nullptr);
    bool up = false;
    for (int i = 0; i < 200 && !up; ++i) {
      std::string error;
      up = DaemonCall(socket_, json{{"op", "status"}}, 200, &error).has_value();
      if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(up) << "the daemon did not start";
    out.clear();
    ASSERT_EQ(Dualkey("approver add alice --state " + Quote(state_), &out), 0) << out;
    std::size_t at = out.find("secret=");
    ASSERT_NE(at, std::string::npos) << out;
    totp_secret_ = out.substr(at + 7, out.find('&', at) - at - 7);

    out.clear();
    ASSERT_EQ(
        Dualkey("token add claude --scope http --state-dir " + Quote(state_) + " --json", &out), 0)
        << out;
    token_ = json::parse(out.substr(out.find('{')))["token"];
    out.clear();
    ASSERT_EQ(
        Dualkey("token add pg-only --scope pg --state-dir " + Quote(state_) + " --json", &out), 0);
    pg_token_ = json::parse(out.substr(out.find('{')))["token"];
    out.clear();
    ASSERT_EQ(Dualkey("gateway credential set api --type bearer --state-dir " + Quote(state_), &out,
                      kRealBearer),
              0)
        << out;
    ASSERT_EQ(Dualkey("gateway credential set aws --type aws-sigv4 --region us-east-1 "
                      "--service service --state-dir " +
                          Quote(state_),
                      &out, std::string(kRealAwsKeyId) + " " + kRealAwsSecret + "\n"),
              0)
        << out;
    ASSERT_EQ(Dualkey("gateway credential set basic --type basic --state-dir " + Quote(state_),
                      &out, "svc-user:svc-pass\n"),
              0)
        << out;
    ASSERT_EQ(
        fs::status(dir_ / "state" / "credentials" / "api.json").permissions() & fs::perms::all,
        fs::perms::owner_read | fs::perms::owner_write);

    const std::string origin = "https://localhost:" + std::to_string(upstream_->port());
    const std::string ca = (dir_ / "cert.pem").string();
    std::ofstream(dir_ / "gateway.toml")
        << "[[gateway.http.upstream]]\nname = \"api\"\nbase_url = \"" << origin
        << "/api\"\ncredential = \"api\"\nca_file = \"" << ca << "\"\n\n"
        << "[[gateway.http.upstream]]\nname = \"aws\"\nbase_url = \"https://127.0.0.1:"
        << upstream_->port() << "/aws\"\ncredential = \"aws\"\nca_file = \"" << ca << "\"\n\n"
        << "[[gateway.http.upstream]]\nname = \"untrusted\"\nbase_url = \"" << origin
        << "\"\ncredential = \"api\"\n\n"
        << "[[gateway.http.upstream]]\nname = \"basic\"\nbase_url = \"" << origin
        << "/basic\"\ncredential = \"basic\"\nca_file = \"" << ca << "\"\n";
    int stdout_pipe = -1;
    gateway_pid_ = Spawn({DUALKEY_BINARY, "gateway", "http", "--listen", "127.0.0.1:0",
                          "--state-dir", state_, "--socket", socket_, "--config",
                          (dir_ / "gateway.toml").string(), "--max-body", "65536", "--quiet"},
                         &stdout_pipe);
    std::string line;
    pollfd pfd{stdout_pipe, POLLIN, 0};
    while (line.find('\n') == std::string::npos && poll(&pfd, 1, 10000) > 0) {
      char c[256];
      ssize_t n = read(stdout_pipe, c, sizeof(c));
      if (n <= 0) break;
      line.append(c, static_cast<std::size_t>(n));
    }
    close(stdout_pipe);
    ASSERT_NE(line.find("listening on 127.0.0.1:"), std::string::npos) << line;
    ASSERT_NE(line.find("(4 upstreams)"), std::string::npos) << line;
    port_ = static_cast<unsigned short>(std::stoi(line.substr(line.find("127.0.0.1:") + 10)));
  }

  static void TearDownTestSuite() {
    for (pid_t* pid : {&gateway_pid_, &daemon_pid_}) {
      if (*pid > 0) {
        kill(*pid, SIGTERM);
        int status = 0;
        waitpid(*pid, &status, 0);
        if (pid == &gateway_pid_) gateway_exit_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        *pid = -1;
      }
    }
    delete upstream_;
    upstream_ = nullptr;
    fs::remove_all(dir_);
  }

  static pid_t Spawn(std::vector<std::string> args, int* stdout_fd) {
    int fds[2] = {-1, -1};
    if (stdout_fd != nullptr && pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
      setenv("HOME", (dir_ / "home").c_str(), 1);
      unsetenv("XDG_CONFIG_HOME");
      if (stdout_fd != nullptr) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    if (stdout_fd != nullptr) {
      close(fds[1]);
      *stdout_fd = fds[0];
    }
    return pid;
  }

  static int Dualkey(const std::string& args, std::string* out, const std::string& input = "") {
    std::string command =
        "HOME=" + Quote((dir_ / "home").string()) + " " + DUALKEY_BINARY + " " + args;
    if (!input.empty()) {
      const std::string file = (dir_ / "stdin").string();
      std::ofstream(file) << input;
      command += " < " + Quote(file);
    }
    return RunShell(command, out);
  }

  static std::string Code(int step_offset = 0) {
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    return dualkey::approval::TotpCode(totp_secret_, now + step_offset * 30);
  }

  // One request on a fresh connection to the gateway.
  static Reply Send(const std::string& method, const std::string& target,
                    std::vector<std::pair<std::string, std::string>> headers = {},
                    const std::string& body = "", bool with_token = true) {
    net::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_));
    http::request<http::string_body> request;
    request.method_string(method);
    request.target(target);
    request.version(11);
    request.set(http::field::host, "127.0.0.1");
    if (with_token) request.set(http::field::authorization, "Bearer " + token_);
    for (auto& [name, value] : headers) request.set(name, value);
    request.body() = body;
    request.prepare_payload();
    http::write(socket, request);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    http::read(socket, buffer, parser);
    Reply reply;
    reply.status = parser.get().result_int();
    reply.raw_body = parser.get().body();
    reply.body = json::parse(reply.raw_body, nullptr, false);
    return reply;
  }

  // Raw bytes in, the raw answer out (until the gateway closes or 3 s pass).
  static std::string SendRaw(const std::string& bytes) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port_);
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      close(fd);
      return "connect failed";
    }
    ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    std::string answer;
    pollfd pfd{fd, POLLIN, 0};
    while (poll(&pfd, 1, 3000) > 0) {
      char buffer[4096];
      ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      answer.append(buffer, static_cast<std::size_t>(n));
    }
    close(fd);
    return answer;
  }

  static std::string GraphqlBody(const std::string& query) { return json{{"query", query}}.dump(); }

  static inline fs::path dir_;
  static inline std::string state_, socket_, totp_secret_, token_, pg_token_;
  static inline Upstream* upstream_ = nullptr;
  static inline pid_t daemon_pid_ = -1, gateway_pid_ = -1;
  static inline unsigned short port_ = 0;
  static inline int gateway_exit_ = -1;
};

TEST_F(Gateway, GetPassesWithTheRealCredentialAndWithoutTheAgentToken) {
  Reply reply = Send("GET", "/api/v1/projects?limit=5", {{"X-Trace", "t1"}});
  ASSERT_EQ(reply.status, 200) << reply.raw_body;
  ASSERT_EQ(upstream_->CountPath("/api/v1/projects?limit=5"), 1u);
  for (const Seen& seen : upstream_->Requests()) {
    if (seen.target != "/api/v1/projects?limit=5") continue;
    EXPECT_EQ(seen.headers.at("authorization"), std::string("Bearer ") + kRealBearer);
    EXPECT_EQ(seen.headers.at("host"), "localhost:" + std::to_string(upstream_->port()));
    EXPECT_EQ(seen.headers.at("x-trace"), "t1");
    for (const auto& [name, value] : seen.headers)
      EXPECT_EQ(value.find(token_), std::string::npos) << name << " carries the agent token";
  }
  // The agent token may also come as X-Dualkey-Token; it is stripped too.
  Reply second = Send("GET", "/api/v1/other", {{"X-Dualkey-Token", token_}}, "", false);
  ASSERT_EQ(second.status, 200) << second.raw_body;
  for (const Seen& seen : upstream_->Requests())
    EXPECT_EQ(seen.headers.count("x-dualkey-token"), 0u);
}

// Every request the gateway decides on its own (here: reads it forwards)
// reaches the daemon's audit log as a "decision" record from the gateway,
// with the secrets in it redacted.
TEST_F(Gateway, EveryForwardedRequestIsInTheAuditLogRedacted) {
  std::vector<std::string> paths;
  for (int i = 0; i < 5; ++i) paths.push_back("/api/v1/audited/" + std::to_string(i));
  paths.push_back("/api/v1/audited/q?api_key=zzz-audit-secret-value&limit=2");
  for (const std::string& path : paths) ASSERT_EQ(Send("GET", path).status, 200) << path;
  auto records = [&] {
    std::vector<json> out;
    for (const json& fields : dualkey::test_support::AuditRecords(
             (fs::path(state_) / "audit.jsonl").string(), "decision"))
      if (fields.value("source", "") == "gateway" &&
          fields.value("input", "").find("/audited/") != std::string::npos)
        out.push_back(fields);
    return out;
  };
  for (int i = 0; i < 250 && records().size() < paths.size(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const std::vector<json> found = records();
  ASSERT_EQ(found.size(), paths.size());
  for (int i = 0; i < 5; ++i) {
    bool seen = false;
    for (const json& r : found)
      seen =
          seen || r.value("input", "").find("/audited/" + std::to_string(i)) != std::string::npos;
    EXPECT_TRUE(seen) << "no record for " << paths[i];
  }
  for (const json& r : found) {
    EXPECT_EQ(r.value("decision", ""), "allow") << r.dump();
    EXPECT_TRUE(r.value("forwarded", false)) << r.dump();
    EXPECT_EQ(r.value("channel", ""), "http") << r.dump();
  }
  std::ifstream in(fs::path(state_) / "audit.jsonl");
  const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(log.find("zzz-audit-secret-value"), std::string::npos);
  EXPECT_EQ(log.find(kRealBearer), std::string::npos);
}

TEST_F(Gateway, BasicCredentialsAreInjected) {
  Reply reply = Send("GET", "/basic/v1/me");
  ASSERT_EQ(reply.status, 200) << reply.raw_body;
  // base64("svc-user:svc-pass")
  EXPECT_EQ(reply.body["authorization"], "Basic c3ZjLXVzZXI6c3ZjLXBhc3M=");
}

TEST_F(Gateway, ResponsesStreamBackWhole) {
  Reply reply = Send("GET", "/api/big");
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.raw_body.size(), 3u << 20);
  EXPECT_EQ(reply.raw_body.find_first_not_of('x'), std::string::npos);
}

TEST_F(Gateway, VolumeDeleteIsHeldThenPassesOnceAfterApproval) {
  const std::string body = GraphqlBody("mutation { volumeDelete(volumeId: \"vol-prod-1\") }");
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/json"}};
  Reply held = Send("POST", "/api/graphql/v2", headers, body);
  ASSERT_EQ(held.status, 403) << held.raw_body;
  EXPECT_EQ(held.body["decision"], "hold");
  EXPECT_EQ(held.body["error"], "held");
  const std::string id = held.body.value("approval_id", "");
  ASSERT_FALSE(id.empty()) << held.raw_body;
  EXPECT_EQ(held.body["approve"], "dualkey approve " + id);
  EXPECT_NE(held.body.value("reason", "").find("volumeDelete"), std::string::npos);
  EXPECT_EQ(upstream_->CountPath("/api/graphql/v2"), 0u) << "a held request reached the upstream";

  std::string out;
  ASSERT_EQ(
      Dualkey("approve " + id + " --as alice --code " + Code() + " --socket " + Quote(socket_),
              &out),
      0)
      << out;
  // A different body is a different action: still held.
  Reply other = Send("POST", "/api/graphql/v2", headers,
                     GraphqlBody("mutation { volumeDelete(volumeId: \"vol-prod-2\") }"));
  EXPECT_EQ(other.status, 403);
  Reply passed = Send("POST", "/api/graphql/v2", headers, body);
  EXPECT_EQ(passed.status, 200) << passed.raw_body;
  EXPECT_EQ(upstream_->CountPath("/api/graphql/v2"), 1u);
  Reply again = Send("POST", "/api/graphql/v2", headers, body);
  EXPECT_EQ(again.status, 403) << "an approval is used once";
  EXPECT_EQ(upstream_->CountPath("/api/graphql/v2"), 1u);
}

TEST_F(Gateway, AQueryReadingDeletedAtPasses) {
  Reply reply = Send("POST", "/api/graphql/v1", {{"Content-Type", "application/json"}},
                     GraphqlBody("query { volumes { edges { node { id deletedAt } } } }"));
  EXPECT_EQ(reply.status, 200) << reply.raw_body;
  EXPECT_EQ(upstream_->CountPath("/api/graphql/v1"), 1u);
}

TEST_F(Gateway, UnparseableGraphqlIsHeld) {
  Reply reply = Send("POST", "/api/graphql/v3", {{"Content-Type", "application/json"}},
                     GraphqlBody("mutation { volumeDelete(volumeId: "));
  EXPECT_EQ(reply.status, 403) << reply.raw_body;
  EXPECT_EQ(reply.body["decision"], "hold");
  EXPECT_EQ(upstream_->CountPath("/api/graphql/v3"), 0u);
}

TEST_F(Gateway, EncodedBodiesAreHeld) {
  Reply reply = Send("POST", "/api/v1/items",
                     {{"Content-Type", "application/json"}, {"Content-Encoding", "gzip"}},
                     std::string("\x1f\x8b\x08\x00junk", 8));
  EXPECT_EQ(reply.status, 403) << reply.raw_body;
  EXPECT_EQ(upstream_->CountPath("/api/v1/items"), 0u);
}

TEST_F(Gateway, BadOrMissingTokensAre401) {
  EXPECT_EQ(Send("GET", "/api/v1/projects", {}, "", false).status, 401);
  Reply bad =
      Send("GET", "/api/v1/secret-a", {{"Authorization", "Bearer dk_notatoken"}}, "", false);
  EXPECT_EQ(bad.status, 401);
  Reply scope =
      Send("GET", "/api/v1/secret-b", {{"Authorization", "Bearer " + pg_token_}}, "", false);
  EXPECT_EQ(scope.status, 401) << "a pg-only token is not an http token";
  EXPECT_EQ(upstream_->CountPath("/api/v1/secret-a") + upstream_->CountPath("/api/v1/secret-b"),
            0u);
}

TEST_F(Gateway, UnknownUpstreamIs404) {
  Reply reply = Send("GET", "/nope/v1/projects");
  EXPECT_EQ(reply.status, 404);
  EXPECT_NE(reply.body.value("reason", "").find("api"), std::string::npos);
}

TEST_F(Gateway, MalformedHttpIs400AndNeverForwarded) {
  std::string answer = SendRaw("GARBAGE\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 400")) << answer;
  EXPECT_NE(answer.find("\"decision\":\"hold\""), std::string::npos) << answer;
  // Chunked encoding games: a bad chunk size.
  answer = SendRaw("POST /api/v1/chunky HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token_ +
                   "\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nhello\r\n0\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 400")) << answer;
  // Content-Length and Transfer-Encoding together (request smuggling).
  answer = SendRaw("POST /api/v1/chunky HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token_ +
                   "\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 400")) << answer;
  // Dot segments that would climb out of the upstream's base path.
  answer = SendRaw("GET /api/../admin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token_ +
                   "\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 400")) << answer;
  EXPECT_EQ(upstream_->CountPath("/api/v1/chunky"), 0u);
  EXPECT_EQ(upstream_->CountPath("/admin"), 0u);
}

// docs/gateway.md: Content-Length with any Transfer-Encoding is refused, and
// a Transfer-Encoding is "chunked" or nothing. Beast alone lets a gzip one
// through with the Content-Length deciding where the body ends.
TEST_F(Gateway, FramingIsExactlyWhatTheDocsSay) {
  const std::string head =
      "POST /api/v1/framed HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token_ + "\r\n";
  for (const std::string& framing :
       {std::string("Transfer-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd"),
        std::string("Content-Length: 4\r\nTransfer-Encoding: gzip\r\n\r\nabcd"),
        std::string("Transfer-Encoding: gzip, chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n"),
        std::string("Transfer-Encoding: chunked, identity\r\n\r\nabcd"),
        std::string("Transfer-Encoding: identity\r\n\r\n"),
        std::string("Content-Length: 4\r\nContent-Length: 4\r\n\r\nabcd"),
        std::string("Content-Length: 4, 4\r\n\r\nabcd")}) {
    const std::string answer = SendRaw(head + framing);
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 400")) << framing << "\n" << answer;
    EXPECT_NE(answer.find("\"decision\":\"hold\""), std::string::npos) << answer;
  }
  // Plain chunked still works.
  const std::string answer = SendRaw(
      head + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nabcd\r\n0\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 200")) << answer;
  EXPECT_EQ(upstream_->CountPath("/api/v1/framed"), 1u);
}

// Bytes that are not UTF-8: a raw one in the target is refused (a URL is
// ASCII); in a header or the body they are read with replacement, decided,
// and never crash the gateway.
TEST_F(Gateway, BytesThatAreNotUtf8AreRefusedOrReadWithReplacement) {
  std::string answer = SendRaw(
      "GET /api/v1/caf\xe9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " +
      token_ + "\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 400")) << answer;
  EXPECT_NE(answer.find("not ASCII"), std::string::npos) << answer;
  Reply held = Send("POST", "/api/graphql", {{"Content-Type", "application/json"}},
                    "{\"query\":\"mutation { volumeDelete(volumeId: \\\"v\xff\\\") }\"}");
  EXPECT_EQ(held.status, 403) << held.raw_body;
  Reply odd_header = Send("GET", "/api/v1/odd-header", {{"X-Note", "caf\xe9"}});
  EXPECT_EQ(odd_header.status, 200) << odd_header.raw_body;
  // Its reason quotes the header: held with an answer, not a dropped connection.
  Reply odd_encoding =
      Send("POST", "/api/v1/encoded", {{"Content-Encoding", "gzip\xff"}}, "\x1f\x8b\x08");
  EXPECT_EQ(odd_encoding.status, 403) << odd_encoding.raw_body;
  // Still serving.
  EXPECT_EQ(Send("GET", "/api/v1/after-bytes").status, 200);
}

TEST_F(Gateway, OversizedBodiesAreHeldUnread) {
  Reply reply =
      Send("POST", "/api/v1/upload", {{"Content-Type", "text/plain"}}, std::string(100000, 'a'));
  EXPECT_EQ(reply.status, 413) << reply.raw_body;
  EXPECT_EQ(reply.body["decision"], "hold");
  // Chunked, with no length announced: cut off at the cap all the same.
  std::string chunked = "POST /api/v1/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                        token_ + "\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 20; ++i) chunked += "1000\r\n" + std::string(4096, 'b') + "\r\n";
  chunked += "0\r\n\r\n";
  std::string answer = SendRaw(chunked);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 413")) << answer.substr(0, 200);
  EXPECT_EQ(upstream_->CountPath("/api/v1/upload"), 0u);
}

TEST_F(Gateway, UntrustedCertificateIsRefused) {
  // The "untrusted" upstream does not name the test CA: verification fails.
  Reply reply = Send("GET", "/untrusted/v1/projects");
  EXPECT_EQ(reply.status, 502) << reply.raw_body;
  EXPECT_EQ(upstream_->CountPath("/v1/projects"), 0u);
}

TEST_F(Gateway, AwsRequestsAreReSignedWithTheRealKeys) {
  Reply reply =
      Send("GET", "/aws/buckets?list-type=2&prefix=a%2Fb", {{"X-Amz-Date", "19990101T000000Z"}});
  ASSERT_EQ(reply.status, 200) << reply.raw_body;
  EXPECT_EQ(reply.body["sigv4_ok"], true) << reply.raw_body;
  Reply post = Send("POST", "/aws/", {{"Content-Type", "application/x-www-form-urlencoded"}},
                    "Action=DescribeInstances&Version=2016-11-15");
  ASSERT_EQ(post.status, 200) << post.raw_body;
  EXPECT_EQ(post.body["sigv4_ok"], true);
  for (const Seen& seen : upstream_->Requests()) {
    if (!seen.target.starts_with("/aws/")) continue;
    EXPECT_TRUE(seen.headers.at("authorization")
                    .starts_with(std::string("AWS4-HMAC-SHA256 Credential=") + kRealAwsKeyId))
        << seen.headers.at("authorization");
  }
}

TEST_F(Gateway, DaemonDownMeansHeld) {
  // Another gateway pointed at a socket where no daemon listens.
  int stdout_pipe = -1;
  pid_t pid = Spawn({DUALKEY_BINARY, "gateway", "http", "--listen", "127.0.0.1:0", "--state-dir",
                     state_, "--socket", (dir_ / "nobody.sock").string(), "--config",
                     (dir_ / "gateway.toml").string(), "--quiet"},
                    &stdout_pipe);
  std::string line;
  pollfd pfd{stdout_pipe, POLLIN, 0};
  while (line.find('\n') == std::string::npos && poll(&pfd, 1, 10000) > 0) {
    char c[256];
    ssize_t n = read(stdout_pipe, c, sizeof(c));
    if (n <= 0) break;
    line.append(c, static_cast<std::size_t>(n));
  }
  close(stdout_pipe);
  ASSERT_NE(line.find("127.0.0.1:"), std::string::npos) << line;
  const unsigned short saved = port_;
  port_ = static_cast<unsigned short>(std::stoi(line.substr(line.find("127.0.0.1:") + 10)));
  Reply reply = Send("DELETE", "/api/v1/volumes/vol-9");
  Reply read = Send("GET", "/api/v1/volumes/vol-9");
  port_ = saved;
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_EQ(reply.status, 403) << reply.raw_body;
  EXPECT_NE(reply.body.value("reason", "").find("not reachable"), std::string::npos);
  EXPECT_EQ(read.status, 200) << "reads need no daemon";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "SIGTERM exits 0";
}

TEST_F(Gateway, CredentialListShowsNoSecrets) {
  std::string out;
  ASSERT_EQ(Dualkey("gateway credential list --json --state-dir " + Quote(state_), &out), 0);
  EXPECT_NE(out.find("\"aws-sigv4\""), std::string::npos) << out;
  EXPECT_EQ(out.find(kRealBearer), std::string::npos);
  EXPECT_EQ(out.find(kRealAwsSecret), std::string::npos);
}

}  // namespace
