// The pump (proxy/pg/internal/pump.h) and the TLS engine it shares with the
// coroutines (internal/tls.h), on real sockets and real TLS: messages pass
// both ways, plain and TLS alike; a statement the session does not let
// through hands the session back with its engines and the unforwarded bytes;
// a session coming back brings its state and bytes; bytes an engine already
// holds are read without the socket waking the pump; back-pressure loses
// nothing.
#include "proxy/pg/internal/pump.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "proxy/pg/internal/tls.h"
#include "proxy/pg/internal/wire.h"

namespace dualkey::pgproxy {
namespace {

using namespace std::chrono_literals;

// A self-signed certificate for "localhost", made here, and the two contexts.
struct TlsContexts {
  SSL_CTX* server = nullptr;
  SSL_CTX* client = nullptr;    // does not verify
  SSL_CTX* checking = nullptr;  // verifies against the certificate
  TlsContexts() {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509_sign(cert, key, EVP_sha256());
    server = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(server, cert);
    SSL_CTX_use_PrivateKey(server, key);
    client = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(client, SSL_VERIFY_NONE, nullptr);
    checking = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(checking, SSL_VERIFY_PEER, nullptr);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(checking), cert);
    X509_free(cert);
    EVP_PKEY_free(key);
  }
  ~TlsContexts() {
    SSL_CTX_free(server);
    SSL_CTX_free(client);
    SSL_CTX_free(checking);
  }
};

TlsContexts& Contexts() {
  static TlsContexts* contexts = new TlsContexts();
  return *contexts;
}

// Runs both handshakes in memory; the status each ended with.
std::pair<TlsEngine::Status, TlsEngine::Status> Handshake(TlsEngine& client, TlsEngine& server) {
  TlsEngine::Status a = TlsEngine::Status::kWantRead, b = TlsEngine::Status::kWantRead;
  for (int round = 0; round < 10; ++round) {
    a = client.Handshake();
    std::string bytes;
    client.TakeOutput(bytes);
    server.Feed(bytes.data(), bytes.size());
    if (a == TlsEngine::Status::kError) break;
    b = server.Handshake();
    bytes.clear();
    server.TakeOutput(bytes);
    client.Feed(bytes.data(), bytes.size());
    if (b == TlsEngine::Status::kError) break;
    if (a == TlsEngine::Status::kOk && b == TlsEngine::Status::kOk) break;
  }
  return {a, b};
}

// The test's end of a connection: blocking, TLS or not.
struct Peer {
  int fd = -1;
  std::unique_ptr<TlsEngine> tls;

  void Send(const std::string& bytes) {
    std::string wire;
    if (tls) {
      ASSERT_TRUE(tls->Write(bytes.data(), bytes.size())) << tls->error();
      tls->TakeOutput(wire);
    } else {
      wire = bytes;
    }
    std::size_t sent = 0;
    while (sent < wire.size()) {
      const ssize_t n = send(fd, wire.data() + sent, wire.size() - sent, MSG_NOSIGNAL);
      ASSERT_GT(n, 0) << strerror(errno);
      sent += static_cast<std::size_t>(n);
    }
  }

  // Exactly `size` bytes, or what came before `timeout` passed.
  std::string Receive(std::size_t size, std::chrono::milliseconds timeout = 5000ms) {
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<char> buffer(64 * 1024);
    while (got.size() < size) {
      if (tls) {
        std::size_t n = 0;
        const std::size_t want = std::min(buffer.size(), size - got.size());
        if (tls->Read(buffer.data(), want, &n) == TlsEngine::Status::kOk) {
          got.append(buffer.data(), n);
          continue;
        }
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) break;
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      const std::size_t want = tls ? buffer.size() : std::min(buffer.size(), size - got.size());
      const ssize_t n = recv(fd, buffer.data(), want, 0);
      if (n <= 0) break;
      if (tls)
        tls->Feed(buffer.data(), static_cast<std::size_t>(n));
      else
        got.append(buffer.data(), static_cast<std::size_t>(n));
    }
    return got;
  }
};

// What the pump calls back; records it for the test thread.
class RecordingSession : public PumpSession {
 public:
  bool ForwardsNow(std::string_view sql, const std::vector<std::int32_t>*) override {
    std::lock_guard lock(mutex_);
    seen_.emplace_back(sql);
    threads_.push_back(std::this_thread::get_id());
    return sql.find("DROP") == std::string_view::npos;
  }
  void Resume(PumpSide client, PumpSide upstream, std::string client_bytes,
              const PumpHandBack& state) override {
    std::lock_guard lock(mutex_);
    resumed_ = Resumed{std::move(client), std::move(upstream), std::move(client_bytes), state};
    done_.notify_all();
  }
  void Finished(const std::string& why) override {
    std::lock_guard lock(mutex_);
    finished_ = why;
    done_.notify_all();
  }

  struct Resumed {
    PumpSide client, upstream;
    std::string client_bytes;
    PumpHandBack state;
  };
  // Waits for Resume; nullopt if it did not come (or Finished did).
  std::optional<Resumed> WaitResumed() {
    std::unique_lock lock(mutex_);
    done_.wait_for(lock, 5s, [&] { return resumed_.has_value() || finished_.has_value(); });
    std::optional<Resumed> out = std::move(resumed_);
    resumed_.reset();
    return out;
  }
  std::optional<std::string> WaitFinished() {
    std::unique_lock lock(mutex_);
    done_.wait_for(lock, 5s, [&] { return finished_.has_value(); });
    return finished_;
  }
  std::vector<std::string> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  // The threads ForwardsNow ran on, one per call.
  std::vector<std::thread::id> threads() {
    std::lock_guard lock(mutex_);
    return threads_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  std::vector<std::string> seen_;
  std::vector<std::thread::id> threads_;
  std::optional<Resumed> resumed_;
  std::optional<std::string> finished_;
};

// One session in a pump: the client's end, the server's end, and the pump's.
class PumpTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    std::string error;
    pump_ = Pump::Start(1 << 20, 1, &error);
    ASSERT_NE(pump_, nullptr) << error;
    int client_pair[2], upstream_pair[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, client_pair), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, upstream_pair), 0);
    client_.fd = client_pair[0];
    pump_client_.fd = client_pair[1];
    server_.fd = upstream_pair[0];
    pump_upstream_.fd = upstream_pair[1];
    for (int fd : {pump_client_.fd, pump_upstream_.fd})
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (!tls()) return;
    // As after the handshakes: the pump serves the client and is the
    // server's client.
    client_.tls = TlsEngine::Start(Contexts().client, TlsEngine::Role::kClient, "", &error);
    pump_client_.tls = TlsEngine::Start(Contexts().server, TlsEngine::Role::kServer, "", &error);
    pump_upstream_.tls = TlsEngine::Start(Contexts().client, TlsEngine::Role::kClient, "", &error);
    server_.tls = TlsEngine::Start(Contexts().server, TlsEngine::Role::kServer, "", &error);
    ASSERT_TRUE(client_.tls && pump_client_.tls && pump_upstream_.tls && server_.tls) << error;
    auto ok = std::make_pair(TlsEngine::Status::kOk, TlsEngine::Status::kOk);
    ASSERT_EQ(Handshake(*client_.tls, *pump_client_.tls), ok);
    ASSERT_EQ(Handshake(*pump_upstream_.tls, *server_.tls), ok);
  }
  void TearDown() override {
    pump_.reset();  // closes what it still holds
    for (int fd : {client_.fd, server_.fd}) close(fd);
  }
  bool tls() const { return GetParam(); }

  void AddToPump(const PumpHandBack& state = {}, std::string client_bytes = {}) {
    pump_->Add(session_, std::move(pump_client_), std::move(pump_upstream_), state,
               std::move(client_bytes));
  }

  std::unique_ptr<Pump> pump_;
  std::shared_ptr<RecordingSession> session_ = std::make_shared<RecordingSession>();
  Peer client_, server_;
  PumpSide pump_client_, pump_upstream_;
};

std::string Answer(char status) {
  return wire::Builder('C').CString("SELECT 1").Finish() + wire::BuildReadyForQuery(status);
}

TEST_P(PumpTest, StatementsAndAnswersPassBothWays) {
  AddToPump();
  for (int i = 0; i < 20; ++i) {
    const std::string query = wire::BuildQuery("SELECT " + std::to_string(i));
    client_.Send(query);
    EXPECT_EQ(server_.Receive(query.size()), query);
    server_.Send(Answer('I'));
    EXPECT_EQ(client_.Receive(Answer('I').size()), Answer('I'));
  }
  EXPECT_EQ(session_->seen().size(), 20u);
  // Records (16 KiB each under TLS) split a statement and its answer.
  // (Sent from threads: more than the sockets hold.)
  const std::string big = wire::BuildQuery("SELECT '" + std::string(300 * 1024, 'x') + "'");
  std::thread asking([&] { client_.Send(big); });
  EXPECT_EQ(server_.Receive(big.size()), big);
  asking.join();
  const std::string rows = wire::Builder('D').Raw(std::string(2 << 20, 'y')).Finish();
  std::thread answering([&] { server_.Send(rows); });
  EXPECT_EQ(client_.Receive(rows.size()), rows);
  answering.join();
}

TEST_P(PumpTest, AStatementItDoesNotLetThroughHandsTheSessionBackWithItsEngines) {
  AddToPump();
  const std::string first = wire::BuildQuery("SELECT 1");
  const std::string held = wire::BuildQuery("DROP TABLE t");
  const std::string after = wire::BuildQuery("SELECT 2");
  client_.Send(first + held + after);
  EXPECT_EQ(server_.Receive(first.size()), first);
  std::optional<RecordingSession::Resumed> back = session_->WaitResumed();
  ASSERT_TRUE(back.has_value());
  // From the held statement on, nothing forwarded; the server owes one answer.
  EXPECT_EQ(back->client_bytes, held + after);
  EXPECT_EQ(back->state.syncs_outstanding, 1);
  EXPECT_EQ(server_.Receive(1, 200ms), "");
  // The sockets and the TLS state came back whole: both still speak.
  ASSERT_EQ(back->client.tls != nullptr, tls());
  ASSERT_EQ(back->upstream.tls != nullptr, tls());
  Peer upstream{back->upstream.fd, std::move(back->upstream.tls)};
  Peer client{back->client.fd, std::move(back->client.tls)};
  upstream.Send(after);
  EXPECT_EQ(server_.Receive(after.size()), after);
  server_.Send(Answer('T'));
  EXPECT_EQ(upstream.Receive(Answer('T').size()), Answer('T'));
  client.Send(Answer('T'));
  EXPECT_EQ(client_.Receive(Answer('T').size()), Answer('T'));
  close(upstream.fd);
  close(client.fd);
}

TEST_P(PumpTest, ASessionComingBackBringsItsStateAndTheBytesItHasRead) {
  // The coroutines read the start of a statement and were in a transaction
  // with one answer owed.
  const std::string query = wire::BuildQuery("SELECT 42");
  PumpHandBack state;
  state.transaction_status = 'T';
  state.syncs_outstanding = 1;
  AddToPump(state, query.substr(0, 3));
  client_.Send(query.substr(3));
  EXPECT_EQ(server_.Receive(query.size()), query);
  // The owed answer and this one pass; then a held statement hands back.
  server_.Send(Answer('T') + Answer('T'));
  EXPECT_EQ(client_.Receive(2 * Answer('T').size()), Answer('T') + Answer('T'));
  client_.Send(wire::BuildQuery("DROP TABLE t"));
  std::optional<RecordingSession::Resumed> back = session_->WaitResumed();
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->state.transaction_status, 'T');
  EXPECT_EQ(back->state.syncs_outstanding, 0);
  close(back->client.fd);
  close(back->upstream.fd);
}

// The coroutines may have read (and the engine decrypted, or not yet) more
// than they used: the socket is quiet, the pump must still forward it.
TEST_P(PumpTest, BytesAnEngineAlreadyHoldsAreForwardedWithoutTheSocket) {
  if (!tls()) GTEST_SKIP() << "only an engine holds bytes the socket does not show";
  const std::string a = wire::BuildQuery("SELECT 'a'"), b = wire::BuildQuery("SELECT 'b'");
  ASSERT_TRUE(client_.tls->Write(a.data(), a.size()));
  ASSERT_TRUE(client_.tls->Write(b.data(), b.size()));
  std::string sealed;
  client_.tls->TakeOutput(sealed);
  pump_client_.tls->Feed(sealed.data(), sealed.size());
  // And the server's answer waits in the upstream engine.
  const std::string answer = Answer('I');
  ASSERT_TRUE(server_.tls->Write(answer.data(), answer.size()));
  sealed.clear();
  server_.tls->TakeOutput(sealed);
  pump_upstream_.tls->Feed(sealed.data(), sealed.size());
  AddToPump();
  EXPECT_EQ(server_.Receive(a.size() + b.size()), a + b);
  EXPECT_EQ(client_.Receive(answer.size()), answer);
}

// A peer that does not read: the pump stops reading the other side, keeps
// what it could not send, and loses nothing once the peer reads again.
TEST_P(PumpTest, BackPressureLosesNothing) {
  AddToPump();
  client_.Send(wire::BuildQuery("COPY t FROM STDIN"));
  std::string copy;
  for (int i = 0; copy.size() < (6 << 20); ++i)
    copy += wire::Builder('d').Raw(std::string(7000 + i % 5000, 'a' + i % 26)).Finish();
  std::thread sender([&] { client_.Send(copy); });
  std::this_thread::sleep_for(300ms);  // the server's socket fills up
  const std::string query = wire::BuildQuery("COPY t FROM STDIN");
  EXPECT_EQ(server_.Receive(query.size()), query);
  EXPECT_EQ(server_.Receive(copy.size(), 20s), copy);
  sender.join();
  // And the other way.
  std::string rows;
  for (int i = 0; rows.size() < (6 << 20); ++i)
    rows += wire::Builder('D').Raw(std::string(9000 + i % 3000, 'A' + i % 26)).Finish();
  std::thread answering([&] { server_.Send(rows + Answer('I')); });
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(client_.Receive(rows.size() + Answer('I').size(), 20s), rows + Answer('I'));
  answering.join();
}

TEST_P(PumpTest, TheClientsTerminateEndsTheSessionQuietly) {
  AddToPump();
  client_.Send(wire::Builder('X').Finish());
  std::optional<std::string> why = session_->WaitFinished();
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(*why, "");
  EXPECT_EQ(server_.Receive(5), wire::Builder('X').Finish());
}

// Several threads: each session goes to the one with the fewest sessions
// and is served there alone (its statements decided on that thread, in
// order), while the other threads serve theirs at the same time; a session
// that leaves and comes back may land on another thread and loses nothing.
TEST(PumpThreads, SessionsSpreadOverTheThreadsAndEachKeepsItsOrder) {
  std::string error;
  std::unique_ptr<Pump> pump = Pump::Start(1 << 20, 3, &error);
  ASSERT_NE(pump, nullptr) << error;
  constexpr int kSessions = 6;
  struct One {
    std::shared_ptr<RecordingSession> session = std::make_shared<RecordingSession>();
    Peer client, server;
  };
  std::vector<One> all(kSessions);
  for (One& one : all) {
    int client_pair[2], upstream_pair[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, client_pair), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, upstream_pair), 0);
    one.client.fd = client_pair[0];
    one.server.fd = upstream_pair[0];
    for (int fd : {client_pair[1], upstream_pair[1]})
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    pump->Add(one.session, PumpSide{client_pair[1], nullptr}, PumpSide{upstream_pair[1], nullptr});
  }
  // Every session at once, from threads of their own.
  auto talk = [](One& one, int from, int to) {
    for (int i = from; i < to; ++i) {
      const std::string query = wire::BuildQuery("SELECT " + std::to_string(i));
      one.client.Send(query);
      EXPECT_EQ(one.server.Receive(query.size()), query);
      one.server.Send(Answer('I'));
      EXPECT_EQ(one.client.Receive(Answer('I').size()), Answer('I'));
    }
  };
  {
    std::vector<std::thread> talking;
    for (One& one : all) talking.emplace_back([&] { talk(one, 0, 200); });
    for (std::thread& t : talking) t.join();
  }
  std::map<std::thread::id, int> sessions_of;
  for (One& one : all) {
    const std::vector<std::string> seen = one.session->seen();
    ASSERT_EQ(seen.size(), 200u);
    for (int i = 0; i < 200; ++i) EXPECT_EQ(seen[i], "SELECT " + std::to_string(i));
    const std::vector<std::thread::id> threads = one.session->threads();
    EXPECT_TRUE(std::all_of(threads.begin(), threads.end(), [&](std::thread::id t) {
      return t == threads.front();
    })) << "a session is served by one thread while it is in the pump";
    ++sessions_of[threads.front()];
  }
  ASSERT_EQ(sessions_of.size(), 3u) << "three threads, each with sessions";
  for (const auto& [thread, sessions] : sessions_of) EXPECT_EQ(sessions, 2);

  // One leaves (a held statement) and comes back, and goes on where it was.
  One& first = all[0];
  first.client.Send(wire::BuildQuery("DROP TABLE t"));
  std::optional<RecordingSession::Resumed> back = first.session->WaitResumed();
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->client_bytes, wire::BuildQuery("DROP TABLE t"));
  pump->Add(first.session, std::move(back->client), std::move(back->upstream), back->state);
  talk(first, 200, 210);
  EXPECT_EQ(first.session->seen().back(), "SELECT 209");
  for (One& one : all) {
    close(one.client.fd);
    close(one.server.fd);
  }
}

INSTANTIATE_TEST_SUITE_P(PlainAndTls, PumpTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Tls" : "Plain";
                         });

TEST(TlsEngine, TheServersNameIsCheckedWhenTheContextVerifies) {
  auto connect = [](const std::string& name) {
    std::string error;
    auto client = TlsEngine::Start(Contexts().checking, TlsEngine::Role::kClient, name, &error);
    auto server = TlsEngine::Start(Contexts().server, TlsEngine::Role::kServer, "", &error);
    EXPECT_TRUE(client && server) << error;
    const auto [a, b] = Handshake(*client, *server);
    return std::make_pair(a, client->error());
  };
  EXPECT_EQ(connect("localhost").first, TlsEngine::Status::kOk);
  const auto [status, error] = connect("db.example.com");
  EXPECT_EQ(status, TlsEngine::Status::kError);
  EXPECT_NE(error.find("certificate verify failed"), std::string::npos) << error;
  // An address is checked as an address (the certificate names none).
  EXPECT_EQ(connect("127.0.0.1").first, TlsEngine::Status::kError);
}

TEST(TlsEngine, GarbageFromThePeerIsAnErrorNotACrash) {
  std::string error;
  auto server = TlsEngine::Start(Contexts().server, TlsEngine::Role::kServer, "", &error);
  ASSERT_TRUE(server) << error;
  const std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  server->Feed(junk.data(), junk.size());
  EXPECT_EQ(server->Handshake(), TlsEngine::Status::kError);
  EXPECT_FALSE(server->error().empty());
  char buffer[16];
  std::size_t n = 0;
  EXPECT_NE(server->Read(buffer, sizeof buffer, &n), TlsEngine::Status::kOk);
}

}  // namespace
}  // namespace dualkey::pgproxy
