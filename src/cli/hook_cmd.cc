#include <iostream>

#include "cli/commands.h"

namespace dualkey::cli {
// Placeholders until the hook integration lands: block (exit 2 + reason).
int RunHook(const HookOptions&) {
  std::cerr << "dualkey: hook support is not built yet; blocked\n";
  return 2;
}
int RunInstall(const InstallOptions&) {
  std::cerr << "dualkey: install is not built yet\n";
  return 2;
}
int RunDoctor(const DoctorOptions&) {
  std::cerr << "dualkey: doctor is not built yet\n";
  return 2;
}
}  // namespace dualkey::cli
