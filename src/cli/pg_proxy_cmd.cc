// `dualkey pg-proxy`: reads the real password (file or $PGPASSWORD, never
// from a client) and starts the proxy.
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "install/layout.h"
#include "policy/policy.h"
#include "proxy/pg/pg_proxy.h"

namespace dualkey::cli {

int RunPgProxy(const PgProxyCommandOptions& options) {
  std::string error;
  std::optional<pgproxy::Upstream> upstream = pgproxy::ParseUpstreamUri(options.upstream, &error);
  if (!upstream) {
    std::cerr << "dualkey pg-proxy: " << error << "\n";
    return 2;
  }
  if (!options.password_file.empty()) {
    struct stat st {};
    if (stat(options.password_file.c_str(), &st) != 0) {
      std::cerr << "dualkey pg-proxy: cannot read " << options.password_file << "\n";
      return 2;
    }
    if ((st.st_mode & 077) != 0) {
      std::cerr << "dualkey pg-proxy: " << options.password_file
                << " is readable by others; chmod 600 it\n";
      return 2;
    }
    std::ifstream in(options.password_file);
    std::stringstream text;
    text << in.rdbuf();
    upstream->password = text.str();
    while (!upstream->password.empty() &&
           (upstream->password.back() == '\n' || upstream->password.back() == '\r'))
      upstream->password.pop_back();
  } else if (const char* password = std::getenv("PGPASSWORD")) {
    upstream->password = password;
  }
  if ((options.tls_cert.empty()) != (options.tls_key.empty())) {
    std::cerr << "dualkey pg-proxy: --tls-cert and --tls-key go together\n";
    return 2;
  }
  pgproxy::Options o;
  o.listen = options.listen;
  o.upstream = *upstream;
  o.tls_cert = options.tls_cert;
  o.tls_key = options.tls_key;
  o.socket = options.socket.empty() ? install::DefaultSocketPath() : options.socket;
  o.state_dir = options.state_dir.empty() ? install::DefaultStateDir() : options.state_dir;
  {
    const char* home = std::getenv("HOME");
    const policy::Limits limits =
        policy::Load(policy::DefaultSources("", home != nullptr ? home : "")).limits;
    o.hold_rows_over = options.hold_rows_over >= 0 ? options.hold_rows_over
                                                   : static_cast<long long>(limits.hold_rows_over);
    o.hold_fraction_over = options.hold_fraction_over >= 0 ? options.hold_fraction_over
                                                           : limits.hold_table_fraction_over;
  }
  o.vault_dir = options.vault_dir;
  o.snapshots_in_state_dir = options.snapshots_in_state_dir;
  o.exact_count_under = options.exact_count_under;
  o.threads = options.threads;
  o.no_fast_path = options.no_fast_path;
  o.pg_dump = options.pg_dump;
  o.quiet = options.quiet;
  if (options.auth_timeout_seconds < 1 || options.max_clients < 1 ||
      options.max_clients_per_address < 1) {
    std::cerr << "dualkey pg-proxy: --auth-timeout, --max-clients and --max-clients-per-address "
                 "are at least 1\n";
    return 2;
  }
  o.auth_timeout_seconds = options.auth_timeout_seconds;
  o.max_clients = options.max_clients;
  o.max_clients_per_address = options.max_clients_per_address;
  return pgproxy::Run(o);
}

}  // namespace dualkey::cli
