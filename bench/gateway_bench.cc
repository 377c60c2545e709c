// Added latency of `dualkey gateway http` per request: N sequential GETs on a
// kept-alive connection, straight to a local upstream and through the gateway
// to the same upstream, in one run; p50 and p99 of each and of the
// difference. Plain HTTP upstream first, then HTTPS (self-signed, via
// `openssl req`). The gateway reports every decision to a daemon (`dualkey
// serve`), whose audit log gets one record per request; a second gateway
// without a daemon (or, with GATEWAY_BENCH_BASELINE=BINARY, another build's
// gateway) runs beside it on the plain path for the audit's share.
// The last line is `added_p50_us=N added_p99_us=M` (plain, audited).
//   build/gateway_bench [N [THREADS]]   (default 5000 4; needs build/dualkey beside it)
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit.h"
#include "base/asio.h"

namespace {

namespace fs = std::filesystem;
namespace net = boost::asio;
constexpr int kRounds = 50;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

// A small upstream: thread per connection, answers every request with 64
// bytes of JSON.
class Upstream {
 public:
  explicit Upstream(ssl::context* tls) : tls_(tls) {
    acceptor_.open(tcp::v4());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] {
      for (;;) {
        tcp::socket socket(io_);
        beast::error_code ec;
        acceptor_.accept(socket, ec);
        if (stopping_) return;
        if (!ec)
          std::thread([this, s = std::move(socket)]() mutable { Serve(std::move(s)); }).detach();
      }
    });
  }
  ~Upstream() {
    stopping_ = true;
    try {
      tcp::socket poke(io_);
      poke.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_));
    } catch (...) {
    }
    thread_.join();
  }
  unsigned short port() const { return port_; }

 private:
  template <class Stream>
  static void Loop(Stream& stream) {
    beast::flat_buffer buffer;
    beast::error_code ec;
    for (;;) {
      http::request<http::string_body> request;
      http::read(stream, buffer, request, ec);
      if (ec) return;
      http::response<http::string_body> response{http::status::ok, 11};
      response.set(http::field::content_type, "application/json");
      response.body() = R"({"data":{"project":{"id":"p-1","name":"bench","ok":true}}})";
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      http::write(stream, response, ec);
      if (ec) return;
    }
  }
  void Serve(tcp::socket socket) {
    socket.set_option(tcp::no_delay(true));
    if (tls_ == nullptr) {
      Loop(socket);
      return;
    }
    ssl::stream<tcp::socket> stream(std::move(socket), *tls_);
    beast::error_code ec;
    stream.handshake(ssl::stream_base::server, ec);
    if (!ec) Loop(stream);
  }
  net::io_context io_;
  ssl::context* tls_;
  tcp::acceptor acceptor_{io_};
  unsigned short port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

template <class Stream>
std::vector<double> Time(Stream& stream, const std::string& target, const std::string& token,
                         int n) {
  std::vector<double> micros;
  micros.reserve(static_cast<std::size_t>(n));
  beast::flat_buffer buffer;
  for (int i = 0; i < n; ++i) {
    http::request<http::empty_body> request{http::verb::get, target, 11};
    request.set(http::field::host, "127.0.0.1");
    if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
    auto start = std::chrono::steady_clock::now();
    http::write(stream, request);
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    auto end = std::chrono::steady_clock::now();
    if (response.result_int() != 200) {
      std::cerr << "unexpected status " << response.result_int() << ": " << response.body() << "\n";
      std::exit(1);
    }
    micros.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  }
  return micros;
}

double Percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

int Run(const std::string& command) {
  return std::system(command.c_str());
}

std::string Capture(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  char buffer[4096];
  std::size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  pclose(pipe);
  return out;
}

struct Child {
  pid_t pid = -1;
  unsigned short port = 0;
  ~Child() { Stop(); }
  void Stop() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
      pid = -1;
    }
  }
};

// `dualkey serve` in its own state directory: the daemon the audited gateway
// reports every decision to.
void StartDaemon(const std::string& binary, const fs::path& dir, Child* child) {
  fs::create_directories(dir / "daemon");
  fs::permissions(dir / "daemon", fs::perms::owner_all);
  child->pid = fork();
  if (child->pid == 0) {
    execl(binary.c_str(), binary.c_str(), "serve", "--state-dir", (dir / "daemon").c_str(),
          "--socket", (dir / "daemon.sock").c_str(), "--quiet", nullptr);
    _exit(127);
  }
  for (int i = 0; i < 200 && !fs::exists(dir / "daemon.sock"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  if (!fs::exists(dir / "daemon.sock")) {
    std::cerr << "dualkey serve did not start\n";
    std::exit(1);
  }
}

void StartGateway(const std::string& binary, const fs::path& dir, const std::string& threads,
                  const fs::path& socket, Child* child) {
  int fds[2];
  if (pipe(fds) != 0) std::exit(1);
  child->pid = fork();
  if (child->pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(binary.c_str(), binary.c_str(), "gateway", "http", "--listen", "127.0.0.1:0",
          "--state-dir", (dir / "state").c_str(), "--config", (dir / "gateway.toml").c_str(),
          "--socket", socket.c_str(), "--threads", threads.c_str(), "--quiet", nullptr);
    _exit(127);
  }
  close(fds[1]);
  std::string line;
  char c;
  while (read(fds[0], &c, 1) == 1 && c != '\n') line.push_back(c);
  close(fds[0]);
  std::size_t at = line.find("127.0.0.1:");
  if (at == std::string::npos) {
    std::cerr << "the gateway did not start: " << line << "\n";
    std::exit(1);
  }
  child->port = static_cast<unsigned short>(std::stoi(line.substr(at + 10)));
}

void Report(const char* label, const std::vector<double>& direct, const std::vector<double>& via,
            double* added_p50, double* added_p99) {
  const double d50 = Percentile(direct, 0.5), d99 = Percentile(direct, 0.99);
  const double g50 = Percentile(via, 0.5), g99 = Percentile(via, 0.99);
  std::printf("%-6s direct   p50 %7.1f us  p99 %7.1f us\n", label, d50, d99);
  std::printf("%-6s gateway  p50 %7.1f us  p99 %7.1f us   added p50 %6.1f us  p99 %6.1f us\n",
              label, g50, g99, g50 - d50, g99 - d99);
  *added_p50 = g50 - d50;
  *added_p99 = g99 - d99;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 5000;
  const std::string threads = argc > 2 ? argv[2] : "4";
  const std::string binary = (fs::canonical("/proc/self/exe").parent_path() / "dualkey").string();
  const fs::path dir = fs::temp_directory_path() / ("dualkey-gwbench-" + std::to_string(getpid()));
  fs::create_directories(dir / "state");
  fs::permissions(dir / "state", fs::perms::owner_all);
  const std::string state = (dir / "state").string();
  if (Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
          "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
          (dir / "key.pem").string() + " -out " + (dir / "cert.pem").string() +
          " >/dev/null 2>&1") != 0) {
    std::cerr << "openssl req failed\n";
    return 1;
  }
  ssl::context server_tls(ssl::context::tls_server);
  server_tls.use_certificate_chain_file((dir / "cert.pem").string());
  server_tls.use_private_key_file((dir / "key.pem").string(), ssl::context::pem);
  Upstream plain(nullptr);
  Upstream secure(&server_tls);

  const std::string token = nlohmann::json::parse(
      Capture(binary + " token add bench --scope http --json --state-dir " + state))["token"];
  Run("echo bench-upstream-secret | " + binary +
      " gateway credential set up --type bearer --state-dir " + state + " 2>/dev/null");
  std::ofstream(dir / "gateway.toml")
      << "[[gateway.http.upstream]]\nname = \"plain\"\nbase_url = \"http://127.0.0.1:"
      << plain.port() << "\"\ncredential = \"up\"\n\n[[gateway.http.upstream]]\nname = "
      << "\"tls\"\nbase_url = \"https://localhost:" << secure.port()
      << "\"\ncredential = \"up\"\nca_file = \"" << (dir / "cert.pem").string() << "\"\n";
  // Two gateways on the same upstreams: one reports every decision to a
  // daemon (written to its audit log, as in production), the other has no
  // daemon to report to (its reports queue, then are counted as a gap): the
  // audit's share of the added latency, by difference.
  Child daemon;
  StartDaemon(binary, dir, &daemon);
  Child gateway, unaudited;
  StartGateway(binary, dir, threads, dir / "daemon.sock", &gateway);
  // GATEWAY_BENCH_BASELINE=/path/to/an/older/dualkey: that binary's gateway
  // takes the second place (e.g. one built before decisions were reported).
  const char* baseline = std::getenv("GATEWAY_BENCH_BASELINE");
  StartGateway(baseline != nullptr ? std::string(baseline) : binary, dir, threads,
               dir / "none.sock", &unaudited);

  net::io_context io;
  auto connect = [&](unsigned short port) {
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    socket.set_option(tcp::no_delay(true));
    return socket;
  };
  const std::string target = "/v1/projects/p-1";
  std::printf("%d sequential GETs per path, kept-alive connections, 2 shared cores\n", n);

  // Interleaved in rounds so that machine noise hits every path alike.
  std::vector<double> direct, via, via_unaudited;
  {
    tcp::socket d = connect(plain.port());
    tcp::socket g = connect(gateway.port);
    tcp::socket u = connect(unaudited.port);
    Time(d, target, "", 200);  // warm-up
    Time(g, "/plain" + target, token, 200);
    Time(u, "/plain" + target, token, 200);
    // Short rounds: this machine's noise comes in bursts.
    for (int round = 0; round < kRounds; ++round) {
      auto a = Time(d, target, "", n / kRounds);
      auto b = Time(g, "/plain" + target, token, n / kRounds);
      auto c = Time(u, "/plain" + target, token, n / kRounds);
      direct.insert(direct.end(), a.begin(), a.end());
      via.insert(via.end(), b.begin(), b.end());
      via_unaudited.insert(via_unaudited.end(), c.begin(), c.end());
    }
  }
  double plain_p50 = 0, plain_p99 = 0, unaudited_p50 = 0, unaudited_p99 = 0;
  Report("http", direct, via, &plain_p50, &plain_p99);
  Report(baseline != nullptr ? "(baseline)" : "(no daemon)", direct, via_unaudited, &unaudited_p50,
         &unaudited_p99);

  {
    ssl::context client_tls(ssl::context::tls_client);
    client_tls.load_verify_file((dir / "cert.pem").string());
    client_tls.set_verify_mode(ssl::verify_peer);
    ssl::stream<tcp::socket> d(connect(secure.port()), client_tls);
    d.handshake(ssl::stream_base::client);
    tcp::socket g = connect(gateway.port);
    std::vector<double> tls_direct, tls_via;
    Time(d, target, "", 200);
    Time(g, "/tls" + target, token, 200);
    for (int round = 0; round < kRounds; ++round) {
      auto a = Time(d, target, "", n / kRounds);
      auto b = Time(g, "/tls" + target, token, n / kRounds);
      tls_direct.insert(tls_direct.end(), a.begin(), a.end());
      tls_via.insert(tls_via.end(), b.begin(), b.end());
    }
    double p50 = 0, p99 = 0;
    Report("https", tls_direct, tls_via, &p50, &p99);
    std::printf("https_added_p50_us=%.0f https_added_p99_us=%.0f\n", p50, p99);
  }
  // Every decision of the audited gateway is in the daemon's log.
  gateway.Stop();
  // Counted as audit::Read gives them back: each decision of a batch
  // ("decisions" entry) as a "decision" record.
  std::size_t recorded = 0;
  if (auto entries = dualkey::audit::Read((dir / "daemon/audit.jsonl").string(), 0); entries.ok())
    for (const dualkey::audit::Entry& e : *entries)
      recorded +=
          e.kind == "decision" && e.fields.find("\"source\":\"gateway\"") != std::string::npos;
  std::printf("audited: %zu gateway decision records for %d requests\n", recorded,
              2 * (n / kRounds * kRounds + 200));
  std::printf("%s_added_p50_us=%.0f %s_added_p99_us=%.0f\n",
              baseline != nullptr ? "baseline" : "unaudited", unaudited_p50,
              baseline != nullptr ? "baseline" : "unaudited", unaudited_p99);
  std::printf("added_p50_us=%.0f added_p99_us=%.0f\n", plain_p50, plain_p99);
  unaudited.Stop();
  daemon.Stop();
  fs::remove_all(dir);
  return 0;
}
