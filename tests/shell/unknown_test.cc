// The rule for the unknown and the data packs, through the whole analyzer:
// a command no pack knows is read for its verb path; words inside messages,
// patterns, test names and dry runs are not verbs.
#include <gtest/gtest.h>

#include "policy/policy.h"
#include "shell/shell.h"

namespace dualkey::shell {
namespace {

Verdict Check(std::string_view command, std::string cwd = "/home/dev/app") {
  Analysis analysis = Analyze(command, {cwd, "/home/dev"});
  return policy::Decide(std::move(analysis.actions));
}

bool Held(std::string_view command) {
  return Check(command).decision != Decision::kAllow;
}

TEST(UnknownRule, DestroyingVerbsOfUnknownToolsAreHeld) {
  for (const char* command :
       {"mytool delete-everything --yes", "acmectl tenants purge --all --force",
        "acmectl buckets remove-all", "./bin/ops db drop orders", "corpctl users rm bob",
        "warpctl cluster destroy prod", "kvtool flush", "ledgerctl accounts wipe",
        "acme-cli --profile prod jobs terminate 42", "svc2 queue truncate orders",
        "tool snapshots prune --keep 0", "mytool sync --delete ./a remote:b",
        "mytool repo force-delete acme/x", "mytool --ctx prod nuke", "x deregister node-1",
        "x keys expire user:1", "x disk shred /dev/sdb", "x db reset"}) {
    Verdict verdict = Check(command);
    EXPECT_NE(verdict.decision, Decision::kAllow) << command;
  }
}

TEST(UnknownRule, ReasonNamesTheVerbAndClassIsUnknownDelete) {
  Verdict verdict = Check("acmectl tenants purge --all");
  ASSERT_EQ(verdict.actions.size(), 1u);
  EXPECT_EQ(verdict.actions[0].op_class, "unknown.delete");
  EXPECT_NE(verdict.reason.find("\"purge\""), std::string::npos) << verdict.reason;
  EXPECT_NE(verdict.reason.find("no pack knows"), std::string::npos) << verdict.reason;
  EXPECT_EQ(verdict.actions[0].origin, "unknown-command rule");
}

TEST(UnknownRule, BackupsNamedInTheCommandNeedTwo) {
  EXPECT_EQ(Check("acmectl backups delete nightly-42").decision, Decision::kHold2);
  EXPECT_EQ(Check("acmectl db delete-snapshot s1").decision, Decision::kHold2);
}

TEST(UnknownRule, ReadsWritesAndDataStayAllowed) {
  for (const char* command :
       {"acmectl tenants list --json", "mytool get delete-policy", "mytool describe cluster prod",
        "mytool status", "mytool logs --follow", "mytool plan destroy", "mytool diff",
        "mytool deploy web", "mytool create bucket b1", "mytool delete --dry-run x",
        "mytool delete --help", "mytool tenants purge --what-if", "mytool run ./scripts/delete.sh",
        "mytool note --title 'delete me later'", "hg commit -m remove", "mytool",
        "mytool --version"})
    EXPECT_FALSE(Held(command)) << command;
}

TEST(UnknownRule, WordsThatAreDataAreNotVerbs) {
  for (const char* command : {"echo remove",
                              "printf 'delete %s' x",
                              "grep -r delete src/",
                              "rg -n 'DROP TABLE' .",
                              "pytest -k test_delete",
                              "pytest tests/test_delete.py",
                              "jest -t 'deletes the user'",
                              "mkdir delete-later",
                              "touch purge.log",
                              "cat remove-me.txt",
                              "ls drop/",
                              "git commit -m 'remove x'",
                              "git log --grep=delete",
                              "cd remove-this",
                              "export MODE=destroy",
                              "test -d delete",
                              "shellcheck scripts/wipe_staging.sh",
                              "make -n destroy",
                              "npm test -- --grep delete",
                              "go test ./... -run TestDropDatabase",
                              "python3 -m pytest -k 'test_delete_user'",
                              "cargo test delete_user"})
    EXPECT_FALSE(Held(command)) << command;
}

TEST(UnknownRule, ComputedSubcommandIsOpaque) {
  Verdict verdict = Check("mytool $ACTION prod");
  EXPECT_NE(verdict.decision, Decision::kAllow);
  EXPECT_EQ(verdict.actions.at(0).op_class, "opaque.exec");
}

TEST(UnknownRule, WrappedUnknownToolsToo) {
  EXPECT_TRUE(Held("sudo acmectl tenants purge"));
  EXPECT_TRUE(Held("ssh prod 'acmectl tenants purge'"));
  EXPECT_TRUE(Held("npx acme-cli db drop"));
  EXPECT_TRUE(Held("make db-drop"));
  EXPECT_TRUE(Held("npm run db:reset"));
  EXPECT_FALSE(Held("make build"));
  EXPECT_FALSE(Held("npm run lint"));
}

TEST(DataPacks, KnownToolsDecideByTheirRules) {
  EXPECT_TRUE(Held("gh repo delete acme/app --yes"));
  EXPECT_FALSE(Held("gh repo view acme/app"));
  EXPECT_TRUE(Held("hcloud server delete web-1"));
  EXPECT_FALSE(Held("hcloud server list"));
  EXPECT_TRUE(Held("vault kv metadata delete secret/prod"));
  EXPECT_TRUE(Held("redis-cli -h cache-prod FLUSHALL"));
  EXPECT_FALSE(Held("npm uninstall lodash"));
  EXPECT_TRUE(Held("npm unpublish @acme/sdk@1.0.0"));
  EXPECT_TRUE(Held("cargo yank --version 1.2.3 acme"));
  EXPECT_TRUE(Held("systemctl stop postgresql"));
  EXPECT_TRUE(Held("pg_ctl stop -D /var/lib/postgresql/data -m immediate"));
  EXPECT_TRUE(Held("pkill -9 mysqld"));
  EXPECT_TRUE(Held("gh api -X DELETE repos/acme/app"));
  EXPECT_FALSE(Held("gh api repos/acme/app/pulls"));
}

TEST(DataPacks, OriginNamesPackAndRule) {
  Verdict verdict = Check("gh repo delete acme/app");
  ASSERT_FALSE(verdict.actions.empty());
  EXPECT_NE(verdict.actions[0].origin.find("pack github-cli, rule repo-delete"), std::string::npos)
      << verdict.actions[0].origin;
  EXPECT_NE(verdict.actions[0].origin.find("packs/github-cli.toml:"), std::string::npos);
  verdict = Check("gh run delete 42");
  EXPECT_NE(verdict.actions.at(0).origin.find("verb rule"), std::string::npos);
}

TEST(FalseHolds, TempDirsBuildOutputAndBranches) {
  EXPECT_FALSE(Held("rm -rf \"$TMPDIR/pytest-of-dev\""));
  EXPECT_FALSE(Held("rm -rf ${TMPDIR:-/tmp}/build-cache"));
  EXPECT_TRUE(Held("rm -rf \"$TMPDIR/../home/dev\""));
  EXPECT_FALSE(Check("rm -rf build && cmake -S . -B build", "/opt/acme/billing").decision !=
               Decision::kAllow);
  EXPECT_FALSE(Check("rm -rf target/debug", "/srv/acme/router").decision != Decision::kAllow);
  EXPECT_FALSE(Check("rm -rf dist .pytest_cache", "/srv/www/site").decision != Decision::kAllow);
  EXPECT_TRUE(Check("rm -rf data", "/srv/acme/router").decision != Decision::kAllow);
  EXPECT_TRUE(Check("rm -rf build", "/srv").decision != Decision::kAllow);
  EXPECT_FALSE(Held("git switch -cfix/login-redirect"));
  EXPECT_FALSE(Held("git checkout -bfeature/cache"));
  EXPECT_TRUE(Held("git checkout -f"));
  EXPECT_TRUE(Held("git switch -f main"));
}

}  // namespace
}  // namespace dualkey::shell
