// What the drill attacks, found the way the pieces themselves find it:
// the agents' hooks from each agent's own config (hook::CheckHooks, as
// `doctor` reads them), the wrapped MCP servers from the clients' configs
// (hook::ListMcpServers), the daemon through client::Client, the proxies and
// gateways from their running processes and the protected install's
// configuration, the policy layers through policy::Load, and what the
// user's own account can reach through `doctor`'s checks run as that user.
// Nothing here changes anything.
#pragma once

#include <sys/types.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/process.h"
#include "hook/hook.h"
#include "hook/install_mcp.h"
#include "install/layout.h"
#include "policy/policy.h"

namespace dualkey::drill::internal {

// The drill runs its children with base/process.
using base::Child;
using base::EnvironmentFor;
using base::Identity;
using base::IdentityOf;
using base::IdentityOfUid;
using base::ProcessResult;
using base::Spawn;

struct HookConfig {
  std::string scope;  // managed | user | project
  std::string path;
  bool user_can_edit = false;
  bool fail_closed = false;
};
// One command line an agent runs as its dualkey hook, with every config
// that names it.
struct HookTarget {
  hook::Agent agent = hook::Agent::kClaude;
  std::string command;  // exactly as in the config; run with /bin/sh -c
  std::vector<HookConfig> configs;
  std::string build_tree_warning;
};

struct AgentInfo {
  hook::Agent agent = hook::Agent::kClaude;
  bool present = false;  // installed for this user (its config directory or program)
  std::string evidence;  // what says so
  std::vector<HookTarget> hooks;
  std::vector<std::string> config_errors;  // configs that cannot be read, with why
  bool only_user_editable = false;         // every config holding its hook is the user's
};

struct McpTarget {
  hook::Agent client = hook::Agent::kClaude;
  hook::McpServer server;
};

// A `dualkey pg-proxy` or `dualkey gateway http`, running or configured.
struct ServiceInfo {
  std::string kind;  // pg-proxy | gateway
  bool running = false;
  pid_t pid = 0;
  uid_t uid = static_cast<uid_t>(-1);
  std::string binary;
  std::vector<std::string> argv;
  std::string listen;
  std::string state_dir;
  std::string socket;
  std::string configured_by;  // the file that configures it, or "process"
  // pg-proxy:
  std::string upstream;
  std::string password_file;
  std::string password;  // the upstream's, for the canary (never printed)
  std::string password_source;
  // gateway:
  std::string config;
};

struct PolicyLayerInfo {
  std::string kind;  // built-in | system | user | project
  std::string path;
  std::string sha256;  // of the file's bytes ("" for built-in)
  bool sets_observe = false;
  bool tighten_only = false;
};
struct PolicyInfo {
  std::vector<PolicyLayerInfo> layers;
  bool observe = false;
  std::string observe_layer;  // the file that set it
  bool lock_user = false;
  std::vector<std::string> errors;
  std::string hash;  // over dualkey's version and every layer in force
  policy::Limits limits;
};

struct DaemonInfo {
  bool up = false;
  std::string error;
  pid_t pid = 0;
  uid_t uid = static_cast<uid_t>(-1);
  std::string user;
  std::string socket;
  bool protected_install = false;
  bool operator_is_admin = false;  // this process may begin a drill session
};

// One of doctor's checks, as the drilled user.
struct BoundaryCheck {
  std::string id;
  std::string title;
  bool ok = false;
  std::string detail;
  std::string fix;
};

struct Discovery {
  install::Layout layout;
  std::string layout_error;  // an install file that cannot be trusted
  bool protected_install = false;
  Identity subject;  // whose agents
  bool operator_is_root = false;
  std::string cwd;  // where the attempts say they run
  DaemonInfo daemon;
  std::vector<AgentInfo> agents;
  std::vector<McpTarget> mcp;
  std::vector<McpTarget> mcp_unwrapped;  // stdio servers not behind dualkey mcp
  std::vector<McpTarget> mcp_http;       // HTTP servers (not wrapped by install mcp)
  std::vector<std::string> mcp_errors;
  std::vector<ServiceInfo> services;
  PolicyInfo policy;
  std::vector<BoundaryCheck> boundary;
  std::string boundary_error;
};

struct DiscoverOptions {
  Identity subject;
  std::string project_dir;  // project configs too
  std::string cwd;          // for the project policy layer
  bool boundary = true;     // run doctor's checks as the subject
};
Discovery Discover(const DiscoverOptions& options);

nlohmann::json ToJson(const Discovery& discovery);

// The dualkey processes running on this machine: pid, uid, argv.
struct ProcessEntry {
  pid_t pid = 0;
  uid_t uid = 0;
  std::vector<std::string> argv;
};
std::vector<ProcessEntry> DualkeyProcesses();

// "--listen X" or "--listen=X" in argv; empty when absent.
std::string FlagValue(const std::vector<std::string>& argv, const std::string& flag);

}  // namespace dualkey::drill::internal
