// `dualkey pg-proxy`: reads the real password (file or $PGPASSWORD, never
// from a client) and starts the proxy.
#include <sys/stat.h>

#include <CLI/CLI.hpp>
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
  o.fast_path_threads = options.fast_path_threads;
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

// `dualkey pg-proxy`: the subcommand and its options.
std::unique_ptr<Command> NewPgProxyCommand() {
  class PgProxy final : public Command {
   public:
    void Add(CLI::App& app) override {
      pg_proxy_cmd = app.add_subcommand(
          "pg-proxy",
          "PostgreSQL proxy that owns the real credentials. Agents log in with a dualkey\n"
          "token (user = token name, password = token); each statement is classified\n"
          "before it is forwarded and destructive ones wait for `dualkey approve`.\n"
          "  dualkey token add claude-dev --scope pg\n"
          "  PGPASSWORD=real dualkey pg-proxy --upstream postgresql://app@db:5432/shop\n"
          "  psql 'postgresql://claude-dev@127.0.0.1:6432/shop'   (password: the token)\n"
          "See docs/pg-proxy.md.");
      pg_proxy_cmd->add_option("--listen", pg_proxy.listen,
                               "HOST:PORT to listen on (127.0.0.1:6432)");
      pg_proxy_cmd
          ->add_option(
              "--upstream", pg_proxy.upstream,
              "postgresql://USER@HOST:PORT[/DB][?sslmode=disable|prefer|require|verify-full];\n"
              "a database on this machine through its Unix socket:\n"
              "postgresql://USER@%2Fvar%2Frun%2Fpostgresql:5432/DB or ?host=/var/run/postgresql")
          ->required();
      pg_proxy_cmd->add_option("--upstream-password-file", pg_proxy.password_file,
                               "file holding the real password (mode 0600); default: $PGPASSWORD");
      pg_proxy_cmd->add_option("--tls-cert", pg_proxy.tls_cert,
                               "certificate for TLS to clients (PEM)");
      pg_proxy_cmd->add_option("--tls-key", pg_proxy.tls_key, "its private key (PEM)");
      pg_proxy_cmd->add_option(
          "--socket", pg_proxy.socket,
          "the daemon's socket (default: $DUALKEY_SOCKET or STATE/dualkey.sock)");
      AddStateDir(pg_proxy_cmd, pg_proxy.state_dir,
                  "tokens, snapshots and the proxy log (default: dualkey's state dir)");
      pg_proxy_cmd->add_option(
          "--hold-rows-over", pg_proxy.hold_rows_over,
          "hold a DELETE/UPDATE touching more rows than this\n"
          "(default: policy [blast_radius] hold_rows_over, else 1000; 0: off)");
      pg_proxy_cmd->add_option(
          "--hold-fraction-over", pg_proxy.hold_fraction_over,
          "... or more than this fraction of its table\n"
          "(default: policy [blast_radius] hold_table_fraction_over, else 0.10; 0: off)");
      pg_proxy_cmd->add_option(
          "--vault", pg_proxy.vault_dir,
          "the vault for pre-destruction snapshots (default: $DUALKEY_VAULT or STATE/vault)");
      pg_proxy_cmd->add_flag(
          "--snapshots-in-state-dir", pg_proxy.snapshots_in_state_dir,
          "write snapshots as plain files under STATE/snapshots instead of the vault");
      pg_proxy_cmd->add_option("--exact-count-under", pg_proxy.exact_count_under,
                               "count rows exactly when the table has fewer rows (100000)");
      pg_proxy_cmd->add_option("--threads", pg_proxy.threads,
                               "threads for logins and for what must wait: holds, the daemon, "
                               "row estimates, snapshots (1)");
      pg_proxy_cmd
          ->add_option("--fast-path-threads", pg_proxy.fast_path_threads,
                       "threads that forward sessions' statements and results (default: one "
                       "per 4 cores, 1 to 4)")
          ->check(CLI::Range(0, 64));
      pg_proxy_cmd->add_option("--auth-timeout", pg_proxy.auth_timeout_seconds,
                               "seconds a client has from connecting to logging in (5)");
      pg_proxy_cmd->add_option("--max-clients", pg_proxy.max_clients,
                               "open client connections at most (1000); at the limit the oldest "
                               "one not logged in yet is closed to make room");
      pg_proxy_cmd->add_option("--max-clients-per-address", pg_proxy.max_clients_per_address,
                               "open client connections from one address at most (500)");
      pg_proxy_cmd->add_flag("--no-fast-path", pg_proxy.no_fast_path,
                             "run every session on the coroutine path (sessions otherwise forward\n"
                             "on the fast path's epoll threads and leave them only for what must "
                             "wait)");
      pg_proxy_cmd->add_option("--pg-dump", pg_proxy.pg_dump,
                               "pg_dump binary for snapshots (default: found)");
      pg_proxy_cmd->add_flag("--quiet", pg_proxy.quiet, "no log lines on stderr");
    }
    bool Parsed() const override { return pg_proxy_cmd->parsed(); }
    int Run() override { return RunPgProxy(pg_proxy); }

   private:
    PgProxyCommandOptions pg_proxy;
    CLI::App* pg_proxy_cmd = nullptr;
  };
  return std::make_unique<PgProxy>();
}

}  // namespace dualkey::cli
