#include "shell/internal/paths.h"

#include <gtest/gtest.h>

#include "packs_a_testing.h"
#include "shell/internal/paths.h"

namespace dualkey::shell {
namespace {

using packs_a_test::Glob;
using packs_a_test::Temp;
using packs_a_test::Unknown;
using packs_a_test::Word;

constexpr std::string_view kHome = "/home/dev";

PathKind KindOf(const Arg& arg, std::string_view cwd = "/home/dev/app") {
  return ResolvePath(arg, cwd, kHome).kind;
}

TEST(NormalizePathTest, FoldsDotsAndSlashes) {
  EXPECT_EQ(NormalizePath("/a//b/./c/../d/"), "/a/b/d");
  EXPECT_EQ(NormalizePath("/../../x"), "/x");
  EXPECT_EQ(NormalizePath("/"), "/");
  EXPECT_EQ(NormalizePath("/a/.."), "/");
}

TEST(ResolvePathTest, RelativeAgainstCwd) {
  ResolvedPath path = ResolvePath(Word("../../../var/lib/postgresql"), "/home/dev/app", kHome);
  EXPECT_EQ(path.path, "/var/lib/postgresql");
  EXPECT_EQ(path.kind, PathKind::kData);
  EXPECT_EQ(ResolvePath(Word("./dist"), "/home/dev/web", kHome).path, "/home/dev/web/dist");
}

TEST(ResolvePathTest, RootAndRootGlobs) {
  EXPECT_EQ(KindOf(Word("/")), PathKind::kRoot);
  EXPECT_EQ(KindOf(Glob("/*")), PathKind::kRoot);
  EXPECT_EQ(KindOf(Glob("/s*")), PathKind::kRoot);
  EXPECT_EQ(KindOf(Glob("*"), "/"), PathKind::kRoot);
  EXPECT_EQ(KindOf(Word("/..")), PathKind::kRoot);
}

TEST(ResolvePathTest, HomeItselfAndEverythingInIt) {
  EXPECT_EQ(KindOf(Word("~")), PathKind::kHome);
  EXPECT_EQ(KindOf(Word("~/")), PathKind::kHome);
  EXPECT_EQ(KindOf(Glob("~/*")), PathKind::kHome);
  EXPECT_EQ(KindOf(Glob("/home/dev/.*")), PathKind::kHome);
  EXPECT_EQ(KindOf(Word("/home/dev")), PathKind::kHome);
  EXPECT_EQ(KindOf(Word("/home/alice")), PathKind::kHome);
  EXPECT_EQ(KindOf(Word("/home")), PathKind::kHome);
  EXPECT_EQ(KindOf(Glob("/home/*")), PathKind::kHome);
  EXPECT_EQ(KindOf(Word("/root")), PathKind::kHome);
  EXPECT_EQ(KindOf(Word("$HOME")), PathKind::kHome);
  EXPECT_EQ(KindOf(Word("${HOME}/")), PathKind::kHome);
  EXPECT_EQ(ResolvePath(Word("~/x"), "", kHome).path, "/home/dev/x");
  EXPECT_EQ(ResolvePath(Word("~bob/x"), "", kHome).path, "/home/bob/x");
}

TEST(ResolvePathTest, FoldersInHomeAreProjects) {
  EXPECT_EQ(KindOf(Word("/home/dev/projects")), PathKind::kProject);
  EXPECT_EQ(KindOf(Word("/home/dev/app")), PathKind::kProject);
  EXPECT_EQ(KindOf(Word("src/main.py")), PathKind::kProject);
  EXPECT_EQ(KindOf(Word("~/.ssh")), PathKind::kProject);
}

TEST(ResolvePathTest, SystemDirectories) {
  for (const char* path : {"/etc", "/usr/lib", "/bin", "/boot", "/var", "/var/log/syslog",
                           "/proc/1", "/lib64", "/tmp"})
    EXPECT_EQ(KindOf(Word(path)), PathKind::kSystem) << path;
}

TEST(ResolvePathTest, DataLocations) {
  for (const char* path :
       {"/var/lib/mysql", "/var/lib/postgresql/15/main", "/srv/data", "/srv", "/data/postgres",
        "/mnt/storage/customer_data", "/opt/app/data", "/var/www", "/var/lib/docker/volumes/x",
        "/app/pgdata", "/srv/app/db/production.sqlite3"})
    EXPECT_EQ(KindOf(Word(path)), PathKind::kData) << path;
  EXPECT_EQ(KindOf(Glob("/srv/*")), PathKind::kData);
  // A database file inside a project is data too.
  EXPECT_EQ(KindOf(Word("db.sqlite3")), PathKind::kData);
  EXPECT_EQ(KindOf(Word("/var/lib/mysql/shop/orders.IBD")), PathKind::kData);
}

TEST(ResolvePathTest, Backups) {
  for (const char* path :
       {"/var/backups", "/var/backups/postgres", "/mnt/backup/borg-prod", "/srv/prod-backups/x.tar",
        "/home/dev/app/backups", "/home/dev/db.bak", "/data/orders.dump", "/.snapshots/12"})
    EXPECT_EQ(KindOf(Word(path)), PathKind::kBackup) << path;
  // Source files named after backups are code, not backups.
  EXPECT_EQ(KindOf(Word("src/backup_service.py")), PathKind::kProject);
  EXPECT_EQ(KindOf(Word("__snapshots__")), PathKind::kProject);
}

TEST(ResolvePathTest, VersionControl) {
  EXPECT_EQ(KindOf(Word(".git")), PathKind::kVcs);
  EXPECT_EQ(KindOf(Word(".git/index.lock")), PathKind::kVcs);
  EXPECT_EQ(KindOf(Word(".gitignore")), PathKind::kProject);
}

TEST(ResolvePathTest, DisposableBuildOutputAndCaches) {
  for (const char* path :
       {"node_modules", "./dist", "target", ".pytest_cache", "__pycache__", "build/", "coverage",
        ".next", "src/__pycache__/x.pyc", "node_modules/.bin/tsc"})
    EXPECT_EQ(KindOf(Word(path)), PathKind::kDisposable) << path;
  EXPECT_EQ(KindOf(Word("~/.cache/pip")), PathKind::kDisposable);
  EXPECT_EQ(KindOf(Word("~/.cache")), PathKind::kDisposable);
  EXPECT_EQ(KindOf(Word("~/.npm/_cacache")), PathKind::kDisposable);
  EXPECT_EQ(KindOf(Glob("build/*")), PathKind::kDisposable);
  // Directly in a home a "build" folder may be someone's project.
  EXPECT_EQ(KindOf(Word("/home/dev/build")), PathKind::kProject);
  // A project deployed under /srv or /opt has build output too (two levels
  // down, not inside a data service); directly under them it is data.
  EXPECT_EQ(KindOf(Word("/srv/app/node_modules")), PathKind::kDisposable);
  EXPECT_EQ(KindOf(Word("/opt/acme/billing/build")), PathKind::kDisposable);
  EXPECT_EQ(KindOf(Word("/srv/acme/router/target/debug")), PathKind::kDisposable);
  EXPECT_EQ(KindOf(Word("/opt/app/src/__pycache__/x.pyc")), PathKind::kDisposable);
  EXPECT_EQ(KindOf(Word("/srv/build")), PathKind::kData);
  EXPECT_EQ(KindOf(Word("/srv/postgres/build")), PathKind::kData);
  EXPECT_EQ(KindOf(Word("/srv/app/data.db")), PathKind::kData);
  EXPECT_EQ(KindOf(Word("/srv/backups/build")), PathKind::kBackup);
}

TEST(ResolvePathTest, Temp) {
  EXPECT_EQ(KindOf(Word("/tmp/build-8f3a2c")), PathKind::kTemp);
  // $TMPDIR (unset in the command) is a temp directory wherever it points.
  Arg tmpdir{"$TMPDIR/pytest-of-dev", /*known=*/false};
  EXPECT_EQ(KindOf(tmpdir), PathKind::kTemp);
  EXPECT_EQ(KindOf(Arg{"${TMPDIR}/x", false}), PathKind::kTemp);
  EXPECT_EQ(KindOf(Arg{"${TMPDIR:-/tmp}/x", false}), PathKind::kTemp);
  EXPECT_EQ(KindOf(Arg{"$TMPDIR", false}), PathKind::kSystem);  // the whole temp dir
  EXPECT_EQ(KindOf(Arg{"$TMPDIR/../home/dev", false}), PathKind::kHome);
  EXPECT_EQ(KindOf(Arg{"$TMPDIR/$X", false}), PathKind::kUnknown);
  EXPECT_EQ(KindOf(Arg{"$TMPDIRS/x", false}), PathKind::kUnknown);
  EXPECT_EQ(KindOf(Glob("/tmp/*")), PathKind::kTemp);
  EXPECT_EQ(KindOf(Word("/var/tmp/x")), PathKind::kTemp);
  EXPECT_EQ(KindOf(Word("/dev/shm/x")), PathKind::kTemp);
  EXPECT_EQ(KindOf(Temp("/tmp/tmp.Xa81")), PathKind::kTemp);
  EXPECT_EQ(KindOf(Arg{"$(...)", false, false, true}), PathKind::kTemp);
}

TEST(ResolvePathTest, Devices) {
  for (const char* path :
       {"/dev/sda", "/dev/sdb1", "/dev/nvme0n1", "/dev/vda", "/dev/xvdf", "/dev/mmcblk0",
        "/dev/disk/by-id/x", "/dev/mapper/vg-root", "/dev/md0", "/dev/vg0/data"})
    EXPECT_EQ(KindOf(Word(path)), PathKind::kDevice) << path;
  for (const char* path : {"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/zero", "/dev/fd/3"})
    EXPECT_EQ(KindOf(Word(path)), PathKind::kNull) << path;
}

TEST(ResolvePathTest, UnknownParts) {
  EXPECT_EQ(KindOf(Unknown("$D")), PathKind::kUnknown);
  EXPECT_EQ(KindOf(Unknown("/srv/$X")), PathKind::kUnknown);
  EXPECT_EQ(ResolvePath(Unknown("$D"), "", kHome).path, "$D");
}

TEST(ResolvePathTest, UnknownCwdJudgesByName) {
  EXPECT_EQ(KindOf(Word("node_modules"), ""), PathKind::kDisposable);
  EXPECT_EQ(KindOf(Word("mysql"), ""), PathKind::kData);
  EXPECT_EQ(KindOf(Word("notes.txt"), ""), PathKind::kOther);
  EXPECT_EQ(KindOf(Word(".."), ""), PathKind::kUnknown);
  EXPECT_EQ(KindOf(Glob("*"), ""), PathKind::kUnknown);
}

TEST(ResolvePathTest, OtherLocations) {
  EXPECT_EQ(KindOf(Word("/app/src/x.js")), PathKind::kOther);
  EXPECT_EQ(KindOf(Word("/app/node_modules")), PathKind::kDisposable);
}

TEST(PathNamesTest, Helpers) {
  EXPECT_EQ(BaseName("/a/b.db"), "b.db");
  EXPECT_EQ(DirName("/a/b"), "/a");
  EXPECT_EQ(DirName("/a"), "/");
  EXPECT_TRUE(IsSameOrUnder("/a/b", "/a"));
  EXPECT_FALSE(IsSameOrUnder("/ab", "/a"));
  EXPECT_EQ(GlobBase("/srv/*"), "/srv");
  EXPECT_EQ(GlobBase("/srv/*.db"), "/srv/*.db");
  EXPECT_TRUE(IsPureWildcard("[a-z]*"));
  EXPECT_FALSE(IsPureWildcard("*.log"));
  EXPECT_TRUE(IsLogFileName("app.log.1"));
  EXPECT_TRUE(IsSensitiveHomeEntry("/home/dev/.ssh/id_rsa", kHome));
  EXPECT_FALSE(IsSensitiveHomeEntry("/home/dev/.sshx", kHome));
  EXPECT_EQ(ToString(PathKind::kDisposable), "disposable");
}

}  // namespace
}  // namespace dualkey::shell
