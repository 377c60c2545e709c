// `dualkey gateway http` and `dualkey gateway credential set|list|remove`.
#include <unistd.h>

#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "base/json_text.h"
#include "cli/commands.h"
#include "gateway/gateway.h"
#include "install/layout.h"

namespace dualkey::cli {

int RunGateway(const GatewayOptions& options) {
  if (options.action == "http") return gateway::RunHttp(options.http);
  const std::string state_dir =
      options.http.state_dir.empty() ? install::DefaultStateDir() : options.http.state_dir;
  gateway::CredentialStore store(state_dir);
  std::string error;
  if (options.action == "credential-set") {
    gateway::CredentialType type;
    if (!gateway::ParseCredentialType(options.type, &type)) {
      std::cerr << "dualkey gateway credential set: --type is bearer, basic or aws-sigv4\n";
      return 2;
    }
    if (isatty(STDIN_FILENO))
      std::cerr << (type == gateway::CredentialType::kAwsSigV4
                        ? "Paste ACCESS_KEY_ID SECRET_ACCESS_KEY [SESSION_TOKEN], then Ctrl-D:\n"
                    : type == gateway::CredentialType::kBasic
                        ? "Paste user:password, then Ctrl-D:\n"
                        : "Paste the token, then Ctrl-D:\n");
    std::string secret((std::istreambuf_iterator<char>(std::cin)),
                       std::istreambuf_iterator<char>());
    if (!store.Set(options.name, type, secret, options.region, options.service, &error)) {
      std::cerr << "dualkey gateway credential set: " << error << "\n";
      return 1;
    }
    std::cerr << "stored credential '" << options.name << "' (" << gateway::ToString(type)
              << ") in " << store.directory()
              << " (0600). Remove the secret from wherever it came from; agents call the gateway "
                 "with a dualkey token instead.\n";
    return 0;
  }
  if (options.action == "credential-remove") {
    if (!store.Remove(options.name, &error)) {
      std::cerr << "dualkey gateway credential remove: " << error << "\n";
      return 1;
    }
    return 0;
  }
  std::optional<std::vector<gateway::Credential>> list = store.List(&error);
  if (!list) {
    std::cerr << "dualkey gateway credential list: " << error << "\n";
    return 1;
  }
  nlohmann::json out = nlohmann::json::array();
  for (const gateway::Credential& credential : *list) {
    nlohmann::json item{{"name", credential.name}, {"type", gateway::ToString(credential.type)}};
    if (credential.type == gateway::CredentialType::kAwsSigV4) {
      item["region"] = credential.region;
      item["service"] = credential.service;
    }
    if (options.json) {
      out.push_back(item);
    } else {
      std::cout << credential.name << "\t" << gateway::ToString(credential.type);
      if (credential.type == gateway::CredentialType::kAwsSigV4)
        std::cout << "\t" << credential.region << "/" << credential.service;
      std::cout << "\n";
    }
  }
  if (options.json) std::cout << base::JsonDump(out) << "\n";
  return 0;
}

}  // namespace dualkey::cli
