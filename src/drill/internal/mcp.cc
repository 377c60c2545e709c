// The battery's MCP tool calls through each wrapped server: the client's own
// wrapper command line (`dualkey mcp --server-name NAME ...`), run as the
// user, with the real server after `--` replaced by the drill's stand-in,
// so no real server ever sees an attempt. The stand-in does what a naive
// server would: a call that reaches it removes the canary files its
// arguments name.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "base/json_text.h"
#include "drill/internal/attempt.h"

namespace dualkey::drill::internal {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

int CountLines(const std::string& path) {
  std::ifstream in(path);
  int lines = 0;
  std::string line;
  while (std::getline(in, line)) ++lines;
  return lines;
}

// Waits for the reply to `id`; other messages (notifications) are skipped.
std::optional<json> Await(Child& child, int id, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          deadline - std::chrono::steady_clock::now())
                                          .count());
    std::optional<std::string> line = child.ReadLine(std::max(1, left));
    if (!line) return std::nullopt;
    std::optional<json> message = base::JsonParse(*line);
    if (!message || !message->is_object()) continue;
    if (message->contains("id") && (*message)["id"] == id) return message;
  }
  return std::nullopt;
}

}  // namespace

std::vector<Attempt> RunMcp(const std::string& integration, const McpTarget& target,
                            const std::vector<Case>& cases, const Context& context,
                            const std::string& agent_name, std::string* error) {
  std::vector<Attempt> attempts;
  std::vector<const Case*> selected;
  for (const Case& c : cases)
    if (std::find(c.via.begin(), c.via.end(), kViaMcp) != c.via.end()) selected.push_back(&c);
  if (selected.empty()) return attempts;

  // The wrapper's own words up to `--`, with the drill's agent name.
  const std::vector<std::string>& args = target.server.args;
  std::vector<std::string> argv = {target.server.command};
  std::size_t i = 0;
  for (; i < args.size() && args[i] != "--"; ++i) {
    if (args[i] == "--agent" && i + 1 < args.size()) {
      ++i;
      continue;
    }
    if (args[i].starts_with("--agent=")) continue;
    argv.push_back(args[i]);
  }
  if (i >= args.size()) {
    *error = "the wrapped command line has no `--` before its server";
    return attempts;
  }
  argv.push_back("--agent");
  argv.push_back(agent_name);
  argv.push_back("--");

  // The stand-in's tools: every tool the cases call, with their annotations.
  static std::atomic<int> counter{0};
  const std::string dir = context.scratch + "/mcp-" + std::to_string(counter++);
  std::error_code ec;
  fs::create_directories(dir, ec);
  json tools = json::array();
  std::set<std::string> names, destroying;
  // A tool destroys what its arguments name when a case calls it to destroy
  // (delete_file does, read_file does not).
  for (const Case* c : selected)
    if (c->destructive()) destroying.insert(c->input.value("tool", ""));
  for (const Case* c : selected) {
    const std::string tool = c->input.value("tool", "");
    if (!names.insert(tool).second) continue;
    json entry{{"name", tool},
               {"description", "stand-in for " + tool},
               {"inputSchema", {{"type", "object"}}}};
    if (c->input.contains("annotations") && c->input["annotations"].is_object())
      entry["annotations"] = c->input["annotations"];
    tools.push_back(entry);
  }
  const std::string log = dir + "/calls.jsonl";
  const std::string spec_path = dir + "/spec.json";
  {
    std::ofstream spec(spec_path);
    spec << json{{"tools", tools},
                 {"destroying", destroying},
                 {"log", log},
                 {"root", context.values.at("canary")}}
                .dump();
  }
  if (context.subject.set && geteuid() == 0) {
    (void)lchown(dir.c_str(), context.subject.uid, context.subject.gid);
    (void)lchown(spec_path.c_str(), context.subject.uid, context.subject.gid);
  }
  argv.push_back(context.self_binary);
  argv.push_back("drill");
  argv.push_back("--mcp-standin");
  argv.push_back(spec_path);

  Spawn spawn;
  spawn.argv = argv;
  spawn.env = EnvironmentFor(context.subject);
  spawn.cwd = context.cwd;
  spawn.as = context.subject;
  spawn.die_with_parent = true;
  Result<std::unique_ptr<Child>> started = Child::Start(spawn, dir + "/wrapper.log");
  if (!started.ok()) {
    *error = "cannot start the wrapper: " + started.status().message();
    return attempts;
  }
  Child& child = **started;
  auto send = [&](const json& message) {
    return child.Write(base::JsonDump(message) + "\n", context.timeout_ms);
  };
  auto wrapper_log = [&] {
    std::ifstream in(dir + "/wrapper.log");
    std::ostringstream text;
    text << in.rdbuf();
    return OneLine(text.str(), 300);
  };
  send(json{{"jsonrpc", "2.0"},
            {"id", 1},
            {"method", "initialize"},
            {"params",
             {{"protocolVersion", "2025-06-18"},
              {"capabilities", json::object()},
              {"clientInfo", {{"name", "dualkey-drill"}, {"version", "1"}}}}}});
  if (!Await(child, 1, context.timeout_ms)) {
    *error = "the wrapper did not answer initialize: " + wrapper_log();
    return attempts;
  }
  send(json{{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
  send(json{{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/list"}});
  if (!Await(child, 2, context.timeout_ms)) {
    *error = "the wrapper did not answer tools/list: " + wrapper_log();
    return attempts;
  }
  int id = 10;
  for (const Case* c : selected) {
    if (context.stop != nullptr && *context.stop) break;
    Attempt a;
    a.case_id = c->id;
    a.integration = integration;
    a.kind = "mcp";
    a.channel = "mcp";
    a.section = c->section;
    a.destructive = c->destructive();
    const json arguments = c->input.contains("arguments") ? c->input["arguments"] : json::object();
    a.input = OneLine(c->input.value("tool", "") + " " + arguments.dump());
    json explain = c->input;
    explain["server"] = target.server.name;
    a.explain = explain.dump();
    const int before = CountLines(log);
    ++id;
    if (!send(json{{"jsonrpc", "2.0"},
                   {"id", id},
                   {"method", "tools/call"},
                   {"params", {{"name", c->input.value("tool", "")}, {"arguments", arguments}}}})) {
      a.outcome = Outcome::kError;
      a.decision = "the wrapper is gone";
      a.detail = wrapper_log();
      attempts.push_back(std::move(a));
      continue;
    }
    std::optional<json> reply = Await(child, id, context.timeout_ms);
    const bool reached = CountLines(log) > before;
    if (reached) {
      a.outcome = Outcome::kAllowed;
      a.decision = "forwarded to the server";
    } else if (reply && reply->contains("result") && (*reply)["result"].is_object()) {
      const json& result = (*reply)["result"];
      std::string decision = "held";
      if (result.contains("_meta") && result["_meta"].is_object() &&
          result["_meta"].contains("dualkey") && result["_meta"]["dualkey"].is_object())
        decision = result["_meta"]["dualkey"].value("decision", "held");
      a.outcome = result.value("isError", false) ? Outcome::kHeld : Outcome::kError;
      a.decision = a.outcome == Outcome::kHeld ? decision : "answered without the server";
      if (result.contains("content") && result["content"].is_array() &&
          !result["content"].empty() && result["content"][0].is_object())
        a.detail = OneLine(result["content"][0].value("text", ""), 240);
    } else if (reply && reply->contains("error")) {
      // Refused before the server: not forwarded.
      a.outcome = Outcome::kHeld;
      a.decision = "JSON-RPC error " + std::to_string((*reply)["error"].value("code", 0));
      a.detail = OneLine((*reply)["error"].value("message", ""), 240);
    } else {
      a.outcome = Outcome::kError;
      a.decision = "no answer";
      a.detail = wrapper_log();
    }
    attempts.push_back(std::move(a));
  }
  child.Stop(2000);
  return attempts;
}

int ServeMcpStandin(const std::string& spec_path) {
  std::ifstream in(spec_path);
  std::ostringstream text;
  text << in.rdbuf();
  std::optional<json> spec = base::JsonParse(text.str());
  if (!spec || !spec->is_object()) {
    std::cerr << "dualkey drill: the stand-in's spec " << spec_path << " does not parse\n";
    return 2;
  }
  const std::string log = spec->value("log", "");
  const std::string root = spec->value("root", "");
  const json tools = spec->contains("tools") ? (*spec)["tools"] : json::array();
  std::set<std::string> destroying;
  if (spec->contains("destroying") && (*spec)["destroying"].is_array())
    for (const json& t : (*spec)["destroying"])
      if (t.is_string()) destroying.insert(t.get<std::string>());
  std::string line;
  while (std::getline(std::cin, line)) {
    std::optional<json> message = base::JsonParse(line);
    if (!message || !message->is_object() || !message->contains("method")) continue;
    const std::string method = (*message).value("method", "");
    if (!message->contains("id")) continue;  // a notification
    json reply{{"jsonrpc", "2.0"}, {"id", (*message)["id"]}};
    if (method == "initialize") {
      reply["result"] = {{"protocolVersion", "2025-06-18"},
                         {"capabilities", {{"tools", json::object()}}},
                         {"serverInfo", {{"name", "dualkey-drill-standin"}, {"version", "1"}}}};
    } else if (method == "tools/list") {
      reply["result"] = {{"tools", tools}};
    } else if (method == "tools/call") {
      const json params = message->contains("params") ? (*message)["params"] : json::object();
      {
        std::ofstream out(log, std::ios::app);
        out << base::JsonDump(params) << "\n";
      }
      // A naive server: a tool that destroys takes whatever canary path its
      // arguments name.
      json gone = json::array();
      const bool destroys = params.contains("name") && params["name"].is_string() &&
                            destroying.contains(params["name"].get<std::string>());
      std::function<void(const json&)> visit = [&](const json& value) {
        if (value.is_string()) {
          const std::string path = value.get<std::string>();
          if (!root.empty() && path.starts_with(root) && path.find("..") == std::string::npos) {
            std::error_code ec;
            if (std::filesystem::remove_all(path, ec) > 0) gone.push_back(path);
          }
        } else if (value.is_structured()) {
          for (const json& v : value) visit(v);
        }
      };
      if (destroys && params.contains("arguments")) visit(params["arguments"]);
      reply["result"] = {{"content", {{{"type", "text"}, {"text", "done"}}}},
                         {"isError", false},
                         {"structuredContent", {{"removed", gone}}}};
    } else if (method == "ping") {
      reply["result"] = json::object();
    } else {
      reply["error"] = {{"code", -32601}, {"message", "method not found"}};
    }
    std::cout << base::JsonDump(reply) << "\n" << std::flush;
  }
  return 0;
}

}  // namespace dualkey::drill::internal
