// One test per provider table family and generic rule, with traps: requests
// that mention destructive words as data must stay allowed.
#include <gtest/gtest.h>

#include "http_test_util.h"

namespace dualkey::http {
namespace {

using test::Form;
using test::Json;
using test::Send;

// ------------------------------------------------------------------ AWS

TEST(HttpAws, S3VirtualHostedBucketAndObjectDeletes) {
  auto bucket = Send("DELETE", "https://prod-data.s3.amazonaws.com/");
  ASSERT_TRUE(bucket.Has("cloud.delete")) << bucket.Classes();
  EXPECT_EQ(bucket.Find("cloud.delete")->severity, Severity::kCritical);
  EXPECT_EQ(bucket.Find("cloud.delete")->targets.front(), "s3://prod-data");
  auto object = Send("DELETE", "https://assets.s3.eu-west-1.amazonaws.com/img/logo.png");
  ASSERT_TRUE(object.Has("cloud.delete"));
  EXPECT_EQ(object.Find("cloud.delete")->targets.front(), "s3://assets/img/logo.png");
  EXPECT_TRUE(object.Held());
}

TEST(HttpAws, S3PathStyleBucketDelete) {
  auto out = Send("DELETE", "https://s3.eu-west-1.amazonaws.com/customer-exports");
  ASSERT_TRUE(out.Has("cloud.delete"));
  EXPECT_EQ(out.Find("cloud.delete")->severity, Severity::kCritical);
  EXPECT_TRUE(Send("DELETE", "https://s3-us-west-2.amazonaws.com/b/key").Held());
}

TEST(HttpAws, S3MultiObjectDeleteIsAPost) {
  auto out = Send("POST", "https://prod-data.s3.amazonaws.com/?delete",
                  {{"Content-Type", "application/xml"}},
                  "<Delete><Object><Key>a.csv</Key></Object></Delete>");
  EXPECT_TRUE(out.Has("cloud.delete")) << out.Classes();
  EXPECT_TRUE(out.Held());
}

TEST(HttpAws, S3BackupObjectIsBackupDelete) {
  EXPECT_TRUE(Send("DELETE", "https://db-backups-prod.s3.us-east-1.amazonaws.com/pg/x.dump")
                  .Has("backup.delete"));
}

TEST(HttpAws, S3ReadsAndWritesAreAllowed) {
  EXPECT_FALSE(Send("GET", "https://prod-data.s3.amazonaws.com/?list-type=2&prefix=r/").Held());
  EXPECT_FALSE(Send("HEAD", "https://prod-data.s3.amazonaws.com/reports/q2.csv").Held());
  EXPECT_FALSE(Send("PUT", "https://prod-data.s3.amazonaws.com/reports/q3.csv", {}, "a,b").Held());
  // Aborting a multipart upload deletes nothing worth keeping.
  EXPECT_FALSE(Send("DELETE", "https://b.s3.amazonaws.com/big.bin?uploadId=abc").Held());
}

TEST(HttpAws, S3CompatibleStores) {
  EXPECT_TRUE(Send("DELETE", "https://nyc3.digitaloceanspaces.com/bucket").Has("cloud.delete"));
  EXPECT_TRUE(Send("DELETE", "https://acct.r2.cloudflarestorage.com/bucket/k").Held());
  EXPECT_TRUE(Send("DELETE", "https://storage.googleapis.com/my-bucket/obj").Has("cloud.delete"));
}

TEST(HttpAws, QueryApiActionInFormBody) {
  auto out = Form("https://rds.us-east-1.amazonaws.com/",
                  "Action=DeleteDBInstance&DBInstanceIdentifier=prod-orders&SkipFinalSnapshot=true"
                  "&Version=2014-10-31");
  ASSERT_TRUE(out.Has("cloud.delete")) << out.Classes();
  EXPECT_EQ(out.Find("cloud.delete")->severity, Severity::kCritical);
  EXPECT_TRUE(Form("https://ec2.us-east-1.amazonaws.com/",
                   "Action=TerminateInstances&InstanceId.1=i-1&Version=2016-11-15")
                  .Has("cloud.delete"));
  EXPECT_TRUE(
      Form("https://sqs.us-east-1.amazonaws.com/", "Action=PurgeQueue&Version=2012-11-05").Held());
}

TEST(HttpAws, QueryApiActionInUrlEvenOnGet) {
  auto out = Send("GET",
                  "https://rds.us-east-1.amazonaws.com/?Action=DeleteDBSnapshot"
                  "&DBSnapshotIdentifier=s1&Version=2014-10-31");
  EXPECT_TRUE(out.Has("backup.delete")) << out.Classes();
  EXPECT_TRUE(
      Send("GET", "https://rds.us-east-1.amazonaws.com/?Action=DeleteDBClusterSnapshot&Version=1")
          .Has("backup.delete"));
}

TEST(HttpAws, QueryApiReadsAndWrites) {
  EXPECT_FALSE(
      Form("https://rds.us-east-1.amazonaws.com/", "Action=DescribeDBInstances&Version=2014-10-31")
          .Held());
  EXPECT_FALSE(Form("https://ec2.us-east-1.amazonaws.com/",
                    "Action=RunInstances&ImageId=ami-1&Version=2016-11-15")
                   .Held());
}

TEST(HttpAws, ModifyWithRetentionZeroDeletesBackups) {
  auto out = Form("https://rds.us-east-1.amazonaws.com/",
                  "Action=ModifyDBInstance&DBInstanceIdentifier=prod&BackupRetentionPeriod=0"
                  "&Version=2014-10-31");
  EXPECT_TRUE(out.Has("backup.delete")) << out.Classes();
  EXPECT_FALSE(Form("https://rds.us-east-1.amazonaws.com/",
                    "Action=ModifyDBInstance&DBInstanceIdentifier=prod&BackupRetentionPeriod=7"
                    "&Version=2014-10-31")
                   .Held());
}

TEST(HttpAws, JsonApiTargetHeader) {
  auto drop =
      Send("POST", "https://dynamodb.us-east-1.amazonaws.com/",
           {{"X-Amz-Target", "DynamoDB_20120810.DeleteTable"}}, R"({"TableName":"Orders"})");
  ASSERT_TRUE(drop.Has("cloud.delete"));
  auto describe = Send("POST", "https://dynamodb.us-east-1.amazonaws.com/",
                       {{"X-Amz-Target", "DynamoDB_20120810.DescribeTable"}}, "{}");
  EXPECT_FALSE(describe.Held());
  EXPECT_TRUE(Send("POST", "https://dynamodb.us-east-1.amazonaws.com/",
                   {{"X-Amz-Target", "DynamoDB_20120810.DeleteBackup"}}, "{}")
                  .Has("backup.delete"));
  EXPECT_TRUE(Send("POST", "https://dynamodb.us-east-1.amazonaws.com/",
                   {{"X-Amz-Target", "DynamoDB_20120810.UpdateContinuousBackups"}},
                   R"({"PointInTimeRecoverySpecification":{"PointInTimeRecoveryEnabled":false}})")
                  .Has("backup.delete"));
}

TEST(HttpAws, BackupRecoveryPointDelete) {
  auto out = Send("DELETE",
                  "https://backup.us-east-1.amazonaws.com/backup-vaults/prod-vault/recovery-points/"
                  "arn%3Aaws%3Abackup%3Aus-east-1%3A1%3Arecovery-point%3Aabc");
  EXPECT_TRUE(out.Has("backup.delete")) << out.Classes();
}

TEST(HttpAws, ActionWordInAnUnrelatedFormIsNotAnAwsCall) {
  // No AWS host and no Version: a form field named Action is just data.
  EXPECT_FALSE(Form("https://forms.example.com/submit", "Action=DeleteAccount&name=x").Held());
}

// ------------------------------------------------------------------ GCP, Azure

TEST(HttpGcp, CloudSqlStorageProjectsCompute) {
  EXPECT_TRUE(Send("DELETE", "https://sqladmin.googleapis.com/v1/projects/p/instances/pg")
                  .Has("cloud.delete"));
  EXPECT_TRUE(
      Send("DELETE", "https://sqladmin.googleapis.com/v1/projects/p/instances/pg/backupRuns/1")
          .Has("backup.delete"));
  EXPECT_TRUE(Send("DELETE", "https://storage.googleapis.com/storage/v1/b/shop-prod-backups")
                  .Has("backup.delete"));
  EXPECT_TRUE(Send("DELETE", "https://storage.googleapis.com/storage/v1/b/shop-assets")
                  .Has("cloud.delete"));
  EXPECT_TRUE(Send("DELETE", "https://cloudresourcemanager.googleapis.com/v3/projects/shop-prod")
                  .Has("cloud.delete"));
  EXPECT_TRUE(Send("DELETE", "https://compute.googleapis.com/compute/v1/projects/p/zones/z/disks/d")
                  .Has("cloud.delete"));
  EXPECT_TRUE(
      Send("DELETE", "https://compute.googleapis.com/compute/v1/projects/p/global/snapshots/s")
          .Has("backup.delete"));
  EXPECT_FALSE(
      Send("GET", "https://sqladmin.googleapis.com/v1/projects/shop-prod/instances").Held());
}

TEST(HttpGcp, CustomMethodDestroyAndBackupsOff) {
  EXPECT_TRUE(
      Send("POST",
           "https://secretmanager.googleapis.com/v1/projects/p/secrets/s/versions/3:destroy")
          .Held());
  EXPECT_TRUE(Send("PATCH", "https://sqladmin.googleapis.com/v1/projects/p/instances/pg",
                   {{"Content-Type", "application/json"}},
                   R"({"settings":{"backupConfiguration":{"enabled":false}}})")
                  .Has("backup.delete"));
}

TEST(HttpAzure, ResourceGroupAndVaults) {
  auto out = Send("DELETE",
                  "https://management.azure.com/subscriptions/s/resourcegroups/rg-prod"
                  "?api-version=2021-04-01");
  ASSERT_TRUE(out.Has("cloud.delete"));
  EXPECT_EQ(out.Find("cloud.delete")->severity, Severity::kCritical);
  EXPECT_TRUE(Send("DELETE",
                   "https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/"
                   "Microsoft.RecoveryServices/vaults/v?api-version=1")
                  .Has("backup.delete"));
  EXPECT_FALSE(Send("GET", "https://management.azure.com/subscriptions/s/resourcegroups").Held());
  EXPECT_TRUE(Send("DELETE", "https://acct.blob.core.windows.net/container?restype=container")
                  .Has("cloud.delete"));
}

// ------------------------------------------------------------------ Kubernetes

TEST(HttpKubernetes, NamespaceCollectionAndObjects) {
  auto ns = Send("DELETE", "https://k8s.prod.internal:6443/api/v1/namespaces/prod");
  ASSERT_TRUE(ns.Has("k8s.delete"));
  EXPECT_EQ(ns.Find("k8s.delete")->severity, Severity::kCritical);
  auto pvcs = Send("DELETE", "https://k:6443/api/v1/namespaces/prod/persistentvolumeclaims");
  ASSERT_TRUE(pvcs.Has("k8s.delete"));
  EXPECT_EQ(pvcs.Find("k8s.delete")->severity, Severity::kHigh);
  EXPECT_TRUE(Send("DELETE", "https://k/apis/apps/v1/namespaces/prod/deployments/web").Held());
  EXPECT_TRUE(
      Send("DELETE", "https://k/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x").Held());
}

TEST(HttpKubernetes, PodDeleteReadsAndDryRunAreAllowed) {
  EXPECT_FALSE(Send("DELETE", "https://k/api/v1/namespaces/prod/pods/web-1").Held());
  EXPECT_FALSE(Send("GET", "https://k:6443/api/v1/namespaces/prod/pods").Held());
  EXPECT_FALSE(Send("DELETE", "https://k/api/v1/namespaces/prod?dryRun=All").Held());
}

TEST(HttpKubernetes, ExecIsOpaque) {
  EXPECT_TRUE(Send("POST", "https://k/api/v1/namespaces/p/pods/x/exec?command=rm").Held());
}

// ------------------------------------------------------------------ GitHub, GitLab

TEST(HttpGitHub, RepositoryDeleteAndReads) {
  EXPECT_TRUE(Send("DELETE", "https://api.github.com/repos/org/payments").Has("repo.delete"));
  EXPECT_FALSE(Send("GET", "https://api.github.com/repos/org/payments").Held());
  // GitHub Enterprise Server mounts the same API under /api/v3.
  EXPECT_TRUE(Send("DELETE", "https://ghe.corp/api/v3/repos/org/x").Has("repo.delete"));
}

TEST(HttpGitHub, BranchDeleteAndForceUpdate) {
  auto main = Send("DELETE", "https://api.github.com/repos/org/api/git/refs/heads/main");
  ASSERT_TRUE(main.Has("repo.branch.delete")) << main.Classes();
  EXPECT_EQ(main.Find("repo.branch.delete")->severity, Severity::kCritical);
  auto force = Send("PATCH", "https://api.github.com/repos/org/api/git/refs/heads/main",
                    {{"Content-Type", "application/json"}}, R"({"sha":"abc","force":true})");
  EXPECT_TRUE(force.Has("git.push.force"));
  auto fast_forward = Send("PATCH", "https://api.github.com/repos/org/api/git/refs/heads/main",
                           {{"Content-Type", "application/json"}}, R"({"sha":"abc"})");
  EXPECT_FALSE(fast_forward.Held());
}

TEST(HttpGitHub, ProtectionRemovalIsHeld) {
  EXPECT_TRUE(Send("DELETE", "https://api.github.com/repos/o/r/branches/main/protection")
                  .Has("repo.protection.delete"));
}

TEST(HttpGitHub, TrivialDeletesAreAllowedCommentDeleteIsHeld) {
  EXPECT_FALSE(Send("DELETE", "https://api.github.com/repos/o/r/issues/3/labels/bug").Held());
  EXPECT_FALSE(Send("DELETE", "https://api.github.com/user/starred/o/r").Held());
  EXPECT_FALSE(Send("DELETE", "https://api.github.com/repos/o/r/actions/caches?key=x").Held());
  // An issue comment is someone's words with no undo: held.
  EXPECT_TRUE(Send("DELETE", "https://api.github.com/repos/o/r/issues/comments/42").Held());
}

TEST(HttpGitHub, IssueTextMentioningDeleteIsAllowed) {
  EXPECT_FALSE(Json("https://api.github.com/repos/org/api/issues",
                    R"({"title":"Remove the DELETE /users endpoint","body":"DROP TABLE users"})")
                   .Held());
}

TEST(HttpGitLab, ProjectsBranchesProtection) {
  EXPECT_TRUE(Send("DELETE", "https://gitlab.com/api/v4/projects/42").Has("repo.delete"));
  auto branch =
      Send("DELETE", "https://gitlab.example.com/api/v4/projects/42/repository/branches/main");
  ASSERT_TRUE(branch.Has("repo.branch.delete"));
  EXPECT_EQ(branch.Find("repo.branch.delete")->severity, Severity::kCritical);
  EXPECT_TRUE(Send("DELETE", "https://gitlab.com/api/v4/projects/42/protected_branches/main")
                  .Has("repo.protection.delete"));
  EXPECT_FALSE(Send("GET", "https://gitlab.com/api/v4/projects/42").Held());
}

// ------------------------------------------------------------------ search, CouchDB

TEST(HttpSearch, IndexDeletesAndDeleteByQuery) {
  EXPECT_TRUE(Send("DELETE", "https://search:9200/orders").Has("db.drop"));
  auto all = Send("DELETE", "https://search:9200/_all");
  ASSERT_TRUE(all.Has("db.drop"));
  EXPECT_EQ(all.Find("db.drop")->severity, Severity::kCritical);
  EXPECT_TRUE(Send("DELETE", "https://search:9200/logs-*").Has("db.drop"));
  EXPECT_TRUE(Json("https://search:9200/orders/_delete_by_query", R"({"query":{"match_all":{}}})")
                  .Has("db.delete.unbounded"));
  auto filtered = Json("https://search:9200/orders/_delete_by_query",
                       R"({"query":{"term":{"status":"spam"}}})");
  EXPECT_TRUE(filtered.Has("db.delete"));
  EXPECT_TRUE(filtered.Held());
  EXPECT_TRUE(Send("DELETE", "https://es.example.com/_snapshot/repo/snap-1").Has("backup.delete"));
}

TEST(HttpSearch, SearchesAreReadsEvenWithMatchAll) {
  EXPECT_FALSE(Json("https://search:9200/orders/_search", R"({"query":{"match_all":{}}})").Held());
  EXPECT_FALSE(Send("GET", "https://search:9200/orders/_search?q=status:deleted").Held());
  EXPECT_FALSE(Send("DELETE", "https://search:9200/_search/scroll/abc").Held());
}

TEST(HttpCouch, DatabaseAndDocuments) {
  EXPECT_TRUE(Send("DELETE", "http://couch:5984/orders").Has("db.drop"));
  EXPECT_TRUE(Send("DELETE", "http://couch:5984/orders/doc1?rev=1-a").Has("db.delete"));
  EXPECT_TRUE(Json("http://couch:5984/orders/_purge", R"({"doc1":["1-a"]})").Held());
  EXPECT_FALSE(Json("http://couch:5984/orders/_find", R"({"selector":{}})").Held());
}

// ------------------------------------------------------------------ platforms, services

TEST(HttpPlatforms, ManagementApis) {
  EXPECT_TRUE(Send("DELETE", "https://api.supabase.com/v1/projects/abc").Has("cloud.delete"));
  EXPECT_TRUE(Send("DELETE", "https://console.neon.tech/api/v2/projects/p/branches/br").Held());
  EXPECT_TRUE(Send("DELETE", "https://api.machines.dev/v1/apps/a/volumes/v").Has("cloud.delete"));
  EXPECT_TRUE(Send("DELETE", "https://api.vercel.com/v9/projects/site").Has("cloud.delete"));
  EXPECT_TRUE(Send("DELETE", "https://api.digitalocean.com/v2/databases/db1").Has("db.drop"));
  EXPECT_TRUE(Send("DELETE", "https://api.digitalocean.com/v2/snapshots/1").Has("backup.delete"));
  EXPECT_TRUE(Send("DELETE", "https://api.heroku.com/apps/shop-prod").Has("cloud.delete"));
  EXPECT_TRUE(
      Send("POST", "https://postgres-api.heroku.com/client/v11/databases/x/reset").Has("db.drop"));
  EXPECT_FALSE(Send("DELETE", "https://api.heroku.com/apps/shop/dynos").Held());
}

TEST(HttpPlatforms, PostgrestUnfilteredDeleteIsUnbounded) {
  EXPECT_TRUE(Send("DELETE", "https://ref.supabase.co/rest/v1/users").Has("db.delete.unbounded"));
  auto one = Send("DELETE", "https://ref.supabase.co/rest/v1/users?id=eq.5");
  EXPECT_TRUE(one.Has("db.delete"));
  EXPECT_FALSE(Send("PATCH", "https://ref.supabase.co/rest/v1/users?id=eq.5", {}, "{}").Held());
  EXPECT_TRUE(Send("PATCH", "https://ref.supabase.co/rest/v1/users", {}, "{}").Held());
}

TEST(HttpServices, StripeAndChat) {
  EXPECT_TRUE(Send("DELETE", "https://api.stripe.com/v1/customers/cus_1").Held());
  EXPECT_FALSE(Form("https://api.stripe.com/v1/customers", "email=a%40b.c").Held());
  EXPECT_FALSE(
      Json("https://hooks.slack.com/services/T/B/X", R"({"text":"terraform destroy finished"})")
          .Held());
}

// ------------------------------------------------------------------ SQL over HTTP

TEST(HttpSql, SupabaseQueryRunsSqlClassification) {
  auto drop = Json("https://api.supabase.com/v1/projects/x/database/query",
                   R"({"query":"DROP TABLE users"})");
  ASSERT_TRUE(drop.Has("db.drop")) << drop.Classes();
  EXPECT_EQ(drop.Find("db.drop")->channel, Channel::kHttp);
  EXPECT_FALSE(Json("https://api.supabase.com/v1/projects/x/database/query",
                    R"({"query":"SELECT count(*) FROM users"})")
                   .Held());
  EXPECT_TRUE(Json("https://api.supabase.com/v1/projects/x/database/query", "not json").Held());
}

TEST(HttpSql, OtherSqlEndpoints) {
  EXPECT_TRUE(
      Json("https://ep-1.us-east-2.aws.neon.tech/sql", R"({"query":"TRUNCATE orders"})").Held());
  EXPECT_TRUE(Json("https://hasura.internal/v2/query",
                   R"({"type":"run_sql","args":{"sql":"DROP TABLE users"}})")
                  .Has("db.drop"));
  EXPECT_TRUE(Send("POST", "http://ch:8123/?query=DROP%20TABLE%20events").Held());
}

TEST(HttpSql, SearchQueryContainingDropTableIsData) {
  // Only the endpoints that run SQL get SQL classification.
  EXPECT_FALSE(
      Json("https://search.example.com/1/indexes/docs/query", R"({"query":"DROP TABLE users"})")
          .Held());
  EXPECT_FALSE(Send("GET", "https://api.example.com/search?q=DROP+TABLE+users").Held());
}

// ------------------------------------------------------------------ generic rules

TEST(HttpGeneric, UnknownMethodsByDefault) {
  auto del = Send("DELETE", "https://api.example.com/v1/widgets/5");
  EXPECT_TRUE(del.Has("http.delete"));
  EXPECT_TRUE(del.Held());
  EXPECT_FALSE(Send("GET", "https://api.example.com/v1/widgets").Held());
  EXPECT_FALSE(Send("HEAD", "https://api.example.com/").Held());
  EXPECT_FALSE(Send("OPTIONS", "https://api.example.com/").Held());
  auto post = Json("https://api.example.com/v1/widgets", R"({"name":"delete me"})");
  EXPECT_TRUE(post.Has("http.write"));
  EXPECT_FALSE(post.Held());
}

TEST(HttpGeneric, DestroyingPathVerbOnPost) {
  EXPECT_TRUE(Json("https://api.example.com/v1/workspaces/w/destroy", "{}").Held());
  EXPECT_TRUE(Json("https://api.example.com/v1/items:batchDelete", "{}").Held());
  EXPECT_TRUE(Send("DELETE", "https://api.example.com/v1/backups/7").Has("backup.delete"));
}

TEST(HttpGeneric, MethodOverrideIsClassifiedToo) {
  EXPECT_TRUE(
      Send("POST", "https://api.github.com/repos/o/r", {{"X-HTTP-Method-Override", "DELETE"}})
          .Has("repo.delete"));
  EXPECT_TRUE(Form("https://app.example.com/posts/5", "_method=DELETE").Held());
}

TEST(HttpGeneric, OriginFormUsesHostHeader) {
  EXPECT_TRUE(Send("DELETE", "/repos/o/r", {{"Host", "api.github.com"}}).Has("repo.delete"));
}

// ------------------------------------------------------------------ bad input

TEST(HttpBadInput, OversizedBodyIsOpaque) {
  auto out = Json("https://api.example.com/x", std::string((1 << 20) + 1, ' '));
  ASSERT_TRUE(out.Has("opaque.http"));
  EXPECT_NE(out.Find("opaque.http")->reason.find("bytes"), std::string::npos);
}

TEST(HttpBadInput, BadUrlsAndMethods) {
  EXPECT_TRUE(Send("GET", "https://exa mple.com/").Has("opaque.http"));
  EXPECT_TRUE(Send("GET", "https://host:99999/").Has("opaque.http"));
  EXPECT_TRUE(Send("GET", "").Has("opaque.http"));
  EXPECT_TRUE(Send("GET", "/no-host").Has("opaque.http"));
  EXPECT_TRUE(Send("DEL ETE", "https://a/").Has("opaque.http"));
  EXPECT_TRUE(Send("GET", "ftp://a/b").Has("opaque.http"));
}

TEST(HttpParseRequestJson, Shapes) {
  Result<Request> request = ParseRequestJson(
      R"({"method":"POST","url":"https://a/b","headers":{"X-A":"1","N":2},"body":"x"})");
  ASSERT_TRUE(request.ok()) << request.status().message();
  EXPECT_EQ(request->method, "POST");
  EXPECT_EQ(request->headers.size(), 2u);
  EXPECT_EQ(request->headers[1].second, "2");
  EXPECT_EQ(request->body, "x");
  request = ParseRequestJson(R"({"method":"POST","url":"https://a","body":{"k":1}})");
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->body, R"({"k":1})");
  EXPECT_FALSE(ParseRequestJson("not json").ok());
  Result<Request> no_url = ParseRequestJson(R"({"method":"GET"})");
  EXPECT_TRUE(no_url.status().Is(Status::Code::kInvalidArgument));
  EXPECT_NE(no_url.status().message().find("url"), std::string::npos);
  EXPECT_FALSE(ParseRequestJson(R"(["GET","https://a"])").ok());
  EXPECT_FALSE(ParseRequestJson(R"({"method":1,"url":"https://a"})").ok());
  EXPECT_FALSE(ParseRequestJson(std::string(100000, '[')).ok());
}

}  // namespace
}  // namespace dualkey::http
