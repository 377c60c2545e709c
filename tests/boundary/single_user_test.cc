// The same attacks in single-user mode (no `dualkey setup`: the daemon runs
// as the agent's own user, state in its home). The OS cannot stop them
// there; what the classifier can hold must be held (as tool calls through
// the hook), what it cannot must be reported by doctor, and tampering with
// the audit log must be detected.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <functional>
#include <set>

#include "approval/approval.h"
#include "audit/audit.h"
#include "harness.h"
#include "setup/system.h"

namespace dualkey::boundary {
namespace {

using nlohmann::json;

struct SingleWorld {
  bool ready = false;
  std::string why;
  User agent;
  std::string secret;
};

SingleWorld& TheWorld() {
  static SingleWorld world;
  return world;
}

std::string State() {
  return TheWorld().agent.home + "/.local/state/dualkey";
}
std::string Socket() {
  return State() + "/dualkey.sock";
}

// The daemon, started by the agent's user (as single-user mode has it).
bool StartDaemon(std::string* why) {
  const User& a = TheWorld().agent;
  Ran ran = RunAs(a, {"sh", "-c",
                      "nohup " + std::string(DUALKEY_BINARY) +
                          " serve --quiet > ~/serve.log 2>&1 & echo $! > ~/serve.pid"});
  for (int i = 0; i < 200; ++i) {
    if (Ask(Socket(), {{"op", "status"}}, &a)) return true;
    usleep(20000);
  }
  *why = "the agent's daemon did not start: " + ran.all() + ReadText(a.home + "/serve.log");
  return false;
}

void StopDaemon() {
  const std::string pid = ReadText(TheWorld().agent.home + "/serve.pid");
  if (pid.empty()) return;
  const pid_t p = static_cast<pid_t>(std::stol(pid));
  setup::sys::StopProcess(p, 3000);
}

class SingleUser : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SingleWorld& world = TheWorld();
    if (world.ready) {
      // Another suite of this file set it up: just make sure the daemon runs.
      if (!Ask(Socket(), {{"op", "status"}}, &world.agent) && !StartDaemon(&world.why))
        world.ready = false;
      return;
    }
    if (!world.why.empty()) return;
    if (!g_namespace_error.empty()) {
      world.why = g_namespace_error;
      return;
    }
    // A protected install left by the other suite is taken out first.
    if (Exists("/etc/dualkey/install.toml")) RunRoot({DUALKEY_BINARY, "setup", "--remove"});
    std::optional<User> agent = AddUser("dkbs" + std::to_string(getpid() % 100000));
    if (!agent) {
      world.why = "useradd failed";
      return;
    }
    world.agent = *agent;
    // Today's single-user flow: hooks into the user's configs, the daemon
    // as the user, the user's own approver.
    for (const char* name : {"claude", "codex"}) {
      Ran install = RunAs(*agent, {DUALKEY_BINARY, "install", name, "--agent-version", "none"});
      if (install.exit_code != 0) {
        world.why = "install failed: " + install.all();
        return;
      }
    }
    if (!StartDaemon(&world.why)) return;
    Ran added = RunAs(*agent, {DUALKEY_BINARY, "approver", "add", "alice"});
    const std::size_t at = added.out.find("secret=");
    if (at == std::string::npos) {
      world.why = "approver add failed: " + added.all();
      return;
    }
    world.secret = added.out.substr(at + 7, added.out.find('&', at) - at - 7);
    world.ready = true;
  }
  void SetUp() override {
    if (!TheWorld().ready) GTEST_FAIL() << "no single-user install: " << TheWorld().why;
  }
  const User& agent() const { return TheWorld().agent; }
  std::string home() const { return TheWorld().agent.home; }
};

TEST_F(SingleUser, DoctorReportsWhatCannotBeStoppedHere) {
  Ran ran = RunAs(agent(), {DUALKEY_BINARY, "doctor", "--json"});
  json report = json::parse(ran.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << ran.all();
  EXPECT_EQ(ran.exit_code, 1);
  EXPECT_EQ(report["mode"], "single-user");
  std::map<std::string, json> checks;
  for (const json& c : report["checks"]) checks[c["id"]] = c;
  for (const char* id : {"install", "secrets", "store", "audit_log", "audit_key", "vault", "policy",
                         "daemon", "environment"}) {
    EXPECT_FALSE(checks[id].value("ok", true)) << id << " passed in single-user mode";
    EXPECT_EQ(checks[id].value("fix", ""), "sudo dualkey setup") << id;
  }
  EXPECT_TRUE(checks["hooks"].value("ok", false) ||
              checks["hooks"].value("detail", "").find("build tree") != std::string::npos)
      << checks["hooks"].dump();
  // Doctor registers nothing in the agent's daemon either.
  std::optional<json> pending = Ask(Socket(), {{"op", "pending"}}, &agent());
  ASSERT_TRUE(pending);
  EXPECT_TRUE((*pending)["requests"].empty()) << pending->dump();
}

// An attack as a tool call: the hook (deciding locally, so that holds do
// not trip the breaker for the next case) must stop it.
struct ToolCall {
  const char* name;
  const char* tool;  // "Bash" or "Write"
  const char* input;
  const char* content;
};
void PrintTo(const ToolCall& call, std::ostream* out) {
  *out << call.name;
}

class SingleUserToolCalls : public SingleUser, public ::testing::WithParamInterface<ToolCall> {};

TEST_P(SingleUserToolCalls, IsHeld) {
  const ToolCall& call = GetParam();
  auto expand = [&](std::string text) {
    for (std::size_t at = text.find("$STATE"); at != std::string::npos; at = text.find("$STATE"))
      text.replace(at, 6, State());
    return text;
  };
  const std::string input = std::string(call.tool) == "Write"
                                ? WriteCall(expand(call.input), call.content, home())
                                : BashCall(expand(call.input), home());
  Ran hook = RunAs(agent(), {DUALKEY_BINARY, "hook", "claude"},
                   {{"DUALKEY_SOCKET", "/nonexistent/dualkey.sock"}}, input);
  EXPECT_TRUE(Stopped(hook)) << call.name << " was let through (needs guard.tamper, wt/classify): "
                             << expand(call.input) << "\n"
                             << hook.all();
}

const ToolCall kTamper[] = {
    {"self_enrolment", "Bash", "dualkey approver add mallory", ""},
    {"store_update", "Bash",
     "sqlite3 $STATE/state.sqlite3 \"UPDATE requests SET state='approved'\"", ""},
    {"read_secrets", "Bash", "sqlite3 $STATE/state.sqlite3 'SELECT * FROM approvers'", ""},
    {"read_audit_key", "Bash", "cat $STATE/audit.key", ""},
    {"kill_daemon", "Bash", "pkill -f 'dualkey serve'", ""},
    {"kill_daemon_pid", "Bash", "kill $(pgrep -f 'dualkey serve')", ""},
    {"fake_listener", "Bash",
     "python3 -c \"import socket; s=socket.socket(socket.AF_UNIX); "
     "s.bind('$STATE/dualkey.sock'); s.listen(); s.accept()\"",
     ""},
    {"env_socket_bashrc", "Bash", "echo 'export DUALKEY_SOCKET=/tmp/x.sock' >> ~/.bashrc", ""},
    {"env_xdg_profile", "Bash", "echo 'export XDG_CONFIG_HOME=/tmp/cfg' >> ~/.profile", ""},
    {"policy_observe", "Bash", "printf 'mode = \"observe\"\\n' > ~/.config/dualkey/policy.toml",
     ""},
    {"hook_sed", "Bash", "sed -i '/dualkey/d' ~/.claude/settings.json", ""},
    {"hook_jq", "Bash",
     "jq 'del(.hooks)' ~/.claude/settings.json > /tmp/s && mv /tmp/s ~/.claude/settings.json", ""},
    {"hook_rm", "Bash", "rm ~/.codex/hooks.json", ""},
    {"hook_uninstall", "Bash", "dualkey install claude --uninstall", ""},
    {"binary_replace", "Bash", "cp /bin/true \"$(command -v dualkey)\"", ""},
    {"audit_truncate", "Bash", ": > $STATE/audit.jsonl", ""},
    {"audit_delete", "Bash", "rm $STATE/audit.jsonl", ""},
    {"audit_append", "Bash", "echo '{}' >> $STATE/audit.jsonl", ""},
    {"store_truncate", "Bash", "truncate -s 0 $STATE/state.sqlite3", ""},
    {"breaker_reset", "Bash", "dualkey breaker reset claude --as alice --code 123456", ""},
    {"serve_elsewhere", "Bash", "dualkey serve --state /tmp/other-state", ""},
    {"vault_prune", "Bash", "dualkey vault prune --approver alice --totp 123456", ""},
    {"write_tool_settings", "Write", "~/.claude/settings.json", "{}"},
    {"write_tool_policy", "Write", "~/.config/dualkey/policy.toml", "mode = \"observe\"\n"},
    {"write_tool_bashrc", "Write", "~/.bashrc", "export DUALKEY_SOCKET=/tmp/x.sock\n"},
};

INSTANTIATE_TEST_SUITE_P(Attacks, SingleUserToolCalls, ::testing::ValuesIn(kTamper),
                         [](const ::testing::TestParamInfo<ToolCall>& info) {
                           return std::string(info.param.name);
                         });

// Ordinary uses of dualkey stay allowed.
TEST_F(SingleUser, ReadingAndCheckingStayAllowed) {
  for (const char* command :
       {"dualkey pending", "dualkey check -- 'rm -rf /'", "dualkey policy explain -- 'ls'",
        "dualkey audit verify", "dualkey vault ls", "dualkey doctor", "cat ~/.claude/settings.json",
        "dualkey --help"}) {
    Ran hook = RunAs(agent(), {DUALKEY_BINARY, "hook", "claude"},
                     {{"DUALKEY_SOCKET", "/nonexistent/dualkey.sock"}}, BashCall(command, home()));
    EXPECT_FALSE(Stopped(hook)) << command << " was held: " << hook.all();
  }
}

// Audit log tampering while the daemon is stopped: the agent owns the file
// (and the key) here, so the only defence is detection (wt/approvals).
class SingleUserAudit : public SingleUser {
 protected:
  std::string Log() const { return State() + "/audit.jsonl"; }
  // Stop, tamper with `shell` as the agent, start again: detected when the
  // daemon refuses to start or `audit verify` fails.
  void TamperAndExpectDetection(const std::string& what, const std::string& shell,
                                std::function<bool()> in_process = nullptr) {
    // Some records first.
    for (int i = 0; i < 3; ++i)
      Ask(Socket(),
          {{"op", "check"},
           {"channel", "shell"},
           {"input", "ls -la"},
           {"cwd", home()},
           {"home", home()},
           {"agent", "auditor"}},
          &agent());
    StopDaemon();
    if (in_process) {
      const User& a = agent();
      setup::sys::Account account{a.name, a.uid, a.gid, a.home, ""};
      std::string output;
      ASSERT_EQ(setup::sys::RunAs(
                    account, [&](std::string*) { return in_process() ? 0 : 1; }, &output),
                0)
          << what;
    } else {
      Ran tamper = RunAs(agent(), {"sh", "-c", shell});
      ASSERT_EQ(tamper.exit_code, 0) << what << ": " << tamper.all() << "\nthe log:\n"
                                     << ReadText(Log());
    }
    std::string why;
    const bool started = StartDaemon(&why);
    Ran verify = RunAs(agent(), {DUALKEY_BINARY, "audit", "verify", "--file", Log()});
    EXPECT_TRUE(!started || verify.exit_code != 0)
        << what << " went unnoticed: the daemon started and `audit verify` says: " << verify.all();
    if (!started) StartDaemon(&why);
  }
};

TEST_F(SingleUserAudit, RewrittenRecordIsDetected) {
  TamperAndExpectDetection("a rewritten record", "sed -i '0,/ls -la/{s/ls -la/ls -lX/}' " + Log() +
                                                     " && grep -q 'ls -lX' " + Log());
}

TEST_F(SingleUserAudit, TruncatedLogIsDetected) {
  TamperAndExpectDetection("a truncated log", "head -n 2 " + Log() + " > " + Log() + ".t && mv " +
                                                  Log() + ".t " + Log());
}

TEST_F(SingleUserAudit, DeletedLogIsDetected) {
  TamperAndExpectDetection("a deleted log", "rm " + Log());
}

TEST_F(SingleUserAudit, RecordsAppendedWhileStoppedAreDetected) {
  // The chain needs no key, and here the agent even has the key: it appends
  // well-formed records with dualkey's own audit code, as the agent's user.
  const std::string log = Log();
  const std::string key = State() + "/audit.key";
  TamperAndExpectDetection("records appended while stopped", "", [log, key] {
    auto forged = audit::Log::Open({log, key});
    if (!forged.ok()) return false;
    return (*forged)
        ->Append({"approval", "{\"approval_id\":\"ap_forged\",\"approver\":\"alice\"}"})
        .ok();
  });
}

TEST_F(SingleUser, CodesCannotBeGuessedHereEither) {
  std::optional<json> held = Ask(Socket(),
                                 {{"op", "check"},
                                  {"channel", "shell"},
                                  {"input", "rm -rf /srv/guess-single"},
                                  {"cwd", home()},
                                  {"home", home()},
                                  {"agent", "guesser"}},
                                 &agent());
  ASSERT_TRUE(held);
  const std::string id = held->value("approval_id", "");
  ASSERT_FALSE(id.empty()) << held->dump();
  // Guesses that avoid the codes of the steps around now (those would be
  // right, not guesses).
  const std::time_t now = std::time(nullptr);
  std::set<std::string> valid;
  for (int step = -2; step <= 2; ++step)
    valid.insert(approval::TotpCode(TheWorld().secret, now + 30 * step));
  int refused = 0, attempts = 0;
  for (int i = 0; i < 200; ++i) {
    std::string guess = std::to_string(100000 + (i * 7919) % 900000);
    if (valid.count(guess)) continue;
    ++attempts;
    std::optional<json> reply =
        Ask(Socket(), {{"op", "approve"}, {"id", id}, {"approver", "alice"}, {"totp", guess}},
            &agent());
    if (reply && !reply->value("ok", false)) ++refused;
  }
  EXPECT_EQ(refused, attempts);
  std::optional<json> right = Ask(
      Socket(),
      {{"op", "approve"}, {"id", id}, {"approver", "alice"}, {"totp", TotpNow(TheWorld().secret)}},
      &agent());
  ASSERT_TRUE(right);
  EXPECT_FALSE(right->value("ok", false))
      << "200 wrong guesses, then the right code was accepted: no lockout (needs wt/approvals): "
      << right->dump();
}

// The agent's daemon is stopped when the tests end (the PID namespace would
// kill it anyway).
class StopTheAgentsDaemon : public ::testing::Environment {
 public:
  void TearDown() override {
    if (TheWorld().ready) StopDaemon();
  }
};
const ::testing::Environment* const kStopTheAgentsDaemon =
    ::testing::AddGlobalTestEnvironment(new StopTheAgentsDaemon);

}  // namespace
}  // namespace dualkey::boundary
