// CLI glue for `dualkey setup` and `dualkey doctor`: the logic lives in
// src/setup/ (setup.h).
#include <limits.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "setup/setup.h"
#include "setup/system.h"

namespace dualkey::cli {

int RunSetup(const setup::Options& options) {
  return setup::Run(options, std::cout, std::cerr);
}

int RunDoctor(const DoctorOptions& options) {
  setup::DoctorOptions doctor;
  doctor.json = options.json;
  char cwd[PATH_MAX];
  doctor.project_dir = !options.project_dir.empty()          ? options.project_dir
                       : getcwd(cwd, sizeof(cwd)) != nullptr ? std::string(cwd)
                                                             : std::string();
  // `sudo dualkey doctor`: the question is what the user's agents can do,
  // so the checks run as that user.
  const char* sudo_user = std::getenv("SUDO_USER");
  if (geteuid() == 0 && sudo_user != nullptr && *sudo_user != '\0') {
    if (std::optional<setup::sys::Account> account = setup::sys::LookupUser(sudo_user);
        account && account->uid != 0) {
      doctor.home = account->home;
      std::string output;
      const int status = setup::sys::RunAs(
          *account,
          [&](std::string* out) {
            std::ostringstream text;
            const int code = setup::Doctor(doctor, text, text);
            *out = text.str();
            return code;
          },
          &output);
      std::cout << output << std::flush;
      return status < 0 ? 1 : status;
    }
  }
  const char* home = std::getenv("HOME");
  doctor.home = home != nullptr && *home == '/' ? home : "";
  if (geteuid() == 0 && !options.json)
    std::cout << "note: you are root, who can reach everything: run doctor as the user whose "
                 "agents dualkey guards (or with sudo from their shell).\n";
  return setup::Doctor(doctor, std::cout, std::cerr);
}

}  // namespace dualkey::cli
