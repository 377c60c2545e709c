// Cloud and platform CLIs: aws, gcloud, gsutil, bq, az, doctl, fly, railway,
// heroku, vercel, netlify, supabase, neonctl, pscale, firebase, wrangler,
// turso and other provider CLIs that share one command shape:
//   TOOL [global options] WORD WORD ... VERB [names] [--options]
//
// One engine serves them all. It collects the command's words (skipping
// options and the values of the tool's known value options), then
//  1. looks the tool and the leading words up in kCloudRules, a constexpr
//     table of exact commands with their class (pg:reset → db.drop, retention
//     set to zero → backup.delete, `aws s3 ...` → its own handler);
//  2. otherwise finds the first verb among the leading words: read verbs
//     (describe-*, list, get, show ...) are reads; destroying verbs (delete,
//     destroy, terminate, remove, rm, purge, deregister ...) are cloud.delete,
//     or backup.delete when the command or a target names backups/snapshots.
// Everything else (create, deploy, update) is an allowed cloud.write.
#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "core/verbs.h"
#include "shell/internal/packs/packs.h"
#include "shell/internal/paths.h"

namespace dualkey::shell {
namespace {

char Lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

bool IContains(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    bool match = true;
    for (std::size_t k = 0; k < needle.size() && match; ++k)
      match = Lower(hay[i + k]) == Lower(needle[k]);
    if (match) return true;
  }
  return false;
}

std::span<const Arg> ArgsOf(const Invocation& inv) {
  return inv.argv.empty() ? std::span<const Arg>() : std::span<const Arg>(inv.argv).subspan(1);
}

void Emit(Context& ctx, std::string op_class, std::vector<std::string> targets, Reversibility rev,
          Severity severity, std::string reason) {
  ctx.Emit(MakeAction(std::move(op_class), std::move(targets), rev, severity, std::move(reason)));
}

void EmitRead(Context& ctx, std::vector<std::string> targets, std::string reason) {
  Emit(ctx, "read.only", std::move(targets), Reversibility::kReversible, Severity::kNone,
       std::move(reason));
}

// A command word the evaluator could not know ($OP, $(...)) hides the verb.
void EmitUnknownVerb(Context& ctx, std::string_view tool, std::string_view word) {
  Emit(ctx, "opaque.exec", {}, Reversibility::kUnknown, Severity::kMedium,
       std::string(tool) + " runs a subcommand only known when it runs: " + std::string(word));
}

// Names that hold backups: deleting them is backup.delete.
bool NamesBackup(std::string_view text) {
  return IContains(text, "backup") || IContains(text, "snapshot") ||
         IContains(text, "recovery-point") || IContains(text, "recoverypoint");
}

// ================================================================ tools

// Options that take a value, per tool family. Unknown `--x value` options
// only risk taking a value for a command word, which the verb scan tolerates.
constexpr std::string_view kAwsValues[] = {"--profile",
                                           "--region",
                                           "--output",
                                           "--endpoint-url",
                                           "--query",
                                           "--cli-input-json",
                                           "--ca-bundle",
                                           "--color",
                                           "--cli-read-timeout",
                                           "--cli-connect-timeout",
                                           "--cli-binary-format",
                                           "--cli-input-yaml"};
constexpr std::string_view kGcloudValues[] = {
    "--project",         "--account",   "--configuration",
    "--format",          "--verbosity", "--impersonate-service-account",
    "--billing-project", "--zone",      "--region",
    "--flags-file",      "--filter",    "--limit",
    "--sort-by",         "--page-size", "--trace-token"};
constexpr std::string_view kAzValues[] = {"--subscription",   "--output", "-o",     "--query",
                                          "--resource-group", "-g",       "--name", "-n",
                                          "--location",       "-l"};
constexpr std::string_view kGenericValues[] = {"-a",
                                               "--app",
                                               "-c",
                                               "--config",
                                               "-r",
                                               "--region",
                                               "-o",
                                               "--org",
                                               "--output",
                                               "--context",
                                               "-t",
                                               "--access-token",
                                               "--token",
                                               "--scope",
                                               "-S",
                                               "--team",
                                               "-T",
                                               "--cwd",
                                               "--site",
                                               "--auth",
                                               "--filter",
                                               "--project-ref",
                                               "--workdir",
                                               "--project-id",
                                               "--api-key",
                                               "--org-id",
                                               "--service-token",
                                               "--service-token-id",
                                               "-s",
                                               "--service",
                                               "-e",
                                               "--environment",
                                               "--remote",
                                               "--profile",
                                               "--format",
                                               "--project",
                                               "-P",
                                               "--account",
                                               "--env",
                                               "--stage",
                                               "--context-name"};

struct CloudTool {
  std::string_view name;       // basename as typed
  std::string_view canonical;  // the name rules use
  std::span<const std::string_view> with_value;
};

constexpr CloudTool kTools[] = {
    {"aws", "aws", kAwsValues},
    {"gcloud", "gcloud", kGcloudValues},
    {"gsutil", "gsutil", kGenericValues},
    {"bq", "bq", kGcloudValues},
    {"az", "az", kAzValues},
    {"doctl", "doctl", kGenericValues},
    {"fly", "fly", kGenericValues},
    {"flyctl", "fly", kGenericValues},
    {"railway", "railway", kGenericValues},
    {"heroku", "heroku", kGenericValues},
    {"vercel", "vercel", kGenericValues},
    {"netlify", "netlify", kGenericValues},
    {"supabase", "supabase", kGenericValues},
    {"neonctl", "neonctl", kGenericValues},
    {"neon", "neonctl", kGenericValues},
    {"pscale", "pscale", kGenericValues},
    {"eksctl", "eksctl", kGenericValues},
    {"linode-cli", "linode-cli", kGenericValues},
    {"hcloud", "hcloud", kGenericValues},
    {"oci", "oci", kGenericValues},
    {"ibmcloud", "ibmcloud", kGenericValues},
    {"scw", "scw", kGenericValues},
    {"vultr-cli", "vultr-cli", kGenericValues},
    {"exo", "exo", kGenericValues},
    {"upctl", "upctl", kGenericValues},
    {"render", "render", kGenericValues},
    {"firebase", "firebase", kGenericValues},
    {"cf", "cf", kGenericValues},
    {"koyeb", "koyeb", kGenericValues},
    {"turso", "turso", kGenericValues},
    {"wrangler", "wrangler", kGenericValues},
    {"atlas", "atlas", kGenericValues},
    {"mongocli", "atlas", kGenericValues},
    {"eb", "eb", kGenericValues},
};

const CloudTool* FindTool(std::string_view name) {
  for (const CloudTool& tool : kTools)
    if (tool.name == name) return &tool;
  return nullptr;
}

// The command as words: indices into `args` of everything not an option.
struct CloudCommand {
  std::string_view tool;
  std::span<const Arg> args;
  std::vector<std::size_t> words;

  std::string_view Word(std::size_t k) const {
    return k < words.size() ? std::string_view(args[words[k]].text) : std::string_view();
  }
  // Arguments after the k-th word (its options and operands).
  std::span<const Arg> After(std::size_t k) const {
    return k < words.size() ? args.subspan(words[k] + 1) : std::span<const Arg>();
  }
};

CloudCommand Collect(const CloudTool& tool, std::span<const Arg> args) {
  CloudCommand cmd{tool.canonical, args, {}};
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view text = args[i].text;
    if (text == "--") break;
    if (text.size() > 1 && text[0] == '-') {
      if (text.find('=') == std::string_view::npos && InList(tool.with_value, text)) ++i;
      continue;
    }
    cmd.words.push_back(i);
  }
  return cmd;
}

bool HasOption(std::span<const Arg> args, std::string_view name) {
  for (const Arg& arg : args) {
    std::string_view text = arg.text;
    if (text == name) return true;
    if (text.starts_with(name) && text.size() > name.size() && text[name.size()] == '=')
      return true;
  }
  return false;
}

std::string_view OptionText(std::span<const Arg> args, std::string_view name) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view text = args[i].text;
    if (text == name) return i + 1 < args.size() ? std::string_view(args[i + 1].text) : "";
    if (text.starts_with(name) && text.size() > name.size() && text[name.size()] == '=')
      return text.substr(name.size() + 1);
  }
  return {};
}

bool IsDryRun(std::span<const Arg> args) {
  for (const Arg& arg : args) {
    std::string_view text = arg.text;
    if (text == "--dry-run" || text == "--dryrun" || text == "--dry-run=true" ||
        text == "--dry-run=client" || text == "--dry-run=server")
      return true;
  }
  return false;
}

// Option names whose values name what a command acts on.
bool IsTargetOption(std::string_view name) {
  static constexpr std::string_view kSuffixes[] = {
      "name",   "-id",     "-ids",     "identifier", "arn",       "bucket",   "app",
      "volume", "stack",   "cluster",  "instance",   "instances", "database", "group",
      "vault",  "project", "snapshot", "backup",     "branch",    "service",  "site",
      "table",  "db",      "key",      "repository", "function",  "queue",    "topic",
      "server", "account", "zone-id",  "secret-id",  "domain",    "space"};
  while (name.starts_with('-')) name.remove_prefix(1);
  if (name.empty()) return false;
  if (name == "a" || name == "g" || name == "n" || name == "id") return true;
  for (std::string_view suffix : kSuffixes)
    if (name.ends_with(suffix)) return true;
  return false;
}

// Positional words after the verb plus the values of naming options.
std::vector<std::string> TargetsOf(const CloudCommand& cmd, std::size_t verb) {
  std::vector<std::string> targets;
  for (std::size_t k = verb + 1; k < cmd.words.size(); ++k) targets.emplace_back(cmd.Word(k));
  std::span<const Arg> args = cmd.args;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view text = args[i].text;
    if (text.size() < 2 || text[0] != '-') continue;
    auto eq = text.find('=');
    std::string_view name = text.substr(0, eq);
    if (!IsTargetOption(name)) continue;
    if (eq != std::string_view::npos) {
      targets.emplace_back(text.substr(eq + 1));
    } else if (i + 1 < args.size() && !args[i + 1].text.starts_with("-")) {
      targets.push_back(args[i + 1].text);
      ++i;
    }
  }
  std::sort(targets.begin(), targets.end());
  targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
  return targets;
}

bool AnyNamesBackup(const CloudCommand& cmd, std::size_t upto,
                    const std::vector<std::string>& targets) {
  for (std::size_t k = 0; k <= upto && k < cmd.words.size(); ++k)
    if (NamesBackup(cmd.Word(k))) return true;
  for (const std::string& target : targets)
    if (NamesBackup(target)) return true;
  return false;
}

// ============================================================= handlers

using RuleHandler = void (*)(const Invocation& inv, const CloudCommand& cmd, Context& ctx);

bool IsS3(std::string_view text) {
  return text.starts_with("s3://");
}

// `aws s3 <op>`: the high-level commands take paths, not options.
void AwsS3(const Invocation& inv, const CloudCommand& cmd, Context& ctx) {
  std::string_view op = cmd.Word(1);
  if (cmd.words.size() > 1 && !cmd.args[cmd.words[1]].known)
    return EmitUnknownVerb(ctx, "aws s3", op);
  std::span<const Arg> rest = cmd.After(1);
  std::vector<std::string> targets;
  for (std::size_t k = 2; k < cmd.words.size(); ++k) targets.emplace_back(cmd.Word(k));
  if (HasOption(rest, "--dryrun") || HasOption(rest, "--dry-run"))
    return EmitRead(ctx, targets, "aws s3 --dryrun only lists what would change");
  const bool backup = AnyNamesBackup(cmd, cmd.words.size(), targets);
  if (op == "rm") {
    const bool recursive = HasOption(rest, "--recursive");
    Emit(ctx, backup ? "backup.delete" : "cloud.delete", targets, Reversibility::kIrreversible,
         recursive ? Severity::kHigh : Severity::kMedium,
         recursive ? "aws s3 rm --recursive deletes every object under the prefix"
                   : "aws s3 rm deletes an object");
    return;
  }
  if (op == "rb") {
    const bool force = HasOption(rest, "--force");
    Emit(ctx, backup ? "backup.delete" : "cloud.delete", targets, Reversibility::kIrreversible,
         force ? Severity::kCritical : Severity::kHigh,
         force ? "aws s3 rb --force deletes the bucket and every object in it"
               : "aws s3 rb deletes the bucket");
    return;
  }
  if (op == "sync" && HasOption(rest, "--delete")) {
    std::string_view dest = cmd.Word(3);
    if (IsS3(dest)) {
      Emit(ctx, backup ? "backup.delete" : "cloud.delete", targets, Reversibility::kIrreversible,
           Severity::kHigh,
           "aws s3 sync --delete deletes every object in " + std::string(dest) +
               " that the source lacks");
      return;
    }
    if (cmd.words.size() < 4) return;
    ResolvedPath path = ResolvePath(cmd.args[cmd.words[3]], inv.cwd, ctx.home());
    const bool disposable = path.kind == PathKind::kDisposable || path.kind == PathKind::kTemp;
    Emit(ctx, "fs.delete", {path.path.empty() ? std::string(dest) : path.path},
         Reversibility::kIrreversible, disposable ? Severity::kLow : Severity::kMedium,
         "aws s3 sync --delete deletes local files the bucket lacks");
    return;
  }
  if (op == "ls" || op == "presign") return EmitRead(ctx, targets, "aws s3 " + std::string(op));
  if (op == "cp" || op == "sync") {
    std::string_view dest = cmd.Word(cmd.words.size() - 1);
    if (!IsS3(dest))
      return EmitRead(ctx, targets, "aws s3 " + std::string(op) + " downloads from the bucket");
  }
  Emit(ctx, "cloud.write", targets, Reversibility::kRecoverable, Severity::kLow,
       "aws s3 " + std::string(op) + " adds or moves objects without deleting data");
}

// gsutil [-m] [-o X] CMD ...: single-dash global options.
void Gsutil(const Invocation& inv, const CloudCommand&, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  std::size_t i = 0;
  while (i < args.size() && args[i].text.starts_with("-")) {
    std::string_view text = args[i].text;
    i += (text == "-o" || text == "-h" || text == "-u" || text == "-i") ? 2 : 1;
  }
  if (i >= args.size()) return;
  std::string_view op = args[i].text;
  if (!args[i].known) return EmitUnknownVerb(ctx, "gsutil", op);
  std::span<const Arg> rest = args.subspan(i + 1);
  std::vector<std::string> urls;
  for (const Arg& arg : rest)
    if (!arg.text.starts_with("-")) urls.push_back(arg.text);
  bool backup = false;
  bool broad = false;
  for (const std::string& url : urls) {
    backup = backup || NamesBackup(url);
    std::string_view path = url;
    if (path.starts_with("gs://")) path.remove_prefix(5);
    const bool bucket_root = path.find('/') == std::string_view::npos || path.ends_with('/');
    broad = broad || bucket_root || url.find('*') != std::string::npos;
  }
  const std::string op_class = backup ? "backup.delete" : "cloud.delete";
  if (op == "rm") {
    const bool recursive = HasShortFlag(rest, 'r') || HasShortFlag(rest, 'R') ||
                           HasShortFlag(rest, 'a') || HasShortFlag(rest, 'I');
    Emit(ctx, op_class, urls, Reversibility::kIrreversible,
         recursive || broad ? Severity::kHigh : Severity::kMedium,
         recursive ? "gsutil rm -r deletes every object under the URL"
                   : "gsutil rm deletes objects");
    return;
  }
  if (op == "rb") {
    Emit(ctx, op_class, urls, Reversibility::kIrreversible, Severity::kHigh,
         "gsutil rb deletes the bucket");
    return;
  }
  if (op == "rsync" && HasShortFlag(rest, 'd')) {
    if (HasShortFlag(rest, 'n')) return EmitRead(ctx, urls, "gsutil rsync -n is a dry run");
    std::string dest = urls.empty() ? std::string() : urls.back();
    Emit(ctx, NamesBackup(dest) ? "backup.delete" : "cloud.delete", {dest},
         Reversibility::kIrreversible, Severity::kHigh,
         "gsutil rsync -d deletes everything at the destination the source lacks");
    return;
  }
  if (op == "ls" || op == "du" || op == "cat" || op == "stat" || op == "hash" || op == "version" ||
      op == "help" || op == "ver")
    return EmitRead(ctx, urls, "gsutil " + std::string(op) + " only reads");
  Emit(ctx, "cloud.write", urls, Reversibility::kRecoverable, Severity::kLow,
       "gsutil " + std::string(op) + " does not delete objects");
}

// Commands that run a shell command on a remote machine or container.
void RemoteScript(Context& ctx, const Invocation& inv, std::string_view script,
                  std::string_view what) {
  if (script.empty()) {
    EmitRead(ctx, {}, std::string(what) + " opens an interactive session");
    return;
  }
  ctx.ClassifyRemoteScript(script, inv.depth + 1);
}

void FlySsh(const Invocation& inv, const CloudCommand& cmd, Context& ctx) {
  std::string_view script = OptionText(cmd.args, "-C");
  if (script.empty()) script = OptionText(cmd.args, "--command");
  RemoteScript(ctx, inv, script, "fly ssh console");
}

void GcloudSsh(const Invocation& inv, const CloudCommand& cmd, Context& ctx) {
  std::string_view script = OptionText(cmd.args, "--command");
  if (script.empty()) {
    // gcloud compute ssh VM -- CMD...
    std::string joined;
    bool after = false;
    for (const Arg& arg : cmd.args) {
      if (after) joined += (joined.empty() ? "" : " ") + arg.text;
      if (arg.text == "--") after = true;
    }
    if (!joined.empty()) return ctx.ClassifyRemoteScript(joined, inv.depth + 1);
  }
  RemoteScript(ctx, inv, script, "gcloud compute ssh");
}

void AzRunCommand(const Invocation& inv, const CloudCommand& cmd, Context& ctx) {
  std::string_view script = OptionText(cmd.args, "--scripts");
  if (script.empty()) {
    ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kMedium,
                        "az vm run-command runs a script that is not visible"));
    return;
  }
  ctx.ClassifyRemoteScript(script, inv.depth + 1);
}

void AwsSsmSend(const Invocation&, const CloudCommand&, Context& ctx) {
  ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kMedium,
                      "aws ssm send-command runs shell commands on remote instances"));
}

void AwsEcsExec(const Invocation& inv, const CloudCommand& cmd, Context& ctx) {
  RemoteScript(ctx, inv, OptionText(cmd.args, "--command"), "aws ecs execute-command");
}

// `heroku run CMD ...` / `railway run CMD ...`: the command runs as given
// (heroku: in a dyno, cwd unknown; railway: locally with injected env).
void RunInner(const Invocation& inv, const CloudCommand& cmd, Context& ctx, bool local) {
  static constexpr std::string_view kRunValues[] = {
      "-a", "--app", "-r",     "--remote",  "-s",           "--size",
      "-e", "--env", "--type", "--service", "--environment"};
  std::span<const Arg> rest = cmd.After(0);
  std::size_t i = 0;
  while (i < rest.size()) {
    std::string_view text = rest[i].text;
    if (text == "--") {
      ++i;
      break;
    }
    if (!text.starts_with("-")) break;
    i += (text.find('=') == std::string_view::npos && InList(kRunValues, text)) ? 2 : 1;
  }
  if (i >= rest.size()) return;
  Invocation inner;
  inner.argv.assign(rest.begin() + static_cast<std::ptrdiff_t>(i), rest.end());
  inner.depth = inv.depth + 1;
  if (local) inner.cwd = inv.cwd;
  inner.remote = !local || inv.remote;
  // A single word holding spaces is a command line (`heroku run "rake db:drop"`).
  if (inner.argv.size() == 1 && inner.argv[0].text.find(' ') != std::string::npos) {
    if (local)
      ctx.ClassifyScript(inner.argv[0].text, inner.cwd, inner.depth);
    else
      ctx.ClassifyRemoteScript(inner.argv[0].text, inner.depth);
    return;
  }
  ctx.ClassifyInvocation(inner);
}

void HerokuRun(const Invocation& inv, const CloudCommand& cmd, Context& ctx) {
  RunInner(inv, cmd, ctx, /*local=*/false);
}

void RailwayRun(const Invocation& inv, const CloudCommand& cmd, Context& ctx) {
  RunInner(inv, cmd, ctx, /*local=*/true);
}

// SQL consoles behind platform CLIs.
void SqlConsole(const Invocation& inv, const CloudCommand& cmd, Context& ctx,
                std::string_view option, std::string_view short_option, SqlDialect dialect,
                std::size_t positional_sql) {
  std::string_view sql = OptionText(cmd.args, option);
  if (sql.empty() && !short_option.empty()) sql = OptionText(cmd.args, short_option);
  if (sql.empty() && positional_sql != 0) sql = cmd.Word(positional_sql);
  std::string target(cmd.tool);
  if (cmd.words.size() > 1) target += ":" + std::string(cmd.Word(cmd.words.size() > 2 ? 2 : 1));
  if (!sql.empty()) {
    ctx.ClassifySql(sql, dialect, target, inv.depth + 1);
    return;
  }
  if (inv.has_stdin_text) {
    ctx.ClassifySql(inv.stdin_text, dialect, target, inv.depth + 1);
    return;
  }
  if (inv.stdin_piped || !OptionText(cmd.args, "--file").empty() ||
      std::any_of(inv.redirects.begin(), inv.redirects.end(),
                  [](const FileRedirect& r) { return r.kind == RedirectKind::kRead; })) {
    ctx.Emit(MakeAction("opaque.sql", {target}, Reversibility::kUnknown, Severity::kMedium,
                        "SQL from a file or stdin cannot be seen before it runs"));
    return;
  }
  EmitRead(ctx, {target}, "opens an interactive SQL console");
}

void HerokuPsql(const Invocation& inv, const CloudCommand& cmd, Context& ctx) {
  SqlConsole(inv, cmd, ctx, "--command", "-c", SqlDialect::kPostgres, 0);
}

void WranglerD1(const Invocation& inv, const CloudCommand& cmd, Context& ctx) {
  SqlConsole(inv, cmd, ctx, "--command", "", SqlDialect::kSqlite, 0);
}

void TursoShell(const Invocation& inv, const CloudCommand& cmd, Context& ctx) {
  // turso db shell DB "SQL"
  SqlConsole(inv, cmd, ctx, "", "", SqlDialect::kSqlite, cmd.words.size() > 3 ? 3 : 0);
}

void BqQuery(const Invocation& inv, const CloudCommand& cmd, Context& ctx) {
  // BigQuery SQL uses backticks; the MySQL path parses them or fails closed.
  std::string_view sql = cmd.Word(cmd.words.size() - 1);
  if (cmd.words.size() < 2) sql = {};
  std::string_view flag_sql = OptionText(cmd.args, "--query");
  if (!flag_sql.empty()) sql = flag_sql;
  if (sql.empty() || sql == "query") {
    ctx.Emit(MakeAction("opaque.sql", {"bigquery"}, Reversibility::kUnknown, Severity::kMedium,
                        "bq query reads its SQL from stdin"));
    return;
  }
  ctx.ClassifySql(sql, SqlDialect::kMySql, "bigquery", inv.depth + 1);
}

// =============================================================== rules

struct CloudRule {
  std::string_view tool;
  // Leading words of the command, space-separated; "*" matches any one word.
  std::string_view path;
  // A required option and, optionally, its value ("~x": value contains x).
  std::string_view option;
  std::string_view value;
  std::string_view op_class;
  Severity severity;
  std::string_view reason;
  RuleHandler handler = nullptr;
};

constexpr CloudRule kCloudRules[] = {
    {"aws", "s3", "", "", "", Severity::kNone, "", AwsS3},
    {"aws", "ssm send-command", "", "", "", Severity::kNone, "", AwsSsmSend},
    {"aws", "ecs execute-command", "", "", "", Severity::kNone, "", AwsEcsExec},
    {"aws", "rds modify-db-instance", "--backup-retention-period", "0", "backup.delete",
     Severity::kHigh, "setting backup retention to 0 deletes the instance's automated backups"},
    {"aws", "rds modify-db-cluster", "--backup-retention-period", "0", "backup.delete",
     Severity::kHigh, "setting backup retention to 0 deletes the cluster's automated backups"},
    {"aws", "rds delete-db-instance", "--skip-final-snapshot", "", "cloud.delete",
     Severity::kCritical, "deletes the database instance without a final snapshot"},
    {"aws", "rds delete-db-cluster", "--skip-final-snapshot", "", "cloud.delete",
     Severity::kCritical, "deletes the database cluster without a final snapshot"},
    {"aws", "rds delete-db-instance", "--delete-automated-backups", "", "backup.delete",
     Severity::kCritical, "deletes the database instance and its automated backups"},
    {"aws", "dynamodb update-continuous-backups", "--point-in-time-recovery-specification",
     "~false", "backup.delete", Severity::kHigh,
     "turning off point-in-time recovery deletes the table's continuous backups"},
    {"aws", "kms schedule-key-deletion", "", "", "cloud.delete", Severity::kCritical,
     "deleting a KMS key makes everything encrypted with it unreadable"},
    {"aws", "s3api put-bucket-versioning", "--versioning-configuration", "~Suspended",
     "cloud.protection.remove", Severity::kMedium,
     "suspending versioning removes the bucket's protection against overwrites"},
    {"gcloud", "sql instances patch", "--no-backup", "", "backup.delete", Severity::kHigh,
     "turning off automated backups of a Cloud SQL instance"},
    {"gcloud", "sql instances patch", "--retained-backups-count", "0", "backup.delete",
     Severity::kHigh, "retaining zero backups deletes them"},
    {"gcloud", "compute ssh", "", "", "", Severity::kNone, "", GcloudSsh},
    {"gcloud", "projects delete", "", "", "cloud.delete", Severity::kCritical,
     "deletes a whole Google Cloud project and everything in it"},
    {"az", "vm run-command", "", "", "", Severity::kNone, "", AzRunCommand},
    {"az", "backup protection disable", "--delete-backup-data", "true", "backup.delete",
     Severity::kCritical, "disables protection and deletes the recovery points"},
    {"az", "backup protection disable", "", "", "backup.delete", Severity::kMedium,
     "stops backups of the item"},
    {"az", "group delete", "", "", "cloud.delete", Severity::kCritical,
     "deletes the resource group and every resource in it"},
    {"gsutil", "", "", "", "", Severity::kNone, "", Gsutil},
    {"bq", "query", "", "", "", Severity::kNone, "", BqQuery},
    {"heroku", "pg:reset", "", "", "db.drop", Severity::kHigh,
     "heroku pg:reset deletes every table and row of the database"},
    {"heroku", "pg:backups:unschedule", "", "", "backup.delete", Severity::kMedium,
     "stops scheduled backups of the database"},
    {"heroku", "pg:psql", "", "", "", Severity::kNone, "", HerokuPsql},
    {"heroku", "run", "", "", "", Severity::kNone, "", HerokuRun},
    {"heroku", "run:detached", "", "", "", Severity::kNone, "", HerokuRun},
    {"fly", "ssh console", "", "", "", Severity::kNone, "", FlySsh},
    {"railway", "run", "", "", "", Severity::kNone, "", RailwayRun},
    {"railway", "down", "", "", "cloud.delete", Severity::kMedium,
     "railway down removes the service's latest deployment"},
    {"supabase", "db reset", "--linked", "", "db.drop", Severity::kHigh,
     "supabase db reset --linked wipes the remote project's database"},
    {"supabase", "db reset", "--db-url", "", "db.drop", Severity::kHigh,
     "supabase db reset --db-url wipes the database at that URL"},
    {"supabase", "db reset", "", "", "db.drop", Severity::kLow,
     "supabase db reset rebuilds the local development database from migrations"},
    {"neonctl", "branches reset", "", "", "db.drop", Severity::kHigh,
     "resetting a branch replaces its data with its parent's"},
    {"neonctl", "branches restore", "", "", "db.overwrite", Severity::kHigh,
     "restoring a branch overwrites its current data"},
    {"wrangler", "d1 execute", "", "", "", Severity::kNone, "", WranglerD1},
    {"turso", "db shell", "", "", "", Severity::kNone, "", TursoShell},
    {"firebase", "firestore:delete", "", "", "cloud.delete", Severity::kHigh,
     "deletes Firestore documents and collections"},
    {"firebase", "database:remove", "", "", "cloud.delete", Severity::kHigh,
     "deletes data from the Realtime Database"},
    {"eb", "terminate", "", "", "cloud.delete", Severity::kHigh,
     "eb terminate deletes the environment and its resources"},
};

bool PathMatches(std::string_view pattern, const CloudCommand& cmd) {
  std::size_t k = 0;
  while (!pattern.empty()) {
    auto space = pattern.find(' ');
    std::string_view word = pattern.substr(0, space);
    if (k >= cmd.words.size()) return false;
    if (word != "*" && word != cmd.Word(k)) return false;
    ++k;
    if (space == std::string_view::npos) break;
    pattern.remove_prefix(space + 1);
  }
  return true;
}

bool OptionMatches(const CloudRule& rule, const CloudCommand& cmd) {
  if (rule.option.empty()) return true;
  if (!HasOption(cmd.args, rule.option)) return false;
  if (rule.value.empty()) return true;
  std::string_view value = OptionText(cmd.args, rule.option);
  if (rule.value.starts_with('~')) return IContains(value, rule.value.substr(1));
  return value == rule.value;
}

// ============================================================ generic verbs
// Verbs are read with the shared vocabulary (core/verbs.h).

// Group words that are verbs elsewhere: `gcloud run services delete`, `aws
// deploy delete-application`, `gcloud logging logs delete`. In a group
// position they are nouns, not the command's verb.
constexpr std::string_view kGroupWords[] = {
    "run",     "deploy",   "logs",    "log",      "logging", "build",   "builds",   "config",
    "monitor", "transfer", "batch",   "execute",  "import",  "export",  "schedule", "scheduler",
    "notify",  "publish",  "release", "releases", "lock",    "locks",   "tag",      "tags",
    "label",   "labels",   "test",    "tests",    "plan",    "plans",   "search",   "query",
    "inspect", "scan",     "status",  "check",    "checks",  "history", "events",   "stats",
    "audit",   "sync",     "view",    "views",    "find"};

enum class VerbKind { kNone, kRead, kWrite, kDestroy };

VerbKind ClassifyVerb(std::string_view word, bool* soft) {
  const verbs::Reading reading = verbs::ReadName(word);
  switch (reading.kind) {
    case verbs::Kind::kRead:
      return VerbKind::kRead;
    case verbs::Kind::kWrite:
      return VerbKind::kWrite;
    case verbs::Kind::kDestroy:
      *soft = reading.soft;
      return VerbKind::kDestroy;
    case verbs::Kind::kNone:
      break;
  }
  return VerbKind::kNone;
}

// Groups whose removals lose no data: `vercel env rm`, `gcloud ... iam-policy`.
constexpr std::string_view kSoftGroups[] = {
    "env", "secrets-access", "iam-policy-binding", "dns-records-cache", "aliases", "domains-alias"};

// Services and groups whose every delete removes backups.
constexpr std::string_view kBackupServices[] = {
    "backup", "glacier", "backups", "snapshots", "snapshot", "recovery-points", "dlm"};

// Groups whose delete reaches everything inside them.
constexpr std::string_view kWholeContainers[] = {"projects", "project", "organizations",
                                                 "resource-groups", "accounts"};

void Generic(const CloudCommand& cmd, Context& ctx) {
  const std::size_t reach = std::min<std::size_t>(cmd.words.size(), 6);
  // aws SERVICE OPERATION: the service is never the verb and the operation
  // always is ("logs delete-log-group", "deploy delete-application"); the
  // words after it are names and values.
  const bool aws = cmd.tool == "aws";
  for (std::size_t k = 0; k < reach; ++k) {
    if (!cmd.args[cmd.words[k]].known) return EmitUnknownVerb(ctx, cmd.tool, cmd.Word(k));
    if (aws && k == 0) continue;
    bool soft = false;
    VerbKind kind = ClassifyVerb(cmd.Word(k), &soft);
    if (kind == VerbKind::kNone) {
      if (aws) break;
      continue;
    }
    // A group word in front of more words is a noun: `gcloud run services ...`.
    if (!aws && kind != VerbKind::kDestroy && k + 1 < cmd.words.size() &&
        InList(kGroupWords, cmd.Word(k)))
      continue;
    if (kind == VerbKind::kWrite) break;
    // The group before the verb may name a harmless object: `vercel env rm`.
    for (std::size_t j = aws ? 1 : 0; j < k; ++j)
      soft = soft || verbs::IsSoftObject(cmd.Word(j)) || InList(kSoftGroups, cmd.Word(j));
    std::vector<std::string> targets = TargetsOf(cmd, k);
    std::string command(cmd.tool);
    for (std::size_t j = 0; j <= k; ++j) command += " " + std::string(cmd.Word(j));
    if (kind == VerbKind::kRead) return EmitRead(ctx, targets, command + " only reads");
    if (IsDryRun(cmd.args)) return EmitRead(ctx, targets, command + " --dry-run changes nothing");
    bool backup = AnyNamesBackup(cmd, k, targets);
    for (std::size_t j = 0; j < k; ++j) backup = backup || InList(kBackupServices, cmd.Word(j));
    if (soft && !backup) {
      Emit(ctx, "cloud.write", targets, Reversibility::kRecoverable, Severity::kLow,
           command + " removes tags, labels or access bindings; no data is lost");
      return;
    }
    Severity severity = Severity::kHigh;
    for (std::size_t j = 0; j < k; ++j)
      if (InList(kWholeContainers, cmd.Word(j))) severity = Severity::kCritical;
    Emit(ctx, backup ? "backup.delete" : "cloud.delete", targets, Reversibility::kIrreversible,
         severity,
         backup ? command + " deletes backups or snapshots"
                : command + " deletes cloud resources or their data");
    return;
  }
  if (cmd.words.empty()) return;
  std::string command(cmd.tool);
  for (std::size_t j = 0; j < reach; ++j) command += " " + std::string(cmd.Word(j));
  Emit(ctx, "cloud.write", {}, Reversibility::kRecoverable, Severity::kLow,
       command + " creates or changes resources without deleting them");
}

void HandleCloud(const Invocation& inv, Context& ctx) {
  const CloudTool* tool = FindTool(inv.name());
  if (tool == nullptr) return;
  CloudCommand cmd = Collect(*tool, ArgsOf(inv));
  for (const CloudRule& rule : kCloudRules) {
    if (rule.tool != tool->canonical || !PathMatches(rule.path, cmd) || !OptionMatches(rule, cmd))
      continue;
    if (rule.handler != nullptr) return rule.handler(inv, cmd, ctx);
    if (IsDryRun(cmd.args)) return EmitRead(ctx, {}, "dry run changes nothing");
    const std::size_t path_words =
        rule.path.empty()
            ? 0
            : 1 + static_cast<std::size_t>(std::count(rule.path.begin(), rule.path.end(), ' '));
    std::vector<std::string> targets = TargetsOf(cmd, path_words == 0 ? 0 : path_words - 1);
    Emit(ctx, std::string(rule.op_class), std::move(targets),
         rule.severity <= Severity::kLow ? Reversibility::kRecoverable
                                         : Reversibility::kIrreversible,
         rule.severity, std::string(rule.reason));
    return;
  }
  Generic(cmd, ctx);
}

constexpr PackEntry kCloudPack[] = {
    {"aws", HandleCloud},      {"gcloud", HandleCloud},    {"gsutil", HandleCloud},
    {"bq", HandleCloud},       {"az", HandleCloud},        {"doctl", HandleCloud},
    {"fly", HandleCloud},      {"flyctl", HandleCloud},    {"railway", HandleCloud},
    {"heroku", HandleCloud},   {"vercel", HandleCloud},    {"netlify", HandleCloud},
    {"supabase", HandleCloud}, {"neonctl", HandleCloud},   {"neon", HandleCloud},
    {"pscale", HandleCloud},   {"eksctl", HandleCloud},    {"linode-cli", HandleCloud},
    {"hcloud", HandleCloud},   {"oci", HandleCloud},       {"ibmcloud", HandleCloud},
    {"scw", HandleCloud},      {"vultr-cli", HandleCloud}, {"exo", HandleCloud},
    {"upctl", HandleCloud},    {"render", HandleCloud},    {"firebase", HandleCloud},
    {"cf", HandleCloud},       {"koyeb", HandleCloud},     {"turso", HandleCloud},
    {"wrangler", HandleCloud}, {"atlas", HandleCloud},     {"mongocli", HandleCloud},
    {"eb", HandleCloud},
};

}  // namespace

std::span<const PackEntry> CloudPack() {
  return kCloudPack;
}

}  // namespace dualkey::shell
