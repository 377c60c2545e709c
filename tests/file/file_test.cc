// The file-write adapter: which Write/Edit/Delete targets are worth a human's
// look, and which ordinary project writes must pass.
#include "file/file.h"

#include <gtest/gtest.h>

#include "guard/guard.h"

namespace dualkey::file {
namespace {

constexpr const char* kHome = "/home/dev";
constexpr const char* kCwd = "/home/dev/app";

Action One(std::string_view path, std::string_view op, std::string_view cwd = kCwd) {
  std::vector<Action> actions = ClassifyFileWrite(path, op, cwd, kHome);
  EXPECT_EQ(actions.size(), 1u);
  return actions.empty() ? Action{} : actions[0];
}

bool Held(std::string_view path, std::string_view op, std::string_view cwd = kCwd) {
  return IsDestructive(One(path, op, cwd));
}

TEST(FileOperation, ParsesKnownNames) {
  Operation op;
  EXPECT_TRUE(ParseOperation("create", &op));
  EXPECT_EQ(op, Operation::kCreate);
  EXPECT_TRUE(ParseOperation("delete", &op));
  EXPECT_EQ(op, Operation::kDelete);
  EXPECT_FALSE(ParseOperation("truncate", &op));
  EXPECT_EQ(ToString(Operation::kEdit), "edit");
}

TEST(FileWrite, OrdinaryProjectWritesPass) {
  Action write = One("src/main.cc", "write");
  EXPECT_EQ(write.op_class, "fs.write");
  EXPECT_EQ(write.targets, std::vector<std::string>{"/home/dev/app/src/main.cc"});
  EXPECT_EQ(write.channel, Channel::kFile);
  EXPECT_FALSE(IsDestructive(write));
  EXPECT_FALSE(Held("/home/dev/app/README.md", "edit"));
  EXPECT_FALSE(Held("/home/dev/app/new_file.py", "create"));
  EXPECT_FALSE(Held("/home/dev/app/old.txt", "delete"));
}

TEST(FileWrite, ScaryWordsInProjectFileNamesAreData) {
  // Names that sound destructive but are ordinary source files in the project.
  EXPECT_FALSE(Held("/home/dev/app/scripts/rm_rf_everything.sh", "write"));
  EXPECT_FALSE(Held("/home/dev/app/src/backup_service.py", "edit"));
  EXPECT_FALSE(Held("/home/dev/app/docs/drop-database.md", "write"));
}

TEST(FileWrite, ReplacingAFileOutsideTheProjectIsHeld) {
  Action action = One("/home/dev/notes/todo.txt", "write");
  EXPECT_EQ(action.op_class, "fs.write.outside_project");
  EXPECT_EQ(action.reversibility, Reversibility::kIrreversible);
  EXPECT_TRUE(IsDestructive(action));
  EXPECT_TRUE(Held("../other-project/main.go", "write"));
  EXPECT_TRUE(Held("/home/dev/other/file.txt", "delete"));
}

TEST(FileWrite, CreatingOrEditingOutsideTheProjectPasses) {
  EXPECT_FALSE(Held("/home/dev/notes/new.txt", "create"));
  EXPECT_FALSE(Held("/home/dev/notes/todo.txt", "edit"));
}

TEST(FileWrite, TempAndBuildOutputPass) {
  EXPECT_FALSE(Held("/tmp/scratch.txt", "write"));
  EXPECT_FALSE(Held("/home/dev/app/build/gen.h", "write"));
  EXPECT_EQ(One("/tmp/x", "write").op_class, "fs.write.disposable");
}

TEST(FileWrite, DualkeysOwnConfigAndStateAreHeldEvenToCreate) {
  for (const char* path :
       {"/home/dev/.config/dualkey/policy.toml", "/etc/dualkey/policy.toml",
        "/home/dev/.local/state/dualkey/approvals.db", "/home/dev/app/.dualkey.toml",
        "~/.config/dualkey/policy.toml", ".dualkey.toml"}) {
    Action action = One(path, "create");
    EXPECT_EQ(action.op_class, "guard.tamper") << path;
    EXPECT_EQ(action.severity, Severity::kCritical) << path;
    EXPECT_TRUE(IsDestructive(action)) << path;
  }
  EXPECT_EQ(One("/home/dev/app/.dualkey.toml", "edit").op_class, "guard.tamper");
  EXPECT_EQ(One("/home/dev/app/.dualkey/packs/mine.toml", "create").op_class, "guard.tamper");
  EXPECT_EQ(One("/var/lib/dualkey/audit.key", "delete").op_class, "guard.tamper");
  EXPECT_EQ(One("/usr/local/bin/dualkey", "write").op_class, "guard.tamper");
}

TEST(FileWrite, AgentHookConfigsAreHeld) {
  EXPECT_EQ(One("/home/dev/.claude/settings.json", "edit").op_class, "guard.tamper");
  EXPECT_EQ(One("/home/dev/.codex/hooks.json", "delete").op_class, "guard.tamper");
  EXPECT_TRUE(Held("/home/dev/app/.claude/settings.local.json", "write"));
  EXPECT_TRUE(Held("/home/dev/app/.cursor/hooks.json", "create"));
  EXPECT_TRUE(Held("/home/dev/.codex/config.toml", "edit"));
  EXPECT_TRUE(Held("/home/dev/.gemini/settings.json", "write"));
  // Same file names elsewhere are ordinary.
  EXPECT_FALSE(Held("/home/dev/app/config/settings.json", "write"));
}

TEST(FileWrite, BackupsAreHeldButNewBackupsPass) {
  Action overwrite = One("/var/backups/db.dump", "write");
  EXPECT_EQ(overwrite.op_class, "backup.modify");
  EXPECT_TRUE(IsDestructive(overwrite));
  EXPECT_EQ(One("/home/dev/app/backups/2024.tar", "delete").op_class, "backup.delete");
  EXPECT_TRUE(Held("/home/dev/app/db.sql.bak", "edit"));
  Action create = One("/srv/backups/new.tar", "create");
  EXPECT_EQ(create.op_class, "backup.create");
  EXPECT_FALSE(IsDestructive(create));
}

TEST(FileWrite, SystemDataAndDevicesAreHeld) {
  EXPECT_EQ(One("/etc/passwd", "write").op_class, "fs.write.system");
  EXPECT_TRUE(Held("/etc/cron.d/job", "create"));
  EXPECT_TRUE(Held("/usr/local/bin/tool", "edit"));
  EXPECT_EQ(One("/var/lib/postgresql/data/pg_hba.conf", "edit").op_class, "fs.edit.data");
  EXPECT_TRUE(Held("/home/dev/app/data/app.sqlite3", "write"));
  EXPECT_EQ(One("/dev/sda", "write").op_class, "disk.write");
  EXPECT_FALSE(Held("/dev/null", "write"));
}

TEST(FileWrite, CredentialsStartupFilesAndGitInternalsAreHeld) {
  EXPECT_EQ(One("/home/dev/.ssh/authorized_keys", "edit").op_class, "credentials.edit");
  EXPECT_TRUE(Held("~/.aws/credentials", "write"));
  EXPECT_EQ(One("/home/dev/.bashrc", "edit").op_class, "fs.edit.startup");
  EXPECT_TRUE(Held("/home/dev/app/.git/hooks/pre-commit", "create"));
  EXPECT_TRUE(Held("/home/dev/app/.git/config", "edit"));
}

TEST(FileWrite, DotDotCannotEscapeUnnoticed) {
  Action action = One("/home/dev/app/../../../etc/shadow", "write");
  EXPECT_EQ(action.targets[0], "/etc/shadow");
  EXPECT_TRUE(IsDestructive(action));
  EXPECT_TRUE(Held("src/../../.config/dualkey/policy.toml", "edit"));
}

TEST(FileWrite, LiteralDollarInANameIsResolvedByPlace) {
  EXPECT_FALSE(Held("/home/dev/app/$weird.txt", "write"));
  EXPECT_TRUE(Held("/etc/$weird.conf", "write"));
}

TEST(FileWrite, RelativePathsWithoutCwdCountAsProject) {
  EXPECT_FALSE(Held("src/a.cc", "write", ""));
  EXPECT_TRUE(Held("/home/dev/elsewhere.txt", "write", ""));
}

TEST(FileWrite, BadInputFailsClosed) {
  EXPECT_EQ(One("", "write").op_class, "opaque.file");
  EXPECT_TRUE(Held("", "write"));
  EXPECT_TRUE(Held("/home/dev/app/a.txt", "truncate"));
  EXPECT_TRUE(Held(std::string_view("a\0b", 3), "write"));
}

TEST(FileGuard, GuardRoutesTheFileChannel) {
  guard::Request request;
  request.channel = Channel::kFile;
  request.input = "/etc/hosts";
  request.file_operation = "write";
  request.cwd = kCwd;
  request.home = kHome;
  guard::Result result = guard::Check(request);
  EXPECT_GE(result.verdict.decision, Decision::kHold);
  request.input = "/home/dev/app/src/x.cc";
  EXPECT_EQ(guard::Check(request).verdict.decision, Decision::kAllow);
}

}  // namespace
}  // namespace dualkey::file
