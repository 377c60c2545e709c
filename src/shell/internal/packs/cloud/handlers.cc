// Commands with a handler of their own, named by kCloudRules: aws s3, gsutil,
// remote shells (fly ssh, gcloud compute ssh, az run-command), run commands and
// SQL consoles.

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "core/verbs.h"
#include "shell/internal/packs/cloud/cloud.h"

namespace dualkey::shell::cloud {

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

}  // namespace dualkey::shell::cloud
