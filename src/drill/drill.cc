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
#include "base/text.h"
#include "base/time_text.h"
#include "client/client.h"
#include "client/drill_certificate.h"
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

#ifndef DUALKEY_VERSION
#define DUALKEY_VERSION "0.0.0"
#endif

namespace dualkey::drill {
namespace internal {

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
  return base::FormatTime(ms, "%Y-%m-%dT%H:%M:%SZ", base::TimeZone::kUtc);
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
  return base::ShellSingleQuote(text);
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
        Result<std::string> secret = store.Add(name, {scope});
        *out = secret.ok() ? *secret : secret.status().message();
        return secret.ok() ? 0 : 1;
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
        Status revoked = store.Revoke(name);
        if (revoked.ok()) return 0;
        *out = revoked.message();
        return 1;
      },
      &output);
  return status == 0 ? "" : "token " + name + " in " + state_dir + ": " + output;
}

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

}  // namespace internal

using namespace internal;  // NOLINT: the drill's own parts

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
