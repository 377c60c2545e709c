// The Debian package end to end, on this machine: scripts/package.sh builds
// it (from the binary under test), lintian checks it, `dpkg -i` installs it,
// the daemon it starts (no systemd here: the way `dualkey setup` starts it)
// answers `doctor` and holds an action until a human approves it, and
// `dpkg --purge` leaves only /var/lib/dualkey. /etc/dualkey, /var/lib/dualkey
// and /run/dualkey are tmpfs mounts in this test's own mount namespace, so
// no other test sees a protected install; the package itself (dpkg's
// database, /usr/bin/dualkey, the dualkey user) is the machine's while the
// test runs. So it runs only when asked: DUALKEY_TEST_PACKAGE=1 (root,
// debhelper, fakeroot; lintian when installed).
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

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

TEST(Package, BuildsInstallsGuardsAndPurges) {
  const char* asked = std::getenv("DUALKEY_TEST_PACKAGE");
  if (asked == nullptr || std::string(asked) != "1")
    GTEST_SKIP() << "installs a .deb on this machine: set DUALKEY_TEST_PACKAGE=1 to run it "
                    "(needs root, debhelper and fakeroot; about a minute)";
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  if (Sh("command -v dpkg-buildpackage && command -v fakeroot").status != 0)
    GTEST_SKIP() << "needs debhelper and fakeroot (apt-get install debhelper fakeroot)";
  if (Sh("dpkg-query -W -f='${Status}' dualkey 2>/dev/null | grep -q 'install ok'").status == 0)
    GTEST_SKIP() << "a dualkey package is installed on this machine already";

  const fs::path out = fs::temp_directory_path() / ("dualkey-package-" + std::to_string(getpid()));
  fs::remove_all(out);
  const bool lintian = Sh("command -v lintian").status == 0;
  const Ran built = Sh(std::string(DUALKEY_SOURCE_DIR) + "/scripts/package.sh --binary " +
                       DUALKEY_BINARY + " --out " + out.string() + (lintian ? " --lintian" : ""));
  ASSERT_EQ(built.status, 0) << built.out;
  const Ran deb = Sh("ls " + out.string() + "/dualkey_*_amd64.deb");
  ASSERT_EQ(deb.status, 0) << deb.out;
  const std::string deb_path = deb.out.substr(0, deb.out.find('\n'));
  const Ran contents = Sh("dpkg-deb -c " + deb_path);
  for (const char* path :
       {"./usr/bin/dualkey", "./lib/systemd/system/dualkey.service",
        "./usr/share/man/man1/dualkey.1.gz", "./usr/share/man/man1/dualkey-audit-export.1.gz",
        "./usr/share/bash-completion/completions/dualkey",
        "./usr/share/zsh/vendor-completions/_dualkey",
        "./usr/share/fish/vendor_completions.d/dualkey.fish", "./usr/lib/sysusers.d/dualkey.conf",
        "./usr/lib/tmpfiles.d/dualkey.conf"})
    EXPECT_NE(contents.out.find(path), std::string::npos) << path << " not in\n" << contents.out;
  if (Sh("command -v systemd-analyze").status == 0) {
    const Ran extracted = Sh("dpkg-deb -x " + deb_path + " " + (out / "root").string());
    ASSERT_EQ(extracted.status, 0) << extracted.out;
    const Ran verified = Sh("systemd-analyze verify --root=" + (out / "root").string() +
                            " /lib/systemd/system/dualkey.service");
    EXPECT_EQ(verified.out.find("dualkey.service:"), std::string::npos) << verified.out;
  }

  // This process only: a protected install nobody else sees.
  ASSERT_EQ(unshare(CLONE_NEWNS), 0);
  ASSERT_EQ(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
  for (const char* dir : {"/etc/dualkey", "/var/lib/dualkey", "/run/dualkey"}) {
    fs::create_directories(dir);
    ASSERT_EQ(mount("dualkey-package-test", dir, "tmpfs", 0, "mode=0755,size=64m"), 0) << dir;
  }
  const Ran installed = Sh("DEBIAN_FRONTEND=noninteractive dpkg -i " + deb_path);
  ASSERT_EQ(installed.status, 0) << installed.out;
  EXPECT_EQ(Sh("getent passwd dualkey").status, 0);
  EXPECT_TRUE(fs::exists("/etc/dualkey/install.toml"));
  EXPECT_EQ(Sh("man -w dualkey-audit-export").status, 0);
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    up = fs::exists("/run/dualkey/dualkey.sock");
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(up) << installed.out;
  const Ran doctor = Sh("/usr/bin/dualkey doctor --json");
  const json report = json::parse(doctor.out.substr(doctor.out.find('{')), nullptr, false);
  ASSERT_TRUE(report.is_object()) << doctor.out;
  EXPECT_EQ(report.value("mode", ""), "protected");
  for (const json& check : report["checks"])
    if (check.value("id", "") == "daemon" || check.value("id", "") == "policy_reload")
      EXPECT_TRUE(check.value("ok", false) || check.value("id", "") == "daemon") << check.dump();

  // A held action, approved by a human, runs once.
  const Ran added = Sh("/usr/bin/dualkey approver add alice");
  const std::size_t at = added.out.find("secret=");
  ASSERT_NE(at, std::string::npos) << added.out;
  const std::string secret = added.out.substr(at + 7, added.out.find('&', at) - at - 7);
  const std::string check = "/usr/bin/dualkey check --json --cwd /srv -- 'rm -rf /srv/pkg-test'";
  const Ran held = Sh(check);
  EXPECT_EQ(held.status, 1) << held.out;
  const json held_json = json::parse(held.out.substr(held.out.find('{')), nullptr, false);
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

  const Ran purged = Sh("DEBIAN_FRONTEND=noninteractive dpkg --purge dualkey");
  EXPECT_EQ(purged.status, 0) << purged.out;
  EXPECT_NE(Sh("getent passwd dualkey").status, 0);
  EXPECT_FALSE(fs::exists("/usr/bin/dualkey"));
  EXPECT_FALSE(fs::exists("/etc/dualkey/install.toml"));
  EXPECT_FALSE(fs::exists("/lib/systemd/system/dualkey.service"));
  EXPECT_TRUE(fs::exists("/var/lib/dualkey/audit.jsonl"));  // the user's data stays
  fs::remove_all(out);
}

}  // namespace
