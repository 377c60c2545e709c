#include "base/redact.h"

#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/internal/redact.h"

namespace dualkey::base {
namespace {

void ExpectHidden(const std::string& text, const std::string& secret,
                  const std::string& kept = "") {
  const std::string out = RedactSecrets(text);
  EXPECT_EQ(out.find(secret), std::string::npos) << text << "\n -> " << out;
  EXPECT_NE(out.find("[redacted"), std::string::npos) << text << "\n -> " << out;
  if (!kept.empty()) EXPECT_NE(out.find(kept), std::string::npos) << text << "\n -> " << out;
}

TEST(Redact, BearerTokensAndHeaders) {
  ExpectHidden("curl -H 'Authorization: Bearer abcDEF123456789xyz' https://api.example.com/v1",
               "abcDEF123456789xyz", "https://api.example.com/v1");
  ExpectHidden("curl -H \"X-Api-Key: s3cr3tvalue\" https://x", "s3cr3tvalue");
  ExpectHidden("Authorization: token 0123456789abcdef", "0123456789abcdef");
  ExpectHidden("{\"authorization\":\"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig\"}",
               "eyJzdWIiOiIxIn0");
}

TEST(Redact, PasswordsInUrlsAndSql) {
  ExpectHidden("psql postgresql://admin:hunter2@db.prod:5432/app -c 'DROP TABLE users'", "hunter2",
               "DROP TABLE users");
  ExpectHidden("ALTER ROLE app PASSWORD 'correct horse battery'", "correct horse",
               "ALTER ROLE app");
  ExpectHidden("CREATE USER bob IDENTIFIED BY 'pw123'", "pw123");
  ExpectHidden("mysql --password=tr0ub4dor -e 'drop database x'", "tr0ub4dor", "drop database x");
  ExpectHidden("PGPASSWORD=hunter2 psql -h db -c 'truncate t'", "hunter2", "truncate t");
  ExpectHidden("https://s3.example.com/b/o?X-Amz-Signature=abcdef0123&X-Amz-Credential=AKIDX",
               "abcdef0123");
  ExpectHidden("GET /v1/items?api_key=zzzzsecret&limit=5", "zzzzsecret", "limit=5");
  ExpectHidden("deploy --token ABCDEFGH1234", "ABCDEFGH1234");
}

TEST(Redact, KnownShapesAndRandomRuns) {
  ExpectHidden("git push https://github.com/x/y ghp_1234567890abcdefghijABCDEFGHIJ12",
               "ghp_1234567890abcdefghij");
  ExpectHidden("export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE");
  ExpectHidden("aws s3 rm s3://b --recursive AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE");
  ExpectHidden("echo Zx9kQ2mP4vR7tY1uW3sA5dF8gH0jK6lB", "Zx9kQ2mP4vR7tY1uW3sA5dF8gH0jK6lB");
  ExpectHidden(
      "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----",
      "b3BlbnNzaC1rZXk");
}

TEST(Redact, LeavesOrdinaryCommandsAlone) {
  for (const std::string text :
       {"rm -rf /srv/data/build", "DROP TABLE public.orders", "kubectl delete namespace staging",
        "git push --force origin main", "terraform destroy -auto-approve",
        "find /home/dev/projects/very-long-directory-name-here -delete"}) {
    int count = -1;
    EXPECT_EQ(RedactSecrets(text, 8192, &count), text);
    EXPECT_EQ(count, 0);
  }
}

// Each rule runs only when the text holds a word its pattern needs (case
// folded where the pattern ignores case): the words in any case, and the
// shapes whose prefix is not a secret word, are still found.
TEST(Redact, EveryRuleFiresInAnyCase) {
  ExpectHidden("-----begin rsa private key-----\nMIIEabc\n-----end rsa private key-----",
               "MIIEabc");
  ExpectHidden("MYSQL://root:Hunter2x@db/app", "Hunter2x");
  ExpectHidden("X-AUTH-KEY: zzz-value-1", "zzz-value-1");
  ExpectHidden("curl -H 'BEARER AbCdEfGh12345678'", "AbCdEfGh12345678");
  ExpectHidden("create user x Identified By 'pw-9'", "pw-9");
  ExpectHidden("DB_DSN=host=a,user=b", "host=a");
  ExpectHidden("tool -SESSION s-1-2-3", "s-1-2-3");
  ExpectHidden("clone github_pat_abcdefabcdefabcdefabcdef", "abcdefabcdefabcdefabcdef");
  ExpectHidden("key xoxb-1234567890-abcdef", "1234567890-abcdef");
  ExpectHidden("OPENAI=sk-abcdefghijklmnop1234", "abcdefghijklmnop1234");
  ExpectHidden("glpat-abcdefghijklmnop12 in a file", "abcdefghijklmnop12");
}

// The needles are looked for by their first two letters (folded): a needle
// whose second letter is upper case, or that starts the text, or ends it,
// or whose exact shape is upper case, is found all the same.
TEST(Redact, NeedlesAreFoundWhereverAndHoweverTheyStart) {
  ExpectHidden("aCCESS_KEY=v4lue-one", "v4lue-one");
  ExpectHidden("PWD=s3cret-two", "s3cret-two");
  ExpectHidden("x=1 pWd=s3cret-three", "s3cret-three");
  ExpectHidden("AKIAABCDEFGHIJKLMNOP", "ABCDEFGHIJKLMNOP");
  ExpectHidden("id ASIAABCDEFGHIJKLMNOP", "ABCDEFGHIJKLMNOP");
  ExpectHidden("eyJhbGciOi.eyJzdWIiOi.c2lnbmF0", "eyJzdWIiOi");
  ExpectHidden("run --tOKEN t0ken-value-4", "t0ken-value-4");
}

// The shortcuts (a rule's pattern runs only when the text holds one of its
// words; a pattern that opens with a run of name characters is tried only
// where such a run begins, and written to read a name once) change only
// the time: on text made of the rules' words and shapes in any case, joined
// by what their patterns look for around them, RedactSecrets gives exactly
// what std::regex_replace gives running every pattern (a difference would
// be a secret left in the audit log).
TEST(Redact, TheShortcutsGiveWhatEveryRuleGives) {
  // clang-format off
  const std::vector<std::string> parts = {
      "token", "Secret", "PASSWORD", "passwd", "pwd", "Api_Key", "access-key", "private_key",
      "client_secret", "credential", "AUTH", "session", "cookie", "signature", "sig", "Bearer",
      "jwt", "dsn", "identified by", "basic", "authorization", "x-api-token", "://", "user:pw@",
      "-----BEGIN RSA PRIVATE KEY-----", "ghp_", "github_pat_", "xoxb-", "sk-", "AKIA", "ASIA",
      "AIza", "glpat-", "eyJ", "abcdefghijklmnopqrstuvwx", "0123456789ABCDEFabcdef0123456789",
      "SELECT", "aid", "pgbench_accounts", "'quoted value'", "\"dq\"", "12345", "_zz", "x-",
      "x-api_key", "set-cookie", "proxy-authorization", "digest", "--", "9http", "a.b+",
      "tokentokentoken", "'"};
  const std::vector<std::string> joins = {" ", "=", ": ", ":", " --", "-", "_", "'", "\"",
                                          "&", ";", ",", "\n", "", "  ", "/", ".", "\t"};
  // clang-format on
  std::mt19937 random(20261207);
  for (int i = 0; i < 6000; ++i) {
    std::string text;
    const int count = 1 + static_cast<int>(random() % 7);
    for (int k = 0; k < count; ++k) {
      std::string part = parts[random() % parts.size()];
      for (char& c : part) {  // any case
        const auto byte = static_cast<unsigned char>(c);
        if (random() % 3 == 0) c = static_cast<char>(std::toupper(byte));
        if (random() % 5 == 0) c = static_cast<char>(std::tolower(byte));
      }
      text += part + joins[random() % joins.size()];
    }
    const std::string redacted = RedactSecrets(text);
    ASSERT_EQ(redacted, internal::RedactSecretsEveryRule(text)) << text;
    // Without a copy when nothing changes; else the same text.
    const std::optional<std::string> changed = dualkey::base::RedactSecretsIfAny(text);
    ASSERT_EQ(changed.has_value(), redacted != text) << text;
    if (changed) ASSERT_EQ(*changed, redacted) << text;
  }
}

// Long runs of name characters, secret words and separators: a few
// milliseconds each, not seconds (std::regex tried each pattern at every
// place, and read the rest of a run again from each: quadratic, and ~45 s
// for 8 KiB of letters after "password = '"). A generous bound: the point
// is the order of magnitude, on any machine the suite runs on.
TEST(Redact, LongRunsTakeLinearTime) {
  std::string words;
  while (words.size() < 8000) words += "token";
  const std::string letters(8000, 'a');
  const std::vector<std::string> texts = {"password = '" + letters,
                                          "token=" + letters,
                                          "x --api-key " + letters,
                                          words + "='",
                                          words,
                                          words + "_zz: v",
                                          words + ": '",
                                          "https://u:" + letters,
                                          "-----BEGIN RSA PRIVATE KEY-----\n" + letters};
  for (const std::string& text : texts) {
    const auto started = std::chrono::steady_clock::now();
    RedactSecrets(text);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2))
        << text.substr(0, 40);
  }
}

// What the PostgreSQL proxy reports for every statement: no secret word,
// left as it is (and, untouched by any pattern, cheap: see redact.cc).
TEST(Redact, ReadsPassUnchanged) {
  for (const std::string text : {"SELECT abalance FROM pgbench_accounts WHERE aid = 123456;",
                                 "GET /v1/projects/p-1", "BEGIN", "SHOW search_path"}) {
    int count = -1;
    EXPECT_EQ(RedactSecrets(text, 8192, &count), text);
    EXPECT_EQ(count, 0);
  }
}

TEST(Redact, CutsLongInput) {
  const std::string out = RedactSecrets(std::string(100000, 'a'), 100);
  EXPECT_LE(out.size(), 120u);
  EXPECT_NE(out.find("[cut]"), std::string::npos);
}

}  // namespace
}  // namespace dualkey::base
