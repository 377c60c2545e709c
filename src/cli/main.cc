// dualkey: stands between AI agents and everything they can destroy.
#include <CLI/CLI.hpp>
#include <cstdint>
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
  check_cmd->add_flag("--local", check.local, "decide here, without asking a running daemon");
  check_cmd->add_option("--agent", check.agent, "who asks (default: cli), for approvals and the breaker");

  dualkey::cli::PolicyOptions policy;
  CLI::App* policy_cmd = app.add_subcommand(
      "policy",
      "Validate policy files and explain decisions. Layers: built-in < /etc/dualkey/policy.toml\n"
      "< ~/.config/dualkey/policy.toml < .dualkey.toml (project; it can only tighten).");
  policy_cmd->require_subcommand(1);
  CLI::App* policy_check = policy_cmd->add_subcommand(
      "check", "Validate policy files (default: every layer in force here); line-numbered errors.");
  policy_check->add_option("files", policy.files, "policy files to validate");
  policy_check->add_option("--cwd", policy.cwd, "directory whose project layer to check")
      ->each([&](const std::string&) { policy.cwd_given = true; });
  policy_check->add_flag("--json", policy.json, "print JSON");
  policy_check->callback([&] { policy.action = "check"; });
  CLI::App* policy_explain = policy_cmd->add_subcommand(
      "explain", "Show which rule of which layer decided a command:\n"
                 "  dualkey policy explain -- 'git push --force origin main'");
  policy_explain->add_option("--channel", policy.channel, "shell (default), sql, http or mcp");
  policy_explain->add_option("--cwd", policy.cwd, "working directory (default: here)")
      ->each([&](const std::string&) { policy.cwd_given = true; });
  policy_explain->add_option("--home", policy.home, "home directory (default: $HOME)");
  policy_explain->add_option("--agent", policy.agent, "agent asking: claude, cursor, codex, gemini");
  policy_explain->add_flag("--json", policy.json, "print JSON");
  policy_explain->add_option("command", policy.command, "the command, after --");
  policy_explain->callback([&] { policy.action = "explain"; });

  dualkey::server::ServeOptions serve;
  CLI::App* serve_cmd = app.add_subcommand(
      "serve",
      "Run the daemon that holds approvals, the audit log and the breaker.\n"
      "Hooks and `check` ask it when it runs; a held action waits for `dualkey approve`.");
  serve_cmd->add_option("--state", serve.state_dir, "state directory (0700; default ~/.local/state/dualkey)");
  serve_cmd->add_option("--store", serve.store, "postgresql://... to share approvals between daemons");
  serve_cmd->add_option("--socket", serve.socket_path, "Unix socket (default STATE/dualkey.sock)");
  serve_cmd->add_option("--ttl", serve.approval_ttl_seconds, "seconds an approval stays valid (900)");
  serve_cmd->add_option("--breaker-attempts", serve.breaker_attempts,
                        "held/denied destructive attempts that freeze an agent (3)");
  serve_cmd->add_option("--breaker-window", serve.breaker_window_seconds, "... within seconds (60)");
  serve_cmd->add_flag("--quiet", serve.quiet, "no log lines on stderr");

  dualkey::cli::DaemonOptions daemon;
  auto add_socket = [&](CLI::App* cmd) {
    cmd->add_option("--socket", daemon.socket, "the daemon's socket (default: $DUALKEY_SOCKET or STATE/dualkey.sock)");
  };
  CLI::App* pending_cmd = app.add_subcommand("pending", "List held actions waiting for approval.");
  add_socket(pending_cmd);
  pending_cmd->add_flag("--json", daemon.json, "print JSON");
  pending_cmd->callback([&] { daemon.action = "pending"; });
  CLI::App* approve_cmd = app.add_subcommand(
      "approve", "Approve a held action (by id or code) with your TOTP code; it then runs once.");
  add_socket(approve_cmd);
  approve_cmd->add_option("id", daemon.id, "approval id or code")->required();
  approve_cmd->add_option("--as", daemon.as, "approver name (default: $USER)");
  approve_cmd->add_option("--code", daemon.code, "TOTP code (default: asked)");
  approve_cmd->callback([&] { daemon.action = "approve"; });
  CLI::App* deny_cmd = app.add_subcommand("deny", "Refuse a held action.");
  add_socket(deny_cmd);
  deny_cmd->add_option("id", daemon.id, "approval id or code")->required();
  deny_cmd->add_option("--reason", daemon.reason, "why (told to the agent)");
  deny_cmd->add_option("--as", daemon.as, "your name (default: $USER)");
  deny_cmd->callback([&] { daemon.action = "deny"; });
  CLI::App* watch_cmd = app.add_subcommand("watch", "Live view of requests and decisions.");
  add_socket(watch_cmd);
  watch_cmd->add_flag("--json", daemon.json, "print the raw events");
  watch_cmd->callback([&] { daemon.action = "watch"; });
  CLI::App* approver_cmd = app.add_subcommand("approver", "Manage the humans who can approve.");
  approver_cmd->require_subcommand(1);
  CLI::App* approver_add = approver_cmd->add_subcommand(
      "add", "Add an approver: prints an otpauth URI and a QR code for a phone authenticator.");
  approver_add->add_option("name", daemon.name, "approver name")->required();
  approver_add->add_option("--state", daemon.state_dir, "the daemon's state directory");
  approver_add->add_option("--store", daemon.store, "the store, if not the default SQLite file");
  approver_add->callback([&] { daemon.action = "approver-add"; });
  CLI::App* approver_list = approver_cmd->add_subcommand("list", "List approvers.");
  approver_list->add_option("--state", daemon.state_dir, "the daemon's state directory");
  approver_list->add_option("--store", daemon.store, "the store, if not the default SQLite file");
  approver_list->callback([&] { daemon.action = "approver-list"; });
  CLI::App* breaker_cmd = app.add_subcommand("breaker", "The breaker that freezes a bursting agent.");
  breaker_cmd->require_subcommand(1);
  CLI::App* breaker_reset = breaker_cmd->add_subcommand("reset", "Unfreeze an agent (needs your TOTP code).");
  add_socket(breaker_reset);
  breaker_reset->add_option("agent", daemon.agent, "agent name (claude, cursor, ...)")->required();
  breaker_reset->add_option("--as", daemon.as, "approver name (default: $USER)");
  breaker_reset->add_option("--code", daemon.code, "TOTP code (default: asked)");
  breaker_reset->callback([&] { daemon.action = "breaker-reset"; });

  std::string audit_action, audit_file, audit_since;
  int audit_lines = 20;
  bool audit_json = false;
  CLI::App* audit_cmd = app.add_subcommand("audit", "The hash-chained audit log.");
  audit_cmd->require_subcommand(1);
  for (const char* action : {"verify", "tail", "export"}) {
    CLI::App* sub = audit_cmd->add_subcommand(
        action, std::string(action) == "verify"
                    ? "Re-hash the whole log; say which record was edited, removed or reordered."
                : std::string(action) == "tail" ? "The last records, for people."
                                                 : "Records as JSON lines, for SIEMs.");
    sub->add_option("--file", audit_file, "the log (default STATE/audit.jsonl)");
    if (std::string(action) != "verify")
      sub->add_option("--since", audit_since, "from a time: epoch seconds, or 15m, 2h, 7d ago");
    if (std::string(action) == "tail") sub->add_option("-n,--lines", audit_lines, "how many (20)");
    sub->add_flag("--json", audit_json, "print JSON");
    sub->callback([&audit_action, action] { audit_action = action; });
  }

  dualkey::cli::HookOptions hook;
  CLI::App* hook_cmd = app.add_subcommand(
      "hook",
      "Answer an agent's pre-tool-use hook: reads its JSON on stdin, replies in its protocol.\n"
      "Wired into the agent by `dualkey install AGENT`.");
  hook_cmd->add_option("agent", hook.agent, "claude, cursor, codex or gemini")->required();

  dualkey::cli::InstallOptions install;
  CLI::App* install_cmd = app.add_subcommand(
      "install",
      "Wire dualkey into an agent's hook config (idempotent, keeps other settings, backs up).");
  install_cmd->add_option("agent", install.agent, "claude, cursor, codex or gemini")->required();
  install_cmd->add_flag("--project", install.project, "the project's config instead of the user's");
  install_cmd->add_flag("--user", [&](std::int64_t) { install.project = false; },
                        "the user's config (default)");
  install_cmd->add_flag("--uninstall", install.uninstall, "remove dualkey's hook again");
  install_cmd->add_flag("--dry-run", install.dry_run, "show what would change, change nothing");
  install_cmd->add_option("--binary", install.binary, "dualkey binary the hook calls");
  install_cmd->add_option("--dir", install.project_dir, "project directory (default: here)");
  install_cmd->add_option("--agent-version", install.agent_version,
                          "the agent's version, for options newer versions have "
                          "(default: ask the agent; 'none' to skip)");

  dualkey::cli::TokenOptions token;
  CLI::App* token_cmd = app.add_subcommand(
      "token",
      "Scoped agent tokens for the PostgreSQL proxy and the HTTP gateway: the agent\n"
      "presents one instead of the real credentials, which stay inside dualkey.\n"
      "  dualkey token add claude-dev --scope pg    prints the secret once\n"
      "  dualkey token list\n"
      "  dualkey token revoke claude-dev");
  token_cmd->require_subcommand(1);
  for (const char* action : {"add", "list", "revoke"}) {
    CLI::App* sub = token_cmd->add_subcommand(
        action, std::string(action) == "add"    ? "Create a token for an agent and print it once."
                : std::string(action) == "list" ? "List tokens (names and scopes, never secrets)."
                                                : "Revoke an agent's token.");
    sub->callback([&token, action] { token.action = action; });
    if (std::string(action) != "list")
      sub->add_option("name", token.name, "the agent's name (its identity for approvals)")
          ->required();
    if (std::string(action) == "add")
      sub->add_option("--scope", token.scopes, "pg, http, mcp or * (repeatable; default *)");
    sub->add_option("--state-dir", token.state_dir, "dualkey's state directory");
    sub->add_flag("--json", token.json, "print JSON");
  }

  dualkey::cli::GatewayOptions gateway;
  CLI::App* gateway_cmd = app.add_subcommand(
      "gateway",
      "The HTTP gateway: agents call http://127.0.0.1:PORT/<upstream>/... with a dualkey\n"
      "token; dualkey classifies each request, holds destructive ones for approval, and\n"
      "forwards the rest with the real credential, which the agent never sees.\n"
      "  echo \"$TOKEN\" | dualkey gateway credential set railway --type bearer\n"
      "  dualkey gateway http --listen 127.0.0.1:8787    (config: STATE/gateway.toml)\n"
      "See docs/gateway.md.");
  gateway_cmd->require_subcommand(1);
  CLI::App* gateway_http = gateway_cmd->add_subcommand(
      "http", "Serve the reverse gateway until SIGINT/SIGTERM. Config (TOML):\n"
              "  [[gateway.http.upstream]]\n"
              "  name = \"railway\"  base_url = \"https://backboard.railway.app\"\n"
              "  credential = \"railway\"  # ca_file = \"...\" for a private CA");
  gateway_http->add_option("--listen", gateway.http.listen, "HOST:PORT (127.0.0.1:8787; port 0 = any)");
  gateway_http->add_option("--config", gateway.http.config_path, "config file (STATE/gateway.toml)");
  gateway_http->add_option("--state-dir", gateway.http.state_dir, "dualkey's state directory");
  gateway_http->add_option("--socket", gateway.http.socket_path, "the daemon's socket");
  gateway_http->add_option("--threads", gateway.http.threads, "worker threads (4)");
  gateway_http->add_option("--max-body", gateway.http.max_body_bytes,
                           "largest request body read for classification (8 MiB); larger: 413");
  gateway_http->add_flag("--quiet", gateway.http.quiet, "no log lines on stderr");
  gateway_http->callback([&] { gateway.action = "http"; });
  CLI::App* gateway_credential = gateway_cmd->add_subcommand(
      "credential", "The real credentials the gateway injects (0600 files in STATE/credentials).");
  gateway_credential->require_subcommand(1);
  CLI::App* credential_set = gateway_credential->add_subcommand(
      "set", "Store a credential, the secret read from stdin (never from the command line):\n"
             "  bearer: the token; basic: user:password;\n"
             "  aws-sigv4: ACCESS_KEY_ID SECRET_ACCESS_KEY [SESSION_TOKEN] (--region, --service)");
  credential_set->add_option("name", gateway.name, "credential name (the config's credential = ...)")
      ->required();
  credential_set->add_option("--type", gateway.type, "bearer (default), basic or aws-sigv4");
  credential_set->add_option("--region", gateway.region, "aws-sigv4: region, e.g. us-east-1");
  credential_set->add_option("--service", gateway.service, "aws-sigv4: service, e.g. s3, ec2");
  credential_set->callback([&] { gateway.action = "credential-set"; });
  CLI::App* credential_list =
      gateway_credential->add_subcommand("list", "List credentials (names and types, never secrets).");
  credential_list->add_flag("--json", gateway.json, "print JSON");
  credential_list->callback([&] { gateway.action = "credential-list"; });
  CLI::App* credential_remove = gateway_credential->add_subcommand("remove", "Delete a credential.");
  credential_remove->add_option("name", gateway.name, "credential name")->required();
  credential_remove->callback([&] { gateway.action = "credential-remove"; });
  for (CLI::App* sub : {credential_set, credential_list, credential_remove})
    sub->add_option("--state-dir", gateway.http.state_dir, "dualkey's state directory");

  dualkey::cli::ScanOptions scan;
  CLI::App* scan_cmd = app.add_subcommand(
      "scan",
      "Find cloud and database credentials lying in files an agent can read (AWS keys,\n"
      ".env tokens, CLI configs, connection strings with passwords) and say how to move\n"
      "each into dualkey. Secrets are shown redacted. Exit status: 0 none found, 1 found.\n"
      "  dualkey scan                 $HOME and the current directory\n"
      "  dualkey scan ~/src --json");
  scan_cmd->add_option("paths", scan.paths, "files or directories (default: $HOME and here)");
  scan_cmd->add_flag("--json", scan.json, "print JSON");
  scan_cmd->add_option("--max-depth", scan.max_depth, "directory depth to descend (8)");

  dualkey::cli::DoctorOptions doctor;
  CLI::App* doctor_cmd = app.add_subcommand(
      "doctor", "Check each installed agent hook with a harmless and a destructive sample.");
  doctor_cmd->add_flag("--json", doctor.json, "print JSON");
  doctor_cmd->add_option("--dir", doctor.project_dir, "project whose configs to check too");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int status = app.exit(e);
    return status == 0 ? 0 : 2;
  }
  if (check_cmd->parsed()) return dualkey::cli::RunCheck(check);
  if (policy_cmd->parsed()) return dualkey::cli::RunPolicy(policy);
  if (serve_cmd->parsed()) return dualkey::cli::RunServe(serve);
  if (!daemon.action.empty()) return dualkey::cli::RunDaemonCommand(daemon);
  if (!audit_action.empty())
    return dualkey::cli::RunAudit(audit_action, audit_file, audit_since, audit_lines, audit_json);
  if (hook_cmd->parsed()) return dualkey::cli::RunHook(hook);
  if (install_cmd->parsed()) return dualkey::cli::RunInstall(install);
  if (doctor_cmd->parsed()) return dualkey::cli::RunDoctor(doctor);
  if (!token.action.empty()) return dualkey::cli::RunToken(token);
  if (!gateway.action.empty()) return dualkey::cli::RunGateway(gateway);
  if (scan_cmd->parsed()) return dualkey::cli::RunScan(scan);
  return 2;
}
