// The humans' side of the daemon, attacked as an agent would: guessing codes
// at full speed over several connections, enrolling itself from another OS
// user, removing and rotating approvers without a code, rewriting the audit
// log while the daemon is stopped, and a full disk under approve and under
// the audit log's group commit. Real binary, real sockets, real users (the
// tests run as root in CI; without root those tests skip), real tmpfs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "approval/approval.h"
#include "audit/audit.h"
#include "base/unix_socket.h"
#include "client/client.h"
#include "client/reporter.h"
#include "daemon/daemon.h"

namespace {

namespace fs = std::filesystem;

// The daemon's raw reply (or nullopt with `error`), as these tests read it.
std::optional<nlohmann::json> DaemonCall(const std::string& socket, const nlohmann::json& request,
                                         int timeout_ms, std::string* error) {
  dualkey::Result<nlohmann::json> reply = dualkey::client::CallAt(socket, request, timeout_ms);
  if (!reply.ok()) {
    *error = reply.status().ToString();
    return std::nullopt;
  }
  return *reply;
}
using nlohmann::json;

std::string Quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

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
  const int raw = pclose(pipe);
  output.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return output;
}

std::int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One connection to the daemon, kept open: requests as fast as it answers.
class Connection {
 public:
  explicit Connection(const std::string& path) {
    dualkey::Result<dualkey::base::UniqueFd> connected = dualkey::base::ConnectUnixSocket(path);
    if (connected.ok()) fd_ = connected->release();
  }
  ~Connection() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  bool Send(const json& request) {
    const std::string line = request.dump() + "\n";
    return send(fd_, line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size());
  }
  std::optional<json> Receive() {
    while (true) {
      const std::size_t newline = buffer_.find('\n');
      if (newline != std::string::npos) {
        json value = json::parse(buffer_.substr(0, newline), nullptr, false);
        buffer_.erase(0, newline + 1);
        return value;
      }
      char chunk[65536];
      const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  std::optional<json> Ask(const json& request) {
    if (!Send(request)) return std::nullopt;
    return Receive();
  }

 private:
  int fd_ = -1;
  std::string buffer_;
};

// A throwaway OS user for the agent's side, removed afterwards.
class TempUser {
 public:
  TempUser() {
    static int counter = 0;
    name_ = "dkadm" + std::to_string(getpid()) + "x" + std::to_string(++counter);
    Output added = Shell("useradd --system --no-create-home --shell /usr/sbin/nologin " + name_);
    passwd* pw = getpwnam(name_.c_str());
    if (added.status != 0 || pw == nullptr) {
      error_ = "useradd failed: " + added.out;
      return;
    }
    uid_ = pw->pw_uid;
    gid_ = pw->pw_gid;
  }
  ~TempUser() {
    if (uid_ != static_cast<uid_t>(-1)) Shell("userdel " + name_);
  }
  bool ok() const { return uid_ != static_cast<uid_t>(-1); }
  const std::string& error() const { return error_; }
  uid_t uid() const { return uid_; }
  // A command line that runs `command` as this user, with a clean environment.
  std::string As(const std::string& command) const {
    return "setpriv --reuid=" + std::to_string(uid_) + " --regid=" + std::to_string(gid_) +
           " --clear-groups -- env -i PATH=/usr/bin:/bin HOME=/tmp USER=" + name_ + " " + command;
  }

 private:
  std::string name_;
  std::string error_;
  uid_t uid_ = static_cast<uid_t>(-1);
  gid_t gid_ = static_cast<gid_t>(-1);
};

class Admin : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    // Under /tmp, 0755: another OS user must reach the socket (never the state).
    root_ = fs::path("/tmp") / ("dk-admin-" + std::to_string(getpid()) + "-" + name);
    fs::remove_all(root_);
    fs::create_directories(root_);
    fs::permissions(root_, fs::perms(0755));
    state_ = root_ / "state";
    fs::create_directories(state_);
    fs::permissions(state_, fs::perms(0700));
    socket_ = (root_ / "d.sock").string();
    binary_ = DUALKEY_BINARY;
  }

  void TearDown() override {
    Stop();
    if (!mounted_.empty()) umount2(mounted_.c_str(), MNT_DETACH);
    fs::remove_all(root_);
  }

  void Start(std::vector<std::string> extra = {}) {
    serve_log_ = (root_ / ("serve" + std::to_string(++starts_) + ".log")).string();
    pid_ = fork();
    if (pid_ == 0) {
      int log = open(serve_log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(log, 2);
      std::vector<std::string> args = {
          binary_, "serve", "--state", state_.string(), "--socket", socket_, "--breaker-attempts",
          "1000"};
      for (auto& e : extra) args.push_back(e);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    for (int i = 0; i < 250; ++i) {
      std::string error;
      if (DaemonCall(socket_, json{{"op", "status"}}, 200, &error)) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "the daemon did not start: " << ServeLog();
  }

  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::string ServeLog() const {
    std::ifstream in(serve_log_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::string Env() const {
    return "HOME=" + Quote(root_.string()) + " DUALKEY_SOCKET=" + Quote(socket_) +
           " DUALKEY_STATE_DIR=" + Quote(state_.string()) + " ";
  }
  Output Run(const std::string& args) { return Shell(Env() + binary_ + " " + args); }

  json Ask(const json& request) {
    std::string error;
    auto reply = DaemonCall(socket_, request, 10000, &error);
    EXPECT_TRUE(reply.has_value()) << error;
    return reply.value_or(json::object());
  }

  json Check(const std::string& command, const std::string& agent = "claude") {
    return Ask(json{{"op", "check"},
                    {"channel", "shell"},
                    {"input", command},
                    {"cwd", "/home/dev/app"},
                    {"home", "/home/dev"},
                    {"agent", agent}});
  }

  static std::string SecretIn(const std::string& out) {
    const std::size_t at = out.find("secret=");
    if (at == std::string::npos) return {};
    return out.substr(at + 7, out.find('&', at) - at - 7);
  }

  // Enrols `name`: the first by root (this test), later ones vouched for.
  std::string Enrol(const std::string& name, const std::string& vouch = "") {
    Output added = Run("approver add " + name + vouch);
    EXPECT_EQ(added.status, 0) << added.out;
    return SecretIn(added.out);
  }

  static std::string Code(const std::string& secret, int step_offset = 0) {
    return dualkey::approval::TotpCode(secret, NowSeconds() + step_offset * 30);
  }

  std::vector<dualkey::audit::Entry> AuditEntries() const {
    auto entries = dualkey::audit::Read((state_ / "audit.jsonl").string(), 0);
    return entries.ok() ? std::move(entries).value() : std::vector<dualkey::audit::Entry>{};
  }
  int CountKind(const std::string& kind) const {
    int count = 0;
    for (const auto& entry : AuditEntries()) count += entry.kind == kind;
    return count;
  }

  // A small tmpfs over `dir`, in a mount namespace of this test process
  // alone (gone when it exits, whatever happens); skips without root.
  bool MountTmpfs(const fs::path& dir, const std::string& size, std::string* why) {
    if (geteuid() != 0) {
      *why = "needs root (CI runs as root)";
      return false;
    }
    if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr)) {
      *why = std::string("cannot make a private mount namespace: ") + std::strerror(errno);
      return false;
    }
    fs::create_directories(dir);
    const std::string options = "size=" + size + ",mode=0700";
    if (mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) != 0) {
      *why = std::string("mount tmpfs: ") + std::strerror(errno);
      return false;
    }
    mounted_ = dir.string();
    return true;
  }

  // Fills the file system holding `dir` until a write fails with ENOSPC.
  static void Fill(const fs::path& dir) {
    int fd = open((dir / "filler").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ASSERT_GE(fd, 0);
    std::string chunk(4096, 'f');
    while (write(fd, chunk.data(), chunk.size()) > 0) {
    }
    ASSERT_EQ(errno, ENOSPC);
    close(fd);
  }
  static void Free(const fs::path& dir) { fs::remove(dir / "filler"); }

  // A file's last page has room after the disk is full: harmless checks
  // (each one recorded) use it up, until one cannot be recorded and is held.
  void UseUpTheLogsLastPage() {
    for (int i = 0; i < 100; ++i)
      if (Check("ls")["decision"] != "allow") return;
    FAIL() << "the audit log never filled up";
  }

  fs::path root_, state_;
  std::string socket_, binary_, serve_log_, mounted_;
  pid_t pid_ = -1;
  int starts_ = 0;
};

// ---- Codes that cannot be guessed ---------------------------------------------

TEST_F(Admin, GuessingCodesFromManyConnectionsAtFullSpeedIsLockedOutAndAudited) {
  Start();
  const std::string alice = Enrol("alice");
  const std::string id = Check("rm -rf /srv/data")["approval_id"];
  ASSERT_FALSE(id.empty());

  // A watcher sees every attempt as it happens.
  Connection watcher(socket_);
  ASSERT_TRUE(watcher.ok());
  ASSERT_TRUE(watcher.Ask(json{{"op", "watch"}}).has_value());
  std::atomic<int> watched_failed{0}, watched_locked{0};
  std::thread watch([&] {
    while (auto event = watcher.Receive()) {
      const std::string kind = event->value("event", "");
      if (kind == "auth_failed") ++watched_failed;
      if (kind == "auth_locked") ++watched_locked;
    }
  });

  constexpr int kConnections = 6;
  std::atomic<int> attempts{0}, wrong{0}, locked{0}, other{0};
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> guessers;
  for (int c = 0; c < kConnections; ++c) {
    guessers.emplace_back([&, c] {
      Connection connection(socket_);
      ASSERT_TRUE(connection.ok());
      for (int i = 0; std::chrono::steady_clock::now() - started < std::chrono::seconds(2); ++i) {
        char code[8];
        std::snprintf(code, sizeof code, "%06d", (c * 100003 + i * 7919) % 1000000);
        auto reply = connection.Ask(
            json{{"op", "approve"}, {"id", id}, {"approver", "alice"}, {"totp", code}});
        ASSERT_TRUE(reply.has_value());
        ++attempts;
        const std::string error = reply->value("error", "");
        if (reply->value("ok", false)) {
          ADD_FAILURE() << "a guessed code was accepted: " << code;
        } else if (error.find("too many wrong codes") != std::string::npos) {
          ++locked;
        } else if (error.find("wrong or expired") != std::string::npos) {
          ++wrong;
        } else {
          ++other;
          ADD_FAILURE() << error;
        }
      }
    });
  }
  for (auto& t : guessers) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf(
      "[ figures  ] %d guesses over %d connections in %.1f s (%.0f/s): %d checked, %d "
      "refused unseen\n",
      attempts.load(), kConnections, seconds, attempts / seconds, wrong.load(), locked.load());

  // Five codes were looked at, all connections together; the rest were
  // refused without looking, and every one of them was audited.
  EXPECT_EQ(wrong.load(), 5);
  EXPECT_EQ(locked.load(), attempts.load() - 5);
  EXPECT_EQ(CountKind("auth_failed"), 5);
  EXPECT_EQ(CountKind("auth_locked"), attempts.load() - 5);
  // Even the right code waits out the lockout, unchecked and unspent.
  json right =
      Ask(json{{"op", "approve"}, {"id", id}, {"approver", "alice"}, {"totp", Code(alice)}});
  EXPECT_EQ(right["ok"], false);
  EXPECT_NE(right.value("error", "").find("too many wrong codes"), std::string::npos) << right;
  EXPECT_TRUE(right.contains("locked_until_ms"));
  // pending shows it, for the request and for the approver.
  json pending = Ask(json{{"op", "pending"}});
  ASSERT_EQ(pending["requests"].size(), 1u);
  EXPECT_EQ(pending["requests"][0]["failed_codes"], 5);
  EXPECT_TRUE(pending["requests"][0].contains("locked_until_ms"));
  bool approver_listed = false;
  for (const json& f : pending["failed_codes"])
    approver_listed = approver_listed || (f["scope"] == "approver:alice" && f["failures"] == 5);
  EXPECT_TRUE(approver_listed) << pending.dump();
  Output human = Run("pending");
  EXPECT_NE(human.out.find("5 wrong code(s)"), std::string::npos) << human.out;
  Stop();  // ends the watch stream
  watch.join();
  // A watcher that falls behind may miss events (the daemon never waits for
  // one); this one keeps up.
  EXPECT_EQ(watched_failed.load(), 5);
  std::printf("[ figures  ] watch showed %d of %d refusals\n", watched_locked.load(),
              locked.load());
  EXPECT_GT(watched_locked.load(), 0);
  // And the log the attempts went into verifies.
  EXPECT_EQ(Run("audit verify --file " + Quote((state_ / "audit.jsonl").string())).status, 0);
}

TEST_F(Admin, TheLockoutHoldsAcrossARestart) {
  Start();
  Enrol("alice");
  const std::string id = Check("rm -rf /srv/x")["approval_id"];
  for (int i = 0; i < 5; ++i)
    Ask(json{{"op", "approve"}, {"id", id}, {"approver", "alice"}, {"totp", "000000"}});
  Stop();
  Start();  // a fresh daemon, and a fresh connection: the store remembers
  json again = Ask(json{{"op", "approve"}, {"id", id}, {"approver", "alice"}, {"totp", "000001"}});
  EXPECT_NE(again.value("error", "").find("too many wrong codes"), std::string::npos) << again;
}

// ---- Administration needs a human -----------------------------------------------

TEST_F(Admin, TheFirstApproverOnlyFromRootOrTheDaemonsUser) {
  TempUser agent;
  if (!agent.ok()) GTEST_SKIP() << agent.error();
  Start();
  // The agent, as an ordinary user, tries to enrol itself.
  Output self = Shell(agent.As(binary_ + " approver add mallory --socket " + Quote(socket_)));
  EXPECT_NE(self.status, 0) << self.out;
  EXPECT_NE(self.out.find("only by root or by the daemon's own user"), std::string::npos)
      << self.out;
  EXPECT_EQ(SecretIn(self.out), "") << "no secret handed out";
  json list = Ask(json{{"op", "approver_list"}});
  EXPECT_TRUE(list["approvers"].empty()) << list;
  EXPECT_EQ(CountKind("approver_add_refused"), 1);
  // Raw socket requests fare no better than the CLI.
  Output raw = Shell(agent.As(binary_ + " approver list --socket " + Quote(socket_)));
  EXPECT_EQ(raw.status, 0) << raw.out;  // listing is harmless

  // Root may; the enrolment is audited with who asked.
  const std::string alice = Enrol("alice");
  ASSERT_FALSE(alice.empty());
  bool audited = false;
  for (const auto& entry : AuditEntries()) {
    if (entry.kind != "approver_added") continue;
    json fields = json::parse(entry.fields);
    audited = fields["name"] == "alice" && fields["first"] == true && fields["peer"]["uid"] == 0;
  }
  EXPECT_TRUE(audited);

  // After that, the agent's user needs an approver's code, which it has not.
  Output second = Shell(agent.As(binary_ + " approver add mallory --socket " + Quote(socket_)));
  EXPECT_NE(second.status, 0) << second.out;
  EXPECT_NE(second.out.find("--code"), std::string::npos) << second.out;
  Output guessed = Shell(agent.As(binary_ + " approver add mallory --as alice --code 123456 " +
                                  "--socket " + Quote(socket_)));
  EXPECT_NE(guessed.status, 0) << guessed.out;
  EXPECT_NE(guessed.out.find("wrong or expired"), std::string::npos) << guessed.out;
  // A human who types alice's code vouches, from any account.
  Output vouched = Shell(agent.As(binary_ + " approver add bob --as alice --code " + Code(alice) +
                                  " --socket " + Quote(socket_)));
  EXPECT_EQ(vouched.status, 0) << vouched.out;
  EXPECT_FALSE(SecretIn(vouched.out).empty());
  EXPECT_EQ(Ask(json{{"op", "approver_list"}})["approvers"], json({"alice", "bob"}));
}

TEST_F(Admin, WithoutADaemonOnlyTheVeryFirstApproverGoesStraightToTheStore) {
  // Single-user mode, nothing running: the first approver can be added...
  Output first = Run("approver add alice --state " + Quote(state_.string()));
  ASSERT_EQ(first.status, 0) << first.out;
  EXPECT_NE(first.out.find("single-user mode"), std::string::npos) << first.out;
  // ...and nobody else, not even root, without the daemon checking a code.
  Output second = Run("approver add mallory --state " + Quote(state_.string()));
  EXPECT_NE(second.status, 0) << second.out;
  EXPECT_NE(second.out.find("already enrolled"), std::string::npos) << second.out;
  // Another OS user cannot even open the store (0700 state).
  TempUser agent;
  if (!agent.ok()) GTEST_SKIP() << agent.error();
  fs::remove(state_ / "state.sqlite3");
  Output foreign = Shell(agent.As(binary_ + " approver add mallory --state " +
                                  Quote(state_.string()) + " --socket " + Quote(socket_)));
  EXPECT_NE(foreign.status, 0) << foreign.out;
}

TEST_F(Admin, RemoveAndRotateNeedACodeAndAreAudited) {
  Start();
  const std::string alice = Enrol("alice");
  const std::string bob = Enrol("bob", " --as alice --code " + Code(alice, -1));
  ASSERT_FALSE(bob.empty());

  // No code, a wrong code, someone else's name: refused, bob stays.
  EXPECT_NE(Run("approver remove bob --as alice < /dev/null").status, 0);
  EXPECT_NE(Run("approver remove bob --as alice --code 000000").status, 0);
  EXPECT_NE(Run("approver remove bob --as mallory --code " + Code(alice)).status, 0);
  EXPECT_EQ(Ask(json{{"op", "approver_list"}})["approvers"].size(), 2u);
  // Raw requests without a code are refused the same way.
  json raw = Ask(json{{"op", "approver_remove"}, {"name", "bob"}});
  EXPECT_EQ(raw["ok"], false) << raw;

  // Rotation: bob's new secret works, the old one does not.
  Output rotated = Run("approver rotate bob --code " + Code(bob));
  ASSERT_EQ(rotated.status, 0) << rotated.out;
  const std::string bob2 = SecretIn(rotated.out);
  ASSERT_FALSE(bob2.empty());
  EXPECT_NE(bob2, bob);
  const std::string id = Check("rm -rf /srv/r")["approval_id"];
  EXPECT_NE(Run("approve " + id + " --as bob --code " + Code(bob, 1)).status, 0) << "old secret";
  EXPECT_EQ(Run("approve " + id + " --as bob --code " + Code(bob2, 1)).status, 0) << "new secret";

  // Removal with a code; the last approver stays.
  Output removed = Run("approver remove bob --as alice --code " + Code(alice));
  ASSERT_EQ(removed.status, 0) << removed.out;
  EXPECT_EQ(Ask(json{{"op", "approver_list"}})["approvers"], json({"alice"}));
  Output last = Run("approver remove alice --as alice --code " + Code(alice, 1));
  EXPECT_NE(last.status, 0);
  EXPECT_NE(last.out.find("last approver"), std::string::npos) << last.out;

  EXPECT_EQ(CountKind("approver_rotated"), 1);
  EXPECT_EQ(CountKind("approver_removed"), 1);
  EXPECT_GE(CountKind("auth_failed"), 3);
}

// ---- An audit log the agent cannot rewrite unnoticed -----------------------------

class AuditTamper : public Admin {
 protected:
  void SetUp() override {
    Admin::SetUp();
    Start();
    alice_ = Enrol("alice");
    for (int i = 0; i < 5; ++i) Check("rm -rf /srv/t" + std::to_string(i));
    Check("ls");
    key_ = Run("audit pubkey --socket " + Quote(socket_)).out;
    while (!key_.empty() && key_.back() == '\n') key_.pop_back();
    ASSERT_EQ(key_.size(), 64u) << key_;
    Stop();
    ASSERT_EQ(Verify().status, 0) << Verify().out;
  }
  Output Verify(const std::string& extra = "") {
    return Run("audit verify --file " + Quote(log_path()) + " --pubkey " + key_ + " " + extra);
  }
  std::string log_path() const { return (state_ / "audit.jsonl").string(); }
  std::vector<std::string> Lines() const {
    std::ifstream in(log_path());
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  void SetLines(const std::vector<std::string>& lines) const {
    std::ofstream out(log_path(), std::ios::trunc);
    for (const auto& line : lines) out << line << "\n";
  }
  std::string alice_, key_;
};

// What the agent can do without the key: a record chained onto the last one.
std::string ChainedRecord(const std::vector<std::string>& lines) {
  json last;
  for (const auto& line : lines) {
    json value = json::parse(line, nullptr, false);
    if (value.contains("seq") && !value.contains("checkpoint")) last = value;
  }
  const std::uint64_t seq = last["seq"].get<std::uint64_t>() + 1;
  const std::int64_t time_ms = last["time_ms"].get<std::int64_t>() + 1;
  json fields = {{"agent", "claude"}, {"decision", "allow"}, {"input", "rm -rf /srv/t0"}};
  const std::string canonical =
      json{{"fields", fields}, {"kind", "consumed"}, {"seq", seq}, {"time_ms", time_ms}}.dump();
  std::array<unsigned char, 32> digest{};
  const std::string message = last["hash"].get<std::string>() + "\n" + canonical;
  unsigned int size = 0;
  EVP_Digest(message.data(), message.size(), digest.data(), &size, EVP_sha256(), nullptr);
  char hex[65];
  for (int i = 0; i < 32; ++i) std::snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  return json{{"seq", seq},       {"time_ms", time_ms},   {"kind", "consumed"},
              {"fields", fields}, {"prev", last["hash"]}, {"hash", std::string(hex, 64)}}
      .dump();
}

TEST_F(AuditTamper, RecordsAppendedWhileStoppedAreReportedAndNeverSigned) {
  std::vector<std::string> lines = Lines();
  lines.push_back(ChainedRecord(lines));
  SetLines(lines);
  const std::size_t foreign_line = lines.size();
  Output offline = Verify();
  EXPECT_EQ(offline.status, 1) << offline.out;
  EXPECT_NE(offline.out.find("the first at line " + std::to_string(foreign_line)),
            std::string::npos)
      << offline.out;

  Start();
  EXPECT_NE(ServeLog().find("were not written by this daemon (the first at line " +
                            std::to_string(foreign_line)),
            std::string::npos)
      << ServeLog();
  Check("ls");
  Stop();
  Output after = Verify();
  EXPECT_EQ(after.status, 1) << "the restart must not make the log look intact again";
  EXPECT_NE(after.out.find("found 1 record(s) it did not write"), std::string::npos) << after.out;
}

TEST_F(AuditTamper, ADeletedLogIsNotReplacedByOneThatVerifies) {
  fs::remove(log_path());
  Start();
  EXPECT_NE(ServeLog().find("missing or empty"), std::string::npos) << ServeLog();
  Check("ls");
  Stop();
  Output after = Verify();
  EXPECT_EQ(after.status, 1) << after.out;
  EXPECT_NE(after.out.find("removed"), std::string::npos) << after.out;
  EXPECT_NE(after.out.find("store remembers"), std::string::npos) << after.out;
}

TEST_F(AuditTamper, AShortenedLogIsDetected) {
  Start();
  Check("rm -rf /srv/more");
  Stop();
  // Cut back to the first run's close seal: consistent and signed.
  std::vector<std::string> lines = Lines();
  std::size_t keep = 0;
  for (std::size_t i = 1; i < lines.size(); ++i)
    if (lines[i].find("\"event\":\"close\"") != std::string::npos) {
      keep = i + 1;
      break;
    }
  ASSERT_GT(keep, 0u);
  ASSERT_LT(keep, lines.size());
  lines.resize(keep);
  SetLines(lines);
  Start();
  EXPECT_NE(ServeLog().find("are gone"), std::string::npos) << ServeLog();
  Stop();
  Output after = Verify();
  EXPECT_EQ(after.status, 1) << after.out;
  EXPECT_NE(after.out.find("removed"), std::string::npos) << after.out;
}

TEST_F(AuditTamper, ALogRewrittenWithANewKeyFailsUnderThePinnedKey) {
  // The agent writes a whole new, self-consistent log with its own key.
  fs::remove(log_path());
  fs::remove(state_ / "audit.key");
  {
    dualkey::audit::OpenOptions options;
    options.path = log_path();
    options.key_path = (state_ / "audit.key").string();
    auto forged = dualkey::audit::Log::Open(options);
    ASSERT_TRUE(forged.ok()) << forged.status().ToString();
    (*forged)->Append({"start", "{}"}).ok();
  }
  Output unpinned = Run("audit verify --file " + Quote(log_path()));
  EXPECT_EQ(unpinned.status, 0) << "self-consistent on its own: that is why the key is pinned";
  Output pinned = Verify();
  EXPECT_EQ(pinned.status, 1) << pinned.out;
  EXPECT_NE(pinned.out.find("header replaced"), std::string::npos) << pinned.out;
  // And the daemon, which the store tells what it had sealed, records it.
  Start();
  EXPECT_NE(ServeLog().find("the key was replaced"), std::string::npos) << ServeLog();
  Stop();
  EXPECT_EQ(Run("audit verify --file " + Quote(log_path())).status, 1);
}

TEST_F(AuditTamper, PubkeyComesFromTheKeyFileWhenTheDaemonIsDown) {
  Output key = Run("audit pubkey --state " + Quote(state_.string()) + " --socket /nonexistent");
  ASSERT_EQ(key.status, 0) << key.out;
  EXPECT_EQ(key.out, key_ + "\n");
  std::string wrong = key_;
  wrong[5] = wrong[5] == 'a' ? 'b' : 'a';
  Output bad = Run("audit verify --file " + Quote(log_path()) + " --pubkey " + wrong);
  EXPECT_EQ(bad.status, 1) << bad.out;
}

// ---- Audit first, then effect: a full disk ------------------------------------------

class DiskFull : public Admin {
 protected:
  // The whole state directory on a 2 MiB tmpfs.
  void SetUp() override {
    Admin::SetUp();
    std::string why;
    if (!MountTmpfs(state_, "2m", &why)) GTEST_SKIP() << why;
  }
};

TEST_F(DiskFull, ApproveOnAFullDiskChangesNothingAndTheCodeStaysUnspent) {
  Start();
  const std::string alice = Enrol("alice");
  const std::string id = Check("rm -rf /srv/full")["approval_id"];
  ASSERT_FALSE(id.empty());
  const std::string code = Code(alice);
  Fill(state_);
  UseUpTheLogsLastPage();
  Output refused = Run("approve " + id + " --as alice --code " + code);
  EXPECT_NE(refused.status, 0);
  EXPECT_TRUE(refused.out.find("No space left") != std::string::npos ||
              refused.out.find("full") != std::string::npos)
      << refused.out;
  EXPECT_NE(refused.out.find("unspent"), std::string::npos) << refused.out;
  // Nothing changed: still pending, the action still held.
  json pending = Ask(json{{"op", "pending"}});
  ASSERT_EQ(pending["requests"].size(), 1u) << pending;
  EXPECT_EQ(pending["requests"][0]["state"], "pending");
  EXPECT_EQ(Check("rm -rf /srv/full")["decision"], "hold");
  // Space back: the very same code works, without a restart.
  Free(state_);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  Output approved = Run("approve " + id + " --as alice --code " + code);
  EXPECT_EQ(approved.status, 0) << approved.out;
  EXPECT_EQ(Check("rm -rf /srv/full")["decision"], "allow");
  Stop();
  EXPECT_EQ(Run("audit verify --file " + Quote((state_ / "audit.jsonl").string())).status, 0);
}

TEST_F(DiskFull, AnApprovalThatWasNotAuditedIsNeverUsedAfterARestart) {
  Start();
  const std::string alice = Enrol("alice");
  const std::string id = Check("rm -rf /srv/later")["approval_id"];
  Fill(state_);
  UseUpTheLogsLastPage();
  EXPECT_NE(Run("approve " + id + " --as alice --code " + Code(alice)).status, 0);
  Stop();
  Free(state_);
  Start();
  EXPECT_EQ(Check("rm -rf /srv/later")["decision"], "hold");
  // The log has no approval, and no consumption without one.
  EXPECT_EQ(CountKind("approval"), 0);
  EXPECT_EQ(CountKind("consumed"), 0);
}

TEST_F(DiskFull, GroupCommitOnAFullDiskHoldsEverythingThenRecoversByItself) {
  Start({"--rate-burst", "1000"});
  const std::string alice = Enrol("alice");
  ASSERT_EQ(Check("ls")["decision"], "allow");
  Fill(state_);
  UseUpTheLogsLastPage();
  // Many clients at once, reads and deletes: nothing is allowed unrecorded.
  std::atomic<int> allowed{0}, held{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < 20; ++i) {
        std::string error;
        auto reply = DaemonCall(socket_,
                                json{{"op", "check"},
                                     {"channel", "shell"},
                                     {"input", c % 2 ? "ls -la /tmp/" + std::to_string(i)
                                                     : "rm -rf /srv/" + std::to_string(i)},
                                     {"cwd", "/home/dev/app"},
                                     {"agent", "claude"}},
                                5000, &error);
        ASSERT_TRUE(reply.has_value()) << error;
        if ((*reply)["decision"] == "allow")
          ++allowed;
        else
          ++held;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(allowed.load(), 0);
  EXPECT_EQ(held.load(), 160);
  json read = Check("ls");
  EXPECT_EQ(read["decision"], "hold");
  EXPECT_NE(read.value("reason", "").find("audit log could not be written"), std::string::npos)
      << read;
  // Space back: service returns without a restart.
  Free(state_);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_EQ(Check("ls")["decision"], "allow");
  EXPECT_EQ(Check("rm -rf /srv/after")["decision"], "hold");
  Stop();
  Output verify = Run("audit verify --file " + Quote((state_ / "audit.jsonl").string()));
  EXPECT_EQ(verify.status, 0) << verify.out;
}

// A proxy's batch of decisions on a full disk: the daemon records none of
// it and says so; the reporter keeps it, refuses destructive decisions while
// the log cannot be written, and delivers every one, once, when there is room.
TEST_F(DiskFull, AProxysBatchIsKeptUntilThereIsRoomAndArrivesOnce) {
  Start();
  ASSERT_EQ(Check("ls")["decision"], "allow");
  Fill(state_);
  UseUpTheLogsLastPage();
  dualkey::client::DecisionReporter reporter(
      dualkey::client::Client::ForThisProcess(dualkey::client::ClientOptions{socket_, 2000}),
      dualkey::client::ReporterOptions{.source = "test_proxy", .flush_ms = 10});
  for (int i = 0; i < 50; ++i) {
    dualkey::client::ReportedDecision d;
    d.action.channel = dualkey::Channel::kSql;
    d.action.input = "SELECT " + std::to_string(i);
    d.op_class = "db.read";
    d.forwarded = true;
    ASSERT_TRUE(reporter.Report(d, false));
  }
  for (int i = 0; i < 250 && reporter.link_up(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_FALSE(reporter.link_up());
  EXPECT_EQ(reporter.stats().delivered, 0u);
  EXPECT_NE(reporter.stats().last_error.find("audit log"), std::string::npos)
      << reporter.stats().last_error;
  dualkey::client::ReportedDecision drop;
  drop.action.channel = dualkey::Channel::kSql;
  drop.action.input = "DELETE FROM t";
  drop.forwarded = true;
  EXPECT_FALSE(reporter.Report(drop, true));  // the caller holds it
  Free(state_);
  ASSERT_TRUE(reporter.Flush(10000));
  EXPECT_EQ(reporter.stats().delivered, 50u);
  int recorded = 0;
  for (const auto& entry : AuditEntries())
    recorded += entry.kind == "decision" && entry.fields.find("test_proxy") != std::string::npos;
  EXPECT_EQ(recorded, 50);
  Stop();
  Output verify = Run("audit verify --file " + Quote((state_ / "audit.jsonl").string()));
  EXPECT_EQ(verify.status, 0) << verify.out;
}

TEST_F(DiskFull, AConsumptionWhoseRecordFailsKeepsTheApproval) {
  // The store elsewhere, so that only the consumption's record fails.
  Start({"--store", (root_ / "store.sqlite3").string()});
  const std::string alice = Enrol("alice");
  const std::string id = Check("rm -rf /srv/once")["approval_id"];
  ASSERT_EQ(Run("approve " + id + " --as alice --code " + Code(alice)).status, 0);
  Fill(state_);
  UseUpTheLogsLastPage();
  json refused = Check("rm -rf /srv/once");
  EXPECT_EQ(refused["decision"], "hold") << refused;
  EXPECT_NE(refused.value("reason", "").find("still usable"), std::string::npos) << refused;
  Free(state_);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  json passed = Check("rm -rf /srv/once");
  EXPECT_EQ(passed["decision"], "allow") << passed;
  EXPECT_EQ(Check("rm -rf /srv/once")["decision"], "hold") << "once";
}

// Only the audit log's disk is full (the store lives elsewhere): the
// approval's record cannot be written, so the approval is not applied.
TEST_F(Admin, AuditFirstWhenOnlyTheLogsDiskIsFull) {
  std::string why;
  // The state directory is the tmpfs; the store is outside it.
  if (!MountTmpfs(state_, "1m", &why)) GTEST_SKIP() << why;
  const std::string store = (root_ / "store.sqlite3").string();
  Start({"--store", store});
  Output added = Run("approver add alice --store " + Quote(store));
  ASSERT_EQ(added.status, 0) << added.out;
  const std::string alice = SecretIn(added.out);
  const std::string id = Check("rm -rf /srv/af")["approval_id"];
  Fill(state_);
  UseUpTheLogsLastPage();
  Output refused = Run("approve " + id + " --as alice --code " + Code(alice));
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.out.find("the audit log could not be written (audit log write failed: No "
                             "space left on device"),
            std::string::npos)
      << refused.out;
  EXPECT_EQ(Ask(json{{"op", "pending"}})["requests"][0]["state"], "pending");
  Free(state_);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_EQ(Run("approve " + id + " --as alice --code " + Code(alice)).status, 0)
      << "the same code, unspent";
}

}  // namespace
