// The PostgreSQL proxy's test harness: a real PostgreSQL (SCRAM and md5
// roles), a real daemon with TOTP approvers, the real proxy binary, psql
// and libpq as the agents' clients, and the raw protocol for what libpq
// cannot send.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../approval/pg_harness.h"
#include "../approval/store_testing.h"
#include "approval/approval.h"
#include "client/client.h"
#include "daemon/daemon.h"
#include "proxy/pg/internal/wire.h"
#include "proxy/pg/pg_proxy.h"
#include "support/daemon.h"

namespace dualkey::pgtest {

using dualkey::testing::Ok;
using dualkey::testing::OpenOrNull;

// The daemon's raw reply (or nullopt with `error`), as these tests read it.
[[maybe_unused]] inline std::optional<nlohmann::json> DaemonCall(const std::string& socket,
                                                                 const nlohmann::json& request,
                                                                 int timeout_ms,
                                                                 std::string* error) {
  dualkey::Result<nlohmann::json> reply = dualkey::client::CallAt(socket, request, timeout_ms);
  if (!reply.ok()) {
    *error = reply.status().ToString();
    return std::nullopt;
  }
  return *reply;
}

namespace fs = std::filesystem;
using dualkey::testing::PgHarness;
using nlohmann::json;

inline std::string Quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct Output {
  int status = -1;
  std::string out;
};

inline Output Shell(const std::string& command) {
  Output output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  std::array<char, 4096> buffer;
  std::size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    output.out.append(buffer.data(), n);
  const int raw = pclose(pipe);
  output.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return output;
}

// A child process whose first stdout line is read (the proxy's "listening").
class Child {
 public:
  bool Start(const std::vector<std::string>& args, const std::vector<std::string>& env,
             std::string* first_line) {
    int out[2];
    if (pipe(out) != 0) return false;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      close(out[1]);
      for (const std::string& e : env) putenv(const_cast<char*>(strdup(e.c_str())));
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    FILE* f = fdopen(out[0], "r");
    char line[512] = {0};
    const bool ok = fgets(line, sizeof line, f) != nullptr;
    // Keep the pipe open in the background so the child never gets SIGPIPE.
    reader_ = std::thread([f] {
      char sink[256];
      while (fgets(sink, sizeof sink, f) != nullptr) {
      }
      fclose(f);
    });
    *first_line = line;
    return ok;
  }
  void Stop() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status;
      waitpid(pid_, &status, 0);
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      pid_ = -1;
    }
    if (reader_.joinable()) reader_.join();
  }
  ~Child() { Stop(); }
  int exit_status() const { return exit_status_; }

 private:
  pid_t pid_ = -1;
  int exit_status_ = -1;
  std::thread reader_;
};

inline int PortFromListening(const std::string& line) {
  std::smatch m;
  static const std::regex re("listening on [0-9.]+:([0-9]+) ->");
  return std::regex_search(line, m, re) ? std::stoi(m[1]) : -1;
}

class PgProxy : public ::testing::Test {
 public:
  // HOME as the tests found it (npm's cache lives there).
  static std::string RealHome() { return real_home_ ? *real_home_ : std::string(); }

 protected:
  // What a suite's world may differ in (the default: PostgreSQL without
  // TLS, proxies that connect to it with sslmode=disable).
  struct World {
    // PostgreSQL with ssl=on (PgHarness::Options::tls).
    bool database_tls = false;
    // pg_hba.conf lines before the roles' own, and extra server settings.
    std::vector<std::string> hba_first;
    std::vector<std::string> settings;
    // The query of the upstream URI the suite's proxies get (proxy_, StartProxy).
    std::string upstream_query = "sslmode=disable";
  };

  static void SetUpTestSuite() { SetUpWorld(World()); }

  static void SetUpWorld(const World& world) {
    upstream_query_ = new std::string(world.upstream_query);
    // A new daemon and new approvers: no TOTP step of theirs is spent yet.
    approve_last_[0] = approve_last_[1] = -1;
    PgHarness::Options options;
    options.hba_first = world.hba_first;
    for (const char* line :
         {"host all app 127.0.0.1/32 scram-sha-256", "host all app_md5 127.0.0.1/32 md5",
          "host all app_limited 127.0.0.1/32 scram-sha-256"})
      options.hba_first.push_back(line);
    options.settings = world.settings;
    options.tls = world.database_tls;
    pg_ = new PgHarness(options);
    if (!pg_->ok()) return;
    ASSERT_TRUE(
        pg_->Exec("SET password_encryption = 'scram-sha-256'; "
                  "CREATE ROLE app LOGIN SUPERUSER PASSWORD 'real-secret'"))
        << pg_->error();
    ASSERT_TRUE(
        pg_->Exec("SET password_encryption = 'md5'; "
                  "CREATE ROLE app_md5 LOGIN SUPERUSER PASSWORD 'md5-secret'"))
        << pg_->error();
    ASSERT_TRUE(pg_->Exec("CREATE DATABASE shop OWNER app")) << pg_->error();

    state_ = new fs::path(fs::path(DUALKEY_BINARY).parent_path() /
                          ("pg-proxy-test-" + std::to_string(getpid())));
    fs::remove_all(*state_);
    fs::create_directories(*state_ / "home");
    // The daemon and the proxies read their policy from here, not from the
    // developer's own files.
    if (const char* home = std::getenv("HOME")) real_home_ = new std::string(home);
    setenv("HOME", (*state_ / "home").c_str(), 1);
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("DUALKEY_ENV");
    socket_ = new std::string((*state_ / "d.sock").string());
    daemon_ = new Child();
    daemon_pid_ = fork();
    if (daemon_pid_ == 0) {
      execl(DUALKEY_BINARY, DUALKEY_BINARY, "serve", "--state", state_->c_str(), "--socket",
            socket_->c_str(), "--quiet", "--breaker-attempts", "1000", "--rate-burst", "100000",
            "--rate-per-minute", "100000", nullptr);
      _exit(127);
    }
    bool up = false;
    for (int i = 0; i < 200 && !up; ++i) {
      std::string error;
      up = DaemonCall(*socket_, json{{"op", "status"}}, 200, &error).has_value();
      if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(up) << "the daemon did not start";
    alice_ = new std::string(AddApprover("alice"));
    bob_ = new std::string(AddApprover("bob"));
    Output token =
        Shell(Env() + DUALKEY_BINARY + " token add agent1 --scope pg --json --state-dir " +
              Quote(state_->string()));
    ASSERT_EQ(token.status, 0) << token.out;
    token_ = new std::string(json::parse(token.out.substr(token.out.find('{')))["token"]);
    Output http_only =
        Shell(Env() + DUALKEY_BINARY + " token add webonly --scope http --state-dir " +
              Quote(state_->string()));
    ASSERT_EQ(http_only.status, 0) << http_only.out;

    // A self-signed certificate for TLS to clients.
    const std::string cert = (*state_ / "cert.pem").string(), key = (*state_ / "key.pem").string();
    Output made =
        Shell("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout " +
              Quote(key) + " -out " + Quote(cert));
    ASSERT_EQ(made.status, 0) << made.out;

    proxy_ = new Child();
    std::string line;
    ASSERT_TRUE(proxy_->Start(
        {DUALKEY_BINARY, "pg-proxy", "--listen", "127.0.0.1:0", "--upstream",
         "postgresql://app@127.0.0.1:" + std::to_string(pg_->port()) + "?" + *upstream_query_,
         "--socket", *socket_, "--state-dir", state_->string(), "--tls-cert", cert, "--tls-key",
         key, "--hold-rows-over", "1000", "--quiet", FastPathOption()},
        {"PGPASSWORD=real-secret"}, &line));
    proxy_port_ = PortFromListening(line);
    ASSERT_GT(proxy_port_, 0) << line;
  }

  static void TearDownTestSuite() {
    if (proxy_) proxy_->Stop();
    if (daemon_pid_ > 0) {
      kill(daemon_pid_, SIGTERM);
      int status;
      waitpid(daemon_pid_, &status, 0);
      daemon_pid_ = -1;
    }
    if (state_) fs::remove_all(*state_);
    if (real_home_) setenv("HOME", real_home_->c_str(), 1);
    // Each suite of the binary makes its own: nothing is left for the next
    // one, or for LeakSanitizer when the suites run in one process.
    auto release = [](auto*& owned) {
      delete owned;
      owned = nullptr;
    };
    release(proxy_);
    release(daemon_);
    release(pg_);
    release(state_);
    release(socket_);
    release(token_);
    release(alice_);
    release(bob_);
    release(real_home_);
    release(upstream_query_);
  }

  // DUALKEY_TEST_NO_FAST_PATH=1: every session on the coroutines, to run
  // the suite both ways.
  static std::string FastPathOption() {
    const char* no_fast_path = std::getenv("DUALKEY_TEST_NO_FAST_PATH");
    return no_fast_path != nullptr && *no_fast_path == '1' ? "--no-fast-path" : "--threads=1";
  }
  // --tls-cert and --tls-key of the proxies' certificate for their clients.
  static std::vector<std::string> ClientTlsOptions() {
    return {"--tls-cert", (*state_ / "cert.pem").string(), "--tls-key",
            (*state_ / "key.pem").string()};
  }

  void SetUp() override {
    if (!pg_->ok()) GTEST_SKIP() << pg_->error();
  }

  static std::string Env() {
    return "HOME=" + Quote((*state_ / "home").string()) + " DUALKEY_SOCKET=" + Quote(*socket_) +
           " DUALKEY_STATE_DIR=" + Quote(state_->string()) + " ";
  }

  static std::string AddApprover(const std::string& name) {
    if (alice_ != nullptr) {
      // Later approvers need an approver's code through the daemon; the
      // rounds of Approve() below use every code alice has, so this
      // harness writes the second one straight into its own store.
      std::string error, secret = dualkey::approval::NewTotpSecret();
      auto store = OpenOrNull((*state_ / "state.sqlite3").string(), &error);
      EXPECT_TRUE(store && Ok(store->AddApprover(name, secret), &error)) << error;
      return secret;
    }
    Output added = Shell(Env() + DUALKEY_BINARY + " approver add " + name + " --state " +
                         Quote(state_->string()));
    EXPECT_EQ(added.status, 0) << added.out;
    const std::size_t at = added.out.find("secret=");
    const std::size_t end = added.out.find('&', at);
    return added.out.substr(at + 7, end - at - 7);
  }

  // Each approver's TOTP steps must rise (the daemon refuses a step at or
  // below the last one it accepted from that approver) and lie within one
  // step of the daemon's clock: pick the approver whose next usable step is
  // lowest; step now-1 only while the daemon cannot cross into now+1 before
  // it checks; when both approvers have spent now+1, wait for the next step.
  static bool Approve(const std::string& id) {
    long long* last = approve_last_;  // last step used, per approver
    int who = -1;
    long long step = 0;
    for (;;) {
      const long long now = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
      const long long current = now / 30;
      const long long lowest = now % 30 < 25 ? current - 1 : current;
      for (int candidate : {0, 1}) {
        const long long s = std::max(last[candidate] + 1, lowest);
        if (s <= current + 1 && (who < 0 || s < step)) {
          who = candidate;
          step = s;
        }
      }
      if (who >= 0) break;
      std::this_thread::sleep_for(std::chrono::seconds(30 - now % 30));
    }
    last[who] = step;
    const std::string& secret = who == 0 ? *alice_ : *bob_;
    const char* name = who == 0 ? "alice" : "bob";
    Output approved = Shell(Env() + DUALKEY_BINARY + " approve " + id + " --as " + name +
                            " --code " + dualkey::approval::TotpCode(secret, step * 30));
    EXPECT_EQ(approved.status, 0) << approved.out;
    return approved.status == 0;
  }

  std::string ProxyUri(const std::string& user = "agent1", const std::string& db = "shop",
                       const std::string& sslmode = "disable", int port = 0) {
    return "postgresql://" + user + "@127.0.0.1:" + std::to_string(port ? port : proxy_port_) +
           "/" + db + "?sslmode=" + sslmode;
  }

  PGconn* Connect(const std::string& password, const std::string& sslmode = "disable",
                  int port = 0) {
    const std::string conninfo =
        ProxyUri("agent1", "shop", sslmode, port) + "&password=" + password + "&connect_timeout=10";
    return PQconnectdb(conninfo.c_str());
  }

  // Result status and SQLSTATE ("" on success) of one statement.
  static std::pair<std::string, std::string> Exec(PGconn* conn, const std::string& sql,
                                                  std::string* message = nullptr) {
    PGresult* r = PQexec(conn, sql.c_str());
    const ExecStatusType status = PQresultStatus(r);
    std::string code;
    if (status == PGRES_FATAL_ERROR) {
      const char* c = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      code = c ? c : "?";
      if (message) *message = PQresultErrorMessage(r);
    }
    std::string value = PQntuples(r) > 0 && PQnfields(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    PQclear(r);
    return {value, code};
  }

  static std::string ApprovalId(const std::string& message) {
    std::smatch m;
    static const std::regex re("approval ([A-Za-z0-9_-]+)");
    return std::regex_search(message, m, re) ? std::string(m[1]) : std::string();
  }

  Output Psql(const std::string& args, const std::string& input = "") {
    std::string command = "PGPASSWORD=" + Quote(*token_) + " PGCONNECT_TIMEOUT=10 /usr/bin/psql " +
                          Quote(ProxyUri()) + " -X -v ON_ERROR_STOP=1 -At " + args;
    if (!input.empty()) {
      const std::string file = (*state_ / "psql-input").string();
      std::ofstream(file) << input;
      command += " < " + Quote(file);
    }
    return Shell(command);
  }

  // --- more of the same world ------------------------------------------------
  // The database directly, as its owner (bypassing the proxy).
  static std::string Direct(const std::string& db) {
    return "postgresql://dualkey@127.0.0.1:" + std::to_string(pg_->port()) + "/" + db;
  }
  static Output DirectSql(const std::string& db, const std::string& sql) {
    return Shell("/usr/bin/psql " + Quote(Direct(db)) + " -X -At -v ON_ERROR_STOP=1 -c " +
                 Quote(sql));
  }
  // The daemon's audit log, all of it.
  static std::string AuditLog(const fs::path& state = fs::path()) {
    std::ifstream in((state.empty() ? *state_ : state) / "audit.jsonl");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  // The audit log's records: each record's fields, with its "kind".
  // (as audit::Read gives them: each decision of a batch as a "decision").
  static std::vector<json> AuditRecords(const fs::path& state = fs::path()) {
    std::vector<json> records;
    for (json& entry :
         test_support::AuditEntries(((state.empty() ? *state_ : state) / "audit.jsonl").string())) {
      if (!entry["fields"].is_object()) continue;
      json fields = std::move(entry["fields"]);
      fields["kind"] = entry.value("kind", "");
      records.push_back(std::move(fields));
    }
    return records;
  }
  // The first allow record whose input contains `input_part` and that
  // carries `key` ("fact", "snapshot_id"); null when there is none.
  static json AllowedBy(const std::string& input_part, const std::string& key) {
    for (const json& r : AuditRecords())
      if (r.value("decision", "") == "allow" && r.contains(key) &&
          r.value("input", "").find(input_part) != std::string::npos)
        return r;
    return json();
  }
  // Ids of the actions waiting for a human.
  static std::vector<std::string> PendingIds(const std::string& socket = "") {
    std::string error;
    std::optional<json> reply =
        DaemonCall(socket.empty() ? *socket_ : socket, json{{"op", "pending"}}, 2000, &error);
    std::vector<std::string> ids;
    if (reply && reply->contains("requests"))
      for (const json& r : (*reply)["requests"]) ids.push_back(r.value("id", ""));
    return ids;
  }
  // The vault's snapshots (JSON objects from `vault ls --json`).
  static json VaultSnapshots(const fs::path& vault = fs::path()) {
    Output listed = Shell(std::string(DUALKEY_BINARY) + " vault ls --json --vault " +
                          Quote((vault.empty() ? *state_ / "vault" : vault).string()));
    const std::size_t at = listed.out.find('[');
    if (listed.status != 0 || at == std::string::npos) return json::array();
    json parsed = json::parse(listed.out.substr(at), nullptr, false);
    return parsed.is_array() ? parsed : json::array();
  }
  // Another proxy on the same database and daemon, with `extra` options;
  // its port, or -1.
  static int StartProxy(Child& proxy, const std::vector<std::string>& extra,
                        const std::string& upstream_user = "app",
                        const std::string& password = "real-secret",
                        const std::string& socket = "") {
    std::vector<std::string> args = {DUALKEY_BINARY,
                                     "pg-proxy",
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--upstream",
                                     "postgresql://" + upstream_user + "@127.0.0.1:" +
                                         std::to_string(pg_->port()) + "?" + *upstream_query_,
                                     "--socket",
                                     socket.empty() ? *socket_ : socket,
                                     "--state-dir",
                                     state_->string(),
                                     "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string line;
    if (!proxy.Start(args, {"PGPASSWORD=" + password}, &line)) return -1;
    return PortFromListening(line);
  }
  // A proxy to the given upstream URI (role app), on the suite's daemon,
  // with `extra` options; its port, or -1.
  static int StartProxyTo(Child& proxy, const std::string& upstream,
                          const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {DUALKEY_BINARY, "pg-proxy",       "--listen", "127.0.0.1:0",
                                     "--upstream",   upstream,         "--socket", *socket_,
                                     "--state-dir",  state_->string(), "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string line;
    if (!proxy.Start(args, {"PGPASSWORD=real-secret"}, &line)) return -1;
    return PortFromListening(line);
  }

  static inline std::string* real_home_ = nullptr;
  static inline std::string* upstream_query_ = nullptr;
  static inline long long approve_last_[2] = {-1, -1};
  static inline PgHarness* pg_ = nullptr;
  static inline fs::path* state_ = nullptr;
  static inline std::string* socket_ = nullptr;
  static inline std::string* token_ = nullptr;
  static inline std::string* alice_ = nullptr;
  static inline std::string* bob_ = nullptr;
  static inline Child* daemon_ = nullptr;
  static inline Child* proxy_ = nullptr;
  static inline pid_t daemon_pid_ = -1;
  static inline int proxy_port_ = -1;
};

// Raw protocol on a session libpq has opened: several messages in one
// write, so the fast path meets a held statement in the middle of a buffer.
struct RawReply {
  std::vector<std::pair<char, std::string>> messages;  // type, body
  bool closed = false;
};

inline RawReply SendRaw(int fd, const std::vector<std::string>& writes, int ready_for_query,
                        int pause_ms = 0) {
  for (const std::string& bytes : writes) {
    EXPECT_EQ(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
    if (pause_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
  }
  RawReply reply;
  std::string buffer;
  int ready = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (ready < ready_for_query && std::chrono::steady_clock::now() < deadline) {
    char chunk[8192];
    timeval tv{0, 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n == 0) {
      reply.closed = true;
      break;
    }
    if (n < 0) continue;
    buffer.append(chunk, static_cast<std::size_t>(n));
    while (buffer.size() >= 5) {
      const std::size_t len = dualkey::pgproxy::wire::ReadInt32(buffer.data() + 1);
      if (buffer.size() < len + 1) break;
      reply.messages.emplace_back(buffer[0], buffer.substr(5, len - 4));
      if (buffer[0] == 'Z') ++ready;
      buffer.erase(0, len + 1);
    }
  }
  return reply;
}

inline std::string QueryMessage(const std::string& sql) {
  std::string m = "Q";
  dualkey::pgproxy::wire::AppendInt32(m, static_cast<std::int32_t>(sql.size() + 5));
  return m + sql + std::string(1, '\0');
}

// The SQLSTATE of an ErrorResponse body.
inline std::string ErrorCode(const std::string& body) {
  for (std::size_t i = 0; i < body.size() && body[i] != '\0';) {
    const std::size_t end = body.find('\0', i + 1);
    if (body[i] == 'C') return body.substr(i + 1, end - i - 1);
    i = end + 1;
  }
  return "";
}

}  // namespace dualkey::pgtest
