#include <gtest/gtest.h>

#include "packs_a_testing.h"
#include "shell/internal/packs/packs.h"

namespace dualkey::shell {
namespace {

using packs_a_test::Glob;
using packs_a_test::Make;
using packs_a_test::RecordingContext;
using packs_a_test::Temp;
using packs_a_test::Unknown;
using packs_a_test::Word;
using packs_a_test::Words;

RecordingContext RunFs(const Invocation& inv) {
  RecordingContext ctx;
  EXPECT_TRUE(packs_a_test::Run(FsPack(), inv, ctx)) << "not in the fs pack: " << inv.name();
  return ctx;
}

RecordingContext RunLine(std::string_view line, std::string cwd = "") {
  return RunFs(Words(line, std::move(cwd)));
}

// --- rm: held ----------------------------------------------------------------

TEST(FsPackRm, RootIsCritical) {
  RecordingContext ctx = RunLine("rm -rf /", "/home/dev");
  ASSERT_EQ(ctx.actions.size(), 1u);
  EXPECT_EQ(ctx.actions[0].op_class, "fs.delete.root");
  EXPECT_EQ(ctx.actions[0].severity, Severity::kCritical);
  EXPECT_EQ(ctx.actions[0].targets[0], "/");
}

TEST(FsPackRm, RootGlobAndCdRootStar) {
  EXPECT_TRUE(RunFs(Make({Word("rm"), Word("-rf"), Glob("/*")})).HasClass("fs.delete.root"));
  EXPECT_TRUE(RunFs(Make({Word("rm"), Word("-rf"), Glob("*")}, "/")).HasClass("fs.delete.root"));
}

TEST(FsPackRm, NoPreserveRootIsNoted) {
  RecordingContext ctx = RunLine("rm -rf --no-preserve-root /");
  ASSERT_EQ(ctx.actions.size(), 1u);
  EXPECT_NE(ctx.actions[0].reason.find("no-preserve-root"), std::string::npos);
}

TEST(FsPackRm, HomeVariants) {
  for (const char* line : {"rm -rf /home/dev", "rm -rf ~", "rm -rf ~/", "rm -r -f ~",
                           "rm -Rf /home/dev", "rm --recursive --force /home/dev"}) {
    RecordingContext ctx = RunLine(line, "/home/dev/app");
    EXPECT_TRUE(ctx.HasClass("fs.delete.home")) << line;
    EXPECT_EQ(ctx.MaxSeverity(), Severity::kCritical) << line;
  }
  RecordingContext star = RunFs(Make({Word("rm"), Word("-rf"), Glob("/home/dev/*")}));
  EXPECT_EQ(star.MaxSeverity(), Severity::kCritical);
}

TEST(FsPackRm, FoldersDirectlyInHomeAreHigh) {
  for (const char* line :
       {"rm -rf /home/dev/projects", "rm -rf /home/dev/.ssh", "rm -rf /home/dev/app"}) {
    RecordingContext ctx = RunLine(line, "/tmp");
    EXPECT_EQ(ctx.MaxSeverity(), Severity::kHigh) << line;
    EXPECT_TRUE(ctx.Held()) << line;
  }
}

TEST(FsPackRm, ParentOfCwdIsWholeProject) {
  RecordingContext ctx = RunLine("rm -rf app", "/home/dev");
  EXPECT_EQ(ctx.MaxSeverity(), Severity::kHigh);
  RecordingContext dot = RunLine("rm -rf .", "/home/dev/rust/parser");
  EXPECT_EQ(dot.MaxSeverity(), Severity::kHigh);
  RecordingContext in_projects = RunLine("rm -rf /home/dev/projects/api");
  EXPECT_EQ(in_projects.MaxSeverity(), Severity::kHigh);
  RecordingContext everything = RunFs(Make({Word("rm"), Word("-rf"), Glob("*")}, "/home/dev/app"));
  EXPECT_EQ(everything.MaxSeverity(), Severity::kHigh);
}

TEST(FsPackRm, SystemAndData) {
  EXPECT_TRUE(RunLine("rm -fr /etc").HasClass("fs.delete.system"));
  EXPECT_EQ(RunLine("rm -fr /etc").MaxSeverity(), Severity::kCritical);
  for (const char* line : {"rm -rf /var/lib/mysql", "rm --recursive --force /var/lib/postgresql",
                           "rm -rf /srv/data", "rm -rf /mnt/storage/customer_data",
                           "rm -rf /opt/app/data", "rm -rf /var/www", "rm -rf /data"}) {
    RecordingContext ctx = RunLine(line);
    EXPECT_TRUE(ctx.HasClass("fs.delete.recursive")) << line;
    EXPECT_GE(ctx.MaxSeverity(), Severity::kHigh) << line;
  }
  RecordingContext relative = RunLine("rm -rf ../../../var/lib/postgresql", "/home/dev/app");
  EXPECT_EQ(relative.actions[0].targets[0], "/var/lib/postgresql");
  RecordingContext cd = RunLine("rm -rf mysql", "/var/lib");
  EXPECT_TRUE(cd.Held());
  EXPECT_TRUE(RunFs(Make({Word("rm"), Word("-rf"), Glob("/srv/*")})).Held());
}

TEST(FsPackRm, DatabaseFileEvenWithoutRecursion) {
  RecordingContext ctx = RunLine("rm -f /srv/app/db/production.sqlite3");
  ASSERT_EQ(ctx.actions.size(), 1u);
  EXPECT_EQ(ctx.actions[0].op_class, "fs.delete.database");
  EXPECT_TRUE(ctx.Held());
}

TEST(FsPackRm, Backups) {
  for (const char* line : {"rm -rf /var/backups", "rm -rf /var/backups/postgres",
                           "rm /mnt/backup/db-2024.tar.gz", "rm -f orders.bak"}) {
    RecordingContext ctx = RunLine(line, "/home/dev/app");
    EXPECT_TRUE(ctx.HasClass("backup.delete")) << line;
    EXPECT_TRUE(ctx.Held()) << line;
  }
}

TEST(FsPackRm, GitDirectory) {
  RecordingContext ctx = RunLine("rm -rf .git", "/home/dev/app");
  EXPECT_TRUE(ctx.HasClass("git.history.delete"));
  EXPECT_TRUE(ctx.Held());
  // A stale lock file is routine.
  EXPECT_FALSE(RunLine("rm -f .git/index.lock", "/home/dev/app").Held());
}

TEST(FsPackRm, DockerVolumes) {
  EXPECT_TRUE(RunLine("rm -rf /var/lib/docker/volumes/pg").HasClass("container.volume.delete"));
}

TEST(FsPackRm, UnknownTargets) {
  RecordingContext recursive = RunFs(Make({Word("rm"), Word("-rf"), Unknown("$D")}));
  EXPECT_EQ(recursive.MaxSeverity(), Severity::kHigh);
  RecordingContext single = RunFs(Make({Word("rm"), Word("-f"), Unknown("$F")}));
  EXPECT_TRUE(single.Held());
  // Unknown working directory: `rm -rf *` could be anywhere.
  EXPECT_TRUE(RunFs(Make({Word("rm"), Word("-rf"), Glob("*")}, "")).Held());
}

TEST(FsPackRm, RecursiveProjectSubtreeIsHeldMedium) {
  RecordingContext ctx = RunLine("rm -rf src/legacy", "/home/dev/app");
  EXPECT_EQ(ctx.MaxSeverity(), Severity::kMedium);
}

TEST(FsPackRm, AbbreviatedLongOptions) {
  EXPECT_EQ(RunLine("rm --recur --force /home/dev/app", "/tmp").MaxSeverity(), Severity::kHigh);
  EXPECT_EQ(RunLine("rm --rec src/x", "/home/dev/app").MaxSeverity(), Severity::kMedium);
}

TEST(FsPackRm, PathAsCommandName) {
  RecordingContext ctx = RunLine("/bin/rm -rf /home/dev");
  EXPECT_TRUE(ctx.HasClass("fs.delete.home"));
}

TEST(FsPackRm, OneActionPerOperand) {
  RecordingContext ctx = RunLine("rm -rf node_modules /etc", "/home/dev/web");
  ASSERT_EQ(ctx.actions.size(), 2u);
  EXPECT_TRUE(ctx.Held());
}

// --- rm: allowed traps ----------------------------------------------------------

TEST(FsPackRm, DisposableBuildOutputIsAllowed) {
  for (const char* line : {"rm -rf node_modules", "rm -rf ./dist", "rm -rf .next build"}) {
    RecordingContext ctx = RunLine(line, "/home/dev/web");
    EXPECT_FALSE(ctx.Held()) << line;
    EXPECT_TRUE(ctx.HasClass("fs.delete.scoped")) << line;
  }
  EXPECT_FALSE(RunLine("rm -rf target", "/home/dev/rust/parser").Held());
  EXPECT_FALSE(RunLine("rm -rf .pytest_cache .mypy_cache", "/home/dev/app").Held());
  EXPECT_FALSE(RunFs(Make({Word("rm"), Word("-rf"), Glob("build/*")}, "/home/dev/app")).Held());
}

TEST(FsPackRm, TempAndCachesAreAllowed) {
  EXPECT_FALSE(RunLine("rm -rf /tmp/build-8f3a2c", "/home/dev/app").Held());
  EXPECT_FALSE(RunLine("rm -rf ~/.cache/pip", "/home/dev/app").Held());
  EXPECT_FALSE(RunLine("rm -rf /home/dev/.cache/pip").Held());
  EXPECT_FALSE(RunFs(Make({Word("rm"), Word("-rf"), Temp("/tmp/tmp.k2j3")})).Held());
  EXPECT_FALSE(RunFs(Make({Word("rm"), Word("-rf"), Arg{"$(...)", false, false, true}})).Held());
  EXPECT_FALSE(RunFs(Make({Word("rm"), Word("-rf"), Glob("/tmp/*")})).Held());
}

TEST(FsPackRm, SingleOrdinaryFileIsAllowed) {
  EXPECT_FALSE(RunLine("rm notes.txt", "/home/dev/app").Held());
  EXPECT_FALSE(RunLine("rm -f src/old.py", "/home/dev/app").Held());
  EXPECT_FALSE(RunFs(Make({Word("rm"), Glob("*.log")}, "/home/dev/app")).Held());
  // But every file of the project root is not.
  EXPECT_TRUE(RunFs(Make({Word("rm"), Glob("*")}, "/home/dev/app")).Held());
  // Nor keys.
  EXPECT_TRUE(RunLine("rm ~/.ssh/id_ed25519").Held());
}

TEST(FsPackRm, RecursiveFlagOnAPlainFileIsASingleDelete) {
  EXPECT_FALSE(RunLine("rm -rf src/old_notes.txt", "/home/dev/app").Held());
  EXPECT_FALSE(RunLine("rm -rf node_modules package-lock.json", "/home/dev/web").Held());
  // A dotted directory name is still a tree.
  EXPECT_TRUE(RunLine("rm -rf releases/v1.2", "/home/dev/app").Held());
  EXPECT_TRUE(RunLine("rm -rf .env", "/home/dev/app").Held());
}

TEST(FsPackRm, HomeTmpIsScratch) {
  EXPECT_FALSE(RunLine("rm -rf ~/tmp/scratch").Held());
}

TEST(FsPackRm, DoubleDashEndsOptions) {
  RecordingContext ctx = RunLine("rm -- -rf", "/home/dev/app");
  ASSERT_EQ(ctx.actions.size(), 1u);
  EXPECT_EQ(ctx.actions[0].targets[0], "/home/dev/app/-rf");
  EXPECT_FALSE(ctx.Held());
}

TEST(FsPackRm, NoOperandsNoAction) {
  EXPECT_TRUE(RunLine("rm -rf").actions.empty());
}

// --- rmdir, unlink -------------------------------------------------------------

TEST(FsPackOther, RmdirOnlyRemovesEmptyDirectories) {
  EXPECT_FALSE(RunLine("rmdir /var/backups/old").Held());
}

TEST(FsPackOther, UnlinkIsASingleDelete) {
  EXPECT_TRUE(RunLine("unlink /var/lib/app/prod.db").Held());
  EXPECT_FALSE(RunLine("unlink tmp.txt", "/home/dev/app").Held());
}

// --- shred ---------------------------------------------------------------------

TEST(FsPackShred, DataFileIsDiskWipe) {
  RecordingContext ctx = RunLine("shred -u -z /data/customer_data.db");
  EXPECT_TRUE(ctx.HasClass("disk.wipe"));
  EXPECT_TRUE(ctx.Held());
}

TEST(FsPackShred, DeviceIsCritical) {
  EXPECT_EQ(RunLine("shred -n 3 /dev/sda").MaxSeverity(), Severity::kCritical);
}

TEST(FsPackShred, TempFileIsAllowed) {
  EXPECT_FALSE(RunLine("shred -u /tmp/secret.txt").Held());
}

// --- truncate ------------------------------------------------------------------

TEST(FsPackTruncate, ZeroOnDatabaseIsHeld) {
  RecordingContext ctx = RunLine("truncate -s 0 /var/lib/mysql/shop/orders.ibd");
  EXPECT_TRUE(ctx.HasClass("fs.truncate"));
  EXPECT_EQ(ctx.MaxSeverity(), Severity::kHigh);
  EXPECT_TRUE(RunLine("truncate --size=0 /srv/app/prod.db").Held());
  EXPECT_TRUE(RunLine("truncate -s -10M /srv/app/prod.db").Held());
}

TEST(FsPackTruncate, GrowingAndLogsAreAllowed) {
  EXPECT_FALSE(RunLine("truncate -s +1G /srv/app/prod.db").Held());
  EXPECT_FALSE(RunLine("truncate -s 0 /var/log/app.log").Held());
  EXPECT_FALSE(RunLine("truncate -s 0 out.txt", "/home/dev/app").Held());
}

// --- mv, cp --------------------------------------------------------------------

TEST(FsPackMv, MoveToDevNullIsADelete) {
  RecordingContext ctx = RunLine("mv /srv/data /dev/null");
  EXPECT_TRUE(ctx.Held());
  EXPECT_FALSE(RunLine("mv build /dev/null", "/home/dev/app").Held());
}

TEST(FsPackMv, MovingDataAwayIsHeld) {
  EXPECT_TRUE(RunLine("mv /var/lib/postgresql /root/old").Held());
  EXPECT_TRUE(RunLine("mv /etc /etc.old").Held());
}

TEST(FsPackMv, ReplacingADatabaseIsHeld) {
  EXPECT_TRUE(RunLine("mv empty.db /srv/app/prod.db", "/home/dev/app").Held());
}

TEST(FsPackMv, OrdinaryMoveIsNotFlagged) {
  EXPECT_TRUE(RunLine("mv src/a.py src/b.py", "/home/dev/app").actions.empty());
  EXPECT_TRUE(RunLine("mv -t archive a b", "/home/dev/app").actions.empty());
}

TEST(FsPackCp, DevNullOntoFileTruncates) {
  RecordingContext ctx = RunLine("cp /dev/null /var/lib/app/production.sqlite3");
  EXPECT_TRUE(ctx.HasClass("fs.truncate"));
  EXPECT_TRUE(ctx.Held());
  EXPECT_FALSE(RunLine("cp /dev/null app.log", "/home/dev/app").Held());
}

TEST(FsPackCp, OntoDeviceWipes) {
  EXPECT_TRUE(RunLine("cp disk.img /dev/sdb", "/home/dev").HasClass("disk.wipe"));
}

TEST(FsPackCp, OrdinaryCopyIsNotFlagged) {
  EXPECT_TRUE(RunLine("cp -r src dst", "/home/dev/app").actions.empty());
  EXPECT_TRUE(RunLine("cp /srv/app/prod.db /tmp/copy.db").actions.empty());
}

// --- rsync ---------------------------------------------------------------------

TEST(FsPackRsync, DeleteOntoDataIsHeld) {
  RecordingContext ctx = RunLine("rsync -a --delete /tmp/empty/ /srv/data/");
  EXPECT_TRUE(ctx.HasClass("fs.delete.recursive"));
  EXPECT_TRUE(ctx.Held());
  ASSERT_FALSE(ctx.actions.empty());
  EXPECT_EQ(ctx.actions[0].targets[0], "/srv/data");
}

TEST(FsPackRsync, DeleteOntoRemoteIsHeld) {
  EXPECT_TRUE(RunLine("rsync -avz --delete-after ./site/ web01:/var/www/", "/home/dev").Held());
  EXPECT_TRUE(RunLine("rsync -a -e ssh --delete ./x/ user@host:/srv/x").Held());
}

TEST(FsPackRsync, DryRunAndNoDeleteAreAllowed) {
  EXPECT_FALSE(RunLine("rsync -avn --delete /tmp/empty/ /srv/data/").Held());
  EXPECT_FALSE(RunLine("rsync -a --delete --dry-run /tmp/empty/ /srv/data/").Held());
  EXPECT_TRUE(RunLine("rsync -a /srv/data/ /mnt/elsewhere/").actions.empty());
  EXPECT_FALSE(RunLine("rsync -a --delete src/ build/", "/home/dev/app").Held());
}

// --- tar -----------------------------------------------------------------------

TEST(FsPackTar, RemoveFilesIntoArchiveIsLowForProjects) {
  EXPECT_FALSE(RunLine("tar --remove-files -czf logs.tgz logs", "/home/dev/app").Held());
}

TEST(FsPackTar, RemoveFilesOfDataIsHeld) {
  EXPECT_TRUE(RunLine("tar --remove-files -czf /tmp/x.tgz /var/lib/mysql").Held());
  RecordingContext null_archive = RunLine("tar --remove-files -cf /dev/null /srv/data");
  EXPECT_EQ(null_archive.MaxSeverity(), Severity::kHigh);
  EXPECT_TRUE(RunLine("tar czf - --remove-files /home/dev/app", "/home/dev").Held());
}

TEST(FsPackTar, PlainArchivingIsNotFlagged) {
  EXPECT_TRUE(RunLine("tar -czf out.tgz /var/lib/mysql").actions.empty());
  EXPECT_TRUE(RunLine("tar -xzf release.tgz -C /tmp/x").actions.empty());
}

// --- tee, chmod ------------------------------------------------------------------

TEST(FsPackTee, OverwritesLikeARedirect) {
  EXPECT_TRUE(RunLine("tee /dev/sda").HasClass("disk.wipe"));
  EXPECT_TRUE(RunLine("tee /srv/app/prod.db").Held());
  EXPECT_FALSE(RunLine("tee out.log", "/home/dev/app").Held());
  EXPECT_FALSE(RunLine("tee -a /etc/hosts.allow.d/x").Held());
  EXPECT_FALSE(RunLine("tee /etc/apt/sources.list.d/docker.list").Held());
  EXPECT_TRUE(RunLine("tee /etc/passwd").Held());
}

TEST(FsPackPermissions, RecursiveOnRootOrSystemIsHeld) {
  EXPECT_EQ(RunLine("chmod -R 000 /").MaxSeverity(), Severity::kCritical);
  EXPECT_TRUE(RunLine("chmod -R 777 /usr").Held());
  EXPECT_TRUE(RunLine("chown -R nobody:nogroup /home/dev").Held());
}

TEST(FsPackPermissions, EverydayChangesAreAllowed) {
  EXPECT_TRUE(RunLine("chmod 700 /home/dev/.ssh").actions.empty());
  EXPECT_TRUE(RunLine("chmod +x /usr/local/bin/tool").actions.empty());
  EXPECT_TRUE(RunLine("chmod -R u+w build", "/home/dev/app").actions.empty());
  EXPECT_TRUE(RunLine("chmod -w file", "/home/dev/app").actions.empty());
}

// --- ClassifyRedirect ----------------------------------------------------------

FileRedirect Truncating(std::string target) {
  return FileRedirect{RedirectKind::kTruncate, 1, Word(std::move(target))};
}
FileRedirect Appending(std::string target) {
  return FileRedirect{RedirectKind::kAppend, 1, Word(std::move(target))};
}

RecordingContext Redirect(const FileRedirect& redirect, const Invocation& inv) {
  RecordingContext ctx;
  ClassifyRedirect(redirect, inv, ctx);
  return ctx;
}

TEST(FsRedirect, EmptyingADatabaseIsHeld) {
  RecordingContext ctx = Redirect(Truncating("/var/lib/app/production.sqlite3"), Make({Word(":")}));
  ASSERT_EQ(ctx.actions.size(), 1u);
  EXPECT_EQ(ctx.actions[0].op_class, "fs.truncate");
  EXPECT_TRUE(ctx.Held());
  EXPECT_TRUE(Redirect(Truncating("/srv/app/prod.db"), Make({})).Held());
}

TEST(FsRedirect, OverwritingSystemFilesIsHeld) {
  EXPECT_TRUE(Redirect(Truncating("/etc/passwd"), Words("echo x")).Held());
  EXPECT_TRUE(Redirect(Truncating("/proc/sysrq-trigger"), Words("echo b")).Held());
}

TEST(FsRedirect, ProjectAndTempFilesAreAllowed) {
  EXPECT_FALSE(Redirect(Truncating("docs/db-safety.md"), Words("cat", "/home/dev/app")).Held());
  EXPECT_FALSE(
      Redirect(Truncating("queries/example.sql"), Words("echo DELETE", "/home/dev/app")).Held());
  EXPECT_FALSE(Redirect(Truncating("/tmp/x"), Words("echo x")).Held());
  EXPECT_FALSE(
      Redirect(Truncating("orders.dump"), Words("pg_dump -Fc orders", "/home/dev/app")).Held());
  EXPECT_FALSE(Redirect(Truncating("/var/log/app.log"), Make({Word(":")})).Held());
}

TEST(FsRedirect, DevNullEmitsNothing) {
  EXPECT_TRUE(Redirect(Truncating("/dev/null"), Words("ls")).actions.empty());
  EXPECT_TRUE(Redirect(Appending("/dev/stderr"), Words("ls")).actions.empty());
}

TEST(FsRedirect, DeviceIsDiskWipe) {
  RecordingContext ctx = Redirect(Truncating("/dev/sda"), Words("cat /dev/zero"));
  EXPECT_TRUE(ctx.HasClass("disk.wipe"));
  EXPECT_EQ(ctx.MaxSeverity(), Severity::kCritical);
  EXPECT_TRUE(Redirect(Appending("/dev/nvme0n1"), Words("cat x")).Held());
}

TEST(FsRedirect, AppendIsAWrite) {
  RecordingContext ctx = Redirect(Appending("notes.md"), Words("echo hi", "/home/dev/app"));
  ASSERT_EQ(ctx.actions.size(), 1u);
  EXPECT_EQ(ctx.actions[0].op_class, "fs.write");
  EXPECT_FALSE(ctx.Held());
}

TEST(FsRedirect, BackupsEmptiedAreHeldButWrittenAreNot) {
  EXPECT_TRUE(
      Redirect(Truncating("/var/backups/db.sql"), Make({Word(":")})).HasClass("backup.delete"));
  EXPECT_FALSE(Redirect(Truncating("/var/backups/db.sql"), Words("pg_dump app")).Held());
}

TEST(FsRedirect, UnknownTargets) {
  FileRedirect fully_unknown{RedirectKind::kTruncate, 1, Unknown("$OUT")};
  EXPECT_TRUE(Redirect(fully_unknown, Words("echo x")).Held());
  // A known directory with a run-time file name counts as that directory.
  FileRedirect dated{RedirectKind::kTruncate, 1, Unknown("backup-$(...).sql")};
  EXPECT_FALSE(Redirect(dated, Words("pg_dump app", "/home/dev/app")).Held());
  FileRedirect in_data{RedirectKind::kTruncate, 1, Unknown("/var/lib/app/$NAME.db")};
  EXPECT_TRUE(Redirect(in_data, Words("echo")).Held());
}

TEST(FsRedirect, ReadsAndDupsIgnored) {
  EXPECT_TRUE(Redirect(FileRedirect{RedirectKind::kRead, 0, Word("/srv/app/prod.db")}, Words("cat"))
                  .actions.empty());
  EXPECT_TRUE(
      Redirect(FileRedirect{RedirectKind::kDup, 2, Word("1")}, Words("ls")).actions.empty());
}

TEST(FsRedirect, GitHooksAreRoutine) {
  EXPECT_FALSE(Redirect(Truncating(".git/hooks/pre-commit"), Words("cat", "/home/dev/app")).Held());
  EXPECT_TRUE(Redirect(Truncating(".git/HEAD"), Words("echo x", "/home/dev/app")).Held());
}

}  // namespace
}  // namespace dualkey::shell
