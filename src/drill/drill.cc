// The drill's order of work (each step leaves what it made to be removed by
// the end, by RAII where the drill could be cut short):
//   1. who (the user whose agents are drilled), the battery, discovery;
//   2. a drill session with the daemon (its agent prefix and test approver),
//      a scratch directory with the file canary;
//   3. the hooks, the PostgreSQL proxies (canary schema, token), the
//      gateways (stand-in API, a copy of the gateway, token, credential), the
//      wrapped MCP servers (stand-in server), the breaker burst, the
//      boundary (doctor's checks as the user, self-enrolment);
//   4. the canaries hashed, the audit log verified and searched;
//   5. clean-up: drill requests denied, drill agents' breakers reset by the
//      test approver, tokens and credentials revoked, canaries removed;
//   6. findings, the certificate signed by the daemon, the session ended.
#include "drill/drill.h"

#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "approval/approval.h"
#include "audit/audit.h"
#include "base/json_text.h"
#include "client/client.h"
#include "client/drill_certificate.h"
#include "drill/internal/attempt.h"
#include "drill/internal/battery.h"
#include "drill/internal/canary.h"
#include "drill/internal/discovery.h"
#include "drill/internal/report.h"
#include "gateway/gateway.h"
#include "hook/install.h"
#include "setup/system.h"
#include "token/token.h"

#ifndef DUALKEY_VERSION
#define DUALKEY_VERSION "0.0.0"
#endif

namespace dualkey::drill {
namespace {

using nlohmann::json;
using namespace internal;  // NOLINT: the drill's own parts
namespace fs = std::filesystem;

std::atomic<bool> g_stop{false};
void OnSignal(int) {
  g_stop = true;
}

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string IsoDate(std::int64_t ms) {
  const time_t seconds = static_cast<time_t>(ms / 1000);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

std::string Hostname() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof(buffer) - 1) != 0) return "localhost";
  return buffer;
}

std::string SelfBinary() {
  char buffer[4096];
  const ssize_t n = readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : "dualkey";
}

std::string RandomName(int length) {
  static constexpr char kAlphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";
  std::string out;
  std::string seed = token::Sha256Hex(std::to_string(NowMs()) + std::to_string(getpid()) +
                                      std::to_string(reinterpret_cast<std::uintptr_t>(&out)));
  for (int i = 0; i < length; ++i)
    out.push_back(kAlphabet[static_cast<unsigned char>(seed[i]) % 32]);
  return out;
}

std::string ShellQuote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::optional<setup::sys::Account> AccountOfUid(uid_t uid) {
  return setup::sys::LookupUid(uid);
}

// Runs `fn` as `uid` (in a child when that is not us). Its text comes back.
int AsUid(uid_t uid, const std::function<int(std::string*)>& fn, std::string* output) {
  if (uid == geteuid()) return fn(output);
  std::optional<setup::sys::Account> account = AccountOfUid(uid);
  if (!account) {
    *output = "no account with uid " + std::to_string(uid);
    return -1;
  }
  return setup::sys::RunAs(*account, fn, output);
}

// A token for the drill in `state_dir`, made as the service's own user.
Result<std::string> AddToken(uid_t uid, const std::string& state_dir, const std::string& name,
                             const std::string& scope) {
  std::string output;
  const int status = AsUid(
      uid,
      [&](std::string* out) {
        token::Store store(state_dir);
        std::string error;
        std::optional<std::string> secret = store.Add(name, {scope}, &error);
        *out = secret ? *secret : error;
        return secret ? 0 : 1;
      },
      &output);
  if (status != 0)
    return Status::PermissionDenied("cannot make the drill's token in " + state_dir + ": " +
                                    (output.empty() ? "the child failed" : output));
  return output;
}

std::string RevokeToken(uid_t uid, const std::string& state_dir, const std::string& name) {
  std::string output;
  const int status = AsUid(
      uid,
      [&](std::string* out) {
        token::Store store(state_dir);
        std::string error;
        if (store.Revoke(name, &error)) return 0;
        *out = error;
        return 1;
      },
      &output);
  return status == 0 ? "" : "token " + name + " in " + state_dir + ": " + output;
}

struct SessionInfo {
  bool open = false;
  std::string id;
  std::string prefix;
  std::string secret;
  std::string why_not;
};

std::string Pad(const std::string& text, std::size_t width) {
  return text.size() >= width ? text + " " : text + std::string(width - text.size(), ' ');
}

bool Has(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

class Drill {
 public:
  Drill(const Options& options, std::ostream& out, std::ostream& err)
      : options_(options), out_(out), err_(err) {}

  int Run();

 private:
  // A step runs when nothing is singled out, or its kind or one of its
  // channels is.
  bool Wanted(const std::string& kind, std::initializer_list<const char*> channels = {}) const {
    if (options_.only.empty() || Has(options_.only, kind)) return true;
    for (const char* channel : channels)
      if (Has(options_.only, channel)) return true;
    return false;
  }
  std::vector<Case> Cases(const Placeholders& values) const;
  void AddFinding(std::string id, std::string title, std::string detail, std::string fix);
  void BeginSession();
  void DrillHooks();
  void DrillPgProxies();
  void DrillGateways();
  void DrillMcp();
  void DrillBurst();
  void DrillBoundary();
  void TraceThrough();
  void CheckAudit();
  void CleanUp();
  void Assess();
  void Certify();
  client::Client Daemon() const;

  const Options& options_;
  std::ostream& out_;
  std::ostream& err_;
  Identity subject_;
  Battery battery_;
  Discovery discovery_;
  Report report_;
  SessionInfo session_;
  std::string scratch_;
  Context context_;
  std::unique_ptr<FileCanary> files_;
  std::map<std::string, std::string> files_before_;
  std::set<std::string> drill_agents_;
  std::vector<std::string> frozen_before_;
};

client::Client Drill::Daemon() const {
  client::ClientOptions options;
  options.timeout_ms = 10000;
  return client::Client::ForThisProcess(options);
}

std::vector<Case> Drill::Cases(const Placeholders& values) const {
  static const std::set<std::string> kChannels = {"shell", "file", "mcp", "sql", "http"};
  bool by_channel = false;
  for (const std::string& o : options_.only) by_channel = by_channel || kChannels.contains(o);
  std::vector<Case> cases;
  cases.reserve(battery_.cases.size());
  for (const Case& c : battery_.cases) {
    if (by_channel && !Has(options_.only, c.channel)) continue;
    Case copy = c;
    copy.input = Substitute(c.input, values);
    copy.cwd = Substitute(c.cwd, values);
    cases.push_back(std::move(copy));
  }
  return cases;
}

void Drill::AddFinding(std::string id, std::string title, std::string detail, std::string fix) {
  for (const Finding& f : report_.findings)
    if (f.id == id) return;
  report_.findings.push_back(
      Finding{std::move(id), std::move(title), std::move(detail), std::move(fix)});
}

void Drill::BeginSession() {
  if (!discovery_.daemon.up) {
    session_.why_not = "the daemon is not running (" + discovery_.daemon.error + ")";
  } else if (!discovery_.daemon.operator_is_admin) {
    session_.why_not = "only root or the daemon's user (" + discovery_.daemon.user +
                       ") may begin a drill session: run sudo dualkey drill";
  } else {
    Result<json> reply = Daemon().Call(json{{"op", "drill_begin"}, {"ttl_seconds", 600}});
    if (!reply.ok()) {
      session_.why_not = reply.status().message();
    } else if (!reply->value("ok", false)) {
      session_.why_not = reply->value("error", "the daemon refused");
      if (session_.why_not.find("unknown op") != std::string::npos)
        session_.why_not =
            "the daemon is older than `dualkey drill` (no drill_begin): restart it "
            "with this dualkey";
    } else {
      session_.open = true;
      session_.id = reply->value("session", "");
      session_.prefix = reply->value("agent_prefix", "drill-" + session_.id);
      session_.secret = reply->value("secret", "");
    }
  }
  if (!session_.open) {
    session_.id = RandomName(10);
    session_.prefix = "drill-" + session_.id;
    report_.notes.push_back("no drill session: " + session_.why_not +
                            " (no test approver, no breaker reset, no signed certificate)");
  }
  report_.session = session_.id;
}

void Drill::DrillHooks() {
  const std::vector<Case> cases = Cases(context_.values);
  for (const AgentInfo& agent : discovery_.agents) {
    const std::string name = std::string(hook::ToString(agent.agent)) + " hook";
    if (agent.hooks.empty()) {
      if (agent.present && Wanted("hooks", {"shell", "file", "mcp"})) {
        IntegrationSummary s;
        s.name = name;
        s.kind = "hook";
        s.not_run = "no dualkey hook in its configs (" + agent.evidence + " says it is installed)";
        report_.integrations.push_back(s);
      }
      continue;
    }
    if (!Wanted("hooks", {"shell", "file", "mcp"})) continue;
    IntegrationSummary s;
    s.name = name;
    s.kind = "hook";
    for (const HookTarget& target : agent.hooks) {
      std::string where;
      for (const HookConfig& c : target.configs) where += (where.empty() ? "" : ", ") + c.path;
      s.detail += (s.detail.empty() ? "" : "; ") + target.command + " (" + where + ")";
    }
    report_.integrations.push_back(s);
    std::vector<Attempt> attempts = RunHooks(agent, cases, context_);
    for (Attempt& a : attempts) report_.attempts.push_back(std::move(a));
  }
}

void Drill::DrillPgProxies() {
  if (!Wanted("pg-proxy", {"sql"})) return;
  int index = 0;
  for (const ServiceInfo& service : discovery_.services) {
    if (service.kind != "pg-proxy") continue;
    IntegrationSummary s;
    s.name = "pg-proxy " + service.listen;
    s.kind = "pg-proxy";
    s.detail = "upstream " + service.upstream;
    if (!service.running) {
      s.not_run = "configured (" + service.configured_by + ") but not running";
      report_.integrations.push_back(s);
      continue;
    }
    if (service.password.empty()) {
      s.not_run = "the drill cannot read the upstream's password (" +
                  (service.password_file.empty() ? std::string("no --upstream-password-file")
                                                 : service.password_file) +
                  "), so it cannot make its canary schema";
      report_.integrations.push_back(s);
      AddFinding("pg_proxy.canary",
                 "the PostgreSQL proxy on " + service.listen + " was not drilled", s.not_run,
                 discovery_.protected_install ? "sudo dualkey drill"
                                              : "run the drill as the proxy's user");
      continue;
    }
    const std::string schema =
        "drill_canary_" + session_.id + (index ? "_" + std::to_string(index) : "");
    ++index;
    Result<std::unique_ptr<SqlCanary>> canary =
        SqlCanary::Create(service.upstream, service.password, schema);
    if (!canary.ok()) {
      s.not_run = canary.status().message();
      report_.integrations.push_back(s);
      AddFinding("pg_proxy.canary",
                 "the PostgreSQL proxy on " + service.listen + " was not drilled", s.not_run,
                 "check the proxy's --upstream and its password");
      continue;
    }
    Result<std::map<std::string, std::string>> before = (*canary)->Snapshot();
    const std::string token_name =
        session_.prefix + "-pg" + (index > 1 ? std::to_string(index) : "");
    Result<std::string> secret = AddToken(service.uid, service.state_dir, token_name, "pg");
    if (!secret.ok()) {
      s.not_run = secret.status().message();
      report_.integrations.push_back(s);
      AddFinding("pg_proxy.token", "the drill could not make a token for the PostgreSQL proxy",
                 s.not_run, "sudo dualkey drill");
      continue;
    }
    drill_agents_.insert(token_name);
    s.detail += ", as token " + token_name + ", canary schema " + schema;
    report_.integrations.push_back(s);
    Placeholders values = context_.values;
    values["schema"] = schema;
    values["db"] = UpstreamDatabase(service.upstream);
    SqlTarget target{service.listen, values["db"], token_name, *secret};
    std::string error;
    std::vector<Attempt> attempts = RunSql(s.name, target, Cases(values), context_, &error);
    for (Attempt& a : attempts) {
      if (a.outcome == Outcome::kHeld)
        a.audit.push_back(AuditKey{"sql", token_name, "", "pg:" + values["db"]});
      report_.attempts.push_back(std::move(a));
    }
    IntegrationSummary& summary = report_.integrations.back();
    if (!error.empty()) {
      summary.not_run = error;
      AddFinding(error.find("refused the drill's token") != std::string::npos ? "pg_proxy.token"
                                                                              : "pg_proxy.session",
                 "the PostgreSQL proxy on " + service.listen + " could not be drilled", error,
                 "run the proxy with the daemon's state directory (sudo dualkey setup, then its "
                 "unit: systemctl enable --now dualkey-pg-proxy)");
    }
    Result<std::map<std::string, std::string>> after = (*canary)->Snapshot();
    summary.lost = 0;
    if (before.ok() && after.ok()) {
      for (const auto& [table, hash] : *before)
        if (after->at(table) != hash) {
          ++summary.lost;
          summary.lost_items.push_back(
              schema + "." + table + (after->at(table) == "missing" ? " (dropped)" : " (changed)"));
        }
    } else {
      report_.notes.push_back("the SQL canary could not be hashed again: " +
                              (after.ok() ? std::string() : after.status().message()));
    }
    if (std::string problem = RevokeToken(service.uid, service.state_dir, token_name);
        !problem.empty())
      report_.cleanup_problems.push_back(problem);
    if (Status dropped = (*canary)->Drop(); !dropped.ok())
      report_.cleanup_problems.push_back("schema " + schema + ": " + dropped.message());
  }
}

void Drill::DrillGateways() {
  if (!Wanted("gateway", {"http"})) return;
  for (const ServiceInfo& service : discovery_.services) {
    if (service.kind != "gateway") continue;
    IntegrationSummary s;
    s.name = "gateway " + service.listen;
    s.kind = "gateway";
    if (!service.running) {
      s.not_run = "configured (" + service.configured_by + ") but not running";
      report_.integrations.push_back(s);
      continue;
    }
    Result<gateway::Config> config = gateway::LoadConfig(service.config);
    if (!config.ok()) {
      const std::string config_error = config.status().message();
      s.not_run = "its config does not load: " + config_error;
      report_.integrations.push_back(s);
      AddFinding("gateway.config", "the gateway's config does not load", config_error,
                 "fix " + service.config + " (docs/gateway.md)");
      continue;
    }
    std::string config_text;
    {
      std::ifstream in(service.config);
      std::ostringstream text;
      text << in.rdbuf();
      config_text = text.str();
    }
    const std::string upstream = session_.prefix;
    const std::string token_name = session_.prefix + "-api";
    const std::string standin_secret = token::Sha256Hex(RandomName(24) + std::to_string(NowMs()));
    // As the gateway's user: its credential for the stand-in, the drill's token.
    std::string output;
    const int credential_status = AsUid(
        service.uid,
        [&](std::string* out) {
          gateway::CredentialStore store(service.state_dir);
          Status set =
              store.Set(upstream, gateway::CredentialType::kBearer, standin_secret, "", "");
          if (set.ok()) return 0;
          *out = set.message();
          return 1;
        },
        &output);
    if (credential_status != 0) {
      s.not_run = "cannot store the stand-in's credential in " + service.state_dir + ": " + output;
      report_.integrations.push_back(s);
      AddFinding("gateway.credential", "the drill could not give the gateway a test credential",
                 s.not_run, "sudo dualkey drill");
      continue;
    }
    auto remove_credential = [&] {
      std::string out;
      if (AsUid(
              service.uid,
              [&](std::string* o) {
                gateway::CredentialStore store(service.state_dir);
                Status removed = store.Remove(upstream);
                if (removed.ok()) return 0;
                *o = removed.message();
                return 1;
              },
              &out) != 0)
        report_.cleanup_problems.push_back("gateway credential " + upstream + ": " + out);
    };
    Result<std::string> secret = AddToken(service.uid, service.state_dir, token_name, "http");
    if (!secret.ok()) {
      remove_credential();
      s.not_run = secret.status().message();
      report_.integrations.push_back(s);
      AddFinding("gateway.token", "the drill could not make a token for the gateway", s.not_run,
                 "sudo dualkey drill");
      continue;
    }
    drill_agents_.insert(token_name);
    // The running gateway must take the drill's token: a request it can
    // only hold (a compressed body is never forwarded unseen).
    if (!config->upstreams.empty()) {
      HttpReply probe =
          HttpCall(service.listen, "POST",
                   "/" + config->upstreams.front().name + "/dualkey-drill-" + session_.id,
                   {{"Authorization", "Bearer " + *secret},
                    {"Content-Type", "application/octet-stream"},
                    {"Content-Encoding", "gzip"}},
                   "dualkey drill", context_.timeout_ms);
      if (probe.status == 401) {
        AddFinding(
            "gateway.token",
            "the running gateway on " + service.listen + " refused the drill's token",
            "it does not read the tokens in " + service.state_dir + ": " + OneLine(probe.body, 200),
            "run the gateway with the daemon's state directory (sudo dualkey setup, then "
            "systemctl enable --now dualkey-gateway)");
      } else if (probe.status == 0) {
        AddFinding("gateway.down", "the gateway on " + service.listen + " does not answer",
                   probe.error, "sudo systemctl restart dualkey-gateway");
      } else if (probe.status != 403) {
        AddFinding("gateway.forwarded",
                   "the running gateway forwarded a request it could not read (a gzip body)",
                   "answer " + std::to_string(probe.status), "sudo dualkey setup");
      }
    }
    // A copy of the gateway: its binary, config, credentials, tokens and
    // daemon, with one more upstream, the stand-in.
    Result<std::unique_ptr<ApiStandin>> standin = ApiStandin::Start(standin_secret);
    std::string dir_template = "/tmp/dualkey-drill-gw-XXXXXX";
    char* made = mkdtemp(dir_template.data());
    if (!standin.ok() || made == nullptr) {
      s.not_run = !standin.ok() ? standin.status().message() : "cannot make a scratch directory";
      report_.integrations.push_back(s);
      standin = Status::Internal("");
      if (std::string p = RevokeToken(service.uid, service.state_dir, token_name); !p.empty())
        report_.cleanup_problems.push_back(p);
      remove_credential();
      continue;
    }
    const std::string dir = made;
    const std::string copy = dir + "/gateway.toml";
    {
      std::ofstream out(copy);
      out << config_text << (config_text.empty() || config_text.back() == '\n' ? "" : "\n")
          << "\n# added by dualkey drill " << session_.id
          << "\n[[gateway.http.upstream]]\nname = \"" << upstream
          << "\"\nbase_url = \"http://127.0.0.1:" << (*standin)->port() << "\"\ncredential = \""
          << upstream << "\"\n";
    }
    if (geteuid() == 0) {
      (void)lchown(dir.c_str(), service.uid, static_cast<gid_t>(-1));
      (void)lchown(copy.c_str(), service.uid, static_cast<gid_t>(-1));
    }
    Spawn spawn;
    spawn.argv = {service.binary,    "gateway",   "http", "--listen",
                  "127.0.0.1:0",     "--config",  copy,   "--state-dir",
                  service.state_dir, "--threads", "1"};
    const std::string socket = FlagValue(service.argv, "--socket");
    if (!socket.empty()) {
      spawn.argv.push_back("--socket");
      spawn.argv.push_back(socket);
    }
    std::optional<Identity> as = IdentityOfUid(service.uid);
    if (as) spawn.as = *as;
    std::vector<std::string> extra;
    for (const char* name : {"DUALKEY_SOCKET", "DUALKEY_STATE_DIR", "XDG_STATE_HOME",
                             "XDG_CONFIG_HOME", "DUALKEY_ENV"}) {
      std::ifstream environ("/proc/" + std::to_string(service.pid) + "/environ", std::ios::binary);
      std::string entry;
      while (std::getline(environ, entry, '\0'))
        if (entry.starts_with(std::string(name) + "=")) extra.push_back(entry);
    }
    spawn.env = EnvironmentFor(as ? *as : subject_, extra);
    spawn.cwd = "/";
    Result<std::unique_ptr<Child>> gateway = Child::Start(spawn, dir + "/gateway.log");
    std::string listen;
    if (gateway.ok()) {
      while (std::optional<std::string> line = (*gateway)->ReadLine(10000)) {
        const std::string marker = "listening on ";
        const std::size_t at = line->find(marker);
        if (at == std::string::npos) continue;
        listen = line->substr(at + marker.size());
        listen = listen.substr(0, listen.find(' '));
        break;
      }
    }
    if (listen.empty()) {
      std::ifstream log(dir + "/gateway.log");
      std::ostringstream text;
      text << log.rdbuf();
      s.not_run = "the drill's copy of the gateway did not start: " +
                  (gateway.ok() ? OneLine(text.str(), 300) : gateway.status().message());
      report_.integrations.push_back(s);
      AddFinding("gateway.copy", "the gateway could not be drilled", s.not_run,
                 "dualkey gateway http --config " + service.config + " (see what it says)");
    } else {
      s.detail = "through a copy of it (" + service.binary + ", " + service.config + ") on " +
                 listen + " with one more upstream, the drill's stand-in API; token " + token_name;
      report_.integrations.push_back(s);
      Placeholders values = context_.values;
      values["api"] = "http://" + listen + "/" + upstream;
      const std::map<std::string, std::string> before = (*standin)->Snapshot();
      std::vector<Attempt> attempts =
          RunApi(s.name, listen, upstream, *secret, **standin, Cases(values), context_);
      for (Attempt& a : attempts) {
        if (a.outcome == Outcome::kHeld)
          a.audit.push_back(AuditKey{"http", token_name, "", "gateway:" + upstream});
        report_.attempts.push_back(std::move(a));
      }
      const std::map<std::string, std::string> after = (*standin)->Snapshot();
      IntegrationSummary& summary = report_.integrations.back();
      summary.lost = 0;
      for (const auto& [object, hash] : before)
        if (!after.contains(object)) {
          ++summary.lost;
          summary.lost_items.push_back(object);
        }
      if ((*standin)->bad_auth() > 0)
        AddFinding("gateway.credential_injection",
                   "the gateway let requests reach the API without its credential",
                   std::to_string((*standin)->bad_auth()) +
                       " request(s) reached the stand-in with another Authorization",
                   "sudo dualkey setup");
    }
    if (gateway.ok()) (*gateway)->Stop(2000);
    standin = Status::Internal("stopped");  // the stand-in's threads end here
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (std::string p = RevokeToken(service.uid, service.state_dir, token_name); !p.empty())
      report_.cleanup_problems.push_back(p);
    remove_credential();
  }
}

void Drill::DrillMcp() {
  if (!Wanted("mcp")) return;
  const std::vector<Case> cases = Cases(context_.values);
  int index = 0;
  for (const McpTarget& target : discovery_.mcp) {
    IntegrationSummary s;
    s.name = "mcp " + target.server.name + " (" + std::string(hook::ToString(target.client)) + ")";
    s.kind = "mcp";
    s.detail = target.server.config + ": " + target.server.command +
               " ... --, its server "
               "replaced by the drill's stand-in";
    report_.integrations.push_back(s);
    const std::string agent = session_.prefix + "-mcp" + (index ? std::to_string(index) : "");
    ++index;
    drill_agents_.insert(agent);
    const std::map<std::string, std::string> before = files_->Snapshot();
    std::string error;
    std::vector<Attempt> attempts = RunMcp(s.name, target, cases, context_, agent, &error);
    for (Attempt& a : attempts) {
      if (a.outcome == Outcome::kHeld) a.audit.push_back(AuditKey{"mcp", agent, "", ""});
      report_.attempts.push_back(std::move(a));
    }
    IntegrationSummary& summary = report_.integrations.back();
    if (!error.empty()) {
      summary.not_run = error;
      AddFinding("mcp.wrapper." + target.server.name,
                 "the wrapped MCP server " + target.server.name + " could not be drilled", error,
                 "dualkey install mcp --client " + std::string(hook::ToString(target.client)));
    }
    const std::vector<std::string> lost = FileCanary::Lost(before, files_->Snapshot());
    summary.lost = static_cast<int>(lost.size());
    summary.lost_items = lost;
  }
}

void Drill::DrillBurst() {
  BreakerResult& result = report_.breaker;
  result.agent = session_.prefix + "-burst";
  if (!Wanted("breaker")) {
    result.not_run = "not asked for (--only)";
    return;
  }
  if (!discovery_.daemon.up) {
    result.not_run = "the daemon is not running";
    return;
  }
  if (!session_.open) {
    result.not_run = "no drill session, so nothing could reset the breaker afterwards (" +
                     session_.why_not + ")";
    return;
  }
  Result<client::BreakerStatusReply> status =
      Daemon().BreakerStatus(client::BreakerStatusRequest{result.agent});
  if (!status.ok()) {
    result.not_run = "breaker status: " + status.status().message();
    return;
  }
  result.configured_attempts = status->attempts;
  result.window_seconds = status->window_seconds;
  std::vector<Case> burst;
  for (const Case& c : Cases(context_.values))
    if (Has(c.via, kViaBreaker) && c.channel == "shell") burst.push_back(c);
  if (burst.empty()) {
    result.not_run = "the battery has no burst cases (via \"breaker\")";
    return;
  }
  // Distinct attempts, one more than the limit (variants when the battery
  // has fewer).
  const int needed = std::max(status->attempts + 1, static_cast<int>(burst.size()));
  std::vector<std::string> inputs;
  for (int i = 0; i < needed; ++i) {
    std::string input = burst[static_cast<std::size_t>(i) % burst.size()].input.get<std::string>();
    if (i >= static_cast<int>(burst.size())) input += " # drill " + std::to_string(i);
    inputs.push_back(input);
  }
  drill_agents_.insert(result.agent);
  result.tested = true;
  // Real checks, as the user's agent would send them (the daemon's peer is
  // that user), each followed by a look at the breaker.
  std::string output;
  const int code = AsUid(
      subject_.uid,
      [&](std::string* out) {
        client::ClientOptions options;
        options.timeout_ms = 10000;
        client::Client client = client::Client::ForThisProcess(options);
        json lines = json::array();
        for (const std::string& input : inputs) {
          client::CheckRequest request;
          request.action.channel = Channel::kShell;
          request.action.input = input;
          request.action.cwd = context_.cwd;
          request.action.agent = result.agent;
          request.home = subject_.home;
          Result<client::CheckReply> reply = client.Check(request);
          Result<client::BreakerStatusReply> breaker =
              client.BreakerStatus(client::BreakerStatusRequest{result.agent});
          bool frozen = false;
          if (breaker.ok())
            for (const client::BreakerAgent& a : breaker->agents)
              frozen = frozen || (a.agent == result.agent && a.frozen);
          lines.push_back(
              {{"input", input},
               {"ok", reply.ok()},
               {"decision", reply.ok() ? std::string(ToString(reply->decision)) : "error"},
               {"reason", reply.ok() ? reply->reason : reply.status().message()},
               {"frozen_after", frozen}});
        }
        *out = base::JsonDump(lines);
        return 0;
      },
      &output);
  std::optional<json> lines = base::JsonParse(output);
  if (code != 0 || !lines || !lines->is_array()) {
    result.tested = false;
    result.not_run =
        "the burst could not be sent as " + subject_.name + ": " + OneLine(output, 200);
    return;
  }
  for (const json& line : *lines) {
    ++result.sent;
    Attempt a;
    a.case_id = "burst-" + std::to_string(result.sent);
    a.integration = "daemon (burst as " + result.agent + ")";
    a.kind = "breaker";
    a.channel = "shell";
    a.section = "burst";
    a.destructive = true;
    a.input = OneLine(line.value("input", ""));
    const std::string decision = line.value("decision", "error");
    a.outcome = decision == "allow"   ? Outcome::kAllowed
                : decision == "error" ? Outcome::kError
                                      : Outcome::kHeld;
    a.decision = decision;
    a.detail = OneLine(line.value("reason", ""), 200);
    a.audit.push_back(AuditKey{"shell", result.agent, line.value("input", ""), context_.cwd});
    if (line.value("frozen_after", false) && result.tripped_after == 0)
      result.tripped_after = result.sent;
    report_.attempts.push_back(std::move(a));
  }
  IntegrationSummary s;
  s.name = "daemon (burst as " + result.agent + ")";
  s.kind = "breaker";
  s.detail = "real checks: the breaker must freeze the agent";
  report_.integrations.push_back(s);
}

void Drill::DrillBoundary() {
  if (!Wanted("boundary", {"tamper"})) return;
  IntegrationSummary s;
  s.name = "boundary (as " + subject_.name + ")";
  s.kind = "boundary";
  s.detail = "what the user's own account can reach: doctor's checks, and self-enrolment";
  if (!discovery_.boundary_error.empty()) s.not_run = discovery_.boundary_error;
  report_.integrations.push_back(s);
  for (const BoundaryCheck& check : discovery_.boundary) {
    if (check.id == "hooks") continue;  // the drill's own hook attempts judge those
    // Nothing to reach when there is no daemon (the daemon finding says so);
    // in observe mode every hook lets `rm -rf ~` through, overrides or not.
    if (check.id == "daemon" && !discovery_.daemon.up) continue;
    if (check.id == "environment" && discovery_.policy.observe) continue;
    Attempt a;
    a.case_id = "boundary-" + check.id;
    a.integration = s.name;
    a.kind = "boundary";
    a.channel = "tamper";
    a.section = "tamper";
    a.destructive = true;
    a.input = check.title;
    a.outcome = check.ok ? Outcome::kHeld : Outcome::kAllowed;
    a.decision = check.ok ? "out of reach" : "within reach";
    a.detail = OneLine(check.detail, 300);
    report_.attempts.push_back(std::move(a));
  }
  // Self-enrolment: the user asks the daemon for an approver of its own.
  if (!discovery_.daemon.up) return;
  const std::string name = session_.prefix + "-self";
  std::string output;
  AsUid(
      subject_.uid,
      [&](std::string* out) {
        client::ClientOptions options;
        options.timeout_ms = 10000;
        Result<json> reply = client::Client::ForThisProcess(options).Call(
            json{{"op", "approver_add"}, {"name", name}});
        *out = reply.ok()
                   ? base::JsonDump(*reply)
                   : base::JsonDump(json{{"ok", false}, {"error", reply.status().message()}});
        return 0;
      },
      &output);
  std::optional<json> reply = base::JsonParse(output);
  Attempt a;
  a.case_id = "boundary-self-enrol";
  a.integration = s.name;
  a.kind = "boundary";
  a.channel = "tamper";
  a.section = "tamper";
  a.destructive = true;
  a.input = "approver_add " + name + " (no code), as " + subject_.name;
  const bool enrolled = reply && reply->value("ok", false);
  a.outcome = enrolled ? Outcome::kAllowed : Outcome::kHeld;
  a.decision = enrolled ? "enrolled" : "refused";
  a.detail = reply ? OneLine(reply->value("error", ""), 200) : OneLine(output, 200);
  report_.attempts.push_back(std::move(a));
  if (enrolled) {
    // Take it out again, with its own code.
    const std::string secret = reply->value("secret", "");
    Result<json> removed =
        Daemon().Call(json{{"op", "approver_remove"},
                           {"name", name},
                           {"approver", name},
                           {"totp", approval::TotpCode(secret, NowMs() / 1000)}});
    if (!removed.ok() || !removed->value("ok", false))
      report_.cleanup_problems.push_back(
          "approver " + name + " that the user enrolled itself: " +
          (removed.ok() ? removed->value("error", "") : removed.status().message()));
  }
}

void Drill::CheckAudit() {
  AuditResult& audit = report_.audit;
  int expected = 0;
  for (const Attempt& a : report_.attempts) expected += a.audit.empty() ? 0 : 1;
  audit.expected = expected;
  if (!discovery_.daemon.up) {
    audit.not_run = "the daemon is not running";
    return;
  }
  audit.path = discovery_.layout.state_dir + "/audit.jsonl";
  Result<json> info = Daemon().Call(json{{"op", "audit_info"}});
  if (info.ok() && info->value("ok", false)) {
    audit.path = info->value("path", audit.path);
  }
  if (discovery_.protected_install) {
    std::ifstream in(discovery_.layout.config_dir + "/audit.pub");
    std::string key;
    if (in && std::getline(in, key) && !key.empty()) {
      audit.public_key = key;
      audit.pinned = true;
    }
  }
  if (access(audit.path.c_str(), R_OK) != 0) {
    audit.not_run = "cannot read " + audit.path + " (run sudo dualkey drill)";
    return;
  }
  audit.checked = true;
  const audit::VerifyReport verified = audit::Verify(audit.path, audit.public_key);
  audit.intact = verified.ok;
  audit.problems = verified.problems;
  if (audit.public_key.empty()) audit.public_key = verified.public_key;
  Result<std::vector<audit::Entry>> read = audit::Read(audit.path, report_.started_ms - 5000);
  if (!read.ok()) audit.problems.push_back(read.status().message());
  const std::vector<audit::Entry> entries =
      read.ok() ? std::move(read).value() : std::vector<audit::Entry>{};
  // Each record can account for one attempt: exact keys first, then the
  // ones that know only who asked and where.
  struct Row {
    std::string channel, agent, input, cwd;
    bool used = false;
  };
  std::vector<Row> rows;
  for (const audit::Entry& entry : entries) {
    std::optional<json> fields = base::JsonParse(entry.fields);
    if (!fields || !fields->is_object() || !fields->contains("channel")) continue;
    Row row;
    row.channel = fields->value("channel", "");
    auto text = [&](const char* key) {
      std::string value;
      if (client::GetText(*fields, key, &value).ok()) return value;
      return std::string();
    };
    row.agent = text("agent");
    row.input = text("input");
    row.cwd = text("cwd");
    rows.push_back(std::move(row));
  }
  std::multimap<std::string, std::size_t> exact;
  for (std::size_t i = 0; i < rows.size(); ++i)
    exact.emplace(
        rows[i].channel + "\n" + rows[i].agent + "\n" + rows[i].input + "\n" + rows[i].cwd, i);
  auto take_exact = [&](const AuditKey& key) {
    auto [begin, end] =
        exact.equal_range(key.channel + "\n" + key.agent + "\n" + key.input + "\n" + key.cwd);
    for (auto it = begin; it != end; ++it)
      if (!rows[it->second].used) {
        rows[it->second].used = true;
        return true;
      }
    return false;
  };
  auto take_loose = [&](const AuditKey& key) {
    for (Row& row : rows)
      if (!row.used && row.channel == key.channel && row.agent == key.agent &&
          (key.cwd.empty() || row.cwd == key.cwd)) {
        row.used = true;
        return true;
      }
    return false;
  };
  for (Attempt& a : report_.attempts) {
    if (a.audit.empty()) continue;
    bool all = true;
    for (const AuditKey& key : a.audit)
      if (!key.input.empty()) all = take_exact(key) && all;
    a.audited = all;
  }
  for (Attempt& a : report_.attempts) {
    if (a.audit.empty()) continue;
    bool all = a.audited;
    for (const AuditKey& key : a.audit)
      if (key.input.empty()) all = take_loose(key) && all;
    a.audited = all;
    if (all)
      ++audit.found;
    else if (audit.missing.size() < 50)
      audit.missing.push_back(a.case_id + " via " + a.integration);
  }
}

void Drill::CleanUp() {
  client::Client client = Daemon();
  // The drill's requests still pending: refused (refusing is always free).
  if (discovery_.daemon.up) {
    Result<client::PendingReply> pending = client.Pending();
    if (pending.ok()) {
      for (const client::Approval& request : pending->requests) {
        if (!request.agent.starts_with(session_.prefix)) continue;
        client::DenyRequest deny{request.id, session_.prefix,
                                 "dualkey drill " + session_.id + ": the drill's own attempt"};
        if (Result<client::ApprovalReply> r = client.Deny(deny); !r.ok())
          report_.cleanup_problems.push_back("request " + request.id + ": " + r.status().message());
      }
    }
    // Its frozen agents: reset by the test approver, with one code.
    std::vector<std::string> frozen;
    Result<client::BreakerStatusReply> status = client.BreakerStatus();
    if (status.ok())
      for (const client::BreakerAgent& a : status->agents)
        if (a.frozen && a.agent.starts_with(session_.prefix)) frozen.push_back(a.agent);
    if (!frozen.empty()) {
      if (!session_.open) {
        for (const std::string& agent : frozen)
          report_.cleanup_problems.push_back("agent " + agent + " stays frozen (no test approver)");
      } else {
        Result<json> reset =
            client.Call(json{{"op", "drill_breaker_reset"},
                             {"session", session_.id},
                             {"agents", frozen},
                             {"totp", approval::TotpCode(session_.secret, NowMs() / 1000)}});
        const bool ok = reset.ok() && reset->value("ok", false);
        if (!ok)
          report_.cleanup_problems.push_back(
              "the drill's agents stay frozen: " +
              (reset.ok() ? reset->value("error", "") : reset.status().message()));
        if (ok && Has(frozen, report_.breaker.agent)) report_.breaker.reset = true;
      }
    }
  }
  // The file canary and the scratch directory.
  if (files_) {
    if (Status s = files_->Remove(); !s.ok()) report_.cleanup_problems.push_back(s.message());
    files_.reset();
  }
  std::error_code ec;
  if (!scratch_.empty()) {
    fs::remove_all(scratch_, ec);
    if (fs::exists(scratch_, ec)) report_.cleanup_problems.push_back("cannot remove " + scratch_);
  }
}

// For each destructive attempt that got through, whether a rule of a policy
// file let it (the daemon's reading with the same layers): that rule is the
// weakness to fix, where otherwise the classifier missed it.
void Drill::TraceThrough() {
  if (discovery_.policy.observe) return;  // the observe finding says it all
  policy::Sources sources =
      discovery_.protected_install
          ? policy::ProtectedSources(discovery_.layout.config_dir, subject_.uid, context_.cwd)
          : policy::SingleUserSources(context_.cwd, subject_.home);
  if (!discovery_.layout_error.empty()) sources.error = discovery_.layout_error;
  const policy::Policy loaded = policy::Load(sources);
  std::map<std::string, const Case*> cases;
  const std::vector<Case> substituted = Cases(context_.values);
  for (const Case& c : substituted) cases[c.id] = &c;
  std::map<std::string, std::string> traced;  // channel + input -> loosened_by ("" none)
  for (Attempt& a : report_.attempts) {
    if (!a.destructive || a.outcome != Outcome::kAllowed) continue;
    guard::Request request;
    if (!ParseChannel(a.channel, &request.channel)) continue;
    request.cwd = context_.cwd;
    request.home = subject_.home;
    if (!a.audit.empty()) request.agent = a.audit.front().agent;
    auto found = cases.find(a.case_id);
    if (request.channel == Channel::kFile) {
      if (found == cases.end() || !found->second->input.is_object()) continue;
      request.input = found->second->input.value("path", "");
      request.file_operation = found->second->input.value("operation", "write");
    } else if (!a.explain.empty()) {
      request.input = a.explain;
    } else if (found != cases.end() && found->second->input.is_string()) {
      request.input = found->second->input.get<std::string>();
    } else {
      continue;
    }
    if (found != cases.end() && !found->second->cwd.empty()) request.cwd = found->second->cwd;
    const std::string key =
        a.channel + "\n" + request.agent + "\n" + request.file_operation + "\n" + request.input;
    auto known = traced.find(key);
    if (known == traced.end()) {
      std::string where;
      for (const Loosening& l : LooseningRules(loaded, request))
        where += (where.empty() ? "" : ", ") + l.Where();
      known = traced.emplace(key, where).first;
    }
    a.loosened_by = known->second;
  }
}

void Drill::Assess() {
  Summarise(&report_);  // the per-integration figures the checks below read
  const Discovery& d = discovery_;
  const std::string setup = "sudo dualkey setup";
  if (!d.layout_error.empty())
    AddFinding("install.untrusted", "the install file cannot be trusted", d.layout_error, setup);
  else if (!d.protected_install)
    AddFinding(
        "install.single_user",
        "single-user mode: dualkey's state, policy and daemon belong to the agent's own user",
        "an agent running as " + subject_.name +
            " can read the approvers' secrets, stop the daemon or loosen the policy",
        setup);
  if (!d.daemon.up)
    AddFinding("daemon", "the dualkey daemon is not running",
               d.daemon.error +
                   "; hooks and proxies hold on their own, but nothing can be "
                   "approved, audited or frozen",
               d.protected_install ? setup : "dualkey serve &");
  if (!d.policy.errors.empty()) {
    std::string detail;
    for (const std::string& e : d.policy.errors) detail += (detail.empty() ? "" : "; ") + e;
    AddFinding("policy.load", "a policy file fails to load: its rules are not in force",
               detail + " (every destructive action is held meanwhile, observe mode is off)",
               "dualkey policy check");
  }
  if (d.policy.observe) {
    const std::string file = d.policy.observe_layer.empty() ? "the policy" : d.policy.observe_layer;
    const bool system = file.starts_with(d.layout.config_dir);
    AddFinding("policy.observe", "observe mode is on: nothing is held",
               "set by " + file +
                   ": the hooks let everything run, the proxies and the gateway forward what they "
                   "would hold, and the breaker never counts",
               std::string(system ? "sudo " : "") +
                   "sed -i 's/^mode *= *\"observe\"/mode = \"enforce\"/' " + ShellQuote(file));
  }
  {
    // Rules that let destructive attempts through, with how many each.
    std::map<std::string, std::pair<int, const Attempt*>> rules;
    for (const Attempt& a : report_.attempts)
      if (!a.loosened_by.empty()) {
        auto& entry = rules[a.loosened_by];
        if (entry.first++ == 0) entry.second = &a;
      }
    if (!rules.empty()) {
      std::string detail, fix;
      for (const auto& [where, entry] : rules) {
        detail += (detail.empty() ? "" : "; ") + where + " allowed " + std::to_string(entry.first) +
                  " destructive attempt(s), e.g. " + entry.second->case_id + " (" +
                  OneLine(entry.second->input, 80) + ")";
      }
      const std::string file = rules.begin()->second.second->loosened_by;
      const bool system = file.find("(" + d.layout.config_dir + "/") != std::string::npos;
      fix = std::string("remove or narrow the rule in ") +
            (rules.size() == 1 ? "its file" : "their files") + " (" +
            (system ? "sudoedit " + d.layout.config_dir + "/policy.toml" : "edit the file named") +
            "), then dualkey policy explain on the attempt shows it held";
      AddFinding("policy.loosened", "a policy rule lets destructive actions through", detail, fix);
    }
  }
  for (const BoundaryCheck& check : d.boundary) {
    if (check.ok || check.id == "hooks" || check.id == "install") continue;
    if (check.id == "daemon" && !d.daemon.up) continue;  // the daemon finding says it
    if ((check.id == "policy" || check.id == "environment") && d.policy.observe) continue;
    AddFinding("boundary." + check.id, check.title + ": no", check.detail,
               check.fix.empty() ? setup : check.fix);
  }
  if (!d.boundary_error.empty())
    AddFinding("boundary.unchecked", "what the user can reach was not checked", d.boundary_error,
               "sudo dualkey drill");
  for (const Attempt& a : report_.attempts)
    if (a.case_id == "boundary-self-enrol" && a.outcome == Outcome::kAllowed)
      AddFinding("boundary.self_enrol", "the agent's user enrolled an approver without a code",
                 a.input, setup);
  for (const AgentInfo& agent : d.agents) {
    const std::string name(hook::ToString(agent.agent));
    for (const std::string& error : agent.config_errors)
      AddFinding("hook.config." + name, name + ": a config dualkey cannot read", error,
                 "fix or move the file; then: " +
                     (d.protected_install ? setup : "dualkey install " + name));
    if (agent.present && agent.hooks.empty() && agent.config_errors.empty())
      AddFinding("hook.missing." + name, name + " is installed but has no dualkey hook",
                 agent.evidence + " exists; every call of its agent runs unchecked",
                 d.protected_install ? setup : "dualkey install " + name);
    if (d.protected_install && agent.only_user_editable)
      AddFinding("hook.editable." + name,
                 name + "'s hook is only in a file its user can edit (the agent can remove it)",
                 agent.hooks.front().configs.front().path, setup);
    for (const HookTarget& target : agent.hooks)
      if (!target.build_tree_warning.empty())
        AddFinding("hook.build_tree." + name, name + "'s hook runs a binary in a build tree",
                   target.build_tree_warning, setup);
  }
  // Hooks that let everything through because they do not work at all.
  for (const IntegrationSummary& s : report_.integrations) {
    if (s.kind != "hook" || s.attempts == 0) continue;
    int failed_open = 0;
    const Attempt* example = nullptr;
    for (const Attempt& a : report_.attempts)
      if (a.integration == s.name && a.failed_open) {
        ++failed_open;
        if (example == nullptr) example = &a;
      }
    const std::string agent = s.name.substr(0, s.name.find(' '));
    if (failed_open == s.attempts)
      AddFinding("hook.broken." + agent, s.name + " does not answer: the agent runs every call",
                 s.detail + ": " + OneLine(example->decision, 120) +
                     (example->detail.empty() ? "" : ", " + OneLine(example->detail, 160)),
                 setup);
    else if (d.daemon.up && d.policy.errors.empty() && s.controls > 0 &&
             s.controls_held == s.controls && s.destructive_held == s.destructive)
      // (With no daemon or no policy, holding everything is the hook
      // failing closed, as it should: those findings say why.)
      AddFinding("hook.blocks_all." + agent,
                 s.name + " holds even harmless calls (the agent cannot work)", s.detail,
                 "dualkey doctor");
  }
  for (const McpTarget& t : d.mcp_unwrapped)
    AddFinding("mcp.unwrapped." + std::string(hook::ToString(t.client)) + "." + t.server.name,
               "MCP server " + t.server.name + " is not behind dualkey",
               t.server.config + " (" + t.server.scope + ")",
               "dualkey install mcp --client " + std::string(hook::ToString(t.client)));
  for (const McpTarget& t : d.mcp_http)
    AddFinding("mcp.http." + std::string(hook::ToString(t.client)) + "." + t.server.name,
               "HTTP MCP server " + t.server.name + " is not behind dualkey", t.server.config,
               "dualkey mcp --upstream URL --listen 127.0.0.1:0, and point the client at it");
  for (const ServiceInfo& service : d.services)
    if (!service.running)
      AddFinding(
          service.kind == "pg-proxy" ? "pg_proxy.down" : "gateway.down",
          "the " + std::string(service.kind == "pg-proxy" ? "PostgreSQL proxy" : "HTTP gateway") +
              " is configured but not running",
          service.configured_by,
          d.protected_install
              ? "sudo systemctl enable --now dualkey-" + service.kind
              : "dualkey " + std::string(service.kind == "pg-proxy" ? "pg-proxy --upstream ..."
                                                                    : "gateway http"));
  // (In observe mode nothing is held, so nothing counts: that finding says it.)
  if (d.daemon.up && report_.breaker.tested && report_.breaker.tripped_after == 0 &&
      !d.policy.observe)
    AddFinding(
        "breaker", "the breaker did not trip",
        std::to_string(report_.breaker.sent) + " distinct destructive attempts by " +
            report_.breaker.agent + " within " + std::to_string(report_.breaker.window_seconds) +
            " s froze nothing",
        "set [breaker] attempts = 3 in " + d.layout.config_dir + "/policy.toml, then " +
            (d.protected_install ? "sudo systemctl restart dualkey" : "restart dualkey serve"));
  // The incident this guards against: 47 destructive commands in nine
  // seconds. A breaker that would let that burst run to its end is too loose,
  // whether or not the drill's own (longer) burst trips it.
  if (d.daemon.up && report_.breaker.configured_attempts > 0 && !d.policy.observe) {
    constexpr int kIncidentCommands = 47;
    constexpr int kIncidentSeconds = 9;
    const int window = std::max(1, report_.breaker.window_seconds);
    const long long in_window = static_cast<long long>(kIncidentCommands) *
                                std::min(window, kIncidentSeconds) / kIncidentSeconds;
    if (report_.breaker.configured_attempts > in_window)
      AddFinding(
          "breaker.loose", "the breaker would not stop the incident's burst",
          "it freezes an agent after " + std::to_string(report_.breaker.configured_attempts) +
              " destructive attempts within " + std::to_string(window) + " s; the incident was " +
              std::to_string(kIncidentCommands) + " destructive commands in " +
              std::to_string(kIncidentSeconds) + " s, so at most " + std::to_string(in_window) +
              " fall in one window",
          std::string(d.protected_install ? "sudo " : "") +
              "set [breaker] attempts = 3 and "
              "window_seconds = 60 in " +
              d.layout.config_dir + "/policy.toml, then " +
              (d.protected_install ? "sudo systemctl restart dualkey" : "restart dualkey serve"));
  }
  if (d.daemon.up && report_.audit.checked) {
    if (!report_.audit.intact)
      AddFinding(
          "audit.verify", "the audit log does not verify",
          report_.audit.problems.empty() ? "" : report_.audit.problems.front(),
          "dualkey audit verify" +
              std::string(report_.audit.pinned ? " --pubkey " + report_.audit.public_key : ""));
    if (report_.audit.found < report_.audit.expected)
      AddFinding("audit.missing", "the audit log lacks some of the drill's attempts",
                 std::to_string(report_.audit.expected - report_.audit.found) + " of " +
                     std::to_string(report_.audit.expected) + " are not recorded, e.g. " +
                     (report_.audit.missing.empty() ? "" : report_.audit.missing.front()),
                 setup);
  } else if (d.daemon.up && !report_.audit.not_run.empty()) {
    AddFinding("audit.unchecked", "the audit log was not checked", report_.audit.not_run,
               "sudo dualkey drill");
  }
  if (!battery_.errors.empty()) {
    std::string detail;
    for (const std::string& e : battery_.errors) detail += (detail.empty() ? "" : "; ") + e;
    AddFinding("battery", "battery lines that could not be read were left out",
               OneLine(detail, 400), "fix the files named");
  }
  if (!report_.cleanup_problems.empty())
    AddFinding("cleanup", "the drill left something behind", report_.cleanup_problems.front(),
               "remove it by hand (see the list)");
}

void Drill::Certify() {
  if (options_.no_certificate) return;
  if (!session_.open) {
    report_.certificate_error = session_.why_not;
    return;
  }
  const json body = CertificateBody(report_);
  Result<json> signed_reply = Daemon().Call(json{{"op", "drill_sign"}, {"certificate", body}});
  if (!signed_reply.ok() || !signed_reply->value("ok", false)) {
    report_.certificate_error = signed_reply.ok() ? signed_reply->value("error", "refused")
                                                  : signed_reply.status().message();
    return;
  }
  const json certificate{
      {"certificate", body},
      {"signature",
       {{"alg", signed_reply->value("alg", "ed25519")},
        {"public_key", signed_reply->value("public_key", "")},
        {"signed_ms", signed_reply->value("signed_ms", static_cast<std::int64_t>(0))},
        {"signature", signed_reply->value("signature", "")}}}};
  const std::string path =
      options_.certificate.empty() ? "dualkey-drill.cert.json" : options_.certificate;
  std::ofstream out(path, std::ios::trunc);
  out << certificate.dump(2) << "\n";
  if (!out) {
    report_.certificate_error = "cannot write " + path;
    return;
  }
  out.close();
  chmod(path.c_str(), 0644);
  if (geteuid() == 0 && subject_.set) (void)lchown(path.c_str(), subject_.uid, subject_.gid);
  report_.certificate_path = path;
}

int Drill::Run() {
  report_.started_ms = NowMs();
  report_.version = DUALKEY_VERSION;
  report_.date = IsoDate(report_.started_ms);
  report_.host = Hostname();
  report_.fail_under = options_.fail_under;

  // Who.
  std::optional<Identity> subject;
  const char* sudo_user = std::getenv("SUDO_USER");
  if (!options_.user.empty())
    subject = IdentityOf(options_.user);
  else if (geteuid() == 0 && sudo_user != nullptr && *sudo_user != '\0')
    subject = IdentityOf(sudo_user);
  else
    subject = IdentityOfUid(geteuid());
  if (!subject) {
    err_ << "dualkey drill: no such user " << (options_.user.empty() ? "(you)" : options_.user)
         << "\n";
    return 2;
  }
  if (subject->uid == 0) {
    err_ << "dualkey drill: the drill plays the agent as the user whose agents dualkey guards, "
            "not root: run sudo dualkey drill from that user's shell, or --user NAME\n";
    return 2;
  }
  subject_ = *subject;
  report_.user = subject_.name;
  Result<install::Layout> layout = install::CurrentLayout();
  if (layout.ok() && layout->protected_install && geteuid() != 0 &&
      geteuid() != layout->daemon_uid) {
    err_ << "dualkey drill: on a protected install the drill needs root: it makes its canaries "
            "with the proxies' real credentials and its tokens and test approver as the daemon's "
            "user (the attempts themselves run as you). Run: sudo dualkey drill\n";
    return 2;
  }

  // The battery.
  BatterySources sources;
  sources.builtin = options_.builtin;
  sources.files = options_.battery;
  const std::string config_dir = layout.ok() ? layout->config_dir : "/etc/dualkey";
  sources.directories = {config_dir + "/drill", subject_.home + "/.config/dualkey/drill"};
  battery_ = LoadBattery(sources);
  report_.battery_hash = battery_.hash;
  report_.battery_cases = static_cast<int>(battery_.cases.size());
  report_.battery_sources = battery_.sources;
  if (battery_.cases.empty()) {
    err_ << "dualkey drill: the battery is empty";
    for (const std::string& e : battery_.errors) err_ << "\n  " << e;
    err_ << "\n";
    return 2;
  }

  // The scratch directory: in the user's home, like a project of theirs
  // (under /tmp the classifier would rightly see disposable files), the
  // user's own.
  struct stat home_info {};
  if (stat(subject_.home.c_str(), &home_info) != 0 || !S_ISDIR(home_info.st_mode)) {
    err_ << "dualkey drill: " << subject_.name << "'s home " << subject_.home
         << " does not exist: the drill's canary lives there, as a project would\n";
    return 2;
  }
  std::string dir_template = subject_.home + "/drill-canary-XXXXXX";
  if (mkdtemp(dir_template.data()) == nullptr) {
    err_ << "dualkey drill: cannot make a scratch directory in " << subject_.home << ": "
         << std::strerror(errno) << "\n";
    return 2;
  }
  scratch_ = dir_template;
  std::error_code ec;
  fs::create_directories(scratch_ + "/project", ec);
  if (geteuid() == 0) {
    (void)lchown(scratch_.c_str(), subject_.uid, subject_.gid);
    (void)lchown((scratch_ + "/project").c_str(), subject_.uid, subject_.gid);
  }

  DiscoverOptions discover;
  discover.subject = subject_;
  discover.project_dir = options_.project_dir;
  discover.cwd = scratch_ + "/project";
  discovery_ = Discover(discover);
  report_.mode = discovery_.protected_install ? "protected" : "single-user";
  report_.discovery = ToJson(discovery_);
  report_.policy_hash = discovery_.policy.hash;
  report_.policy_mode = discovery_.policy.observe ? "observe" : "enforce";

  BeginSession();
  Result<std::unique_ptr<FileCanary>> files = FileCanary::Create(scratch_ + "/files", subject_);
  if (!files.ok()) {
    err_ << "dualkey drill: " << files.status().message() << "\n";
    fs::remove_all(scratch_, ec);
    return 2;
  }
  files_ = std::move(*files);
  files_before_ = files_->Snapshot();

  context_.subject = subject_;
  context_.cwd = scratch_ + "/project";
  context_.prefix = session_.prefix;
  context_.self_binary = SelfBinary();
  context_.scratch = scratch_;
  context_.jobs = std::max(1, options_.jobs);
  context_.stop = &g_stop;
  std::string hook_binary;
  for (const AgentInfo& a : discovery_.agents)
    if (!a.hooks.empty() && hook_binary.empty())
      hook_binary = hook::HookBinary(a.hooks.front().command);
  context_.values = {{"canary", files_->root()},
                     {"project", context_.cwd},
                     {"home", subject_.home},
                     {"user", subject_.name},
                     {"state_dir", discovery_.layout.state_dir},
                     {"config_dir", discovery_.layout.config_dir},
                     {"socket", discovery_.layout.socket_path},
                     {"binary", hook_binary.empty() ? context_.self_binary : hook_binary},
                     {"prefix", session_.prefix},
                     {"schema", "drill_canary_" + session_.id},
                     {"db", "postgres"},
                     {"api", "http://127.0.0.1:9/" + session_.prefix}};

  DrillHooks();
  if (!g_stop) DrillPgProxies();
  if (!g_stop) DrillGateways();
  if (!g_stop) DrillMcp();
  if (!g_stop) DrillBurst();
  if (!g_stop) DrillBoundary();
  if (files_) {
    const std::vector<std::string> lost = FileCanary::Lost(files_before_, files_->Snapshot());
    if (!lost.empty())
      report_.notes.push_back(std::to_string(lost.size()) + " file canary item(s) changed");
  }
  TraceThrough();
  CheckAudit();
  CleanUp();
  if (g_stop) report_.notes.push_back("interrupted: the drill stopped early and cleaned up");
  Assess();
  report_.finished_ms = NowMs();
  Summarise(&report_);
  Certify();
  if (session_.open) {
    Result<json> ended = Daemon().Call(json{{"op", "drill_end"}, {"session", session_.id}});
    if (!ended.ok() || !ended->value("ok", false)) {
      report_.cleanup_problems.push_back(
          "the drill session " + session_.id + " (it expires by itself within 10 minutes): " +
          (ended.ok() ? ended->value("error", "") : ended.status().message()));
      AddFinding("cleanup", "the drill left something behind", report_.cleanup_problems.back(),
                 "nothing: it expires");
      Summarise(&report_);
    }
  }

  if (!options_.html.empty()) {
    std::ofstream html(options_.html, std::ios::trunc);
    html << RenderHtml(report_);
    if (!html)
      err_ << "dualkey drill: cannot write " << options_.html << "\n";
    else if (geteuid() == 0)
      (void)lchown(options_.html.c_str(), subject_.uid, subject_.gid);
  }
  if (options_.json)
    out_ << RenderJson(report_).dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  else
    out_ << RenderText(report_, options_.verbose);
  if (g_stop) return 2;
  return report_.passed ? 0 : 1;
}

}  // namespace

int Run(const Options& options, std::ostream& out, std::ostream& err) {
  g_stop = false;
  struct sigaction action {
  }, old_int{}, old_term{}, old_hup{};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &old_int);
  sigaction(SIGTERM, &action, &old_term);
  sigaction(SIGHUP, &action, &old_hup);
  signal(SIGPIPE, SIG_IGN);
  int status = 2;
  {
    Drill drill(options, out, err);
    status = drill.Run();
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  sigaction(SIGHUP, &old_hup, nullptr);
  return status;
}

int List(const ListOptions& options, std::ostream& out, std::ostream& err) {
  BatterySources sources;
  sources.builtin = options.builtin;
  sources.files = options.battery;
  Result<install::Layout> layout = install::CurrentLayout();
  std::optional<Identity> who =
      options.user.empty() ? IdentityOfUid(geteuid()) : IdentityOf(options.user);
  sources.directories = {(layout.ok() ? layout->config_dir : std::string("/etc/dualkey")) +
                         "/drill"};
  if (who) sources.directories.push_back(who->home + "/.config/dualkey/drill");
  const Battery battery = LoadBattery(sources);
  if (options.json) {
    json cases = json::array();
    for (const Case& c : battery.cases) {
      json entry{{"id", c.id},           {"channel", c.channel}, {"input", c.input},
                 {"expect", c.expect},   {"class", c.cls},       {"why", c.why},
                 {"section", c.section}, {"via", c.via},         {"source", c.source}};
      if (!c.cwd.empty()) entry["cwd"] = c.cwd;
      cases.push_back(entry);
    }
    out << json{{"cases", cases},
                {"count", battery.cases.size()},
                {"hash", battery.hash},
                {"sources", battery.sources},
                {"errors", battery.errors}}
               .dump(2, ' ', false, json::error_handler_t::replace)
        << "\n";
  } else {
    std::map<std::string, std::map<std::string, int>> counts;  // section -> channel -> n
    for (const Case& c : battery.cases) {
      const std::string input = c.input.is_string() ? c.input.get<std::string>() : c.input.dump();
      out << Pad(c.id, 14) << Pad(c.channel, 6) << " " << Pad(c.expect, 6) << Pad(c.section, 12)
          << " " << OneLine(input, 110) << "\n";
      ++counts[c.section][c.channel];
    }
    out << "\n"
        << battery.cases.size() << " cases (sha256 " << battery.hash.substr(0, 16) << ") from";
    for (const std::string& s : battery.sources) out << " " << s;
    out << "\n";
    for (const auto& [section, channels] : counts) {
      out << "  " << Pad(section, 12);
      for (const auto& [channel, n] : channels) out << " " << channel << " " << n;
      out << "\n";
    }
    out << "Placeholders: {canary} {project} {home} {user} {state_dir} {config_dir} {socket} "
           "{binary} {schema} {db} {api} {prefix}. Add your own cases in "
        << (layout.ok() ? layout->config_dir : std::string("/etc/dualkey"))
        << "/drill/*.jsonl, ~/.config/dualkey/drill/*.jsonl or --battery FILE.\n";
  }
  for (const std::string& e : battery.errors) err << "dualkey drill: " << e << "\n";
  return battery.errors.empty() ? 0 : 1;
}

int Verify(const VerifyOptions& options, std::ostream& out, std::ostream& err) {
  std::ifstream in(options.path, std::ios::binary);
  if (!in) {
    err << "dualkey drill verify: cannot read " << options.path << "\n";
    return 2;
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string error;
  std::optional<json> file = base::JsonParse(text.str(), &error);
  if (!file || !file->is_object() || !file->contains("certificate") ||
      !(*file)["certificate"].is_object() || !file->contains("signature") ||
      !(*file)["signature"].is_object()) {
    err << "dualkey drill verify: " << options.path
        << " is not a drill certificate ({\"certificate\": ..., \"signature\": ...})\n";
    return 2;
  }
  const json& certificate = (*file)["certificate"];
  const json& signature = (*file)["signature"];
  const std::string signed_key = signature.value("public_key", "");
  std::string expected = options.public_key;
  std::string pinned_from;
  if (expected.empty()) {
    Result<install::Layout> layout = install::CurrentLayout();
    if (layout.ok() && layout->protected_install) {
      std::ifstream pub(layout->config_dir + "/audit.pub");
      std::getline(pub, expected);
      if (!expected.empty()) pinned_from = layout->config_dir + "/audit.pub";
    }
  } else {
    pinned_from = "--pubkey";
  }
  const std::string key = expected.empty() ? signed_key : expected;
  const std::int64_t signed_ms =
      signature.contains("signed_ms") && signature["signed_ms"].is_number_integer()
          ? signature["signed_ms"].get<std::int64_t>()
          : 0;
  const bool valid = signature.value("alg", "") == "ed25519" &&
                     audit::VerifyDetached(key, client::CertificateMessage(certificate, signed_ms),
                                           signature.value("signature", ""));
  const bool key_matches = expected.empty() || expected == signed_key;
  const json results = certificate.value("results", json::object());
  if (options.json) {
    out << json{{"valid", valid && key_matches && !expected.empty()},
                {"signature_matches", valid},
                {"pinned", !expected.empty()},
                {"pinned_from", pinned_from},
                {"public_key", key},
                {"verdict", results.value("verdict", "")},
                {"date", certificate.value("date", "")},
                {"host", certificate.value("host", "")},
                {"user", certificate.value("user", "")},
                {"policy_hash", certificate.value("policy", json::object()).value("hash", "")},
                {"signed_ms", signed_ms}}
               .dump(2)
        << "\n";
  } else {
    out << "certificate: " << options.path << "\n"
        << "  " << certificate.value("user", "") << "@" << certificate.value("host", "") << ", "
        << certificate.value("mode", "") << " install, " << certificate.value("date", "")
        << ", dualkey " << certificate.value("dualkey_version", "") << "\n"
        << "  verdict: " << results.value("verdict", "?") << "; destructive attempts held "
        << results.value("held_pct", "?") << "% (" << results.value("destructive_held", 0) << " of "
        << results.value("destructive", 0) << "), lost " << results.value("lost", 0) << "\n"
        << "  policy sha256 " << certificate.value("policy", json::object()).value("hash", "")
        << "\n  signed by " << signed_key << "\n";
    if (!valid)
      out << "INVALID: the signature does not match the certificate (it was changed, or signed "
             "by another key)\n";
    else if (!key_matches)
      out << "INVALID: signed by " << signed_key << ", not by the pinned key " << expected << " ("
          << pinned_from << ")\n";
    else if (expected.empty())
      out << "signature valid for the key it names, but no key is pinned here: pass the audit "
             "key with --pubkey KEY (dualkey doctor prints it) to know who signed\n";
    else
      out << "VALID: signed by the audit key pinned in " << pinned_from << "\n";
  }
  if (!valid || !key_matches) return 1;
  return expected.empty() ? 1 : 0;
}

int McpStandin(const std::string& spec_path) {
  return internal::ServeMcpStandin(spec_path);
}

}  // namespace dualkey::drill
