#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/json_text.h"
#include "cli/commands.h"
#include "client/client.h"
#include "guard/guard.h"
#include "hook/hook.h"
#include "policy/policy.h"

namespace dualkey::cli {
namespace {

using nlohmann::json;

std::string HomeDirectory(const CheckOptions& options) {
  if (!options.home.empty()) return options.home;
  const char* home = std::getenv("HOME");
  return home != nullptr && *home == '/' ? home : "/root";
}

json ActionJson(const Action& action) {
  json out{{"class", action.op_class},
           {"targets", action.targets},
           {"reversible", action.reversibility == Reversibility::kReversible},
           {"reversibility", ToString(action.reversibility)},
           {"severity", ToString(action.severity)},
           {"reason", action.reason}};
  if (!action.origin.empty()) out["origin"] = action.origin;
  return out;
}

json ResultJson(const guard::Result& result) {
  json actions = json::array();
  for (const Action& action : result.verdict.actions) actions.push_back(ActionJson(action));
  json out{{"decision", ToString(result.verdict.decision)},
           {"reason", result.verdict.reason},
           {"actions", std::move(actions)}};
  if (!result.commands.empty()) {
    json commands = json::array();
    for (const auto& command : result.commands)
      commands.push_back(
          json{{"command", command.text}, {"cwd", command.cwd}, {"depth", command.depth}});
    out["commands"] = std::move(commands);
  }
  if (!result.parse_error.empty()) out["parse_error"] = result.parse_error;
  if (result.verdict.snapshot) out["snapshot"] = true;
  return out;
}

void PrintHuman(const guard::Request& request, const guard::Result& result) {
  std::cout << "input:    " << request.input << "\n";
  if (request.channel == Channel::kShell) {
    std::cout << "cwd:      " << (request.cwd.empty() ? "(unknown)" : request.cwd) << "\n";
    if (!result.parse_error.empty())
      std::cout << "parse:    error at " << result.parse_error << "\n";
    if (!result.commands.empty()) {
      std::cout << "runs:\n";
      for (const auto& command : result.commands)
        std::cout << "  " << std::string(2 * command.depth, ' ') << command.text << "\n";
    }
  }
  if (result.verdict.actions.empty()) {
    std::cout << "actions:  none\n";
  } else {
    std::cout << "actions:\n";
    for (const Action& action : result.verdict.actions) {
      std::cout << "  " << action.op_class;
      for (const std::string& target : action.targets) std::cout << "  " << target;
      std::cout << "  [" << ToString(action.reversibility) << ", " << ToString(action.severity)
                << "]\n      " << action.reason << "\n";
      if (!action.origin.empty()) std::cout << "      by " << action.origin << "\n";
    }
  }
  std::cout << "decision: " << ToString(result.verdict.decision) << " — " << result.verdict.reason
            << "\n";
}

// One case of a --jsonl file -> one output line. Never throws.
json CheckCase(const std::string& line, std::size_t line_number, const std::string& home) {
  auto error = [&](const std::string& message, json id) {
    return json{
        {"line", line_number}, {"id", std::move(id)}, {"decision", "hold"}, {"error", message}};
  };
  if (const std::size_t bad = base::FirstInvalidUtf8(line); bad != std::string::npos) {
    // Refused, not guessed at: the case's id is read with the bad bytes
    // replaced, so the answer can still be matched to it.
    std::optional<json> readable = base::JsonParse(base::ToValidUtf8(line));
    json id = readable && readable->is_object() && readable->contains("id") ? (*readable)["id"]
                                                                            : json(nullptr);
    return error(
        "the case is not valid UTF-8 (byte " + std::to_string(bad) + "); JSON cases are UTF-8 text",
        std::move(id));
  }
  json parsed = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) return error("not a JSON object", nullptr);
  json id = parsed.contains("id") ? parsed["id"] : json(nullptr);
  if (!parsed.contains("channel") || !parsed["channel"].is_string())
    return error("missing \"channel\" (shell, sql, http, mcp or file)", id);
  guard::Request request;
  if (!ParseChannel(parsed["channel"].get<std::string>(), &request.channel))
    return error("unknown channel \"" + parsed["channel"].get<std::string>() + "\"", id);
  if (!parsed.contains("input")) return error("missing \"input\"", id);
  const json& input = parsed["input"];
  // A command, a statement or a path is text; only a request or a tool call
  // (http, mcp) may come as the JSON object it is. Anything else is refused
  // and held: ["rm", "-rf", "/"] read as the text `["rm",...]` was allowed.
  const bool structured = request.channel == Channel::kHttp || request.channel == Channel::kMcp;
  if (!input.is_string() && !(structured && input.is_object()))
    return error(std::string("\"input\" must be a string") +
                     (structured ? " or a JSON object" : "") + " for the " +
                     parsed["channel"].get<std::string>() + " channel",
                 id);
  request.input = input.is_string() ? input.get<std::string>() : input.dump();
  if (parsed.contains("cwd") && parsed["cwd"].is_string()) request.cwd = parsed["cwd"];
  if (request.channel == Channel::kFile)
    request.file_operation = parsed.contains("operation") && parsed["operation"].is_string()
                                 ? parsed["operation"].get<std::string>()
                                 : "write";
  request.home = home;
  guard::Result result = guard::Check(request);
  json out{{"id", std::move(id)},
           {"decision", ToString(result.verdict.decision)},
           {"reason", result.verdict.reason}};
  for (const Action& action : result.verdict.actions) {
    if (IsDestructive(action) || result.verdict.decision == Decision::kAllow) {
      out["class"] = action.op_class;
      break;
    }
  }
  return out;
}

int RunJsonl(const CheckOptions& options) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (options.jsonl != "-") {
    file.open(options.jsonl);
    if (!file) {
      std::cerr << "dualkey check: cannot open " << options.jsonl << "\n";
      return 2;
    }
    in = &file;
  }
  const std::string home = HomeDirectory(options);
  std::string line;
  std::size_t line_number = 0;
  while (std::getline(*in, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json out;
    try {
      out = CheckCase(line, line_number, home);
    } catch (const std::exception& e) {
      // Fail closed: an internal error on one case still answers "hold",
      // under the case's id when it has one (as CheckCase's errors do).
      out = json{{"line", line_number}, {"decision", "hold"}, {"error", e.what()}};
      const json parsed = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_object() && parsed.contains("id")) out["id"] = parsed["id"];
    }
    std::cout << base::JsonDump(out) << "\n";
  }
  return 0;
}

}  // namespace

int RunCheck(const CheckOptions& options) {
  if (!options.jsonl.empty()) {
    if (!options.command.empty()) {
      std::cerr << "dualkey check: give either --jsonl FILE or a command after --, not both\n";
      return 2;
    }
    return RunJsonl(options);
  }
  if (options.command.empty()) {
    std::cerr << "dualkey check: nothing to check. Try: dualkey check -- 'rm -rf ./build'\n";
    return 2;
  }
  guard::Request request;
  if (!ParseChannel(options.channel, &request.channel)) {
    std::cerr << "dualkey check: unknown channel '" << options.channel
              << "' (shell, sql, http, mcp or file)\n";
    return 2;
  }
  if (request.channel == Channel::kFile) request.file_operation = options.operation;
  for (const std::string& word : options.command) {
    if (!request.input.empty()) request.input.push_back(' ');
    request.input += word;
  }
  request.cwd = options.cwd_given ? options.cwd : CurrentDirectory();
  if (!request.cwd.empty() && request.cwd[0] != '/') {
    std::cerr << "dualkey check: --cwd must be an absolute path\n";
    return 2;
  }
  request.home = HomeDirectory(options);
  guard::Result result;
  try {
    result = guard::Check(request);
  } catch (const std::exception& e) {
    result.verdict = Verdict{Decision::kHold, std::string("internal error: ") + e.what(), {}};
  }
  // With the daemon running, it decides (and audits, and registers a hold as
  // a pending approval the human can grant); --dry-run asks it what it would
  // do without any of that. client::Client finds it and says why not.
  // The agent is the daemon's to judge by; the local check above ran without one.
  client::CheckRequest ask = hook::CheckRequestFor(request);
  ask.action.agent = options.agent;
  std::optional<client::CheckReply> daemon_reply;
  std::optional<client::ProbeReply> probe;
  Status daemon_status = Status::NotFound("not asked (--local)");
  if (!options.local) {
    const client::Client client = client::Client::ForThisProcess();
    if (options.dry_run) {
      Result<client::ProbeReply> reply = client.Probe(ask);
      daemon_status = reply.ok() ? Status::Ok() : reply.status();
      if (reply.ok()) {
        probe = *reply;
        result.verdict.decision = reply->decision;
        result.verdict.reason = reply->reason;
      }
    } else {
      Result<client::CheckReply> reply = client.Check(ask);
      daemon_status = reply.ok() ? Status::Ok() : reply.status();
      if (reply.ok()) {
        daemon_reply = *reply;
        result.verdict.decision = reply->decision;
        result.verdict.reason = reply->reason;
      }
    }
    if (!daemon_status.ok() &&
        (client.protected_install() || !daemon_status.Is(Status::Code::kNotFound)))
      result.verdict = client::Unreachable(std::move(result.verdict), daemon_status);
  }
  if (options.json) {
    json out = ResultJson(result);
    if (daemon_reply && !daemon_reply->approval_id.empty()) {
      out["approval_id"] = daemon_reply->approval_id;
      out["code"] = daemon_reply->code;
      if (daemon_reply->reasked) out["reasked"] = true;
    }
    if (daemon_reply && daemon_reply->frozen) out["frozen"] = true;
    if (options.dry_run) {
      json dry{{"daemon", daemon_status.ok() ? std::string("asked")
                                             : "not asked: " + daemon_status.message()}};
      if (probe) {
        dry["would"] = probe->would;
        if (!probe->approval_id.empty()) dry["approval_id"] = probe->approval_id;
        dry["frozen"] = probe->frozen;
        dry["counts_for_breaker"] = probe->counts_for_breaker;
        dry["would_trip_breaker"] = probe->would_trip_breaker;
        dry["rate_limited"] = probe->rate_limited;
      }
      out["dry_run"] = std::move(dry);
    }
    std::cout << base::JsonDump(out) << "\n";
  } else {
    PrintHuman(request, result);
    if (daemon_reply && !daemon_reply->approval_id.empty() &&
        result.verdict.decision != Decision::kAllow)
      std::cout << "approval: " << daemon_reply->approval_id << " (code " << daemon_reply->code
                << (daemon_reply->reasked ? ", asked before" : "")
                << "): a human runs `dualkey approve " << daemon_reply->approval_id
                << "`, then the same command passes once\n";
    if (options.dry_run) {
      if (!probe) {
        std::cout << "dry run:  the daemon was not asked (" << daemon_status.message()
                  << "); this is the local decision\n";
      } else {
        static const std::map<std::string, std::string> kWould = {
            {"allow", "it would run"},
            {"hold", "it would stay held: the breaker froze this agent"},
            {"register", "a check would register a new pending approval"},
            {"reask", "a check would return the pending approval"},
            {"use_approval", "a check would use the approval waiting for it (once)"},
            {"deny", "a check would deny it"}};
        auto found = kWould.find(probe->would);
        std::cout << "dry run:  " << (found != kWould.end() ? found->second : probe->would);
        if (!probe->approval_id.empty()) std::cout << " (" << probe->approval_id << ")";
        if (probe->counts_for_breaker)
          std::cout << "; it would count toward the breaker"
                    << (probe->would_trip_breaker ? " and trip it" : "");
        if (probe->rate_limited) std::cout << "; the agent is over its rate limit";
        std::cout << ". Nothing was registered or counted.\n";
      }
    }
  }
  return result.verdict.decision == Decision::kAllow ? 0 : 1;
}

// `dualkey check`: the subcommand and its options.
std::unique_ptr<Command> NewCheckCommand() {
  class Check final : public Command {
   public:
    void Add(CLI::App& app) override {
      check_cmd = app.add_subcommand(
          "check",
          "Classify a command (or a file of cases) and print the decision.\n"
          "  dualkey check -- 'rm -rf ~/projects'       explain one shell command\n"
          "  dualkey check --json -- 'git push -f'      the same as one JSON object\n"
          "  dualkey check --channel sql -- 'DROP TABLE t'\n"
          "  dualkey check --channel http -- "
          "'{\"method\":\"DELETE\",\"url\":\"https://api.github.com/repos/o/r\"}'\n"
          "  dualkey check --channel mcp -- "
          "'{\"server\":\"pg\",\"tool\":\"query\",\"arguments\":{\"sql\":\"DROP TABLE t\"}}'\n"
          "  dualkey check --channel file --operation write -- ~/.bashrc\n"
          "  dualkey check --jsonl cases.jsonl          one JSON line per case\n"
          "  dualkey check --dry-run -- 'rm -rf build'  what the daemon would do; changes nothing\n"
          "What each channel reads (after --, or as a case's \"input\"):\n"
          "  shell  the command line\n"
          "  sql    the statement(s)\n"
          "  http   {\"method\", \"url\", \"headers\"?: {name: value}, \"body\"?: string}\n"
          "  mcp    {\"server\", \"tool\", \"arguments\": {...}, \"annotations\"?: "
          "{\"destructiveHint\",\n"
          "         \"readOnlyHint\"}}  (a tools/call as the MCP client sends it)\n"
          "  file   the path a file tool writes; --operation create, write, edit or delete\n"
          "A --jsonl case: {\"id\", \"channel\", \"input\", \"cwd\"?, \"operation\"?}.\n"
          "Exit status: 0 allow, 1 held or denied, 2 usage error.");
      check_cmd->add_option("--channel", check.channel, "shell (default), sql, http, mcp or file");
      check_cmd->add_option(
          "--operation", check.operation,
          "file channel: what the tool does to the path: create, write (default), "
          "edit or delete");
      check_cmd
          ->add_option("--cwd", check.cwd, "working directory the command runs in (default: here)")
          ->each([&](const std::string&) { check.cwd_given = true; });
      check_cmd->add_option("--home", check.home,
                            "home directory for ~ and $HOME (default: $HOME)");
      check_cmd->add_flag("--json", check.json, "print one JSON object instead of text");
      check_cmd->add_option("--jsonl", check.jsonl,
                            "read cases, one JSON object per line, from FILE ('-' for stdin)");
      check_cmd->add_option("command", check.command, "the command to check, after --");
      check_cmd->add_flag("--local", check.local, "decide here, without asking a running daemon");
      check_cmd->add_flag("--dry-run", check.dry_run,
                          "ask the daemon what it would do, changing nothing: no pending request, "
                          "no breaker or rate-limit count (audited as a probe)");
      check_cmd->add_option("--agent", check.agent,
                            "who asks (default: cli), for approvals and the breaker");
    }
    bool Parsed() const override { return check_cmd->parsed(); }
    int Run() override { return RunCheck(check); }

   private:
    CheckOptions check;
    CLI::App* check_cmd = nullptr;
  };
  return std::make_unique<Check>();
}

}  // namespace dualkey::cli
