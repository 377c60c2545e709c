// curl, wget, HTTPie and xh invocations turned into requests and classified
// by the HTTP channel.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "recording_context.h"
#include "shell/internal/packs/packs.h"

namespace dualkey::shell {
namespace {

using testing::MakeInvocation;
using testing::RecordingContext;
using testing::RunPack;

RecordingContext Http(const Invocation& inv) {
  RecordingContext ctx;
  EXPECT_TRUE(RunPack(HttpClientPack(), inv, ctx)) << inv.name();
  return ctx;
}

RecordingContext Http(std::initializer_list<std::string_view> words) {
  return Http(MakeInvocation(words));
}

constexpr std::string_view kVolumeDelete =
    R"({"query":"mutation { volumeDelete(volumeId: \"v\") }"})";

// ------------------------------------------------------------------ curl

TEST(PacksHttpCurl, GraphqlMutationInDataIsHeld) {
  auto ctx = Http({"curl", "-X", "POST", "https://backboard.railway.app/graphql/v2", "-H",
                   "Content-Type: application/json", "-d", kVolumeDelete});
  ASSERT_TRUE(ctx.HasClass("cloud.delete")) << ctx.Classes();
  EXPECT_EQ(ctx.actions.front().channel, Channel::kShell);
  EXPECT_TRUE(ctx.AnyDestructive());
}

TEST(PacksHttpCurl, DataImpliesPost) {
  // No -X: -d makes it a POST, and the mutation is still seen.
  EXPECT_TRUE(
      Http({"curl", "https://backboard.railway.app/graphql/v2", "--data-raw", kVolumeDelete})
          .AnyDestructive());
  EXPECT_TRUE(Http({"curl", "https://backboard.railway.app/graphql/v2", "--json", kVolumeDelete})
                  .AnyDestructive());
}

TEST(PacksHttpCurl, MethodFlagsInAllSpellings) {
  EXPECT_TRUE(
      Http({"curl", "-XDELETE", "https://api.github.com/repos/o/r"}).HasClass("repo.delete"));
  EXPECT_TRUE(
      Http({"curl", "-sSX", "DELETE", "https://api.github.com/repos/o/r"}).HasClass("repo.delete"));
  EXPECT_TRUE(Http({"curl", "--request", "DELETE", "https://api.github.com/repos/o/r"})
                  .HasClass("repo.delete"));
  EXPECT_TRUE(Http({"curl", "--url", "https://api.github.com/repos/o/r", "-X", "delete"})
                  .HasClass("repo.delete"));
}

TEST(PacksHttpCurl, FormBodyForAwsQueryApi) {
  auto ctx =
      Http({"curl", "https://ec2.us-east-1.amazonaws.com/", "-d", "Action=TerminateInstances", "-d",
            "InstanceId.1=i-1", "-d", "Version=2016-11-15"});
  EXPECT_TRUE(ctx.HasClass("cloud.delete")) << ctx.Classes();
}

TEST(PacksHttpCurl, GetWithDataMovesItToTheQuery) {
  auto ctx = Http({"curl", "-G", "https://rds.us-east-1.amazonaws.com/", "-d",
                   "Action=DeleteDBSnapshot", "-d", "Version=2014-10-31"});
  EXPECT_TRUE(ctx.HasClass("backup.delete")) << ctx.Classes();
}

TEST(PacksHttpCurl, HeadersReachTheClassifier) {
  auto ctx = Http({"curl", "https://dynamodb.us-east-1.amazonaws.com/", "-H",
                   "X-Amz-Target: DynamoDB_20120810.DeleteTable", "-d", R"({"TableName":"t"})"});
  EXPECT_TRUE(ctx.HasClass("cloud.delete")) << ctx.Classes();
}

TEST(PacksHttpCurl, DownloadsAndReadsAreAllowed) {
  EXPECT_FALSE(Http({"curl", "-fsSL", "https://get.example.com/install.sh", "-o", "install.sh"})
                   .AnyDestructive());
  EXPECT_FALSE(Http({"curl", "-I", "https://example.com/"}).AnyDestructive());
  EXPECT_FALSE(Http({"curl", "https://api.github.com/repos/o/r"}).AnyDestructive());
  EXPECT_FALSE(Http({"curl", "file:///etc/hosts"}).AnyDestructive());
}

TEST(PacksHttpCurl, ScaryWordsInDataAreNotFlagged) {
  EXPECT_FALSE(Http({"curl", "-X", "POST", "https://api.github.com/repos/o/r/issues", "-d",
                     R"({"title":"DELETE FROM users; DROP TABLE x; rm -rf /"})"})
                   .AnyDestructive());
  EXPECT_FALSE(Http({"curl", "https://hooks.slack.com/services/T/B/X", "-d",
                     R"({"text":"terraform destroy done"})"})
                   .AnyDestructive());
}

TEST(PacksHttpCurl, AtFileBodyIsReadWhenLocal) {
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "/dualkey_http_body.json";
  {
    std::ofstream out(path);
    out << kVolumeDelete << "\n";
  }
  auto local = Http(MakeInvocation(
      {"curl", "https://backboard.railway.app/graphql/v2", "-d", "@dualkey_http_body.json"}, dir));
  EXPECT_TRUE(local.HasClass("cloud.delete")) << local.Classes();
  // The same file on another host is not ours to read: the body is unknown,
  // and a GraphQL request without a known document is held.
  Invocation remote = MakeInvocation(
      {"curl", "https://backboard.railway.app/graphql/v2", "-d", "@dualkey_http_body.json"}, dir);
  remote.remote = true;
  auto remote_ctx = Http(remote);
  EXPECT_FALSE(remote_ctx.HasClass("cloud.delete"));
  EXPECT_TRUE(remote_ctx.AnyDestructive());
  std::remove(path.c_str());
}

TEST(PacksHttpCurl, UnreadableBodyToAWriteIsOpaque) {
  auto ctx = Http({"curl", "-X", "POST", "https://api.example.com/v1/jobs", "-d", "@missing.json"});
  EXPECT_TRUE(ctx.HasClass("opaque.http")) << ctx.Classes();
}

TEST(PacksHttpCurl, RunTimeUrlAndMethod) {
  EXPECT_TRUE(Http({"curl", "-X", "$METHOD", "https://api.example.com/x"}).AnyDestructive());
  EXPECT_TRUE(Http({"curl", "-X", "DELETE", "$API/v1/things/1"}).AnyDestructive());
  EXPECT_FALSE(Http({"curl", "$URL"}).AnyDestructive());
  // The URL is unknown, but the body is a mutation document.
  EXPECT_TRUE(Http({"curl", "$RAILWAY_API", "-d", kVolumeDelete}).AnyDestructive());
}

// ------------------------------------------------------------------ wget

TEST(PacksHttpWget, MethodAndBodies) {
  EXPECT_TRUE(Http({"wget", "--method=DELETE", "https://search:9200/orders"}).HasClass("db.drop"));
  EXPECT_TRUE(Http({"wget", "--method", "DELETE", "-O-", "https://api.heroku.com/apps/x"})
                  .AnyDestructive());
  EXPECT_TRUE(Http({"wget", "--header=Content-Type: application/json", "--post-data", kVolumeDelete,
                    "https://backboard.railway.app/graphql/v2"})
                  .AnyDestructive());
  EXPECT_FALSE(Http({"wget", "-qO-", "https://example.com/x"}).AnyDestructive());
  EXPECT_FALSE(Http({"wget", "-O", "file.tgz", "https://example.com/x.tgz"}).AnyDestructive());
}

// ------------------------------------------------------------------ HTTPie, xh

TEST(PacksHttpHttpie, MethodUrlAndItems) {
  EXPECT_TRUE(Http({"http", "DELETE", "api.heroku.com/apps/shop"}).HasClass("cloud.delete"));
  EXPECT_TRUE(Http({"https", "-v", "DELETE", "api.github.com/repos/o/r", "Accept:application/json"})
                  .HasClass("repo.delete"));
  auto graphql = Http({"xh", "POST", "https://hasura.x/v1/graphql",
                       "query=mutation { delete_users(where: {}) { affected_rows } }"});
  EXPECT_TRUE(graphql.HasClass("db.delete.unbounded")) << graphql.Classes();
  // Data items make it a POST without a method word.
  EXPECT_TRUE(Http({"http", "https://backboard.railway.app/graphql/v2",
                    "query=mutation { projectDelete(id: \"p\") }"})
                  .AnyDestructive());
  auto form = Http({"http", "--form", "POST", "https://rds.us-east-1.amazonaws.com/",
                    "Action=DeleteDBInstance", "Version=2014-10-31"});
  EXPECT_TRUE(form.HasClass("cloud.delete")) << form.Classes();
}

TEST(PacksHttpHttpie, ReadsAndOfflineAreAllowed) {
  EXPECT_FALSE(Http({"http", "GET", "api.github.com/repos/o/r"}).AnyDestructive());
  EXPECT_FALSE(Http({"http", ":3000/api/items", "q==delete"}).AnyDestructive());
  EXPECT_FALSE(Http({"http", "--offline", "DELETE", "api.github.com/repos/o/r"}).AnyDestructive());
  EXPECT_FALSE(Http({"xh", "-d", "https://example.com/file.tgz"}).AnyDestructive());
}

}  // namespace
}  // namespace dualkey::shell
