// `dualkey token add|list|revoke`: the scoped tokens agents present to the
// PostgreSQL proxy and the HTTP gateway instead of real credentials.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "install/layout.h"
#include "token/token.h"

namespace dualkey::cli {

int RunToken(const TokenOptions& options) {
  const std::string state_dir =
      options.state_dir.empty() ? install::DefaultStateDir() : options.state_dir;
  token::Store store(state_dir);
  if (options.action == "add") {
    Result<std::string> secret = store.Add(options.name, options.scopes);
    if (!secret.ok()) {
      std::cerr << "dualkey token add: " << secret.status().message() << "\n";
      return 1;
    }
    if (options.json) {
      std::cout << nlohmann::json{{"name", options.name}, {"token", *secret}}.dump() << "\n";
    } else {
      std::cout << *secret << "\n";
      std::cerr << "Token for agent '" << options.name
                << "'. It is shown once; dualkey keeps only its hash.\n"
                   "Give it to the agent as its database password or bearer token.\n";
    }
    return 0;
  }
  if (options.action == "revoke") {
    if (Status revoked = store.Revoke(options.name); !revoked.ok()) {
      std::cerr << "dualkey token revoke: " << revoked.message() << "\n";
      return 1;
    }
    if (!options.json) std::cout << "revoked " << options.name << "\n";
    return 0;
  }
  Result<std::vector<token::Token>> tokens = store.List();
  if (!tokens.ok()) {
    std::cerr << "dualkey token list: " << tokens.status().message() << "\n";
    return 1;
  }
  nlohmann::json out = nlohmann::json::array();
  for (const token::Token& t : *tokens) {
    if (options.json) {
      out.push_back({{"name", t.name}, {"scopes", t.scopes}, {"created_ms", t.created_ms}});
    } else {
      std::string scopes;
      for (const std::string& s : t.scopes) scopes += (scopes.empty() ? "" : ",") + s;
      std::cout << t.name << "\t" << scopes << "\n";
    }
  }
  if (options.json) std::cout << out.dump() << "\n";
  return 0;
}

// `dualkey token add|list|revoke`: the subcommand and its options.
std::unique_ptr<Command> NewTokenCommand() {
  class Token final : public Command {
   public:
    void Add(CLI::App& app) override {
      CLI::App* token_cmd = app.add_subcommand(
          "token",
          "Scoped agent tokens for the PostgreSQL proxy and the HTTP gateway. The agent\n"
          "presents one instead of the real credentials, which stay inside dualkey.\n"
          "  dualkey token add claude-dev --scope pg    prints the secret once\n"
          "  dualkey token list\n"
          "  dualkey token revoke claude-dev");
      token_cmd->require_subcommand(1);
      for (const char* action : {"add", "list", "revoke"}) {
        CLI::App* sub = token_cmd->add_subcommand(
            action, std::string(action) == "add" ? "Create a token for an agent and print it once."
                    : std::string(action) == "list"
                        ? "List tokens (names and scopes, never secrets)."
                        : "Revoke an agent's token.");
        sub->callback([this, action] { token.action = action; });
        if (std::string(action) != "list")
          sub->add_option("name", token.name, "the agent's name (its identity for approvals)")
              ->required();
        if (std::string(action) == "add")
          sub->add_option("--scope", token.scopes, "pg, http, mcp or * (repeatable; default *)");
        AddStateDir(sub, token.state_dir, "dualkey's state directory");
        sub->add_flag("--json", token.json, "print JSON");
      }
    }
    bool Parsed() const override { return !token.action.empty(); }
    int Run() override { return RunToken(token); }

   private:
    TokenOptions token;
  };
  return std::make_unique<Token>();
}

}  // namespace dualkey::cli
