// Two `dualkey serve` processes on one real PostgreSQL store, as two machines
// of a team would run them: an approval granted through one is honoured by
// the other, and a single-use approval is consumed exactly once even when
// both daemons race for it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "../approval/pg_harness.h"
#include "../approval/store_testing.h"
#include "approval/approval.h"
#include "audit/audit.h"
#include "client/client.h"
#include "daemon/daemon.h"

namespace {

using dualkey::testing::Ok;
using dualkey::testing::OpenOrNull;

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
using nlohmann::json;

class SharedStore : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!pg_.ok()) {
      if (pg_.binaries_missing()) GTEST_SKIP() << "PostgreSQL is not installed";
      FAIL() << pg_.error();
    }
    uri_ = pg_.CreateDatabase("shared_store");
    ASSERT_FALSE(uri_.empty()) << pg_.error();
    root_ =
        fs::path(DUALKEY_BINARY).parent_path() / ("shared-store-test-" + std::to_string(getpid()));
    fs::remove_all(root_);
    for (int i = 0; i < 2; ++i) {
      fs::path state = root_ / ("daemon" + std::to_string(i));
      fs::create_directories(state);
      sockets_[i] = (state / "d.sock").string();
      pids_[i] = Start(state, sockets_[i]);
    }
    secret_ = AddApprover("alice");
  }

  void TearDown() override {
    for (pid_t pid : pids_) {
      if (pid <= 0) continue;
      kill(pid, SIGTERM);
      int status;
      waitpid(pid, &status, 0);
    }
    fs::remove_all(root_);
  }

  pid_t Start(const fs::path& state, const std::string& socket) {
    pid_t pid = fork();
    if (pid == 0) {
      std::vector<std::string> args = {
          DUALKEY_BINARY, "serve", "--state", state.string(),       "--store", uri_,
          "--socket",     socket,  "--quiet", "--breaker-attempts", "1000"};
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    for (int i = 0; i < 250; ++i) {
      std::string error;
      if (DaemonCall(socket, json{{"op", "status"}}, 200, &error)) return pid;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "a daemon did not start";
    return pid;
  }

  std::string AddApprover(const std::string& name) {
    std::string command = std::string(DUALKEY_BINARY) + " approver add " + name + " --store '" +
                          uri_ + "' --state '" + (root_ / "daemon0").string() + "' 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    std::string out;
    std::array<char, 4096> buffer;
    std::size_t n;
    while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
    EXPECT_EQ(pclose(pipe), 0) << out;
    std::size_t at = out.find("secret=");
    EXPECT_NE(at, std::string::npos) << out;
    return out.substr(at + 7, out.find('&', at) - at - 7);
  }

  json Ask(int daemon, json request) {
    std::string error;
    auto reply = DaemonCall(sockets_[daemon], request, 10000, &error);
    EXPECT_TRUE(reply.has_value()) << error;
    return reply.value_or(json::object());
  }

  json Check(int daemon, const std::string& command) {
    return Ask(daemon, json{{"op", "check"},
                            {"channel", "shell"},
                            {"input", command},
                            {"cwd", "/home/dev/app"},
                            {"home", "/home/dev"},
                            {"agent", "claude"}});
  }

  std::string Code() {
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    return dualkey::approval::TotpCode(secret_, now);
  }

  dualkey::testing::PgHarness pg_;
  std::string uri_;
  fs::path root_;
  std::array<std::string, 2> sockets_;
  std::array<pid_t, 2> pids_{-1, -1};
  std::string secret_;
};

TEST_F(SharedStore, ApprovalOnOneDaemonIsConsumedOnceAcrossBoth) {
  json held = Check(0, "rm -rf /srv/data");
  ASSERT_EQ(held["decision"], "hold") << held.dump();
  const std::string id = held["approval_id"];
  // The other daemon sees the same pending request.
  json pending = Ask(1, json{{"op", "pending"}});
  ASSERT_EQ(pending["requests"].size(), 1u) << pending.dump();
  EXPECT_EQ(pending["requests"][0]["id"], id);

  json approved =
      Ask(1, json{{"op", "approve"}, {"id", id}, {"approver", "alice"}, {"totp", Code()}});
  ASSERT_EQ(approved["ok"], true) << approved.dump();

  // Both daemons race for the single-use approval, several times each.
  std::vector<std::future<json>> racers;
  for (int i = 0; i < 8; ++i)
    racers.push_back(
        std::async(std::launch::async, [&, i] { return Check(i % 2, "rm -rf /srv/data"); }));
  int allowed = 0;
  for (auto& racer : racers) {
    json reply = racer.get();
    if (reply["decision"] == "allow") {
      ++allowed;
      EXPECT_EQ(reply["approval_id"], id);
    } else {
      EXPECT_EQ(reply["decision"], "hold") << reply.dump();
    }
  }
  EXPECT_EQ(allowed, 1);
}

TEST_F(SharedStore, ABreakerTrippedOnOneDaemonFreezesTheAgentOnTheOther) {
  // Restart daemon 0 with a breaker of 2 attempts.
  kill(pids_[0], SIGTERM);
  int status;
  waitpid(pids_[0], &status, 0);
  pid_t pid = fork();
  if (pid == 0) {
    std::string state = (root_ / "daemon0").string();
    execl(DUALKEY_BINARY, DUALKEY_BINARY, "serve", "--state", state.c_str(), "--store",
          uri_.c_str(), "--socket", sockets_[0].c_str(), "--quiet", "--breaker-attempts", "2",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  pids_[0] = pid;
  for (int i = 0; i < 250; ++i) {
    std::string error;
    if (DaemonCall(sockets_[0], json{{"op", "status"}}, 200, &error)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Check(0, "rm -rf /srv/a");
  Check(0, "rm -rf /srv/b");
  // Frozen in the shared store: daemon 1 holds even a small delete the
  // policy would otherwise allow.
  EXPECT_EQ(Check(1, "ls -la")["decision"], "allow");
  json frozen = Check(1, "rm notes.txt");
  EXPECT_EQ(frozen["decision"], "hold") << frozen.dump();
  EXPECT_NE(frozen["reason"].get<std::string>().find("breaker"), std::string::npos);
}

// Guessing codes against two daemons at once: the failures are counted in
// the shared store, so both refuse after the same handful.
TEST_F(SharedStore, GuessesSpreadOverBothDaemonsShareOneLockout) {
  json held = Check(0, "rm -rf /srv/guess");
  const std::string id = held["approval_id"];
  ASSERT_FALSE(id.empty()) << held.dump();
  std::atomic<int> checked{0}, refused_unseen{0}, total{0};
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> guessers;
  for (int g = 0; g < 4; ++g) {
    guessers.emplace_back([&, g] {
      for (int i = 0; std::chrono::steady_clock::now() - started < std::chrono::milliseconds(1500);
           ++i) {
        char code[8];
        std::snprintf(code, sizeof code, "%06d", (g * 250013 + i * 104729) % 1000000);
        json reply =
            Ask(g % 2, json{{"op", "approve"}, {"id", id}, {"approver", "alice"}, {"totp", code}});
        ++total;
        const std::string error = reply.value("error", "");
        if (error.find("wrong or expired") != std::string::npos) ++checked;
        if (error.find("too many wrong codes") != std::string::npos) ++refused_unseen;
        EXPECT_NE(reply["ok"], true) << code;
      }
    });
  }
  for (auto& t : guessers) t.join();
  std::printf("[ figures  ] %d guesses at two daemons: %d checked, %d refused unseen\n",
              total.load(), checked.load(), refused_unseen.load());
  EXPECT_EQ(checked.load(), 5);
  EXPECT_EQ(refused_unseen.load(), total.load() - 5);
  // The right code waits on either daemon.
  for (int d = 0; d < 2; ++d) {
    json right =
        Ask(d, json{{"op", "approve"}, {"id", id}, {"approver", "alice"}, {"totp", Code()}});
    EXPECT_NE(right.value("error", "").find("too many wrong codes"), std::string::npos) << right;
  }
  // Each daemon audited the failures it saw: five in all.
  int audited = 0;
  for (int d = 0; d < 2; ++d) {
    auto entries =
        dualkey::audit::Read((root_ / ("daemon" + std::to_string(d)) / "audit.jsonl").string(), 0);
    ASSERT_TRUE(entries.ok()) << entries.status().ToString();
    for (const auto& entry : *entries) audited += entry.kind == "auth_failed";
  }
  EXPECT_EQ(audited, 5);
}

// Each daemon's signed checkpoints reach the shared store, off its host.
TEST_F(SharedStore, AuditCheckpointsAreKeptInTheSharedStore) {
  Check(0, "ls");
  kill(pids_[0], SIGTERM);
  int status;
  waitpid(pids_[0], &status, 0);
  pids_[0] = -1;
  const std::string log = (root_ / "daemon0" / "audit.jsonl").string();
  dualkey::audit::VerifyReport report = dualkey::audit::Verify(log);
  ASSERT_TRUE(report.ok);
  std::string error;
  auto store = OpenOrNull(uri_, &error);
  ASSERT_NE(store, nullptr) << error;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  dualkey::approval::AuditSeal seal;
  bool found = false;
  ASSERT_TRUE(Ok(
      store->LastAuditSeal(std::string(host) + ":" + fs::absolute(log).lexically_normal().string(),
                           &seal, &found),
      &error))
      << error;
  ASSERT_TRUE(found);
  EXPECT_EQ(seal.seq, report.last_checkpoint_seq);
  EXPECT_EQ(seal.hash, report.last_hash);
  EXPECT_EQ(seal.public_key, report.public_key);
}

}  // namespace
