// The drill's attempts, integration by integration: hooks, PostgreSQL
// proxies, gateways, wrapped MCP servers, the breaker burst, the boundary.
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
#include "drill/drill.h"
#include "drill/internal/attempt.h"
#include "drill/internal/battery.h"
#include "drill/internal/canary.h"
#include "drill/internal/discovery.h"
#include "drill/internal/report.h"
#include "drill/internal/run.h"
#include "gateway/gateway.h"
#include "hook/install.h"
#include "setup/system.h"
#include "token/token.h"

namespace dualkey::drill::internal {

namespace fs = std::filesystem;

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
    spawn.die_with_parent = true;
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

}  // namespace dualkey::drill::internal
