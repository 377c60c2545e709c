// dualkey: stands between AI agents and everything they can destroy.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "cli/classes_cmd.h"
#include "cli/commands.h"
#include "cli/help.h"
#include "cli/serve_log.h"
#include "demo/demo.h"
#include "install/layout.h"

namespace {

// `dualkey --sandbox DIR COMMAND ...` (install/layout.h): taken off the
// command line before anything else, so the rest (the hook's fast start-up
// included) sees an ordinary command line.
void TakeSandbox(int* argc, char*** argv) {
  char** args = *argv;
  if (*argc < 2) return;
  std::string dir;
  int taken = 0;
  if (std::strcmp(args[1], "--sandbox") == 0 && *argc >= 3) {
    dir = args[2];
    taken = 2;
  } else if (std::strncmp(args[1], "--sandbox=", 10) == 0) {
    dir = args[1] + 10;
    taken = 1;
  } else {
    return;
  }
  args[taken] = args[0];
  *argv = args + taken;
  *argc -= taken;
  dualkey::install::PinSandbox(dir, *argc >= 2 ? dualkey::install::SandboxUseOf((*argv)[1])
                                               : dualkey::install::SandboxUse::kDecides);
}

}  // namespace

namespace {

constexpr const char* kVersion = "dualkey 0.1.0";

// `dualkey hook AGENT` runs once per agent tool call: it starts without
// building the command-line parser, whose every subcommand and option cost
// more than the hook's own work (see bench/hook_compare.sh). Other forms
// (--help, extra arguments) go through the full parser below.
bool FastPath(int argc, char** argv, int* status) {
  if (argc == 3 && std::strcmp(argv[1], "hook") == 0 && argv[2][0] != '-') {
    dualkey::cli::HookOptions hook;
    hook.agent = argv[2];
    *status = dualkey::cli::RunHook(hook);
    return true;
  }
  if (argc == 2 && std::strcmp(argv[1], "--version") == 0) {
    std::printf("%s\n", kVersion);
    *status = 0;
    return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  TakeSandbox(&argc, &argv);
  if (int status = 0; FastPath(argc, argv, &status)) return status;
  CLI::App app{
      "dualkey: understands what an AI agent's command would do, and holds what destroys.\n"
      "Shell commands, SQL, HTTP and MCP calls are parsed and classified; destructive\n"
      "or irreversible actions wait for a human."};
  app.name("dualkey");
  dualkey::cli::TeachingHelp(app);
  app.require_subcommand(1);
  app.set_version_flag("--version", kVersion);
  std::string sandbox_late;
  app.add_option("--sandbox", sandbox_late,
                 "first, before the command: run it against the self-contained dualkey\n"
                 "under DIR (what `dualkey demo` builds: its state, socket and policy, nothing\n"
                 "from the environment). On a protected install only the demo's own processes\n"
                 "and the commands that answer a sandbox's daemon may use it.")
      ->option_text("DIR");
  // Tests check that every example in the help and the docs parses: they
  // run it with this flag, which stops after parsing.
  bool parse_only = false;
  app.add_flag("--parse-only", parse_only)->group("");
  // One spelling for the state directory everywhere: --state-dir, as
  // DUALKEY_STATE_DIR; --state, which some commands took, still works.
  const auto add_state_dir = [](CLI::App* cmd, std::string& dir, const std::string& help) {
    cmd->add_option("--state-dir", dir, help)->option_text("DIR");
    cmd->add_option("--state", dir, "the same as --state-dir")->group("");
  };

  dualkey::cli::CheckOptions check;
  CLI::App* check_cmd = app.add_subcommand(
      "check",
      "Classify a command (or a file of cases) and print the decision.\n"
      "  dualkey check -- 'rm -rf ~/projects'       explain one shell command\n"
      "  dualkey check --json -- 'git push -f'      the same as one JSON object\n"
      "  dualkey check --channel sql -- 'DROP TABLE t'\n"
      "  dualkey check --channel http -- "
      "'{\"method\":\"DELETE\",\"url\":\"https://api.github.com/repos/o/r\"}'\n"
      "  dualkey check --channel mcp -- "
      "'{\"server\":\"pg\",\"tool\":\"query\",\"arguments\":{\"sql\":\"DROP TABLE t\"}}'\n"
      "  dualkey check --channel file --operation write -- ~/.bashrc\n"
      "  dualkey check --jsonl cases.jsonl          one JSON line per case\n"
      "  dualkey check --dry-run -- 'rm -rf build'  what the daemon would do; changes nothing\n"
      "What each channel reads (after --, or as a case's \"input\"):\n"
      "  shell  the command line\n"
      "  sql    the statement(s)\n"
      "  http   {\"method\", \"url\", \"headers\"?: {name: value}, \"body\"?: string}\n"
      "  mcp    {\"server\", \"tool\", \"arguments\": {...}, \"annotations\"?: "
      "{\"destructiveHint\",\n"
      "         \"readOnlyHint\"}}  (a tools/call as the MCP client sends it)\n"
      "  file   the path a file tool writes; --operation create, write, edit or delete\n"
      "A --jsonl case: {\"id\", \"channel\", \"input\", \"cwd\"?, \"operation\"?}.\n"
      "Exit status: 0 allow, 1 held or denied, 2 usage error.");
  check_cmd->add_option("--channel", check.channel, "shell (default), sql, http, mcp or file");
  check_cmd->add_option("--operation", check.operation,
                        "file channel: what the tool does to the path: create, write (default), "
                        "edit or delete");
  check_cmd->add_option("--cwd", check.cwd, "working directory the command runs in (default: here)")
      ->each([&](const std::string&) { check.cwd_given = true; });
  check_cmd->add_option("--home", check.home, "home directory for ~ and $HOME (default: $HOME)");
  check_cmd->add_flag("--json", check.json, "print one JSON object instead of text");
  check_cmd->add_option("--jsonl", check.jsonl,
                        "read cases, one JSON object per line, from FILE ('-' for stdin)");
  check_cmd->add_option("command", check.command, "the command to check, after --");
  check_cmd->add_flag("--local", check.local, "decide here, without asking a running daemon");
  check_cmd->add_flag("--dry-run", check.dry_run,
                      "ask the daemon what it would do, changing nothing: no pending request, "
                      "no breaker or rate-limit count (audited as a probe)");
  check_cmd->add_option("--agent", check.agent,
                        "who asks (default: cli), for approvals and the breaker");

  dualkey::cli::PacksOptions packs;
  CLI::App* packs_cmd = app.add_subcommand(
      "packs",
      "The packs that tell what tools do: built-in (packs/*.toml, compiled in), system\n"
      "(/etc/dualkey/packs), user (~/.config/dualkey/packs) and project (.dualkey/packs;\n"
      "it can only add holds). A command no pack names is read for its verbs.");
  packs_cmd->require_subcommand(1);
  CLI::App* packs_list = packs_cmd->add_subcommand("list", "List the packs in force here.");
  packs_list->add_option("--cwd", packs.cwd, "directory whose project packs to include");
  packs_list->add_flag("--json", packs.json, "print JSON");
  packs_list->callback([&] { packs.action = "list"; });
  CLI::App* packs_test = packs_cmd->add_subcommand(
      "test",
      "Run packs' own [[test]] cases. With FILEs, each file as a user pack beside the\n"
      "built-in ones; without, every pack in force. Exit status 1 on any failure.");
  packs_test->add_option("files", packs.files, "pack files to test");
  packs_test->add_option("--cwd", packs.cwd, "directory whose project packs to include");
  packs_test->add_option("--home", packs.home,
                         "home directory the cases assume (default /home/dev)");
  packs_test->add_flag("--json", packs.json, "print JSON");
  packs_test->callback([&] { packs.action = "test"; });

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
  CLI::App* policy_explain =
      policy_cmd->add_subcommand("explain",
                                 "Show which rule of which layer decided a command:\n"
                                 "  dualkey policy explain -- 'git push --force origin main'");
  policy_explain->add_option("--channel", policy.channel, "shell (default), sql, http or mcp");
  policy_explain->add_option("--cwd", policy.cwd, "working directory (default: here)")
      ->each([&](const std::string&) { policy.cwd_given = true; });
  policy_explain->add_option("--home", policy.home, "home directory (default: $HOME)");
  policy_explain->add_option("--agent", policy.agent,
                             "agent asking: claude, cursor, codex, gemini");
  policy_explain->add_flag("--json", policy.json, "print JSON");
  policy_explain->add_option("command", policy.command, "the command, after --");
  policy_explain->callback([&] { policy.action = "explain"; });
  dualkey::cli::ClassesCommand classes;  // classes_cmd.cc
  classes.Add(app);

  dualkey::daemon::ServeOptions serve;
  CLI::App* serve_cmd = app.add_subcommand(
      "serve",
      "Run the daemon that holds approvals, the audit log and the breaker.\n"
      "Hooks and `check` ask it when it runs; a held action waits for `dualkey approve`.");
  add_state_dir(serve_cmd, serve.state_dir,
                "state directory (0700; default ~/.local/state/dualkey)");
  serve_cmd->add_option("--store", serve.store,
                        "postgresql://... to share approvals between daemons");
  serve_cmd->add_option("--socket", serve.socket_path, "Unix socket (default STATE/dualkey.sock)");
  serve_cmd->add_option(
      "--vault", serve.vault_dir,
      "where approved actions' targets are saved first (default $DUALKEY_VAULT or STATE/vault)");
  serve_cmd->add_option("--ttl", serve.approval_ttl_seconds,
                        "seconds an approval stays valid (900)");
  // Unset limits come from the policy's [breaker] and [rate_limit] tables.
  serve.breaker_attempts = serve.breaker_window_seconds = serve.rate_burst = -1;
  serve.rate_per_minute = -1;
  serve_cmd->add_option("--breaker-attempts", serve.breaker_attempts,
                        "held/denied destructive attempts that freeze an agent\n"
                        "(default: policy [breaker] attempts, else 3)");
  serve_cmd->add_option("--breaker-window", serve.breaker_window_seconds,
                        "... within seconds (default: policy [breaker] window_seconds, else 60)");
  serve_cmd->add_option(
      "--rate-burst", serve.rate_burst,
      "destructive requests an agent may burst (default: policy [rate_limit] burst, else 20)");
  serve_cmd->add_option(
      "--rate-per-minute", serve.rate_per_minute,
      "then this many per minute (default: policy [rate_limit] per_minute, else 20)");
  serve_cmd->add_option("--http", serve.http_listen,
                        "also listen for HTTP on ADDRESS:PORT (loopback), POST /v1/<op>");
  serve_cmd->add_option("--tls-cert", serve.tls_cert,
                        "PEM certificate chain: serve --http as HTTPS");
  serve_cmd->add_option("--tls-key", serve.tls_key, "PEM private key for --tls-cert");
  serve_cmd->add_option(
      "--web-origin", serve.web_origin,
      "where people open the approver's page, e.g. https://dualkey.example.com behind a\n"
      "reverse proxy (passkeys are bound to it; default: http(s)://localhost:PORT)");
  serve_cmd->add_option("--notify", serve.notify,
                        "tell a webhook when a hold appears (repeatable): slack=URL (Slack-\n"
                        "compatible JSON), ntfy=URL (plain text), json=URL (generic JSON);\n"
                        "secrets in the input are redacted. Try it: dualkey notify test");
  serve_cmd
      ->add_option("--session-minutes", serve.web_session_minutes,
                   "how long a sign-in on the page lasts (default 15)")
      ->check(CLI::Range(1, 24 * 60));
  serve_cmd->add_flag("--quiet", serve.quiet, "no log lines on stderr");
  std::string serve_log_format = "text";
  dualkey::cli::LogOptions serve_log;
  serve_cmd
      ->add_option("--log-format", serve_log_format,
                   "the log on stderr: one line per hold, approval, denial, refused code,\n"
                   "breaker trip and reset, approved action used, expiry, vault snapshot,\n"
                   "approver change, start and stop (not routine allows): text (default)\n"
                   "or json (one event object per line, as `dualkey watch --json`)")
      ->check(CLI::IsMember({"text", "json"}));
  serve_cmd->add_flag("--log-allows", serve_log.allows,
                      "log routine allows too (one line per allowed command: busy)");

  dualkey::cli::DaemonOptions daemon;
  auto add_socket = [&](CLI::App* cmd) {
    cmd->add_option("--socket", daemon.socket,
                    "the daemon's socket (single-user mode; default: $DUALKEY_SOCKET or "
                    "STATE/dualkey.sock; a protected install uses its own)");
  };
  CLI::App* pending_cmd = app.add_subcommand("pending", "List held actions waiting for approval.");
  add_socket(pending_cmd);
  pending_cmd->add_flag("--json", daemon.json, "print JSON");
  pending_cmd->callback([&] { daemon.action = "pending"; });
  CLI::App* approve_cmd = app.add_subcommand(
      "approve", "Approve a held action (by id or code) with your TOTP code; it then runs once.");
  add_socket(approve_cmd);
  approve_cmd->add_option("id", daemon.id, "approval id or code")->required();
  // One vocabulary for who approves and with what, in every command.
  auto add_credentials = [&](CLI::App* cmd, const char* as_help) {
    cmd->add_option("--as,--approver", daemon.as, as_help);
    cmd->add_option("--code,--totp", daemon.code,
                    "TOTP code (default: asked on the terminal; a code given here is visible to\n"
                    "other programs running as you, an agent included, until it is used)");
  };
  add_credentials(approve_cmd, "approver name (default: $USER)");
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
  CLI::App* approver_cmd = app.add_subcommand(
      "approver",
      "Manage the humans who can approve. Through the daemon, audited:\n"
      "  sudo dualkey approver add alice        the first one: root or the daemon's user only\n"
      "  dualkey approver add bob --as alice    later ones: an existing approver's code\n"
      "  dualkey approver rotate alice          a new secret (lost or exposed phone)\n"
      "  dualkey approver remove bob --as alice\n"
      "Without a running daemon only the very first approver can be added, directly to\n"
      "the store (single-user mode, which does not protect the secrets from an agent).");
  approver_cmd->require_subcommand(1);
  CLI::App* approver_add = approver_cmd->add_subcommand(
      "add", "Add an approver: prints an otpauth URI and a QR code for a phone authenticator.");
  approver_add->add_option("name", daemon.name, "approver name")->required();
  add_credentials(approver_add, "the existing approver who vouches (default: $USER)");
  CLI::App* approver_remove =
      approver_cmd->add_subcommand("remove", "Remove an approver (not the last one).");
  approver_remove->add_option("name", daemon.name, "approver name")->required();
  add_credentials(approver_remove, "the approver who authorises it (default: $USER)");
  CLI::App* approver_rotate = approver_cmd->add_subcommand(
      "rotate", "Give an approver a new TOTP secret; the old one stops working.");
  approver_rotate->add_option("name", daemon.name, "approver name")->required();
  add_credentials(approver_rotate, "the approver who authorises it (default: NAME itself)");
  CLI::App* approver_list = approver_cmd->add_subcommand("list", "List approvers.");
  CLI::App* approver_passkey = approver_cmd->add_subcommand(
      "passkey",
      "Enrol a passkey for an approver: prints a one-time link to the approver's page\n"
      "(serve --http), where their browser creates it. Root or the daemon's user alone;\n"
      "anyone else with an existing approver's code (--as).");
  approver_passkey->add_option("name", daemon.name, "approver name")->required();
  add_credentials(approver_passkey, "the approver who authorises it (default: none, as root)");
  for (CLI::App* sub :
       {approver_add, approver_remove, approver_rotate, approver_list, approver_passkey}) {
    add_socket(sub);
    add_state_dir(sub, daemon.state_dir, "the daemon's state directory");
    sub->add_option("--store", daemon.store, "the store, if not the default SQLite file");
    sub->add_flag("--json", daemon.json, "print JSON");
  }
  approver_add->callback([&] { daemon.action = "approver-add"; });
  approver_remove->callback([&] { daemon.action = "approver-remove"; });
  approver_rotate->callback([&] { daemon.action = "approver-rotate"; });
  approver_list->callback([&] { daemon.action = "approver-list"; });
  approver_passkey->callback([&] { daemon.action = "approver-passkey"; });
  CLI::App* notify_cmd =
      app.add_subcommand("notify", "Notifications the daemon sends when a hold appears.");
  notify_cmd->require_subcommand(1);
  CLI::App* notify_test = notify_cmd->add_subcommand(
      "test", "Send a sample to every --notify target of the running daemon, and say how it went.");
  add_socket(notify_test);
  notify_test->add_flag("--json", daemon.json, "print JSON");
  notify_test->callback([&] { daemon.action = "notify-test"; });
  CLI::App* breaker_cmd =
      app.add_subcommand("breaker", "The breaker that freezes a bursting agent.");
  breaker_cmd->require_subcommand(1);
  CLI::App* breaker_reset =
      breaker_cmd->add_subcommand("reset", "Unfreeze an agent (needs your TOTP code).");
  add_socket(breaker_reset);
  breaker_reset->add_option("agent", daemon.agent, "agent name (claude, cursor, ...)")->required();
  add_credentials(breaker_reset, "approver name (default: $USER)");
  breaker_reset->callback([&] { daemon.action = "breaker-reset"; });
  CLI::App* breaker_status = breaker_cmd->add_subcommand(
      "status",
      "Who is frozen, since when, why, and how to reset; recent attempts per agent.\n"
      "Exit status: 0 none frozen, 1 an agent is frozen, 2 the daemon could not be asked.");
  add_socket(breaker_status);
  breaker_status->add_option("agent", daemon.agent, "only this agent");
  breaker_status->add_flag("--json", daemon.json, "print JSON");
  breaker_status->callback([&] { daemon.action = "breaker-status"; });

  dualkey::cli::AuditOptions audit;
  CLI::App* audit_cmd = app.add_subcommand("audit", "The hash-chained audit log.");
  audit_cmd->require_subcommand(1);
  for (const char* action : {"verify", "search", "tail", "export", "pubkey"}) {
    const std::string name = action;
    CLI::App* sub = audit_cmd->add_subcommand(
        action,
        name == "verify"
            ? "Re-hash the whole log; say which record was edited, removed, reordered or not\n"
              "written by dualkey. Pin the signer with --pubkey (see `dualkey audit pubkey`).\n"
              "Exit status: 0 intact, 1 tampered, 2 unreadable."
        : name == "search"
            ? "Search the log newest first, as the approver's page (History) does: by agent,\n"
              "class (or a family: fs.delete matches fs.delete.recursive), decision and text.\n"
              "The first line says whether the log verifies (as `audit verify`); an approved\n"
              "action shows its vault snapshot and the exact command that restores it.\n"
              "  dualkey audit search --decision approved\n"
              "  dualkey audit search --agent claude --class fs.delete --decision hold\n"
              "  dualkey audit search --text /srv/data --json\n"
              "  dualkey audit search --decision denied --cursor N   (older: the N it printed)\n"
              "Decisions: allow, hold, hold2, deny (the verdict), approved (a completed\n"
              "approval, and the approved action's run), denied, expired.\n"
              "Reads at most 16 MiB of the log per call (it says when it stopped early).\n"
              "Exit status: 0 the log verifies (or --no-verify), 1 it is tampered, 2 unreadable\n"
              "or a bad option."
        : name == "tail"   ? "The last records, for people."
        : name == "export" ? "Records as JSON lines, for SIEMs."
                           : "Print the log's signing public key (hex), to keep somewhere an\n"
                             "agent cannot write and pass to `audit verify --pubkey`.");
    if (name != "pubkey")
      sub->add_option("--file", audit.file, "the log (default STATE/audit.jsonl)");
    if (name == "verify" || name == "search")
      sub->add_option("--pubkey", audit.public_key,
                      "the signer's public key (hex) to expect; default: the log header's");
    if (name == "search") {
      sub->add_option("--agent", audit.agent, "only this agent's records (claude, codex...)");
      sub->add_option("--class", audit.op_class,
                      "only this action class, or its family (fs.delete, db.drop)");
      sub->add_option("--decision", audit.decision,
                      "only this decision: allow, hold, hold2, deny, approved, denied, expired")
          ->check(
              CLI::IsMember({"allow", "hold", "hold2", "deny", "approved", "denied", "expired"}));
      sub->add_option("-q,--text", audit.text,
                      "only records with this text (any case) in their kind or fields");
      sub->add_option("-n,--limit", audit.limit, "records to print, 1-200 (50)");
      sub->add_option("--cursor", audit.cursor,
                      "go on from where the last page stopped (it prints the cursor)");
      sub->add_flag("--no-verify", audit.no_verify,
                    "do not re-hash the whole log first (it says: not checked)");
    }
    if (name == "tail" || name == "export")
      sub->add_option("--since", audit.since, "from a time: epoch seconds, or 15m, 2h, 7d ago");
    if (name == "tail") sub->add_option("-n,--lines", audit.lines, "how many (20)");
    if (name == "export") {
      sub->add_flag("-f,--follow", audit.follow,
                    "keep printing new records as they are written (like tail -F), for a SIEM");
      sub->add_option("--format", audit.format,
                      "json (one object a line) or syslog (RFC 5424, facility log audit)")
          ->check(CLI::IsMember({"json", "syslog"}));
    }
    if (name == "pubkey") {
      add_state_dir(sub, audit.state_dir, "the daemon's state directory");
      sub->add_option("--socket", audit.socket, "the daemon's socket");
    }
    sub->add_flag("--json", audit.json, "print JSON");
    sub->callback([&audit, action] { audit.action = action; });
  }

  dualkey::cli::HookOptions hook;
  CLI::App* hook_cmd = app.add_subcommand(
      "hook",
      "Answer an agent's pre-tool-use hook: reads its JSON on stdin, replies in its protocol.\n"
      "Wired into the agent by `dualkey install AGENT`.");
  hook_cmd->add_option("agent", hook.agent, "claude, cursor, codex or gemini")->required();
  hook_cmd->add_flag("--probe", hook.probe,
                     "ask without registering anything (what `dualkey doctor` runs): no pending "
                     "approval, no breaker count, never uses an approval");

  dualkey::cli::InstallOptions install;
  dualkey::cli::InstallMcpOptions install_mcp;
  CLI::App* install_cmd = app.add_subcommand(
      "install",
      "Wire dualkey into an agent's hook config (idempotent, keeps other settings, backs up).");
  install_cmd
      ->add_option("agent", install.agent,
                   "claude, cursor, codex or gemini; or mcp (with --client) to wrap that "
                   "client's MCP servers in `dualkey mcp`")
      ->required();
  install_cmd->add_flag("--project", install.project, "the project's config instead of the user's");
  install_cmd->add_flag(
      "--user", [&](std::int64_t) { install.project = false; }, "the user's config (default)");
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
      "Scoped agent tokens for the PostgreSQL proxy and the HTTP gateway. The agent\n"
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
    add_state_dir(sub, token.state_dir, "dualkey's state directory");
    sub->add_flag("--json", token.json, "print JSON");
  }
  install_cmd->add_option("--client", install_mcp.client,
                          "install mcp: the MCP client whose servers to wrap: claude, cursor, "
                          "gemini or codex");
  install_cmd->add_flag("--json", install_mcp.json, "install mcp: print JSON");

  dualkey::mcpproxy::ProxyOptions mcp;
  CLI::App* mcp_cmd = app.add_subcommand(
      "mcp",
      "Guard an MCP server: sit between the client and the server, hold destructive tools/call.\n"
      "  dualkey mcp -- npx -y @modelcontextprotocol/server-filesystem ~/work     (stdio)\n"
      "  dualkey mcp --upstream https://mcp.example.com/mcp --listen 127.0.0.1:8808  (HTTP)\n"
      "Every tools/call is classified first (SQL, shell, paths, URLs in its arguments, the\n"
      "tool's name; the server's annotations as hints). Allowed calls pass untouched; a held\n"
      "call never reaches the server: the client gets an error result naming the approval,\n"
      "and after `dualkey approve ID` the identical call passes once. Everything else\n"
      "(initialize, lists, notifications, progress, cancellation) passes through unchanged.\n"
      "`dualkey install mcp --client claude` wraps every server of a client for you.");
  mcp_cmd->add_option("--upstream", mcp.upstream_url,
                      "the server's Streamable HTTP endpoint (http:// or https://) instead of a "
                      "command");
  mcp_cmd->add_option("--listen", mcp.listen,
                      "with --upstream: where the client connects, HOST:PORT (default "
                      "127.0.0.1:0, a free port; the URL is printed on stdout)");
  mcp_cmd->add_option("--server-name", mcp.server_name,
                      "the server's name for policies and approvals (default: the name it gives "
                      "in initialize)");
  mcp_cmd->add_option("--agent", mcp.agent, "who asks, for approvals (default: mcp:SERVER)");
  mcp_cmd->add_option("--socket", mcp.socket_path,
                      "the daemon's socket (default: $DUALKEY_SOCKET or STATE/dualkey.sock)");
  mcp_cmd->add_option("--cwd", mcp.cwd, "the client's working directory (default: here)");
  mcp_cmd->add_option("--max-message-bytes", mcp.max_message_bytes,
                      "larger client messages are refused (default 16 MiB)");
  mcp_cmd->add_option("--header-timeout", mcp.header_timeout_seconds,
                      "with --upstream: seconds to send a whole request header (10)");
  mcp_cmd->add_option("--idle-timeout", mcp.idle_timeout_seconds,
                      "with --upstream: seconds a kept-alive connection may wait for its next "
                      "request, and a body or a write to the client may take (60)");
  mcp_cmd->add_option("--upstream-connect-timeout", mcp.upstream_connect_timeout_seconds,
                      "with --upstream: seconds to connect to the server (10)");
  mcp_cmd->add_option("--upstream-timeout", mcp.upstream_timeout_seconds,
                      "with --upstream: seconds the server has to start its answer (300)");
  mcp_cmd->add_option("--max-connections", mcp.max_connections,
                      "with --upstream: open client connections at most (256)");
  mcp_cmd->add_option("--max-connections-per-client", mcp.max_connections_per_client,
                      "with --upstream: open connections from one address at most (128)");
  mcp_cmd->add_flag("-v,--verbose", mcp.verbose, "one line per decision on stderr");
  mcp_cmd->add_option("server", mcp.server_command, "the server's command line, after --");

  dualkey::demo::Options demo;
  CLI::App* demo_cmd = app.add_subcommand(
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
  demo_cmd->add_flag("--keep", demo.keep, "leave it running, print how to connect; Ctrl-C ends it");
  demo_cmd->add_option("--dir", demo.dir,
                       "where to build the throwaway production (must not exist)");

  dualkey::cli::PgProxyCommandOptions pg_proxy;
  CLI::App* pg_proxy_cmd = app.add_subcommand(
      "pg-proxy",
      "PostgreSQL proxy that owns the real credentials. Agents log in with a dualkey\n"
      "token (user = token name, password = token); each statement is classified\n"
      "before it is forwarded and destructive ones wait for `dualkey approve`.\n"
      "  dualkey token add claude-dev --scope pg\n"
      "  PGPASSWORD=real dualkey pg-proxy --upstream postgresql://app@db:5432/shop\n"
      "  psql 'postgresql://claude-dev@127.0.0.1:6432/shop'   (password: the token)\n"
      "See docs/pg-proxy.md.");
  pg_proxy_cmd->add_option("--listen", pg_proxy.listen, "HOST:PORT to listen on (127.0.0.1:6432)");
  pg_proxy_cmd
      ->add_option(
          "--upstream", pg_proxy.upstream,
          "postgresql://USER@HOST:PORT[/DB][?sslmode=disable|prefer|require|verify-full];\n"
          "a database on this machine through its Unix socket:\n"
          "postgresql://USER@%2Fvar%2Frun%2Fpostgresql:5432/DB or ?host=/var/run/postgresql")
      ->required();
  pg_proxy_cmd->add_option("--upstream-password-file", pg_proxy.password_file,
                           "file holding the real password (mode 0600); default: $PGPASSWORD");
  pg_proxy_cmd->add_option("--tls-cert", pg_proxy.tls_cert, "certificate for TLS to clients (PEM)");
  pg_proxy_cmd->add_option("--tls-key", pg_proxy.tls_key, "its private key (PEM)");
  pg_proxy_cmd->add_option("--socket", pg_proxy.socket,
                           "the daemon's socket (default: $DUALKEY_SOCKET or STATE/dualkey.sock)");
  add_state_dir(pg_proxy_cmd, pg_proxy.state_dir,
                "tokens, snapshots and the proxy log (default: dualkey's state dir)");
  pg_proxy_cmd->add_option("--hold-rows-over", pg_proxy.hold_rows_over,
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
  pg_proxy_cmd->add_option("--threads", pg_proxy.threads, "I/O threads (1)");
  pg_proxy_cmd->add_option("--auth-timeout", pg_proxy.auth_timeout_seconds,
                           "seconds a client has from connecting to logging in (5)");
  pg_proxy_cmd->add_option("--max-clients", pg_proxy.max_clients,
                           "open client connections at most (1000); at the limit the oldest "
                           "one not logged in yet is closed to make room");
  pg_proxy_cmd->add_option("--max-clients-per-address", pg_proxy.max_clients_per_address,
                           "open client connections from one address at most (500)");
  pg_proxy_cmd->add_flag("--no-fast-path", pg_proxy.no_fast_path,
                         "run every session on the coroutine path (plain sessions otherwise\n"
                         "forward on one epoll thread and leave it only for what must wait)");
  pg_proxy_cmd->add_option("--pg-dump", pg_proxy.pg_dump,
                           "pg_dump binary for snapshots (default: found)");
  pg_proxy_cmd->add_flag("--quiet", pg_proxy.quiet, "no log lines on stderr");

  dualkey::cli::GatewayOptions gateway;
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
  add_state_dir(gateway_http, gateway.http.state_dir, "dualkey's state directory");
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
  gateway_http->add_option("--max-connections-per-client", gateway.http.max_connections_per_client,
                           "open connections from one client address at most (500)");
  gateway_http->add_flag("--quiet", gateway.http.quiet, "no log lines on stderr");
  gateway_http->callback([&] { gateway.action = "http"; });
  CLI::App* gateway_credential = gateway_cmd->add_subcommand(
      "credential", "The real credentials the gateway injects (0600 files in STATE/credentials).");
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
    add_state_dir(sub, gateway.http.state_dir, "dualkey's state directory");

  dualkey::cli::ScanOptions scan;
  CLI::App* scan_cmd = app.add_subcommand(
      "scan",
      "Find cloud and database credentials lying in files an agent can read, and say how\n"
      "to move each into dualkey: AWS keys, .env tokens, CLI configs, connection strings\n"
      "with passwords. Secrets are shown redacted. Exit status: 0 none found, 1 found.\n"
      "  dualkey scan                 $HOME and the current directory\n"
      "  dualkey scan ~/src --json");
  scan_cmd->add_option("paths", scan.paths, "files or directories (default: $HOME and here)");
  scan_cmd->add_flag("--json", scan.json, "print JSON");
  scan_cmd->add_option("--max-depth", scan.max_depth, "directory depth to descend (8)");

  dualkey::cli::DoctorOptions doctor;
  CLI::App* doctor_cmd = app.add_subcommand(
      "doctor",
      "Say plainly what dualkey protects here, for you. Can you (and so an agent running as\n"
      "you) read approver secrets, write the store, the audit log, the policy, the vault;\n"
      "does the daemon run as its own user; are the hooks installed and answering; are\n"
      "environment overrides ignored. Each failure names the command that fixes it.\n"
      "Changes nothing (hooks are run with --probe). Exit status: 0 all in place, 1 not.");
  doctor_cmd->add_flag("--json", doctor.json, "print JSON");
  doctor_cmd->add_option("--dir", doctor.project_dir, "project whose configs to check too");

  dualkey::cli::DrillCommand drill;
  drill.Add(app);

  dualkey::setup::Options setup;
  CLI::App* setup_cmd = app.add_subcommand(
      "setup",
      "The protected install, in one command (run as root):\n"
      "  sudo dualkey setup                    guard your agents (you: $SUDO_USER)\n"
      "  sudo dualkey setup --approver alice   enrol alice as the first approver\n"
      "  sudo dualkey setup --dry-run          what it would change\n"
      "  sudo dualkey setup --remove           undo it; keeps the vault and the audit log\n"
      "Creates the `dualkey` system user; state in /var/lib/dualkey (0700, its own),\n"
      "policy and install file in /etc/dualkey (root's), the socket in /run/dualkey; copies\n"
      "this binary to /usr/local/bin/dualkey; starts `dualkey serve` as that user (systemd\n"
      "units, or a process with a pid file without systemd); wires the agents' hooks (their\n"
      "managed, root-owned configs and the user's own); ends with `dualkey doctor`.\n"
      "Running it again changes nothing, or finishes what an interrupted run left.\n"
      "Without it dualkey runs in single-user mode, for trying it out: state in your home,\n"
      "which guards against an agent's mistakes but not against an agent working around it.");
  setup_cmd->add_option("--user", setup.user, "whose agents to guard (default: $SUDO_USER)");
  setup_cmd->add_option("--approver", setup.approver,
                        "enrol this first approver (default: asked on the terminal)");
  setup_cmd->add_option("--daemon-user", setup.daemon_user, "the daemon's system user (dualkey)");
  setup_cmd->add_option("--agents", setup.agents,
                        "agents to wire, comma-separated (default: claude,cursor,codex,gemini)");
  setup_cmd->add_option("--binary", setup.binary,
                        "the dualkey binary to install (default: this one)");
  setup_cmd->add_flag("--remove", setup.remove,
                      "undo the install: stop the daemon, remove units, hooks, the install file, "
                      "the binary and the user; keep the vault and the audit log");
  setup_cmd->add_flag("--stop", setup.stop, "stop the daemon (start it again: sudo dualkey setup)");
  setup_cmd->add_flag("--dry-run", setup.dry_run, "show what would change, change nothing");
  setup_cmd->add_flag("--json", setup.json, "print one JSON object");
  setup_cmd->add_flag("--no-doctor", setup.no_doctor, "do not run doctor at the end");
  setup_cmd
      ->add_flag("--system-only", setup.system_only,
                 "the system part only (a package's maintainer scripts): no hooks, approver "
                 "or doctor")
      ->group("");
  setup_cmd
      ->add_option("--installed-binary", setup.installed_binary,
                   "use this root-owned binary in place (a package's /usr/bin/dualkey)")
      ->group("");

  dualkey::cli::VaultOptions vault;
  CLI::App* vault_cmd = app.add_subcommand(
      "vault",
      "The vault: append-only, retention-locked copies of what approved destructive actions\n"
      "destroy. Deduplicated, compressed, signed snapshots; no delete before retention.\n"
      "  dualkey vault init --retention-days 30\n"
      "  dualkey vault put /srv/data/uploads --tag before-cleanup\n"
      "  dualkey vault ls                  dualkey vault show latest\n"
      "  dualkey vault restore latest --to /tmp/back     (default: where they were)\n"
      "  dualkey vault verify              re-hash everything, report damage\n"
      "Vault directory: --vault DIR, else $DUALKEY_VAULT, else STATE/vault.");
  vault_cmd->require_subcommand(1);
  auto vault_common = [&](CLI::App* cmd) {
    cmd->add_option("--vault", vault.dir,
                    "vault directory (default $DUALKEY_VAULT or STATE/vault)");
    cmd->add_flag("--json", vault.json, "print JSON");
  };
  CLI::App* vault_init = vault_cmd->add_subcommand(
      "init", "Create a vault, or extend an existing vault's retention (never shorten it).");
  vault_common(vault_init);
  vault_init->add_option("--retention-days", vault.retention_days,
                         "days every snapshot is kept before a prune may remove it (30)");
  vault_init->add_option("--chunk-size", vault.average_chunk,
                         "average content-defined chunk size in bytes (1048576)");
  vault_init->add_option("--compression", vault.compression_level, "zstd level 1-19 (1)");
  vault_init->callback([&] { vault.action = "init"; });
  CLI::App* vault_put = vault_cmd->add_subcommand(
      "put",
      "Save files and trees (absolute paths kept), stdin (--stdin NAME) or a\n"
      "PostgreSQL database (--pg URI, with pg_dump). Durable before it says saved.");
  vault_common(vault_put);
  vault_put->add_option("paths", vault.paths, "files and directories to save");
  vault_put->add_option("--tag", vault.tags, "label the snapshot (repeatable)")
      ->allow_extra_args(false);
  vault_put->add_option("--as", vault.who, "who saves (default: $USER)");
  vault_put->add_option("--who", vault.who, "the same as --as")->group("");
  vault_put->add_option("--reason", vault.reason, "the action this protects against");
  vault_put->add_option("--approval", vault.approval_id, "the approval id that allowed it");
  vault_put->add_option("--stdin", vault.stdin_name,
                        "save standard input as one stream named NAME");
  vault_put->add_option("--kind", vault.kind, "with --stdin: sql_rows (default) or pg_dump");
  vault_put->add_option("--pg", vault.pg, "dump this database with pg_dump and save the dump");
  vault_put->add_flag("--quiet", vault.quiet, "no progress bar");
  vault_put->callback([&] { vault.action = "put"; });
  CLI::App* vault_ls = vault_cmd->add_subcommand("ls", "List snapshots, oldest first.");
  vault_common(vault_ls);
  vault_ls->callback([&] { vault.action = "ls"; });
  CLI::App* vault_show = vault_cmd->add_subcommand("show", "A snapshot's metadata and entries.");
  vault_common(vault_show);
  vault_show->add_option("snapshot", vault.snapshot, "snapshot id, unique prefix, or latest")
      ->required();
  vault_show->callback([&] { vault.action = "show"; });
  CLI::App* vault_restore = vault_cmd->add_subcommand(
      "restore",
      "Restore a snapshot where it was (or under --to DIR); a database snapshot\n"
      "into the database --db names (pg_restore or psql). Every chunk is re-hashed.");
  vault_common(vault_restore);
  vault_restore->add_option("snapshot", vault.snapshot, "snapshot id, unique prefix, or latest")
      ->required();
  vault_restore->add_option("--to", vault.to, "restore under this directory instead");
  vault_restore->add_flag("--overwrite", vault.overwrite, "replace files that exist");
  vault_restore->add_option("--only", vault.only, "restore only this path and what is under it")
      ->allow_extra_args(false);
  vault_restore->add_option("--db", vault.db, "database (name or URI) for a database snapshot");
  vault_restore->add_flag("--quiet", vault.quiet, "no progress bar");
  vault_restore->callback([&] { vault.action = "restore"; });
  CLI::App* vault_verify = vault_cmd->add_subcommand(
      "verify",
      "Re-read and re-hash every chunk, check every snapshot's signature.\n"
      "Exit status: 0 intact, 1 damage found, 2 no vault.");
  vault_common(vault_verify);
  vault_verify->add_flag("--quiet", vault.quiet, "no progress bar");
  vault_verify->callback([&] { vault.action = "verify"; });
  CLI::App* vault_prune = vault_cmd->add_subcommand(
      "prune",
      "Remove snapshots past their retention, with an approver's TOTP code. Audited\n"
      "in VAULT/audit.jsonl. Nothing under retention can be removed, by anyone.");
  vault_common(vault_prune);
  vault_prune->add_option("--as,--approver", vault.approver, "approver name (default: $USER)");
  vault_prune->add_option("--code,--totp", vault.totp,
                          "their current TOTP code (default: asked on the terminal)");
  add_state_dir(vault_prune, vault.state_dir, "the daemon's state directory (approvers)");
  vault_prune->add_option("--store", vault.store, "the approval store, if not the default");
  vault_prune->add_flag("--dry-run", vault.dry_run, "show what would be removed");
  vault_prune->callback([&] { vault.action = "prune"; });
  CLI::App* vault_gc = vault_cmd->add_subcommand(
      "gc",
      "Collect what no snapshot needs (packs left by an interrupted or failed put), and\n"
      "re-index packs snapshots need that no readable index names (a damaged index).\n"
      "Removes nothing while a snapshot cannot be read. Audited in VAULT/audit.jsonl.");
  vault_common(vault_gc);
  vault_gc->add_flag("--dry-run", vault.dry_run, "show what would change, change nothing");
  vault_gc->callback([&] { vault.action = "gc"; });

  // Made from the definitions above, so they never drift from --help.
  std::string completion_shell, man_dir;
  CLI::App* completion_cmd = app.add_subcommand(
      "completion",
      "Print a shell completion script (subcommands, options, pending approval ids).\n"
      "  source <(dualkey completion bash)\n"
      "  dualkey completion zsh > \"${fpath[1]}/_dualkey\"\n"
      "  dualkey completion fish > ~/.config/fish/completions/dualkey.fish");
  completion_cmd->add_option("shell", completion_shell, "bash, zsh or fish")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh", "fish"}));
  CLI::App* man_cmd = app.add_subcommand("man", "Write the manual pages into DIR.");
  man_cmd->add_option("dir", man_dir, "where to write dualkey.1 and dualkey-*.1")->required();
  man_cmd->group("");  // for packaging, not listed

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return dualkey::cli::ReportParseError(app, e, argc, argv);
  }
  if (parse_only) return 0;
  if (!sandbox_late.empty()) {
    std::cerr << "dualkey: --sandbox DIR must come first: dualkey --sandbox DIR COMMAND ...\n";
    return 2;
  }
  if (completion_cmd->parsed())
    return dualkey::cli::PrintCompletion(app, completion_shell, std::cout);
  if (man_cmd->parsed()) return dualkey::cli::WriteManPages(app, man_dir);
  if (check_cmd->parsed()) return dualkey::cli::RunCheck(check);
  if (policy_cmd->parsed()) return dualkey::cli::RunPolicy(policy);
  if (classes.Parsed()) return classes.Run();
  if (!packs.action.empty()) return dualkey::cli::RunPacks(packs);
  if (serve_cmd->parsed()) {
    serve_log.format = *dualkey::cli::ParseLogFormat(serve_log_format);
    return dualkey::cli::RunServe(serve, serve_log);
  }
  if (!daemon.action.empty()) return dualkey::cli::RunDaemonCommand(daemon);
  if (!audit.action.empty()) return dualkey::cli::RunAudit(audit);
  if (hook_cmd->parsed()) return dualkey::cli::RunHook(hook);
  if (install_cmd->parsed() && install.agent == "mcp") {
    install_mcp.project = install.project;
    install_mcp.uninstall = install.uninstall;
    install_mcp.dry_run = install.dry_run;
    install_mcp.binary = install.binary;
    install_mcp.project_dir = install.project_dir;
    return dualkey::cli::RunInstallMcp(install_mcp);
  }
  if (install_cmd->parsed()) return dualkey::cli::RunInstall(install);
  if (mcp_cmd->parsed()) return dualkey::cli::RunMcp(mcp);
  if (doctor_cmd->parsed()) return dualkey::cli::RunDoctor(doctor);
  if (setup_cmd->parsed()) return dualkey::cli::RunSetup(setup);
  if (drill.Parsed()) return drill.Run();
  if (demo_cmd->parsed()) return dualkey::demo::Run(demo);
  if (!token.action.empty()) return dualkey::cli::RunToken(token);
  if (!vault.action.empty()) return dualkey::cli::RunVault(vault);
  if (pg_proxy_cmd->parsed()) return dualkey::cli::RunPgProxy(pg_proxy);
  if (!gateway.action.empty()) return dualkey::cli::RunGateway(gateway);
  if (scan_cmd->parsed()) return dualkey::cli::RunScan(scan);
  return 2;
}
