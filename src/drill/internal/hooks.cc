// The battery through the agents' hooks: each attempt is the agent's own
// pre-tool-use JSON, given on stdin to the hook command exactly as the
// agent's config has it (`/bin/sh -c COMMAND`), run as the agent's user in
// the project directory, with `--probe` so that the daemon registers
// nothing and counts nothing. Nothing the attempt names is executed.
#include <unistd.h>

#include <mutex>
#include <thread>

#include "drill/internal/attempt.h"
#include "hook/install.h"

namespace dualkey::drill::internal {
namespace {

using nlohmann::json;

json ClaudeLike(hook::Agent agent, const std::string& tool, const json& input,
                const std::string& cwd) {
  json call{
      {"session_id", "dualkey-drill"}, {"transcript_path", nullptr},          {"cwd", cwd},
      {"permission_mode", "default"},  {"hook_event_name", "PreToolUse"},     {"tool_name", tool},
      {"tool_input", input},           {"tool_use_id", "toolu_dualkey_drill"}};
  if (agent == hook::Agent::kCodex) call["turn_id"] = "dualkey-drill";
  return call;
}

json Gemini(const std::string& tool, const json& input, const std::string& cwd) {
  return json{{"session_id", "dualkey-drill"},
              {"transcript_path", ""},
              {"cwd", cwd},
              {"hook_event_name", "BeforeTool"},
              {"timestamp", "2026-01-01T00:00:00Z"},
              {"tool_name", tool},
              {"tool_input", input}};
}

json CursorBase(const std::string& event, const std::string& cwd) {
  return json{{"conversation_id", "dualkey-drill"},
              {"generation_id", "dualkey-drill"},
              {"hook_event_name", event},
              {"workspace_roots", {cwd}},
              {"cwd", cwd}};
}

std::string Patch(const std::string& operation, const std::string& path,
                  const std::string& content) {
  std::string patch = "*** Begin Patch\n";
  if (operation == "delete") {
    patch += "*** Delete File: " + path + "\n";
  } else if (operation == "edit") {
    patch += "*** Update File: " + path + "\n@@\n-\n+" + content + "\n";
  } else {
    patch += "*** Add File: " + path + "\n";
    std::size_t start = 0;
    while (start <= content.size()) {
      std::size_t end = content.find('\n', start);
      if (end == std::string::npos) end = content.size();
      patch += "+" + content.substr(start, end - start) + "\n";
      start = end + 1;
    }
  }
  return patch + "*** End Patch";
}

}  // namespace

std::vector<AgentCall> AgentCalls(hook::Agent agent, const Case& c, const std::string& cwd,
                                  const std::string& home) {
  (void)home;
  const std::string agent_name(hook::ToString(agent));
  std::vector<AgentCall> calls;
  if (c.channel == "shell") {
    const std::string command = c.input.get<std::string>();
    json call;
    switch (agent) {
      case hook::Agent::kClaude:
      case hook::Agent::kCodex:
        call = ClaudeLike(agent, "Bash", json{{"command", command}}, cwd);
        break;
      case hook::Agent::kGemini:
        call = Gemini("run_shell_command", json{{"command", command}}, cwd);
        break;
      case hook::Agent::kCursor:
        call = CursorBase("beforeShellExecution", cwd);
        call["command"] = command;
        break;
    }
    calls.push_back({call.dump(), {{"shell", agent_name, command, cwd}}});
    return calls;
  }
  if (c.channel == "file") {
    const std::string path = c.input.value("path", "");
    const std::string operation = c.input.value("operation", "write");
    const std::string content = c.input.value("content", "");
    const AuditKey key{"file", agent_name, path, cwd};
    // What Claude's and Gemini's write and edit tools take.
    const json write_args{{"file_path", path}, {"content", content}};
    const json edit_args{
        {"file_path", path}, {"old_string", c.input.value("old", "")}, {"new_string", content}};
    switch (agent) {
      case hook::Agent::kClaude:
        if (operation == "write")
          calls.push_back({ClaudeLike(agent, "Write", write_args, cwd).dump(), {key}});
        else if (operation == "edit")
          calls.push_back({ClaudeLike(agent, "Edit", edit_args, cwd).dump(), {key}});
        break;  // no file-delete tool: a delete goes through Bash
      case hook::Agent::kCodex:
        calls.push_back({ClaudeLike(agent, "apply_patch",
                                    json{{"command", Patch(operation, path, content)}}, cwd)
                             .dump(),
                         {key}});
        break;
      case hook::Agent::kGemini:
        if (operation == "write")
          calls.push_back({Gemini("write_file", write_args, cwd).dump(), {key}});
        else if (operation == "edit")
          calls.push_back({Gemini("replace", edit_args, cwd).dump(), {key}});
        break;
      case hook::Agent::kCursor: {
        json call = CursorBase("preToolUse", cwd);
        call["tool_name"] = operation == "delete" ? "Delete"
                            : operation == "edit" ? "Edit"
                                                  : "Write";
        call["tool_input"] = json{{"file_path", path}, {"content", content}};
        calls.push_back({call.dump(), {key}});
        break;
      }
    }
    return calls;
  }
  if (c.channel == "mcp") {
    const std::string server = c.input.value("server", "");
    const std::string tool = c.input.value("tool", "");
    const json arguments = c.input.contains("arguments") ? c.input["arguments"] : json::object();
    const std::string audit_input =
        json{{"server", server}, {"tool", tool}, {"arguments", arguments}}.dump(
            -1, ' ', false, json::error_handler_t::replace);
    json call;
    switch (agent) {
      case hook::Agent::kClaude:
      case hook::Agent::kCodex:
        call = ClaudeLike(agent, "mcp__" + server + "__" + tool, arguments, cwd);
        break;
      case hook::Agent::kGemini:
        call = Gemini("mcp__" + server + "__" + tool, arguments, cwd);
        break;
      case hook::Agent::kCursor:
        call = CursorBase("beforeMCPExecution", cwd);
        call["tool_name"] = tool;
        call["tool_input"] = arguments;
        call["command"] = server;
        break;
    }
    calls.push_back({call.dump(), {{"mcp", agent_name, audit_input, cwd}}});
  }
  return calls;
}

std::vector<Attempt> RunHooks(const AgentInfo& agent, const std::vector<Case>& cases,
                              const Context& context) {
  const std::string agent_name(hook::ToString(agent.agent));
  struct Job {
    const Case* c;
    AgentCall call;
  };
  std::vector<Job> jobs;
  for (const Case& c : cases) {
    bool via_hooks = false;
    for (const std::string& v : c.via) via_hooks = via_hooks || v == kViaHooks;
    if (!via_hooks) continue;
    for (AgentCall& call :
         AgentCalls(agent.agent, c, c.cwd.empty() ? context.cwd : c.cwd, context.subject.home))
      jobs.push_back({&c, std::move(call)});
  }
  std::vector<Attempt> attempts(jobs.size());
  const std::vector<std::string> env = EnvironmentFor(context.subject);
  ForEach(
      jobs.size(), context.jobs,
      [&](std::size_t i) {
        const Job& job = jobs[i];
        Attempt& a = attempts[i];
        a.case_id = job.c->id;
        a.integration = agent_name + " hook";
        a.kind = "hook";
        a.channel = job.c->channel;
        a.section = job.c->section;
        a.destructive = job.c->destructive();
        a.input = OneLine(job.c->input.is_string() ? job.c->input.get<std::string>()
                                                   : job.c->input.dump());
        if (job.c->channel != "file")
          a.explain =
              job.c->input.is_string() ? job.c->input.get<std::string>() : job.c->input.dump();
        const std::string cwd = job.c->cwd.empty() ? context.cwd : job.c->cwd;
        bool any_held = false, any_allowed = false, every_failed_open = true;
        std::string decisions, errors;
        for (const HookTarget& target : agent.hooks) {
          Spawn spawn;
          // As the agent runs it; --probe: the daemon registers nothing.
          spawn.argv = {"/bin/sh", "-c", target.command + " --probe"};
          spawn.env = env;
          spawn.cwd = cwd;
          spawn.as = context.subject;
          spawn.die_with_parent = true;
          ProcessResult ran = base::Run(spawn, job.call.json, context.timeout_ms);
          std::string detail;
          const std::string outcome = hook::InterpretHookRun(
              agent.agent, ran.started, ran.timed_out, ran.exit_code, ran.out, ran.err, &detail);
          if (!ran.why.empty()) detail += " (" + ran.why + ")";
          const bool held = outcome == "blocked" || outcome == "asked";
          every_failed_open = every_failed_open && outcome == "failed-open";
          any_held = any_held || held;
          any_allowed = any_allowed || !held;
          if (!decisions.empty()) decisions += "; ";
          decisions += outcome + " (" + detail + ")";
          if (outcome == "failed-open" && !ran.err.empty()) errors = OneLine(ran.err, 200);
        }
        // The agent runs every hook: one that stops the call stops it.
        a.outcome = any_held ? Outcome::kHeld : Outcome::kAllowed;
        if (!any_held && !any_allowed) a.outcome = Outcome::kError;
        a.decision = decisions;
        a.detail = errors;
        // A hook that never got an answer from the daemon (it failed open
        // before asking) leaves nothing in the log: that is the broken
        // hook's finding, not a missing audit record.
        a.failed_open = every_failed_open && !agent.hooks.empty();
        if (!a.failed_open) a.audit = job.call.audit;
      },
      context.stop);
  return attempts;
}

}  // namespace dualkey::drill::internal
