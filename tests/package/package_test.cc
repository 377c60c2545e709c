// The Debian package end to end, on this machine: scripts/package.sh builds
// it from the binary under test (no second compile), lintian checks it,
// `dpkg -i` installs it, systemd-analyze verifies its units, the daemon it
// starts (no systemd as PID 1 here: the way `dualkey setup` starts it)
// answers `doctor` and holds an action until a human approves it, and
// `dpkg --purge` leaves only /var/lib/dualkey.
//
// /etc/dualkey, /var/lib/dualkey and /run/dualkey are tmpfs mounts in this
// test's own mount namespace, so no other process on the machine sees a
// protected install and nothing of the install's data outlives the test;
// the package itself (dpkg's database, /usr/bin/dualkey, the units, the
// dualkey user) is the machine's while the test runs, and is purged at the
// end whatever happened (a guard also stops a daemon left running and
// removes the mount points it made). Tests of other checkouts take the same
// lock, so two never install at once.
//
// It runs only when asked: DUALKEY_TEST_PACKAGE=1 (.ci/run sets it). Asked,
// every step is required: a missing tool (dpkg-buildpackage, fakeroot,
// lintian, systemd-analyze, man), not being root, or a dualkey package or
// user already on the machine is a failure, not a skip.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "approval/approval.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Ran {
  int status = -1;
  std::string out;
};

Ran Sh(const std::string& command) {
  Ran ran;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return ran;
  std::array<char, 4096> buffer;
  std::size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) ran.out.append(buffer.data(), n);
  const int raw = pclose(pipe);
  ran.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return ran;
}

// dpkg refuses while another dpkg or apt holds its lock: wait for it (2 min).
Ran Dpkg(const std::string& args) {
  Ran ran;
  for (int i = 0; i < 120; ++i) {
    ran = Sh("DEBIAN_FRONTEND=noninteractive dpkg " + args);
    if (ran.status == 0 || ran.out.find("lock") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  return ran;
}

bool PackageInstalled() {
  return Sh("dpkg-query -W -f='${Status}' dualkey 2>/dev/null | grep -q ' installed'").status == 0;
}
bool PackageKnown() {
  return Sh("dpkg-query -W dualkey >/dev/null 2>&1").status == 0;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Processes whose real uid is `uid`.
std::vector<pid_t> ProcessesOf(uid_t uid) {
  std::vector<pid_t> pids;
  for (const fs::directory_entry& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream status(entry.path() / "status");
    std::string line;
    while (std::getline(status, line))
      if (line.rfind("Uid:", 0) == 0) {
        std::istringstream fields(line.substr(4));
        uid_t real = static_cast<uid_t>(-1);
        fields >> real;
        if (real == uid) pids.push_back(std::stoi(name));
        break;
      }
  }
  return pids;
}

// What the test changed on the machine, undone whatever happened: the
// package purged (inside the private namespace, where its install lives),
// a daemon of the package's user stopped, the namespace left, the mount
// points this test made removed, the build directory removed.
struct Guard {
  int host_namespace = -1;
  bool in_private_namespace = false;
  uid_t daemon_uid = static_cast<uid_t>(-1);
  std::vector<fs::path> made_mount_points;
  fs::path out;
  int lock_fd = -1;

  ~Guard() {
    if (PackageKnown()) {
      const Ran purged = Dpkg("--purge dualkey");
      ADD_FAILURE() << "the package was still installed at the end (a step above failed): "
                    << "purged it: " << purged.out;
    }
    if (daemon_uid != static_cast<uid_t>(-1)) {
      // The uid the package's user had: ours, made by this test's install.
      for (pid_t pid : ProcessesOf(daemon_uid)) {
        ADD_FAILURE() << "pid " << pid << " of the package's user still ran: killed it";
        kill(pid, SIGKILL);
      }
    }
    if (in_private_namespace && host_namespace >= 0) {
      if (setns(host_namespace, CLONE_NEWNS) != 0) ADD_FAILURE() << "setns back: " << errno;
    }
    if (host_namespace >= 0) close(host_namespace);
    for (const fs::path& dir : made_mount_points) {
      std::error_code ec;
      fs::remove(dir, ec);  // empty: the install's files were on the tmpfs
      if (ec) ADD_FAILURE() << "could not remove the mount point " << dir << ": " << ec.message();
    }
    if (!out.empty()) fs::remove_all(out);
    if (lock_fd >= 0) close(lock_fd);
  }
};

TEST(Package, BuildsInstallsGuardsAndPurges) {
  const char* asked = std::getenv("DUALKEY_TEST_PACKAGE");
  if (asked == nullptr || std::string(asked) != "1")
    GTEST_SKIP() << "installs a .deb on this machine: set DUALKEY_TEST_PACKAGE=1 to run it "
                    "(root; debhelper, fakeroot, lintian, systemd (for systemd-analyze), "
                    "man-db; a minute or two). .ci/run sets it.";
  // Asked: nothing may be left out quietly.
  ASSERT_EQ(geteuid(), 0u) << "DUALKEY_TEST_PACKAGE=1 needs root (dpkg -i)";
  for (const char* tool :
       {"dpkg-buildpackage", "dh", "fakeroot", "lintian", "dpkg-deb", "systemd-analyze", "man"})
    ASSERT_EQ(Sh(std::string("command -v ") + tool).status, 0)
        << tool << " is missing: scripts/install-deps.sh installs it";

  Guard guard;
  // One package test on the machine at a time (other checkouts' CI too).
  guard.lock_fd = open("/tmp/dualkey-package-test.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(guard.lock_fd, 0);
  bool locked = false;
  for (int i = 0; i < 600 && !locked; ++i) {
    locked = flock(guard.lock_fd, LOCK_EX | LOCK_NB) == 0;
    if (!locked) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  ASSERT_TRUE(locked) << "another package test held /tmp/dualkey-package-test.lock for 10 min";
  ASSERT_FALSE(PackageKnown())
      << "a dualkey package is on this machine already: this test would purge it";
  ASSERT_NE(Sh("getent passwd dualkey").status, 0)
      << "a dualkey user exists on this machine: the package's purge would remove it";

  guard.out = fs::temp_directory_path() / ("dualkey-package-" + std::to_string(getpid()));
  fs::remove_all(guard.out);
  const fs::path& out = guard.out;
  const auto started = std::chrono::steady_clock::now();
  const Ran built = Sh(std::string(DUALKEY_SOURCE_DIR) + "/scripts/package.sh --binary " +
                       DUALKEY_BINARY + " --out " + out.string() + " --lintian");
  ASSERT_EQ(built.status, 0) << built.out;  // lintian --fail-on error,warning included
  ASSERT_NE(built.out.find("==> lintian"), std::string::npos) << built.out;
  std::printf("package.sh (from the built binary, lintian included): %llds\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(
                                         std::chrono::steady_clock::now() - started)
                                         .count()));
  const Ran deb = Sh("ls " + out.string() + "/dualkey_*_amd64.deb");
  ASSERT_EQ(deb.status, 0) << deb.out;
  const std::string deb_path = deb.out.substr(0, deb.out.find('\n'));
  const Ran contents = Sh("dpkg-deb -c " + deb_path);
  for (const char* path :
       {"./usr/bin/dualkey", "./lib/systemd/system/dualkey.service",
        "./lib/systemd/system/dualkey-gateway.service",
        "./lib/systemd/system/dualkey-pg-proxy.service", "./usr/share/man/man1/dualkey.1.gz",
        "./usr/share/man/man1/dualkey-audit-export.1.gz",
        "./usr/share/bash-completion/completions/dualkey",
        "./usr/share/zsh/vendor-completions/_dualkey",
        "./usr/share/fish/vendor_completions.d/dualkey.fish", "./usr/lib/sysusers.d/dualkey.conf",
        "./usr/lib/tmpfiles.d/dualkey.conf", "./usr/share/doc/dualkey/copyright",
        "./usr/share/lintian/overrides/dualkey"})
    EXPECT_NE(contents.out.find(std::string(path) + "\n"), std::string::npos) << path << " not in\n"
                                                                              << contents.out;

  // This process only: a protected install nobody else sees. The mount
  // points that do not exist are made here and removed by the guard.
  guard.host_namespace = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(guard.host_namespace, 0);
  for (const char* dir : {"/etc/dualkey", "/var/lib/dualkey", "/run/dualkey"})
    if (!fs::exists(dir)) {
      fs::create_directories(dir);
      guard.made_mount_points.emplace_back(dir);
    }
  ASSERT_EQ(unshare(CLONE_NEWNS), 0);
  guard.in_private_namespace = true;
  ASSERT_EQ(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
  for (const char* dir : {"/etc/dualkey", "/var/lib/dualkey", "/run/dualkey"})
    ASSERT_EQ(mount("dualkey-package-test", dir, "tmpfs", 0, "mode=0755,size=64m"), 0) << dir;

  // --- install ---------------------------------------------------------------------
  const Ran installed = Dpkg("-i " + deb_path);
  ASSERT_EQ(installed.status, 0) << installed.out;
  ASSERT_EQ(Sh("getent passwd dualkey").status, 0) << installed.out;
  guard.daemon_uid = static_cast<uid_t>(std::stoul(Sh("id -u dualkey").out));
  EXPECT_EQ(Sh("getent group dualkey").status, 0);
  EXPECT_TRUE(fs::exists("/etc/dualkey/install.toml"));
  EXPECT_EQ(Sh("man -w dualkey").status, 0);
  EXPECT_EQ(Sh("man -w dualkey-audit-export").status, 0);
  // deb-systemd-helper enabled the daemon's unit (for when systemd runs).
  EXPECT_TRUE(fs::is_symlink("/etc/systemd/system/multi-user.target.wants/dualkey.service"));

  // The installed units, as systemd reads them. systemd-analyze verify works
  // without systemd as PID 1 (it loads units in a manager of its own); it
  // exits 0 on an unknown key or a bad value too, only saying so: any line
  // naming the unit is a finding.
  for (const char* unit :
       {"dualkey.service", "dualkey-gateway.service", "dualkey-pg-proxy.service"}) {
    const Ran verified = Sh(std::string("systemd-analyze verify /lib/systemd/system/") + unit);
    EXPECT_EQ(verified.status, 0) << unit << ": " << verified.out;
    EXPECT_EQ(verified.out.find(unit), std::string::npos) << verified.out;
  }

  // The daemon, started by the postinst the way `dualkey setup` starts it
  // without systemd: its own process, as the dualkey user, a pid file.
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    up = fs::exists("/run/dualkey/dualkey.sock");
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(up) << installed.out;
  std::string pid_text;
  std::getline(std::ifstream("/run/dualkey/dualkey.pid"), pid_text);
  ASSERT_FALSE(pid_text.empty()) << installed.out;
  const pid_t daemon_pid = std::stoi(pid_text);
  const std::vector<pid_t> daemons = ProcessesOf(guard.daemon_uid);
  EXPECT_NE(std::find(daemons.begin(), daemons.end(), daemon_pid), daemons.end())
      << "pid " << daemon_pid << " is not a process of the dualkey user";
  EXPECT_EQ(Trim(Sh("readlink /proc/" + pid_text + "/exe").out), "/usr/bin/dualkey");

  // doctor checks the boundary for whoever runs it: as an ordinary user (an
  // agent's), the daemon is another user's process it cannot stop or read.
  const Ran doctor =
      Sh("cd / && setpriv --reuid nobody --regid nogroup --clear-groups env HOME=/nonexistent "
         "/usr/bin/dualkey doctor --json");
  std::printf("dualkey doctor (as nobody), exit %d:\n%s\n", doctor.status, doctor.out.c_str());
  const json report = json::parse(doctor.out.substr(doctor.out.find('{')), nullptr, false);
  ASSERT_TRUE(report.is_object()) << doctor.out;
  EXPECT_EQ(report.value("mode", ""), "protected") << doctor.out;
  bool daemon_checked = false;
  for (const json& check : report["checks"]) {
    const std::string id = check.value("id", "");
    if (id == "binary")  // the package's binary, used in place
      EXPECT_NE(check.value("detail", "").find("/usr/bin/dualkey"), std::string::npos)
          << check.dump();
    if (id == "daemon" || id == "policy_reload" || id == "binary") {
      daemon_checked = daemon_checked || id == "daemon";
      EXPECT_TRUE(check.value("ok", false)) << check.dump();
    }
  }
  EXPECT_TRUE(daemon_checked) << doctor.out;

  // A held action, approved by a human, runs once; the audit log has both.
  const Ran added = Sh("/usr/bin/dualkey approver add alice");
  const std::size_t at = added.out.find("secret=");
  ASSERT_NE(at, std::string::npos) << added.out;
  const std::string secret = added.out.substr(at + 7, added.out.find('&', at) - at - 7);
  const std::string check = "/usr/bin/dualkey check --json --cwd /srv -- 'rm -rf /srv/pkg-test'";
  const Ran held = Sh(check);
  EXPECT_EQ(held.status, 1) << held.out;
  const json held_json = json::parse(held.out.substr(held.out.find('{')), nullptr, false);
  ASSERT_TRUE(held_json.is_object()) << held.out;
  const std::string id = held_json.value("approval_id", "");
  ASSERT_FALSE(id.empty()) << held.out;
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const Ran approved = Sh("/usr/bin/dualkey approve " + id + " --as alice --code " +
                          dualkey::approval::TotpCode(secret, now));
  EXPECT_EQ(approved.status, 0) << approved.out;
  const Ran passed = Sh(check);
  EXPECT_EQ(passed.status, 0) << passed.out;
  const Ran again = Sh(check);  // the approval was spent
  EXPECT_EQ(again.status, 1) << again.out;
  const Ran audited = Sh("grep -c " + id + " /var/lib/dualkey/audit.jsonl");
  EXPECT_EQ(audited.status, 0) << "approval " << id << " is not in the audit log";
  // The chain is intact and signed by the key setup published in /etc/dualkey.
  const Ran chain =
      Sh("/usr/bin/dualkey audit verify --file /var/lib/dualkey/audit.jsonl --pubkey \"$(cat "
         "/etc/dualkey/audit.pub)\"");
  EXPECT_EQ(chain.status, 0) << chain.out;

  // --- purge -------------------------------------------------------------------------
  const Ran listed = Sh("dpkg-query -L dualkey");
  ASSERT_EQ(listed.status, 0) << listed.out;
  const Ran purged = Dpkg("--purge dualkey");
  EXPECT_EQ(purged.status, 0) << purged.out;
  EXPECT_FALSE(PackageKnown()) << "dpkg still knows dualkey after --purge";
  // The daemon stopped (the prerm's `dualkey setup --stop`), nothing of its user runs.
  bool stopped = false;
  for (int i = 0; i < 100 && !stopped; ++i) {
    stopped = ProcessesOf(guard.daemon_uid).empty();
    if (!stopped) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(stopped) << "the daemon (pid " << daemon_pid << ") still runs after the purge";
  EXPECT_NE(Sh("getent passwd dualkey").status, 0);
  EXPECT_NE(Sh("getent group dualkey").status, 0);
  // Every file the package shipped is gone (binary, units, man pages,
  // completions, sysusers and tmpfiles snippets, docs).
  std::istringstream files(listed.out);
  std::string file;
  int shipped = 0;
  while (std::getline(files, file)) {
    if (file.empty() || file == "/." || fs::is_directory(file)) continue;
    ++shipped;
    EXPECT_FALSE(fs::exists(fs::symlink_status(file))) << file << " is left after the purge";
  }
  EXPECT_GT(shipped, 50) << listed.out;
  EXPECT_NE(Sh("man -w dualkey").status, 0) << "man still finds dualkey(1)";
  EXPECT_FALSE(fs::exists("/usr/bin/dualkey"));
  EXPECT_FALSE(fs::exists("/lib/systemd/system/dualkey.service"));
  EXPECT_FALSE(fs::exists(
      fs::symlink_status("/etc/systemd/system/multi-user.target.wants/dualkey.service")));
  EXPECT_EQ(Sh("ls /var/lib/systemd/deb-systemd-helper-enabled 2>/dev/null | grep dualkey").out,
            "");
  // /etc/dualkey and /run/dualkey are this test's mount points (the purge's
  // rmdir cannot remove them): emptied.
  EXPECT_TRUE(fs::is_empty("/etc/dualkey")) << Sh("ls -la /etc/dualkey").out;
  EXPECT_TRUE(fs::is_empty("/run/dualkey")) << Sh("ls -la /run/dualkey").out;
  // The user's data stays, as PostgreSQL's cluster does.
  EXPECT_TRUE(fs::exists("/var/lib/dualkey/audit.jsonl"));
}

}  // namespace
