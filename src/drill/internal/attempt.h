// One attempt of the drill and what the integration made of it, and the
// runners that send the battery through each integration.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/process.h"
#include "drill/internal/battery.h"
#include "drill/internal/discovery.h"
#include "guard/guard.h"

namespace dualkey::drill::internal {

enum class Outcome {
  kHeld,     // the integration stopped it (held, asked, blocked, denied)
  kAllowed,  // it went through (or would have: the agent runs the call)
  kError,    // it could not be tried: the drill cannot say either way
};
const char* ToString(Outcome outcome);

// What the daemon's audit log must show for an attempt.
struct AuditKey {
  std::string channel;
  std::string agent;
  std::string input;
  std::string cwd;
};

struct Attempt {
  std::string case_id;
  std::string integration;  // "claude hook", "pg-proxy 127.0.0.1:6432"...
  std::string kind;         // hook | pg-proxy | gateway | mcp | breaker
  std::string channel;
  std::string section;
  bool destructive = true;  // expect hold
  Outcome outcome = Outcome::kError;
  std::string decision;  // as the integration answered ("exit 2", "DKH01", "403 hold"...)
  std::string detail;
  std::string input;  // what was sent, for people (one line, bounded)
  // The channel's input as `dualkey policy explain --channel C` takes it
  // (empty when it takes none, as for file writes).
  std::string explain;
  std::vector<AuditKey> audit;  // empty: the log need not show it
  bool audited = false;
  // Allowed because a policy file's rule lowered the decision: that rule
  // ("rule 'NAME' (PATH:LINE)"), so the fix is that rule, not a pack.
  std::string loosened_by;
  // A hook attempt that every hook command failed open on (it crashed, hung
  // or exited with a code the agent ignores): the agent runs the call.
  bool failed_open = false;
};

// Everything a runner needs to know about this drill.
struct Context {
  Identity subject;
  std::string cwd;          // where attempts say they run (in the canary)
  std::string prefix;       // the drill's agents: "drill-<id>"
  Placeholders values;      // for the battery's {names}
  std::string self_binary;  // this dualkey, for the MCP stand-in
  std::string scratch;      // the drill's scratch directory (the subject's)
  int jobs = 2;
  int timeout_ms = 10000;
  const std::atomic<bool>* stop = nullptr;
};

// Runs `work(i)` for i in [0, n) on `jobs` threads.
void ForEach(std::size_t n, int jobs, const std::function<void(std::size_t)>& work,
             const std::atomic<bool>* stop);

// One line, at most `max` bytes, for the report.
std::string OneLine(const std::string& text, std::size_t max = 160);

// ---- hooks (hooks.cc) ----
// The agent's own JSON for `c` (already substituted), and the requests the
// hook will send the daemon; empty when the agent has no tool for it (Claude
// Code has no file-delete tool).
struct AgentCall {
  std::string json;
  std::vector<AuditKey> audit;
};
std::vector<AgentCall> AgentCalls(hook::Agent agent, const Case& c, const std::string& cwd,
                                  const std::string& home);
// Every hook of `agent` with every case that goes through hooks.
std::vector<Attempt> RunHooks(const AgentInfo& agent, const std::vector<Case>& cases,
                              const Context& context);

}  // namespace dualkey::drill::internal

namespace dualkey::drill::internal {

// ---- the PostgreSQL proxy (sql.cc) ----
// Logs in to the proxy as the drill's token and sends each SQL case as one
// simple-protocol Query. `error` says why nothing could be tried (the proxy
// refused the token, is not listening...).
struct SqlTarget {
  std::string listen;    // host:port of the proxy
  std::string database;  // the upstream's database
  std::string user;      // the token's name
  std::string password;  // the token
};
std::vector<Attempt> RunSql(const std::string& integration, const SqlTarget& target,
                            const std::vector<Case>& cases, const Context& context,
                            std::string* error);
// The database an upstream URI names (its path, else its user).
std::string UpstreamDatabase(const std::string& uri);

// ---- the HTTP gateway (api.cc) ----
struct HttpReply {
  int status = 0;  // 0: no answer
  std::string body;
  std::string error;
};
// One HTTP/1.1 request to http://host:port (loopback), Connection: close.
HttpReply HttpCall(const std::string& host_port, const std::string& method,
                   const std::string& target,
                   const std::vector<std::pair<std::string, std::string>>& headers,
                   const std::string& body, int timeout_ms);

class ApiStandin;
std::vector<Attempt> RunApi(const std::string& integration, const std::string& gateway_listen,
                            const std::string& upstream_name, const std::string& token,
                            ApiStandin& standin, const std::vector<Case>& cases,
                            const Context& context);

// ---- MCP servers (mcp.cc) ----
// Runs the client's wrapper command line with its server replaced by the
// drill's stand-in server, as the subject, and sends each MCP case as a
// tools/call. What reaches the stand-in went through.
std::vector<Attempt> RunMcp(const std::string& integration, const McpTarget& target,
                            const std::vector<Case>& cases, const Context& context,
                            const std::string& agent_name, std::string* error);
// `dualkey drill --mcp-standin SPEC`: the stand-in MCP server (stdio).
int ServeMcpStandin(const std::string& spec_path);

}  // namespace dualkey::drill::internal

namespace dualkey::drill::internal {

// ---- the policy's part in what got through (policy_trace.cc) ----
// A rule of a policy file (never the built-in defaults) that lowered the
// decision for an action: what let it through rather than a classifier miss.
struct Loosening {
  std::string layer;  // system | user | project
  std::string path;
  std::string rule;  // its name, or "#N"
  int line = 0;
  std::string Where() const;  // "rule 'NAME' (PATH:LINE)"
};
// The loosening rules of `policy` that decided `request` (how the daemon
// decides it with the same layers); empty when the built-in reading allowed
// it, or nothing was allowed.
std::vector<Loosening> LooseningRules(const policy::Policy& policy, const guard::Request& request);

}  // namespace dualkey::drill::internal
