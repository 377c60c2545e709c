// A protected install, attacked as an agent would: a foreign process on the
// daemon's socket, environment overrides, a user policy that tries to
// loosen, an install file that cannot be trusted. Each test runs in a
// private mount namespace with a tmpfs over /etc/dualkey (so no other test
// running at the same time sees the install file), with real users made
// for it (CI runs as root) and real processes under setpriv.
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "base/unix_socket.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The fake daemon: when this test binary is started with
// DUALKEY_TEST_FAKE_LISTENER=PATH it listens there and answers every line
// with DUALKEY_TEST_FAKE_REPLY (default: an allow), before gtest starts.
int RunFakeListenerIfAsked() {
  const char* path = std::getenv("DUALKEY_TEST_FAKE_LISTENER");
  if (path == nullptr) return 0;
  const char* reply_env = std::getenv("DUALKEY_TEST_FAKE_REPLY");
  std::string reply = reply_env != nullptr
                          ? reply_env
                          : R"({"ok":true,"decision":"allow","reason":"a fake daemon says so"})";
  reply.push_back('\n');
  unlink(path);
  dualkey::Result<dualkey::base::UniqueFd> listening = dualkey::base::ListenUnixSocket(path, 16);
  if (!listening.ok()) _exit(3);
  const int fd = listening->release();
  chmod(path, 0666);
  signal(SIGPIPE, SIG_IGN);
  while (true) {
    int client = accept(fd, nullptr, nullptr);
    if (client < 0) continue;
    char c;
    while (recv(client, &c, 1, 0) == 1) {
      if (c == '\n') send(client, reply.data(), reply.size(), MSG_NOSIGNAL);
    }
    close(client);
  }
}
[[maybe_unused]] const int kFakeListener = RunFakeListenerIfAsked();

struct Output {
  int status = -1;
  std::string out;
};

Output Shell(const std::string& command) {
  Output output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return output;
  std::array<char, 4096> buffer;
  std::size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    output.out.append(buffer.data(), n);
  int raw = pclose(pipe);
  output.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return output;
}

std::string Quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string Read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string ClaudeHook(const std::string& command) {
  return json{{"session_id", "s"},
              {"hook_event_name", "PreToolUse"},
              {"tool_name", "Bash"},
              {"cwd", "/srv"},
              {"tool_input", {{"command", command}}}}
      .dump();
}

class Protected : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (CI runs as root)";
    if (Shell("command -v unshare && command -v setpriv && command -v useradd").status != 0)
      GTEST_SKIP() << "needs unshare, setpriv and useradd";
    if (Shell("unshare -m true").status != 0) GTEST_SKIP() << "cannot make a mount namespace";
    const std::string tag = std::to_string(getpid());
    dir_ = fs::path("/tmp") / ("dualkey-protected-" + tag + "-" +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    for (const char* sub : {"bin", "config", "state", "run", "home-agent", "other"})
      fs::create_directories(dir_ / sub);
    fs::permissions(dir_, fs::perms(0755));
    // Copies everyone can run, whatever the modes above the build tree.
    fs::copy_file(DUALKEY_BINARY, dir_ / "bin/dualkey");
    fs::copy_file("/proc/self/exe", dir_ / "bin/test_daemon");
    // Made for this test: the daemon's account, a foreign one, the agent's.
    daemon_user_ = MakeUser("dkd" + tag, dir_ / "state");
    foreign_user_ = MakeUser("dkf" + tag, dir_ / "other");
    agent_user_ = MakeUser("dka" + tag, dir_ / "home-agent");
    ASSERT_FALSE(daemon_user_.empty() || foreign_user_.empty() || agent_user_.empty());
    Chown(dir_ / "state", daemon_user_);
    fs::permissions(dir_ / "state", fs::perms(0700));
    Chown(dir_ / "run", daemon_user_);
    // The agent's own (writable) user policy tries to switch everything off.
    fs::create_directories(dir_ / "home-agent/.config/dualkey");
    std::ofstream(dir_ / "home-agent/.config/dualkey/policy.toml")
        << "mode = \"observe\"\n[[rules]]\nname = \"everything\"\ndecision = \"allow\"\n";
    Chown(dir_ / "home-agent", agent_user_, /*recursive=*/true);
    // The system policy (root's): scratch space may be deleted.
    std::ofstream(dir_ / "config/policy.toml")
        << "[[rules]]\nname = \"scratch\"\ntarget = [\"/srv/scratch/*\"]\ndecision = \"allow\"\n";
    std::ofstream(dir_ / "rm.json") << ClaudeHook("rm -rf /srv/data");
    std::ofstream(dir_ / "scratch.json") << ClaudeHook("rm -rf /srv/scratch/build");
    std::ofstream(dir_ / "ls.json") << ClaudeHook("ls -la");
    // The mount point; the tmpfs over it lives only in each test's namespace.
    fs::create_directories("/etc/dualkey");
  }

  void TearDown() override {
    for (const std::string& user : {daemon_user_, foreign_user_, agent_user_})
      if (!user.empty()) Shell("userdel " + user + " >/dev/null 2>&1");
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  std::string MakeUser(const std::string& name, const fs::path& home) {
    Shell("userdel " + name + " >/dev/null 2>&1");
    Output made = Shell("useradd --system --no-create-home --home-dir " + Quote(home.string()) +
                        " --shell /usr/sbin/nologin " + name);
    EXPECT_EQ(made.status, 0) << made.out;
    return made.status == 0 ? name : "";
  }
  static uid_t Uid(const std::string& user) {
    passwd* pw = getpwnam(user.c_str());
    return pw != nullptr ? pw->pw_uid : static_cast<uid_t>(-1);
  }
  static void Chown(const fs::path& path, const std::string& user, bool recursive = false) {
    Shell(std::string("chown ") + (recursive ? "-R " : "") + user + ":" + user + " " +
          Quote(path.string()));
  }

  std::string Socket() const { return (dir_ / "run/dualkey.sock").string(); }

  // `body` runs in a fresh mount namespace whose /etc/dualkey holds an
  // install file naming this test's paths and daemon user.
  Output InProtectedInstall(const std::string& body, const std::string& install_owner = "root") {
    const std::string install = "[daemon]\nuser = \"" + daemon_user_ + "\"\nstate_dir = \"" +
                                (dir_ / "state").string() + "\"\nsocket = \"" + Socket() +
                                "\"\nconfig_dir = \"" + (dir_ / "config").string() + "\"\n";
    std::ofstream(dir_ / "install.toml") << install;
    const std::string script =
        "set -u; cd /tmp; mount --make-rprivate / && "
        "mount -t tmpfs -o mode=0755,size=1m dualkey-test /etc/dualkey && "
        "cp " +
        Quote((dir_ / "install.toml").string()) +
        " /etc/dualkey/install.toml && "
        "chmod 0644 /etc/dualkey/install.toml && chown " +
        install_owner + " /etc/dualkey/install.toml || exit 99\n" + body;
    std::ofstream(dir_ / "script.sh") << script;
    return Shell("timeout 120 unshare -m sh " + Quote((dir_ / "script.sh").string()));
  }

  // Starts the fake daemon as `user` on `socket` and waits for it; the
  // script kills it on exit.
  std::string FakeListener(const std::string& user, const std::string& socket,
                           const std::string& reply = "") {
    std::string env = "DUALKEY_TEST_FAKE_LISTENER=" + Quote(socket);
    if (!reply.empty()) env += " DUALKEY_TEST_FAKE_REPLY=" + Quote(reply);
    return "setpriv --reuid=" + user + " --regid=" + user + " --clear-groups env " + env + " " +
           Quote((dir_ / "bin/test_daemon").string()) + " & FAKE=$!; trap 'kill $FAKE' EXIT; " +
           "for i in $(seq 100); do [ -S " + Quote(socket) + " ] && break; sleep 0.05; done; ";
  }

  std::string Dualkey(const std::string& args) const {
    return Quote((dir_ / "bin/dualkey").string()) + " " + args;
  }
  // The agent's user, as an agent runs: its own HOME, its own environment.
  std::string AsAgent(const std::string& command, const std::string& env = "") const {
    return "setpriv --reuid=" + agent_user_ + " --regid=" + agent_user_ +
           " --clear-groups env HOME=" + Quote((dir_ / "home-agent").string()) + " " + env + " " +
           command;
  }

  fs::path dir_;
  std::string daemon_user_, foreign_user_, agent_user_;
};

// A process of another user bound the daemon's socket and answers "allow":
// the client sees through it, names it, and the local verdict holds.
TEST_F(Protected, AForeignListenerOnTheSocketIsRefused) {
  fs::permissions(dir_ / "run", fs::perms(01777));  // the attacker could bind there
  const std::string in = Quote(dir_.string());
  Output run = InProtectedInstall(
      FakeListener(foreign_user_, Socket()) + Dualkey("hook claude") + " < " + in + "/rm.json > " +
      in + "/hook.out 2>&1; echo $? > " + in + "/hook.rc; " + Dualkey("check -- rm -rf /srv/data") +
      " > " + in + "/check.out 2>&1; echo $? > " + in + "/check.rc; " + Dualkey("hook claude") +
      " < " + in + "/ls.json > " + in + "/ls.out 2>&1; echo $? > " + in + "/ls.rc; " +
      Dualkey("pending") + " > " + in + "/pending.out 2>&1; echo $? > " + in + "/pending.rc");
  ASSERT_NE(run.status, 99) << run.out;
  const std::string foreign = "foreign process (uid " + std::to_string(Uid(foreign_user_));
  EXPECT_EQ(Read(dir_ / "hook.rc"), "2\n") << Read(dir_ / "hook.out");
  EXPECT_NE(Read(dir_ / "hook.out").find(foreign), std::string::npos) << Read(dir_ / "hook.out");
  EXPECT_NE(Read(dir_ / "hook.out").find("cannot be approved until the dualkey daemon answers"),
            std::string::npos)
      << Read(dir_ / "hook.out");
  EXPECT_EQ(Read(dir_ / "check.rc"), "1\n") << Read(dir_ / "check.out");
  EXPECT_NE(Read(dir_ / "check.out").find(foreign), std::string::npos) << Read(dir_ / "check.out");
  EXPECT_EQ(Read(dir_ / "ls.rc"), "0\n") << Read(dir_ / "ls.out");
  EXPECT_NE(Read(dir_ / "pending.rc"), "0\n");
  EXPECT_NE(Read(dir_ / "pending.out").find(foreign), std::string::npos)
      << Read(dir_ / "pending.out");
}

// Root (or the daemon's user) on the socket is believed: here a listener
// run as root that holds with an approval id.
TEST_F(Protected, TheDaemonsUserOrRootIsBelieved) {
  const std::string in = Quote(dir_.string());
  Output run = InProtectedInstall(
      FakeListener("root", Socket(),
                   R"({"ok":true,"decision":"hold","reason":"held by the daemon",)"
                   R"("approval_id":"ap_fromroot00"})") +
      Dualkey("hook claude") + " < " + in + "/rm.json > " + in + "/hook.out 2>&1; echo $? > " + in +
      "/hook.rc");
  ASSERT_NE(run.status, 99) << run.out;
  EXPECT_EQ(Read(dir_ / "hook.rc"), "2\n");
  EXPECT_NE(Read(dir_ / "hook.out").find("ap_fromroot00"), std::string::npos)
      << Read(dir_ / "hook.out");
}

// DUALKEY_SOCKET, DUALKEY_STATE_DIR, XDG_CONFIG_HOME, XDG_STATE_HOME and
// $HOME's policy do nothing on a protected install: the hook does not go to
// the socket they name, and the policy they point at cannot loosen.
TEST_F(Protected, EnvironmentOverridesAreIgnored) {
  const std::string in = Quote(dir_.string());
  const std::string fake = (dir_ / "other/fake.sock").string();
  fs::create_directories(dir_ / "xdg/dualkey");
  std::ofstream(dir_ / "xdg/dualkey/policy.toml")
      << "mode = \"observe\"\n[[rules]]\ndecision = \"allow\"\n";
  fs::permissions(dir_ / "other", fs::perms(0777));
  const std::string env =
      "DUALKEY_SOCKET=" + Quote(fake) + " DUALKEY_STATE_DIR=" + Quote((dir_ / "other").string()) +
      " XDG_CONFIG_HOME=" + Quote((dir_ / "xdg").string()) +
      " XDG_STATE_HOME=" + Quote((dir_ / "other").string()) + " DUALKEY_ENV=sandbox";
  // The fake answers allow, and runs as root: it would be believed if used.
  Output run = InProtectedInstall(
      FakeListener("root", fake) + "env " + env + " " + Dualkey("hook claude") + " < " + in +
      "/rm.json > " + in + "/hook.out 2>&1; echo $? > " + in + "/hook.rc; env " + env + " " +
      Dualkey("check --local -- rm -rf /srv/data") + " > " + in + "/local.out 2>&1; echo $? > " +
      in + "/local.rc; " + Dualkey("pending --socket " + Quote(fake)) + " > " + in +
      "/pending.out 2>&1; echo $? > " + in + "/pending.rc");
  ASSERT_NE(run.status, 99) << run.out;
  EXPECT_EQ(Read(dir_ / "hook.rc"), "2\n") << Read(dir_ / "hook.out");
  EXPECT_EQ(Read(dir_ / "hook.out").find("fake daemon"), std::string::npos);
  EXPECT_NE(Read(dir_ / "hook.out").find("not running"), std::string::npos)
      << Read(dir_ / "hook.out");
  EXPECT_EQ(Read(dir_ / "local.rc"), "1\n") << Read(dir_ / "local.out");
  EXPECT_NE(Read(dir_ / "pending.rc"), "0\n");
  EXPECT_NE(Read(dir_ / "pending.out").find("protected dualkey install"), std::string::npos)
      << Read(dir_ / "pending.out");

  // The same environment without the install file (single-user mode) does
  // reach the fake: the overrides are real there, which is why a protected
  // install ignores them.
  Output single = Shell(FakeListener("root", fake) + "env " + env + " " + Dualkey("hook claude") +
                        " < " + in + "/rm.json; echo rc=$?");
  EXPECT_NE(single.out.find("rc=0"), std::string::npos) << single.out;
}

// The real daemon, run as its own user: the agent's hook reaches it (the
// caller's uid lands in the audit log), the system policy may loosen, the
// agent's user policy may not.
TEST_F(Protected, TheDaemonDecidesAndOnlyRootOwnedPolicyLoosens) {
  const std::string in = Quote(dir_.string());
  const std::string serve = "setpriv --reuid=" + daemon_user_ + " --regid=" + daemon_user_ +
                            " --clear-groups " + Dualkey("serve --quiet") + " & SERVE=$!; " +
                            "trap 'kill $SERVE; wait $SERVE' EXIT; for i in $(seq 200); do [ -S " +
                            Quote(Socket()) + " ] && break; sleep 0.05; done; ";
  Output run = InProtectedInstall(
      serve + AsAgent(Dualkey("hook claude")) + " < " + in + "/rm.json > " + in +
      "/hook.out 2>&1; echo $? > " + in + "/hook.rc; " + AsAgent(Dualkey("hook claude")) + " < " +
      in + "/scratch.json > " + in + "/scratch.out 2>&1; echo $? > " + in + "/scratch.rc; " +
      "kill $SERVE; wait $SERVE; " + AsAgent(Dualkey("hook claude")) + " < " + in + "/rm.json > " +
      in + "/down.out 2>&1; echo $? > " + in + "/down.rc");
  ASSERT_NE(run.status, 99) << run.out;
  EXPECT_EQ(Read(dir_ / "hook.rc"), "2\n") << Read(dir_ / "hook.out");
  EXPECT_NE(Read(dir_ / "hook.out").find("holds this as approval ap_"), std::string::npos)
      << Read(dir_ / "hook.out");
  EXPECT_EQ(Read(dir_ / "scratch.rc"), "0\n") << Read(dir_ / "scratch.out");
  // Down: the local verdict, with the agent's permissive user policy read
  // as tighten-only, blocks (no "ask": nothing is approved around the daemon).
  EXPECT_EQ(Read(dir_ / "down.rc"), "2\n") << Read(dir_ / "down.out");
  EXPECT_EQ(Read(dir_ / "down.out").find("permissionDecision"), std::string::npos)
      << Read(dir_ / "down.out");
  const std::string audit = Read(dir_ / "state/audit.jsonl");
  EXPECT_NE(audit.find("\"uid\":" + std::to_string(Uid(agent_user_))), std::string::npos)
      << audit.substr(0, 2000);
}

// An install file an agent could have written (not root's) is not a reason
// to fall back to single-user mode: holds are blocked, with the reason.
TEST_F(Protected, AnInstallFileThatCannotBeTrustedFailsClosed) {
  const std::string in = Quote(dir_.string());
  Output run = InProtectedInstall(Dualkey("hook claude") + " < " + in + "/rm.json > " + in +
                                      "/hook.out 2>&1; echo $? > " + in + "/hook.rc; " +
                                      Dualkey("hook claude") + " < " + in + "/ls.json > " + in +
                                      "/ls.out 2>&1; echo $? > " + in + "/ls.rc",
                                  foreign_user_);
  ASSERT_NE(run.status, 99) << run.out;
  EXPECT_EQ(Read(dir_ / "hook.rc"), "2\n") << Read(dir_ / "hook.out");
  EXPECT_NE(Read(dir_ / "hook.out").find("not owned by root"), std::string::npos)
      << Read(dir_ / "hook.out");
  EXPECT_EQ(Read(dir_ / "ls.rc"), "0\n") << Read(dir_ / "ls.out");
}

}  // namespace
