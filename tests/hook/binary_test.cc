// The real `dualkey` binary: hook replies byte for byte, and install/doctor
// round-tripping real config files in a temporary HOME.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/process.h"
#include "hook/install.h"

namespace dualkey::hook {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

std::string Quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

class TempHome : public ::testing::Test {
 protected:
  void SetUp() override {
    // Not under /tmp: the shell guard treats anything in /tmp as disposable,
    // even a home directory there.
    home_ = fs::path(DUALKEY_BINARY).parent_path() / "hook-test-homes" /
            ("dualkey-hook-test-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(home_);
    fs::create_directories(home_ / "app");
  }
  void TearDown() override { fs::remove_all(home_); }

  base::ProcessResult Run(const std::string& args, const std::string& stdin_text = "") {
    return base::RunShell("HOME=" + Quote(home_.string()) +
                              " XDG_CONFIG_HOME= " + std::string(DUALKEY_BINARY) + " " + args,
                          stdin_text, (home_ / "app").string(), 20000);
  }
  std::string Read(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  }
  void Write(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  int Backups(const fs::path& dir) {
    int count = 0;
    for (const auto& entry : fs::directory_iterator(dir))
      count += entry.path().filename().string().find(".dualkey-backup-") != std::string::npos;
    return count;
  }
  std::string Install(const std::string& agent, const std::string& extra = "") {
    base::ProcessResult run = Run("install " + agent + " --binary " + std::string(DUALKEY_BINARY) +
                                  " --agent-version none " + extra);
    EXPECT_EQ(run.exit_code, 0) << run.err;
    return run.out;
  }
  fs::path home_;
};

TEST_F(TempHome, HookClaudeBinaryAllowsAndAsks) {
  std::string cwd = (home_ / "app").string();
  auto input = [&](const std::string& command) {
    return json{{"session_id", "s"},
                {"cwd", cwd},
                {"permission_mode", "default"},
                {"hook_event_name", "PreToolUse"},
                {"tool_name", "Bash"},
                {"tool_input", {{"command", command}}}}
        .dump();
  };
  base::ProcessResult allow = Run("hook claude", input("ls -la"));
  EXPECT_EQ(allow.exit_code, 0);
  EXPECT_EQ(allow.out, "");
  EXPECT_EQ(allow.err, "");
  base::ProcessResult ask = Run("hook claude", input("rm -rf ~"));
  EXPECT_EQ(ask.exit_code, 0);
  EXPECT_EQ(ask.out,
            "{\"hookSpecificOutput\":{\"hookEventName\":\"PreToolUse\","
            "\"permissionDecision\":\"ask\",\"permissionDecisionReason\":\"dualkey "
            "holds this for a human to approve: recursive delete of " +
                home_.string() + " (a home directory).\"}}\n");
}

TEST_F(TempHome, HookBinaryBlocksMalformedAndUnknownAgent) {
  base::ProcessResult bad = Run("hook codex", "{\"tool_name\":");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.out, "");
  EXPECT_EQ(bad.err,
            "dualkey could not check this tool call (the hook input is not valid JSON), so it is "
            "blocked. Do not try to reach the same result another way (another command, tool, "
            "script or path); tell the user what you wanted to do and why.\n");
  base::ProcessResult empty = Run("hook gemini", "");
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_NE(empty.err.find("the hook input is empty"), std::string::npos);
  base::ProcessResult unknown = Run("hook vim", "{}");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(unknown.err,
            "dualkey: unknown agent 'vim' (claude, cursor, codex or gemini); the tool call is "
            "blocked\n");
}

TEST_F(TempHome, HookBinaryRefusesOversizedInput) {
  base::ProcessResult big = Run("hook cursor", std::string(kMaxInputBytes + 10, ' '));
  EXPECT_EQ(big.exit_code, 2);
  EXPECT_EQ(json::parse(big.out)["permission"], "deny");
  EXPECT_NE(big.err.find("larger than 1 MiB"), std::string::npos);
}

TEST_F(TempHome, InstallClaudeKeepsSettingsIsIdempotentAndUninstalls) {
  const fs::path settings = home_ / ".claude/settings.json";
  const std::string original =
      "{\n  \"model\": \"opus\",\n  \"permissions\": {\"deny\": [\"Bash(curl:*)\"]},\n"
      "  \"hooks\": {\"PreToolUse\": [{\"matcher\": \"Bash\", \"hooks\": [{\"type\": \"command\", "
      "\"command\": \"~/bin/other-guard\"}]}],\n"
      "            \"Stop\": [{\"hooks\": [{\"type\": \"command\", \"command\": \"say "
      "done\"}]}]}\n}\n";
  Write(settings, original);
  std::string out = Install("claude");
  EXPECT_NE(out.find("installed the claude hook in " + settings.string()), std::string::npos);
  EXPECT_NE(out.find("backup of the previous file"), std::string::npos);
  EXPECT_NE(out.find("dualkey doctor"), std::string::npos);
  EXPECT_EQ(Backups(settings.parent_path()), 1);

  ordered_json after = ordered_json::parse(Read(settings));
  EXPECT_EQ(after["model"], "opus");
  EXPECT_EQ(after["permissions"]["deny"][0], "Bash(curl:*)");
  ASSERT_EQ(after["hooks"]["PreToolUse"].size(), 2u);
  EXPECT_EQ(after["hooks"]["PreToolUse"][0]["hooks"][0]["command"], "~/bin/other-guard");
  const ordered_json& ours = after["hooks"]["PreToolUse"][1];
  EXPECT_EQ(ours["matcher"], "Bash|Write|Edit|MultiEdit|NotebookEdit|mcp__.*");
  EXPECT_EQ(ours["hooks"][0]["command"], std::string(DUALKEY_BINARY) + " hook claude");
  EXPECT_EQ(ours["hooks"][0]["timeout"], 10);
  EXPECT_FALSE(ours["hooks"][0].contains("onFailure"));
  EXPECT_EQ(after["hooks"]["Stop"][0]["hooks"][0]["command"], "say done");

  // Twice: nothing changes, no new backup.
  const std::string installed = Read(settings);
  EXPECT_NE(Install("claude").find("already installed"), std::string::npos);
  EXPECT_EQ(Read(settings), installed);
  EXPECT_EQ(Backups(settings.parent_path()), 1);

  // Uninstall: the original semantics come back.
  std::string removed = Install("claude", "--uninstall");
  EXPECT_NE(removed.find("removed 1 dualkey hook entry"), std::string::npos);
  EXPECT_EQ(json::parse(Read(settings)), json::parse(original));
  EXPECT_NE(Install("claude", "--uninstall").find("no dualkey hook"), std::string::npos);
}

TEST_F(TempHome, InstallClaudeSetsOnFailureOnNewVersions) {
  base::ProcessResult run =
      Run("install claude --binary /opt/dualkey/bin/dualkey "
          "--agent-version '2.1.300 (Claude Code)'");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json after = json::parse(Read(home_ / ".claude/settings.json"));
  EXPECT_EQ(after["hooks"]["PreToolUse"][0]["hooks"][0]["onFailure"], "block");
  EXPECT_EQ(Backups(home_ / ".claude"), 0);  // there was no file to back up
}

TEST_F(TempHome, InstallCursorGoesFirstWithFailClosed) {
  const fs::path hooks = home_ / ".cursor/hooks.json";
  Write(hooks,
        "{\"version\":1,\"hooks\":{\"beforeShellExecution\":[{\"command\":\"./audit.sh\"}],"
        "\"afterFileEdit\":[{\"command\":\"fmt\"}]}}");
  Install("cursor");
  json after = json::parse(Read(hooks));
  EXPECT_EQ(after["version"], 1);
  ASSERT_EQ(after["hooks"]["beforeShellExecution"].size(), 2u);
  EXPECT_EQ(after["hooks"]["beforeShellExecution"][0]["failClosed"], true);
  EXPECT_EQ(after["hooks"]["beforeShellExecution"][0]["command"],
            std::string(DUALKEY_BINARY) + " hook cursor");
  EXPECT_EQ(after["hooks"]["beforeShellExecution"][1]["command"], "./audit.sh");
  EXPECT_EQ(after["hooks"]["beforeMCPExecution"].size(), 1u);
  EXPECT_EQ(after["hooks"]["preToolUse"].size(), 1u);
  EXPECT_EQ(after["hooks"]["afterFileEdit"][0]["command"], "fmt");
  const std::string installed = Read(hooks);
  Install("cursor");
  EXPECT_EQ(Read(hooks), installed);
  Install("cursor", "--uninstall");
  EXPECT_EQ(json::parse(Read(hooks)),
            json::parse("{\"version\":1,\"hooks\":{\"beforeShellExecution\":[{\"command\":"
                        "\"./audit.sh\"}],\"afterFileEdit\":[{\"command\":\"fmt\"}]}}"));
}

TEST_F(TempHome, InstallCodexAndGeminiProjectScope) {
  Install("codex");
  json codex = json::parse(Read(home_ / ".codex/hooks.json"));
  EXPECT_EQ(codex["hooks"]["PreToolUse"][0]["matcher"], "Bash|apply_patch|Write|Edit|mcp__.*");
  EXPECT_EQ(codex.size(), 1u);  // the root holds only "hooks"

  const fs::path project = home_ / "app";
  Write(project / ".gemini/settings.json", "{\"theme\":\"dark\", // comment\n \"hooks\":{}}");
  std::string out = Install("gemini", "--project --dir " + Quote(project.string()));
  EXPECT_NE(out.find("comments in the file were dropped"), std::string::npos);
  json gemini = json::parse(Read(project / ".gemini/settings.json"));
  EXPECT_EQ(gemini["theme"], "dark");
  EXPECT_EQ(gemini["hooks"]["BeforeTool"][0]["hooks"][0]["timeout"], 10000);
  EXPECT_EQ(gemini["hooks"]["BeforeTool"][0]["hooks"][0]["name"], "dualkey");
}

TEST_F(TempHome, InstallRefusesMalformedConfigAndDryRunWritesNothing) {
  const fs::path settings = home_ / ".claude/settings.json";
  Write(settings, "{\"model\": ");
  base::ProcessResult bad = Run("install claude --agent-version none");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("is not valid JSON"), std::string::npos);
  EXPECT_EQ(Read(settings), "{\"model\": ");
  Write(settings, "{\"model\": \"x\"}");
  std::string dry = Install("claude", "--dry-run");
  EXPECT_NE(dry.find("dry run; would write"), std::string::npos);
  EXPECT_EQ(Read(settings), "{\"model\": \"x\"}");
  EXPECT_EQ(Backups(settings.parent_path()), 0);
}

TEST_F(TempHome, DoctorReportsProtectionThroughTheInstalledCommand) {
  base::ProcessResult none = Run("doctor --json");
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_EQ(json::parse(none.out)["installed"], 0);

  for (const char* agent : {"claude", "cursor", "codex", "gemini"}) Install(agent);
  base::ProcessResult run = Run("doctor --json");
  json report = json::parse(run.out);
  // Single-user mode: the hooks protect, the install does not (doctor says
  // so and exits 1), and these hooks run a binary inside a build tree.
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_EQ(report["protected"], false);
  EXPECT_EQ(report["mode"], "single-user");
  EXPECT_EQ(report["installed"], 4);
  std::map<std::string, std::string> destructive;
  for (const json& entry : report["agents"]) {
    if (!entry["installed"].get<bool>()) continue;
    EXPECT_EQ(entry["scope"], "user");
    EXPECT_TRUE(entry["protected"].get<bool>()) << entry.dump();
    EXPECT_TRUE(entry["user_can_edit"].get<bool>());
    EXPECT_EQ(entry["hooks"][0]["harmless"]["outcome"], "allowed");
    EXPECT_NE(entry["hooks"][0].value("build_tree_warning", "").find("build tree"),
              std::string::npos);
    destructive[entry["agent"]] = entry["hooks"][0]["destructive"]["outcome"];
  }
  EXPECT_EQ(destructive["claude"], "asked");
  EXPECT_EQ(destructive["cursor"], "asked");
  EXPECT_EQ(destructive["codex"], "blocked");
  EXPECT_EQ(destructive["gemini"], "blocked");
  std::map<std::string, json> checks;
  for (const json& c : report["checks"]) checks[c["id"]] = c;
  EXPECT_FALSE(checks["install"]["ok"].get<bool>());
  EXPECT_FALSE(checks["secrets"]["ok"].get<bool>());
  EXPECT_EQ(checks["secrets"]["fix"], "sudo dualkey setup");
  EXPECT_FALSE(checks["hooks"]["ok"].get<bool>()) << "a hook into a build tree must not pass";
}

TEST_F(TempHome, InstallWarnsWhenTheHookPointsIntoABuildTree) {
  std::string out = Install("claude");
  EXPECT_NE(out.find("is inside a build tree"), std::string::npos) << out;
}

TEST_F(TempHome, CodexManagedHooksAreAMarkedBlockThatComesOutAgain) {
  const fs::path requirements = home_ / "etc-codex/requirements.toml";
  const std::string admin = "# the administrator's\nallowed_approval_policies = [\"on-request\"]\n";
  Write(requirements, admin);
  InstallRequest request;
  request.agent = Agent::kCodex;
  request.binary = "/usr/local/bin/dualkey";
  request.config_path = requirements.string();
  CommandOutput first = hook::Install(request);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_TRUE(first.changed);
  const std::string installed = Read(requirements);
  EXPECT_EQ(installed.substr(0, admin.size()), admin);
  EXPECT_NE(installed.find("[[hooks.PreToolUse]]"), std::string::npos);
  EXPECT_NE(installed.find("command = '/usr/local/bin/dualkey hook codex'"), std::string::npos)
      << installed;
  CommandOutput again = hook::Install(request);
  EXPECT_FALSE(again.changed);
  EXPECT_EQ(Read(requirements), installed);
  request.uninstall = true;
  CommandOutput removed = hook::Install(request);
  EXPECT_TRUE(removed.changed);
  EXPECT_EQ(Read(requirements), admin);
  // A file whose hooks are in a form we do not edit is left alone.
  Write(requirements, "[hooks]\nPreToolUse = 3\n");
  request.uninstall = false;
  CommandOutput refused = hook::Install(request);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_EQ(Read(requirements), "[hooks]\nPreToolUse = 3\n");
}

TEST(HookInstall, HookBinaryReadsWhatHookCommandWrites) {
  for (const std::string binary : {"/usr/local/bin/dualkey", "/home/a b/dual'key"})
    EXPECT_EQ(HookBinary(HookCommand(binary, Agent::kClaude)), binary);
  EXPECT_EQ(BuildTreeWarning("/usr/local/bin/dualkey"), "");
  EXPECT_NE(BuildTreeWarning(DUALKEY_BINARY), "");
}

TEST_F(TempHome, DoctorCatchesABrokenHookCommand) {
  Write(home_ / ".claude/settings.json",
        "{\"hooks\":{\"PreToolUse\":[{\"matcher\":\"Bash\",\"hooks\":[{\"type\":\"command\","
        "\"command\":\"/nonexistent/dualkey hook claude\"}]}]}}");
  base::ProcessResult run = Run("doctor");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.out.find("failed-open (exit 127)"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("NOT PROTECTED"), std::string::npos);
}

TEST(HookInstall, HookCommandQuotesOddPaths) {
  EXPECT_EQ(HookCommand("/usr/local/bin/dualkey", Agent::kCodex),
            "/usr/local/bin/dualkey hook codex");
  EXPECT_EQ(HookCommand("/home/a b/dualkey", Agent::kClaude), "'/home/a b/dualkey' hook claude");
}

TEST(HookInstall, ParsesVersions) {
  EXPECT_EQ(ParseVersion("2.1.295 (Claude Code)"), (std::vector<int>{2, 1, 295}));
  EXPECT_EQ(ParseVersion("claude v10.0"), (std::vector<int>{10, 0}));
  EXPECT_TRUE(ParseVersion("none").empty());
}

}  // namespace
}  // namespace dualkey::hook
