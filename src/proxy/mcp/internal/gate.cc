#include "proxy/mcp/internal/gate.h"

#include <chrono>
#include <iostream>

#include "base/json_text.h"
#include "guard/guard.h"

namespace dualkey::mcpproxy::internal {
namespace {

using nlohmann::json;

// Deeper JSON is refused: nothing in MCP nests like that, and deep values
// cost stack in every parser and printer downstream.
constexpr int kMaxDepth = 64;
// A server listing more tools than this is not remembered past the limit
// (the calls are still classified, without annotations).
constexpr std::size_t kMaxToolsPerSession = 10000;
constexpr std::size_t kMaxSessions = 4096;

std::string Basename(const std::string& path) {
  std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool HasId(const json& message) {
  return message.contains("id");
}

// What the classifier is told about a tool's annotations: only the hints it
// reads, as booleans. A destructiveHint that is present but not a boolean
// ("yes", 1) counts as true: the server meant something by it. readOnlyHint
// only ever counts when it is exactly true (it is never trusted alone).
json NormalizeAnnotations(const json& annotations) {
  json out = json::object();
  auto destructive = annotations.find("destructiveHint");
  if (destructive != annotations.end() && !destructive->is_null())
    out["destructiveHint"] = !destructive->is_boolean() || destructive->get<bool>();
  auto read_only = annotations.find("readOnlyHint");
  if (read_only != annotations.end() && read_only->is_boolean())
    out["readOnlyHint"] = read_only->get<bool>();
  return out;
}

// A JSON-RPC id from a message that is not valid UTF-8, read with
// replacement: a number, or a string the replacement did not touch (anything
// else would not match the id the client sent). Null otherwise.
json RecoverId(std::string_view text) {
  std::optional<json> parsed = base::JsonParse(base::ToValidUtf8(text));
  if (!parsed || !parsed->is_object()) return nullptr;
  auto id = parsed->find("id");
  if (id == parsed->end()) return nullptr;
  if (id->is_number_integer()) return *id;
  if (id->is_string() &&
      id->get_ref<const std::string&>().find("\xEF\xBF\xBD") == std::string::npos &&
      text.find(id->get_ref<const std::string&>()) != std::string_view::npos)
    return *id;
  return nullptr;
}

}  // namespace

std::string ServerTextForReading(std::string_view text) {
  return base::IsValidUtf8(text) ? std::string(text) : base::ToValidUtf8(text);
}

bool ParseStrict(std::string_view text, json* out, std::string* error) {
  if (const std::size_t bad = base::FirstInvalidUtf8(text); bad != std::string_view::npos) {
    *error = "the message is not valid UTF-8 (byte " + std::to_string(bad) + ")";
    return false;
  }
  std::vector<std::set<std::string>> keys;
  std::string problem;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (!problem.empty()) return false;
    switch (event) {
      case json::parse_event_t::object_start:
        if (depth >= kMaxDepth) problem = "JSON nested deeper than " + std::to_string(kMaxDepth);
        keys.emplace_back();
        break;
      case json::parse_event_t::array_start:
        if (depth >= kMaxDepth) problem = "JSON nested deeper than " + std::to_string(kMaxDepth);
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second)
          problem = "duplicate key \"" + parsed.get<std::string>() + "\" in one object";
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      default:
        break;
    }
    return problem.empty();
  };
  try {
    *out = json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true);
  } catch (const json::exception& e) {
    // The parser quotes what it last read; keep the message printable.
    *error = problem.empty() ? base::ToValidUtf8(e.what()) : problem;
    return false;
  }
  if (!problem.empty()) {
    *error = problem;
    return false;
  }
  return true;
}

json ErrorReply(const json& id, int code, const std::string& message) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
}

Gate::Gate(GateConfig config, policy::Policy policy)
    : config_(std::move(config)), policy_(std::move(policy)) {
  // No socket configured means no daemon, except on a protected install,
  // whose daemon is always asked (client::Client finds it).
  client::Client client = client::Client::ForThisProcess(
      client::ClientOptions{config_.socket_path, config_.daemon_timeout_ms});
  if (!config_.socket_path.empty() || client.protected_install()) {
    daemon_.emplace(client);
    reporter_ = std::make_unique<client::DecisionReporter>(
        client, client::ReporterOptions{.source = "mcp_proxy"});
  }
}

bool Gate::ReportLocal(const guard::Request& ask, const Verdict& verdict, Decision decision,
                       bool forwarded, std::int64_t added_us, const std::string& reason) {
  if (!reporter_) return true;  // no daemon: no log to write to
  return reporter_->ReportLocal({Channel::kMcp, ask.input, ask.cwd, ask.agent}, verdict, decision,
                                forwarded, added_us, reason);
}

std::string Gate::ServerName() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!config_.server_name.empty()) return config_.server_name;
  if (!learned_server_name_.empty()) return learned_server_name_;
  return Basename(config_.fallback_server_name);
}

void Gate::Log(const std::string& line) {
  if (config_.verbose) std::cerr << "dualkey mcp: " << line << "\n";
}

std::string Gate::ChannelInput(const json& params, const std::string& session) {
  const std::string tool = params["name"].get<std::string>();
  json input{{"server", ServerName()}, {"tool", tool}};
  auto arguments = params.find("arguments");
  input["arguments"] =
      arguments != params.end() && arguments->is_object() ? *arguments : json::object();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = sessions_.find(session);
    if (found != sessions_.end()) {
      if (!found->second.tools_unreadable.empty()) {
        // The server's word on its tools could not be read: assume the worst.
        input["annotations"] = json{{"destructiveHint", true}};
      } else {
        auto annotations = found->second.annotations.find(tool);
        if (annotations != found->second.annotations.end())
          input["annotations"] = annotations->second;
      }
    }
  }
  return base::JsonDump(input);
}

json Gate::HeldResult(const json& id, const std::string& text, const json& meta) {
  return json{{"jsonrpc", "2.0"},
              {"id", id},
              {"result",
               {{"content", json::array({{{"type", "text"}, {"text", text}}})},
                {"isError", true},
                {"_meta", {{"dualkey", meta}}}}}};
}

CallDecision Gate::DecideCall(const json& request, const std::string& session) {
  CallDecision decision;
  const json id = HasId(request) ? request["id"] : json();
  auto params = request.find("params");
  bool valid = params != request.end() && params->is_object();
  if (valid) {
    auto name = params->find("name");
    auto arguments = params->find("arguments");
    valid = name != params->end() && name->is_string() &&
            !name->get_ref<const std::string&>().empty() &&
            (arguments == params->end() || arguments->is_object() || arguments->is_null());
  }
  if (!valid) {
    Log("refused a tools/call without params {name, arguments}");
    decision.reply = ErrorReply(id, kInvalidParams,
                                "dualkey: a tools/call needs params {\"name\": string, "
                                "\"arguments\": object}; it was not forwarded");
    return decision;
  }

  const std::string input = ChannelInput(*params, session);
  const std::string server_name = ServerName();
  const std::string agent = config_.agent.empty() ? "mcp:" + server_name : config_.agent;
  guard::Request guard_request;
  guard_request.channel = Channel::kMcp;
  guard_request.input = input;
  guard_request.cwd = config_.cwd;
  guard_request.home = config_.home;
  guard_request.agent = agent;
  const auto deciding = std::chrono::steady_clock::now();
  Verdict verdict;
  try {
    verdict = guard::Check(guard_request, policy_).verdict;
  } catch (const std::exception& e) {
    // A classifier bug is no reason to forward (or to crash every session).
    verdict = Verdict{Decision::kHold,
                      "dualkey could not classify this call (" + base::ToValidUtf8(e.what()) + ")",
                      {}};
  }
  if (verdict.Enforced() == Decision::kAllow) {
    const auto added = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - deciding);
    if (ReportLocal(guard_request, verdict, Decision::kAllow, /*forwarded=*/true, added.count())) {
      Log("allow " + input);
      decision.forward = true;
      return decision;
    }
    // Nothing destroys without a record: held until the daemon takes it.
    const std::string why =
        "the policy allows it, but its decision cannot be recorded in the audit log now (the "
        "dualkey daemon is unreachable or the audit queue is full)";
    ReportLocal(guard_request, verdict, Decision::kHold, /*forwarded=*/false, -1, why);
    Log("hold (audit unavailable) " + input);
    decision.reply = HeldResult(id, "dualkey held this call: " + why + "; retry it later.",
                                json{{"decision", "hold"}, {"reason", why}});
    return decision;
  }

  json meta{{"decision", ToString(verdict.decision)}, {"reason", verdict.reason}};
  if (!daemon_) {
    meta["daemon"] = "not configured";
    Log("hold (no daemon) " + input);
    decision.reply =
        HeldResult(id,
                   "dualkey held this call: " + verdict.reason +
                       ". No dualkey daemon is configured, so no approval can be requested; "
                       "a human must start `dualkey serve`, then approve the call.",
                   meta);
    return decision;
  }
  client::CheckRequest ask;
  ask.action.channel = Channel::kMcp;
  ask.action.input = input;
  ask.action.cwd = config_.cwd;
  ask.action.agent = agent;
  ask.home = config_.home;
  Result<client::CheckReply> reply = daemon_->Check(ask);
  if (!reply.ok()) {
    const std::string error = reply.status().message();
    meta["daemon"] = "unreachable: " + error;
    Log("hold (daemon unreachable: " + error + ") " + input);
    ReportLocal(guard_request, verdict, Decision::kHold, /*forwarded=*/false, -1,
                "the daemon could not be reached: " + error);
    decision.reply = HeldResult(
        id,
        "dualkey held this call: " + verdict.reason +
            ". The dualkey daemon could not be reached (" + error +
            "), so no approval could be requested; a human must start `dualkey serve`, and "
            "approve the call when it is retried.",
        meta);
    return decision;
  }
  const Decision daemon_decision = reply->decision;
  const std::string reason = reply->reason.empty() ? verdict.reason : reply->reason;
  meta["decision"] = ToString(daemon_decision);
  meta["reason"] = reason;
  if (daemon_decision == Decision::kAllow) {
    Log(std::string(reply->approved ? "allow (approved, once) " : "allow (daemon) ") + input);
    decision.forward = true;
    return decision;
  }
  if (daemon_decision == Decision::kDeny) {
    Log("deny " + input);
    decision.reply = HeldResult(id, "dualkey denied this call: " + reason, meta);
    return decision;
  }
  const std::string approval_id = reply->approval_id;
  if (approval_id.empty()) {
    Log("hold " + input);
    decision.reply = HeldResult(id, "dualkey held this call: " + reason, meta);
    return decision;
  }
  const std::string code = reply->code;
  meta["approval_id"] = approval_id;
  if (!code.empty()) meta["code"] = code;
  Log("hold " + approval_id + " " + input);
  std::string text = "dualkey held this call: " + reason + ". Approval id " + approval_id;
  if (!code.empty()) text += " (code " + code + ")";
  text += daemon_decision == Decision::kHold2
              ? ": two humans must approve it, each with `dualkey approve "
              : ": a human must approve it with `dualkey approve ";
  text += approval_id + "`; after that the identical call passes once. Do not retry before then.";
  decision.reply = HeldResult(id, text, meta);
  return decision;
}

ClientMessage Gate::FromClient(std::string_view text, const std::string& session) {
  ClientMessage out;
  json parsed;
  std::string error;
  if (!ParseStrict(text, &parsed, &error)) {
    // Not valid UTF-8: refused (what the server would read of it is anyone's
    // guess), but answered under its id when that can be read, so the
    // client is not left waiting.
    const json id = base::IsValidUtf8(text) ? json(nullptr) : RecoverId(text);
    out.replies.push_back(
        ErrorReply(id, kParseError, "Parse error (dualkey): " + error + "; not forwarded"));
    return out;
  }
  if (parsed.is_array() && parsed.empty()) {
    out.replies.push_back(ErrorReply(nullptr, kInvalidRequest, "Invalid Request: an empty batch"));
    return out;
  }
  const bool batch = parsed.is_array();
  out.batch = batch;
  std::vector<json> messages;
  if (batch)
    messages = parsed.get<std::vector<json>>();
  else
    messages.push_back(std::move(parsed));

  bool changed = false;  // something in it is not forwarded
  json kept = json::array();
  for (json& message : messages) {
    const bool is_request =
        message.is_object() && message.contains("method") && message["method"].is_string();
    const bool is_response = message.is_object() && HasId(message) &&
                             (message.contains("result") || message.contains("error"));
    if (!is_request && !is_response) {
      changed = true;
      out.replies.push_back(ErrorReply(
          message.is_object() && HasId(message) ? message["id"] : json(), kInvalidRequest,
          "Invalid Request (dualkey): not a JSON-RPC request, "
          "notification or response; not forwarded"));
      continue;
    }
    if (is_request) {
      const std::string& method = message["method"].get_ref<const std::string&>();
      if (method == "tools/call") {
        CallDecision decision = DecideCall(message, session);
        if (!decision.forward) {
          changed = true;
          if (HasId(message)) out.replies.push_back(std::move(decision.reply));
          continue;
        }
      } else if (HasId(message) && (method == "tools/list" || method == "initialize")) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (sessions_.size() < kMaxSessions || sessions_.count(session)) {
          Session& state = sessions_[session];
          if (method == "tools/list") {
            auto params = message.find("params");
            const bool first_page = params == message.end() || !params->is_object() ||
                                    !params->contains("cursor") || (*params)["cursor"].is_null();
            state.tools_list_ids[message["id"].dump()] = first_page;
          } else {
            state.initialize_ids.insert(message["id"].dump());
          }
        }
      }
      if (HasId(message)) out.forwarded_ids.push_back(message["id"].dump());
    }
    kept.push_back(std::move(message));
  }
  if (!changed)
    out.forward = std::string(text);
  else if (!kept.empty())
    out.forward = base::JsonDump(batch ? kept : kept.front());
  return out;
}

void Gate::MarkUnreadable(Session& session, const std::string& why) {
  if (session.tools_unreadable.empty())
    Log("the server's tool list could not be read (" + why +
        "); every tool counts as destructive until it can be");
  session.tools_unreadable = why;
}

void Gate::LearnFromResponse(const json& response, Session& session) {
  const std::string id = response["id"].dump();
  auto result = response.find("result");
  auto listed = session.tools_list_ids.find(id);
  if (listed != session.tools_list_ids.end()) {
    const bool first_page = listed->second;
    session.tools_list_ids.erase(listed);
    if (response.contains("error") && result == response.end()) {
      // An error answer lists nothing; what was known stays as it was.
    } else if (result == response.end() || !result->is_object() || !result->contains("tools") ||
               !(*result)["tools"].is_array()) {
      MarkUnreadable(session, "a tools/list answer without a tools array");
    } else {
      bool complete = true;
      for (const json& tool : (*result)["tools"]) {
        if (!tool.is_object() || !tool.contains("name") || !tool["name"].is_string()) continue;
        const std::string& name = tool["name"].get_ref<const std::string&>();
        if (session.annotations.size() >= kMaxToolsPerSession && !session.annotations.count(name)) {
          complete = false;  // not remembered: its hint would be lost
          continue;
        }
        auto annotations = tool.find("annotations");
        if (annotations != tool.end() && annotations->is_object())
          session.annotations[name] = NormalizeAnnotations(*annotations);
        else if (annotations != tool.end() && !annotations->is_null())
          session.annotations[name] = json{{"destructiveHint", true}};  // unreadable annotations
        else
          session.annotations.erase(name);
      }
      if (!complete)
        MarkUnreadable(session, "more than " + std::to_string(kMaxToolsPerSession) + " tools");
      else if (first_page)
        session.tools_unreadable.clear();  // a fresh list, read whole
    }
  }
  if (session.initialize_ids.erase(id) > 0 && result != response.end() && result->is_object()) {
    auto info = result->find("serverInfo");
    if (info != result->end() && info->is_object() && info->contains("name") &&
        (*info)["name"].is_string() && config_.server_name.empty() && learned_server_name_.empty())
      learned_server_name_ = (*info)["name"].get<std::string>();
  }
}

std::vector<std::string> Gate::FromServerText(std::string_view text, const std::string& session) {
  json parsed;
  std::string error;
  if (ParseStrict(text, &parsed, &error)) return FromServer(parsed, session);
  if (!base::IsValidUtf8(text)) {
    std::string readable_error;
    if (ParseStrict(ServerTextForReading(text), &parsed, &readable_error))
      return FromServer(parsed, session);
  }
  ServerMessageUnread(session, "a server message is not readable JSON: " + error);
  return {};
}

void Gate::ServerMessageUnread(const std::string& session, const std::string& why) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = sessions_.find(session);
  // Only an unanswered tools/list makes it matter: that may have been its answer.
  if (found != sessions_.end() && !found->second.tools_list_ids.empty())
    MarkUnreadable(found->second, why);
}

std::vector<std::string> Gate::FromServer(const json& message, const std::string& session) {
  std::vector<std::string> ids;
  auto visit = [&](const json& element) {
    if (!element.is_object() || !HasId(element) ||
        !(element.contains("result") || element.contains("error")))
      return;
    ids.push_back(element["id"].dump());
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = sessions_.find(session);
    if (found != sessions_.end()) LearnFromResponse(element, found->second);
  };
  if (message.is_array())
    for (const json& element : message) visit(element);
  else
    visit(message);
  return ids;
}

void Gate::EndSession(const std::string& session) {
  std::lock_guard<std::mutex> lock(mutex_);
  sessions_.erase(session);
}

std::string Gate::ReplyText(const ClientMessage& message) {
  if (message.replies.empty()) return "";
  if (message.batch) return base::JsonDump(json(message.replies));
  return base::JsonDump(message.replies.front());
}

}  // namespace dualkey::mcpproxy::internal
