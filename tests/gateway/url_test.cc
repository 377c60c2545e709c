// The gateway's pure parts: base URLs, request targets, and the HTTP channel
// input a request becomes (which is also the approval's key).
#include "gateway/internal/url.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gateway/gateway.h"

namespace {

using namespace dualkey::gateway::internal;

TEST(BaseUrl, SchemesPortsAndPrefixes) {
  BaseUrl base;
  std::string error;
  ASSERT_TRUE(ParseBaseUrl("https://backboard.railway.app", &base, &error)) << error;
  EXPECT_TRUE(base.tls);
  EXPECT_EQ(base.port, "443");
  EXPECT_EQ(base.HostHeader(), "backboard.railway.app");
  EXPECT_EQ(base.path_prefix, "");
  ASSERT_TRUE(ParseBaseUrl("http://127.0.0.1:8080/api/v4/", &base, &error)) << error;
  EXPECT_FALSE(base.tls);
  EXPECT_EQ(base.HostHeader(), "127.0.0.1:8080");
  EXPECT_EQ(base.path_prefix, "/api/v4");
  ASSERT_TRUE(ParseBaseUrl("https://[::1]:9443", &base, &error)) << error;
  EXPECT_EQ(base.host, "::1");
  EXPECT_EQ(base.Origin(), "https://[::1]:9443");
  for (const char* bad : {"ftp://x", "backboard.railway.app", "https://", "https://h:99999",
                          "https://h:x", "https://u:p@h", "https://h/a?b", "https://h/../x"})
    EXPECT_FALSE(ParseBaseUrl(bad, &base, &error)) << bad;
}

TEST(Target, UpstreamPathAndQuery) {
  Target target;
  std::string error;
  ASSERT_TRUE(SplitTarget("/railway/graphql/v2?x=1&y", &target, &error)) << error;
  EXPECT_EQ(target.upstream, "railway");
  EXPECT_EQ(target.path, "/graphql/v2");
  EXPECT_EQ(target.query, "x=1&y");
  ASSERT_TRUE(SplitTarget("/railway", &target, &error));
  EXPECT_EQ(target.path, "/");
  for (const char* bad : {"", "railway/x", "http://evil/x", "//x", "/r/../admin", "/r/%2e%2E/a",
                          "/r/./a", "/r/a#frag", "/r/a b"})
    EXPECT_FALSE(SplitTarget(bad, &target, &error)) << bad;
}

TEST(ChannelInput, DropsTheTokenAndVolatileHeaders) {
  ClassifiedRequest a =
      HttpChannelInput("POST", "https://backboard.railway.app/graphql/v2",
                       {{"Authorization", "Bearer dk_secret"},
                        {"Content-Type", "application/json"},
                        {"User-Agent", "curl/8"},
                        {"X-Request-Id", "1"},
                        {"Content-Length", "10"}},
                       R"({"query":"mutation { volumeDelete(volumeId: \"v\") }"})");
  ClassifiedRequest b =
      HttpChannelInput("POST", "https://backboard.railway.app/graphql/v2",
                       {{"content-type", "application/json"},
                        {"User-Agent", "python"},
                        {"X-Request-Id", "2"},
                        {"X-Dualkey-Token", "dk_other"}},
                       R"({"query":"mutation { volumeDelete(volumeId: \"v\") }"})");
  EXPECT_EQ(a.input, b.input) << "the same request sent twice is the same action";
  EXPECT_EQ(a.input.find("dk_"), std::string::npos);
  auto parsed = nlohmann::json::parse(a.input);
  EXPECT_EQ(parsed["headers"]["content-type"], "application/json");
  EXPECT_TRUE(a.hold_reason.empty());
  ClassifiedRequest gzip =
      HttpChannelInput("POST", "https://h/x", {{"Content-Encoding", "gzip"}}, "\x1f\x8b");
  EXPECT_FALSE(gzip.hold_reason.empty());
  EXPECT_TRUE(nlohmann::json::parse(gzip.input).contains("body_sha256"));
}

TEST(Credentials, TypesRoundTrip) {
  for (auto type :
       {dualkey::gateway::CredentialType::kBearer, dualkey::gateway::CredentialType::kBasic,
        dualkey::gateway::CredentialType::kAwsSigV4}) {
    dualkey::gateway::CredentialType parsed;
    ASSERT_TRUE(dualkey::gateway::ParseCredentialType(dualkey::gateway::ToString(type), &parsed));
    EXPECT_EQ(parsed, type);
  }
}

// A secret with control bytes could add headers of its own to every
// upstream request; one that is not UTF-8 could not be stored unchanged.
TEST(Credentials, SecretsArePrintableUtf8) {
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("dualkey-gw-credentials-" + std::to_string(getpid()));
  dualkey::gateway::CredentialStore store(dir);
  using dualkey::gateway::CredentialType;
  dualkey::Status set = store.Set("a", CredentialType::kBearer,
                                  "tok\x01"
                                  "en\n",
                                  "", "");
  EXPECT_TRUE(set.Is(dualkey::Status::Code::kInvalidArgument)) << set.ToString();
  EXPECT_NE(set.message().find("printable UTF-8"), std::string::npos) << set.message();
  EXPECT_FALSE(store
                   .Set("b", CredentialType::kBearer,
                        "tok\xff"
                        "en",
                        "", "")
                   .ok());
  EXPECT_FALSE(store.Set("c", CredentialType::kAwsSigV4, "AKID SECRET", "us-east-\xc3", "s3").ok());
  set = store.Set("d", CredentialType::kBearer, "t\xc3\xa9l\xc3\xa9 token\n", "", "");
  EXPECT_TRUE(set.ok()) << set.ToString();
  std::filesystem::remove_all(dir);
}

std::string ConfigError(const std::string& text) {
  const std::string path = std::filesystem::temp_directory_path() /
                           ("dualkey-gw-config-" + std::to_string(getpid()) + ".toml");
  std::ofstream(path) << text;
  auto config = dualkey::gateway::LoadConfig(path);
  std::filesystem::remove(path);
  return config.ok() ? "" : config.status().message();
}

TEST(Config, ReadsUpstreamsAndRefusesMistakes) {
  EXPECT_EQ(ConfigError("[[gateway.http.upstream]]\nname = \"railway\"\n"
                        "base_url = \"https://backboard.railway.app\"\ncredential = \"r\"\n"),
            "");
  EXPECT_NE(ConfigError("[[gateway.http.upstream]]\nname = \"a\"\nbase_url = \"https://h\"\n"
                        "credential = \"r\"\ncredentials = \"typo\"\n")
                .find(":5: unknown key \"credentials\""),
            std::string::npos);
  EXPECT_NE(ConfigError("[[gateway.http.upstream]]\nname = \"a\"\nbase_url = \"https://h\"\n"
                        "credential = \"r\"\n[[gateway.http.upstream]]\nname = \"a\"\n"
                        "base_url = \"https://h\"\ncredential = \"r\"\n")
                .find("a second upstream named \"a\""),
            std::string::npos);
  EXPECT_NE(ConfigError("[[gateway.http.upstream]]\nname = \"a\"\nbase_url = \"ftp://h\"\n"
                        "credential = \"r\"\n"),
            "");
  EXPECT_NE(ConfigError("[[gateway.http.upstream]]\nname = \"a\"\nbase_url = \"https://h\"\n"), "");
  EXPECT_NE(ConfigError("gateway = 3\n"), "");
  EXPECT_NE(ConfigError("[[gateway.http.upstream]\n"), "");
}

}  // namespace
