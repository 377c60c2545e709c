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
//
// This file holds the rules, the generic verb engine and the pack table; the
// command's shape and the rules' own handlers live under packs/cloud/.
#include "shell/internal/packs/cloud/cloud.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "core/verbs.h"
#include "shell/internal/packs/packs.h"

namespace dualkey::shell::cloud {

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

}  // namespace dualkey::shell::cloud

namespace dualkey::shell {
namespace {

constexpr PackEntry kCloudPack[] = {
    {"aws", cloud::HandleCloud},       {"gcloud", cloud::HandleCloud},
    {"gsutil", cloud::HandleCloud},    {"bq", cloud::HandleCloud},
    {"az", cloud::HandleCloud},        {"doctl", cloud::HandleCloud},
    {"fly", cloud::HandleCloud},       {"flyctl", cloud::HandleCloud},
    {"railway", cloud::HandleCloud},   {"heroku", cloud::HandleCloud},
    {"vercel", cloud::HandleCloud},    {"netlify", cloud::HandleCloud},
    {"supabase", cloud::HandleCloud},  {"neonctl", cloud::HandleCloud},
    {"neon", cloud::HandleCloud},      {"pscale", cloud::HandleCloud},
    {"eksctl", cloud::HandleCloud},    {"linode-cli", cloud::HandleCloud},
    {"hcloud", cloud::HandleCloud},    {"oci", cloud::HandleCloud},
    {"ibmcloud", cloud::HandleCloud},  {"scw", cloud::HandleCloud},
    {"vultr-cli", cloud::HandleCloud}, {"exo", cloud::HandleCloud},
    {"upctl", cloud::HandleCloud},     {"render", cloud::HandleCloud},
    {"firebase", cloud::HandleCloud},  {"cf", cloud::HandleCloud},
    {"koyeb", cloud::HandleCloud},     {"turso", cloud::HandleCloud},
    {"wrangler", cloud::HandleCloud},  {"atlas", cloud::HandleCloud},
    {"mongocli", cloud::HandleCloud},  {"eb", cloud::HandleCloud},
};

}  // namespace

std::span<const PackEntry> CloudPack() {
  return kCloudPack;
}

}  // namespace dualkey::shell
