// dualkey: stands between AI agents and everything they can destroy.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{
      "dualkey: understands what an AI agent's command would do, and holds what destroys.\n"
      "Shell commands, SQL, HTTP and MCP calls are parsed and classified; destructive\n"
      "or irreversible actions wait for a human."};
  app.name("dualkey");
  app.require_subcommand(1);
  app.set_version_flag("--version", "dualkey 0.1.0");

  dualkey::cli::CheckOptions check;
  CLI::App* check_cmd = app.add_subcommand(
      "check",
      "Classify a command (or a file of cases) and print the decision.\n"
      "  dualkey check -- 'rm -rf ~/projects'       explain one shell command\n"
      "  dualkey check --json -- 'git push -f'      the same as one JSON object\n"
      "  dualkey check --channel sql -- 'DROP TABLE t'\n"
      "  dualkey check --jsonl cases.jsonl          one JSON line per case ({id,channel,input,cwd})\n"
      "Exit status: 0 allow, 1 held or denied, 2 usage error.");
  check_cmd->add_option("--channel", check.channel, "shell (default), sql, http or mcp");
  check_cmd->add_option("--cwd", check.cwd, "working directory the command runs in (default: here)")
      ->each([&](const std::string&) { check.cwd_given = true; });
  check_cmd->add_option("--home", check.home, "home directory for ~ and $HOME (default: $HOME)");
  check_cmd->add_flag("--json", check.json, "print one JSON object instead of text");
  check_cmd->add_option("--jsonl", check.jsonl,
                        "read cases, one JSON object per line, from FILE ('-' for stdin)");
  check_cmd->add_option("command", check.command, "the command to check, after --");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int status = app.exit(e);
    return status == 0 ? 0 : 2;
  }
  if (check_cmd->parsed()) return dualkey::cli::RunCheck(check);
  return 2;
}
