// CLI glue for `dualkey drill`: the logic lives in src/drill/ (drill.h).
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"
#include "drill/drill.h"

namespace dualkey::cli {
namespace {

// `dualkey drill` and `dualkey drill verify`: the subcommand and its options.
class DrillCommand final : public Command {
 public:
  DrillCommand();
  ~DrillCommand() override;
  void Add(CLI::App& app) override;
  bool Parsed() const override;
  int Run() override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

struct DrillCommand::State {
  drill::Options run;
  bool list = false;
  std::string standin;
  drill::VerifyOptions verify;
  CLI::App* command = nullptr;
  CLI::App* verify_command = nullptr;
};

DrillCommand::DrillCommand() : state_(std::make_unique<State>()) {}
DrillCommand::~DrillCommand() = default;

void DrillCommand::Add(CLI::App& app) {
  State& s = *state_;
  s.command = app.add_subcommand(
      "drill",
      "Attack this installation, safely, and report what would have got through.\n"
      "  sudo dualkey drill                 from the shell of the user whose agents are guarded\n"
      "  sudo dualkey drill --html drill.html --fail-under 95\n"
      "  dualkey drill --list               the battery (built in, plus your own files)\n"
      "  dualkey drill verify dualkey-drill.cert.json\n"
      "It finds the agents' hooks (as their configs have them), the wrapped MCP servers, the\n"
      "daemon, the PostgreSQL proxy and the gateway, and the policy in force; sends several\n"
      "hundred attempts through each (hooks get the agent's own JSON, with --probe: nothing\n"
      "runs, nothing is registered; SQL, API and MCP calls reach only canaries the drill makes\n"
      "and removes); trips the breaker and resets it with its own test approver; checks the\n"
      "canaries and the audit log; prints a table per integration with the fix for each\n"
      "failure, and writes a certificate signed with the audit key.\n"
      "Exit status: 0 everything destructive held and nothing found; 1 something got through,\n"
      "was lost or is missing; 2 the drill could not run.");
  s.command->add_option("--user", s.run.user,
                        "whose agents to drill (default: $SUDO_USER under sudo, else you)");
  s.command->add_flag("--json", s.run.json, "print one JSON object");
  s.command->add_option("--html", s.run.html, "also write a self-contained HTML report to FILE");
  s.command->add_option("--certificate", s.run.certificate,
                        "where to write the signed certificate (default: dualkey-drill.cert.json)");
  s.command->add_flag("--no-certificate", s.run.no_certificate, "do not ask for a certificate");
  s.command
      ->add_option("--fail-under", s.run.fail_under,
                   "exit 1 when fewer than PCT percent of destructive attempts are held")
      ->check(CLI::Range(0.0, 100.0));
  s.command->add_option("--battery", s.run.battery,
                        "more cases (JSONL, the corpus's format; repeatable)");
  s.command->add_flag(
      "--no-builtin", [&s](std::int64_t) { s.run.builtin = false; },
      "leave the built-in battery out (only your files)");
  s.command
      ->add_option("--only", s.run.only,
                   "drill only these: hooks, pg-proxy, gateway, mcp, breaker, boundary, or "
                   "channels shell, file, sql, http (comma-separated)")
      ->delimiter(',');
  s.command->add_option("--dir", s.run.project_dir, "a project whose configs to look at too");
  s.command->add_option("--jobs", s.run.jobs, "hook processes at once (2)")
      ->check(CLI::Range(1, 16));
  s.command->add_flag("--verbose,-v", s.run.verbose,
                      "also list held harmless controls and attempts that could not be tried");
  s.command->add_flag("--list", s.list, "list the battery and exit");
  s.command->add_option("--mcp-standin", s.standin)->group("");  // the drill's own stand-in server
  s.verify_command = s.command->add_subcommand(
      "verify",
      "Check a drill certificate's signature: against the audit key pinned in\n"
      "/etc/dualkey/audit.pub on a protected install, or --pubkey KEY.\n"
      "Exit status: 0 valid and signed by that key, 1 not, 2 unreadable.");
  s.verify_command->add_option("certificate", s.verify.path, "the certificate file")->required();
  s.verify_command->add_option("--pubkey", s.verify.public_key,
                               "the audit log's public key (hex) it must be signed by");
  s.verify_command->add_flag("--json", s.verify.json, "print JSON");
}

bool DrillCommand::Parsed() const {
  return state_->command != nullptr && state_->command->parsed();
}

int DrillCommand::Run() {
  State& s = *state_;
  if (!s.standin.empty()) return drill::McpStandin(s.standin);
  if (s.verify_command->parsed()) return drill::Verify(s.verify, std::cout, std::cerr);
  if (s.list) {
    drill::ListOptions list;
    list.battery = s.run.battery;
    list.builtin = s.run.builtin;
    list.user = s.run.user;
    list.json = s.run.json;
    return drill::List(list, std::cout, std::cerr);
  }
  return drill::Run(s.run, std::cout, std::cerr);
}

}  // namespace

std::unique_ptr<Command> NewDrillCommand() {
  return std::make_unique<DrillCommand>();
}

}  // namespace dualkey::cli
