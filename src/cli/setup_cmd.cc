// CLI glue for `dualkey setup` and `dualkey doctor`: the logic lives in
// src/setup/ (setup.h).
#include <limits.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
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

// `dualkey doctor`: the subcommand and its options.
std::unique_ptr<Command> NewDoctorCommand() {
  class Doctor final : public Command {
   public:
    void Add(CLI::App& app) override {
      doctor_cmd = app.add_subcommand(
          "doctor",
          "Say plainly what dualkey protects here, for you. Can you (and so an agent running as\n"
          "you) read approver secrets, write the store, the audit log, the policy, the vault;\n"
          "does the daemon run as its own user; are the hooks installed and answering; are\n"
          "environment overrides ignored. Each failure names the command that fixes it.\n"
          "Changes nothing (hooks are run with --probe). Exit status: 0 all in place, 1 not.");
      doctor_cmd->add_flag("--json", doctor.json, "print JSON");
      doctor_cmd->add_option("--dir", doctor.project_dir, "project whose configs to check too");
    }
    bool Parsed() const override { return doctor_cmd->parsed(); }
    int Run() override { return RunDoctor(doctor); }

   private:
    DoctorOptions doctor;
    CLI::App* doctor_cmd = nullptr;
  };
  return std::make_unique<Doctor>();
}

// `sudo dualkey setup`: the subcommand and its options.
std::unique_ptr<Command> NewSetupCommand() {
  class Setup final : public Command {
   public:
    void Add(CLI::App& app) override {
      setup_cmd = app.add_subcommand(
          "setup",
          "The protected install, in one command (run as root):\n"
          "  sudo dualkey setup                    guard your agents (you: $SUDO_USER)\n"
          "  sudo dualkey setup --approver alice   enrol alice as the first approver\n"
          "  sudo dualkey setup --dry-run          what it would change\n"
          "  sudo dualkey setup --remove           undo it; keeps the vault and the audit log\n"
          "Creates the `dualkey` system user; state in /var/lib/dualkey (0700, its own),\n"
          "policy and install file in /etc/dualkey (root's), the socket in /run/dualkey; copies\n"
          "this binary to /usr/local/bin/dualkey; starts `dualkey serve` as that user (systemd\n"
          "units, or a process with a pid file without systemd); wires the agents' hooks (their\n"
          "managed, root-owned configs and the user's own); ends with `dualkey doctor`.\n"
          "Running it again changes nothing, or finishes what an interrupted run left.\n"
          "Without it dualkey runs in single-user mode, for trying it out: state in your home,\n"
          "which guards against an agent's mistakes but not against an agent working around it.");
      setup_cmd->add_option("--user", setup.user, "whose agents to guard (default: $SUDO_USER)");
      setup_cmd->add_option("--approver", setup.approver,
                            "enrol this first approver (default: asked on the terminal)");
      setup_cmd->add_option("--daemon-user", setup.daemon_user,
                            "the daemon's system user (dualkey)");
      setup_cmd->add_option(
          "--agents", setup.agents,
          "agents to wire, comma-separated (default: claude,cursor,codex,gemini)");
      setup_cmd->add_option("--binary", setup.binary,
                            "the dualkey binary to install (default: this one)");
      setup_cmd->add_flag(
          "--remove", setup.remove,
          "undo the install: stop the daemon, remove units, hooks, the install file, "
          "the binary and the user; keep the vault and the audit log");
      setup_cmd->add_flag("--stop", setup.stop,
                          "stop the daemon (start it again: sudo dualkey setup)");
      setup_cmd->add_flag("--dry-run", setup.dry_run, "show what would change, change nothing");
      setup_cmd->add_flag("--json", setup.json, "print one JSON object");
      setup_cmd->add_flag("--no-doctor", setup.no_doctor, "do not run doctor at the end");
      setup_cmd
          ->add_flag("--system-only", setup.system_only,
                     "the system part only (a package's maintainer scripts): no hooks, approver "
                     "or doctor")
          ->group("");
      setup_cmd
          ->add_option("--installed-binary", setup.installed_binary,
                       "use this root-owned binary in place (a package's /usr/bin/dualkey)")
          ->group("");
    }
    bool Parsed() const override { return setup_cmd->parsed(); }
    int Run() override { return RunSetup(setup); }

   private:
    dualkey::setup::Options setup;
    CLI::App* setup_cmd = nullptr;
  };
  return std::make_unique<Setup>();
}

}  // namespace dualkey::cli
