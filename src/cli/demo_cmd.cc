// CLI glue for `dualkey demo`: the demo itself lives in src/demo/ (demo.h).
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "demo/demo.h"

namespace dualkey::cli {

// `dualkey demo`: the subcommand and its options.
std::unique_ptr<Command> NewDemoCommand() {
  class Demo final : public Command {
   public:
    void Add(CLI::App& app) override {
      demo_cmd = app.add_subcommand(
          "demo",
          "Replay the 47-command incident against a throwaway production. A real PostgreSQL,\n"
          "files, backups and a stand-in platform API, attacked through dualkey's real\n"
          "integrations: the Claude Code hook, the PostgreSQL proxy, the HTTP gateway. Then a\n"
          "human approves one action with a TOTP code, the vault saves it first, and the undo\n"
          "restores it. Everything it starts is stopped and removed.\n"
          "It is sealed off from your own dualkey: its processes use only its own daemon, state\n"
          "and policy (they run with --sandbox DIR), whatever DUALKEY_SOCKET, XDG_* or a\n"
          "protected install say; it stops if it cannot be sure of that.\n"
          "The last line says what was lost: 'lost: 0 rows, 0 files, 0 backups' when every\n"
          "promise held, else 'FAILED (why): lost ...'. Exit status: 0 every promise held,\n"
          "1 one did not, 2 it could not set itself up.\n"
          "  dualkey demo\n"
          "  dualkey demo --keep        then, in another terminal, the commands it prints\n"
          "  dualkey demo --json");
      demo_cmd->add_flag("--json", demo.json, "print the final table as one JSON object");
      demo_cmd->add_flag("--keep", demo.keep,
                         "leave it running, print how to connect; Ctrl-C ends it");
      demo_cmd->add_option("--dir", demo.dir,
                           "where to build the throwaway production (must not exist)");
    }
    bool Parsed() const override { return demo_cmd->parsed(); }
    int Run() override { return dualkey::demo::Run(demo); }

   private:
    dualkey::demo::Options demo;
    CLI::App* demo_cmd = nullptr;
  };
  return std::make_unique<Demo>();
}

}  // namespace dualkey::cli
