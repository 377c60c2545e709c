// The demo plays an agent with too much access. Every attempt goes through a
// real integration: shell commands through the Claude Code hook protocol
// (`dualkey hook claude`, as Claude Code runs it), SQL through the PostgreSQL
// proxy with a scoped token, API calls through the HTTP gateway to a
// stand-in platform. Nothing is short-circuited: when something is allowed,
// the command really runs, the statement really reaches PostgreSQL, the
// request really reaches the platform, and the final table counts what was
// lost by comparing the data before and after.
#include "demo/demo.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "approval/approval.h"
#include "base/free_port.h"
#include "base/process.h"
#include "client/client.h"
#include "demo/internal/cluster.h"
#include "demo/internal/platform.h"
#include "demo/internal/support.h"
#include "guard/guard.h"
#include "policy/policy.h"
#include "pq/libpq.h"
#include "token/token.h"

extern char** environ;

namespace dualkey::demo {
namespace {

namespace fs = std::filesystem;
using base::Child;
using base::ProcessResult;
using base::Spawn;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace internal;  // NOLINT: the demo's own parts

std::atomic<bool> g_interrupted{false};
void OnInterrupt(int) {
  g_interrupted = true;
}

struct Outcome {
  std::string decision;  // allow | hold | deny
  std::string reason;
  double ms = 0;
};

class Demo {
 public:
  explicit Demo(const Options& options) : options_(options) {}

  int Execute() {
    if (sodium_init() < 0) {
      std::cerr << "dualkey demo: libsodium failed to initialise\n";
      return 2;
    }
    signal(SIGINT, OnInterrupt);
    signal(SIGTERM, OnInterrupt);
    signal(SIGPIPE, SIG_IGN);
    auto started = Clock::now();
    if (!Setup()) {
      Teardown();
      PrintSetupFailure();
      return 2;
    }
    Play();
    Conclude();
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    summary_["seconds"] = std::round(seconds * 10) / 10;
    const int status = summary_.value("ok", false) ? 0 : 1;
    if (options_.keep && !g_interrupted) {
      // The table first, then how to connect, at once (also into a pipe or
      // a file); the verdict again as the last line once it is stopped.
      Print();
      Keep();
      Teardown();
      if (!options_.json) std::cout << "\nstopped and removed " << root_.string() << "\n";
      PrintVerdictLine();
      return status;
    }
    Teardown();
    Print();
    return status;
  }

 private:
  // ---- Set-up --------------------------------------------------------------

  void Say(const std::string& line) {
    if (!options_.json) std::cout << line << std::endl;
  }

  bool Fail(const std::string& what) {
    std::cerr << "dualkey demo: " << what << "\n";
    if (setup_error_.empty()) {
      // One line: it ends up in the last line.
      for (char c : what) setup_error_.push_back(c == '\n' ? ' ' : c);
      while (!setup_error_.empty() && setup_error_.back() == ' ') setup_error_.pop_back();
    }
    return false;
  }

  // Every dualkey process of the demo: pinned to its sandbox by argument
  // (install/layout.h), with the sealed environment and nothing else.
  Spawn DualkeySpawn(const std::vector<std::string>& args) const {
    Spawn spawn;
    spawn.argv = {binary_, "--sandbox", root_.string()};
    spawn.argv.insert(spawn.argv.end(), args.begin(), args.end());
    spawn.env = env_;
    spawn.own_process_group = true;  // Ctrl-C reaches the demo, which stops them
    return spawn;
  }

  ProcessResult Dualkey(const std::vector<std::string>& args, const std::string& input = "",
                        int timeout_ms = 30000) {
    return base::Run(DualkeySpawn(args), input, timeout_ms);
  }

  std::unique_ptr<Child> Start(const std::vector<std::string>& args, const std::string& log) {
    Result<std::unique_ptr<Child>> child =
        Child::Start(DualkeySpawn(args), (root_ / log).string(), Child::Stdio::kLog);
    if (!child.ok()) {
      Fail(child.status().message());
      return nullptr;
    }
    return std::move(child).value();
  }

  std::string LogTail(const std::string& log) {
    std::ifstream in(root_ / log);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
  }

  bool Setup() {
    binary_ =
        options_.binary.empty() ? fs::read_symlink("/proc/self/exe").string() : options_.binary;
    if (!options_.dir.empty()) {
      root_ = options_.dir;
    } else {
      // Not under /tmp: dualkey rightly treats temp directories as disposable,
      // and this is meant to be production.
      const char* xdg = std::getenv("XDG_DATA_HOME");
      const char* home = std::getenv("HOME");
      fs::path base = xdg != nullptr && *xdg == '/' ? fs::path(xdg) / "dualkey"
                      : home != nullptr             ? fs::path(home) / ".local/share/dualkey"
                                                    : fs::path("/var/lib/dualkey");
      root_ = base / ("demo-" + std::to_string(getpid()));
    }
    std::error_code ec;
    {
      // The demo's production must look like production: under /tmp or a
      // build directory, deleting it is rightly allowed as disposable.
      guard::Request probe;
      probe.channel = Channel::kShell;
      probe.input = "rm -rf " + (root_ / "prod/uploads").string();
      probe.cwd = (root_ / "prod").string();
      probe.home = (root_ / "home").string();
      if (guard::Check(probe, policy::Builtin()).verdict.decision == Decision::kAllow)
        return Fail(root_.string() +
                    " is a place dualkey treats as disposable (temp or build output); choose a "
                    "--dir elsewhere, e.g. under ~/.local/share");
    }
    if (fs::exists(root_, ec) && !fs::is_empty(root_, ec))
      return Fail(root_.string() +
                  " exists and is not empty; the demo needs a directory of its own");
    const bool root_existed = fs::exists(root_, ec);
    for (const char* d :
         {"prod/uploads", "backups", "platform/volumes/vol-prod", "state", "home", "etc"})
      fs::create_directories(root_ / d, ec);
    if (ec) return Fail("cannot create " + root_.string() + ": " + ec.message());
    created_root_ = !root_existed;
    emptied_root_ = true;
    chmod((root_ / "state").c_str(), 0700);
    root_ = fs::canonical(root_, ec);
    const std::string state = (root_ / "state").string();
    socket_ = state + "/dualkey.sock";
    vault_ = state + "/vault";
    env_ = SealedEnvironment(root_);
    SealOwnEnvironment();
    Say("dualkey demo: a throwaway production in " + root_.string());

    // PostgreSQL with a seeded shop.
    std::string error;
    pg_password_ = RandomHex(16);
    cluster_ = internal::Cluster::Start((root_ / "pg").string(), pg_password_, env_, &error);
    if (!cluster_) return Fail(error);
    if (!Seed()) return false;
    Say("  PostgreSQL " + std::to_string(cluster_->port()) + ": database shop, " +
        std::to_string(rows_before_["customers"]) + " customers, " +
        std::to_string(rows_before_["orders"]) + " orders");

    // Files: uploads, and the platform's volume.
    for (int i = 0; i < 120; ++i) {
      std::vector<unsigned char> data(2048 + 97 * i);
      randombytes_buf(data.data(), data.size());
      std::ofstream(root_ / "prod/uploads" / ("invoice-" + std::to_string(1000 + i) + ".pdf"),
                    std::ios::binary)
          .write(reinterpret_cast<const char*>(data.data()),
                 static_cast<std::streamsize>(data.size()));
    }
    for (int i = 0; i < 40; ++i) {
      std::vector<unsigned char> data(4096 + 31 * i);
      randombytes_buf(data.data(), data.size());
      std::ofstream(root_ / "platform/volumes/vol-prod" / ("segment-" + std::to_string(i) + ".dat"),
                    std::ios::binary)
          .write(reinterpret_cast<const char*>(data.data()),
                 static_cast<std::streamsize>(data.size()));
    }
    std::ofstream(root_ / "prod/README.md")
        << "# shop\nThe shop's production checkout: uploads/ holds customer invoices.\n"
           "orders are in PostgreSQL (database shop).\n";

    // The daemon, its approvers, the vault.
    daemon_ =
        Start({"serve", "--state-dir", state, "--socket", socket_, "--vault", vault_, "--quiet"},
              "serve.log");
    if (!daemon_) return false;
    bool up = false;
    for (int i = 0; i < 300 && !up; ++i) {
      // The demo's own daemon, on its private socket: asked directly.
      up = client::Client::ForLayout(install::Layout{}, client::ClientOptions{socket_, 200})
               .DaemonStatus()
               .ok();
      if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!up) return Fail("the daemon did not start: " + LogTail("serve.log"));
    if (!Isolated()) return false;
    for (const char* name : {"alice", "bob"}) {
      std::vector<std::string> args = {"approver", "add", name, "--state-dir", state};
      // After the first, an approver is vouched for with an existing one's
      // code (the previous step's, so alice's current code stays unused).
      if (!secrets_.empty())
        args.insert(args.end(), {"--as", "alice", "--code", Totp(secrets_["alice"], -30)});
      ProcessResult added = Dualkey(args);
      std::size_t at = added.out.find("secret=");
      if (added.exit_code != 0 || at == std::string::npos)
        return Fail("cannot enrol approver " + std::string(name) + ": " + added.err);
      secrets_[name] = added.out.substr(at + 7, added.out.find('&', at) - at - 7);
    }
    ProcessResult dump =
        cluster_->Tool("pg_dump", {"-Fc", "-f", (root_ / "backups/shop.dump").string(), "shop"});
    if (dump.exit_code != 0) return Fail("pg_dump failed: " + dump.err);
    ProcessResult init = Dualkey({"vault", "init", "--vault", vault_, "--json"});
    ProcessResult put = Dualkey({"vault", "put", (root_ / "prod/uploads").string(), "--vault",
                                 vault_, "--tag", "nightly", "--json"});
    if (init.exit_code != 0 || put.exit_code != 0)
      return Fail("cannot snapshot the uploads into the vault: " + init.err + put.err);
    json snapshot = json::parse(put.out, nullptr, false);
    nightly_snapshot_ = snapshot.is_object() ? snapshot.value("id", "") : "";
    std::ofstream(root_ / "backups/VAULT_SNAPSHOT") << nightly_snapshot_ << "\n";
    Say("  files: 120 uploads; backups: a pg_dump and vault snapshot " + nightly_snapshot_);

    // The agent's token; the real credentials stay with dualkey.
    ProcessResult token = Dualkey({"token", "add", "claude", "--json"});
    json token_json = json::parse(token.out, nullptr, false);
    if (token.exit_code != 0 || !token_json.is_object())
      return Fail("cannot create the agent token: " + token.err);
    agent_token_ = token_json["token"];

    // The PostgreSQL proxy with the real password.
    {
      const std::string password_file = state + "/pg-upstream.password";
      std::ofstream(password_file) << pg_password_ << "\n";
      chmod(password_file.c_str(), 0600);
      proxy_port_ = base::FreeLoopbackPort();
      proxy_ =
          Start({"pg-proxy", "--listen", "127.0.0.1:" + std::to_string(proxy_port_), "--upstream",
                 "postgresql://postgres@127.0.0.1:" + std::to_string(cluster_->port()) + "/shop",
                 "--upstream-password-file", password_file, "--socket", socket_, "--state-dir",
                 state, "--vault", vault_},
                "pg-proxy.log");
      if (!proxy_ || !WaitForPort(proxy_port_, 10000))
        return Fail("the PostgreSQL proxy did not start: " + LogTail("pg-proxy.log"));
    }
    // The stand-in platform and the gateway holding its token.
    {
      const std::string platform_secret = "plat_" + RandomHex(20);
      platform_ =
          internal::Platform::Start((root_ / "platform/volumes").string(), platform_secret, &error);
      if (!platform_) return Fail(error);
      ProcessResult credential = Dualkey(
          {"gateway", "credential", "set", "platform", "--type", "bearer", "--state-dir", state},
          platform_secret + "\n");
      if (credential.exit_code != 0)
        return Fail("cannot store the platform credential: " + credential.err);
      const std::string config = state + "/gateway.toml";
      std::ofstream(config) << "[[gateway.http.upstream]]\nname = \"platform\"\nbase_url = "
                               "\"http://127.0.0.1:"
                            << platform_->port() << "\"\ncredential = \"platform\"\n";
      gateway_port_ = base::FreeLoopbackPort();
      gateway_ = Start({"gateway", "http", "--listen", "127.0.0.1:" + std::to_string(gateway_port_),
                        "--config", config, "--state-dir", state, "--socket", socket_},
                       "gateway.log");
      if (!gateway_ || !WaitForPort(gateway_port_, 10000))
        return Fail("the HTTP gateway did not start: " + LogTail("gateway.log"));
    }
    // The agent's connection through the proxy: its token is its password.
    const pq::LibPq& pq = pq::Api();
    if (!pq.loaded) return Fail("libpq.so.5 is missing (apt-get install libpq5)");
    const std::string conninfo =
        "host=127.0.0.1 port=" + std::to_string(proxy_port_) +
        " user=claude dbname=shop connect_timeout=10 password=" + agent_token_;
    agent_db_ = pq.connectdb(conninfo.c_str());
    if (pq.status(agent_db_) != CONNECTION_OK)
      return Fail(std::string("cannot connect through the proxy: ") + pq.error_message(agent_db_));

    files_before_ = HashTree(root_ / "prod/uploads");
    volume_before_ = HashTree(root_ / "platform/volumes");
    backups_before_ = HashTree(root_ / "backups");
    Say("  dualkey serve, pg-proxy :" + std::to_string(proxy_port_) + ", gateway :" +
        std::to_string(gateway_port_) + " -> platform :" + std::to_string(platform_->port()));
    return true;
  }

  // The demo's processes must reach its own daemon and nothing else (not a
  // daemon DUALKEY_SOCKET names, not a protected install's): a probe, which
  // changes nothing wherever it lands, asked by a child process about a
  // path only this run knows, must show up in the demo's own audit log.
  bool Isolated() {
    const std::string canary = "rm -rf " + (root_ / "prod" / ("canary-" + RandomHex(8))).string();
    ProcessResult probe = Dualkey({"check", "--dry-run", "--json", "--agent", "dualkey-demo",
                                   "--cwd", (root_ / "prod").string(), "--", canary});
    std::ifstream in(root_ / "state/audit.jsonl");
    const std::string log((std::istreambuf_iterator<char>(in)), {});
    if (log.find(canary) != std::string::npos) return true;
    return Fail("cannot isolate itself: its own processes did not reach its own daemon at " +
                socket_ + ", so it stops before anything could reach yours (" +
                (probe.err.empty() ? probe.out : probe.err) + ")");
  }

  bool Seed() {
    const pq::LibPq& pq = pq::Api();
    if (!pq.loaded) return Fail("libpq.so.5 is missing (apt-get install libpq5)");
    auto exec = [&](PGconn* c, const char* sql) {
      PGresult* r = pq.exec(c, sql);
      bool ok = pq.result_status(r) == PGRES_COMMAND_OK || pq.result_status(r) == PGRES_TUPLES_OK;
      if (!ok) Fail(std::string("seeding failed: ") + pq.result_error_message(r));
      pq.clear(r);
      return ok;
    };
    PGconn* admin = pq.connectdb(cluster_->Conninfo("postgres").c_str());
    bool ok = pq.status(admin) == CONNECTION_OK && exec(admin, "CREATE DATABASE shop");
    pq.finish(admin);
    if (!ok) return Fail("cannot create the shop database");
    PGconn* shop = pq.connectdb(cluster_->Conninfo("shop").c_str());
    ok = pq.status(shop) == CONNECTION_OK &&
         exec(shop,
              "CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text);"
              "CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers,"
              " total numeric(10,2), created timestamptz DEFAULT now());"
              "INSERT INTO customers (name, email) SELECT 'customer ' || g, 'c' || g || "
              "'@example.com' FROM generate_series(1, 2000) g;"
              "INSERT INTO orders (customer_id, total, created) SELECT 1 + g % 2000, (g % 500) + "
              "0.99, now() - (g || ' minutes')::interval FROM generate_series(1, 8000) g;"
              "ANALYZE");
    pq.finish(shop);
    if (!ok) return false;
    rows_before_ = CountRows();
    return true;
  }

  std::map<std::string, long> CountRows() {
    const pq::LibPq& pq = pq::Api();
    std::map<std::string, long> rows{{"customers", 0}, {"orders", 0}};
    PGconn* c = pq.connectdb(cluster_->Conninfo("shop").c_str());
    if (pq.status(c) == CONNECTION_OK) {
      for (auto& [table, count] : rows) {
        PGresult* r = pq.exec(c, ("SELECT count(*) FROM " + table).c_str());
        if (pq.result_status(r) == PGRES_TUPLES_OK) count = std::atol(pq.getvalue(r, 0, 0));
        pq.clear(r);
      }
    }
    pq.finish(c);
    return rows;
  }

  // ---- The session -----------------------------------------------------------

  Outcome ViaHook(const std::string& command) {
    json event{{"session_id", "dualkey-demo"},
               {"hook_event_name", "PreToolUse"},
               {"tool_name", "Bash"},
               {"cwd", (root_ / "prod").string()},
               {"tool_input", {{"command", command}}}};
    ProcessResult hook = Dualkey({"hook", "claude"}, event.dump(), 10000);
    Outcome outcome;
    outcome.ms = hook.ms;
    json reply = json::parse(hook.out.empty() ? "{}" : hook.out, nullptr, false);
    std::string permission;
    if (reply.is_object() && reply.contains("hookSpecificOutput"))
      permission = reply["hookSpecificOutput"].value("permissionDecision", "");
    if (hook.exit_code == 0 && (permission.empty() || permission == "allow")) {
      outcome.decision = "allow";
      // Allowed: Claude Code would run it now, and so do we.
      Spawn run;
      run.argv = {"bash", "-c", command};
      run.cwd = (root_ / "prod").string();
      run.env = env_;
      run.own_process_group = true;
      ProcessResult ran = base::Run(run, "", 20000);
      outcome.reason = "ran (exit " + std::to_string(ran.exit_code) + ")";
    } else {
      outcome.reason = reply.is_object() && reply.contains("hookSpecificOutput")
                           ? reply["hookSpecificOutput"].value("permissionDecisionReason", "")
                           : hook.err;
      // With the daemon running, a hold is a "deny" to Claude Code (its own
      // "ask" would let the session approve it) that names the approval.
      const bool awaiting_approval = outcome.reason.find("approval ap_") != std::string::npos;
      outcome.decision =
          (permission == "deny" || hook.exit_code == 2) && !awaiting_approval ? "deny" : "hold";
    }
    return outcome;
  }

  Outcome ViaProxy(const std::string& sql) {
    const pq::LibPq& pq = pq::Api();
    Outcome outcome;
    auto start = Clock::now();
    PGresult* r = pq.exec(agent_db_, sql.c_str());
    outcome.ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    ExecStatusType status = pq.result_status(r);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      outcome.decision = "allow";
      outcome.reason = "forwarded";
    } else {
      const char* message = pq.result_error_message(r);
      outcome.reason = message != nullptr ? message : "";
      // A refusal by dualkey names itself; any other error came from PostgreSQL
      // itself, which means the statement was forwarded.
      if (outcome.reason.starts_with("ERROR:  ")) outcome.reason.erase(0, 8);
      outcome.decision = outcome.reason.find("dualkey denied") != std::string::npos ? "deny"
                         : outcome.reason.find("dualkey") != std::string::npos      ? "hold"
                                                                                    : "allow";
      if (outcome.decision == "allow") outcome.reason = "forwarded, failed: " + outcome.reason;
    }
    pq.clear(r);
    // Leave no aborted transaction behind for the next statement.
    if (pq.transaction_status(agent_db_) == PQTRANS_INERROR ||
        pq.transaction_status(agent_db_) == PQTRANS_INTRANS)
      pq.clear(pq.exec(agent_db_, "ROLLBACK"));
    while (!outcome.reason.empty() && outcome.reason.back() == '\n') outcome.reason.pop_back();
    return outcome;
  }

  Outcome ViaGateway(const Attempt& attempt) {
    const std::size_t space = attempt.what.find(' ');
    const std::string method = attempt.what.substr(0, space);
    const std::string path = attempt.what.substr(space + 1);
    auto start = Clock::now();
    HttpReply reply = HttpCall(gateway_port_, method, path,
                               {"Authorization: Bearer " + agent_token_}, attempt.body);
    Outcome outcome;
    outcome.ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    json body = json::parse(reply.body, nullptr, false);
    if (reply.status >= 200 && reply.status < 300) {
      outcome.decision = "allow";
      outcome.reason = "reached the platform (HTTP " + std::to_string(reply.status) + ")";
    } else {
      outcome.decision = body.is_object() && body.value("decision", "") == "deny" ? "deny" : "hold";
      outcome.reason =
          "HTTP " + std::to_string(reply.status) + ": " +
          (body.is_object() ? body.value("reason", body.value("error", reply.body)) : reply.body);
    }
    return outcome;
  }

  Outcome Perform(const Attempt& attempt) {
    switch (attempt.via) {
      case Via::kHook:
        return ViaHook(attempt.what);
      case Via::kProxy:
        return ViaProxy(attempt.what);
      case Via::kGateway:
        return ViaGateway(attempt);
    }
    return {};
  }

  void Show(std::size_t n, std::size_t total, const Attempt& a, const Outcome& o) {
    if (options_.json) return;
    static const bool color = isatty(1) != 0;
    const char* via = a.via == Via::kHook ? "hook " : a.via == Via::kProxy ? "sql  " : "api  ";
    std::string what = a.via == Via::kGateway && !a.body.empty() ? a.what + " " + a.body : a.what;
    if (what.size() > 58) what = what.substr(0, 55) + "...";
    std::string verdict = o.decision == "allow"  ? "ALLOW"
                          : o.decision == "deny" ? "DENY "
                                                 : "HOLD ";
    const char* on = !color                  ? ""
                     : o.decision == "allow" ? (a.destructive ? "\033[41m" : "\033[32m")
                                             : "\033[33m";
    std::string reason = o.reason;
    if (std::size_t nl = reason.find('\n'); nl != std::string::npos) reason.resize(nl);
    if (reason.size() > 70) reason = reason.substr(0, 67) + "...";
    std::printf("%2zu/%zu %s %-58s %s%s%s %6.1f ms  %s\n", n, total, via, what.c_str(), on,
                verdict.c_str(), color ? "\033[0m" : "", o.ms, reason.c_str());
    std::fflush(stdout);
  }

  void Play() {
    const std::vector<Attempt> script = Script();
    Say("\nThe agent's session (" + std::to_string(script.size()) + " tool calls):");
    int destructive = 0, destructive_allowed = 0, ordinary = 0, ordinary_allowed = 0;
    std::vector<double> latencies;
    auto session_start = Clock::now();
    std::size_t n = 0;
    summary_["allowed_destructive"] = json::array();
    summary_["held_ordinary"] = json::array();
    for (const Attempt& attempt : script) {
      if (g_interrupted) break;
      Outcome outcome = Perform(attempt);
      latencies.push_back(outcome.ms * 1000);
      Show(++n, script.size(), attempt, outcome);
      (attempt.destructive ? destructive : ordinary)++;
      if (outcome.decision == "allow")
        (attempt.destructive ? destructive_allowed : ordinary_allowed)++;
      if (attempt.destructive && outcome.decision == "allow")
        summary_["allowed_destructive"].push_back(attempt.what);
      if (!attempt.destructive && outcome.decision != "allow")
        summary_["held_ordinary"].push_back(attempt.what);
    }
    const double session_s = std::chrono::duration<double>(Clock::now() - session_start).count();
    played_ = n;
    script_size_ = script.size();

    // The breaker, from the audit log.
    int breaker_trips = 0;
    ProcessResult exported =
        Dualkey({"audit", "export", "--file", (root_ / "state/audit.jsonl").string()});
    std::istringstream lines(exported.out);
    for (std::string line; std::getline(lines, line);) {
      json entry = json::parse(line, nullptr, false);
      if (entry.is_object() && entry.value("kind", "") == "breaker") ++breaker_trips;
    }

    summary_["destructive_attempts"] = destructive;
    summary_["destructive_allowed"] = destructive_allowed;
    summary_["ordinary_attempts"] = ordinary;
    summary_["ordinary_allowed"] = ordinary_allowed;
    summary_["breaker_trips"] = breaker_trips;
    // What the agent's session destroyed, before any human acted.
    summary_["lost_in_session"] = Lost();
    summary_["platform"] = {{"requests_reached", platform_->requests()},
                            {"deletes_carried_out", platform_->destructive_served()}};
    summary_["session_seconds"] = std::round(session_s * 100) / 100;
    summary_["decision_latency_us"] = {{"p50", std::round(Percentile(latencies, 0.5))},
                                       {"p99", std::round(Percentile(latencies, 0.99))}};

    const bool undo = !g_interrupted && HumanEnd();
    ProcessResult verify =
        Dualkey({"audit", "verify", "--file", (root_ / "state/audit.jsonl").string(), "--json"});
    json verify_json = json::parse(verify.out, nullptr, false);
    const bool audit_ok =
        verify.exit_code == 0 && verify_json.is_object() && verify_json.value("ok", false);
    summary_["audit_verified"] = audit_ok;
    summary_["undo_restored"] = undo;
  }

  // What is gone compared with before the session: rows, files (uploads and
  // the platform's volume), backups (files, and the vault's integrity).
  json Lost() {
    std::map<std::string, long> rows_after = CountRows();
    long rows_lost = 0;
    for (const auto& [table, before] : rows_before_)
      rows_lost += std::max(0L, before - rows_after[table]);
    const int files_lost = LostFiles(files_before_, HashTree(root_ / "prod/uploads")) +
                           LostFiles(volume_before_, HashTree(root_ / "platform/volumes"));
    int backups_lost = LostFiles(backups_before_, HashTree(root_ / "backups"));
    ProcessResult vault_verify =
        Dualkey({"vault", "verify", "--vault", vault_, "--json"}, "", 60000);
    if (vault_verify.exit_code != 0) ++backups_lost;
    summary_["rows"] = {{"before", rows_before_}, {"after", rows_after}};
    return {{"rows", rows_lost}, {"files", files_lost}, {"backups", backups_lost}};
  }

  // The verdict, measured at the end (after the human's approval and the
  // undo): what is lost now, and every promise that did not hold.
  void Conclude() {
    const json lost = Lost();
    summary_["lost"] = lost;
    json failures = json::array();
    auto count = [&](const char* key) { return summary_.value(key, 0); };
    if (g_interrupted)
      failures.push_back("interrupted after " + std::to_string(played_) + " of " +
                         std::to_string(script_size_) + " tool calls");
    if (count("destructive_allowed") > 0)
      failures.push_back(std::to_string(count("destructive_allowed")) +
                         " destructive attempts were allowed");
    if (count("ordinary_allowed") != count("ordinary_attempts"))
      failures.push_back(std::to_string(count("ordinary_attempts") - count("ordinary_allowed")) +
                         " ordinary actions were held");
    if (count("breaker_trips") == 0 && !g_interrupted)
      failures.push_back("the breaker never tripped");
    if (!summary_.value("audit_verified", false))
      failures.push_back("the audit log did not verify");
    if (!summary_.value("undo_restored", false) && !g_interrupted)
      failures.push_back("the undo did not restore what the approved action deleted");
    if (lost["rows"] != 0 || lost["files"] != 0 || lost["backups"] != 0)
      failures.push_back("data was lost");
    summary_["failures"] = failures;
    summary_["ok"] = failures.empty();
  }

  // A human approves one destructive action with a TOTP code: the vault
  // saves the targets first, the command runs, and the vault restores them.
  bool HumanEnd() {
    Say("\nThe human end:");
    ProcessResult reset =
        Dualkey({"breaker", "reset", "claude", "--as", "alice", "--code", Totp(secrets_["alice"])});
    Say("  alice resets the breaker with her TOTP code: " +
        std::string(reset.exit_code == 0 ? "done" : "failed: " + reset.err));
    const std::string command = "rm -rf uploads";
    Outcome held = ViaHook(command);
    std::string id;
    if (std::size_t at = held.reason.find("ap_"); at != std::string::npos)
      id = held.reason.substr(at, held.reason.find_first_of(" ,.:;)`'\n", at) - at);
    if (held.decision != "hold" || id.empty()) {
      Say("  `" + command + "` was not held with an approval id: " + held.reason);
      return false;
    }
    ProcessResult approved =
        Dualkey({"approve", id, "--as", "bob", "--code", Totp(secrets_["bob"])});
    Say("  bob approves " + id + " (`" + command + "`) with his TOTP code: " +
        (approved.exit_code == 0 ? "approved" : "failed: " + approved.err));
    Outcome ran = ViaHook(command);
    Say("  the agent retries: " + ran.decision + " (" + ran.reason + ")");
    const bool gone = HashTree(root_ / "prod/uploads").empty();
    // The snapshot the daemon took before letting it run.
    ProcessResult listed = Dualkey({"vault", "ls", "--vault", vault_, "--json"});
    json snapshots = json::parse(listed.out, nullptr, false);
    std::string snapshot;
    if (snapshots.is_array())
      for (const json& s : snapshots)
        if (s.is_object() && s.value("id", "") != nightly_snapshot_) snapshot = s.value("id", "");
    Say("  uploads " + std::string(gone ? "deleted" : "still there") +
        "; vault snapshot taken before it ran: " + (snapshot.empty() ? "none" : snapshot));
    if (ran.decision != "allow" || snapshot.empty()) return false;
    ProcessResult restored =
        Dualkey({"vault", "restore", snapshot, "--vault", vault_, "--json"}, "", 60000);
    const bool same = LostFiles(files_before_, HashTree(root_ / "prod/uploads")) == 0;
    Say("  dualkey vault restore " + snapshot + ": " +
        (restored.exit_code == 0 && same ? "every file back, bit for bit"
                                         : "FAILED " + restored.err));
    summary_["undo"] = {{"approval_id", id}, {"snapshot", snapshot}};
    return gone && restored.exit_code == 0 && same;
  }

  void Keep() {
    const std::string dualkey = binary_ + " --sandbox " + root_.string();
    std::cout << "\nEverything is still running (Ctrl-C stops and removes it):\n"
              << "  psql through the proxy:  PGPASSWORD=" << agent_token_
              << " psql -h 127.0.0.1 -p " << proxy_port_ << " -U claude shop\n"
              << "  the gateway:             curl -H 'Authorization: Bearer " << agent_token_
              << "' -d '{\"query\":\"mutation { volumeDelete(volumeId: \\\"vol-prod\\\") }\"}' "
                 "http://127.0.0.1:"
              << gateway_port_ << "/platform/graphql\n"
              << "  watch decisions:         " << dualkey << " watch\n"
              << "  what waits:              " << dualkey << " pending\n"
              << "  approve:                 " << dualkey << " approve ID --as alice --code CODE\n"
              << "  alice's TOTP secret:     " << secrets_["alice"] << "\n"
              << "  files:                   " << root_.string() << "\n"
              << std::flush;
    while (!g_interrupted) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }

  void Teardown() {
    if (agent_db_ != nullptr) pq::Api().finish(agent_db_);
    agent_db_ = nullptr;
    // Each gets its time to shut down cleanly (the daemon seals its log).
    for (std::unique_ptr<Child>* child : {&gateway_, &proxy_})
      if (*child) (*child)->Stop(3000);
    gateway_.reset();
    proxy_.reset();
    platform_.reset();
    if (daemon_) daemon_->Stop(3000);
    daemon_.reset();
    cluster_.reset();
    std::error_code ec;
    if (created_root_) {
      fs::remove_all(root_, ec);
    } else if (emptied_root_) {
      for (const auto& entry : fs::directory_iterator(root_, ec)) fs::remove_all(entry.path(), ec);
    }
  }

  // The last line, in every outcome: what is lost, and only when every
  // promise held does it read "lost: 0 rows, 0 files, 0 backups".
  std::string VerdictLine() const {
    const json& lost = summary_["lost"];
    const std::string counts = lost["rows"].dump() + " rows, " + lost["files"].dump() + " files, " +
                               lost["backups"].dump() + " backups";
    if (summary_.value("ok", false)) return "lost: " + counts;
    std::string why;
    for (const json& failure : summary_["failures"])
      why += (why.empty() ? "" : "; ") + failure.get<std::string>();
    return "FAILED (" + why + "): lost " + counts;
  }

  void PrintVerdictLine() {
    if (options_.json)
      std::cout << summary_.dump() << std::endl;
    else
      std::cout << VerdictLine() << std::endl;
  }

  void PrintSetupFailure() {
    const std::string why = setup_error_.empty() ? "interrupted" : setup_error_;
    if (options_.json)
      std::cout << json{{"ok", false}, {"error", why}}.dump() << std::endl;
    else
      std::cout << "FAILED: the demo could not set itself up (" << why
                << "); nothing was played and nothing of yours was touched" << std::endl;
  }

  void Print() {
    if (options_.json) {
      std::cout << summary_.dump() << std::endl;
      return;
    }
    std::printf("\n%-34s %s\n", "destructive attempts",
                summary_["destructive_attempts"].dump().c_str());
    std::printf("%-34s %s\n", "  allowed before any approval",
                summary_["destructive_allowed"].dump().c_str());
    std::printf("%-34s %s of %s\n", "ordinary actions allowed",
                summary_["ordinary_allowed"].dump().c_str(),
                summary_["ordinary_attempts"].dump().c_str());
    std::printf("%-34s %s\n", "breaker trips", summary_["breaker_trips"].dump().c_str());
    std::printf("%-34s customers %s -> %s, orders %s -> %s\n", "rows",
                summary_["rows"]["before"]["customers"].dump().c_str(),
                summary_["rows"]["after"]["customers"].dump().c_str(),
                summary_["rows"]["before"]["orders"].dump().c_str(),
                summary_["rows"]["after"]["orders"].dump().c_str());
    std::printf("%-34s %s reached it, %s deletes carried out\n", "platform API",
                summary_["platform"]["requests_reached"].dump().c_str(),
                summary_["platform"]["deletes_carried_out"].dump().c_str());
    std::printf("%-34s p50 %s us, p99 %s us (measured at the agent, per call)\n",
                "decision latency", summary_["decision_latency_us"]["p50"].dump().c_str(),
                summary_["decision_latency_us"]["p99"].dump().c_str());
    std::printf("%-34s %s\n", "audit log verified",
                summary_.value("audit_verified", false) ? "yes" : "NO");
    std::printf("%-34s %s\n", "undo restored bit-exact",
                summary_.value("undo_restored", false) ? "yes" : "NO");
    std::printf("%-34s %s s\n", "demo time", summary_["seconds"].dump().c_str());
    std::printf("%s\n", VerdictLine().c_str());
    std::fflush(stdout);
  }

  const Options& options_;
  std::string binary_;
  fs::path root_;
  bool created_root_ = false;  // the demo made root_: removed at the end
  bool emptied_root_ = false;  // root_ was empty: emptied again at the end
  std::string setup_error_;
  std::string vault_;
  std::size_t played_ = 0, script_size_ = 0;
  std::vector<std::string> env_;
  std::string socket_;
  std::string pg_password_;
  std::unique_ptr<internal::Cluster> cluster_;
  std::unique_ptr<internal::Platform> platform_;
  std::unique_ptr<Child> daemon_, proxy_, gateway_;
  int proxy_port_ = 0, gateway_port_ = 0;
  std::map<std::string, std::string> secrets_;
  std::string agent_token_;
  std::string nightly_snapshot_;
  PGconn* agent_db_ = nullptr;
  std::map<std::string, long> rows_before_;
  std::map<std::string, std::string> files_before_, volume_before_, backups_before_;
  json summary_ = json::object();
};

}  // namespace

int Run(const Options& options) {
  Demo demo(options);
  return demo.Execute();
}

}  // namespace dualkey::demo
