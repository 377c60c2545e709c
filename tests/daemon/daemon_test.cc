// The daemon end to end, with the real binary: a real Unix socket, a real
// SQLite store and audit log in a temp state directory, TOTP codes computed
// from the approver's secret as a phone would.
#include "daemon/daemon.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "approval/approval.h"
#include "base/unix_socket.h"
#include "client/client.h"
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
using nlohmann::json;

using dualkey::test_support::Output;
using dualkey::test_support::Quote;

class Daemon : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = fs::path(DUALKEY_BINARY).parent_path() /
             ("server-test-" + std::to_string(getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(state_);
    fs::create_directories(state_ / "home");
    socket_ = (state_ / "d.sock").string();
    // The breaker would trip on the tests' own held attempts; its test sets it.
    Start({"--breaker-attempts", "1000"});
    secret_ = AddApprover("alice");
  }

  void TearDown() override {
    Stop(SIGTERM);
    fs::remove_all(state_);
  }

  void Start(std::vector<std::string> extra = {}) {
    if (!daemon_.Start(state_.string(), socket_, extra, 4000)) FAIL() << "the daemon did not start";
  }

  void Stop(int signal_number) { daemon_.Stop(signal_number); }

  Output Run(const std::string& args, const std::string& input = "") {
    std::string command = dualkey::test_support::CliCommand((state_ / "home").string(), socket_,
                                                            state_.string(), args);
    if (!input.empty()) {
      const std::string input_file = (state_ / "stdin").string();
      std::ofstream(input_file) << input;
      command += " < " + Quote(input_file);
    }
    return dualkey::test_support::Shell(command + " 2>&1");
  }

  // The first approver is enrolled by root (the test); later ones need an
  // existing approver's code (the previous step's, so alice's current one
  // stays unused for the test).
  std::string AddApprover(const std::string& name) {
    const std::string vouch = secret_.empty() ? "" : " --as alice --code " + Code(secret_, -1);
    Output added = Run("approver add " + name + vouch + " --state " + Quote(state_.string()));
    EXPECT_EQ(added.status, 0) << added.out;
    std::size_t at = added.out.find("secret=");
    EXPECT_NE(at, std::string::npos) << added.out;
    std::size_t end = added.out.find('&', at);
    return added.out.substr(at + 7, end - at - 7);
  }

  std::string Code(const std::string& secret, int step_offset = 0) {
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    return dualkey::approval::TotpCode(secret, now + step_offset * 30);
  }

  json Check(const std::string& command, const std::string& agent = "claude") {
    std::string error;
    auto reply = DaemonCall(socket_,
                            json{{"op", "check"},
                                 {"channel", "shell"},
                                 {"input", command},
                                 {"cwd", "/home/dev/app"},
                                 {"home", "/home/dev"},
                                 {"agent", agent}},
                            5000, &error);
    EXPECT_TRUE(reply.has_value()) << error;
    return reply.value_or(json::object());
  }

  std::string ClaudeHook(const std::string& command) {
    return json{{"session_id", "s"},
                {"hook_event_name", "PreToolUse"},
                {"tool_name", "Bash"},
                {"cwd", "/home/dev/app"},
                {"tool_input", {{"command", command}}}}
        .dump();
  }

  fs::path state_;
  std::string socket_;
  std::string secret_;
  dualkey::test_support::DaemonProcess daemon_;
};

TEST_F(Daemon, HarmlessCommandsAreAllowed) {
  EXPECT_EQ(Check("ls -la")["decision"], "allow");
}

TEST_F(Daemon, ApprovedActionPassesExactlyOnce) {
  json held = Check("rm -rf /srv/data");
  ASSERT_EQ(held["decision"], "hold") << held.dump();
  const std::string id = held["approval_id"];
  ASSERT_FALSE(id.empty());
  // Holding again before approval: the same pending request.
  EXPECT_EQ(Check("rm -rf /srv/data")["approval_id"], id);

  Output approved = Run("approve " + id + " --as alice --code " + Code(secret_));
  ASSERT_EQ(approved.status, 0) << approved.out;

  // A one-character change is another action.
  EXPECT_EQ(Check("rm -rf /srv/data2")["decision"], "hold");
  // Another agent is another action.
  EXPECT_EQ(Check("rm -rf /srv/data", "cursor")["decision"], "hold");
  json passed = Check("rm -rf /srv/data");
  EXPECT_EQ(passed["decision"], "allow") << passed.dump();
  EXPECT_EQ(passed["approval_id"], id);
  // Used once: the same action is held again.
  EXPECT_EQ(Check("rm -rf /srv/data")["decision"], "hold");
}

// The proxy's order: learn that an approval is there, save what the
// statement destroys, then use the approval up, once, with the snapshot id
// in the audit record.
TEST_F(Daemon, DeferredConsumptionUsesTheApprovalOnlyWhenAsked) {
  auto call = [&](json request) {
    std::string error;
    auto reply = DaemonCall(socket_, request, 5000, &error);
    EXPECT_TRUE(reply.has_value()) << error;
    return reply.value_or(json::object());
  };
  const json check{{"op", "check"},    {"channel", "sql"},  {"input", "DROP TABLE orders"},
                   {"cwd", "pg:shop"}, {"agent", "claude"}, {"defer_consume", true}};
  json consume = check;
  consume["op"] = "consume";
  consume.erase("defer_consume");
  consume["snapshot_id"] = "snap-1234";

  json held = call(check);
  ASSERT_EQ(held["decision"], "hold") << held.dump();
  const std::string id = held["approval_id"];
  // Nothing to consume before a human approves.
  EXPECT_EQ(call(consume)["decision"], "hold");
  ASSERT_EQ(Run("approve " + id + " --as alice --code " + Code(secret_)).status, 0);

  // Asked twice: still there, still a hold to a reader of the decision only.
  for (int i = 0; i < 2; ++i) {
    json ready = call(check);
    EXPECT_EQ(ready["decision"], "hold") << ready.dump();
    EXPECT_EQ(ready["approval_ready"], true) << ready.dump();
    EXPECT_EQ(ready["approval_id"], id);
  }
  json used = call(consume);
  EXPECT_EQ(used["decision"], "allow") << used.dump();
  EXPECT_EQ(used["approval_id"], id);
  EXPECT_EQ(used["snapshot_id"], "snap-1234");
  // Once.
  EXPECT_EQ(call(consume)["decision"], "hold");
  EXPECT_FALSE(call(check).contains("approval_ready"));
  // The audit record of the consumption names the snapshot.
  Output log = Run("audit export --file " + Quote((state_ / "audit.jsonl").string()));
  EXPECT_NE(log.out.find("snap-1234"), std::string::npos) << log.out.substr(0, 2000);
}

TEST_F(Daemon, WrongOrReusedTotpCodesAreRefused) {
  std::string id = Check("rm -rf /srv/a")["approval_id"];
  EXPECT_NE(Run("approve " + id + " --as alice --code 000000").status, 0);
  EXPECT_NE(Run("approve " + id + " --as mallory --code " + Code(secret_)).status, 0);
  std::string code = Code(secret_);
  ASSERT_EQ(Run("approve " + id + " --as alice --code " + code).status, 0);
  std::string other = Check("rm -rf /srv/b")["approval_id"];
  Output reused = Run("approve " + other + " --as alice --code " + code);
  EXPECT_NE(reused.status, 0) << "a TOTP code works once";
}

TEST_F(Daemon, TwoPersonHoldNeedsTwoDistinctApprovers) {
  std::string bob = AddApprover("bob");
  json held = Check("rm -rf /var/backups/db");
  ASSERT_EQ(held["decision"], "hold2") << held.dump();
  std::string id = held["approval_id"];
  ASSERT_EQ(Run("approve " + id + " --as alice --code " + Code(secret_)).status, 0);
  EXPECT_EQ(Check("rm -rf /var/backups/db")["decision"], "hold2");
  EXPECT_NE(Run("approve " + id + " --as alice --code " + Code(secret_, 1)).status, 0);
  ASSERT_EQ(Run("approve " + id + " --as bob --code " + Code(bob)).status, 0);
  EXPECT_EQ(Check("rm -rf /var/backups/db")["decision"], "allow");
}

TEST_F(Daemon, DenyIsFinal) {
  std::string id = Check("rm -rf /srv/x")["approval_id"];
  ASSERT_EQ(Run("deny " + id + " --reason 'not today'").status, 0);
  EXPECT_NE(Run("approve " + id + " --as alice --code " + Code(secret_)).status, 0);
  EXPECT_EQ(Check("rm -rf /srv/x")["decision"], "hold");
}

TEST_F(Daemon, BreakerFreezesABurstingAgentUntilReset) {
  Stop(SIGTERM);
  Start({"--breaker-attempts", "3"});
  for (int i = 0; i < 3; ++i) Check("rm -rf /srv/burst" + std::to_string(i), "codex");
  json frozen = Check("touch notes.txt && rm -rf build", "codex");
  EXPECT_EQ(frozen["decision"], "hold") << frozen.dump();
  EXPECT_NE(frozen["reason"].get<std::string>().find("breaker"), std::string::npos);
  // Reads still pass; another agent is not frozen.
  EXPECT_EQ(Check("ls -la", "codex")["decision"], "allow");
  EXPECT_EQ(Check("rm -rf build", "claude")["decision"], "allow");
  ASSERT_EQ(Run("breaker reset codex --as alice --code " + Code(secret_)).status, 0);
  EXPECT_EQ(Check("rm -rf build", "codex")["decision"], "allow");
}

TEST_F(Daemon, MalformedRequestsGetErrorsNeverAllow) {
  for (const json& bad :
       {json{{"op", "check"}}, json{{"op", "check"}, {"channel", "smtp"}, {"input", "x"}},
        json{{"op", "nope"}}, json::array(), json{{"op", 1}}, json{{"op", nullptr}},
        json{{"op", json{{"op", "report"}}}}, json{{"op", json::array({"watch"})}}}) {
    std::string error;
    auto reply = DaemonCall(socket_, bad, 2000, &error);
    ASSERT_TRUE(reply) << error;
    EXPECT_FALSE((*reply)["ok"].get<bool>()) << reply->dump();
    EXPECT_NE(reply->value("decision", ""), "allow");
  }
  EXPECT_EQ(Check("ls")["decision"], "allow") << "the daemon survives bad input";
}

TEST_F(Daemon, HookAsksTheDaemonAndTheApprovedRetryPasses) {
  Output first = Run("hook claude", ClaudeHook("rm -rf /srv/uploads"));
  EXPECT_EQ(first.status, 2) << first.out;
  std::size_t at = first.out.find("ap_");
  ASSERT_NE(at, std::string::npos) << first.out;
  std::string id = first.out.substr(at, first.out.find_first_of(" :)", at) - at);
  ASSERT_EQ(Run("approve " + id + " --as alice --code " + Code(secret_)).status, 0);
  Output retry = Run("hook claude", ClaudeHook("rm -rf /srv/uploads"));
  EXPECT_EQ(retry.status, 0) << retry.out;
  Output again = Run("hook claude", ClaudeHook("rm -rf /srv/uploads"));
  EXPECT_EQ(again.status, 2) << again.out;
}

TEST_F(Daemon, HookFailsClosedWhenTheDaemonIsDown) {
  Stop(SIGKILL);
  Output reply = Run("hook codex", ClaudeHook("rm -rf /srv/uploads"));
  EXPECT_EQ(reply.status, 2);
  EXPECT_NE(reply.out.find("not reachable"), std::string::npos) << reply.out;
  Output harmless = Run("hook codex", ClaudeHook("ls"));
  EXPECT_EQ(harmless.status, 0) << harmless.out;
}

TEST_F(Daemon, EveryDecisionIsAuditedAndTheLogVerifies) {
  Check("ls");
  std::string id = Check("rm -rf /srv/y")["approval_id"];
  Run("approve " + id + " --as alice --code " + Code(secret_));
  Check("rm -rf /srv/y");
  Stop(SIGTERM);
  Output verify = Run("audit verify --file " + Quote((state_ / "audit.jsonl").string()));
  EXPECT_EQ(verify.status, 0) << verify.out;
  std::ifstream log(state_ / "audit.jsonl");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  for (const char* kind : {"\"verdict\"", "\"hold\"", "\"approval\"", "\"consumed\""})
    EXPECT_NE(text.find(kind), std::string::npos) << kind;
  Start({"--breaker-attempts", "1000"});
}

// kill -9 in the middle of a storm: every acknowledged approval and audit
// record survives, and the log still verifies.
TEST_F(Daemon, KillNineLosesNothingAcknowledged) {
  std::vector<std::string> approved;
  std::atomic<bool> storming{true};
  std::thread storm([&] {
    int i = 0;
    std::string error;
    while (storming) {
      DaemonCall(socket_,
                 json{{"op", "check"},
                      {"channel", "shell"},
                      {"agent", "gemini"},
                      {"input", "rm -rf /srv/storm" + std::to_string(i++ % 50)}},
                 2000, &error);
    }
  });
  for (int i = 0; i < 5; ++i) {
    std::string id = Check("rm -rf /srv/keep" + std::to_string(i))["approval_id"];
    if (Run("approve " + id + " --as alice --code " + Code(secret_, i - 2)).status == 0)
      approved.push_back("rm -rf /srv/keep" + std::to_string(i));
  }
  Stop(SIGKILL);
  storming = false;
  storm.join();
  ASSERT_FALSE(approved.empty());
  Start({"--breaker-attempts", "1000"});
  for (const std::string& command : approved)
    EXPECT_EQ(Check(command)["decision"], "allow") << command << " lost its approval";
  Stop(SIGTERM);
  Output verify = Run("audit verify --file " + Quote((state_ / "audit.jsonl").string()));
  EXPECT_EQ(verify.status, 0) << verify.out;
  Start({"--breaker-attempts", "1000"});
}

}  // namespace

// A proxy that knows a DELETE touches many rows raises a statement the SQL
// text alone would allow; it can never lower a decision.
TEST_F(Daemon, TrustedComponentsRaiseButNeverLowerTheDecision) {
  std::string error;
  auto ask = [&](const std::string& input, const std::string& min) {
    json request{{"op", "check"},
                 {"channel", "sql"},
                 {"input", input},
                 {"cwd", "db:shop"},
                 {"agent", "pg:claude"},
                 {"min_decision", min},
                 {"detail", "deletes ~48,211 rows of public.orders"}};
    auto reply = DaemonCall(socket_, request, 5000, &error);
    EXPECT_TRUE(reply.has_value()) << error;
    return reply.value_or(json::object());
  };
  json raised = ask("DELETE FROM orders WHERE created < now() - interval '1 year'", "hold");
  EXPECT_EQ(raised["decision"], "hold") << raised.dump();
  EXPECT_NE(raised["reason"].get<std::string>().find("48,211 rows"), std::string::npos);
  json pending = DaemonCall(socket_, json{{"op", "pending"}}, 5000, &error).value();
  ASSERT_FALSE(pending["requests"].empty());
  EXPECT_NE(pending["requests"][0]["reason"].get<std::string>().find("48,211"), std::string::npos);

  EXPECT_EQ(ask("DROP TABLE orders", "allow")["decision"], "hold");
  EXPECT_EQ(ask("SELECT 1", "maybe")["ok"], false);
}

// The PostgreSQL proxy's catalog facts and small snapshots: a plain hold of
// SQL that destroys nothing, or whose rows were saved under a "snapshot"
// decision, is allowed and audited with what allowed it; nothing else is,
// and none of it counts toward the breaker.
TEST_F(Daemon, FactsAndSnapshotsAllowOnlyWhatTheyCanSpeakFor) {
  Stop(SIGTERM);
  Start({"--breaker-attempts", "2"});
  std::string error;
  auto ask = [&](const std::string& channel, const std::string& input, json by) {
    json request{{"op", "check"},    {"channel", channel}, {"input", input},
                 {"cwd", "pg:shop"}, {"agent", "agent1"},  {"allowed_by", by}};
    auto reply = DaemonCall(socket_, request, 5000, &error);
    EXPECT_TRUE(reply.has_value()) << error;
    return reply.value_or(json::object());
  };
  for (int i = 0; i < 5; ++i) {
    json dropped = ask("sql", "DROP TABLE IF EXISTS gone" + std::to_string(i),
                       json{{"fact", "table gone does not exist"}});
    EXPECT_EQ(dropped["decision"], "allow") << dropped.dump();
    EXPECT_NE(dropped["reason"].get<std::string>().find("does not exist"), std::string::npos);
    json saved = ask("sql", "UPDATE knex_migrations_lock SET is_locked = " + std::to_string(i),
                     json{{"snapshot_id", "snap" + std::to_string(i)}, {"measured", "1 row"}});
    EXPECT_EQ(saved["decision"], "allow") << saved.dump();
    EXPECT_EQ(saved["snapshot_id"], "snap" + std::to_string(i));
  }
  // A snapshot cannot stand in for a dropped table; the shell gets nothing
  // from a proxy's claim; a statement doing more than its drop stays held.
  EXPECT_EQ(ask("sql", "DROP TABLE orders", json{{"snapshot_id", "s"}})["decision"], "hold");
  EXPECT_EQ(ask("shell", "rm -rf /srv/data", json{{"fact", "empty"}})["decision"], "hold");
  json more = ask("sql", "DROP TABLE IF EXISTS x; ALTER TABLE y DROP COLUMN z",
                  json{{"fact", "table x does not exist"}});
  EXPECT_EQ(more["decision"], "hold") << more.dump();
  // Ten routine allows counted for nothing: the refused claims above were
  // real holds, the second of them tripped the breaker of two, and now even
  // a fact waits for the reset.
  json frozen = ask("sql", "DROP TABLE IF EXISTS again", json{{"fact", "x"}});
  EXPECT_EQ(frozen["decision"], "hold");
  EXPECT_NE(frozen["reason"].get<std::string>().find("breaker"), std::string::npos)
      << frozen.dump();
  const std::string log = [&] {
    std::ifstream in(state_ / "audit.jsonl");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }();
  EXPECT_NE(log.find("table gone does not exist"), std::string::npos);
  EXPECT_NE(log.find("snap4"), std::string::npos);
}

// An approved delete of files: the daemon saves them to the vault before it
// lets the command run, and a vault that cannot save keeps it held.
class DaemonVault : public Daemon {
 protected:
  void SetUp() override {
    // Not under build/ or /tmp, which dualkey treats as disposable.
    const char* home = std::getenv("HOME");
    data_ = fs::path(home != nullptr ? home : "/root") / ".local/share/dualkey-test" /
            ("server-vault-" + std::to_string(getpid()));
    fs::remove_all(data_);
    fs::create_directories(data_ / "uploads");
    for (int i = 0; i < 3; ++i)
      std::ofstream(data_ / "uploads" / ("f" + std::to_string(i))) << "invoice " << i << "\n";
    Daemon::SetUp();
  }
  void TearDown() override {
    Daemon::TearDown();
    fs::remove_all(data_);
  }
  json CheckIn(const std::string& command) {
    std::string error;
    auto reply = DaemonCall(socket_,
                            json{{"op", "check"},
                                 {"channel", "shell"},
                                 {"input", command},
                                 {"cwd", data_.string()},
                                 {"home", (state_ / "home").string()},
                                 {"agent", "claude"}},
                            10000, &error);
    EXPECT_TRUE(reply.has_value()) << error;
    return reply.value_or(json::object());
  }
  fs::path data_;
};

TEST_F(DaemonVault, ApprovedDeleteIsSavedToTheVaultFirst) {
  json held = CheckIn("rm -rf uploads");
  ASSERT_EQ(held["decision"], "hold") << held.dump();
  ASSERT_EQ(Run("approve " + held["approval_id"].get<std::string>() + " --as alice --code " +
                Code(secret_))
                .status,
            0);
  json passed = CheckIn("rm -rf uploads");
  ASSERT_EQ(passed["decision"], "allow") << passed.dump();
  const std::string snapshot = passed.value("snapshot_id", "");
  ASSERT_FALSE(snapshot.empty()) << passed.dump();
  // The command runs; the vault brings the files back.
  fs::remove_all(data_ / "uploads");
  Output restored =
      Run("vault restore " + snapshot + " --vault " + Quote((state_ / "vault").string()));
  ASSERT_EQ(restored.status, 0) << restored.out;
  std::ifstream in(data_ / "uploads" / "f2");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "invoice 2");
}

TEST_F(DaemonVault, AFailedSaveKeepsItHeldAndTheApprovalUsable) {
  Stop(SIGTERM);
  // A vault that cannot be created: its parent is a regular file.
  std::ofstream(state_ / "not-a-dir") << "x";
  Start({"--breaker-attempts", "1000", "--vault", (state_ / "not-a-dir" / "vault").string()});
  json held = CheckIn("rm -rf uploads");
  ASSERT_EQ(held["decision"], "hold");
  ASSERT_EQ(Run("approve " + held["approval_id"].get<std::string>() + " --as alice --code " +
                Code(secret_))
                .status,
            0);
  json still = CheckIn("rm -rf uploads");
  EXPECT_EQ(still["decision"], "hold") << still.dump();
  EXPECT_NE(still["reason"].get<std::string>().find("vault"), std::string::npos);
  // Fixed vault: the same approval now passes once.
  Stop(SIGTERM);
  Start({"--breaker-attempts", "1000"});
  EXPECT_EQ(CheckIn("rm -rf uploads")["decision"], "allow");
}

namespace {

// One raw line to the daemon's socket and its one-line reply: bytes no
// client library would send.
std::string RawLine(const std::string& socket_path, const std::string& line) {
  dualkey::Result<dualkey::base::UniqueFd> connected =
      dualkey::base::ConnectUnixSocket(socket_path);
  if (!connected.ok()) return "";
  const int fd = connected->release();
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  send(fd, line.data(), line.size(), MSG_NOSIGNAL);
  std::string reply;
  char c;
  while (recv(fd, &c, 1, 0) == 1 && c != '\n') reply.push_back(c);
  close(fd);
  return reply;
}

dualkey::client::CheckRequest ShellCheck(const std::string& command, const std::string& agent) {
  dualkey::client::CheckRequest r;
  r.action.channel = dualkey::Channel::kShell;
  r.action.input = command;
  r.action.cwd = "/home/dev/app";
  r.action.agent = agent;
  r.home = "/home/dev";
  return r;
}

}  // namespace

// The breaker counts attempts, not questions: asking again about one held
// action (an agent retrying, a human running `check` twice) returns the same
// pending request and counts once; distinct destructive actions still trip.
TEST_F(Daemon, ReaskingAHeldActionIsNotANewAttempt) {
  Stop(SIGTERM);
  Start({"--breaker-attempts", "3"});
  std::string id;
  for (int i = 0; i < 10; ++i) {
    json held = Check("rm -rf /srv/same", "codex");
    ASSERT_EQ(held["decision"], "hold") << i << ": " << held.dump();
    if (i == 0) id = held["approval_id"];
    EXPECT_EQ(held["approval_id"], id) << i;
    EXPECT_EQ(held.value("reasked", false), i > 0) << held.dump();
  }
  // `dualkey check` three times, the README's own flow.
  for (int i = 0; i < 3; ++i) {
    Output again = Run("check --agent codex --cwd /home/dev/app -- rm -rf /srv/same");
    EXPECT_EQ(again.status, 1) << again.out;
    EXPECT_NE(again.out.find(id), std::string::npos) << again.out;
  }
  std::string error;
  json pending = DaemonCall(socket_, json{{"op", "pending"}}, 5000, &error).value();
  EXPECT_EQ(pending["requests"].size(), 1u) << pending.dump();
  Output status = Run("breaker status --json");
  EXPECT_EQ(status.status, 0) << status.out;
  json agents = json::parse(status.out)["agents"];
  ASSERT_EQ(agents.size(), 1u) << status.out;
  EXPECT_EQ(agents[0]["agent"], "codex");
  EXPECT_EQ(agents[0]["frozen"], false);
  EXPECT_EQ(agents[0]["recent_attempts"], 1);

  // Three distinct destructive actions trip it, as before.
  Check("rm -rf /srv/other1", "codex");
  Check("rm -rf /srv/other2", "codex");
  json frozen = Check("rm -rf /srv/other3", "codex");
  EXPECT_EQ(frozen["decision"], "hold");
  EXPECT_EQ(frozen["frozen"], true) << frozen.dump();
  Output shown = Run("breaker status codex --json");
  EXPECT_EQ(shown.status, 1) << shown.out;
  json entry = json::parse(shown.out)["agents"].at(0);
  EXPECT_EQ(entry["frozen"], true);
  EXPECT_GT(entry["since_ms"].get<std::int64_t>(), 0);
  EXPECT_NE(entry["why"].get<std::string>().find("3 distinct destructive attempts"),
            std::string::npos)
      << entry.dump();
  EXPECT_NE(entry["reset"].get<std::string>().find("dualkey breaker reset codex"),
            std::string::npos);
  Output human = Run("breaker status");
  EXPECT_EQ(human.status, 1);
  EXPECT_NE(human.out.find("codex: FROZEN since"), std::string::npos) << human.out;
  ASSERT_EQ(Run("breaker reset codex --as alice --code " + Code(secret_)).status, 0);
  Output after = Run("breaker status codex --json");
  EXPECT_EQ(after.status, 0) << after.out;
  EXPECT_EQ(json::parse(after.out)["agents"].at(0)["frozen"], false);
  EXPECT_EQ(Check("ls", "codex")["decision"], "allow");
}

// A probe (`check --dry-run`, doctor) answers what a check would do and
// changes nothing: no pending request, no breaker count, an audit entry
// marked as a probe.
TEST_F(Daemon, ProbesChangeNothing) {
  Stop(SIGTERM);
  Start({"--breaker-attempts", "1"});  // one real attempt would freeze
  const auto client =
      dualkey::client::Client::ForLayout(dualkey::install::Layout{}, {socket_, 5000});
  for (int i = 0; i < 5; ++i) {
    auto probe = client.Probe(ShellCheck("rm -rf /srv/probe", "gemini"));
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    EXPECT_EQ(probe->decision, dualkey::Decision::kHold);
    EXPECT_EQ(probe->would, "register");
    EXPECT_TRUE(probe->counts_for_breaker);
    EXPECT_TRUE(probe->would_trip_breaker);
    EXPECT_FALSE(probe->frozen);
  }
  Output dry = Run("check --dry-run --agent gemini -- rm -rf /srv/probe");
  EXPECT_EQ(dry.status, 1) << dry.out;
  EXPECT_NE(dry.out.find("Nothing was registered or counted"), std::string::npos) << dry.out;
  Output dry_json = Run("check --dry-run --json --agent gemini -- rm -rf /srv/probe");
  EXPECT_EQ(json::parse(dry_json.out)["dry_run"]["would"], "register") << dry_json.out;
  auto pending = client.Pending();
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->requests.empty());
  auto breaker = client.BreakerStatus({"gemini"});
  ASSERT_TRUE(breaker.ok()) << breaker.status().ToString();
  EXPECT_FALSE(breaker->agents.at(0).frozen);
  EXPECT_EQ(breaker->agents.at(0).recent_attempts, 0);
  auto harmless = client.Probe(ShellCheck("ls", "gemini"));
  ASSERT_TRUE(harmless.ok());
  EXPECT_EQ(harmless->would, "allow");

  // Now for real: it registers (and this breaker trips at once); a probe
  // then sees the same request waiting.
  auto real = client.Check(ShellCheck("rm -rf /srv/probe", "claude"));
  ASSERT_TRUE(real.ok());
  auto waiting = client.Probe(ShellCheck("rm -rf /srv/probe", "claude"));
  ASSERT_TRUE(waiting.ok());
  EXPECT_TRUE(waiting->frozen);
  Stop(SIGTERM);
  std::ifstream log(state_ / "audit.jsonl");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("\"kind\":\"probe\""), std::string::npos) << text.substr(0, 600);
  Start({"--breaker-attempts", "1000"});
}

// Bytes that are not UTF-8 never abort anything and never loosen anything:
// refused raw on the socket, carried exactly by the client, bound exactly.
TEST_F(Daemon, InvalidUtf8IsDecidedOnTheExactBytes) {
  json refused = json::parse(RawLine(
      socket_,
      std::string("{\"op\":\"check\",\"channel\":\"shell\",\"input\":\"rm -rf /srv/\xff\"}\n")));
  EXPECT_EQ(refused["ok"], false);
  EXPECT_EQ(refused["decision"], "hold");
  EXPECT_NE(refused["error"].get<std::string>().find("UTF-8"), std::string::npos);

  const auto client =
      dualkey::client::Client::ForLayout(dualkey::install::Layout{}, {socket_, 5000});
  const std::string exact = std::string("rm -rf /srv/data-\xff");
  auto held = client.Check(ShellCheck(exact, "claude"));
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  ASSERT_EQ(held->decision, dualkey::Decision::kHold);
  ASSERT_FALSE(held->approval_id.empty());
  auto pending = client.Pending();
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->requests.size(), 1u);
  EXPECT_NE(pending->requests[0].input.find("/srv/data-"), std::string::npos);
  Output listed = Run("pending");
  EXPECT_EQ(listed.status, 0) << listed.out;
  ASSERT_EQ(Run("approve " + held->approval_id + " --as alice --code " + Code(secret_)).status, 0);
  // Another invalid byte is another action; the approved bytes pass once.
  auto other = client.Check(ShellCheck(std::string("rm -rf /srv/data-\xfe"), "claude"));
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->decision, dualkey::Decision::kHold);
  auto passed = client.Check(ShellCheck(exact, "claude"));
  ASSERT_TRUE(passed.ok());
  EXPECT_EQ(passed->decision, dualkey::Decision::kAllow);
  EXPECT_EQ(client.Check(ShellCheck(exact, "claude"))->decision, dualkey::Decision::kHold);

  // The CLI with the daemon running: no abort (it was status 134).
  Output destructive = Run("check -- \"$(printf 'rm -rf /srv/x\\377')\"");
  EXPECT_EQ(destructive.status, 1) << destructive.out;
  Output harmless = Run("check -- \"$(printf 'echo \\377')\"");
  EXPECT_EQ(harmless.status, 0) << harmless.out;
  Output as_json = Run("check --json -- \"$(printf 'rm -rf /srv/x\\377')\"");
  EXPECT_EQ(as_json.status, 1);
  EXPECT_EQ(json::parse(as_json.out)["decision"], "hold") << as_json.out;
  // A hook whose input is not UTF-8 is blocked, never allowed, never a crash.
  Output hook =
      Run("hook claude", ClaudeHook("rm -rf /srv/uploads")
                             .replace(ClaudeHook("rm -rf /srv/uploads").find("uploads"), 7,
                                      "upl\xff"
                                      "ads"));
  EXPECT_EQ(hook.status, 2) << hook.out;
  EXPECT_EQ(Check("ls")["decision"], "allow") << "the daemon survives";
  Stop(SIGTERM);
  Output verify = Run("audit verify --file " + Quote((state_ / "audit.jsonl").string()));
  EXPECT_EQ(verify.status, 0) << verify.out;
  Start({"--breaker-attempts", "1000"});
}

// Every request's caller is named in the audit log: uid and pid from
// SO_PEERCRED, not from anything the caller says.
TEST_F(Daemon, TheCallersUidAndPidAreAudited) {
  Check("rm -rf /srv/who");
  Stop(SIGTERM);
  std::ifstream log(state_ / "audit.jsonl");
  std::string line;
  bool found = false;
  while (std::getline(log, line)) {
    if (line.find("/srv/who") == std::string::npos) continue;
    json record = json::parse(line);
    json fields = record.contains("fields") && record["fields"].is_string()
                      ? json::parse(record["fields"].get<std::string>())
                      : record.value("fields", json::object());
    ASSERT_TRUE(fields.contains("peer")) << line;
    EXPECT_EQ(fields["peer"]["via"], "unix");
    EXPECT_EQ(fields["peer"]["uid"], getuid());
    EXPECT_EQ(fields["peer"]["pid"], getpid());
    found = true;
  }
  EXPECT_TRUE(found);
  Start({"--breaker-attempts", "1000"});
}

namespace {

// A state directory deep enough that its socket path does not fit in
// sockaddr_un (107 bytes): a CI checkout under /check/work/... put two
// tests' sockets at 108 bytes, and their daemons could not start. The
// daemon, the hook, the approving CLI and a second daemon's probe all work
// there, through the directory's descriptor.
TEST_F(Daemon, ServesAndIsReachedOnASocketPathLongerThanSockaddrHolds) {
  fs::path deep = state_;
  while (deep.string().size() < 160) deep /= "a-long-directory-name";
  fs::create_directories(deep / "home");
  const std::string socket = (deep / "d.sock").string();
  ASSERT_GE(socket.size(), sizeof(sockaddr_un::sun_path));
  dualkey::test_support::DaemonProcess daemon;
  ASSERT_TRUE(daemon.Start(deep.string(), socket, {}, 4000)) << socket;
  auto run = [&](const std::string& args, const std::string& input = "") {
    std::string command =
        dualkey::test_support::CliCommand((deep / "home").string(), socket, deep.string(), args);
    if (!input.empty()) {
      std::ofstream((deep / "stdin").string()) << input;
      command += " < " + Quote((deep / "stdin").string());
    }
    return dualkey::test_support::Shell(command + " 2>&1");
  };
  Output enrolled = run("approver add alice --state " + Quote(deep.string()));
  ASSERT_EQ(enrolled.status, 0) << enrolled.out;
  const std::size_t at = enrolled.out.find("secret=");
  ASSERT_NE(at, std::string::npos) << enrolled.out;
  const std::string secret = enrolled.out.substr(at + 7, enrolled.out.find('&', at) - at - 7);

  Output held = run("hook claude", ClaudeHook("rm -rf /srv/uploads"));
  ASSERT_EQ(held.status, 2) << held.out;
  const std::size_t id_at = held.out.find("ap_");
  ASSERT_NE(id_at, std::string::npos) << held.out;
  const std::string id = held.out.substr(id_at, held.out.find_first_of(" :)", id_at) - id_at);
  Output approved = run("approve " + id + " --as alice --code " + Code(secret));
  ASSERT_EQ(approved.status, 0) << approved.out;
  EXPECT_EQ(run("hook claude", ClaudeHook("rm -rf /srv/uploads")).status, 0);
  EXPECT_EQ(run("hook claude", ClaudeHook("ls")).status, 0);

  // A second daemon (its own state) sees the first one answering there and
  // refuses to take the socket over.
  fs::create_directories(deep / "second");
  Output second = dualkey::test_support::Shell(Quote(DUALKEY_BINARY) + " serve --state " +
                                               Quote((deep / "second").string()) + " --socket " +
                                               Quote(socket) + " --quiet 2>&1");
  EXPECT_NE(second.status, 0) << second.out;
  EXPECT_NE(second.out.find("already listening"), std::string::npos) << second.out;
  daemon.Stop();
  EXPECT_FALSE(fs::exists(socket)) << "the daemon removes its socket on the way out";
  // Nobody there now: the hook decides alone and asks the human in Claude.
  Output away = run("hook claude", ClaudeHook("rm -rf /srv/uploads"));
  EXPECT_NE(away.out.find("\"permissionDecision\":\"ask\""), std::string::npos) << away.out;
}

}  // namespace
