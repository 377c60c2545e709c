// The page's History route end to end: the real binary with --http, an
// approver signed in with a TOTP code over real sockets, GET /api/history
// with its filters, paging, refusals and the verify status (a log edited in
// place is reported broken at the edited record), and an approved delete's
// vault snapshot with the exact restore command, which restores. The CLI
// (`dualkey audit search`) finds the same records with the same words.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "approval/approval.h"
#include "base/free_port.h"
#include "client/client.h"
#include "support/daemon.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using dualkey::base::FreeLoopbackPort;
using dualkey::test_support::DaemonProcess;
using dualkey::test_support::Output;
using dualkey::test_support::Quote;

struct Response {
  int status = 0;
  std::string headers;
  std::string body;
  json Json() const { return json::parse(body, nullptr, false); }
};

std::string Code(const std::string& secret, int step = 0) {
  return dualkey::test_support::TotpCode(secret, step);
}

class History : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = fs::path(DUALKEY_BINARY).parent_path() /
             ("history-test-" + std::to_string(getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(state_);
    fs::create_directories(state_ / "home" / "app");
    // A socket path must be short (108 bytes): not under the long state path.
    socket_ = (fs::temp_directory_path() / ("dk-history-" + std::to_string(getpid()) + "-" +
                                            std::to_string(++count_) + ".sock"))
                  .string();
    port_ = FreeLoopbackPort();
    ASSERT_TRUE(daemon_.Start(state_.string(), socket_,
                              {"--http", "127.0.0.1:" + std::to_string(port_), "--breaker-attempts",
                               "1000", "--rate-burst", "1000"}))
        << "the daemon did not start";
    Output added = Run("approver add alice --json");
    ASSERT_EQ(added.status, 0) << added.out;
    std::istringstream lines(added.out);
    for (std::string line; std::getline(lines, line);)
      if (line.starts_with("{")) secret_ = json::parse(line, nullptr, false).value("secret", "");
    ASSERT_FALSE(secret_.empty()) << added.out;
  }

  void TearDown() override {
    daemon_.Stop();
    fs::remove_all(state_);
    fs::remove(socket_);
  }

  Output Run(const std::string& args) {
    return dualkey::test_support::Shell(
        dualkey::test_support::CliCommand((state_ / "home").string(), socket_, state_.string(),
                                          args) +
        " 2>&1");
  }

  Response Http(const std::string& method, const std::string& target, const std::string& body = "",
                const std::string& cookie = "") {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    Response r;
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd);
      return r;
    }
    timeval timeout{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    std::string request = method + " " + target +
                          " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
                          "\r\nConnection: close\r\n";
    if (!cookie.empty()) request += "Cookie: " + cookie + "\r\n";
    if (!body.empty())
      request +=
          "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\n";
    request += "\r\n" + body;
    send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string raw;
    char buffer[4096];
    ssize_t n;
    while ((n = recv(fd, buffer, sizeof buffer, 0)) > 0) raw.append(buffer, n);
    close(fd);
    if (raw.size() > 12) r.status = std::atoi(raw.substr(9, 3).c_str());
    const std::size_t split = raw.find("\r\n\r\n");
    r.headers = raw.substr(0, split);
    if (split != std::string::npos) r.body = raw.substr(split + 4);
    return r;
  }

  // Signs alice in with her current code; the session cookie.
  std::string SignIn() {
    Response r =
        Http("POST", "/api/signin", json{{"approver", "alice"}, {"totp", Code(secret_)}}.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    const std::size_t at = r.headers.find("dualkey_session=");
    if (at == std::string::npos) return "";
    return r.headers.substr(at, r.headers.find(';', at) - at);
  }

  json Check(const std::string& agent, const std::string& command) {
    dualkey::Result<json> reply =
        dualkey::client::CallAt(socket_,
                                json{{"op", "check"},
                                     {"channel", "shell"},
                                     {"input", command},
                                     {"cwd", (state_ / "home" / "app").string()},
                                     {"home", (state_ / "home").string()},
                                     {"agent", agent}},
                                10000);
    EXPECT_TRUE(reply.ok()) << reply.status().ToString();
    return reply.ok() ? *reply : json::object();
  }

  // The page's search (a 200 with "ok") as JSON.
  json Search(const std::string& cookie, const std::string& query) {
    Response r = Http("GET", "/api/history" + query, "", cookie);
    EXPECT_EQ(r.status, 200) << query << ": " << r.body;
    json reply = r.Json();
    EXPECT_TRUE(reply.value("ok", false)) << r.body;
    return reply;
  }

  // Requests from two agents: held deletes, allowed reads.
  void SomeDecisions() {
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(Check("claude", "rm -rf /srv/claude-" + std::to_string(i))["decision"], "hold");
      EXPECT_EQ(Check("claude", "ls /tmp/" + std::to_string(i))["decision"], "allow");
      EXPECT_EQ(Check("codex", "rm -rf /srv/codex-" + std::to_string(i))["decision"], "hold");
    }
  }

  fs::path state_;
  std::string socket_;
  int port_ = 0;
  DaemonProcess daemon_;
  std::string secret_;
  static inline int count_ = 0;
};

TEST_F(History, NeedsASignedInApprover) {
  Response r = Http("GET", "/api/history");
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_NE(r.body.find("not signed in"), std::string::npos) << r.body;
  r = Http("GET", "/api/history", "", "dualkey_session=made-up");
  EXPECT_EQ(r.status, 401) << r.body;
  // Not on the JSON protocol either: the audit log is the page's, with a session.
  r = Http("POST", "/v1/history", json{{"op", "history"}}.dump());
  EXPECT_NE(r.status, 200) << r.body;
}

TEST_F(History, FiltersNarrowAndEveryRecordMatches) {
  SomeDecisions();
  const std::string cookie = SignIn();
  ASSERT_FALSE(cookie.empty());
  json all = Search(cookie, "?limit=200");
  ASSERT_GE(all["records"].size(), 12u);
  EXPECT_FALSE(all.contains("next_cursor"));

  json codex = Search(cookie, "?agent=codex&limit=200");
  EXPECT_EQ(codex["records"].size(), 4u);
  for (const json& r : codex["records"]) EXPECT_EQ(r["agent"], "codex") << r.dump();

  json holds = Search(cookie, "?decision=hold&limit=200");
  EXPECT_EQ(holds["records"].size(), 8u);
  for (const json& r : holds["records"]) {
    EXPECT_EQ(r["decision"], "hold");
    EXPECT_EQ(r["kind"], "hold");
    EXPECT_TRUE(r["summary"].get<std::string>().starts_with("held as ap_")) << r.dump();
  }

  json deletes = Search(cookie, "?class=fs.delete&decision=hold&agent=claude");
  EXPECT_EQ(deletes["records"].size(), 4u);
  for (const json& r : deletes["records"])
    EXPECT_TRUE(r["class"].get<std::string>().starts_with("fs.delete.")) << r.dump();

  json text = Search(cookie, "?q=CLAUDE-2");  // any case
  ASSERT_EQ(text["records"].size(), 1u);
  EXPECT_EQ(text["records"][0]["input"], "rm -rf /srv/claude-2");
  json spaced = Search(cookie, "?q=rm+-rf+%2Fsrv%2Fcodex-3");
  ASSERT_EQ(spaced["records"].size(), 1u);
  EXPECT_EQ(spaced["records"][0]["agent"], "codex");
  EXPECT_TRUE(Search(cookie, "?agent=nobody")["records"].empty());

  // The CLI finds the same records and says the same words.
  Output cli = Run("audit search --agent codex --limit 200 --json --file " +
                   Quote((state_ / "audit.jsonl").string()));
  ASSERT_EQ(cli.status, 0) << cli.out;
  json from_cli = json::parse(cli.out, nullptr, false);
  ASSERT_TRUE(from_cli.is_object()) << cli.out;
  ASSERT_EQ(from_cli["records"].size(), codex["records"].size());
  for (std::size_t i = 0; i < codex["records"].size(); ++i) {
    EXPECT_EQ(from_cli["records"][i]["seq"], codex["records"][i]["seq"]);
    EXPECT_EQ(from_cli["records"][i]["summary"], codex["records"][i]["summary"]);
  }
  EXPECT_EQ(from_cli["verify"]["state"], "intact");
}

TEST_F(History, PagesNewestFirstWithACursor) {
  SomeDecisions();
  const std::string cookie = SignIn();
  std::vector<std::uint64_t> all;
  const json everything = Search(cookie, "?limit=200");
  for (const json& r : everything["records"]) all.push_back(r["seq"]);
  ASSERT_GE(all.size(), 12u);
  std::vector<std::uint64_t> paged;
  std::string cursor;
  for (int page = 0; page < 50; ++page) {
    json reply = Search(cookie, "?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor));
    EXPECT_LE(reply["records"].size(), 3u);
    for (const json& r : reply["records"]) paged.push_back(r["seq"]);
    if (!reply.contains("next_cursor")) break;
    cursor = reply["next_cursor"];
  }
  EXPECT_EQ(paged, all);
  for (std::size_t i = 1; i < paged.size(); ++i) EXPECT_LT(paged[i], paged[i - 1]);
}

TEST_F(History, BadParametersAreA400ThatSaysWhy) {
  const std::string cookie = SignIn();
  const std::pair<std::string, std::string> bad[] = {
      {"?limit=0", "limit must be a whole number from 1 to 200"},
      {"?limit=201", "limit must be a whole number from 1 to 200"},
      {"?limit=ten", "limit must be a whole number from 1 to 200"},
      {"?limit=99999999999999999999", "limit must be a whole number from 1 to 200"},
      {"?decision=maybe", "unknown decision 'maybe' (one of: allow, hold, hold2, deny"},
      {"?who=alice", "unknown parameter 'who' (history takes agent, class, decision, q"},
      {"?cursor=abc", "cursor must be a next_cursor a previous history reply gave"},
      {"?cursor=0", "cursor must be a next_cursor a previous history reply gave"},
      {"?cursor=7", "cursor 7 is not a place in this log a search returned"},
      {"?cursor=99999999999", "is not a place in this log"},
      {"?q=%zz", "a malformed %-escape in the query string"},
      {"?q=%4", "a malformed %-escape in the query string"},
      {"?agent=a&agent=b", "the parameter 'agent' is given twice"},
      {"?agent=" + std::string(300, 'x'), "agent is longer than 256 characters"},
      {"?q=%ff%fe", "text is not valid UTF-8"},
  };
  for (const auto& [query, why] : bad) {
    Response r = Http("GET", "/api/history" + query, "", cookie);
    EXPECT_EQ(r.status, 400) << query << ": " << r.body;
    json reply = r.Json();
    EXPECT_EQ(reply.value("ok", true), false) << r.body;
    EXPECT_NE(reply.value("error", "").find(why), std::string::npos) << query << ": " << r.body;
  }
}

TEST_F(History, ATamperedLogIsReportedBrokenAtTheEditedRecord) {
  SomeDecisions();
  const std::string cookie = SignIn();
  json verify;
  for (int i = 0; i < 50; ++i) {
    verify = Search(cookie, "?limit=1")["verify"];
    if (verify.value("state", "") == "intact" && !verify.value("checking", true)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(verify["state"], "intact") << verify.dump();
  EXPECT_GT(verify["checked_ms"].get<std::int64_t>(), 0);
  EXPECT_TRUE(verify["words"].get<std::string>().starts_with("audit log intact: ")) << verify;

  // Asked again with nothing written since: the cached check, current.
  json again = Search(cookie, "?limit=1")["verify"];
  EXPECT_EQ(again["checked_ms"], verify["checked_ms"]) << "not re-verified on every request";
  EXPECT_TRUE(again["current"].get<bool>()) << again.dump();

  // Someone edits the held delete of /srv/codex-1 in place (same length).
  const fs::path log = state_ / "audit.jsonl";
  std::string text;
  {
    std::ifstream in(log, std::ios::binary);
    std::stringstream all;
    all << in.rdbuf();
    text = all.str();
  }
  const std::size_t at = text.find("rm -rf /srv/codex-1");
  ASSERT_NE(at, std::string::npos);
  const std::size_t line = text.rfind('\n', at) + 1;
  const json edited = json::parse(text.substr(line, text.find('\n', at) - line));
  const std::uint64_t seq = edited["seq"];
  {
    std::fstream out(log, std::ios::in | std::ios::out | std::ios::binary);
    out.seekp(static_cast<std::streamoff>(at + 8));
    out << "tmp";  // /srv/ -> /tmp/: a harmless-looking record
  }
  for (int i = 0; i < 75; ++i) {
    verify = Search(cookie, "?limit=1")["verify"];
    if (verify.value("state", "") == "broken") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(verify["state"], "broken") << verify.dump();
  EXPECT_EQ(verify["broken_seq"], seq) << verify.dump();
  const std::string words = verify["words"];
  EXPECT_TRUE(
      words.starts_with("audit log TAMPERED: broken at record " + std::to_string(seq) + " (line "))
      << words;
  EXPECT_NE(words.find("hash mismatch (record edited)"), std::string::npos) << words;
  // The CLI says the same and exits 1.
  Output cli = Run("audit search --limit 1 --file " + Quote(log.string()));
  EXPECT_EQ(cli.status, 1) << cli.out;
  EXPECT_TRUE(cli.out.starts_with("audit log TAMPERED: broken at record " + std::to_string(seq)))
      << cli.out;
}

TEST_F(History, AnApprovedDeleteShowsItsSnapshotAndTheRestoreCommandThatRestores) {
  const fs::path data = state_ / "home" / "data";
  fs::create_directories(data);
  for (int i = 0; i < 3; ++i) std::ofstream(data / ("f" + std::to_string(i))) << "row " << i;
  const std::string command = "rm -rf " + data.string();
  json held = Check("claude", command);
  ASSERT_EQ(held["decision"], "hold") << held.dump();
  const std::string cookie = SignIn();  // alice's current code
  Output approved = Run("approve " + held["approval_id"].get<std::string>() +
                        " --as alice --code " + Code(secret_, 1));
  ASSERT_EQ(approved.status, 0) << approved.out;
  json ran = Check("claude", command);
  ASSERT_EQ(ran["decision"], "allow") << ran.dump();
  const std::string snapshot = ran.value("snapshot_id", "");
  ASSERT_FALSE(snapshot.empty()) << ran.dump();
  const std::string restore =
      "dualkey vault restore " + snapshot + " --vault " + (state_ / "vault").string();
  EXPECT_NE(ran["reason"].get<std::string>().find("(" + restore + ")"), std::string::npos)
      << "the agent is told the same command: " << ran.dump();
  fs::remove_all(data);  // the agent's rm -rf ran

  json page = Search(cookie, "?decision=approved");
  ASSERT_EQ(page["records"].size(), 2u) << page.dump();
  const json& run = page["records"][0];
  EXPECT_EQ(run["kind"], "consumed");
  EXPECT_EQ(run["approval_id"], held["approval_id"]);
  EXPECT_EQ(run["snapshot_id"], snapshot);
  EXPECT_EQ(run["restore"], restore);
  const json& approval = page["records"][1];
  EXPECT_EQ(approval["kind"], "approval");
  EXPECT_EQ(approval["snapshot_id"], snapshot) << "the approval links to its run's snapshot";
  EXPECT_EQ(approval["restore"], restore);
  // The save itself is audited with the approval it served.
  json saved = Search(cookie, "?q=vault_snapshot");
  ASSERT_EQ(saved["records"].size(), 1u) << saved.dump();
  EXPECT_EQ(saved["records"][0]["fields"]["approval_id"], held["approval_id"]);
  EXPECT_EQ(saved["records"][0]["fields"]["vault"], (state_ / "vault").string());

  // The command as shown restores the files.
  Output restored = Run(restore.substr(std::string("dualkey ").size()));
  ASSERT_EQ(restored.status, 0) << restored.out;
  std::ifstream in(data / "f2");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "row 2");

  // `dualkey audit search` prints the same command.
  Output cli =
      Run("audit search --decision approved --file " + Quote((state_ / "audit.jsonl").string()));
  EXPECT_EQ(cli.status, 0) << cli.out;
  EXPECT_NE(cli.out.find("vault snapshot " + snapshot + "; restore: " + restore), std::string::npos)
      << cli.out;
}

}  // namespace
