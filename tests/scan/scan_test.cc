// `dualkey scan` on a temp tree of fake keys: what it finds, what it never
// prints (the whole secret), what it skips, and the CLI's exit status.
#include "scan/scan.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

namespace {

namespace fs = std::filesystem;
using dualkey::scan::Finding;
using dualkey::scan::ScanText;

// Fake credentials, shaped like real ones, assembled so that this source file
// does not itself look like a leak.
const std::string kAwsId = std::string("AKIA") + "Q3XAMPLQ7HZ2MFKD";  // 20 chars
const std::string kAwsSecret = std::string("wJalrXUtnFEMI/K7MDENG/") + "bPxRfiCYzz1abcDEFG";
const std::string kGithub = std::string("ghp_") + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8";
const std::string kStripe = std::string("sk_live_") + "51HxQbC2eZvKYlo2C0abcdEF";
const std::string kRailway = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f";
const std::string kDbPassword = "s3cr3t-Pa55word";

std::set<std::string> Kinds(const std::vector<Finding>& findings) {
  std::set<std::string> out;
  for (const Finding& f : findings) out.insert(f.kind);
  return out;
}

void ExpectRedacted(const std::vector<Finding>& findings) {
  for (const Finding& f : findings) {
    for (const std::string& secret : {kAwsSecret, kGithub, kStripe, kRailway, kDbPassword})
      EXPECT_EQ(f.preview.find(secret), std::string::npos) << f.kind << ": " << f.preview;
    EXPECT_FALSE(f.move.empty()) << f.kind;
  }
}

TEST(ScanText, AwsCredentialsFile) {
  auto found = ScanText("/home/u/.aws/credentials", "[default]\naws_access_key_id = " + kAwsId +
                                                        "\naws_secret_access_key = " + kAwsSecret +
                                                        "\nregion = us-east-1\n");
  EXPECT_EQ(Kinds(found), (std::set<std::string>{"aws-access-key", "aws-secret-key"}));
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].line, 2);
  EXPECT_EQ(found[1].line, 3);
  EXPECT_NE(found[0].move.find("--type aws-sigv4"), std::string::npos);
  ExpectRedacted(found);
}

TEST(ScanText, EnvFileTokensAndPlatformVariables) {
  auto found = ScanText("/p/app/.env", "# tokens\nGITHUB_TOKEN=" + kGithub + "\nSTRIPE_KEY=\"" +
                                           kStripe + "\"\nRAILWAY_TOKEN=" + kRailway +
                                           "\nAPP_SECRET=q8Zr2LkV9xWm4TnB\nDEBUG=true\n"
                                           "API_TOKEN=${API_TOKEN}\nPASSWORD=changeme\n");
  std::set<std::string> kinds = Kinds(found);
  EXPECT_TRUE(kinds.count("github-token"));
  EXPECT_TRUE(kinds.count("stripe-key"));
  EXPECT_TRUE(kinds.count("railway-token"));
  EXPECT_TRUE(kinds.count("env-secret"));  // APP_SECRET
  for (const Finding& f : found) {
    EXPECT_NE(f.line, 6) << "DEBUG=true is no secret";
    EXPECT_NE(f.line, 7) << "a ${VAR} reference is no secret";
    EXPECT_NE(f.line, 8) << "a placeholder is no secret";
  }
  for (const Finding& f : found)
    if (f.kind == "railway-token")
      EXPECT_NE(f.move.find("https://backboard.railway.app"), std::string::npos);
  ExpectRedacted(found);
}

TEST(ScanText, ConnectionStringsWithPasswords) {
  auto found =
      ScanText("/p/app/config/database.yml", "url: postgres://app:" + kDbPassword +
                                                 "@db.internal:5432/prod\n"
                                                 "replica: postgresql://app@db.internal/prod\n"
                                                 "cache: redis://:" +
                                                 kDbPassword +
                                                 "@cache:6379/0\n"
                                                 "tmpl: postgres://user:${DB_PASSWORD}@host/db\n");
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].kind, "database-url");
  EXPECT_EQ(found[0].line, 1);
  EXPECT_NE(found[0].preview.find("postgres://app:"), std::string::npos);
  EXPECT_NE(found[0].preview.find("@db.internal:5432"), std::string::npos);
  EXPECT_EQ(found[1].line, 3);
  ExpectRedacted(found);
}

TEST(ScanText, CliConfigsPgpassAndKubeconfig) {
  EXPECT_EQ(Kinds(ScanText("/home/u/.pgpass", "db.internal:5432:prod:app:" + kDbPassword + "\n")),
            std::set<std::string>{"pgpass"});
  auto kube =
      ScanText("/home/u/.kube/config",
               "users:\n- name: admin\n  user:\n    token: eyJhbGciOiJSUzI1NiIsImtpZCI6Ik\n");
  ASSERT_EQ(kube.size(), 1u);
  EXPECT_EQ(kube[0].line, 4);
  auto railway =
      ScanText("/home/u/.railway/config.json", "{\"user\": {\"token\": \"" + kRailway + "\"}}\n");
  EXPECT_EQ(railway.size(), 1u);
  auto gh = ScanText("/home/u/.config/gh/hosts.yml",
                     "github.com:\n    oauth_token: " + kGithub + "\n    user: u\n");
  EXPECT_EQ(Kinds(gh), std::set<std::string>{"github-token"});
}

TEST(ScanText, PrivateKeysButNotPublicOnes) {
  auto key = ScanText("/home/u/.ssh/id_ed25519",
                      std::string("-----BEGIN OPENSSH ") + "PRIVATE KEY-----\nb3BlbnNzaA==\n");
  ASSERT_EQ(key.size(), 1u);
  EXPECT_EQ(key[0].kind, "private-key");
  EXPECT_TRUE(ScanText("/p/cert.pem", std::string("-----BEGIN ") + "PUBLIC KEY-----\n").empty());
  EXPECT_TRUE(ScanText("/p/doc.md", "postgres://user:pass@localhost/db\n").empty())
      << "a sample password in documentation";
}

TEST(ScanText, OrdinaryCodeIsQuiet) {
  EXPECT_TRUE(ScanText("/p/app/src/main.py",
                       "password = input('Password: ')\ntoken = request.headers['x']\n"
                       "# see https://docs.example.com/auth\nAKIAIOSFODNN7EXAMPLE\n")
                  .empty());
  EXPECT_TRUE(ScanText("/p/app/README.md", "Set GITHUB_TOKEN=<your token> in .env\n").empty());
}

class ScanTree : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("dualkey-scan-" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "app" / "node_modules" / "pkg");
    fs::create_directories(root_ / "app" / ".git" / "objects");
    fs::create_directories(root_ / ".aws");
    Write(".aws/credentials", "[default]\naws_access_key_id = " + kAwsId +
                                  "\naws_secret_access_key = " + kAwsSecret + "\n");
    chmod((root_ / ".aws/credentials").c_str(), 0600);
    Write("app/.env", "GITHUB_TOKEN=" + kGithub + "\n");
    chmod((root_ / "app/.env").c_str(), 0644);
    Write("app/node_modules/pkg/.env", "GITHUB_TOKEN=" + kGithub + "\n");  // skipped
    Write("app/.git/objects/ab", "GITHUB_TOKEN=" + kGithub + "\n");        // skipped
    Write("app/.git/config",
          "[remote \"origin\"]\n\turl = https://u:" + kGithub + "@github.com/acme/app.git\n");
    Write("app/src.c", "int main() { return 0; }\n");
    fs::create_directory_symlink("/etc", root_ / "app" / "etc-link");  // never followed
  }
  void TearDown() override { fs::remove_all(root_); }
  void Write(const std::string& relative, const std::string& text) {
    std::ofstream(root_ / relative) << text;
  }
  fs::path root_;
};

TEST_F(ScanTree, FindsKeysSkipsVendoredAndGitObjects) {
  dualkey::scan::Options options;
  options.roots = {root_.string()};
  dualkey::scan::Report report = dualkey::scan::Scan(options);
  std::set<std::string> files;
  for (const Finding& f : report.findings) files.insert(f.path.substr(root_.string().size()));
  EXPECT_EQ(files, (std::set<std::string>{"/.aws/credentials", "/app/.env", "/app/.git/config"}));
  for (const Finding& f : report.findings) {
    if (f.path.ends_with("/app/.env"))
      EXPECT_NE(f.readable_by.find("everyone"), std::string::npos) << f.readable_by;
    if (f.path.ends_with("/.aws/credentials"))
      EXPECT_NE(f.readable_by.find("only"), std::string::npos) << f.readable_by;
  }
  ExpectRedacted(report.findings);
}

TEST_F(ScanTree, CommandLineJsonAndExitStatus) {
  std::string command = std::string(DUALKEY_BINARY) + " scan --json " + root_.string() + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buffer[4096];
  std::size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  int raw = pclose(pipe);
  EXPECT_EQ(WEXITSTATUS(raw), 1) << out;
  nlohmann::json parsed = nlohmann::json::parse(out);
  EXPECT_GE(parsed["findings"].size(), 4u);
  EXPECT_EQ(out.find(kAwsSecret), std::string::npos);
  EXPECT_EQ(out.find(kGithub), std::string::npos);

  fs::remove_all(root_);
  fs::create_directories(root_);
  Write("clean.txt", "nothing here\n");
  pipe = popen(command.c_str(), "r");
  while (fread(buffer, 1, sizeof(buffer), pipe) > 0) {
  }
  EXPECT_EQ(WEXITSTATUS(pclose(pipe)), 0);
}

}  // namespace

namespace {

// Fragments that sit at the edges of every matcher, glued at random: the
// scanner must never throw or crash, whatever the text.
TEST(ScanText, NeverThrowsOnArbitraryText) {
  const std::vector<std::string> fragments = {"hvs.",
                                              "sk-",
                                              "AKIA",
                                              "ASIA",
                                              "ghp_",
                                              "FlyV1 fm2_",
                                              "postgres://",
                                              "a:b@",
                                              "@",
                                              ":",
                                              "=",
                                              "\"",
                                              "'",
                                              "{",
                                              "}",
                                              "\\",
                                              "https://",
                                              "password ",
                                              "token",
                                              "=@",
                                              "secret_access_key",
                                              "-----BEGIN",
                                              "PRIVATE KEY-----",
                                              "\n",
                                              " ",
                                              "x",
                                              "0123456789abcdefABCDEF",
                                              "$",
                                              "#"};
  std::uint32_t seed = 12345;
  auto next = [&] { return seed = seed * 1664525u + 1013904223u; };
  for (const char* path : {"/h/.env", "/h/.pgpass", "/h/.netrc", "/h/.kube/config", "/h/a.txt"}) {
    for (int i = 0; i < 4000; ++i) {
      std::string text;
      const int parts = static_cast<int>(next() % 12);
      for (int k = 0; k < parts; ++k) text += fragments[next() % fragments.size()];
      EXPECT_NO_THROW(ScanText(path, text)) << text;
    }
  }
}

}  // namespace
