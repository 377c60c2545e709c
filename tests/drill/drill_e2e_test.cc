// `dualkey drill` against a protected install made in this test: two agents'
// hooks (Claude Code, Gemini CLI), the PostgreSQL proxy in front of a real
// PostgreSQL, the HTTP gateway. The healthy drill's numbers are asserted;
// then one thing at a time is broken (a hook removed, observe mode, a
// readable store, the daemon stopped) and the drill must name exactly that
// failure; then bad input (an agent config that does not parse, a proxy
// that cannot see the drill's token, a policy that fails to load) must be
// failures with their reason, never passes.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "base/free_port.h"
#include "client/client.h"
#include "demo/internal/cluster.h"
#include "harness.h"
#include "pq/libpq.h"

namespace dualkey::drilltest {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kBinary = "/usr/local/bin/dualkey";
constexpr const char* kState = "/var/lib/dualkey";
constexpr const char* kSocket = "/run/dualkey/dualkey.sock";
constexpr const char* kPassword = "drill-test-upstream-pw";

struct World {
  bool ready = false;
  std::string why;
  User agent;
  User daemon;
  std::string daemon_user;
  std::unique_ptr<demo::internal::Cluster> pg;
  int proxy_port = 0;
  int gateway_port = 0;
  std::string work;  // certificates, reports, logs
  json baseline;
  Ran baseline_run;
  std::set<std::string> baseline_findings;
  json battery;
};

World& TheWorld() {
  static World world;
  return world;
}

std::string Suffix() {
  return std::to_string(getpid() % 100000);
}

Ran RunSetup(const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {DUALKEY_BINARY,
                                   "setup",
                                   "--json",
                                   "--user",
                                   TheWorld().agent.name,
                                   "--daemon-user",
                                   TheWorld().daemon_user,
                                   "--agents",
                                   "claude,gemini"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return RunRoot(argv);
}

struct Drilled {
  Ran ran;
  json report;
  std::set<std::string> findings;
};

Drilled RunDrill(const std::string& name, const std::vector<std::string>& extra = {}) {
  const World& w = TheWorld();
  std::vector<std::string> argv = {kBinary,
                                   "drill",
                                   "--user",
                                   w.agent.name,
                                   "--json",
                                   "--certificate",
                                   w.work + "/" + name + ".cert.json",
                                   "--html",
                                   w.work + "/" + name + ".html"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  Drilled d;
  d.ran = RunRoot(argv, "", 180000);
  d.report = json::parse(d.ran.out, nullptr, false);
  if (d.report.is_object() && d.report.contains("findings"))
    for (const json& f : d.report["findings"]) d.findings.insert(f.value("id", ""));
  return d;
}

std::string Show(const Drilled& d) {
  std::string out =
      "exit " + std::to_string(d.ran.exit_code) + "; stderr: " + d.ran.err.substr(0, 2000);
  if (d.report.is_object()) {
    out += "\nfindings: " + d.report["findings"].dump(1).substr(0, 4000);
    out += "\nintegrations: " + d.report["integrations"].dump().substr(0, 3000);
  } else {
    out += "\nstdout: " + d.ran.out.substr(0, 3000);
  }
  return out;
}

std::set<std::string> NewFindings(const Drilled& d) {
  std::set<std::string> out;
  for (const std::string& id : d.findings)
    if (!TheWorld().baseline_findings.contains(id)) out.insert(id);
  return out;
}

const json* Integration(const json& report, const std::string& name) {
  for (const json& i : report["integrations"])
    if (i.value("name", "") == name) return &i;
  return nullptr;
}

// How many attempts the battery sends through one agent's hook.
int HookAttempts(const json& battery, bool has_delete_tool) {
  int n = 0;
  for (const json& c : battery["cases"]) {
    bool hooks = false;
    for (const json& v : c["via"]) hooks = hooks || v == "hooks";
    if (!hooks) continue;
    if (c["channel"] == "file" && c["input"].value("operation", "") == "delete" && !has_delete_tool)
      continue;
    ++n;
  }
  return n;
}

int ViaCount(const json& battery, const std::string& via) {
  int n = 0;
  for (const json& c : battery["cases"])
    for (const json& v : c["via"]) n += v == via ? 1 : 0;
  return n;
}

std::vector<std::string> Glob(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().filename().string().starts_with(prefix)) out.push_back(entry.path().string());
  return out;
}

std::vector<std::string> ProcessesMatching(const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = ReadText("/proc/" + name + "/cmdline");
    for (char& c : cmdline) c = c == '\0' ? ' ' : c;
    if (cmdline.find(needle) != std::string::npos) out.push_back(name + ": " + cmdline);
  }
  return out;
}

int CountSchemas(const std::string& prefix) {
  const pq::LibPq& pq = pq::Api();
  if (!pq.loaded) return -1;
  PGconn* conn = pq.connectdb(TheWorld().pg->Conninfo("shop").c_str());
  if (pq.status(conn) != CONNECTION_OK) {
    pq.finish(conn);
    return -1;
  }
  const std::string sql = "SELECT count(*) FROM pg_namespace WHERE nspname LIKE '" + prefix + "%'";
  PGresult* r = pq.exec(conn, sql.c_str());
  int count = -1;
  if (pq.result_status(r) == PGRES_TUPLES_OK) count = std::atoi(pq.getvalue(r, 0, 0));
  pq.clear(r);
  pq.finish(conn);
  return count;
}

class DrillE2e : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    World& w = TheWorld();
    if (!g_namespace_error.empty() || !InNamespace()) {
      w.why = g_namespace_error.empty() ? "not in the private namespace" : g_namespace_error;
      return;
    }
    std::optional<User> agent = AddUser("dkda" + Suffix());
    if (!agent) {
      w.why = "useradd failed";
      return;
    }
    w.agent = *agent;
    w.daemon_user = "dkdd" + Suffix();
    w.work = "/var/lib/dkdrill-work-" + Suffix();
    fs::create_directories(w.work);
    Ran setup = RunSetup({"--approver", "alice"});
    json report = json::parse(setup.out, nullptr, false);
    if (!report.is_object() || !report.contains("approver")) {
      w.why = "setup failed (exit " + std::to_string(setup.exit_code) + "): " + setup.all();
      return;
    }
    std::optional<User> daemon = FindUser(w.daemon_user);
    if (!daemon) {
      w.why = "no daemon user after setup";
      return;
    }
    w.daemon = *daemon;

    // A real PostgreSQL with a database for the proxy.
    std::string error;
    w.pg = demo::internal::Cluster::Start(
        "/var/lib/dkdrill-pg-" + Suffix(), kPassword,
        {"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG=C.UTF-8", "HOME=/tmp"}, &error);
    if (!w.pg) {
      w.why = "PostgreSQL: " + error;
      return;
    }
    base::ProcessResult created = w.pg->Tool("createdb", {"shop"});
    if (created.exit_code != 0) {
      w.why = "createdb: " + created.err;
      return;
    }
    // The proxy, as the daemon's user, with its password in a 0600 file of its own.
    const std::string password_file = std::string(kState) + "/pg-upstream.password";
    WriteText(password_file, std::string(kPassword) + "\n");
    chown(password_file.c_str(), w.daemon.uid, w.daemon.gid);
    chmod(password_file.c_str(), 0600);
    w.proxy_port = dualkey::base::FreeLoopbackPort();
    const std::string upstream =
        "postgresql://postgres@127.0.0.1:" + std::to_string(w.pg->port()) + "/shop?sslmode=disable";
    WriteText("/etc/dualkey/pg-proxy.env",
              "DUALKEY_PG_UPSTREAM=" + upstream +
                  "\nDUALKEY_PG_LISTEN=127.0.0.1:" + std::to_string(w.proxy_port) + "\n");
    Background({kBinary, "pg-proxy", "--upstream", upstream, "--listen",
                "127.0.0.1:" + std::to_string(w.proxy_port), "--upstream-password-file",
                password_file, "--state-dir", kState, "--socket", kSocket},
               &w.daemon, w.work + "/pg-proxy.log");
    // The gateway, as the daemon's user, with one upstream.
    Ran credential = RunAs(w.daemon,
                           {kBinary, "gateway", "credential", "set", "platform", "--type", "bearer",
                            "--state-dir", kState},
                           {}, "platform-secret\n");
    if (credential.exit_code != 0) {
      w.why = "gateway credential: " + credential.all();
      return;
    }
    WriteText("/etc/dualkey/gateway.toml",
              "[[gateway.http.upstream]]\nname = \"platform\"\nbase_url = "
              "\"http://127.0.0.1:9\"\ncredential = \"platform\"\n");
    chmod("/etc/dualkey/gateway.toml", 0644);
    w.gateway_port = dualkey::base::FreeLoopbackPort();
    Background(
        {kBinary, "gateway", "http", "--listen", "127.0.0.1:" + std::to_string(w.gateway_port),
         "--config", "/etc/dualkey/gateway.toml", "--state-dir", kState, "--socket", kSocket},
        &w.daemon, w.work + "/gateway.log");
    if (!WaitForPort(w.proxy_port, 20000) || !WaitForPort(w.gateway_port, 20000)) {
      w.why = "the proxy or the gateway did not start: " + ReadText(w.work + "/pg-proxy.log") +
              ReadText(w.work + "/gateway.log");
      return;
    }
    // One MCP server the user's Claude Code runs through `dualkey mcp` (the
    // drill replaces the server itself with its stand-in).
    WriteText(w.agent.home + "/.claude.json",
              json{{"mcpServers",
                    {{"files",
                      {{"command", kBinary},
                       {"args", {"mcp", "--server-name", "files", "--", "/bin/false"}}}}}}}
                  .dump(2));
    chown((w.agent.home + "/.claude.json").c_str(), w.agent.uid, w.agent.gid);
    Ran list = RunRoot({kBinary, "drill", "--list", "--json", "--user", w.agent.name});
    w.battery = json::parse(list.out, nullptr, false);
    if (!w.battery.is_object()) {
      w.why = "drill --list: " + list.all();
      return;
    }
    Drilled healthy = RunDrill("healthy");
    if (!healthy.report.is_object()) {
      w.why = "the healthy drill printed no report: " + Show(healthy);
      return;
    }
    w.baseline = healthy.report;
    w.baseline_run = healthy.ran;
    w.baseline_findings = healthy.findings;
    w.ready = true;
  }

  void SetUp() override {
    if (!TheWorld().ready) GTEST_FAIL() << "no drill world: " << TheWorld().why;
  }
  const World& w() const { return TheWorld(); }
};

TEST_F(DrillE2e, HealthyInstallIsDrilledThroughEveryIntegration) {
  const json& r = w().baseline;
  // Nothing about the install is wrong: what is left is what the classifier
  // misses (other engineers' work), never a finding.
  EXPECT_TRUE(r["findings"].empty()) << r["findings"].dump(1);
  EXPECT_EQ(r["mode"], "protected");
  EXPECT_EQ(r["user"], w().agent.name);
  EXPECT_GE(w().battery["count"].get<int>(), 300);

  const json* claude = Integration(r, "claude hook");
  const json* gemini = Integration(r, "gemini hook");
  const json* proxy = Integration(r, "pg-proxy 127.0.0.1:" + std::to_string(w().proxy_port));
  const json* gateway = Integration(r, "gateway 127.0.0.1:" + std::to_string(w().gateway_port));
  const json* mcp = Integration(r, "mcp files (claude)");
  ASSERT_TRUE(claude && gemini && proxy && gateway && mcp) << r["integrations"].dump(1);
  EXPECT_EQ((*mcp)["attempts"], ViaCount(w().battery, "mcp"));
  // Every case went through every integration it names, and each got an answer.
  EXPECT_EQ((*claude)["attempts"], HookAttempts(w().battery, false));
  EXPECT_EQ((*gemini)["attempts"], HookAttempts(w().battery, false));
  EXPECT_EQ((*proxy)["attempts"], ViaCount(w().battery, "pg-proxy"));
  EXPECT_EQ((*gateway)["attempts"], ViaCount(w().battery, "gateway"));
  for (const json* i : {claude, gemini, proxy, gateway, mcp}) {
    EXPECT_EQ((*i)["errors"], 0) << i->dump();
    EXPECT_FALSE(i->contains("not_run")) << i->dump();
    // What the canaries lost is what got through, no more.
    if ((*i)["destructive_allowed"] == 0 && !(*i)["lost"].is_null()) EXPECT_EQ((*i)["lost"], 0);
  }
  EXPECT_TRUE((*claude)["lost"].is_null());  // a hook only answers: nothing ran
  const json& totals = r["totals"];
  EXPECT_GE(totals["destructive"].get<int>(), 400);
  EXPECT_EQ(totals["errors"], 0);
  // A floor for the classifier as it is now; it only rises.
  EXPECT_GE(totals["destructive_held"].get<double>() / totals["destructive"].get<double>(), 0.75)
      << totals.dump();
  EXPECT_LE(totals["controls_held"].get<int>(), totals["controls"].get<int>() / 10)
      << totals.dump();

  // The breaker: tripped at its limit by real checks, reset by the drill.
  EXPECT_TRUE(r["breaker"]["tested"].get<bool>()) << r["breaker"].dump();
  EXPECT_EQ(r["breaker"]["tripped_after"], r["breaker"]["configured_attempts"]);
  EXPECT_EQ(r["breaker"]["configured_attempts"], 3);
  EXPECT_TRUE(r["breaker"]["reset"].get<bool>());
  // The audit log: intact against the pinned key, every attempt in it.
  EXPECT_TRUE(r["audit"]["checked"].get<bool>()) << r["audit"].dump();
  EXPECT_TRUE(r["audit"]["intact"].get<bool>()) << r["audit"].dump();
  EXPECT_TRUE(r["audit"]["pinned"].get<bool>());
  EXPECT_GT(r["audit"]["expected"].get<int>(), 400);
  EXPECT_EQ(r["audit"]["found"], r["audit"]["expected"]) << r["audit"]["missing"].dump();
  EXPECT_TRUE(r["left_behind"].empty()) << r["left_behind"].dump();
  // Exit status: 1 exactly when something destructive got through.
  EXPECT_EQ(w().baseline_run.exit_code, totals["destructive_allowed"].get<int>() > 0 ? 1 : 0);
}

// The time is recorded and printed, not asserted: timing goals are measured
// in bench/, and a loaded CI machine took 55 s where an idle one takes 24.
TEST_F(DrillE2e, HealthyDrillReportsItsTimeAndWhatGotThrough) {
  RecordProperty("drill_ms", static_cast<int>(w().baseline_run.ms));
  std::cout << "healthy drill: " << w().baseline_run.ms << " ms, "
            << w().baseline["attempts"].size() << " attempts\n";
  for (const json& i : w().baseline["integrations"])
    std::cout << "  " << i.value("name", "") << ": " << i.value("attempts", 0) << " attempts, "
              << i.value("held", 0) << " held, " << i.value("allowed", 0) << " allowed, "
              << i.value("errors", 0) << " errors, lost " << i["lost"].dump() << "\n";
  // What got through, so a weaker score says which attempts to look at.
  for (const json& a : w().baseline["attempts"])
    if (a.value("expect", "") == "hold" && a.value("outcome", "") == "allowed")
      std::cout << "  through " << a.value("integration", "") << " " << a.value("id", "") << ": "
                << a.value("input", "") << "\n";
}

// Everything a drill makes, looked for after it: canaries, the stand-ins
// and the gateway's copy, tokens, credentials, pending requests, frozen
// drill agents, and a test approver added without being removed.
std::vector<std::string> LeftBehind() {
  std::vector<std::string> out;
  for (const std::string& p : Glob(TheWorld().agent.home, "drill-canary-")) out.push_back(p);
  for (const std::string& p : Glob("/tmp", "dualkey-drill-gw-")) out.push_back(p);
  if (const int schemas = CountSchemas("drill_canary_"); schemas != 0)
    out.push_back(std::to_string(schemas) + " drill_canary_ schema(s)");
  for (const std::string needle :
       {"--mcp-standin", "--server-name files", "gateway http --listen 127.0.0.1:0"})
    for (const std::string& p : ProcessesMatching(needle)) out.push_back("process " + p);
  if (ReadText(std::string(kState) + "/tokens.json").find("drill-") != std::string::npos)
    out.push_back("a drill token in tokens.json");
  for (const std::string& p : Glob(std::string(kState) + "/credentials", "drill-"))
    out.push_back(p);
  Ran pending = RunAs(TheWorld().agent, {kBinary, "pending", "--json"});
  if (pending.out.find("\"drill-") != std::string::npos) out.push_back("pending: " + pending.out);
  Ran breaker = RunAs(TheWorld().agent, {kBinary, "breaker", "status", "--json"});
  json status = json::parse(breaker.out, nullptr, false);
  if (!status.is_object())
    out.push_back("breaker status: " + breaker.all());
  else
    for (const json& a : status["agents"])
      if (a.value("agent", "").starts_with("drill-") && a.value("frozen", true))
        out.push_back("frozen: " + a.dump());
  // Every drill approver the audit log saw added, it saw removed.
  std::map<std::string, int> approvers;
  std::istringstream lines(ReadText(std::string(kState) + "/audit.jsonl"));
  std::string line;
  while (std::getline(lines, line)) {
    json record = json::parse(line, nullptr, false);
    if (!record.is_object()) continue;
    if (!record.contains("kind") || !record["kind"].is_string() || !record.contains("fields"))
      continue;
    const std::string kind = record["kind"];
    const json& fields = record["fields"];
    if (!fields.is_object() || !fields.value("drill", false)) continue;
    const std::string name = fields.value("name", "");
    if (kind == "approver_added") ++approvers[name];
    if (kind == "approver_removed") --approvers[name];
  }
  for (const auto& [name, open] : approvers)
    if (open != 0) out.push_back("drill approver " + name + " added without removal");
  return out;
}

TEST_F(DrillE2e, LeavesNothingBehind) {
  const std::string session = w().baseline["session"];
  ASSERT_FALSE(session.empty());
  const std::vector<std::string> left = LeftBehind();
  EXPECT_TRUE(left.empty()) << ::testing::PrintToString(left);
  // The test approver came and went, as audited actions.
  const std::string audit = ReadText(std::string(kState) + "/audit.jsonl");
  const std::string approver = "drill-" + session;
  for (const std::string kind :
       {"approver_added", "approver_removed", "breaker_reset", "drill_certificate"}) {
    bool seen = false;
    std::istringstream lines(audit);
    std::string line;
    while (std::getline(lines, line))
      seen = seen || (line.find("\"" + kind + "\"") != std::string::npos &&
                      line.find(session) != std::string::npos);
    EXPECT_TRUE(seen) << kind << " for session " << session;
  }
  // The session is gone: its approver resets nothing any more.
  Result<json> reset = client::CallAt(kSocket,
                                      json{{"op", "drill_breaker_reset"},
                                           {"session", session},
                                           {"agent", approver + "-burst"},
                                           {"totp", "000000"}},
                                      5000);
  ASSERT_TRUE(reset.ok()) << reset.status().message();
  EXPECT_FALSE(reset->value("ok", true));
  EXPECT_NE(reset->value("error", "").find("no open drill session"), std::string::npos)
      << reset->dump();
}

// Cut short (Ctrl-C, a CI timeout): the drill stops, cleans up what it made
// so far, and says it could not finish (exit 2), never a pass.
TEST_F(DrillE2e, InterruptedDrillLeavesNothingBehind) {
  const std::string log = w().work + "/interrupted.log";
  const pid_t pid = Background(
      {kBinary, "drill", "--user", w().agent.name, "--json", "--no-certificate"}, nullptr, log);
  ASSERT_GT(pid, 0);
  // Once its canary exists it is in the middle of its work.
  for (int i = 0; i < 200 && Glob(w().agent.home, "drill-canary-").empty(); ++i) usleep(25'000);
  usleep(1'500'000);
  kill(pid, SIGTERM);
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 1200 && done == 0; ++i) {
    done = waitpid(pid, &status, WNOHANG);
    if (done == 0) usleep(50'000);
  }
  if (done == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "the drill did not stop within 60 s of SIGTERM: " << ReadText(log).substr(0, 2000);
  }
  ASSERT_TRUE(WIFEXITED(status)) << "killed by a signal: " << ReadText(log).substr(0, 2000);
  EXPECT_EQ(WEXITSTATUS(status), 2) << ReadText(log).substr(0, 3000);
  const std::vector<std::string> left = LeftBehind();
  EXPECT_TRUE(left.empty()) << ::testing::PrintToString(left) << "\n"
                            << ReadText(log).substr(0, 3000);
}

TEST_F(DrillE2e, TextReportHasATablePerIntegrationAndTheFixes) {
  Ran ran = RunRoot({kBinary, "drill", "--user", w().agent.name, "--no-certificate", "--only",
                     "hooks,pg-proxy,gateway"},
                    "", 180000);
  std::cout << ran.out << ran.err;
  // What discovery found: the daemon and whom it runs as, the agents, the
  // services, the policy layers.
  EXPECT_NE(ran.out.find("daemon:   up, pid "), std::string::npos);
  EXPECT_NE(ran.out.find(" as " + w().daemon_user + " on "), std::string::npos);
  EXPECT_NE(ran.out.find("claude: 1 hook command"), std::string::npos);
  EXPECT_NE(ran.out.find("pg-proxy 127.0.0.1:" + std::to_string(w().proxy_port)),
            std::string::npos);
  EXPECT_NE(ran.out.find("system /etc/dualkey/policy.toml"), std::string::npos);
  EXPECT_NE(ran.out.find("integration"), std::string::npos);
  EXPECT_NE(ran.out.find("claude hook"), std::string::npos);
  EXPECT_NE(ran.out.find("gemini hook"), std::string::npos);
  EXPECT_NE(ran.out.find("pg-proxy 127.0.0.1:"), std::string::npos);
  EXPECT_NE(ran.out.find("gateway 127.0.0.1:"), std::string::npos);
  if (ran.out.find("GOT THROUGH") != std::string::npos)
    EXPECT_NE(ran.out.find("fix: add a pack"), std::string::npos);
  EXPECT_NE(ran.out.find("dualkey drill: "), std::string::npos);
}

TEST_F(DrillE2e, CertificateVerifiesAgainstThePinnedKeyAndNothingElse) {
  const std::string cert = w().work + "/healthy.cert.json";
  ASSERT_TRUE(Exists(cert)) << w().baseline.value("certificate_error", "");
  json c = json::parse(ReadText(cert), nullptr, false);
  ASSERT_TRUE(c.is_object());
  EXPECT_EQ(c["certificate"]["policy"]["hash"], w().baseline["policy"]["hash"]);
  EXPECT_EQ(c["certificate"]["dualkey_version"], w().baseline["version"]);
  EXPECT_EQ(c["signature"]["public_key"].get<std::string>(),
            ReadText("/etc/dualkey/audit.pub").substr(0, 64));
  Ran ok = RunAs(w().agent, {kBinary, "drill", "verify", cert});
  EXPECT_EQ(ok.exit_code, 0) << ok.all();
  EXPECT_NE(ok.out.find("VALID"), std::string::npos);
  // Changed by one figure: invalid.
  json forged = c;
  forged["certificate"]["results"]["destructive_allowed"] = 0;
  forged["certificate"]["results"]["verdict"] = "pass";
  forged["certificate"]["results"]["held_pct"] = "100.00";
  const std::string forged_path = w().work + "/forged.cert.json";
  WriteText(forged_path, forged.dump(2));
  if (forged != c) {
    Ran bad = RunAs(w().agent, {kBinary, "drill", "verify", forged_path});
    EXPECT_EQ(bad.exit_code, 1) << bad.all();
  }
  // Another key: refused.
  Ran other =
      RunAs(w().agent, {kBinary, "drill", "verify", cert, "--pubkey", std::string(64, 'a')});
  EXPECT_EQ(other.exit_code, 1) << other.all();
}

TEST_F(DrillE2e, HtmlReportIsSelfContained) {
  const std::string html = ReadText(w().work + "/healthy.html");
  ASSERT_FALSE(html.empty());
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("held versus allowed per channel"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  EXPECT_EQ(html.find("href=\"http"), std::string::npos);
}

// ---- one thing broken at a time ----------------------------------------

struct Saved {
  std::string path, text;
  bool existed;
};
Saved Save(const std::string& path) {
  return Saved{path, ReadText(path), Exists(path)};
}
void Restore(const Saved& s) {
  if (s.existed)
    WriteText(s.path, s.text);
  else
    fs::remove(s.path);
}

TEST_F(DrillE2e, RemovedHookIsNamed) {
  const Saved managed = Save("/etc/claude-code/managed-settings.json");
  const Saved user = Save(w().agent.home + "/.claude/settings.json");
  WriteText(managed.path, "{}\n");
  WriteText(user.path, "{}\n");
  Drilled d = RunDrill("nohook");
  Restore(managed);
  Restore(user);
  EXPECT_EQ(NewFindings(d), std::set<std::string>{"hook.missing.claude"}) << Show(d);
  EXPECT_NE(d.ran.exit_code, 0);
  EXPECT_EQ(Integration(d.report, "claude hook") != nullptr &&
                (*Integration(d.report, "claude hook"))["attempts"] == 0,
            true);
}

TEST_F(DrillE2e, ObserveModeIsNamed) {
  const Saved policy = Save("/etc/dualkey/policy.toml");
  WriteText(policy.path, "mode = \"observe\"\n" + policy.text);
  Drilled d = RunDrill("observe");
  Restore(policy);
  EXPECT_EQ(NewFindings(d), std::set<std::string>{"policy.observe"}) << Show(d);
  EXPECT_NE(d.ran.exit_code, 0);
  EXPECT_GT(d.report["totals"]["destructive_allowed"].get<int>(),
            w().baseline["totals"]["destructive_allowed"].get<int>());
  for (const json& f : d.report["findings"])
    if (f["id"] == "policy.observe")
      EXPECT_NE(f["fix"].get<std::string>().find("enforce"), std::string::npos);
}

// A rule in the system policy that allows what the battery destroys: the
// drill fails and names that rule (file and line), not the classifier.
TEST_F(DrillE2e, LooseningPolicyRuleIsNamed) {
  const Saved policy = Save("/etc/dualkey/policy.toml");
  const std::string rule_name = "drill-test: let recursive deletes run";
  WriteText(policy.path, policy.text + "\n[[rules]]\nname = \"" + rule_name +
                             "\"\nclass = \"fs.delete.recursive\"\ndecision = \"allow\"\n");
  // The daemon reads the system policy when it starts and on SIGHUP.
  auto restart = [] {
    Ran stop = RunRoot({kBinary, "setup", "--stop"});
    Ran start = RunSetup({"--no-doctor"});
    return stop.exit_code == 0 && start.exit_code == 0 ? std::string() : stop.all() + start.all();
  };
  const std::string restarted = restart();
  Drilled d;
  if (restarted.empty()) d = RunDrill("loosened", {"--only", "hooks"});
  Restore(policy);
  const std::string back = restart();
  ASSERT_TRUE(restarted.empty()) << restarted;
  ASSERT_TRUE(back.empty()) << back;
  EXPECT_EQ(NewFindings(d), std::set<std::string>{"policy.loosened"}) << Show(d);
  EXPECT_NE(d.ran.exit_code, 0);
  for (const json& f : d.report["findings"])
    if (f["id"] == "policy.loosened") {
      EXPECT_NE(f["detail"].get<std::string>().find(rule_name), std::string::npos) << f.dump();
      EXPECT_NE(f["detail"].get<std::string>().find("/etc/dualkey/policy.toml:"), std::string::npos)
          << f.dump();
    }
  // Each attempt it let through says so, and its fix is the rule.
  int named = 0;
  for (const json& t : d.report["got_through"])
    if (t.contains("loosened_by")) {
      ++named;
      EXPECT_NE(t["fix"].get<std::string>().find(rule_name), std::string::npos) << t.dump();
    }
  EXPECT_GT(named, 0) << d.report["got_through"].dump().substr(0, 3000);
  const json* claude = Integration(d.report, "claude hook");
  const json* before = Integration(w().baseline, "claude hook");
  ASSERT_TRUE(claude && before);
  EXPECT_GT((*claude)["destructive_allowed"].get<int>(),
            (*before)["destructive_allowed"].get<int>());
}

// A hook whose command cannot run: the agent runs every call (hooks fail
// open), and the drill says so.
TEST_F(DrillE2e, BrokenHookIsNamed) {
  const Saved managed = Save("/etc/claude-code/managed-settings.json");
  const Saved user = Save(w().agent.home + "/.claude/settings.json");
  auto Break = [](const Saved& s) {
    std::string text = s.text;
    const std::string from = std::string(kBinary) + " hook claude";
    for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at))
      text.replace(at, from.size(), "/usr/local/bin/dualkey-gone hook claude"), at += from.size();
    WriteText(s.path, text);
  };
  Break(managed);
  Break(user);
  Drilled d = RunDrill("brokenhook", {"--only", "hooks"});
  Restore(managed);
  Restore(user);
  // Only that: the attempts it never asked the daemon about are not
  // "missing from the audit log".
  EXPECT_EQ(NewFindings(d), std::set<std::string>{"hook.broken.claude"}) << Show(d);
  EXPECT_NE(d.ran.exit_code, 0);
  const json* claude = Integration(d.report, "claude hook");
  ASSERT_TRUE(claude);
  EXPECT_EQ((*claude)["held"], 0) << claude->dump();
}

// A breaker so loose that the incident's burst (47 destructive commands in
// 9 s) would run to its end: named, even though the drill's own longer burst
// still trips it. (The daemon reads its limits when it starts.)
TEST_F(DrillE2e, LooseBreakerIsNamed) {
  const Saved policy = Save("/etc/dualkey/policy.toml");
  WriteText(policy.path, policy.text + "\n[breaker]\nattempts = 60\n");
  auto restart = [] {
    Ran stop = RunRoot({kBinary, "setup", "--stop"});
    Ran start = RunSetup({"--no-doctor"});
    return stop.exit_code == 0 && start.exit_code == 0 ? std::string() : stop.all() + start.all();
  };
  const std::string restarted = restart();
  Drilled d;
  if (restarted.empty()) d = RunDrill("loosebreaker", {"--only", "breaker"});
  Restore(policy);
  const std::string back = restart();
  ASSERT_TRUE(restarted.empty()) << restarted;
  ASSERT_TRUE(back.empty()) << back;
  EXPECT_EQ(NewFindings(d), std::set<std::string>{"breaker.loose"}) << Show(d);
  EXPECT_EQ(d.report["breaker"]["configured_attempts"], 60) << d.report["breaker"].dump();
  for (const json& f : d.report["findings"])
    if (f["id"] == "breaker.loose")
      EXPECT_NE(f["fix"].get<std::string>().find("attempts = 3"), std::string::npos) << f.dump();
  EXPECT_NE(d.ran.exit_code, 0);
}

TEST_F(DrillE2e, ReadableStoreIsNamed) {
  chmod(kState, 0755);
  chmod((std::string(kState) + "/state.sqlite3").c_str(), 0644);
  Drilled d = RunDrill("readable");
  chmod((std::string(kState) + "/state.sqlite3").c_str(), 0600);
  chmod(kState, 0700);
  EXPECT_EQ(NewFindings(d), std::set<std::string>{"boundary.secrets"}) << Show(d);
  EXPECT_NE(d.ran.exit_code, 0);
}

TEST_F(DrillE2e, StoppedDaemonIsNamed) {
  Ran stop = RunRoot({kBinary, "setup", "--stop"});
  ASSERT_EQ(stop.exit_code, 0) << stop.all();
  Drilled d = RunDrill("stopped");
  Ran start = RunSetup({"--no-doctor"});
  EXPECT_EQ(NewFindings(d), std::set<std::string>{"daemon"}) << Show(d);
  EXPECT_NE(d.ran.exit_code, 0);
  // Nothing got through because of it: the integrations held on their own.
  EXPECT_LE(d.report["totals"]["destructive_allowed"].get<int>(),
            w().baseline["totals"]["destructive_allowed"].get<int>());
  EXPECT_FALSE(Exists(w().work + "/stopped.cert.json"));
  ASSERT_TRUE(WaitForPort(w().proxy_port, 5000));
  (void)start;
}

TEST_F(DrillE2e, UnwrappedMcpServerIsNamed) {
  const Saved config = Save(w().agent.home + "/.claude.json");
  json servers = json::parse(config.text);
  servers["mcpServers"]["raw"] = {{"command", "npx"}, {"args", {"-y", "some-mcp-server"}}};
  WriteText(config.path, servers.dump(2));
  Drilled d = RunDrill("unwrapped", {"--only", "mcp"});
  Restore(config);
  EXPECT_TRUE(d.findings.contains("mcp.unwrapped.claude.raw")) << Show(d);
  for (const json& f : d.report["findings"])
    if (f["id"] == "mcp.unwrapped.claude.raw")
      EXPECT_EQ(f["fix"], "dualkey install mcp --client claude");
  EXPECT_NE(d.ran.exit_code, 0);
}

// ---- bad input: failures with their reason, never passes -----------------

TEST_F(DrillE2e, UnreadableAgentConfigIsAFailureWithItsReason) {
  const Saved gemini = Save(w().agent.home + "/.gemini/settings.json");
  WriteText(gemini.path, "{ \"hooks\": { oops");
  Drilled d = RunDrill("badconfig");
  Restore(gemini);
  ASSERT_TRUE(d.findings.contains("hook.config.gemini")) << Show(d);
  for (const json& f : d.report["findings"])
    if (f["id"] == "hook.config.gemini")
      EXPECT_NE(f["detail"].get<std::string>().find("not valid JSON"), std::string::npos)
          << f.dump();
  EXPECT_FALSE(d.report["passed"].get<bool>());
  EXPECT_NE(d.ran.exit_code, 0);
}

TEST_F(DrillE2e, ProxyThatCannotSeeTheDrillsTokenIsAFailure) {
  // A second proxy whose state directory is private to it (as under
  // systemd's PrivateTmp): the token the drill writes never reaches it.
  const std::string state = "/var/lib/dkdrill-private-" + Suffix();
  fs::create_directories(state);
  chown(state.c_str(), w().daemon.uid, w().daemon.gid);
  const int port = dualkey::base::FreeLoopbackPort();
  const std::string upstream =
      "postgresql://postgres@127.0.0.1:" + std::to_string(w().pg->port()) + "/shop?sslmode=disable";
  const pid_t pid = Background(
      {"unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
       "mount -t tmpfs -o mode=0700,uid=" + std::to_string(w().daemon.uid) + " none " + state +
           " && exec setpriv --reuid=" + std::to_string(w().daemon.uid) +
           " --regid=" + std::to_string(w().daemon.gid) + " --init-groups " + kBinary +
           " pg-proxy --upstream '" + upstream + "' --listen 127.0.0.1:" + std::to_string(port) +
           " --upstream-password-file " + kState + "/pg-upstream.password --state-dir " + state +
           " --socket " + kSocket},
      nullptr, w().work + "/private-proxy.log");
  ASSERT_TRUE(WaitForPort(port, 20000)) << ReadText(w().work + "/private-proxy.log");
  Drilled d = RunDrill("privateproxy", {"--only", "pg-proxy"});
  kill(pid, SIGTERM);
  ASSERT_TRUE(d.findings.contains("pg_proxy.token")) << Show(d);
  for (const json& f : d.report["findings"])
    if (f["id"] == "pg_proxy.token")
      EXPECT_NE(f["detail"].get<std::string>().find("refused the drill's token"), std::string::npos)
          << f.dump();
  EXPECT_FALSE(d.report["passed"].get<bool>());
  EXPECT_NE(d.ran.exit_code, 0);
}

TEST_F(DrillE2e, PolicyThatFailsToLoadIsAFailureWithItsReason) {
  const Saved policy = Save("/etc/dualkey/policy.toml");
  WriteText(policy.path, policy.text + "\nmode = [ this is not TOML\n");
  Drilled d = RunDrill("badpolicy", {"--only", "hooks"});
  Restore(policy);
  ASSERT_TRUE(d.findings.contains("policy.load")) << Show(d);
  for (const json& f : d.report["findings"])
    if (f["id"] == "policy.load")
      EXPECT_NE(f["detail"].get<std::string>().find("policy.toml"), std::string::npos) << f.dump();
  EXPECT_FALSE(d.report["passed"].get<bool>());
  EXPECT_NE(d.ran.exit_code, 0);
}

}  // namespace
}  // namespace dualkey::drilltest
