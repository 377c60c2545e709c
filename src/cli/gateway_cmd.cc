// `dualkey gateway http` and `dualkey gateway credential set|list|remove`.
#include <unistd.h>

#include <CLI/CLI.hpp>
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
    if (Status set = store.Set(options.name, type, secret, options.region, options.service);
        !set.ok()) {
      std::cerr << "dualkey gateway credential set: " << set.message() << "\n";
      return 1;
    }
    std::cerr << "stored credential '" << options.name << "' (" << gateway::ToString(type)
              << ") in " << store.directory()
              << " (0600). Remove the secret from wherever it came from; agents call the gateway "
                 "with a dualkey token instead.\n";
    return 0;
  }
  if (options.action == "credential-remove") {
    if (Status removed = store.Remove(options.name); !removed.ok()) {
      std::cerr << "dualkey gateway credential remove: " << removed.message() << "\n";
      return 1;
    }
    return 0;
  }
  Result<std::vector<gateway::Credential>> list = store.List();
  if (!list.ok()) {
    std::cerr << "dualkey gateway credential list: " << list.status().message() << "\n";
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

// `dualkey gateway http` and `dualkey gateway credential set|list|remove`: the subcommand and its
// options.
std::unique_ptr<Command> NewGatewayCommand() {
  class Gateway final : public Command {
   public:
    void Add(CLI::App& app) override {
      CLI::App* gateway_cmd = app.add_subcommand(
          "gateway",
          "The HTTP gateway, which holds the real API credentials. Agents call\n"
          "http://127.0.0.1:PORT/UPSTREAM/... with a dualkey token; dualkey classifies each\n"
          "request, holds destructive ones for approval, and forwards the rest with the real\n"
          "credential, which the agent never sees.\n"
          "  echo \"$TOKEN\" | dualkey gateway credential set railway --type bearer\n"
          "  dualkey gateway http --listen 127.0.0.1:8787    (config: STATE/gateway.toml)\n"
          "See docs/gateway.md.");
      gateway_cmd->require_subcommand(1);
      CLI::App* gateway_http = gateway_cmd->add_subcommand(
          "http",
          "Serve the reverse gateway until SIGINT/SIGTERM. Config (TOML):\n"
          "  [[gateway.http.upstream]]\n"
          "  name = \"railway\"\n"
          "  base_url = \"https://backboard.railway.app\"\n"
          "  credential = \"railway\"\n"
          "  # ca_file = \"/path/ca.pem\"   # a private CA to trust\n"
          "One [[gateway.http.upstream]] per API; a complete example with comments:\n"
          "examples/gateway.toml (share/doc/dualkey/examples when installed).");
      gateway_http->add_option("--listen", gateway.http.listen,
                               "HOST:PORT (127.0.0.1:8787; port 0 = any)");
      gateway_http->add_option("--config", gateway.http.config_path,
                               "config file (STATE/gateway.toml)");
      AddStateDir(gateway_http, gateway.http.state_dir, "dualkey's state directory");
      gateway_http->add_option("--socket", gateway.http.socket_path, "the daemon's socket");
      gateway_http->add_option("--threads", gateway.http.threads, "worker threads (4)");
      gateway_http->add_option("--max-body", gateway.http.max_body_bytes,
                               "largest request body read for classification (8 MiB); larger: 413");
      gateway_http->add_option("--header-timeout", gateway.http.header_timeout_seconds,
                               "seconds to send a whole request header (10)");
      gateway_http->add_option("--idle-timeout", gateway.http.idle_timeout_seconds,
                               "seconds a kept-alive connection may wait for its next request, and "
                               "a body or a write to the client may take (60)");
      gateway_http->add_option("--upstream-connect-timeout",
                               gateway.http.upstream_connect_timeout_seconds,
                               "seconds to connect to an upstream, TLS included (10); then 504");
      gateway_http->add_option("--upstream-timeout", gateway.http.upstream_timeout_seconds,
                               "seconds an upstream has to answer, and to pause mid-answer (30); "
                               "then 504");
      gateway_http->add_option("--max-connections", gateway.http.max_connections,
                               "open connections at most (1000); at the limit the one idle the "
                               "longest is closed to make room");
      gateway_http->add_option("--max-connections-per-client",
                               gateway.http.max_connections_per_client,
                               "open connections from one client address at most (500)");
      gateway_http->add_flag("--quiet", gateway.http.quiet, "no log lines on stderr");
      gateway_http->callback([&] { gateway.action = "http"; });
      CLI::App* gateway_credential = gateway_cmd->add_subcommand(
          "credential",
          "The real credentials the gateway injects (0600 files in STATE/credentials).");
      gateway_credential->require_subcommand(1);
      CLI::App* credential_set = gateway_credential->add_subcommand(
          "set",
          "Store a credential, the secret read from stdin (never from the command line):\n"
          "  bearer: the token; basic: user:password;\n"
          "  aws-sigv4: ACCESS_KEY_ID SECRET_ACCESS_KEY [SESSION_TOKEN] (--region, --service)");
      credential_set
          ->add_option("name", gateway.name, "credential name (the config's credential = ...)")
          ->required();
      credential_set->add_option("--type", gateway.type, "bearer (default), basic or aws-sigv4");
      credential_set->add_option("--region", gateway.region, "aws-sigv4: region, e.g. us-east-1");
      credential_set->add_option("--service", gateway.service, "aws-sigv4: service, e.g. s3, ec2");
      credential_set->callback([&] { gateway.action = "credential-set"; });
      CLI::App* credential_list = gateway_credential->add_subcommand(
          "list", "List credentials (names and types, never secrets).");
      credential_list->add_flag("--json", gateway.json, "print JSON");
      credential_list->callback([&] { gateway.action = "credential-list"; });
      CLI::App* credential_remove =
          gateway_credential->add_subcommand("remove", "Delete a credential.");
      credential_remove->add_option("name", gateway.name, "credential name")->required();
      credential_remove->callback([&] { gateway.action = "credential-remove"; });
      for (CLI::App* sub : {credential_set, credential_list, credential_remove})
        AddStateDir(sub, gateway.http.state_dir, "dualkey's state directory");
    }
    bool Parsed() const override { return !gateway.action.empty(); }
    int Run() override { return RunGateway(gateway); }

   private:
    GatewayOptions gateway;
  };
  return std::make_unique<Gateway>();
}

}  // namespace dualkey::cli
