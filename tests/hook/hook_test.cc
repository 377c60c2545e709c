// The hook protocol logic: each agent's real stdin shapes in, exact exit
// code, stdout and stderr out; malformed input always blocks.
#include "hook/hook.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "hook/internal/tool_call.h"

namespace dualkey::hook {
namespace {

using nlohmann::json;

bool NothingExists(const std::string&) {
  return false;
}
bool EverythingExists(const std::string&) {
  return true;
}

Environment Env(bool files_exist = true) {
  Environment env;
  env.home = "/home/dev";
  env.process_cwd = "/home/dev/app";
  env.path_exists = files_exist ? &EverythingExists : &NothingExists;
  return env;
}

std::string Claude(const std::string& tool, const json& input, const char* event = "PreToolUse") {
  return json{
      {"session_id", "abc123"},   {"transcript_path", "/home/dev/.claude/projects/x/t.jsonl"},
      {"cwd", "/home/dev/app"},   {"permission_mode", "default"},
      {"hook_event_name", event}, {"tool_name", tool},
      {"tool_input", input},      {"tool_use_id", "toolu_01"}}
      .dump();
}
std::string ClaudeBash(const std::string& command) {
  return Claude("Bash", {{"command", command}, {"description", "x"}});
}
std::string Gemini(const std::string& tool, const json& input) {
  return json{{"session_id", "s"},
              {"transcript_path", "/t"},
              {"cwd", "/home/dev/app"},
              {"hook_event_name", "BeforeTool"},
              {"timestamp", "2025-01-01T00:00:00Z"},
              {"tool_name", tool},
              {"tool_input", input}}
      .dump();
}
std::string CursorShell(const std::string& command, const std::string& cwd) {
  return json{{"conversation_id", "c"},
              {"generation_id", "g"},
              {"hook_event_name", "beforeShellExecution"},
              {"workspace_roots", {"/home/dev/app"}},
              {"command", command},
              {"cwd", cwd}}
      .dump();
}

const std::string kDontWorkAround =
    "Do not try to reach the same result another way (another command, tool, script or path); "
    "tell the user what you wanted to do and why.";

TEST(HookAgent, Names) {
  Agent agent;
  ASSERT_TRUE(ParseAgent("gemini", &agent));
  EXPECT_EQ(agent, Agent::kGemini);
  EXPECT_FALSE(ParseAgent("Claude", &agent));
  EXPECT_EQ(ToString(Agent::kCursor), "cursor");
}

TEST(HookClaude, HarmlessBashIsAllowedSilently) {
  HookReply reply = Handle(Agent::kClaude, ClaudeBash("npm test"), Env());
  EXPECT_EQ(reply.exit_code, 0);
  EXPECT_EQ(reply.out, "");
  EXPECT_EQ(reply.err, "");
}

TEST(HookClaude, HeldBashAsksWithExactJson) {
  HookReply reply = Handle(Agent::kClaude, ClaudeBash("rm -rf ~"), Env());
  EXPECT_EQ(reply.exit_code, 0);
  EXPECT_EQ(reply.err, "");
  json out = json::parse(reply.out);
  EXPECT_EQ(out["hookSpecificOutput"]["hookEventName"], "PreToolUse");
  EXPECT_EQ(out["hookSpecificOutput"]["permissionDecision"], "ask");
  EXPECT_EQ(out["hookSpecificOutput"]["permissionDecisionReason"],
            "dualkey holds this for a human to approve: recursive delete of /home/dev (a home "
            "directory).");
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(reply.out.back(), '\n');
}

TEST(HookClaude, ScaryWordsAsDataPass) {
  EXPECT_EQ(Handle(Agent::kClaude, ClaudeBash("git commit -m 'rm -rf / is bad'"), Env()).exit_code,
            0);
  EXPECT_EQ(Handle(Agent::kClaude, ClaudeBash("grep -r 'DROP TABLE' src/"), Env()).out, "");
}

TEST(HookClaude, WriteOutsideProjectIsHeldInsideAllowed) {
  HookReply outside =
      Handle(Agent::kClaude,
             Claude("Write", {{"file_path", "/home/dev/notes.txt"}, {"content", "x"}}), Env(true));
  EXPECT_EQ(json::parse(outside.out)["hookSpecificOutput"]["permissionDecision"], "ask");
  // The same file when it does not exist yet: a create, allowed.
  EXPECT_EQ(
      Handle(Agent::kClaude,
             Claude("Write", {{"file_path", "/home/dev/notes.txt"}, {"content", "x"}}), Env(false))
          .out,
      "");
  EXPECT_EQ(Handle(Agent::kClaude,
                   Claude("Edit", {{"file_path", "/home/dev/app/src/a.cc"},
                                   {"old_string", "a"},
                                   {"new_string", "b"},
                                   {"replace_all", false}}),
                   Env())
                .exit_code,
            0);
}

TEST(HookClaude, MultiEditOfDualkeyPolicyIsHeld) {
  HookReply reply =
      Handle(Agent::kClaude,
             Claude("MultiEdit", {{"file_path", "/home/dev/app/.dualkey.toml"},
                                  {"edits", {{{"old_string", "hold"}, {"new_string", "allow"}}}}}),
             Env());
  EXPECT_EQ(json::parse(reply.out)["hookSpecificOutput"]["permissionDecision"], "ask");
}

TEST(HookClaude, ReadOnlyToolsPassUnclassified) {
  for (const char* tool : {"Read", "Grep", "Glob", "LS", "WebSearch", "TodoWrite"}) {
    HookReply reply = Handle(Agent::kClaude, Claude(tool, {{"pattern", "rm -rf /"}}), Env());
    EXPECT_EQ(reply.exit_code, 0) << tool;
    EXPECT_EQ(reply.out, "") << tool;
  }
}

TEST(HookClaude, UnknownToolIsHeld) {
  HookReply reply = Handle(Agent::kClaude, Claude("Teleport", {{"x", 1}}), Env());
  EXPECT_EQ(reply.exit_code, 0);
  EXPECT_EQ(json::parse(reply.out)["hookSpecificOutput"]["permissionDecisionReason"],
            "dualkey holds this for a human to approve: dualkey does not know the tool "
            "'Teleport', so it is held.");
}

TEST(HookClaude, McpToolIsHeldUntilTheMcpChannelExists) {
  HookReply reply =
      Handle(Agent::kClaude, Claude("mcp__github__delete_repository", {{"repo", "a/b"}}), Env());
  EXPECT_EQ(json::parse(reply.out)["hookSpecificOutput"]["permissionDecision"], "ask");
}

TEST(HookClaude, MalformedInputBlocksWithExitTwo) {
  struct Case {
    std::string input;
    std::string why;
  } cases[] = {
      {"", "the hook input is empty"},
      {"   \n", "the hook input is empty"},
      {"{not json", "the hook input is not valid JSON"},
      {"[1,2]", "the hook input is not a JSON object"},
      {"{}", "the hook input has no hook_event_name"},
      {Claude("Bash", {{"command", "ls"}}, "PostToolUse"),
       "unexpected hook event 'PostToolUse' (dualkey answers PreToolUse)"},
      {Claude("Bash", {{"cmd", "ls"}}), "the Bash call has no command"},
      {Claude("Bash", "ls"), "the Bash call has no tool_input object"},
      {Claude("Write", {{"content", "x"}}), "the Write tool call has no file path"},
      {json{{"hook_event_name", "PreToolUse"}, {"tool_input", json::object()}}.dump(),
       "the hook input has no tool_name"},
      {std::string(100, '[') + std::string(100, ']'), "the hook input nests too deeply"},
  };
  for (const Case& c : cases) {
    HookReply reply = Handle(Agent::kClaude, c.input, Env());
    EXPECT_EQ(reply.exit_code, 2) << c.input;
    EXPECT_EQ(reply.out, "") << c.input;
    EXPECT_EQ(reply.err, "dualkey could not check this tool call (" + c.why +
                             "), so it is blocked. " + kDontWorkAround + "\n")
        << c.input;
  }
}

TEST(HookClaude, OversizedInputBlocks) {
  std::string big = ClaudeBash(std::string(kMaxInputBytes, 'a'));
  HookReply reply = Handle(Agent::kClaude, big, Env());
  EXPECT_EQ(reply.exit_code, 2);
  EXPECT_NE(reply.err.find("larger than 1 MiB"), std::string::npos);
}

TEST(HookClaude, PathologicalCommandFinishesAndIsNotAllowed) {
  std::string nested;
  for (int i = 0; i < 5000; ++i) nested += "$(";
  HookReply reply = Handle(Agent::kClaude, ClaudeBash("echo " + nested), Env());
  EXPECT_FALSE(reply.exit_code == 0 && reply.out.empty());
}

TEST(HookCodex, HeldBlocksWithNonEmptyStderrNeverAsks) {
  HookReply reply = Handle(Agent::kCodex, ClaudeBash("git push --force origin main"), Env());
  EXPECT_EQ(reply.exit_code, 2);
  EXPECT_EQ(reply.out, "");
  EXPECT_TRUE(reply.err.starts_with(
      "dualkey blocked this: a human must approve this exact action first, and this agent cannot "
      "ask for approval: "));
  EXPECT_TRUE(reply.err.ends_with(kDontWorkAround + "\n"));
  EXPECT_EQ(reply.err.find("ask\""), std::string::npos);
}

TEST(HookCodex, AllowIsSilentNeverBareAllowJson) {
  HookReply reply = Handle(Agent::kCodex, ClaudeBash("ls -la"), Env());
  EXPECT_EQ(reply.exit_code, 0);
  EXPECT_EQ(reply.out, "");
}

TEST(HookCodex, ApplyPatchChecksEveryFile) {
  const std::string patch =
      "*** Begin Patch\n*** Update File: src/a.py\n@@\n-x\n+y\n*** Delete File: /etc/hosts\n"
      "*** End Patch\n";
  HookReply reply = Handle(Agent::kCodex, Claude("apply_patch", {{"command", patch}}), Env());
  EXPECT_EQ(reply.exit_code, 2);
  EXPECT_NE(reply.err.find("/etc/hosts"), std::string::npos);
  const std::string harmless =
      "*** Begin Patch\n*** Add File: src/new.py\n+print(1)\n*** End Patch\n";
  EXPECT_EQ(
      Handle(Agent::kCodex, Claude("apply_patch", {{"command", harmless}}), Env(false)).exit_code,
      0);
  EXPECT_EQ(Handle(Agent::kCodex, Claude("apply_patch", {{"command", "garbage"}}), Env()).exit_code,
            2);
}

TEST(HookPatch, ParsesEnvelope) {
  std::vector<internal::PatchFile> files;
  ASSERT_TRUE(internal::ParsePatchEnvelope(
      "*** Begin Patch\n*** Update File: a.txt\n*** Move to: b.txt\n@@\n-1\n+2\n"
      "*** Add File: c.txt\n+x\n*** End Patch",
      &files));
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].path, "a.txt");
  EXPECT_EQ(files[0].operation, "delete");
  EXPECT_EQ(files[1].path, "b.txt");
  EXPECT_EQ(files[1].operation, "write");
  EXPECT_EQ(files[2].operation, "write");
  EXPECT_FALSE(internal::ParsePatchEnvelope("*** Update File: a.txt\n", &files));
  // A marker inside an added file's content is still read as a marker: stricter, never looser.
}

TEST(HookGemini, ShellAllowAndBlock) {
  HookReply allow =
      Handle(Agent::kGemini, Gemini("run_shell_command", {{"command", "ls -la"}}), Env());
  EXPECT_EQ(allow.exit_code, 0);
  EXPECT_EQ(allow.out, "{}\n");
  EXPECT_EQ(allow.err, "");
  HookReply block =
      Handle(Agent::kGemini, Gemini("run_shell_command", {{"command", "rm -rf ~"}}), Env());
  EXPECT_EQ(block.exit_code, 2);
  EXPECT_EQ(block.out, "");
  EXPECT_EQ(block.err,
            "dualkey blocked this: a human must approve this exact action first, and this agent "
            "cannot ask for approval: recursive delete of /home/dev (a home directory). " +
                kDontWorkAround + "\n");
}

TEST(HookGemini, DirPathMovesTheWorkingDirectory) {
  // `rm -rf *` in the home itself is destructive; in a build directory it is not.
  HookReply home = Handle(
      Agent::kGemini,
      Gemini("run_shell_command", {{"command", "rm -rf *"}, {"dir_path", "/home/dev"}}), Env());
  EXPECT_EQ(home.exit_code, 2);
}

TEST(HookGemini, FileToolsAndReadOnly) {
  EXPECT_EQ(Handle(Agent::kGemini,
                   Gemini("write_file", {{"file_path", "/etc/passwd"}, {"content", ""}}), Env())
                .exit_code,
            2);
  EXPECT_EQ(Handle(Agent::kGemini,
                   Gemini("replace", {{"file_path", "/home/dev/app/a.ts"},
                                      {"old_string", "a"},
                                      {"new_string", "b"}}),
                   Env())
                .exit_code,
            0);
  EXPECT_EQ(Handle(Agent::kGemini, Gemini("read_file", {{"file_path", "/etc/shadow"}}), Env()).out,
            "{}\n");
  EXPECT_EQ(Handle(Agent::kGemini, Gemini("mcp__db__drop", json::object()), Env()).exit_code, 2);
  EXPECT_EQ(Handle(Agent::kGemini, ClaudeBash("ls"), Env()).exit_code, 2);  // wrong event
}

TEST(HookCursor, ShellAllowAskAndEmptyCwd) {
  HookReply allow = Handle(Agent::kCursor, CursorShell("npm install express", ""), Env());
  EXPECT_EQ(allow.exit_code, 0);
  EXPECT_EQ(allow.out, "{\"permission\":\"allow\"}\n");
  HookReply ask = Handle(Agent::kCursor, CursorShell("rm -rf ~", ""), Env());
  EXPECT_EQ(ask.exit_code, 0);
  EXPECT_EQ(ask.err, "");
  json out = json::parse(ask.out);
  EXPECT_EQ(out["permission"], "ask");
  EXPECT_EQ(out["user_message"],
            "dualkey holds this for a human to approve: recursive delete of /home/dev (a home "
            "directory).");
  EXPECT_EQ(out["agent_message"],
            "dualkey: a human must approve this exact action first: recursive delete of /home/dev "
            "(a home directory). " +
                kDontWorkAround);
  EXPECT_EQ(out.size(), 3u);
}

TEST(HookCursor, EmptyCwdFallsBackToWorkspaceRoot) {
  // `rm -rf build` is disposable inside the project root given by workspace_roots.
  EXPECT_EQ(Handle(Agent::kCursor, CursorShell("rm -rf build", ""), Env()).out,
            "{\"permission\":\"allow\"}\n");
}

TEST(HookCursor, McpWithStringToolInputIsHeld) {
  std::string input = json{{"hook_event_name", "beforeMCPExecution"},
                           {"workspace_roots", {"/home/dev/app"}},
                           {"tool_name", "database_query"},
                           {"tool_input", "{\"query\":\"DROP TABLE users\"}"},
                           {"url", "http://localhost:3000"}}
                          .dump();
  EXPECT_EQ(json::parse(Handle(Agent::kCursor, input, Env()).out)["permission"], "ask");
}

TEST(HookCursor, PreToolUseFileAndReadOnly) {
  auto pre = [](const std::string& tool, const json& input) {
    return json{{"hook_event_name", "preToolUse"},
                {"workspace_roots", {"/home/dev/app"}},
                {"tool_name", tool},
                {"tool_input", input}}
        .dump();
  };
  EXPECT_EQ(
      json::parse(Handle(Agent::kCursor, pre("Delete", {{"path", "/home/dev/.ssh/id_rsa"}}), Env())
                      .out)["permission"],
      "ask");
  EXPECT_EQ(Handle(Agent::kCursor, pre("Read", {{"path", "/etc/shadow"}}), Env()).out,
            "{\"permission\":\"allow\"}\n");
  EXPECT_EQ(Handle(Agent::kCursor, pre("Shell", {{"command", "ls"}}), Env()).exit_code, 0);
}

TEST(HookCursor, MalformedBlocksWithDenyJsonAndStderr) {
  HookReply reply = Handle(Agent::kCursor, "{\"hook_event_name\":\"beforeShellExecution\"}", Env());
  EXPECT_EQ(reply.exit_code, 2);
  json out = json::parse(reply.out);
  EXPECT_EQ(out["permission"], "deny");
  EXPECT_EQ(out["user_message"],
            "dualkey blocked a tool call it could not check: the beforeShellExecution input has "
            "no command.");
  EXPECT_EQ(reply.err, out["agent_message"].get<std::string>() + "\n");
  EXPECT_EQ(Handle(Agent::kCursor, "{\"hook_event_name\":\"stop\"}", Env()).exit_code, 2);
}

class FakeDaemon : public HoldResolver {
 public:
  explicit FakeDaemon(HoldTicket ticket) : ticket_(std::move(ticket)) {}
  HoldTicket Resolve(const guard::Request& request, const Verdict&) override {
    seen_ = request.input;
    return ticket_;
  }
  std::string seen_;

 private:
  HoldTicket ticket_;
};

TEST(HookResolver, PendingApprovalDeniesNamingTheId) {
  FakeDaemon daemon({HoldTicket::State::kPending, "ap-42"});
  Environment env = Env();
  env.resolver = &daemon;
  HookReply reply = Handle(Agent::kClaude, ClaudeBash("rm -rf ~"), env);
  EXPECT_EQ(daemon.seen_, "rm -rf ~");
  EXPECT_EQ(reply.exit_code, 2);
  EXPECT_EQ(reply.err,
            "dualkey holds this as approval ap-42: recursive delete of /home/dev (a home "
            "directory). A human must approve it (dualkey approve ap-42); then retry exactly the "
            "same call. Do not try to reach the same result another way.\n");
}

TEST(HookResolver, ApprovedRetryPasses) {
  FakeDaemon daemon({HoldTicket::State::kApproved, "ap-42"});
  Environment env = Env();
  env.resolver = &daemon;
  EXPECT_EQ(Handle(Agent::kCodex, ClaudeBash("rm -rf ~"), env).exit_code, 0);
}

TEST(HookFailure, FailureReplyPerAgent) {
  for (Agent agent : kAllAgents) {
    HookReply reply = FailureReply(agent, "x\ny");
    EXPECT_EQ(reply.exit_code, 2);
    EXPECT_EQ(reply.err, "dualkey could not check this tool call (x y), so it is blocked. " +
                             kDontWorkAround + "\n");
    EXPECT_EQ(reply.out.empty(), agent != Agent::kCursor);
  }
}

// Bytes that are not UTF-8 never crash the hook and never pass: the answer is
// a block that says why, for every agent.
TEST(HookBytes, InvalidUtf8AnywhereBlocksWithAClearReason) {
  const std::string inputs[] = {
      ClaudeBash("ls") + "\xff",
      "{\"hook_event_name\":\"PreToolUse\",\"tool_name\":\"Bash\",\"tool_input\":"
      "{\"command\":\"rm -rf /srv/\xc3\"}}",
      "\xef\xbb\xbf\xfe" + ClaudeBash("ls"),
  };
  for (Agent agent : kAllAgents) {
    for (const std::string& input : inputs) {
      HookReply reply;
      ASSERT_NO_THROW(reply = Handle(agent, input, Env())) << ToString(agent);
      EXPECT_EQ(reply.exit_code, 2) << ToString(agent) << " " << input;
      EXPECT_NE(reply.err.find("is not valid UTF-8 (byte"), std::string::npos) << reply.err;
      EXPECT_TRUE(nlohmann::json::accept(reply.out) || reply.out.empty()) << reply.out;
    }
  }
}

// JavaScript agents write a lone surrogate as an escape; what runs then holds
// U+FFFD in its place, and that is what is classified.
TEST(HookBytes, LoneSurrogateEscapesAreReadAsReplacementCharacters) {
  const std::string held =
      "{\"session_id\":\"s\",\"cwd\":\"/home/dev/app\",\"hook_event_name\":"
      "\"PreToolUse\",\"tool_name\":\"Bash\",\"tool_input\":{\"command\":"
      "\"rm -rf /home/dev/app/src/\\udc80x\"}}";
  HookReply reply = Handle(Agent::kClaude, held, Env());
  EXPECT_NE(reply.out.find("\"ask\""), std::string::npos) << reply.out << reply.err;
  const std::string harmless =
      "{\"session_id\":\"s\",\"cwd\":\"/home/dev/app\",\"hook_event_name\":"
      "\"PreToolUse\",\"tool_name\":\"Bash\",\"tool_input\":{\"command\":"
      "\"echo \\ud83d\\ude00 \\ud800\"}}";
  reply = Handle(Agent::kClaude, harmless, Env());
  EXPECT_EQ(reply.exit_code, 0) << reply.err;
  EXPECT_EQ(reply.out, "");
  EXPECT_EQ(internal::ReplaceLoneSurrogateEscapes(R"({"a":"\ud800\\ud800\udc00x\ud83d\ude00"})"),
            R"({"a":"\ufffd\\ud800\ufffdx\ud83d\ude00"})");
  EXPECT_EQ(internal::ReplaceLoneSurrogateEscapes(R"({"\udbff":1})"), R"({"\ufffd":1})");
}

TEST(HookInternal, NestingCheckIgnoresStrings) {
  EXPECT_TRUE(internal::NestingWithin("{\"a\":\"[[[[[[[[[[\"}", 2));
  EXPECT_FALSE(internal::NestingWithin("[[[", 2));
  EXPECT_TRUE(internal::NestingWithin("{\"a\\\"[[[\":1}", 1));
}

}  // namespace
}  // namespace dualkey::hook

namespace dualkey::hook {
namespace {

// Observe mode: the call runs, and what would have been held is written down.
TEST(HookObserve, AllowsAndRecordsWhatWouldBeHeld) {
  namespace fs = std::filesystem;
  fs::path home =
      fs::path(DUALKEY_BINARY).parent_path() / ("observe-home-" + std::to_string(getpid()));
  fs::remove_all(home);
  fs::create_directories(home / ".config/dualkey");
  std::ofstream(home / ".config/dualkey/policy.toml") << "mode = \"observe\"\n";
  Environment env = Env();
  env.home = home.string();
  env.observe_log = (home / "state/observe.jsonl").string();

  std::string input = json{{"session_id", "s"},
                           {"hook_event_name", "PreToolUse"},
                           {"tool_name", "Bash"},
                           {"cwd", home.string()},
                           {"tool_input", {{"command", "rm -rf /srv/data"}}}}
                          .dump();
  HookReply reply = Handle(Agent::kClaude, input, env);
  EXPECT_EQ(reply.exit_code, 0);
  EXPECT_EQ(reply.out, "");
  std::ifstream log(env.observe_log);
  std::string line;
  ASSERT_TRUE(std::getline(log, line)) << "nothing recorded";
  json record = json::parse(line);
  EXPECT_EQ(record["would"], "hold");
  EXPECT_EQ(record["input"], "rm -rf /srv/data");
  EXPECT_EQ(record["agent"], "claude");

  // A harmless call records nothing.
  std::string harmless = json{
      {"session_id", "s"},
      {"hook_event_name", "PreToolUse"},
      {"tool_name", "Bash"},
      {"cwd", home.string()},
      {"tool_input",
       {{"command", "ls"}}}}.dump();
  EXPECT_EQ(Handle(Agent::kClaude, harmless, env).exit_code, 0);
  EXPECT_FALSE(std::getline(log, line));
  fs::remove_all(home);
}

}  // namespace
}  // namespace dualkey::hook
