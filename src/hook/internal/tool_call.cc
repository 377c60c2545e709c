#include "hook/internal/tool_call.h"

#include <sys/stat.h>

#include <algorithm>
#include <iterator>
#include <nlohmann/json.hpp>

#include "base/encoding.h"
#include "base/json_text.h"
#include "base/text.h"
#include "paths/paths.h"

namespace dualkey::hook::internal {
namespace {

using nlohmann::json;
using std::string_view;

constexpr int kMaxNesting = 64;
constexpr std::size_t kMaxPatchFiles = 256;

// Tools that only read or plan, per agent, allowed without classification.
// Anything not listed here and not a shell, file or MCP tool is held.
constexpr string_view kClaudeReadOnly[] = {
    "Read",
    "Grep",
    "Glob",
    "LS",
    "WebSearch",
    "WebFetch",
    "TodoWrite",
    "TodoRead",
    "Task",
    "Agent",
    "NotebookRead",
    "ExitPlanMode",
    "BashOutput",
    "KillShell",
    "KillBash",
    "ListMcpResourcesTool",
    "Skill",
    "SlashCommand",
    "AskUserQuestion",
    "ReadMcpResourceTool",
};
constexpr string_view kCodexReadOnly[] = {
    "update_plan", "view_image", "web_search", "read_file", "list_dir",
    "grep_files",  "Read",       "Grep",       "Glob",      "LS",
};
constexpr string_view kGeminiReadOnly[] = {
    "read_file",   "read_many_files",     "list_directory",
    "glob",        "search_file_content", "grep",
    "grep_search", "google_web_search",   "web_fetch",
    "save_memory", "write_todos",         "ls",
};
constexpr string_view kCursorReadOnly[] = {
    "Read",           "Grep",      "Glob",      "LS",       "ListDir",
    "ReadFile",       "Task",      "WebSearch", "WebFetch", "SemanticSearch",
    "CodebaseSearch", "ReadLints", "TodoWrite", "TodoRead",
};

// File-writing tools: name, the key holding the path, what they do to it.
struct FileTool {
  string_view name;
  string_view operation;  // "write" is refined to "create" for new files
};
constexpr FileTool kClaudeFileTools[] = {
    {"Write", "write"}, {"Edit", "edit"}, {"MultiEdit", "edit"}, {"NotebookEdit", "edit"}};
constexpr FileTool kGeminiFileTools[] = {
    {"write_file", "write"}, {"replace", "edit"}, {"edit", "edit"}};
constexpr FileTool kCursorFileTools[] = {
    {"Write", "write"},   {"Edit", "edit"},     {"StrReplace", "edit"},   {"MultiEdit", "edit"},
    {"TabWrite", "edit"}, {"Delete", "delete"}, {"DeleteFile", "delete"},
};
// Keys a tool may name its path by, most common first.
constexpr string_view kPathKeys[] = {"file_path",   "path",          "notebook_path",
                                     "target_file", "absolute_path", "filePath"};

template <std::size_t N>
const FileTool* FindFileTool(const FileTool (&table)[N], string_view name) {
  for (const FileTool& tool : table)
    if (tool.name == name) return &tool;
  return nullptr;
}

const std::string* StringField(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return nullptr;
  return it->get_ptr<const std::string*>();
}

bool DefaultPathExists(const std::string& path) {
  struct stat info;
  return lstat(path.c_str(), &info) == 0;
}

class Builder {
 public:
  Builder(Agent agent, const Environment& env) : agent_(agent), env_(env) {}

  ToolCall& call() { return call_; }

  bool Fail(std::string error) {
    call_.ok = false;
    call_.error = std::move(error);
    return false;
  }

  void AddShell(const std::string& command, std::string cwd) {
    guard::Request request = Base(std::move(cwd));
    request.channel = Channel::kShell;
    request.input = command;
    call_.requests.push_back(std::move(request));
  }

  // `operation` "write" becomes "create" when the file does not exist yet.
  void AddFile(const std::string& path, string_view operation, const std::string& cwd) {
    guard::Request request = Base(cwd);
    request.channel = Channel::kFile;
    request.input = path;
    request.file_operation = std::string(operation);
    if (operation == "write" && !path.empty()) {
      std::string absolute = path;
      if (absolute[0] == '~') {
        absolute = env_.home + absolute.substr(1);
      } else if (absolute[0] != '/' && !request.cwd.empty()) {
        absolute = request.cwd + "/" + absolute;
      }
      auto exists = env_.path_exists != nullptr ? env_.path_exists : &DefaultPathExists;
      if (!exists(absolute)) request.file_operation = "create";
    }
    call_.requests.push_back(std::move(request));
  }

  void AddMcp(const std::string& server, const std::string& tool, const json& arguments,
              const std::string& cwd) {
    guard::Request request = Base(cwd);
    request.channel = Channel::kMcp;
    json input{{"server", server}, {"tool", tool}, {"arguments", arguments}};
    request.input = input.dump(-1, ' ', false, json::error_handler_t::replace);
    call_.requests.push_back(std::move(request));
  }

  // A file tool: the path from the first known key.
  bool AddFileTool(const json& tool_input, string_view operation, const std::string& cwd) {
    for (string_view key : kPathKeys) {
      const std::string* path = StringField(tool_input, std::string(key).c_str());
      if (path != nullptr && !path->empty()) {
        AddFile(*path, operation, cwd);
        return true;
      }
    }
    return Fail("the " + call_.tool + " tool call has no file path");
  }

  bool AddPatch(const json& tool_input, const std::string& cwd) {
    const std::string* patch = StringField(tool_input, "command");
    if (patch == nullptr) patch = StringField(tool_input, "patch");
    if (patch == nullptr) patch = StringField(tool_input, "input");
    std::vector<PatchFile> files;
    if (patch == nullptr || !ParsePatchEnvelope(*patch, &files))
      return Fail("the apply_patch call carries no patch dualkey can read");
    if (files.size() > kMaxPatchFiles) return Fail("the patch touches too many files");
    for (const PatchFile& file : files) AddFile(file.path, file.operation, cwd);
    return true;
  }

  // "mcp__server__tool" -> server, tool. False for other names.
  static bool SplitMcpName(const std::string& name, std::string* server, std::string* tool) {
    if (!name.starts_with("mcp__")) return false;
    std::size_t split = name.find("__", 5);
    if (split == std::string::npos || split == 5 || split + 2 >= name.size()) return false;
    *server = name.substr(5, split - 5);
    *tool = name.substr(split + 2);
    return true;
  }

 private:
  guard::Request Base(std::string cwd) const {
    guard::Request request;
    request.cwd = std::move(cwd);
    request.home = env_.home;
    request.agent = std::string(ToString(agent_));
    return request;
  }

  Agent agent_;
  const Environment& env_;
  ToolCall call_;
};

// The working directory a call runs in: the agent's, else the process's.
std::string CwdOf(const json& root, const Environment& env) {
  const std::string* cwd = StringField(root, "cwd");
  if (cwd != nullptr && !cwd->empty() && (*cwd)[0] == '/') return *cwd;
  auto roots = root.find("workspace_roots");
  if (roots != root.end() && roots->is_array() && !roots->empty() && (*roots)[0].is_string()) {
    const auto& first = (*roots)[0].get_ref<const std::string&>();
    if (!first.empty() && first[0] == '/') return first;
  }
  return env.process_cwd;
}

// Claude Code, Codex and Gemini: the event they must send, then tool_name
// (into the call) and the tool_input object; nullptr, with `b` failed, when
// one of them is wrong or missing.
const json* ToolInput(const json& root, string_view event, Builder& b) {
  ToolCall& call = b.call();
  if (call.event != event) {
    b.Fail("unexpected hook event '" + call.event + "' (dualkey answers " + std::string(event) +
           ")");
    return nullptr;
  }
  const std::string* tool = StringField(root, "tool_name");
  if (tool == nullptr || tool->empty()) {
    b.Fail("the hook input has no tool_name");
    return nullptr;
  }
  call.tool = *tool;
  auto input_it = root.find("tool_input");
  if (input_it == root.end() || !input_it->is_object()) {
    b.Fail("the " + call.tool + " call has no tool_input object");
    return nullptr;
  }
  return &*input_it;
}

// Claude Code and Codex: PreToolUse, tool_name + tool_input.
bool ParseClaudeLike(Agent agent, const json& root, const Environment& env, Builder& b) {
  ToolCall& call = b.call();
  const json* input_object = ToolInput(root, "PreToolUse", b);
  if (input_object == nullptr) return false;
  const json& input = *input_object;
  const std::string cwd = CwdOf(root, env);

  if (call.tool == "Bash" || (agent == Agent::kCodex && call.tool == "shell")) {
    const std::string* command = StringField(input, "command");
    if (command == nullptr) return b.Fail("the Bash call has no command");
    b.AddShell(*command, cwd);
    return true;
  }
  if (call.tool == "apply_patch") return b.AddPatch(input, cwd);
  if (const FileTool* file_tool = FindFileTool(kClaudeFileTools, call.tool))
    return b.AddFileTool(input, file_tool->operation, cwd);
  std::string server, mcp_tool;
  if (Builder::SplitMcpName(call.tool, &server, &mcp_tool)) {
    b.AddMcp(server, mcp_tool, input, cwd);
    return true;
  }
  call.read_only = agent == Agent::kCodex ? base::InTable(kCodexReadOnly, call.tool)
                                          : base::InTable(kClaudeReadOnly, call.tool);
  call.unknown_tool = !call.read_only;
  return true;
}

bool ParseGemini(const json& root, const Environment& env, Builder& b) {
  ToolCall& call = b.call();
  const json* input_object = ToolInput(root, "BeforeTool", b);
  if (input_object == nullptr) return false;
  const json& input = *input_object;
  std::string cwd = CwdOf(root, env);

  if (call.tool == "run_shell_command") {
    const std::string* command = StringField(input, "command");
    if (command == nullptr) return b.Fail("the run_shell_command call has no command");
    // The tool may run in a subdirectory of the project.
    for (const char* key : {"dir_path", "directory"}) {
      const std::string* dir = StringField(input, key);
      if (dir == nullptr || dir->empty()) continue;
      cwd = (*dir)[0] == '/' ? paths::NormalizePath(*dir) : paths::NormalizePath(cwd + "/" + *dir);
      break;
    }
    b.AddShell(*command, cwd);
    return true;
  }
  if (const FileTool* file_tool = FindFileTool(kGeminiFileTools, call.tool))
    return b.AddFileTool(input, file_tool->operation, cwd);
  std::string server, mcp_tool;
  if (Builder::SplitMcpName(call.tool, &server, &mcp_tool)) {
    b.AddMcp(server, mcp_tool, input, cwd);
    return true;
  }
  call.read_only = base::InTable(kGeminiReadOnly, call.tool);
  call.unknown_tool = !call.read_only;
  return true;
}

// Cursor's tool_input is an object in some versions and a JSON string in others.
json CursorToolInput(const json& root) {
  auto it = root.find("tool_input");
  if (it == root.end()) return json::object();
  if (it->is_string()) {
    json parsed =
        json::parse(ReplaceLoneSurrogateEscapes(it->get_ref<const std::string&>()), nullptr, false);
    if (!parsed.is_discarded()) return parsed;
  }
  return *it;
}

bool ParseCursor(const json& root, const Environment& env, Builder& b) {
  ToolCall& call = b.call();
  const std::string cwd = CwdOf(root, env);
  if (call.event == "beforeShellExecution") {
    call.tool = "Shell";
    const std::string* command = StringField(root, "command");
    if (command == nullptr) return b.Fail("the beforeShellExecution input has no command");
    b.AddShell(*command, cwd);
    return true;
  }
  if (call.event == "beforeMCPExecution") {
    const std::string* tool = StringField(root, "tool_name");
    if (tool == nullptr || tool->empty()) return b.Fail("the MCP call has no tool_name");
    call.tool = *tool;
    std::string server, mcp_tool;
    if (!Builder::SplitMcpName(*tool, &server, &mcp_tool)) {
      // Cursor names the server by its URL or launch command.
      const std::string* url = StringField(root, "url");
      const std::string* command = StringField(root, "command");
      server = url != nullptr ? *url : command != nullptr ? *command : "";
      mcp_tool = *tool;
    }
    b.AddMcp(server, mcp_tool, CursorToolInput(root), cwd);
    return true;
  }
  if (call.event == "beforeReadFile") {
    call.tool = "Read";
    call.read_only = true;
    return true;
  }
  if (call.event == "preToolUse") {
    const std::string* tool = StringField(root, "tool_name");
    if (tool == nullptr || tool->empty()) return b.Fail("the hook input has no tool_name");
    call.tool = *tool;
    json input = CursorToolInput(root);
    if (call.tool == "Shell" || call.tool == "Bash" || call.tool == "run_terminal_cmd") {
      const std::string* command = StringField(input, "command");
      if (command == nullptr) return b.Fail("the " + call.tool + " call has no command");
      std::string shell_cwd = cwd;
      for (const char* key : {"cwd", "working_directory"}) {
        const std::string* dir = StringField(input, key);
        if (dir != nullptr && !dir->empty() && (*dir)[0] == '/') shell_cwd = *dir;
      }
      b.AddShell(*command, shell_cwd);
      return true;
    }
    if (const FileTool* file_tool = FindFileTool(kCursorFileTools, call.tool))
      return b.AddFileTool(input, file_tool->operation, cwd);
    std::string server, mcp_tool;
    if (Builder::SplitMcpName(call.tool, &server, &mcp_tool)) {
      b.AddMcp(server, mcp_tool, input, cwd);
      return true;
    }
    if (call.tool.starts_with("MCP:")) {
      b.AddMcp("", call.tool.substr(4), input, cwd);
      return true;
    }
    call.read_only = base::InTable(kCursorReadOnly, call.tool);
    call.unknown_tool = !call.read_only;
    return true;
  }
  return b.Fail("unexpected hook event '" + call.event +
                "' (dualkey answers beforeShellExecution, beforeMCPExecution and preToolUse)");
}

std::string_view TrimLine(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
    line.remove_suffix(1);
  return line;
}

}  // namespace

bool NestingWithin(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

bool ParsePatchEnvelope(std::string_view patch, std::vector<PatchFile>* files) {
  files->clear();
  bool begun = false;
  std::size_t pos = 0;
  while (pos <= patch.size()) {
    std::size_t end = patch.find('\n', pos);
    if (end == std::string_view::npos) end = patch.size();
    std::string_view line = TrimLine(patch.substr(pos, end - pos));
    pos = end + 1;
    // Leading spaces are tolerated: heredoc bodies are sometimes indented.
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line == "*** Begin Patch") {
      begun = true;
      continue;
    }
    if (!begun) continue;
    static constexpr struct {
      std::string_view marker;
      std::string_view operation;
    } kMarkers[] = {{"*** Add File: ", "write"},
                    {"*** Update File: ", "edit"},
                    {"*** Delete File: ", "delete"},
                    {"*** Move to: ", "write"}};
    for (const auto& entry : kMarkers) {
      if (!line.starts_with(entry.marker)) continue;
      std::string path(line.substr(entry.marker.size()));
      if (path.empty()) return false;
      if (entry.marker == "*** Move to: " && !files->empty()) {
        // The updated file leaves its old path: that path is deleted.
        files->back().operation = "delete";
      }
      files->push_back({std::move(path), std::string(entry.operation)});
      break;
    }
    if (files->size() > kMaxPatchFiles) return true;  // the caller refuses it
  }
  return begun && !files->empty();
}

namespace {

// The code unit of a "\uXXXX" escape starting at text[i] ('\\'), or -1.
int EscapedUnit(std::string_view text, std::size_t i) {
  if (i + 6 > text.size() || text[i] != '\\' || text[i + 1] != 'u') return -1;
  int value = 0;
  for (std::size_t k = i + 2; k < i + 6; ++k) {
    const int digit = base::HexValue(text[k]);
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

}  // namespace

std::string ReplaceLoneSurrogateEscapes(std::string_view json_text) {
  std::string out(json_text);
  bool in_string = false;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const char c = out[i];
    if (!in_string) {
      in_string = c == '"';
      continue;
    }
    if (c == '"') {
      in_string = false;
      continue;
    }
    if (c != '\\') continue;
    const int unit = EscapedUnit(out, i);
    if (unit < 0) {
      ++i;  // an escape of one character: skip it
      continue;
    }
    const bool high = unit >= 0xD800 && unit <= 0xDBFF;
    const bool low = unit >= 0xDC00 && unit <= 0xDFFF;
    if (high) {
      const int next = EscapedUnit(out, i + 6);
      if (next >= 0xDC00 && next <= 0xDFFF) {
        i += 11;  // a valid pair
        continue;
      }
    }
    if (high || low) out.replace(i + 2, 4, "fffd");
    i += 5;
  }
  return out;
}

ToolCall ParseToolCall(Agent agent, std::string_view raw_text, const Environment& env) {
  Builder builder(agent, env);
  ToolCall& call = builder.call();
  if (raw_text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    builder.Fail("the hook input is empty");
    return call;
  }
  if (const std::size_t bad = base::FirstInvalidUtf8(raw_text); bad != std::string_view::npos) {
    // Agents write JSON as UTF-8; these bytes were not written by one, and
    // what a replacement would show is not what would run.
    builder.Fail("the hook input is not valid UTF-8 (byte " + std::to_string(bad) +
                 "), so the call cannot be checked");
    return call;
  }
  if (!NestingWithin(raw_text, kMaxNesting)) {
    builder.Fail("the hook input nests too deeply");
    return call;
  }
  const std::string json_text = ReplaceLoneSurrogateEscapes(raw_text);
  json root = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    builder.Fail("the hook input is not valid JSON");
    return call;
  }
  if (!root.is_object()) {
    builder.Fail("the hook input is not a JSON object");
    return call;
  }
  const std::string* event = StringField(root, "hook_event_name");
  if (event == nullptr || event->empty()) {
    builder.Fail("the hook input has no hook_event_name");
    return call;
  }
  call.event = *event;
  call.ok = true;
  bool parsed = false;
  switch (agent) {
    case Agent::kClaude:
    case Agent::kCodex:
      parsed = ParseClaudeLike(agent, root, env, builder);
      break;
    case Agent::kGemini:
      parsed = ParseGemini(root, env, builder);
      break;
    case Agent::kCursor:
      parsed = ParseCursor(root, env, builder);
      break;
  }
  if (!parsed) call.ok = false;
  return call;
}

}  // namespace dualkey::hook::internal
