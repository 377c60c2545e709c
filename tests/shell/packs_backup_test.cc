#include <gtest/gtest.h>

#include "recording_context.h"
#include "shell/internal/packs/packs.h"

namespace dualkey::shell {
namespace {

using testing::MakeInvocation;
using testing::RecordingContext;
using testing::RunPack;

RecordingContext Bk(std::initializer_list<std::string_view> words) {
  RecordingContext ctx;
  Invocation inv = MakeInvocation(words);
  EXPECT_TRUE(RunPack(BackupPack(), inv, ctx)) << inv.name();
  return ctx;
}

TEST(BackupRestic, ForgetAndPruneAreBackupDelete) {
  auto ctx = Bk(
      {"restic", "-r", "s3:s3.amazonaws.com/prod-restic", "forget", "--keep-last", "1", "--prune"});
  const Action* action = ctx.Find("backup.delete");
  ASSERT_NE(action, nullptr);
  EXPECT_TRUE(IsDestructive(*action));
  EXPECT_EQ(action->targets[0], "s3:s3.amazonaws.com/prod-restic");
  EXPECT_TRUE(Bk({"restic", "prune"}).HasClass("backup.delete"));
  EXPECT_TRUE(Bk({"restic", "forget", "abc123"}).HasClass("backup.delete"));
}

TEST(BackupRestic, DryRunsAndReadsAllowed) {
  EXPECT_FALSE(
      Bk({"restic", "forget", "--keep-last", "1", "--prune", "--dry-run"}).AnyDestructive());
  EXPECT_FALSE(Bk({"restic", "prune", "-n"}).AnyDestructive());
  EXPECT_FALSE(Bk({"restic", "-r", "/mnt/backup/restic", "snapshots"}).AnyDestructive());
  EXPECT_FALSE(Bk({"restic", "check", "--read-data"}).AnyDestructive());
  auto backup = Bk({"restic", "-r", "/mnt/backup/restic", "backup", "/home/dev"});
  EXPECT_TRUE(backup.HasClass("backup.create"));
  EXPECT_FALSE(backup.AnyDestructive());
}

TEST(BackupRestic, KeyRemoveAndUnknownSubcommand) {
  EXPECT_TRUE(Bk({"restic", "key", "remove", "abcd"}).AnyDestructive());
  EXPECT_TRUE(Bk({"restic", "frobnicate"}).AnyDestructive());
  EXPECT_FALSE(Bk({"restic", "key", "list"}).AnyDestructive());
}

TEST(BackupBorg, DeleteWholeRepoIsCritical) {
  auto ctx = Bk({"borg", "delete", "/mnt/backup/borg-prod"});
  const Action* action = ctx.Find("backup.delete");
  ASSERT_NE(action, nullptr);
  EXPECT_EQ(action->severity, Severity::kCritical);
  auto one = Bk({"borg", "delete", "/mnt/backup/borg-prod::2024-06-01"});
  ASSERT_TRUE(one.HasClass("backup.delete"));
  EXPECT_EQ(one.Find("backup.delete")->severity, Severity::kHigh);
}

TEST(BackupBorg, PruneHeldListAllowed) {
  EXPECT_TRUE(Bk({"borg", "prune", "--keep-daily", "7", "/mnt/backup/borg"}).AnyDestructive());
  EXPECT_FALSE(Bk({"borg", "prune", "--dry-run", "--list", "/mnt/backup/borg"}).AnyDestructive());
  EXPECT_FALSE(Bk({"borg", "list", "/mnt/backup/borg-prod"}).AnyDestructive());
  EXPECT_FALSE(Bk({"borg", "info", "/mnt/backup/borg-prod"}).AnyDestructive());
  EXPECT_FALSE(Bk({"borg", "create", "/mnt/b::{now}", "/home"}).AnyDestructive());
  EXPECT_FALSE(Bk({"borg", "compact", "/mnt/b"}).AnyDestructive());
}

TEST(BackupKopia, SnapshotDeleteNeedsConfirmation) {
  EXPECT_TRUE(
      Bk({"kopia", "snapshot", "delete", "k1a2b3c4d5e6f7", "--delete"}).HasClass("backup.delete"));
  EXPECT_FALSE(Bk({"kopia", "snapshot", "delete", "k1a2b3c4d5e6f7"}).AnyDestructive());
  EXPECT_FALSE(Bk({"kopia", "snapshot", "list"}).AnyDestructive());
  EXPECT_TRUE(Bk({"kopia", "policy", "set", "/data", "--keep-latest=0"}).AnyDestructive());
  EXPECT_FALSE(Bk({"kopia", "policy", "set", "/data", "--keep-latest=10"}).AnyDestructive());
}

TEST(BackupRclone, PurgeDeleteSync) {
  auto purge = Bk({"rclone", "purge", "b2:acme-backups/db"});
  EXPECT_TRUE(purge.HasClass("backup.delete"));
  EXPECT_TRUE(Bk({"rclone", "delete", "gdrive:photos"}).HasClass("cloud.delete"));
  EXPECT_TRUE(Bk({"rclone", "sync", "./empty", "s3:prod-assets"}).AnyDestructive());
  EXPECT_TRUE(Bk({"rclone", "sync", "/data", "b2:nightly-backups"}).HasClass("backup.delete"));
  EXPECT_FALSE(Bk({"rclone", "sync", "/data", "b2:x", "--dry-run"}).AnyDestructive());
  EXPECT_FALSE(Bk({"rclone", "sync", "/data", "b2:x", "--backup-dir", "b2:old"}).AnyDestructive());
  EXPECT_FALSE(Bk({"rclone", "copy", "/data", "b2:backups"}).AnyDestructive());
  EXPECT_FALSE(Bk({"rclone", "ls", "b2:backups"}).AnyDestructive());
  EXPECT_FALSE(Bk({"rclone", "rmdirs", "b2:x"}).AnyDestructive());
}

TEST(BackupDbManagers, PgbackrestWalgBarman) {
  EXPECT_TRUE(Bk({"pgbackrest", "--stanza=main", "stanza-delete"}).HasClass("backup.delete"));
  EXPECT_TRUE(Bk({"pgbackrest", "--stanza=main", "expire", "--repo1-retention-full=1"})
                  .HasClass("backup.delete"));
  EXPECT_FALSE(Bk({"pgbackrest", "--stanza=main", "info"}).AnyDestructive());
  EXPECT_FALSE(Bk({"pgbackrest", "--stanza=main", "backup", "--type=full"}).AnyDestructive());
  EXPECT_TRUE(Bk({"pgbackrest", "--stanza=main", "--delta", "restore"}).AnyDestructive());
  EXPECT_TRUE(
      Bk({"wal-g", "delete", "retain", "FULL", "3", "--confirm"}).HasClass("backup.delete"));
  EXPECT_FALSE(Bk({"wal-g", "delete", "retain", "FULL", "3"}).AnyDestructive());
  EXPECT_FALSE(Bk({"wal-g", "backup-list"}).AnyDestructive());
  EXPECT_TRUE(Bk({"barman", "delete", "pg-prod", "oldest"}).HasClass("backup.delete"));
  EXPECT_FALSE(Bk({"barman", "list-backups", "pg-prod"}).AnyDestructive());
}

TEST(BackupVelero, BothWordOrders) {
  EXPECT_TRUE(Bk({"velero", "backup", "delete", "nightly", "--confirm"}).HasClass("backup.delete"));
  EXPECT_TRUE(Bk({"velero", "delete", "backup", "nightly"}).HasClass("backup.delete"));
  EXPECT_TRUE(Bk({"velero", "backup", "delete", "--all", "--confirm"}).AnyDestructive());
  EXPECT_FALSE(Bk({"velero", "backup", "get"}).AnyDestructive());
  EXPECT_FALSE(Bk({"velero", "backup", "create", "pre-upgrade"}).AnyDestructive());
}

TEST(BackupOthers, TarsnapDuplicitySnapshots) {
  EXPECT_TRUE(Bk({"tarsnap", "-d", "-f", "db-2024-06-01"}).HasClass("backup.delete"));
  EXPECT_TRUE(Bk({"tarsnap", "--nuke"}).AnyDestructive());
  EXPECT_FALSE(Bk({"tarsnap", "--list-archives"}).AnyDestructive());
  EXPECT_FALSE(Bk({"tarsnap", "-c", "-f", "x", "/data"}).AnyDestructive());
  EXPECT_TRUE(Bk({"duplicity", "remove-older-than", "1M", "--force", "file:///mnt/b"})
                  .HasClass("backup.delete"));
  EXPECT_FALSE(Bk({"duplicity", "remove-older-than", "1M", "file:///mnt/b"}).AnyDestructive());
  EXPECT_TRUE(Bk({"timeshift", "--delete-all"}).AnyDestructive());
  EXPECT_FALSE(Bk({"timeshift", "--list"}).AnyDestructive());
  EXPECT_TRUE(Bk({"snapper", "delete", "42"}).AnyDestructive());
  EXPECT_TRUE(Bk({"tmutil", "deletelocalsnapshots", "/"}).AnyDestructive());
}

}  // namespace
}  // namespace dualkey::shell

namespace dualkey::shell {
namespace {

TEST(BackupUnknown, UnknownSubcommandIsOpaque) {
  RecordingContext ctx;
  Invocation inv = MakeInvocation({"restic", "$OP"});
  inv.argv[1].known = false;
  ASSERT_TRUE(RunPack(BackupPack(), inv, ctx));
  EXPECT_TRUE(ctx.HasClass("opaque.exec"));
}

}  // namespace
}  // namespace dualkey::shell
