// Attacks on a protected install made by `dualkey setup` in this test, played
// by an ordinary user (the agent) against a daemon running as its own user.
// Each attack must be held (by the OS or by dualkey) or detected; what
// worked before (approvals bound to the exact action) must keep working.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <set>
#include <thread>

#include "approval/approval.h"
#include "base/unix_socket.h"
#include "harness.h"
#include "setup/system.h"

namespace dualkey::boundary {
namespace {

using nlohmann::json;

struct World {
  bool ready = false;
  std::string why;
  User agent;
  std::string daemon_user;
  std::string secret;  // the first approver's TOTP secret
  json first_setup;
};

World& TheWorld() {
  static World world;
  return world;
}

std::string Suffix() {
  return std::to_string(getpid() % 100000);
}

Ran RunSetup(const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {
      DUALKEY_BINARY,        "setup", "--json", "--user", TheWorld().agent.name, "--daemon-user",
      TheWorld().daemon_user};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return RunRoot(argv);
}

std::optional<pid_t> DaemonPid() {
  return setup::sys::ReadPidFile(kPidFile);
}

// The agent's hook, as Claude Code runs it (the managed config's command).
Ran Hook(const std::string& input, const std::map<std::string, std::string>& env = {},
         bool probe = false) {
  std::vector<std::string> argv = {kBinary, "hook", "claude"};
  if (probe) argv.push_back("--probe");
  return RunAs(TheWorld().agent, argv, env, input);
}

// What the classifier makes of a tool call, asked as Gemini CLI with a
// probe: the daemon's answer without effect, for an agent whose breaker the
// other tests (as Claude Code) never trip, so a freeze cannot hold it for
// them.
bool Tamper(const std::string& command) {
  return Stopped(RunAs(TheWorld().agent, {kBinary, "hook", "gemini", "--probe"}, {},
                       GeminiShell(command, TheWorld().agent.home)));
}
bool TamperWrite(const std::string& path, const std::string& content) {
  return Stopped(RunAs(TheWorld().agent, {kBinary, "hook", "gemini", "--probe"}, {},
                       GeminiWrite(path, content, TheWorld().agent.home)));
}

class Protected : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    World& world = TheWorld();
    if (!g_namespace_error.empty()) {
      world.why = g_namespace_error;
      return;
    }
    std::optional<User> agent = AddUser("dkba" + Suffix());
    if (!agent) {
      world.why = "useradd failed";
      return;
    }
    world.agent = *agent;
    world.daemon_user = "dkbd" + Suffix();
    Ran ran = RunSetup({"--approver", "alice"});
    json report = json::parse(ran.out, nullptr, false);
    if (!report.is_object() || !report.contains("approver")) {
      world.why = "setup failed (exit " + std::to_string(ran.exit_code) + "): " + ran.all();
      return;
    }
    world.first_setup = report;
    const std::string uri = report["approver"]["otpauth_uri"];
    const std::size_t at = uri.find("secret=");
    world.secret = uri.substr(at + 7, uri.find('&', at) - at - 7);
    world.ready = true;
  }
  void SetUp() override {
    if (!TheWorld().ready) GTEST_FAIL() << "no protected install: " << TheWorld().why;
  }
  const User& agent() const { return TheWorld().agent; }
  std::string home() const { return TheWorld().agent.home; }
};

// --- setup itself -----------------------------------------------------------

TEST_F(Protected, FirstSetupBuildsTheBoundary) {
  const json& report = TheWorld().first_setup;
  EXPECT_TRUE(report["changed"].get<bool>());
  struct stat st {};
  ASSERT_EQ(lstat(kStateDir, &st), 0);
  std::optional<User> daemon = FindUser(TheWorld().daemon_user);
  ASSERT_TRUE(daemon);
  EXPECT_EQ(st.st_uid, daemon->uid);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  for (const std::string file : {"state.sqlite3", "audit.jsonl", "audit.key"}) {
    ASSERT_EQ(lstat((std::string(kStateDir) + "/" + file).c_str(), &st), 0) << file;
    EXPECT_EQ(st.st_uid, daemon->uid) << file;
    EXPECT_EQ(st.st_mode & 077, 0u) << file << " is readable by others";
  }
  ASSERT_EQ(lstat("/etc/dualkey/install.toml", &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  ASSERT_EQ(lstat(kBinary, &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_mode & 022, 0u);
  std::optional<pid_t> pid = DaemonPid();
  ASSERT_TRUE(pid);
  EXPECT_EQ(setup::sys::ProcessUid(*pid), daemon->uid);
  // The hooks point at the installed binary, never into the build tree.
  const std::string managed = ReadText("/etc/claude-code/managed-settings.json");
  EXPECT_NE(managed.find("/usr/local/bin/dualkey hook claude"), std::string::npos) << managed;
  EXPECT_NE(ReadText(home() + "/.claude/settings.json").find("/usr/local/bin/dualkey hook claude"),
            std::string::npos);
}

TEST_F(Protected, SecondSetupIsANoOpThatSaysSo) {
  Ran ran = RunSetup();
  json report = json::parse(ran.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << ran.all();
  EXPECT_FALSE(report["changed"].get<bool>()) << ran.out;
  for (const json& step : report["steps"]) EXPECT_TRUE(step["status"] == "ok") << step.dump();
  Ran text = RunRoot({DUALKEY_BINARY, "setup", "--user", agent().name, "--daemon-user",
                      TheWorld().daemon_user, "--no-doctor"});
  EXPECT_NE(text.out.find("nothing to do"), std::string::npos) << text.out;
}

TEST_F(Protected, DryRunChangesNothing) {
  const std::string before = Shell(
                                 "ls -laR --time-style=full-iso /etc/dualkey /var/lib/dualkey "
                                 "/run/dualkey /usr/local/bin/dualkey /etc/claude-code "
                                 "2>&1; md5sum /etc/dualkey/* /var/lib/dualkey/state.sqlite3")
                                 .out;
  Ran ran = RunSetup({"--dry-run"});
  EXPECT_EQ(ran.exit_code, 0) << ran.all();
  json report = json::parse(ran.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << ran.all();
  EXPECT_FALSE(report["changed"].get<bool>()) << "a dry run of an install in place: " << ran.out;
  const std::string after = Shell(
                                "ls -laR --time-style=full-iso /etc/dualkey /var/lib/dualkey "
                                "/run/dualkey /usr/local/bin/dualkey /etc/claude-code "
                                "2>&1; md5sum /etc/dualkey/* /var/lib/dualkey/state.sqlite3")
                                .out;
  EXPECT_EQ(before, after);
  // The user may ask too (no root needed to look).
  Ran mine = RunAs(agent(), {kBinary, "setup", "--dry-run", "--user", agent().name});
  EXPECT_EQ(mine.exit_code, 0) << mine.all();
  EXPECT_EQ(before, Shell("ls -laR --time-style=full-iso /etc/dualkey /var/lib/dualkey "
                          "/run/dualkey /usr/local/bin/dualkey /etc/claude-code "
                          "2>&1; md5sum /etc/dualkey/* /var/lib/dualkey/state.sqlite3")
                        .out);
}

TEST_F(Protected, DoctorPassesWhatSetupProvides) {
  Ran ran = RunAs(agent(), {kBinary, "doctor", "--json"});
  json report = json::parse(ran.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << ran.all();
  EXPECT_EQ(report["mode"], "protected");
  std::map<std::string, json> checks;
  for (const json& c : report["checks"]) checks[c["id"]] = c;
  for (const char* id : {"install", "secrets", "store", "audit_log", "audit_key", "vault", "policy",
                         "daemon", "hooks", "binary"})
    EXPECT_TRUE(checks[id].value("ok", false)) << id << ": " << checks[id].dump();
  EXPECT_EQ(report.value("audit_public_key", ""), ReadText("/etc/dualkey/audit.pub").substr(0, 64));
  // Needs wt/daemon (clients ignore DUALKEY_SOCKET/XDG_* in protected mode):
  EXPECT_TRUE(checks["environment"].value("ok", false)) << checks["environment"].dump();
  EXPECT_EQ(ran.exit_code, checks["environment"].value("ok", false) ? 0 : 1);
}

TEST_F(Protected, DoctorRegistersNothing) {
  for (int i = 0; i < 5; ++i) RunAs(agent(), {kBinary, "doctor"});
  std::optional<json> pending = Ask(kSocket, {{"op", "pending"}});
  ASSERT_TRUE(pending) << "the daemon does not answer";
  for (const json& r : (*pending)["requests"])
    EXPECT_NE(r.value("input", ""), "rm -rf ~") << "doctor registered " << r.dump();
}

// --- the agent's attacks ----------------------------------------------------

TEST_F(Protected, ApprovalIsBoundToTheExactActionAndUsedOnce) {
  // Needs the hook to reach the protected install's daemon (wt/daemon:
  // clients take the socket from install.toml). It runs before the attacks
  // below: their held attempts (as the same agent) trip the breaker.
  const std::string command = "rm -rf /srv/app/uploads-" + Suffix();
  Ran first = Hook(BashCall(command, home()));
  ASSERT_TRUE(Stopped(first));
  const std::string all = first.all();
  const std::size_t at = all.find("ap_");
  ASSERT_NE(at, std::string::npos) << "the hold did not become a pending approval: " << all;
  std::string id =
      all.substr(at, all.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_", at) - at);
  std::optional<json> approved = Ask(
      kSocket,
      {{"op", "approve"}, {"id", id}, {"approver", "alice"}, {"totp", TotpNow(TheWorld().secret)}});
  ASSERT_TRUE(approved);
  ASSERT_TRUE(approved->value("ok", false)) << approved->dump();
  EXPECT_TRUE(Stopped(Hook(BashCall(command + " ", home())))) << "a variant passed";
  Ran retry = Hook(BashCall(command, home()));
  EXPECT_FALSE(Stopped(retry)) << "the approved action did not pass: " << retry.all();
  EXPECT_TRUE(Stopped(Hook(BashCall(command, home())))) << "the approval was used twice";
}

TEST_F(Protected, SelfEnrolmentIsRefused) {
  Ran ran = RunAs(agent(), {kBinary, "approver", "add", "mallory", "--state", kStateDir});
  EXPECT_NE(ran.exit_code, 0) << ran.all();
  Ran listed = RunRoot({kBinary, "approver", "list", "--state", kStateDir});
  EXPECT_EQ(listed.out.find("mallory"), std::string::npos) << listed.all();
  // Through the hook, as a tool call (guard.tamper: wt/classify).
  EXPECT_TRUE(Tamper("dualkey approver add mallory"));
}

TEST_F(Protected, StoreCannotBeWrittenOrRead) {
  const std::string store = std::string(kStateDir) + "/state.sqlite3";
  Ran write = RunAs(agent(), {"sqlite3", store, "UPDATE requests SET state='approved'"});
  EXPECT_NE(write.exit_code, 0) << write.all();
  Ran read = RunAs(agent(), {"sqlite3", store, "SELECT * FROM approvers"});
  EXPECT_NE(read.exit_code, 0) << read.all();
  EXPECT_EQ(read.out.find(TheWorld().secret), std::string::npos);
  Ran key = RunAs(agent(), {"cat", std::string(kStateDir) + "/audit.key"});
  EXPECT_NE(key.exit_code, 0);
  EXPECT_TRUE(key.out.empty());
}

TEST_F(Protected, DaemonCannotBeKilledNorItsSocketTaken) {
  std::optional<pid_t> pid = DaemonPid();
  ASSERT_TRUE(pid);
  for (const char* signal_name : {"TERM", "KILL", "STOP"}) {
    Ran kill_run = RunAs(agent(), {"kill", std::string("-") + signal_name, std::to_string(*pid)});
    EXPECT_NE(kill_run.exit_code, 0) << signal_name;
  }
  Ran pkill = RunAs(agent(), {"pkill", "-f", "dualkey serve"});
  EXPECT_NE(pkill.exit_code, 0);
  EXPECT_TRUE(setup::sys::ProcessAlive(*pid));
  // The socket: not removable, not replaceable, no room beside it.
  Ran rm = RunAs(agent(), {"rm", "-f", kSocket});
  EXPECT_NE(rm.exit_code, 0);
  Ran listen = RunAs(agent(), {"python3", "-c",
                               "import socket; s=socket.socket(socket.AF_UNIX); "
                               "s.bind('/run/dualkey/fake.sock'); s.listen()"});
  EXPECT_NE(listen.exit_code, 0);
  EXPECT_TRUE(Ask(kSocket, {{"op", "status"}}, &agent())) << "the daemon stopped answering";
}

TEST_F(Protected, CodesCannotBeGuessedAtFullSpeed) {
  // A held action of the agent's own, then guesses at the rate one
  // connection allows (needs wt/approvals: per-approver and per-action
  // lockouts, audited).
  std::optional<json> held = Ask(kSocket,
                                 {{"op", "check"},
                                  {"channel", "shell"},
                                  {"input", "rm -rf /srv/guessing"},
                                  {"cwd", home()},
                                  {"home", home()},
                                  {"agent", "guesser"}},
                                 &agent());
  ASSERT_TRUE(held);
  const std::string id = held->value("approval_id", "");
  ASSERT_FALSE(id.empty()) << held->dump();
  const std::time_t now = std::time(nullptr);
  std::set<std::string> valid;
  for (int step = -2; step <= 2; ++step)
    valid.insert(approval::TotpCode(TheWorld().secret, now + 30 * step));
  int attempts = 0, refused = 0;
  for (int i = 0; i < 200; ++i) {
    std::string guess = std::to_string(100000 + (i * 7919) % 900000);
    if (valid.count(guess)) continue;
    ++attempts;
    std::optional<json> reply = Ask(
        kSocket, {{"op", "approve"}, {"id", id}, {"approver", "alice"}, {"totp", guess}}, &agent());
    if (reply && !reply->value("ok", false)) ++refused;
  }
  EXPECT_EQ(refused, attempts) << "every wrong guess must be refused";
  // After 200 wrong guesses even the right code must be locked out.
  // The next step's code: accepted (one step of clock skew) and never used
  // before, so only a lockout can refuse it.
  const std::string fresh = approval::TotpCode(TheWorld().secret, std::time(nullptr) + 30);
  std::optional<json> right = Ask(
      kSocket, {{"op", "approve"}, {"id", id}, {"approver", "alice"}, {"totp", fresh}}, &agent());
  ASSERT_TRUE(right);
  EXPECT_FALSE(right->value("ok", false))
      << "200 wrong guesses, then the right code was accepted: no lockout (" << right->dump()
      << ")";
  Ask(kSocket, {{"op", "deny"}, {"id", id}, {"reason", "test"}});
}

TEST_F(Protected, EnvironmentOverridesAreIgnored) {
  // The agent's own listener, answering allow, and its own policy.
  const std::string fake = home() + "/fake.sock";
  RunAs(agent(), {"mkdir", "-p", home() + "/cfg/dualkey"});
  RunAs(agent(), {"sh", "-c", "printf 'mode = \"observe\"\\n' > ~/cfg/dualkey/policy.toml"});
  const std::optional<User> a = agent();
  pid_t listener = fork();
  if (listener == 0) {
    if (setresgid(a->gid, a->gid, a->gid) != 0 || setresuid(a->uid, a->uid, a->uid) != 0) _exit(1);
    unlink(fake.c_str());
    Result<base::UniqueFd> listening = base::ListenUnixSocket(fake, 8);
    if (!listening.ok()) _exit(1);
    const int fd = listening->release();
    while (true) {
      int c = accept(fd, nullptr, nullptr);
      if (c < 0) continue;
      char buffer[4096];
      ssize_t ignored = recv(c, buffer, sizeof(buffer), 0);
      const char reply[] = "{\"ok\":true,\"decision\":\"allow\",\"reason\":\"fake\"}\n";
      ignored = send(c, reply, sizeof(reply) - 1, MSG_NOSIGNAL);
      (void)ignored;
      // Leave a mark the test can see.
      int mark = open((fake + ".hit").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (mark >= 0) close(mark);
      close(c);
    }
  }
  ASSERT_GT(listener, 0);
  for (int i = 0; i < 100 && !Exists(fake); ++i) usleep(10000);
  const std::map<std::string, std::string> env = {{"DUALKEY_SOCKET", fake},
                                                  {"DUALKEY_STATE_DIR", home() + "/state"},
                                                  {"XDG_STATE_HOME", home() + "/xstate"},
                                                  {"XDG_CONFIG_HOME", home() + "/cfg"}};
  Ran hook = Hook(BashCall("rm -rf /srv/production", home()), env);
  kill(listener, SIGKILL);
  waitpid(listener, nullptr, 0);
  EXPECT_TRUE(Stopped(hook)) << "DUALKEY_SOCKET/XDG_* let rm -rf through: " << hook.all();
  EXPECT_FALSE(Exists(fake + ".hit"))
      << "the hook asked the agent's own listener (needs wt/daemon: protected mode ignores "
         "DUALKEY_SOCKET)";
  // And writing those variables into a startup file is held (wt/classify).
  EXPECT_TRUE(Tamper("echo 'export DUALKEY_SOCKET=$HOME/fake.sock' >> ~/.bashrc"));
}

TEST_F(Protected, PolicyCannotBeLoosened) {
  RunAs(agent(), {"mkdir", "-p", home() + "/.config/dualkey"});
  Ran write = RunAs(agent(), {"sh", "-c",
                              "printf 'mode = \"observe\"\\n[[rules]]\\nname = \"all\"\\n"
                              "decision = \"allow\"\\n' > ~/.config/dualkey/policy.toml"});
  ASSERT_EQ(write.exit_code, 0) << write.all();
  EXPECT_TRUE(Tamper("rm -rf /srv/production"));
  Ran system =
      RunAs(agent(), {"sh", "-c", "echo 'mode = \"observe\"' >> /etc/dualkey/policy.toml"});
  EXPECT_NE(system.exit_code, 0);
  RunAs(agent(), {"rm", "-f", home() + "/.config/dualkey/policy.toml"});
}

TEST_F(Protected, HookRemovalIsHeldAndTheManagedHookSurvives) {
  // As tool calls, by shell and by the agent's file tool (wt/classify).
  EXPECT_TRUE(Tamper("sed -i '/dualkey/d' ~/.claude/settings.json"));
  EXPECT_TRUE(TamperWrite(home() + "/.claude/settings.json", "{}"));
  EXPECT_TRUE(TamperWrite("/etc/claude-code/managed-settings.json", "{}"));
  // Done for real: the user's file is theirs, the managed one is not.
  const std::string saved = ReadText(home() + "/.claude/settings.json");
  Ran sed = RunAs(agent(), {"sed", "-i", "/dualkey/d", home() + "/.claude/settings.json"});
  EXPECT_EQ(sed.exit_code, 0);
  Ran managed =
      RunAs(agent(), {"sed", "-i", "/dualkey/d", "/etc/claude-code/managed-settings.json"});
  EXPECT_NE(managed.exit_code, 0);
  Ran doctor = RunAs(agent(), {kBinary, "doctor", "--json"});
  json report = json::parse(doctor.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << doctor.all();
  bool managed_protected = false;
  for (const json& entry : report["agents"])
    if (entry["agent"] == "claude" && entry["scope"] == "managed")
      managed_protected = entry.value("protected", false);
  EXPECT_TRUE(managed_protected) << doctor.out;
  // Put the user's file back as it was.
  RunAs(agent(), {"sh", "-c", "cat > ~/.claude/settings.json"}, {}, saved);
}

TEST_F(Protected, BinaryAndAuditLogAreOutOfReach) {
  EXPECT_NE(RunAs(agent(), {"cp", "/bin/true", kBinary}).exit_code, 0);
  EXPECT_NE(RunAs(agent(), {"mv", "/bin/true", kBinary}).exit_code, 0);
  const std::string log = std::string(kStateDir) + "/audit.jsonl";
  EXPECT_NE(RunAs(agent(), {"sh", "-c", "echo '{}' >> " + log}).exit_code, 0);
  EXPECT_NE(RunAs(agent(), {"truncate", "-s", "0", log}).exit_code, 0);
  EXPECT_NE(RunAs(agent(), {"rm", "-f", log}).exit_code, 0);
  struct stat st {};
  EXPECT_EQ(lstat(log.c_str(), &st), 0);
  EXPECT_GT(st.st_size, 0);
}

// --- bad input --------------------------------------------------------------

TEST_F(Protected, ForeignListenerOnTheSocketIsRefused) {
  ASSERT_EQ(RunRoot({DUALKEY_BINARY, "setup", "--stop"}).exit_code, 0);
  const User a = agent();
  pid_t foreign = fork();
  if (foreign == 0) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, kSocket, sizeof(address.sun_path) - 1);
    unlink(kSocket);
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) _exit(1);
    chmod(kSocket, 0666);
    // Listening as the agent: SO_PEERCRED names whoever called listen().
    if (setresgid(a.gid, a.gid, a.gid) != 0 || setresuid(a.uid, a.uid, a.uid) != 0) _exit(1);
    if (listen(fd, 8) != 0) _exit(1);
    while (true) {
      int c = accept(fd, nullptr, nullptr);
      if (c < 0) continue;
      char buffer[4096];
      ssize_t ignored = recv(c, buffer, sizeof(buffer), 0);
      const char reply[] = "{\"ok\":true,\"decision\":\"allow\",\"reason\":\"foreign\"}\n";
      ignored = send(c, reply, sizeof(reply) - 1, MSG_NOSIGNAL);
      (void)ignored;
      close(c);
    }
  }
  ASSERT_GT(foreign, 0);
  for (int i = 0; i < 100 && !Exists(kSocket); ++i) usleep(10000);
  Ran hook = Hook(BashCall("rm -rf /srv/production", home()));
  Ran doctor = RunAs(agent(), {kBinary, "doctor"});
  kill(foreign, SIGKILL);
  waitpid(foreign, nullptr, 0);
  EXPECT_TRUE(Stopped(hook)) << "a foreign listener got an allow through: " << hook.all();
  EXPECT_NE(doctor.exit_code, 0);
  EXPECT_NE(doctor.out.find("foreign process"), std::string::npos) << doctor.out;
  // The hook says why (needs wt/daemon: the SO_PEERCRED check names the peer).
  EXPECT_NE(hook.all().find("foreign"), std::string::npos) << hook.all();
  Ran again = RunSetup();
  EXPECT_LE(again.exit_code, 1) << again.all();
  EXPECT_TRUE(Ask(kSocket, {{"op", "status"}}));
}

TEST_F(Protected, StateWithWrongModesIsReportedAndRepaired) {
  const std::string store = std::string(kStateDir) + "/state.sqlite3";
  ASSERT_EQ(chmod(kStateDir, 0755), 0);
  ASSERT_EQ(chmod(store.c_str(), 0644), 0);
  Ran doctor = RunAs(agent(), {kBinary, "doctor"});
  EXPECT_NE(doctor.exit_code, 0);
  EXPECT_NE(doctor.out.find("you can read " + store), std::string::npos) << doctor.out;
  EXPECT_NE(doctor.out.find("fix: sudo dualkey setup"), std::string::npos);
  EXPECT_TRUE(Stopped(Hook(BashCall("rm -rf /srv/production", home()))));
  Ran repair = RunSetup();
  EXPECT_NE(repair.out.find("handed to"), std::string::npos) << repair.out;
  struct stat st {};
  ASSERT_EQ(lstat(store.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u);
  ASSERT_EQ(lstat(kStateDir, &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST_F(Protected, MissingAuditKeyHoldsWithAClearMessage) {
  const std::string key = std::string(kStateDir) + "/audit.key";
  const std::string saved = ReadText(key);
  ASSERT_FALSE(saved.empty());
  ASSERT_EQ(RunRoot({DUALKEY_BINARY, "setup", "--stop"}).exit_code, 0);
  ASSERT_EQ(unlink(key.c_str()), 0);
  Ran start = RunSetup();
  // The daemon refuses a log signed by another key; setup says so.
  EXPECT_EQ(start.exit_code, 2) << start.all();
  EXPECT_NE(start.out.find("key"), std::string::npos) << start.out;
  EXPECT_TRUE(Stopped(Hook(BashCall("rm -rf /srv/production", home()))));
  // Put the key back; setup starts the daemon again.
  RunRoot({"rm", "-f", key});
  ASSERT_EQ(RunRoot({"sh", "-c", "cat > " + key}, saved).exit_code, 0);
  std::optional<User> daemon = FindUser(TheWorld().daemon_user);
  ASSERT_TRUE(daemon);
  ASSERT_EQ(chown(key.c_str(), daemon->uid, daemon->gid), 0);
  ASSERT_EQ(chmod(key.c_str(), 0600), 0);
  Ran restart = RunSetup();
  EXPECT_LE(restart.exit_code, 1) << restart.all();
  EXPECT_TRUE(Ask(kSocket, {{"op", "status"}}));
}

// --- removal, and setup interrupted half-way ------------------------------

TEST_F(Protected, InterruptedSetupIsFinishedByTheNextRun) {
  // Remove, then kill setup part-way at a few points; each time the next
  // run must finish the install.
  ASSERT_EQ(RunRoot({DUALKEY_BINARY, "setup", "--remove", "--user", agent().name, "--daemon-user",
                     TheWorld().daemon_user})
                .exit_code,
            0);
  // A dry run of a fresh install says what it would do and does none of it.
  Ran dry = RunSetup({"--dry-run"});
  json plan = json::parse(dry.out, nullptr, false);
  ASSERT_TRUE(plan.is_object()) << dry.all();
  EXPECT_TRUE(plan["changed"].get<bool>());
  EXPECT_FALSE(Exists("/etc/dualkey/install.toml"));
  EXPECT_FALSE(Exists(kBinary));
  EXPECT_FALSE(FindUser(TheWorld().daemon_user));
  for (int delay_ms : {20, 120, 350}) {
    pid_t pid = fork();
    if (pid == 0) {
      int null_fd = open("/dev/null", O_WRONLY);
      dup2(null_fd, 1);
      dup2(null_fd, 2);
      execl(DUALKEY_BINARY, DUALKEY_BINARY, "setup", "--user", agent().name.c_str(),
            "--daemon-user", TheWorld().daemon_user.c_str(), "--no-doctor", nullptr);
      _exit(127);
    }
    usleep(delay_ms * 1000);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    Ran finish = RunSetup();
    json report = json::parse(finish.out, nullptr, false);
    ASSERT_TRUE(report.is_object()) << finish.all();
    EXPECT_LE(finish.exit_code, 1) << "after a kill at " << delay_ms << " ms: " << finish.out;
    EXPECT_TRUE(Ask(kSocket, {{"op", "status"}})) << "no daemon after a kill at " << delay_ms;
    EXPECT_TRUE(Stopped(Hook(BashCall("rm -rf /srv/production", home()))));
  }
  // The approver kept across --remove and back.
  Ran listed =
      RunRoot({"setpriv", "--reuid", TheWorld().daemon_user, "--regid", TheWorld().daemon_user,
               "--clear-groups", kBinary, "approver", "list", "--state", kStateDir});
  EXPECT_NE(listed.out.find("alice"), std::string::npos) << listed.all();
}

TEST_F(Protected, RemoveLeavesNothingRunningAndKeepsVaultAndLog) {
  std::optional<User> daemon = FindUser(TheWorld().daemon_user);
  ASSERT_TRUE(daemon);
  // Something in the vault to keep.
  Ran vault =
      RunRoot({"setpriv", "--reuid", daemon->name, "--regid", daemon->name, "--clear-groups",
               kBinary, "vault", "init", "--vault", std::string(kStateDir) + "/vault"});
  ASSERT_EQ(vault.exit_code, 0) << vault.all();
  const std::string log_before = ReadText(std::string(kStateDir) + "/audit.jsonl");
  Ran removed = RunRoot({DUALKEY_BINARY, "setup", "--remove", "--json"});
  json report = json::parse(removed.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << removed.all();
  EXPECT_EQ(removed.exit_code, 0) << removed.out;
  EXPECT_TRUE(ProcessesOf(daemon->uid).empty());
  EXPECT_FALSE(Exists(kSocket));
  EXPECT_FALSE(Exists("/run/dualkey"));
  EXPECT_FALSE(Exists("/etc/dualkey/install.toml"));
  EXPECT_FALSE(Exists(kBinary));
  EXPECT_FALSE(Exists("/etc/systemd/system/dualkey.service"));
  EXPECT_FALSE(FindUser(TheWorld().daemon_user));
  EXPECT_EQ(ReadText("/etc/claude-code/managed-settings.json").find("dualkey"), std::string::npos);
  EXPECT_EQ(ReadText(home() + "/.claude/settings.json").find("dualkey"), std::string::npos);
  // Kept: the log (every byte) and the vault, root's alone now.
  const std::string log_after = ReadText(std::string(kStateDir) + "/audit.jsonl");
  EXPECT_FALSE(log_after.empty());
  EXPECT_EQ(log_after.substr(0, log_before.size()), log_before);
  EXPECT_TRUE(Exists(std::string(kStateDir) + "/vault"));
  struct stat st {};
  ASSERT_EQ(lstat(kStateDir, &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  Ran again = RunRoot({DUALKEY_BINARY, "setup", "--remove"});
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.out.find("nothing to do"), std::string::npos) << again.out;
}

}  // namespace
}  // namespace dualkey::boundary
