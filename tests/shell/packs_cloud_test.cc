#include <gtest/gtest.h>

#include <algorithm>

#include "recording_context.h"
#include "shell/internal/packs/packs.h"

namespace dualkey::shell {
namespace {

using testing::MakeInvocation;
using testing::RecordingContext;
using testing::RunPack;

RecordingContext Cloud(const Invocation& inv) {
  RecordingContext ctx;
  EXPECT_TRUE(RunPack(CloudPack(), inv, ctx)) << inv.name();
  return ctx;
}

RecordingContext Cloud(std::initializer_list<std::string_view> words) {
  return Cloud(MakeInvocation(words));
}

bool HasTarget(const Action* action, std::string_view target) {
  return action != nullptr &&
         std::find(action->targets.begin(), action->targets.end(), target) != action->targets.end();
}

// -------------------------------------------------------------------- aws

TEST(CloudAws, S3RbAndRecursiveRm) {
  auto rb = Cloud({"aws", "s3", "rb", "s3://prod-user-uploads", "--force"});
  ASSERT_TRUE(rb.HasClass("cloud.delete"));
  EXPECT_EQ(rb.Find("cloud.delete")->severity, Severity::kCritical);
  EXPECT_TRUE(HasTarget(rb.Find("cloud.delete"), "s3://prod-user-uploads"));
  auto rm = Cloud({"aws", "s3", "rm", "s3://prod-data-lake/", "--recursive"});
  ASSERT_TRUE(rm.HasClass("cloud.delete"));
  EXPECT_EQ(rm.Find("cloud.delete")->severity, Severity::kHigh);
  EXPECT_TRUE(Cloud({"aws", "s3", "rm", "s3://b/one.txt"}).AnyDestructive());
}

TEST(CloudAws, S3SyncDeleteOntoBucket) {
  auto ctx = Cloud({"aws", "s3", "sync", "./empty", "s3://prod-assets", "--delete"});
  ASSERT_TRUE(ctx.HasClass("cloud.delete"));
  EXPECT_TRUE(ctx.AnyDestructive());
  EXPECT_FALSE(Cloud({"aws", "s3", "sync", "./dist", "s3://site"}).AnyDestructive());
  EXPECT_FALSE(Cloud({"aws", "s3", "sync", "./empty", "s3://prod-assets", "--delete", "--dryrun"})
                   .AnyDestructive());
}

TEST(CloudAws, S3BackupBucketIsBackupDelete) {
  EXPECT_TRUE(Cloud({"aws", "s3", "rm", "s3://acme-db-backups/2024/", "--recursive"})
                  .HasClass("backup.delete"));
}

TEST(CloudAws, S3Reads) {
  EXPECT_FALSE(Cloud({"aws", "s3", "ls", "s3://prod-backups/"}).AnyDestructive());
  EXPECT_FALSE(Cloud({"aws", "s3", "cp", "s3://prod-reports/2024/q2.csv", "."}).AnyDestructive());
  EXPECT_FALSE(Cloud({"aws", "s3", "cp", "report.csv", "s3://x/"}).AnyDestructive());
}

TEST(CloudAws, GlobalOptionsBeforeService) {
  auto ctx = Cloud({"aws", "--profile", "prod", "--region", "us-east-1", "s3", "rb", "s3://x"});
  EXPECT_TRUE(ctx.HasClass("cloud.delete"));
}

TEST(CloudAws, GenericDeleteAndTerminate) {
  auto rds = Cloud({"aws", "rds", "delete-db-instance", "--db-instance-identifier", "prod-orders",
                    "--skip-final-snapshot"});
  const Action* action = rds.Find("cloud.delete");
  ASSERT_NE(action, nullptr);
  EXPECT_EQ(action->severity, Severity::kCritical);
  EXPECT_TRUE(HasTarget(action, "prod-orders"));
  auto ec2 = Cloud({"aws", "ec2", "terminate-instances", "--instance-ids", "i-0abc123def4567890"});
  ASSERT_TRUE(ec2.HasClass("cloud.delete"));
  EXPECT_TRUE(HasTarget(ec2.Find("cloud.delete"), "i-0abc123def4567890"));
  EXPECT_TRUE(Cloud({"aws", "dynamodb", "delete-table", "--table-name", "orders"})
                  .HasClass("cloud.delete"));
  EXPECT_TRUE(Cloud({"aws", "sqs", "purge-queue", "--queue-url", "q"}).AnyDestructive());
  EXPECT_TRUE(
      Cloud({"aws", "ecr", "batch-delete-image", "--repository-name", "r"}).AnyDestructive());
  EXPECT_TRUE(Cloud({"aws", "s3api", "delete-bucket", "--bucket", "b"}).AnyDestructive());
}

TEST(CloudAws, SnapshotsAndBackupsAreBackupDelete) {
  EXPECT_TRUE(Cloud({"aws", "rds", "delete-db-snapshot", "--db-snapshot-identifier",
                     "prod-orders-2024-06-01"})
                  .HasClass("backup.delete"));
  EXPECT_TRUE(Cloud({"aws", "ec2", "delete-snapshot", "--snapshot-id", "snap-1"})
                  .HasClass("backup.delete"));
  EXPECT_TRUE(Cloud({"aws", "backup", "delete-recovery-point", "--backup-vault-name", "prod-vault",
                     "--recovery-point-arn", "arn:aws:backup:x"})
                  .HasClass("backup.delete"));
  EXPECT_TRUE(
      Cloud({"aws", "dynamodb", "delete-backup", "--backup-arn", "a"}).HasClass("backup.delete"));
  EXPECT_TRUE(Cloud({"aws", "s3api", "delete-object", "--bucket", "nightly-backup", "--key", "k"})
                  .HasClass("backup.delete"));
}

TEST(CloudAws, RetentionZeroIsBackupDelete) {
  EXPECT_TRUE(Cloud({"aws", "rds", "modify-db-instance", "--db-instance-identifier", "prod",
                     "--backup-retention-period", "0", "--apply-immediately"})
                  .HasClass("backup.delete"));
  EXPECT_FALSE(Cloud({"aws", "rds", "modify-db-instance", "--db-instance-identifier", "prod",
                      "--backup-retention-period", "14"})
                   .AnyDestructive());
  EXPECT_TRUE(Cloud({"aws", "kms", "schedule-key-deletion", "--key-id", "k"}).AnyDestructive());
}

TEST(CloudAws, ReadsAndDryRuns) {
  EXPECT_FALSE(Cloud({"aws", "rds", "describe-db-instances"}).AnyDestructive());
  EXPECT_FALSE(Cloud({"aws", "backup", "list-recovery-points-by-backup-vault",
                      "--backup-vault-name", "prod-vault"})
                   .AnyDestructive());
  EXPECT_FALSE(Cloud({"aws", "ec2", "terminate-instances", "--instance-ids", "i-1", "--dry-run"})
                   .AnyDestructive());
  EXPECT_FALSE(Cloud({"aws", "sts", "get-caller-identity"}).AnyDestructive());
  EXPECT_FALSE(Cloud({"aws", "ec2", "delete-tags", "--resources", "i-1"}).AnyDestructive());
  EXPECT_FALSE(Cloud({"aws", "lambda", "update-function-code", "--function-name", "delete-user"})
                   .AnyDestructive());
}

TEST(CloudAws, RemoteCommandsAreFollowed) {
  EXPECT_TRUE(Cloud({"aws", "ssm", "send-command", "--document-name", "AWS-RunShellScript"})
                  .HasClass("opaque.exec"));
  auto ecs = Cloud({"aws", "ecs", "execute-command", "--cluster", "c", "--task", "t",
                    "--interactive", "--command", "rm -rf /data"});
  ASSERT_EQ(ecs.scripts.size(), 1u);
  EXPECT_EQ(ecs.scripts[0].script, "rm -rf /data");
}

// ----------------------------------------------------------------- gcloud

TEST(CloudGcloud, DeletesAndProjects) {
  auto sql = Cloud({"gcloud", "sql", "instances", "delete", "prod-pg", "--quiet"});
  ASSERT_TRUE(sql.HasClass("cloud.delete"));
  EXPECT_TRUE(HasTarget(sql.Find("cloud.delete"), "prod-pg"));
  auto project = Cloud({"gcloud", "projects", "delete", "acme-prod"});
  ASSERT_TRUE(project.HasClass("cloud.delete"));
  EXPECT_EQ(project.Find("cloud.delete")->severity, Severity::kCritical);
  EXPECT_TRUE(Cloud({"gcloud", "--project", "p", "compute", "disks", "delete", "d1"})
                  .HasClass("cloud.delete"));
  EXPECT_TRUE(Cloud({"gcloud", "storage", "rm", "-r", "gs://b"}).HasClass("cloud.delete"));
}

TEST(CloudGcloud, SnapshotsBackupsAndBackupOff) {
  EXPECT_TRUE(
      Cloud({"gcloud", "compute", "snapshots", "delete", "snap-1"}).HasClass("backup.delete"));
  EXPECT_TRUE(Cloud({"gcloud", "sql", "backups", "delete", "123", "--instance", "prod"})
                  .HasClass("backup.delete"));
  EXPECT_TRUE(Cloud({"gcloud", "sql", "instances", "patch", "prod", "--no-backup"})
                  .HasClass("backup.delete"));
}

TEST(CloudGcloud, ReadsAndSoftRemovals) {
  EXPECT_FALSE(Cloud({"gcloud", "sql", "instances", "list"}).AnyDestructive());
  EXPECT_FALSE(Cloud({"gcloud", "sql", "instances", "describe", "delete-me"}).AnyDestructive());
  EXPECT_FALSE(Cloud({"gcloud", "projects", "remove-iam-policy-binding", "p", "--member", "x"})
                   .AnyDestructive());
  EXPECT_FALSE(
      Cloud({"gcloud", "container", "clusters", "get-credentials", "prod"}).AnyDestructive());
}

TEST(CloudGcloud, SshCommandIsFollowed) {
  auto ctx = Cloud({"gcloud", "compute", "ssh", "vm-1", "--command", "sudo rm -rf /var/lib/x"});
  ASSERT_EQ(ctx.scripts.size(), 1u);
  EXPECT_EQ(ctx.scripts[0].script, "sudo rm -rf /var/lib/x");
}

TEST(CloudGsutil, RmRbRsync) {
  auto backups = Cloud({"gsutil", "-m", "rm", "-r", "gs://shop-prod-backups"});
  ASSERT_TRUE(backups.HasClass("backup.delete"));
  EXPECT_TRUE(Cloud({"gsutil", "rb", "gs://b"}).HasClass("cloud.delete"));
  EXPECT_TRUE(Cloud({"gsutil", "-m", "rsync", "-r", "-d", "./out", "gs://site"}).AnyDestructive());
  EXPECT_FALSE(
      Cloud({"gsutil", "-m", "rsync", "-r", "-d", "-n", "./out", "gs://site"}).AnyDestructive());
  EXPECT_FALSE(Cloud({"gsutil", "ls", "gs://shop-prod-backups"}).AnyDestructive());
  EXPECT_FALSE(Cloud({"gsutil", "-m", "cp", "-r", "gs://b/x", "."}).AnyDestructive());
}

TEST(CloudBq, RmAndQuery) {
  EXPECT_TRUE(Cloud({"bq", "rm", "-r", "-f", "analytics"}).HasClass("cloud.delete"));
  auto query = Cloud({"bq", "query", "--use_legacy_sql=false", "SELECT 1"});
  ASSERT_EQ(query.sqls.size(), 1u);
  EXPECT_EQ(query.sqls[0].sql, "SELECT 1");
}

// --------------------------------------------------------------------- az

TEST(CloudAz, GroupDeleteAndOthers) {
  auto ctx = Cloud({"az", "group", "delete", "--name", "rg-prod", "--yes", "--no-wait"});
  const Action* action = ctx.Find("cloud.delete");
  ASSERT_NE(action, nullptr);
  EXPECT_EQ(action->severity, Severity::kCritical);
  EXPECT_TRUE(HasTarget(action, "rg-prod"));
  EXPECT_TRUE(Cloud({"az", "storage", "blob", "delete-batch", "--source", "c"}).AnyDestructive());
  EXPECT_TRUE(Cloud({"az", "keyvault", "purge", "--name", "kv"}).AnyDestructive());
  EXPECT_TRUE(Cloud({"az", "snapshot", "delete", "-g", "rg", "-n", "s"}).HasClass("backup.delete"));
  EXPECT_TRUE(Cloud({"az", "backup", "protection", "disable", "--delete-backup-data", "true"})
                  .HasClass("backup.delete"));
  EXPECT_FALSE(Cloud({"az", "group", "list"}).AnyDestructive());
  EXPECT_FALSE(Cloud({"az", "vm", "show", "-g", "rg", "-n", "delete"}).AnyDestructive());
}

// ------------------------------------------------------- platform CLIs

TEST(CloudPlatforms, FlyRailwayDoctl) {
  auto fly = Cloud({"fly", "volumes", "destroy", "vol_4d2e8r7k9x1y0z3q", "--yes"});
  ASSERT_TRUE(fly.HasClass("cloud.delete"));
  EXPECT_TRUE(HasTarget(fly.Find("cloud.delete"), "vol_4d2e8r7k9x1y0z3q"));
  EXPECT_TRUE(Cloud({"flyctl", "apps", "destroy", "shop"}).HasClass("cloud.delete"));
  auto railway = Cloud({"railway", "volume", "delete", "--volume", "pg-data"});
  ASSERT_TRUE(railway.HasClass("cloud.delete"));
  EXPECT_TRUE(HasTarget(railway.Find("cloud.delete"), "pg-data"));
  EXPECT_TRUE(Cloud({"railway", "down"}).AnyDestructive());
  EXPECT_TRUE(Cloud({"doctl", "compute", "droplet", "delete", "web-1", "--force"})
                  .HasClass("cloud.delete"));
  EXPECT_TRUE(Cloud({"doctl", "compute", "snapshot", "delete", "123"}).HasClass("backup.delete"));
  EXPECT_FALSE(Cloud({"fly", "status"}).AnyDestructive());
  EXPECT_FALSE(Cloud({"fly", "deploy"}).AnyDestructive());
  EXPECT_FALSE(Cloud({"doctl", "compute", "droplet", "list"}).AnyDestructive());
}

TEST(CloudPlatforms, HerokuResetBackupsRunPsql) {
  auto reset =
      Cloud({"heroku", "pg:reset", "DATABASE_URL", "--app", "shop-prod", "--confirm", "shop-prod"});
  ASSERT_TRUE(reset.HasClass("db.drop"));
  EXPECT_TRUE(HasTarget(reset.Find("db.drop"), "shop-prod"));
  EXPECT_TRUE(
      Cloud({"heroku", "pg:backups:delete", "b101", "-a", "shop"}).HasClass("backup.delete"));
  EXPECT_TRUE(Cloud({"heroku", "apps:destroy", "--app", "x"}).HasClass("cloud.delete"));
  EXPECT_TRUE(Cloud({"heroku", "addons:destroy", "heroku-postgresql"}).AnyDestructive());
  auto run = Cloud({"heroku", "run", "-a", "shop", "rake", "db:drop"});
  ASSERT_EQ(run.invocations.size(), 1u);
  EXPECT_EQ(run.invocations[0].argv[0].text, "rake");
  EXPECT_EQ(run.invocations[0].depth, 1);
  auto psql = Cloud({"heroku", "pg:psql", "-a", "shop", "-c", "SELECT 1"});
  ASSERT_EQ(psql.sqls.size(), 1u);
  EXPECT_EQ(psql.sqls[0].sql, "SELECT 1");
  EXPECT_FALSE(Cloud({"heroku", "pg:info", "-a", "shop"}).AnyDestructive());
  EXPECT_FALSE(Cloud({"heroku", "logs", "--tail"}).AnyDestructive());
}

TEST(CloudPlatforms, SupabaseNeonPscaleVercelNetlify) {
  EXPECT_TRUE(Cloud({"supabase", "db", "reset", "--linked"}).HasClass("db.drop"));
  EXPECT_TRUE(Cloud({"supabase", "db", "reset", "--linked"}).AnyDestructive());
  EXPECT_FALSE(Cloud({"supabase", "db", "reset"}).AnyDestructive());
  EXPECT_TRUE(Cloud({"supabase", "projects", "delete", "ref"}).AnyDestructive());
  EXPECT_TRUE(Cloud({"neonctl", "projects", "delete", "p"}).AnyDestructive());
  EXPECT_TRUE(Cloud({"neonctl", "branches", "delete", "dev"}).AnyDestructive());
  EXPECT_TRUE(Cloud({"neon", "branches", "reset", "main", "--parent"}).HasClass("db.drop"));
  EXPECT_TRUE(Cloud({"pscale", "database", "delete", "shop", "--force"}).AnyDestructive());
  EXPECT_TRUE(Cloud({"pscale", "branch", "delete", "shop", "dev"}).AnyDestructive());
  EXPECT_TRUE(
      Cloud({"pscale", "backup", "delete", "shop", "main", "b1"}).HasClass("backup.delete"));
  EXPECT_TRUE(Cloud({"vercel", "remove", "my-app", "--yes"}).AnyDestructive());
  EXPECT_TRUE(Cloud({"netlify", "sites:delete", "abc"}).AnyDestructive());
  EXPECT_FALSE(Cloud({"vercel", "ls"}).AnyDestructive());
  EXPECT_FALSE(Cloud({"vercel", "env", "rm", "API_URL", "preview"}).AnyDestructive());
  EXPECT_FALSE(Cloud({"netlify", "deploy", "--prod"}).AnyDestructive());
  EXPECT_FALSE(Cloud({"supabase", "db", "push"}).AnyDestructive());
}

TEST(CloudPlatforms, SqlConsolesAndRemoteShells) {
  auto d1 = Cloud({"wrangler", "d1", "execute", "prod-db", "--command", "DELETE FROM users"});
  ASSERT_EQ(d1.sqls.size(), 1u);
  EXPECT_EQ(d1.sqls[0].dialect, SqlDialect::kSqlite);
  auto fly = Cloud({"fly", "ssh", "console", "-C", "rm -rf /data"});
  ASSERT_EQ(fly.scripts.size(), 1u);
  EXPECT_EQ(fly.scripts[0].script, "rm -rf /data");
  auto railway = Cloud({"railway", "run", "npm", "run", "migrate"});
  ASSERT_EQ(railway.invocations.size(), 1u);
  EXPECT_EQ(railway.invocations[0].cwd, "/home/dev/app");
}

TEST(CloudPlatforms, EksctlAndFirebase) {
  EXPECT_TRUE(Cloud({"eksctl", "delete", "cluster", "--name", "prod"}).AnyDestructive());
  EXPECT_TRUE(Cloud({"firebase", "firestore:delete", "--all-collections"}).AnyDestructive());
  EXPECT_FALSE(Cloud({"eksctl", "get", "cluster"}).AnyDestructive());
}

}  // namespace
}  // namespace dualkey::shell

namespace dualkey::shell {
namespace {

TEST(CloudUnknown, UnknownVerbIsOpaque) {
  EXPECT_TRUE(Cloud({"aws", "s3", "$OP", "s3://x"}).HasClass("opaque.exec"));
  EXPECT_TRUE(Cloud({"gcloud", "sql", "instances", "$VERB", "prod"}).HasClass("opaque.exec"));
  // An unknown name after the verb is only a target.
  EXPECT_FALSE(Cloud({"gcloud", "sql", "instances", "describe", "$NAME"}).AnyDestructive());
}

}  // namespace
}  // namespace dualkey::shell
