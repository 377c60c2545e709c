// The systemd units setup installs: dist/systemd/*.service.in, built into
// the binary (units_data.h), with the install's values filled in.
#pragma once

#include <string>
#include <vector>

namespace dualkey::setup::internal {

struct UnitValues {
  std::string binary = "/usr/local/bin/dualkey";
  std::string daemon_user = "dualkey";
  std::string daemon_group = "dualkey";
  std::string state_dir = "/var/lib/dualkey";
  std::string socket = "/run/dualkey/dualkey.sock";
  std::string config_dir = "/etc/dualkey";
};

struct Unit {
  std::string name;  // "dualkey.service"
  std::string text;
};

// Every unit, rendered. dualkey.service is first: it is the one setup
// enables; the proxy and gateway units wait for their configuration.
std::vector<Unit> RenderUnits(const UnitValues& values);

inline constexpr const char* kUnitDirectory = "/etc/systemd/system";

}  // namespace dualkey::setup::internal
