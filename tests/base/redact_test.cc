#include "base/redact.h"

#include <gtest/gtest.h>

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
