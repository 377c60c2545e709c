// The dualkey command line. Each subcommand is a Command made in its own
// *_cmd.cc, which declares its options (CLI11) next to the code that uses
// them; main.cc builds the app from the list below, parses and runs the one
// chosen. The Run* functions do the work; each returns the exit status.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "cli/serve_log.h"
#include "daemon/daemon.h"
#include "gateway/gateway.h"
#include "install/layout.h"
#include "proxy/mcp/mcp_proxy.h"
#include "setup/setup.h"

namespace CLI {
class App;
}

namespace dualkey::cli {

// One subcommand of `dualkey` (or a few that share their options).
class Command {
 public:
  virtual ~Command() = default;
  // Adds the subcommand(s) and their options to `app`.
  virtual void Add(CLI::App& app) = 0;
  // After parsing: whether the command line chose it.
  virtual bool Parsed() const = 0;
  // Runs it: the process exit status.
  virtual int Run() = 0;
};

// In the order `dualkey --help` lists them.
std::unique_ptr<Command> NewCheckCommand();    // check.cc
std::unique_ptr<Command> NewPacksCommand();    // packs_cmd.cc
std::unique_ptr<Command> NewPolicyCommand();   // policy_cmd.cc
std::unique_ptr<Command> NewClassesCommand();  // classes_cmd.cc
std::unique_ptr<Command> NewServeCommand();    // serve_cmd.cc
std::unique_ptr<Command> NewDaemonCommands();  // serve_cmd.cc: pending ... breaker
std::unique_ptr<Command> NewAuditCommand();    // audit_cmd.cc
std::unique_ptr<Command> NewHookCommand();     // hook_cmd.cc
std::unique_ptr<Command> NewInstallCommand();  // hook_cmd.cc
std::unique_ptr<Command> NewTokenCommand();    // token_cmd.cc
std::unique_ptr<Command> NewMcpCommand();      // mcp_cmd.cc
std::unique_ptr<Command> NewDemoCommand();     // demo_cmd.cc
std::unique_ptr<Command> NewPgProxyCommand();  // pg_proxy_cmd.cc
std::unique_ptr<Command> NewGatewayCommand();  // gateway_cmd.cc
std::unique_ptr<Command> NewScanCommand();     // scan_cmd.cc
std::unique_ptr<Command> NewDoctorCommand();   // setup_cmd.cc
std::unique_ptr<Command> NewDrillCommand();    // drill_cmd.cc
std::unique_ptr<Command> NewSetupCommand();    // setup_cmd.cc
std::unique_ptr<Command> NewVaultCommand();    // vault_cmd.cc
std::unique_ptr<Command> NewDocsCommands();    // docgen.cc: completion, man

// One spelling for the state directory everywhere: --state-dir, as
// DUALKEY_STATE_DIR; --state, which some commands took, still works (help.cc).
void AddStateDir(CLI::App* cmd, std::string& dir, const std::string& help);

// The working directory; empty when it cannot be had (help.cc).
std::string CurrentDirectory();

struct CheckOptions {
  std::string channel = "shell";
  std::string operation = "write";  // file channel: create | write | edit | delete
  std::string cwd;                  // empty: the current directory (single check)
  bool cwd_given = false;
  std::string home;  // empty: $HOME
  bool json = false;
  std::string jsonl;                 // file, or "-" for stdin
  std::vector<std::string> command;  // the words after --, joined by spaces
  bool local = false;                // do not ask the daemon even when it runs
  bool dry_run = false;              // ask the daemon with a probe: no effect at all
  std::string agent = "cli";         // who asks, for the daemon's approvals and breaker
};

// Exit status: 0 allow, 1 held or denied, 2 usage or input errors.
int RunCheck(const CheckOptions& options);

// `dualkey policy check [FILE...]` and `dualkey policy explain -- CMD`.
struct PolicyOptions {
  std::string action;              // "check", "explain" or "show"
  std::vector<std::string> files;  // check: files to validate (default: the layers in force)
  std::string channel = "shell";   // explain
  std::string cwd;                 // explain/check: where the command runs
  bool cwd_given = false;
  std::string home;
  std::string agent;
  bool json = false;
  std::vector<std::string> command;  // explain: the command after --
};
int RunPolicy(const PolicyOptions& options);

// `dualkey packs list` and `dualkey packs test [FILE...]` (packs_cmd.cc).
struct PacksOptions {
  std::string action;              // "list" or "test"
  std::vector<std::string> files;  // test: pack files (default: every pack in force)
  std::string cwd;                 // whose project packs (default: here)
  std::string home;                // test: home the cases assume (default /home/dev)
  bool json = false;
};
int RunPacks(const PacksOptions& options);

// `dualkey serve`: the daemon (daemon.h), and its log (serve_log.h).
int RunServe(daemon::ServeOptions options, const LogOptions& log);

// The humans' side of the daemon: pending, approve, deny, watch, approver
// add/list, breaker reset (serve_cmd.cc).
struct DaemonOptions {
  std::string action;     // pending | approve | deny | watch | approver-add | approver-remove |
                          // approver-rotate | approver-list | breaker-reset
  std::string socket;     // default: install::DefaultSocketPath()
  std::string id;         // approve/deny: approval id or code
  std::string as;         // approver name (default: $USER)
  std::string code;       // TOTP code (default: asked on the terminal)
  std::string reason;     // deny
  std::string agent;      // breaker reset
  std::string name;       // approver add/remove/rotate
  std::string state_dir;  // approver: the daemon's state directory (single-user fallback)
  std::string store;      // approver: the store, if not the default
  bool json = false;
};
int RunDaemonCommand(const DaemonOptions& options);

// `dualkey token add|list|revoke` (token_cmd.cc).
struct TokenOptions {
  std::string action;  // add | list | revoke
  std::string name;
  std::vector<std::string> scopes;  // pg, http, mcp or * (default *)
  std::string state_dir;            // default: install::DefaultStateDir()
  bool json = false;
};
int RunToken(const TokenOptions& options);

// `dualkey pg-proxy`: the PostgreSQL proxy that owns the real credentials
// (pg_proxy_cmd.cc; the proxy itself is src/proxy/pg).
struct PgProxyCommandOptions {
  std::string listen = "127.0.0.1:6432";
  std::string upstream;       // postgresql://USER@HOST:PORT[/DB][?sslmode=...]
  std::string password_file;  // the real password (0600); default: $PGPASSWORD
  std::string tls_cert, tls_key;
  std::string socket;              // default: install::DefaultSocketPath()
  std::string state_dir;           // default: install::DefaultStateDir()
  long long hold_rows_over = -1;   // -1: the policy's [blast_radius] (1000)
  double hold_fraction_over = -1;  // -1: the policy's [blast_radius] (0.10)
  std::string vault_dir;           // snapshots (default: $DUALKEY_VAULT or STATE/vault)
  bool snapshots_in_state_dir = false;
  long long exact_count_under = 100000;
  int threads = 1;
  int fast_path_threads = 0;  // 0: Pump::DefaultThreads()
  bool no_fast_path = false;
  std::string pg_dump;
  bool quiet = false;
  int auth_timeout_seconds = 5;
  std::size_t max_clients = 1000;
  std::size_t max_clients_per_address = 500;
};
int RunPgProxy(const PgProxyCommandOptions& options);

// `dualkey completion bash|zsh|fish` and `dualkey man DIR`: made from the
// CLI's own definition, the text --help prints (docgen.cc).
int PrintCompletion(const CLI::App& app, const std::string& shell, std::ostream& out);
int WriteManPages(const CLI::App& app, const std::string& dir);

// `dualkey audit verify|tail|export|pubkey` (audit_cmd.cc).
struct AuditOptions {
  std::string action;
  std::string file;        // default STATE/audit.jsonl
  std::string since;       // tail/export
  int lines = 20;          // tail
  std::string public_key;  // verify: the signer to expect
  std::string state_dir;   // pubkey
  std::string socket;      // pubkey
  bool json = false;
  bool follow = false;          // export: keep printing new records
  std::string format = "json";  // export: json | syslog
  // search: the page's History filters (audit/search.h)
  std::string agent, op_class, decision, text;
  int limit = 50;
  std::string cursor;
  bool no_verify = false;
};
int RunAudit(const AuditOptions& options);

// `dualkey hook AGENT`: reads the agent's pre-tool-use JSON on stdin and
// answers in that agent's protocol (hook_cmd.cc).
struct HookOptions {
  std::string agent;   // claude | cursor | codex | gemini
  bool probe = false;  // ask the daemon with a probe: registers nothing (doctor)
};
int RunHook(const HookOptions& options);

// `dualkey install AGENT`: wires `dualkey hook AGENT` into the agent's config.
struct InstallOptions {
  std::string agent;
  bool project = false;  // the project's config file instead of the user's
  bool uninstall = false;
  bool dry_run = false;
  std::string binary;         // path of the dualkey binary to call (default: this one)
  std::string project_dir;    // default: the current directory
  std::string agent_version;  // Claude Code version for version-gated options; default: ask it
};
int RunInstall(const InstallOptions& options);

// `dualkey doctor`: what the install protects for the user running it (files,
// daemon, environment), and each installed hook run with a harmless and a
// destructive sample; changes nothing.
struct DoctorOptions {
  bool json = false;
  std::string project_dir;  // project configs to check too; default: the current directory
};
int RunDoctor(const DoctorOptions& options);  // setup_cmd.cc

// `sudo dualkey setup`: the protected install (setup_cmd.cc, src/setup/).
int RunSetup(const setup::Options& options);

// `dualkey mcp -- SERVER...` and `dualkey mcp --upstream URL` (mcp_cmd.cc).
int RunMcp(const mcpproxy::ProxyOptions& options);

// `dualkey install mcp --client AGENT`: wraps each MCP server in that client's
// config in `dualkey mcp -- ...` (mcp_cmd.cc, hook/install_mcp.h).
struct InstallMcpOptions {
  std::string client;  // claude | cursor | gemini | codex
  bool project = false;
  bool uninstall = false;
  bool dry_run = false;
  bool json = false;
  std::string binary;
  std::string project_dir;
};
int RunInstallMcp(const InstallMcpOptions& options);
// `dualkey vault init|put|ls|show|restore|verify|prune` (vault_cmd.cc).
struct VaultOptions {
  std::string action;
  std::string dir;  // --vault; default $DUALKEY_VAULT or STATE/vault
  bool json = false;
  bool quiet = false;  // no progress bar
  // init
  int retention_days = 30;
  std::uint32_t average_chunk = 1 << 20;
  int compression_level = 1;
  // put
  std::vector<std::string> paths;
  std::vector<std::string> tags;
  std::string who, reason, approval_id;
  std::string stdin_name;  // save stdin as one stream with this name
  std::string kind;        // with --stdin: pg_dump | sql_rows
  std::string pg;          // run pg_dump on this database
  // show / restore
  std::string snapshot;
  std::string to;
  bool overwrite = false;
  std::vector<std::string> only;
  std::string db;  // restore a database snapshot into this database (psql/pg_restore)
  // prune
  std::string approver, totp, store, state_dir;
  bool dry_run = false;
};
int RunVault(const VaultOptions& options);
// `dualkey gateway http` and `dualkey gateway credential set|list|remove`
// (gateway_cmd.cc).
struct GatewayOptions {
  std::string action;  // http | credential-set | credential-list | credential-remove
  gateway::Options http;
  std::string name;  // credential name
  std::string type = "bearer";
  std::string region;   // aws-sigv4
  std::string service;  // aws-sigv4
  bool json = false;
};
int RunGateway(const GatewayOptions& options);

// `dualkey scan [PATH...]`: loose credentials in files an agent can read
// (scan_cmd.cc).
struct ScanOptions {
  std::vector<std::string> paths;  // default: $HOME and the current directory
  bool json = false;
  int max_depth = 8;
};
int RunScan(const ScanOptions& options);

}  // namespace dualkey::cli
