// After the attempts: the audit log read back, clean-up, the trace through
// the policy, the findings and the signed certificate.
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

}  // namespace dualkey::drill::internal
