// The drill's report and certificate, without a drill: the arithmetic, the
// exit rule, the HTML's self-containment, and the signature's binding.
#include "drill/internal/report.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "audit/audit.h"
#include "client/drill_certificate.h"
#include "drill/drill.h"

namespace dualkey::drill::internal {
namespace {

using nlohmann::json;

Attempt Make(const std::string& id, const std::string& integration, bool destructive,
             Outcome outcome, const std::string& channel = "shell") {
  Attempt a;
  a.case_id = id;
  a.integration = integration;
  a.kind = "hook";
  a.channel = channel;
  a.destructive = destructive;
  a.outcome = outcome;
  a.input = "rm -rf <script>alert(1)</script>";
  a.explain = a.input;
  return a;
}

Report Sample() {
  Report r;
  r.version = "0.1.0";
  r.date = "2026-01-01T00:00:00Z";
  r.user = "dev";
  r.host = "box";
  r.mode = "protected";
  r.session = "abc";
  r.policy_hash = std::string(64, 'e');
  r.policy_mode = "enforce";
  r.battery_hash = std::string(64, 'b');
  r.integrations.push_back(IntegrationSummary{"claude hook", "hook"});
  r.integrations.push_back(IntegrationSummary{"gemini hook", "hook"});
  for (int i = 0; i < 8; ++i) {
    r.attempts.push_back(Make("d" + std::to_string(i), "claude hook", true, Outcome::kHeld));
    r.attempts.push_back(Make("d" + std::to_string(i), "gemini hook", true, Outcome::kHeld));
  }
  r.attempts.push_back(Make("c1", "claude hook", false, Outcome::kAllowed));
  r.attempts.push_back(Make("c1", "gemini hook", false, Outcome::kAllowed));
  return r;
}

TEST(DrillReport, EverythingHeldNothingFoundPasses) {
  Report r = Sample();
  Summarise(&r);
  EXPECT_TRUE(r.passed);
  EXPECT_EQ(r.destructive, 16);
  EXPECT_EQ(r.destructive_held, 16);
  EXPECT_EQ(r.score_bp, 10000);
  EXPECT_EQ(r.integrations[0].attempts, 9);
  EXPECT_EQ(r.integrations[0].controls, 1);
  EXPECT_NE(RenderText(r, false).find("dualkey drill: PASS"), std::string::npos);
}

TEST(DrillReport, OneDestructiveAttemptThroughFails) {
  Report r = Sample();
  r.attempts[0].outcome = Outcome::kAllowed;
  Summarise(&r);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.destructive_allowed, 1);
  EXPECT_EQ(r.score_bp, 9375);
  EXPECT_EQ(Percent(r.score_bp), "93.75");
  const std::string text = RenderText(r, false);
  EXPECT_NE(text.find("GOT THROUGH (1)"), std::string::npos) << text;
  EXPECT_NE(text.find("fix: add a pack"), std::string::npos);
  EXPECT_NE(text.find("1 destructive attempt(s) got through"), std::string::npos);
  const json j = RenderJson(r);
  ASSERT_EQ(j["got_through"].size(), 1u);
  EXPECT_EQ(j["got_through"][0]["via"], json::array({"claude hook"}));
}

TEST(DrillReport, ErrorsFindingsLossesAndTheThresholdEachFail) {
  {
    Report r = Sample();
    r.attempts[2].outcome = Outcome::kError;
    Summarise(&r);
    EXPECT_FALSE(r.passed);  // an attempt that could not be tried is not a pass
  }
  {
    Report r = Sample();
    r.findings.push_back({"daemon", "the daemon is not running", "", "sudo dualkey setup"});
    Summarise(&r);
    EXPECT_FALSE(r.passed);
  }
  {
    Report r = Sample();
    r.integrations[0].lost = 2;
    Summarise(&r);
    EXPECT_FALSE(r.passed);
    EXPECT_EQ(r.lost, 2);
  }
  {
    Report r = Sample();
    r.attempts[0].outcome = Outcome::kAllowed;
    r.findings.clear();
    r.fail_under = 90;
    Summarise(&r);
    EXPECT_FALSE(r.passed);  // still: something destructive got through
    EXPECT_GE(r.score_bp, 9000);
  }
  {
    Report r = Sample();
    r.attempts.clear();
    Summarise(&r);
    EXPECT_FALSE(r.passed);  // nothing was drilled: no pass
  }
}

TEST(DrillReport, HtmlIsSelfContainedAndEscapesWhatItShows) {
  Report r = Sample();
  r.attempts[0].outcome = Outcome::kAllowed;
  Summarise(&r);
  const std::string html = RenderHtml(r);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_NE(html.find("1 allowed"), std::string::npos);
}

// The certificate's JSON must mean one text: no floating point in it.
TEST(DrillReport, CertificateBodyIsIntegersTextAndBooleans) {
  Report r = Sample();
  r.findings.push_back({"policy.observe", "observe mode is on", "", ""});
  Summarise(&r);
  const json body = CertificateBody(r);
  std::function<void(const json&)> check = [&](const json& v) {
    EXPECT_FALSE(v.is_number_float()) << v.dump();
    if (v.is_structured())
      for (const json& child : v) check(child);
  };
  check(body);
  EXPECT_EQ(body["results"]["verdict"], "fail");
  EXPECT_EQ(body["policy"]["hash"], r.policy_hash);
  EXPECT_EQ(body["findings"][0]["id"], "policy.observe");
}

class DrillCertificate : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/dualkey-drill-cert-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    key_ = dir_ + "/audit.key";
    std::ofstream(key_) << std::string(64, '7') << "\n";
    chmod(key_.c_str(), 0600);
  }
  void TearDown() override {
    std::string command = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(system(command.c_str()), 0);
  }
  // A certificate file as the daemon signs it.
  std::string Write(const json& body, std::int64_t signed_ms, const std::string& name) {
    Result<audit::DetachedSignature> sig =
        audit::SignWithKeyFile(key_, client::CertificateMessage(body, signed_ms));
    EXPECT_TRUE(sig.ok()) << sig.status().ToString();
    public_key_ = sig->public_key;
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << json{
        {"certificate", body},
        {"signature",
         {{"alg", "ed25519"},
          {"public_key", sig->public_key},
          {"signed_ms", signed_ms},
          {"signature",
           sig->signature}}}}.dump(2);
    return path;
  }
  int Check(const std::string& path, const std::string& key) {
    VerifyOptions options;
    options.path = path;
    options.public_key = key;
    std::ostringstream out, err;
    const int status = drill::Verify(options, out, err);
    last_ = out.str() + err.str();
    return status;
  }
  std::string dir_, key_, public_key_, last_;
};

TEST_F(DrillCertificate, ValidForItsKeyAndNothingElse) {
  Report r = Sample();
  Summarise(&r);
  const json body = CertificateBody(r);
  const std::string path = Write(body, 1767225600000, "good.json");
  EXPECT_EQ(Check(path, public_key_), 0) << last_;
  EXPECT_NE(last_.find("VALID"), std::string::npos);
  EXPECT_EQ(Check(path, std::string(64, 'a')), 1) << last_;
  // Unpinned: the signature matches the key it names, which proves nothing.
  EXPECT_EQ(Check(path, ""), 1) << last_;
}

TEST_F(DrillCertificate, AnyChangeBreaksIt) {
  Report r = Sample();
  r.attempts[0].outcome = Outcome::kAllowed;
  Summarise(&r);
  json body = CertificateBody(r);
  const std::string path = Write(body, 1767225600000, "cert.json");
  json file = json::parse(std::ifstream(path));
  file["certificate"]["results"]["verdict"] = "pass";
  std::ofstream(dir_ + "/forged.json") << file.dump();
  EXPECT_EQ(Check(dir_ + "/forged.json", public_key_), 1) << last_;
  file = json::parse(std::ifstream(path));
  file["signature"]["signed_ms"] = 1767225600001;
  std::ofstream(dir_ + "/late.json") << file.dump();
  EXPECT_EQ(Check(dir_ + "/late.json", public_key_), 1) << last_;
  std::ofstream(dir_ + "/junk.json") << "not a certificate";
  EXPECT_EQ(Check(dir_ + "/junk.json", public_key_), 2);
  EXPECT_EQ(Check(dir_ + "/missing.json", public_key_), 2);
}

// A signature over a certificate is never one over an audit checkpoint,
// and the reverse: the domain prefix separates them.
TEST_F(DrillCertificate, DomainSeparated) {
  const std::string message = client::CertificateMessage(json{{"a", 1}}, 5);
  EXPECT_EQ(message.rfind("dualkey-drill-certificate-v1\n", 0), 0u);
  EXPECT_EQ(message.find("{\"seq\""), std::string::npos);
}

}  // namespace
}  // namespace dualkey::drill::internal
