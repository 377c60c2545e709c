// dualkey: stands between AI agents and everything they can destroy.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/help.h"
#include "install/layout.h"

namespace {

// `dualkey --sandbox DIR COMMAND ...` (install/layout.h): taken off the
// command line before anything else, so the rest (the hook's fast start-up
// included) sees an ordinary command line.
void TakeSandbox(int* argc, char*** argv) {
  char** args = *argv;
  if (*argc < 2) return;
  std::string dir;
  int taken = 0;
  if (std::strcmp(args[1], "--sandbox") == 0 && *argc >= 3) {
    dir = args[2];
    taken = 2;
  } else if (std::strncmp(args[1], "--sandbox=", 10) == 0) {
    dir = args[1] + 10;
    taken = 1;
  } else {
    return;
  }
  args[taken] = args[0];
  *argv = args + taken;
  *argc -= taken;
  dualkey::install::PinSandbox(dir, *argc >= 2 ? dualkey::install::SandboxUseOf((*argv)[1])
                                               : dualkey::install::SandboxUse::kDecides);
}

}  // namespace

namespace {

constexpr const char* kVersion = "dualkey 0.1.0";

// `dualkey hook AGENT` runs once per agent tool call: it starts without
// building the command-line parser, whose every subcommand and option cost
// more than the hook's own work (see bench/hook_compare.sh). Other forms
// (--help, extra arguments) go through the full parser below.
bool FastPath(int argc, char** argv, int* status) {
  if (argc == 3 && std::strcmp(argv[1], "hook") == 0 && argv[2][0] != '-') {
    dualkey::cli::HookOptions hook;
    hook.agent = argv[2];
    *status = dualkey::cli::RunHook(hook);
    return true;
  }
  if (argc == 2 && std::strcmp(argv[1], "--version") == 0) {
    std::printf("%s\n", kVersion);
    *status = 0;
    return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  TakeSandbox(&argc, &argv);
  if (int status = 0; FastPath(argc, argv, &status)) return status;
  CLI::App app{
      "dualkey: understands what an AI agent's command would do, and holds what destroys.\n"
      "Shell commands, SQL, HTTP and MCP calls are parsed and classified; destructive\n"
      "or irreversible actions wait for a human."};
  app.name("dualkey");
  dualkey::cli::TeachingHelp(app);
  app.require_subcommand(1);
  app.set_version_flag("--version", kVersion);
  std::string sandbox_late;
  app.add_option("--sandbox", sandbox_late,
                 "first, before the command: run it against the self-contained dualkey\n"
                 "under DIR (what `dualkey demo` builds: its state, socket and policy, nothing\n"
                 "from the environment). On a protected install only the demo's own processes\n"
                 "and the commands that answer a sandbox's daemon may use it.")
      ->option_text("DIR");
  // Tests check that every example in the help and the docs parses: they
  // run it with this flag, which stops after parsing.
  bool parse_only = false;
  app.add_flag("--parse-only", parse_only)->group("");

  // Each command declares its own options, in its *_cmd.cc (commands.h).
  namespace cli = dualkey::cli;
  std::unique_ptr<cli::Command> commands[] = {
      cli::NewCheckCommand(),   cli::NewPacksCommand(),   cli::NewPolicyCommand(),
      cli::NewClassesCommand(), cli::NewServeCommand(),   cli::NewDaemonCommands(),
      cli::NewAuditCommand(),   cli::NewHookCommand(),    cli::NewInstallCommand(),
      cli::NewTokenCommand(),   cli::NewMcpCommand(),     cli::NewDemoCommand(),
      cli::NewPgProxyCommand(), cli::NewGatewayCommand(), cli::NewScanCommand(),
      cli::NewDoctorCommand(),  cli::NewDrillCommand(),   cli::NewSetupCommand(),
      cli::NewVaultCommand(),   cli::NewDocsCommands(),
  };
  for (const auto& command : commands) command->Add(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli::ReportParseError(app, e, argc, argv);
  }
  if (parse_only) return 0;
  if (!sandbox_late.empty()) {
    std::cerr << "dualkey: --sandbox DIR must come first: dualkey --sandbox DIR COMMAND ...\n";
    return 2;
  }
  for (const auto& command : commands)
    if (command->Parsed()) return command->Run();
  return 2;
}
