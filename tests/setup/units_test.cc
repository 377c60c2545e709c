// The systemd units `dualkey setup` installs: rendered from dist/systemd/,
// every placeholder filled, and clean under `systemd-analyze verify` (no
// warnings either: an unknown or misspelt hardening key is only a warning to
// systemd, and would silently leave the daemon unhardened).
#include "setup/internal/units.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include "base/process.h"

namespace dualkey::setup::internal {
namespace {

namespace fs = std::filesystem;

TEST(Units, EveryPlaceholderIsFilled) {
  UnitValues values;
  values.daemon_user = "dkunit";
  values.daemon_group = "dkunitg";
  const std::vector<Unit> units = RenderUnits(values);
  ASSERT_EQ(units.size(), 3u);
  EXPECT_EQ(units[0].name, "dualkey.service");
  for (const Unit& unit : units) {
    EXPECT_FALSE(std::regex_search(unit.text, std::regex("@[A-Z_]+@"))) << unit.name;
    EXPECT_NE(unit.text.find("User=dkunit\n"), std::string::npos) << unit.name;
    EXPECT_NE(unit.text.find("Group=dkunitg\n"), std::string::npos) << unit.name;
    EXPECT_NE(unit.text.find("NoNewPrivileges=yes"), std::string::npos) << unit.name;
    EXPECT_NE(unit.text.find("ProtectSystem=strict"), std::string::npos) << unit.name;
  }
  EXPECT_NE(units[0].text.find("ExecStart=/usr/local/bin/dualkey serve --state /var/lib/dualkey "
                               "--socket /run/dualkey/dualkey.sock"),
            std::string::npos);
}

TEST(Units, SystemdAnalyzeVerifiesThemWithoutAWarning) {
  if (base::RunProcess({"systemd-analyze", "--version"}, "", "", 10000).exit_code != 0)
    GTEST_SKIP() << "systemd-analyze is not installed";
  const fs::path dir =
      fs::path(DUALKEY_BINARY).parent_path() / ("units-test-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  UnitValues values;
  values.binary = DUALKEY_BINARY;  // verify checks that ExecStart's program exists
  values.daemon_user = "root";
  values.daemon_group = "root";
  std::vector<std::string> argv = {"systemd-analyze", "verify", "--man=no"};
  for (const Unit& unit : RenderUnits(values)) {
    std::ofstream(dir / unit.name) << unit.text;
    argv.push_back((dir / unit.name).string());
  }
  base::ProcessResult run = base::RunProcess(argv, "", "", 60000);
  fs::remove_all(dir);
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  // Lines about the unit files themselves; systemd may also complain about
  // this machine's own units (not running under systemd), which we ignore.
  std::string ours;
  std::size_t start = 0;
  const std::string all = run.out + run.err;
  while (start < all.size()) {
    std::size_t end = all.find('\n', start);
    if (end == std::string::npos) end = all.size();
    const std::string line = all.substr(start, end - start);
    if (line.find(dir.string()) != std::string::npos || line.find("dualkey") != std::string::npos)
      ours += line + "\n";
    start = end + 1;
  }
  EXPECT_EQ(ours, "") << "systemd-analyze verify warns about dualkey's units";
}

}  // namespace
}  // namespace dualkey::setup::internal
