// The transport-independent half of the MCP proxy: reads each JSON-RPC
// message, decides every `tools/call` in it (local policy first, the daemon for
// anything not allowed), remembers what the server said about its tools, and
// writes the answers dualkey gives in the server's place. The stdio and
// Streamable HTTP transports only move bytes around it.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "client/client.h"
#include "client/reporter.h"
#include "guard/guard.h"
#include "policy/policy.h"
#include "proxy/mcp/mcp_proxy.h"

namespace dualkey::mcpproxy::internal {

// JSON-RPC error codes dualkey answers with.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
// Implementation-defined (-32000..-32099): the server is gone.
inline constexpr int kServerGone = -32001;

struct GateConfig {
  std::string server_name;           // given by the user; empty: learned from `initialize`
  std::string fallback_server_name;  // until then: the program's name
  std::string agent;                 // empty: "mcp:<server>"
  std::string cwd;
  std::string home;
  std::string socket_path;  // the daemon; empty: never asked (held instead)
  int daemon_timeout_ms = 5000;
  bool verbose = false;
};

// Strict parse: one JSON value, no duplicate object keys (the server's parser
// might keep the other one, and then it would run what we did not classify),
// valid UTF-8. Returns false with `error` (always valid UTF-8 itself).
bool ParseStrict(std::string_view text, nlohmann::json* out, std::string* error);

// The text of a server's message as the gate reads it: as sent when it is
// valid UTF-8, else with each invalid sequence replaced by U+FFFD (what a
// client shows of it). Learning from a damaged list beats learning nothing.
std::string ServerTextForReading(std::string_view text);

// {"jsonrpc":"2.0","id":id,"error":{"code","message"}}
nlohmann::json ErrorReply(const nlohmann::json& id, int code, const std::string& message);

// One decision on a tools/call.
struct CallDecision {
  bool forward = false;
  nlohmann::json reply;  // when not forwarded and the call had an id
};

// What to do with one message from the client.
struct ClientMessage {
  // Bytes for the server: the original text when nothing in it was held,
  // else the remaining batch re-serialised. Empty: nothing to forward.
  std::string forward;
  // dualkey's own answers (held calls, errors). In a batch they go back as
  // one array (ReplyText).
  std::vector<nlohmann::json> replies;
  bool batch = false;
  // Ids (JSON text) of the requests forwarded, to answer them if the server
  // dies.
  std::vector<std::string> forwarded_ids;
};

class Gate {
 public:
  Gate(GateConfig config, policy::Policy policy);

  // `session`: the Streamable HTTP session (tool annotations and request ids
  // are per session); "" for stdio.
  ClientMessage FromClient(std::string_view text, const std::string& session = "");
  // Learns from a message the server sent (tools/list results, the server's
  // name in `initialize`). Returns the ids (JSON text) of the responses in it.
  std::vector<std::string> FromServer(const nlohmann::json& message,
                                      const std::string& session = "");
  // The same from the message's bytes, whatever they are: invalid UTF-8 is
  // read with replacement, and a message that cannot be read at all while a
  // tools/list is unanswered makes every tool of the session count as
  // destructive until a tool list is read (fail closed: the unread answer
  // may have declared destructiveHint).
  std::vector<std::string> FromServerText(std::string_view text, const std::string& session = "");
  // A server message too large to read passed through unread.
  void ServerMessageUnread(const std::string& session, const std::string& why);
  void EndSession(const std::string& session);

  // The replies as one line of JSON (an array for a batch).
  static std::string ReplyText(const ClientMessage& message);

  // The mcp channel input for a call, as the guard and the daemon see it.
  std::string ChannelInput(const nlohmann::json& params, const std::string& session);
  CallDecision DecideCall(const nlohmann::json& request, const std::string& session);

  std::string ServerName();

  // Sends the decisions still queued for the daemon's audit log (at exit).
  void FlushReports(int timeout_ms) {
    if (reporter_) reporter_->Flush(timeout_ms);
  }

 private:
  struct Session {
    std::map<std::string, nlohmann::json> annotations;  // tool -> annotations
    // Pending tools/list requests: id -> whether it asks for the first page
    // (no cursor), whose answer starts the list over.
    std::map<std::string, bool> tools_list_ids;
    std::set<std::string> initialize_ids;
    // Why the session's tool list could not be read (empty: it could). While
    // set, every tool counts as declaring destructiveHint.
    std::string tools_unreadable;
  };
  void MarkUnreadable(Session& session, const std::string& why);
  nlohmann::json HeldResult(const nlohmann::json& id, const std::string& text,
                            const nlohmann::json& meta);
  void Log(const std::string& line);
  // A decision made here, not by the daemon, for its audit log. False when
  // a destructive one cannot be recorded (the caller holds it).
  bool ReportLocal(const guard::Request& ask, const Verdict& verdict, Decision decision,
                   bool forwarded, std::int64_t added_us, const std::string& reason = "");
  void LearnFromResponse(const nlohmann::json& response, Session& session);

  std::string learned_server_name_;
  GateConfig config_;
  std::optional<client::Client> daemon_;                // none: no daemon configured
  std::unique_ptr<client::DecisionReporter> reporter_;  // with a daemon
  policy::Policy policy_;
  std::mutex mutex_;  // sessions_ and config_.server_name
  std::map<std::string, Session> sessions_;
};

// Fills the parts of `config` that come from the command line and the
// environment, and loads the policy in force where the client runs (once: a
// tools/call pays for its decision, not for reading policy files).
policy::Policy LoadProxyPolicy(const ProxyOptions& options, GateConfig* config);

}  // namespace dualkey::mcpproxy::internal
