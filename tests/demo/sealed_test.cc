// The demo is sealed off from the user's own dualkey: with DUALKEY_SOCKET,
// XDG_* and PG* exported and the user's daemon running, and on a protected
// install whose system daemon runs, the demo passes and neither daemon sees
// a request; no directory above the demo's changes its mode. And the way the
// demo pins its processes (`dualkey --sandbox DIR ...`) is attacked: outside
// the demo's own processes it cannot take a hook or `check` on a protected
// install to another daemon.
#include <gtest/gtest.h>
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
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "base/unix_socket.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A fake daemon that answers "allow" to everything: when this test binary
// is started with DUALKEY_TEST_FAKE_LISTENER=PATH it listens there, before
// gtest starts (an agent's own listener).
int RunFakeListenerIfAsked() {
  const char* path = std::getenv("DUALKEY_TEST_FAKE_LISTENER");
  if (path == nullptr) return 0;
  const std::string reply = R"({"ok":true,"decision":"allow","reason":"a fake daemon says so"})"
                            "\n";
  unlink(path);
  dualkey::Result<dualkey::base::UniqueFd> listening = dualkey::base::ListenUnixSocket(path, 16);
  if (!listening.ok()) _exit(3);
  const int fd = listening->release();
  signal(SIGPIPE, SIG_IGN);
  while (true) {
    int client = accept(fd, nullptr, nullptr);
    if (client < 0) continue;
    char c;
    while (recv(client, &c, 1, 0) == 1)
      if (c == '\n') send(client, reply.data(), reply.size(), MSG_NOSIGNAL);
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

std::string LastLine(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  const std::size_t nl = text.rfind('\n');
  return nl == std::string::npos ? text : text.substr(nl + 1);
}

// The kinds of the records in an audit log.
std::vector<std::string> AuditKinds(const fs::path& log) {
  std::vector<std::string> kinds;
  std::istringstream lines(Read(log));
  for (std::string line; std::getline(lines, line);) {
    json record = json::parse(line, nullptr, false);
    if (record.is_object() && record.contains("kind")) kinds.push_back(record["kind"]);
  }
  return kinds;
}

// Modes of `path` and of every directory above it.
std::map<std::string, unsigned> ModesUp(const fs::path& path) {
  std::map<std::string, unsigned> modes;
  for (fs::path p = path;; p = p.parent_path()) {
    struct stat st {};
    if (stat(p.c_str(), &st) == 0) modes[p.string()] = st.st_mode & 07777;
    if (p == p.root_path() || p.empty()) break;
  }
  return modes;
}

std::string HookInput(const std::string& command) {
  return json{{"session_id", "s"},
              {"hook_event_name", "PreToolUse"},
              {"tool_name", "Bash"},
              {"cwd", "/srv"},
              {"tool_input", {{"command", command}}}}
      .dump();
}

class Sealed : public ::testing::Test {
 protected:
  void SetUp() override {
    // Not under /tmp or build/: the demo's production must not look disposable.
    const char* home = std::getenv("HOME");
    // (Short: the daemons' sockets live below it.)
    static int serial = 0;
    base_ = fs::path(home != nullptr && *home == '/' ? home : "/root") /
            ".local/share/dualkey-test" /
            ("s" + std::to_string(getpid()) + "-" + std::to_string(++serial));
    fs::remove_all(base_);
    fs::create_directories(base_ / "user/config/dualkey");
    // The user's own policy switches enforcement off: a demo that read it
    // would let the agent destroy everything and fail.
    std::ofstream(base_ / "user/config/dualkey/policy.toml")
        << "mode = \"observe\"\n[[rules]]\nname = \"everything\"\ndecision = \"allow\"\n";
    // The demo's directory sits below directories only their owner may enter.
    fs::create_directories(base_ / "p/d");
    fs::permissions(base_ / "p", fs::perms(0700));
    fs::permissions(base_ / "p/d", fs::perms(0750));
  }
  void TearDown() override {
    if (daemon_pid_ > 0) {
      kill(daemon_pid_, SIGTERM);
      waitpid(daemon_pid_, nullptr, 0);
    }
    fs::remove_all(base_);
  }

  // The user's daemon, as they run it in single-user mode.
  void StartUsersDaemon() {
    const std::string state = (base_ / "user/state").string();
    daemon_pid_ = fork();
    if (daemon_pid_ == 0) {
      execl(DUALKEY_BINARY, DUALKEY_BINARY, "serve", "--state", state.c_str(), "--quiet",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 200 && !fs::exists(base_ / "user/state/dualkey.sock"); ++i) usleep(20000);
    ASSERT_TRUE(fs::exists(base_ / "user/state/dualkey.sock"));
  }

  // Everything a user of dualkey may have exported, pointing at their own
  // daemon, state, policy and vault, and libpq settings that would break a
  // demo that let them through.
  std::string UsersEnvironment() const {
    const std::string user = (base_ / "user").string();
    return "DUALKEY_SOCKET=" + Quote(user + "/state/dualkey.sock") +
           " DUALKEY_STATE_DIR=" + Quote(user + "/state") +
           " DUALKEY_VAULT=" + Quote(user + "/vault") +
           " XDG_CONFIG_HOME=" + Quote(user + "/config") +
           " XDG_STATE_HOME=" + Quote(user + "/xdg-state") +
           " XDG_DATA_HOME=" + Quote(user + "/xdg-data") +
           " DUALKEY_ENV=production PGSSLMODE=require PGHOST=/nonexistent" +
           " PGOPTIONS='-c default_transaction_read_only=on' ";
  }

  fs::path base_;
  pid_t daemon_pid_ = -1;
};

TEST_F(Sealed, TheUsersDaemonEnvironmentAndParentDirectoriesAreLeftAlone) {
  StartUsersDaemon();
  const fs::path dir = base_ / "p/d/demo";
  const auto modes_before = ModesUp(dir.parent_path());
  Output run =
      Shell(UsersEnvironment() + DUALKEY_BINARY + " demo --json --dir " + Quote(dir.string()));
  json table = json::parse(LastLine(run.out), nullptr, false);
  ASSERT_TRUE(table.is_object()) << run.out;
  EXPECT_EQ(run.status, 0) << run.out;
  EXPECT_EQ(table["ok"], true) << table.dump(2);
  EXPECT_EQ(table["destructive_allowed"], 0) << table.dump(2);
  EXPECT_EQ(table["lost"], (json{{"rows", 0}, {"files", 0}, {"backups", 0}}));
  EXPECT_EQ(table["undo_restored"], true);
  // The user's daemon saw no request of any kind: only its own start.
  EXPECT_EQ(AuditKinds(base_ / "user/state/audit.jsonl"), std::vector<std::string>{"start"});
  Output pending = Shell("DUALKEY_SOCKET=" + Quote((base_ / "user/state/dualkey.sock").string()) +
                         " " + DUALKEY_BINARY + " pending --json");
  EXPECT_EQ(pending.status, 0) << pending.out;
  EXPECT_EQ(json::parse(pending.out, nullptr, false), json::array()) << pending.out;
  EXPECT_FALSE(fs::exists(base_ / "user/vault"));
  EXPECT_FALSE(fs::exists(base_ / "user/xdg-data"));
  // No directory above the demo's changed its mode (as root, PostgreSQL
  // runs as nobody, who cannot enter p/).
  EXPECT_EQ(ModesUp(dir.parent_path()), modes_before);
  EXPECT_FALSE(fs::exists(dir));
}

// A demo that cannot reach its own daemon from its processes says so and
// stops, with a last line that says it failed.
TEST_F(Sealed, ADemoThatCannotStartSaysSoInItsLastLine) {
  // Its directory is taken.
  const fs::path dir = base_ / "taken";
  fs::create_directories(dir / "something");
  Output run = Shell(std::string(DUALKEY_BINARY) + " demo --dir " + Quote(dir.string()));
  EXPECT_EQ(run.status, 2) << run.out;
  EXPECT_TRUE(LastLine(run.out).starts_with("FAILED: the demo could not set itself up")) << run.out;
  EXPECT_EQ(run.out.find("lost: 0"), std::string::npos) << run.out;
  EXPECT_TRUE(fs::exists(dir / "something"));
}

// On a protected install every client ignores DUALKEY_SOCKET; the demo's
// processes still reach only the demo's daemon, the system daemon sees
// nothing, and `--keep` prints how to connect at once into a file. An agent
// that tries the demo's pin for itself (a hook or check pinned to its own
// "allow" listener, also from a parent that pretends to be the demo) is held.
TEST_F(Sealed, OnAProtectedInstallOnlyTheDemosOwnProcessesUseItsSandbox) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (CI runs as root)";
  if (Shell("command -v unshare && unshare -m true").status != 0)
    GTEST_SKIP() << "cannot make a mount namespace";
  const fs::path sys = base_ / "system";
  for (const char* sub : {"state", "run", "config", "evil/state", "bin"})
    fs::create_directories(sys / sub);
  fs::permissions(sys / "state", fs::perms(0700));
  fs::copy_file("/proc/self/exe", sys / "bin/fake_daemon");
  std::ofstream(sys / "install.toml")
      << "[daemon]\nuser = \"root\"\nstate_dir = \"" << (sys / "state").string()
      << "\"\nsocket = \"" << (sys / "run/dualkey.sock").string() << "\"\nconfig_dir = \""
      << (sys / "config").string() << "\"\n";
  std::ofstream(sys / "rm.json") << HookInput("rm -rf /srv/data");
  // A parent that calls itself the demo: `bash demo` (argv[1] is "demo").
  std::ofstream(sys / "demo") << DUALKEY_BINARY << " --sandbox " << (sys / "evil").string()
                              << " hook claude < " << (sys / "rm.json").string() << " > "
                              << (sys / "mimic.out").string() << " 2>&1; echo $? > "
                              << (sys / "mimic.rc").string() << "\n";
  const fs::path dir = base_ / "p/d/demo";
  const std::string bin = DUALKEY_BINARY;
  const std::string in = sys.string();
  const std::string script =
      "set -u; cd " + Quote(in) +
      "; mount --make-rprivate / && "
      "mount -t tmpfs -o mode=0755,size=1m dualkey-test /etc/dualkey && "
      "cp install.toml /etc/dualkey/install.toml && chmod 0644 /etc/dualkey/install.toml || "
      "exit 99\n"
      // The system daemon, and an agent's listener that allows everything.
      + bin + " serve --quiet & SYS=$!\n" +
      "DUALKEY_TEST_FAKE_LISTENER=" + Quote(in + "/evil/state/dualkey.sock") +
      " bin/fake_daemon & FAKE=$!\n"
      "trap 'kill $SYS $FAKE 2>/dev/null' EXIT\n"
      "for i in $(seq 200); do [ -S run/dualkey.sock ] && [ -S evil/state/dualkey.sock ] && "
      "break; sleep 0.05; done\n"
      // The demo, kept running, its output into a file.
      + UsersEnvironment() + bin + " demo --keep --dir " + Quote(dir.string()) +
      " > demo.out 2> demo.err & DEMO=$!\n"
      "for i in $(seq 1200); do grep -q 'Ctrl-C stops' demo.out && break; "
      "kill -0 $DEMO 2>/dev/null || break; sleep 0.1; done\n"
      // The commands it printed work while it runs.
      + bin + " --sandbox " + Quote(dir.string()) +
      " pending --json > pending.out 2>&1; echo $? > pending.rc\n"
      // The agent's attempts to use a sandbox of its own.
      + bin + " --sandbox " + Quote(in + "/evil") +
      " hook claude < rm.json > hook.out 2>&1; echo $? > hook.rc\n" + bin + " --sandbox " +
      Quote(in + "/evil") + " check -- rm -rf /srv/data > check.out 2>&1; echo $? > check.rc\n" +
      "bash demo\n"
      // Ctrl-C ends the demo.
      "kill -INT $DEMO; wait $DEMO; echo $? > demo.rc\n";
  std::ofstream(sys / "script.sh") << script;
  Output run = Shell("timeout 300 unshare -m sh " + Quote((sys / "script.sh").string()));
  ASSERT_NE(run.status, 99) << run.out;

  const std::string demo_out = Read(sys / "demo.out");
  EXPECT_EQ(Read(sys / "demo.rc"), "0\n") << demo_out << Read(sys / "demo.err");
  EXPECT_NE(demo_out.find("Ctrl-C stops"), std::string::npos) << demo_out;
  EXPECT_NE(demo_out.find("--sandbox " + dir.string() + " watch"), std::string::npos) << demo_out;
  EXPECT_EQ(LastLine(demo_out), "lost: 0 rows, 0 files, 0 backups") << demo_out;
  EXPECT_EQ(Read(sys / "pending.rc"), "0\n") << Read(sys / "pending.out");
  EXPECT_TRUE(json::parse(Read(sys / "pending.out"), nullptr, false).is_array())
      << Read(sys / "pending.out");
  // The system daemon saw nothing but its start and stop.
  for (const std::string& kind : AuditKinds(sys / "state/audit.jsonl"))
    EXPECT_TRUE(kind == "start" || kind == "stop") << kind;

  // The agent's pinned hook and check are held, saying why.
  EXPECT_EQ(Read(sys / "hook.rc"), "2\n") << Read(sys / "hook.out");
  EXPECT_NE(Read(sys / "hook.out").find("dualkey demo"), std::string::npos)
      << Read(sys / "hook.out");
  EXPECT_EQ(Read(sys / "check.rc"), "1\n") << Read(sys / "check.out");
  EXPECT_EQ(Read(sys / "check.out").find("a fake daemon says so"), std::string::npos)
      << Read(sys / "check.out");
  EXPECT_EQ(Read(sys / "mimic.rc"), "2\n") << Read(sys / "mimic.out");
  EXPECT_EQ(Read(sys / "mimic.out").find("a fake daemon says so"), std::string::npos)
      << Read(sys / "mimic.out");
}

}  // namespace
