// `dualkey token add|list|revoke`: the scoped tokens agents present to the
// PostgreSQL proxy and the HTTP gateway instead of real credentials.
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

}  // namespace dualkey::cli
