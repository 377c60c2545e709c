// `dualkey install mcp`: real config files in a temp home, for each client.
#include "hook/install_mcp.h"

#include <gtest/gtest.h>
#include <toml++/toml.h>
#include <unistd.h>

#include "harness.h"

namespace dualkey::testing {
namespace {

using ojson = nlohmann::ordered_json;

class InstallMcp : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::path(DUALKEY_BINARY).parent_path() /
            ("install-mcp-test-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(home_);
    fs::create_directories(home_ / "project");
  }
  void TearDown() override { fs::remove_all(home_); }

  hook::CommandOutput Run(hook::Agent client, bool uninstall = false, bool project = false,
                          bool dry_run = false) {
    hook::InstallMcpRequest request;
    request.client = client;
    request.uninstall = uninstall;
    request.project = project;
    request.dry_run = dry_run;
    request.binary = "/opt/dualkey/bin/dualkey";
    request.home = home_.string();
    request.project_dir = (home_ / "project").string();
    request.timestamp = "T" + std::to_string(++runs_);
    return hook::InstallMcp(request);
  }
  void Write(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  int Backups(const fs::path& path) {
    int count = 0;
    for (const auto& entry : fs::directory_iterator(path.parent_path()))
      if (entry.path().filename().string().rfind(path.filename().string() + ".dualkey-backup-",
                                                 0) == 0)
        ++count;
    return count;
  }

  fs::path home_;
  int runs_ = 0;
};

TEST_F(InstallMcp, ClaudeWrapsUserAndProjectServersIdempotentlyAndUninstallRestores) {
  const fs::path config = home_ / ".claude.json";
  const std::string original = R"({
  "numStartups": 7,
  "mcpServers": {
    "postgres": {"type": "stdio", "command": "npx", "args": ["-y", "@modelcontextprotocol/server-postgres", "postgresql://localhost/shop"], "env": {"A": "1"}},
    "remote": {"type": "http", "url": "https://mcp.example.com/mcp"}
  },
  "projects": {"/home/dev/app": {"mcpServers": {"fs": {"command": "node", "args": ["fs.js", "/home/dev/app"]}}, "allowedTools": []}}
})";
  Write(config, original);
  hook::CommandOutput first = Run(hook::Agent::kClaude);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ojson root = ojson::parse(ReadAll(config));
  EXPECT_EQ(root["numStartups"], 7);
  EXPECT_EQ(root["mcpServers"]["postgres"]["command"], "/opt/dualkey/bin/dualkey");
  EXPECT_EQ(root["mcpServers"]["postgres"]["args"],
            ojson::parse(R"(["mcp","--server-name","postgres","--","npx","-y",
                             "@modelcontextprotocol/server-postgres","postgresql://localhost/shop"])"));
  EXPECT_EQ(root["mcpServers"]["postgres"]["env"]["A"], "1");
  EXPECT_EQ(root["mcpServers"]["remote"],
            ojson::parse(R"({"type":"http","url":"https://mcp.example.com/mcp"})"));
  EXPECT_EQ(root["projects"]["/home/dev/app"]["mcpServers"]["fs"]["args"][4], "node");
  EXPECT_NE(first.out.find("remote (user): skipped: an HTTP server"), std::string::npos)
      << first.out;
  EXPECT_EQ(Backups(config), 1);
  EXPECT_EQ(ReadAll(config.string() + ".dualkey-backup-T1"), original);

  const std::string wrapped = ReadAll(config);
  hook::CommandOutput second = Run(hook::Agent::kClaude);
  EXPECT_EQ(second.exit_code, 0);
  EXPECT_EQ(ReadAll(config), wrapped) << "already wrapped: untouched";
  EXPECT_EQ(Backups(config), 1);
  EXPECT_NE(second.out.find("already wrapped"), std::string::npos) << second.out;

  EXPECT_NE(first.out.find("through dualkey. Undo: dualkey install mcp --client claude "
                           "--uninstall"),
            std::string::npos)
      << first.out;

  hook::CommandOutput removed = Run(hook::Agent::kClaude, /*uninstall=*/true);
  ASSERT_EQ(removed.exit_code, 0);
  EXPECT_EQ(ojson::parse(ReadAll(config)), ojson::parse(original));
  // Uninstalling says what it did, not the install's message.
  EXPECT_NE(removed.out.find("directly again"), std::string::npos) << removed.out;
  EXPECT_EQ(removed.out.find("through dualkey"), std::string::npos) << removed.out;
  EXPECT_EQ(removed.out.find("Undo:"), std::string::npos) << removed.out;
}

TEST_F(InstallMcp, CursorAndGeminiProjectConfigsAndDryRun) {
  const fs::path cursor = home_ / "project/.cursor/mcp.json";
  Write(
      cursor,
      R"({"mcpServers":{"github":{"command":"docker","args":["run","-i","ghcr.io/github/github-mcp-server"]}}})");
  const std::string before = ReadAll(cursor);
  hook::CommandOutput dry = Run(hook::Agent::kCursor, false, /*project=*/true, /*dry_run=*/true);
  EXPECT_EQ(dry.exit_code, 0);
  EXPECT_EQ(ReadAll(cursor), before);
  EXPECT_NE(dry.out.find("would be wrapped"), std::string::npos) << dry.out;
  ASSERT_EQ(Run(hook::Agent::kCursor, false, true).exit_code, 0);
  EXPECT_EQ(ojson::parse(ReadAll(cursor))["mcpServers"]["github"]["args"][3], "--");

  const fs::path gemini = home_ / ".gemini/settings.json";
  Write(
      gemini,
      R"({"theme":"dark","mcpServers":{"db":{"command":"uvx","args":["mcp-server-sqlite"],"cwd":"/srv"},"web":{"httpUrl":"https://x.example/mcp"}}})");
  ASSERT_EQ(Run(hook::Agent::kGemini).exit_code, 0);
  ojson root = ojson::parse(ReadAll(gemini));
  EXPECT_EQ(root["mcpServers"]["db"]["args"][4], "uvx");
  EXPECT_EQ(root["mcpServers"]["db"]["cwd"], "/srv");
  EXPECT_FALSE(root["mcpServers"]["web"].contains("command"));
  EXPECT_EQ(root["theme"], "dark");
}

TEST_F(InstallMcp, CodexTomlRoundTrips) {
  const fs::path config = home_ / ".codex/config.toml";
  Write(config,
        "model = \"o4\"\n\n[mcp_servers.pg]\ncommand = \"npx\"\nargs = [\"-y\", "
        "\"@modelcontextprotocol/server-postgres\", "
        "\"postgresql://localhost/db\"]\n\n[mcp_servers.pg.env]\nPGPASSWORD = "
        "\"x\"\n\n[mcp_servers.docs]\nurl = \"https://docs.example/mcp\"\n");
  ASSERT_EQ(Run(hook::Agent::kCodex).exit_code, 0);
  toml::table wrapped = toml::parse(ReadAll(config));
  EXPECT_EQ(wrapped["mcp_servers"]["pg"]["command"].value_or(std::string()),
            "/opt/dualkey/bin/dualkey");
  EXPECT_EQ(wrapped["mcp_servers"]["pg"]["args"][4].value_or(std::string()), "npx");
  EXPECT_EQ(wrapped["mcp_servers"]["pg"]["env"]["PGPASSWORD"].value_or(std::string()), "x");
  EXPECT_EQ(wrapped["model"].value_or(std::string()), "o4");
  EXPECT_FALSE(wrapped["mcp_servers"]["docs"]["command"]);

  ASSERT_EQ(Run(hook::Agent::kCodex, /*uninstall=*/true).exit_code, 0);
  toml::table restored = toml::parse(ReadAll(config));
  EXPECT_EQ(restored["mcp_servers"]["pg"]["command"].value_or(std::string()), "npx");
  EXPECT_EQ(restored["mcp_servers"]["pg"]["args"].as_array()->size(), 3u);
}

TEST_F(InstallMcp, MalformedConfigIsNeverOverwritten) {
  const fs::path config = home_ / ".cursor/mcp.json";
  Write(config, "{\"mcpServers\": {");
  hook::CommandOutput result = Run(hook::Agent::kCursor);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(ReadAll(config), "{\"mcpServers\": {");
  EXPECT_EQ(Backups(config), 0);
}

TEST_F(InstallMcp, CommandLineJson) {
  Write(home_ / ".cursor/mcp.json", R"({"mcpServers":{"a":{"command":"a-server"}}})");
  ShellOutput out = Shell("HOME=" + Quote(home_.string()) + " " + DUALKEY_BINARY +
                          " install mcp --client cursor --json --dry-run");
  ASSERT_EQ(out.status, 0) << out.out;
  json parsed = json::parse(out.out);
  EXPECT_EQ(parsed["files"][0]["servers"][0]["status"], "wrapped");
  EXPECT_EQ(Shell(std::string(DUALKEY_BINARY) + " install mcp --client vim").status, 2);
}

}  // namespace
}  // namespace dualkey::testing
