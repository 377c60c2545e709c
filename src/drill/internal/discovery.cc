#include "drill/internal/discovery.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "base/json_text.h"
#include "client/client.h"
#include "hook/install.h"
#include "setup/setup.h"
#include "setup/system.h"
#include "token/token.h"

#ifndef DUALKEY_VERSION
#define DUALKEY_VERSION "0.0.0"
#endif

namespace dualkey::drill::internal {
namespace {

using nlohmann::json;

bool ReadText(const std::string& path, std::string* text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  *text = buffer.str();
  return !in.bad();
}

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

std::string Basename(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A NUL-separated /proc file (cmdline, environ).
std::vector<std::string> ReadNulList(const std::string& path) {
  std::string text;
  std::vector<std::string> out;
  if (!ReadText(path, &text)) return out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\0', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string EnvOf(pid_t pid, const std::string& name) {
  for (const std::string& entry : ReadNulList("/proc/" + std::to_string(pid) + "/environ"))
    if (entry.starts_with(name + "=")) return entry.substr(name.size() + 1);
  return "";
}

// KEY=value lines of a systemd EnvironmentFile.
std::map<std::string, std::string> ReadEnvFile(const std::string& path) {
  std::map<std::string, std::string> values;
  std::string text;
  if (!ReadText(path, &text)) return values;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    const std::size_t eq = line.find('=', start);
    if (eq == std::string::npos) continue;
    std::string value = line.substr(eq + 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.pop_back();
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front())
      value = value.substr(1, value.size() - 2);
    values[line.substr(start, eq - start)] = value;
  }
  return values;
}

// Where a process that was given no --state-dir keeps its state: the
// protected layout's, else what its own environment says (single-user mode).
std::string DefaultStateOf(pid_t pid, const install::Layout& layout) {
  if (layout.protected_install) return layout.state_dir;
  if (std::string dir = EnvOf(pid, "DUALKEY_STATE_DIR"); !dir.empty()) return dir;
  if (std::string xdg = EnvOf(pid, "XDG_STATE_HOME"); !xdg.empty() && xdg[0] == '/')
    return xdg + "/dualkey";
  if (std::string home = EnvOf(pid, "HOME"); !home.empty()) return home + "/.local/state/dualkey";
  return layout.state_dir;
}

std::string Sha256File(const std::string& path) {
  std::string text;
  if (!ReadText(path, &text)) return "";
  return token::Sha256Hex(text);
}

void DiscoverAgents(const DiscoverOptions& options, const json& doctor_agents, Discovery* d) {
  const std::string home = options.subject.home;
  for (hook::Agent agent : hook::kAllAgents) {
    AgentInfo info;
    info.agent = agent;
    const std::string name(hook::ToString(agent));
    static const std::map<std::string, std::vector<std::string>> kDirs = {
        {"claude", {"/.claude", "/.claude.json"}},
        {"cursor", {"/.cursor"}},
        {"codex", {"/.codex"}},
        {"gemini", {"/.gemini"}}};
    static const std::map<std::string, std::vector<std::string>> kPrograms = {
        {"claude", {"claude"}},
        {"cursor", {"cursor", "cursor-agent"}},
        {"codex", {"codex"}},
        {"gemini", {"gemini"}}};
    for (const std::string& dir : kDirs.at(name)) {
      if (Exists(home + dir)) {
        info.present = true;
        info.evidence = "~" + dir;
        break;
      }
    }
    if (!info.present) {
      for (const std::string& program : kPrograms.at(name)) {
        for (const char* bin : {"/usr/local/bin/", "/usr/bin/", "/bin/"}) {
          if (access((bin + program).c_str(), X_OK) == 0) {
            info.present = true;
            info.evidence = std::string(bin) + program;
            break;
          }
        }
        if (!info.present && access((home + "/.local/bin/" + program).c_str(), X_OK) == 0) {
          info.present = true;
          info.evidence = "~/.local/bin/" + program;
        }
        if (info.present) break;
      }
    }
    bool any_managed = false;
    for (const json& check : doctor_agents) {
      if (check.value("agent", "") != name) continue;
      if (check.contains("error")) {
        info.config_errors.push_back(check.value("error", ""));
        continue;
      }
      if (!check.value("installed", false) || !check.contains("hooks")) continue;
      HookConfig config;
      config.scope = check.value("scope", "");
      config.path = check.value("config", "");
      config.user_can_edit = check.value("user_can_edit", false);
      if (!config.user_can_edit) any_managed = true;
      for (const json& h : check["hooks"]) {
        if (!h.is_object() || !h.contains("command") || !h["command"].is_string()) continue;
        const std::string command = h["command"];
        config.fail_closed = h.value("fail_closed", false);
        auto same = std::find_if(info.hooks.begin(), info.hooks.end(),
                                 [&](const HookTarget& t) { return t.command == command; });
        if (same == info.hooks.end()) {
          HookTarget target;
          target.agent = agent;
          target.command = command;
          target.build_tree_warning = hook::BuildTreeWarning(hook::HookBinary(command));
          info.hooks.push_back(std::move(target));
          same = info.hooks.end() - 1;
        }
        same->configs.push_back(config);
      }
    }
    info.only_user_editable = !info.hooks.empty() && !any_managed;
    if (!info.hooks.empty() && !info.present) {
      info.present = true;
      info.evidence = "a hook in " + info.hooks.front().configs.front().path;
    }
    d->agents.push_back(std::move(info));
  }
}

void DiscoverMcp(const DiscoverOptions& options, Discovery* d) {
  for (hook::Agent client : hook::kAllAgents) {
    std::vector<hook::McpConfigRead> reads =
        hook::ListMcpServers(client, false, "", options.subject.home);
    if (!options.project_dir.empty()) {
      for (hook::McpConfigRead& read :
           hook::ListMcpServers(client, true, options.project_dir, options.subject.home)) {
        bool seen = false;
        for (const hook::McpConfigRead& have : reads) seen = seen || have.path == read.path;
        if (!seen) reads.push_back(std::move(read));
      }
    }
    for (const hook::McpConfigRead& read : reads) {
      if (!read.error.empty()) d->mcp_errors.push_back(read.error);
      for (const hook::McpServer& server : read.servers) {
        McpTarget target{client, server};
        if (server.wrapped)
          d->mcp.push_back(std::move(target));
        else if (server.status.starts_with("skipped: an HTTP"))
          d->mcp_http.push_back(std::move(target));
        else if (server.status == "not wrapped")
          d->mcp_unwrapped.push_back(std::move(target));
      }
    }
  }
}

void DiscoverServices(Discovery* d) {
  const install::Layout& layout = d->layout;
  for (const ProcessEntry& process : DualkeyProcesses()) {
    const std::vector<std::string>& argv = process.argv;
    ServiceInfo service;
    if (argv.size() >= 2 && argv[1] == "pg-proxy") {
      service.kind = "pg-proxy";
    } else if (argv.size() >= 3 && argv[1] == "gateway" && argv[2] == "http") {
      service.kind = "gateway";
    } else {
      continue;
    }
    service.running = true;
    service.pid = process.pid;
    service.uid = process.uid;
    service.binary = argv[0];
    // A relative argv[0]: the process's own executable.
    if (service.binary.find('/') == std::string::npos || service.binary[0] != '/') {
      char buffer[4096];
      const ssize_t n = readlink(("/proc/" + std::to_string(process.pid) + "/exe").c_str(), buffer,
                                 sizeof(buffer) - 1);
      if (n > 0) service.binary.assign(buffer, static_cast<std::size_t>(n));
    }
    service.argv = argv;
    service.configured_by = "process";
    service.state_dir = FlagValue(argv, "--state-dir");
    if (service.state_dir.empty()) service.state_dir = DefaultStateOf(process.pid, layout);
    service.socket = FlagValue(argv, "--socket");
    service.listen = FlagValue(argv, "--listen");
    if (service.kind == "pg-proxy") {
      if (service.listen.empty()) service.listen = "127.0.0.1:6432";
      service.upstream = FlagValue(argv, "--upstream");
      service.password_file = FlagValue(argv, "--upstream-password-file");
      if (!service.password_file.empty()) {
        std::string text;
        if (ReadText(service.password_file, &text)) {
          while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
          service.password = text;
          service.password_source = service.password_file;
        }
      }
      if (service.password.empty()) {
        service.password = EnvOf(process.pid, "PGPASSWORD");
        if (!service.password.empty()) service.password_source = "its PGPASSWORD";
      }
      if (service.password.empty() && layout.protected_install) {
        std::string text;
        if (ReadText(layout.config_dir + "/pg-proxy.password", &text)) {
          while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
          service.password = text;
          service.password_source = layout.config_dir + "/pg-proxy.password";
        }
      }
    } else {
      if (service.listen.empty()) service.listen = "127.0.0.1:8787";
      service.config = FlagValue(argv, "--config");
      if (service.config.empty()) service.config = service.state_dir + "/gateway.toml";
    }
    d->services.push_back(std::move(service));
  }
  auto running = [&](const std::string& kind) {
    for (const ServiceInfo& s : d->services)
      if (s.kind == kind && s.running) return true;
    return false;
  };
  // Configured for the protected install's units, but not running.
  if (layout.protected_install) {
    const std::string env_file = layout.config_dir + "/pg-proxy.env";
    if (Exists(env_file) && !running("pg-proxy")) {
      ServiceInfo service;
      service.kind = "pg-proxy";
      service.configured_by = env_file;
      std::map<std::string, std::string> env = ReadEnvFile(env_file);
      service.upstream = env["DUALKEY_PG_UPSTREAM"];
      service.listen =
          env.contains("DUALKEY_PG_LISTEN") ? env["DUALKEY_PG_LISTEN"] : "127.0.0.1:6432";
      service.state_dir = layout.state_dir;
      d->services.push_back(std::move(service));
    }
  }
  const std::string gateway_config = layout.protected_install ? layout.config_dir + "/gateway.toml"
                                                              : layout.state_dir + "/gateway.toml";
  if (Exists(gateway_config) && !running("gateway")) {
    ServiceInfo service;
    service.kind = "gateway";
    service.configured_by = gateway_config;
    service.config = gateway_config;
    service.state_dir = layout.state_dir;
    service.listen = "127.0.0.1:8787";
    d->services.push_back(std::move(service));
  }
}

void DiscoverPolicy(const DiscoverOptions& options, Discovery* d) {
  policy::Sources sources =
      d->protected_install
          ? policy::ProtectedSources(d->layout.config_dir, options.subject.uid, options.cwd)
          : policy::SingleUserSources(options.cwd, options.subject.home);
  if (!d->layout_error.empty()) sources.error = d->layout_error;
  const policy::Policy loaded = policy::Load(sources);
  PolicyInfo& info = d->policy;
  info.errors = loaded.errors;
  info.lock_user = loaded.lock_user;
  info.observe = loaded.mode == policy::Mode::kObserve;
  info.limits = loaded.limits;
  std::string all = std::string("dualkey ") + DUALKEY_VERSION + "\n";
  for (const policy::Layer& layer : loaded.layers) {
    PolicyLayerInfo entry;
    entry.kind = std::string(policy::ToString(layer.kind));
    entry.path = layer.path;
    if (layer.kind != policy::LayerKind::kBuiltin) entry.sha256 = Sha256File(layer.path);
    entry.sets_observe = layer.has_mode && layer.mode == policy::Mode::kObserve;
    entry.tighten_only = layer.kind == policy::LayerKind::kProject ||
                         (layer.kind == policy::LayerKind::kUser && loaded.lock_user);
    if (entry.sets_observe && !entry.tighten_only) info.observe_layer = layer.path;
    all += entry.kind + " " + entry.path + " " + entry.sha256 + "\n";
    info.layers.push_back(std::move(entry));
  }
  // A file that failed to load is part of what is in force (its absence).
  for (const std::string& error : loaded.errors) all += "error " + error + "\n";
  info.hash = token::Sha256Hex(all);
}

void DiscoverDaemon(Discovery* d) {
  client::ClientOptions options;
  options.timeout_ms = 3000;
  client::Client client = client::Client::ForThisProcess(options);
  DaemonInfo& info = d->daemon;
  info.socket = client.socket_path();
  Result<client::StatusReply> status = client.DaemonStatus();
  if (!status.ok()) {
    info.error = status.status().message();
    return;
  }
  info.up = true;
  info.pid = status->pid;
  info.uid = static_cast<uid_t>(status->uid);
  info.protected_install = status->protected_install;
  if (std::optional<Identity> who = IdentityOfUid(info.uid))
    info.user = who->name;
  else
    info.user = std::to_string(info.uid);
  info.operator_is_admin = geteuid() == 0 || geteuid() == info.uid;
}

// doctor's checks and hook configs, run as the subject (its access(2)
// answers are about that user).
json DoctorAsSubject(const DiscoverOptions& options, std::string* error) {
  setup::DoctorOptions doctor;
  doctor.home = options.subject.home;
  doctor.project_dir = options.project_dir;
  doctor.json = true;
  std::string output;
  int status = 0;
  if (geteuid() != options.subject.uid) {
    std::optional<setup::sys::Account> account = setup::sys::LookupUser(options.subject.name);
    if (!account) {
      *error = "no account " + options.subject.name;
      return json::object();
    }
    status = setup::sys::RunAs(
        *account,
        [&](std::string* out) {
          std::ostringstream text;
          const int code = setup::Doctor(doctor, text, text);
          *out = text.str();
          return code;
        },
        &output);
    if (status < 0) {
      *error = "could not run doctor's checks as " + options.subject.name;
      return json::object();
    }
  } else {
    std::ostringstream text;
    setup::Doctor(doctor, text, text);
    output = text.str();
  }
  std::optional<json> parsed = base::JsonParse(output);
  if (!parsed || !parsed->is_object()) {
    *error = "doctor's report did not parse: " + output.substr(0, 200);
    return json::object();
  }
  return *parsed;
}

}  // namespace

std::string FlagValue(const std::vector<std::string>& argv, const std::string& flag) {
  for (std::size_t i = 1; i < argv.size(); ++i) {
    if (argv[i] == "--") break;
    if (argv[i] == flag && i + 1 < argv.size()) return argv[i + 1];
    if (argv[i].starts_with(flag + "=")) return argv[i].substr(flag.size() + 1);
  }
  return "";
}

std::vector<ProcessEntry> DualkeyProcesses() {
  std::vector<ProcessEntry> out;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return out;
  const pid_t self = getpid();
  while (dirent* entry = readdir(proc)) {
    const std::string name = entry->d_name;
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid == self) continue;
    std::vector<std::string> argv = ReadNulList("/proc/" + name + "/cmdline");
    if (argv.empty() || !Basename(argv[0]).starts_with("dualkey")) continue;
    struct stat st {};
    if (stat(("/proc/" + name).c_str(), &st) != 0) continue;
    out.push_back(ProcessEntry{pid, st.st_uid, std::move(argv)});
  }
  closedir(proc);
  return out;
}

Discovery Discover(const DiscoverOptions& options) {
  Discovery d;
  d.subject = options.subject;
  d.operator_is_root = geteuid() == 0;
  d.cwd = options.cwd;
  Result<install::Layout> layout = install::CurrentLayout();
  if (layout.ok()) {
    d.layout = *layout;
    d.protected_install = layout->protected_install;
  } else {
    d.layout_error = layout.status().message();
    d.layout = install::SingleUserLayout();
    d.layout.protected_install = true;
    d.protected_install = true;
  }
  DiscoverDaemon(&d);
  json doctor;
  if (options.boundary) {
    doctor = DoctorAsSubject(options, &d.boundary_error);
    if (doctor.contains("checks") && doctor["checks"].is_array()) {
      for (const json& c : doctor["checks"]) {
        if (!c.is_object()) continue;
        d.boundary.push_back(BoundaryCheck{c.value("id", ""), c.value("check", ""),
                                           c.value("ok", false), c.value("detail", ""),
                                           c.value("fix", "")});
      }
    }
  }
  json doctor_agents =
      doctor.contains("agents") && doctor["agents"].is_array() ? doctor["agents"] : json::array();
  if (!options.boundary || doctor_agents.empty()) {
    // Without doctor (or when it could not run): the same reader, here.
    hook::DoctorRequest request;
    request.home = options.subject.home;
    request.project_dir = options.project_dir;
    request.run_samples = false;
    for (const hook::ConfigCheck& check : hook::CheckHooks(request)) {
      json entry{{"agent", hook::ToString(check.agent)},
                 {"scope", check.scope},
                 {"config", check.path},
                 {"installed", check.installed},
                 {"user_can_edit", check.user_can_edit}};
      if (!check.error.empty()) entry["error"] = check.error;
      entry["hooks"] = json::array();
      for (const hook::HookCheck& h : check.hooks)
        entry["hooks"].push_back(json{{"command", h.command}, {"fail_closed", h.fail_closed}});
      doctor_agents.push_back(std::move(entry));
    }
  }
  DiscoverAgents(options, doctor_agents, &d);
  DiscoverMcp(options, &d);
  DiscoverServices(&d);
  DiscoverPolicy(options, &d);
  return d;
}

json ToJson(const Discovery& d) {
  json out{{"mode", d.protected_install ? "protected" : "single-user"},
           {"user", d.subject.name},
           {"state_dir", d.layout.state_dir},
           {"socket", d.layout.socket_path}};
  if (!d.layout_error.empty()) out["install_error"] = d.layout_error;
  json daemon{{"up", d.daemon.up}, {"socket", d.daemon.socket}};
  if (d.daemon.up) {
    daemon["pid"] = d.daemon.pid;
    daemon["user"] = d.daemon.user;
    daemon["uid"] = d.daemon.uid;
  } else {
    daemon["error"] = d.daemon.error;
  }
  out["daemon"] = daemon;
  json agents = json::array();
  for (const AgentInfo& a : d.agents) {
    if (!a.present && a.hooks.empty() && a.config_errors.empty()) continue;
    json entry{
        {"agent", hook::ToString(a.agent)}, {"present", a.present}, {"evidence", a.evidence}};
    json hooks = json::array();
    for (const HookTarget& h : a.hooks) {
      json configs = json::array();
      for (const HookConfig& c : h.configs)
        configs.push_back({{"scope", c.scope},
                           {"path", c.path},
                           {"user_can_edit", c.user_can_edit},
                           {"fail_closed", c.fail_closed}});
      hooks.push_back({{"command", h.command}, {"configs", configs}});
    }
    entry["hooks"] = hooks;
    if (!a.config_errors.empty()) entry["config_errors"] = a.config_errors;
    agents.push_back(entry);
  }
  out["agents"] = agents;
  json mcp = json::array();
  auto add_mcp = [&](const McpTarget& t, const char* state) {
    mcp.push_back({{"client", hook::ToString(t.client)},
                   {"server", t.server.name},
                   {"config", t.server.config},
                   {"scope", t.server.scope},
                   {"state", state}});
  };
  for (const McpTarget& t : d.mcp) add_mcp(t, "wrapped");
  for (const McpTarget& t : d.mcp_unwrapped) add_mcp(t, "not wrapped");
  for (const McpTarget& t : d.mcp_http) add_mcp(t, "http (not wrapped)");
  out["mcp"] = mcp;
  json services = json::array();
  for (const ServiceInfo& s : d.services) {
    json entry{{"kind", s.kind},
               {"running", s.running},
               {"listen", s.listen},
               {"configured_by", s.configured_by},
               {"state_dir", s.state_dir}};
    if (s.running) {
      entry["pid"] = s.pid;
      entry["uid"] = s.uid;
    }
    if (!s.upstream.empty()) entry["upstream"] = s.upstream;
    if (!s.config.empty()) entry["config"] = s.config;
    services.push_back(entry);
  }
  out["services"] = services;
  json layers = json::array();
  for (const PolicyLayerInfo& l : d.policy.layers)
    layers.push_back({{"kind", l.kind},
                      {"path", l.path},
                      {"sha256", l.sha256},
                      {"observe", l.sets_observe},
                      {"tighten_only", l.tighten_only}});
  out["policy"] = {{"layers", layers},
                   {"mode", d.policy.observe ? "observe" : "enforce"},
                   {"lock_user", d.policy.lock_user},
                   {"errors", d.policy.errors},
                   {"hash", d.policy.hash}};
  return out;
}

}  // namespace dualkey::drill::internal
