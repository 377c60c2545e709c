#include "core/verbs.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dualkey::verbs {
namespace {

std::vector<std::string> Split(std::string_view name) {
  Words words(name);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < words.size(); ++i) out.emplace_back(words[i]);
  return out;
}

TEST(Words, SplitsOnSeparatorsAndCamelCase) {
  EXPECT_EQ(Split("delete-db-instance"), (std::vector<std::string>{"delete", "db", "instance"}));
  EXPECT_EQ(Split("pg:backups:delete"), (std::vector<std::string>{"pg", "backups", "delete"}));
  EXPECT_EQ(Split("deleteDBInstance"), (std::vector<std::string>{"delete", "db", "instance"}));
  EXPECT_EQ(Split("doDelete"), (std::vector<std::string>{"do", "delete"}));
  EXPECT_EQ(Split("delete_series"), (std::vector<std::string>{"delete", "series"}));
  EXPECT_EQ(Split("FLUSHALL"), (std::vector<std::string>{"flushall"}));
  EXPECT_EQ(Split("--force-delete"), (std::vector<std::string>{"force", "delete"}));
  EXPECT_TRUE(Split("").empty());
  EXPECT_TRUE(Split("---").empty());
}

TEST(Words, BoundedForLongNames) {
  std::string long_name;
  for (int i = 0; i < 100; ++i) long_name += "word-";
  EXPECT_EQ(Words(long_name).size(), Words::kMaxWords);
  EXPECT_EQ(Words(std::string(500, 'a'))[0].size(), Words::kMaxWordLength);
}

TEST(ReadName, DestroyingShapes) {
  for (const char* name : {"delete",
                           "destroy",
                           "rm",
                           "rb",
                           "purge",
                           "drop",
                           "truncate",
                           "wipe",
                           "erase",
                           "flush",
                           "reset",
                           "nuke",
                           "terminate",
                           "deregister",
                           "prune",
                           "expire",
                           "shred",
                           "force-delete",
                           "delete-everything",
                           "remove-all",
                           "db_delete",
                           "delete_series",
                           "doDelete",
                           "deleteMany",
                           "FLUSHDB",
                           "batch-delete",
                           "pg:backups:delete",
                           "apps:destroy",
                           "unpublish",
                           "yank"}) {
    Reading reading = ReadName(name);
    EXPECT_EQ(reading.kind, Kind::kDestroy) << name;
    EXPECT_FALSE(reading.verb.empty()) << name;
  }
}

TEST(ReadName, ReadsComeFirst) {
  for (const char* name :
       {"list", "get", "describe", "show", "status", "logs", "diff", "plan", "view",
        "get-delete-marker", "list_deleted", "describe-db-snapshots", "batch-get"})
    EXPECT_EQ(ReadName(name).kind, Kind::kRead) << name;
}

TEST(ReadName, WritesAndNouns) {
  EXPECT_EQ(ReadName("create").kind, Kind::kWrite);
  EXPECT_EQ(ReadName("deploy").kind, Kind::kWrite);
  EXPECT_EQ(ReadName("tenants").kind, Kind::kNone);
  EXPECT_EQ(ReadName("undelete").kind, Kind::kNone);
  EXPECT_EQ(ReadName("deleted").kind, Kind::kNone);
  EXPECT_EQ(ReadName("droplet").kind, Kind::kNone);
}

TEST(ReadName, SoftObjectsAndBackups) {
  EXPECT_TRUE(ReadName("remove-tag").soft);
  EXPECT_TRUE(ReadName("resetPassword").soft);
  EXPECT_TRUE(ReadName("delete-label").soft);
  EXPECT_FALSE(ReadName("delete-bucket").soft);
  Reading backup = ReadName("delete-db-snapshot");
  EXPECT_EQ(backup.kind, Kind::kDestroy);
  EXPECT_TRUE(backup.backup);
  EXPECT_FALSE(backup.soft);
  EXPECT_TRUE(ReadName("remove-backup-tag").backup);
  EXPECT_FALSE(ReadName("remove-backup-tag").soft);  // backups are never soft
}

TEST(Options, DestroyingOptionShapes) {
  std::string_view verb;
  EXPECT_TRUE(IsDestroyingOption("--delete", &verb));
  EXPECT_EQ(verb, "delete");
  EXPECT_TRUE(IsDestroyingOption("--delete-removed"));
  EXPECT_TRUE(IsDestroyingOption("--purge"));
  EXPECT_TRUE(IsDestroyingOption("--remove-orphans"));
  EXPECT_TRUE(IsDestroyingOption("--force-delete"));
  EXPECT_TRUE(IsDestroyingOption("--delete=true"));
  EXPECT_FALSE(IsDestroyingOption("--rm"));
  EXPECT_FALSE(IsDestroyingOption("--reset-cache"));
  EXPECT_FALSE(IsDestroyingOption("-d"));
  EXPECT_FALSE(IsDestroyingOption("--deleted-only"));
  EXPECT_FALSE(IsDestroyingOption("--force"));
}

TEST(Options, DryRun) {
  EXPECT_TRUE(IsDryRunOption("--dry-run"));
  EXPECT_TRUE(IsDryRunOption("--dry-run=server"));
  EXPECT_TRUE(IsDryRunOption("--what-if"));
  EXPECT_TRUE(IsDryRunOption("--help"));
  EXPECT_FALSE(IsDryRunOption("--dry-run=false"));
  EXPECT_FALSE(IsDryRunOption("-h"));  // --host in many tools
  EXPECT_FALSE(IsDryRunOption("--force"));
}

}  // namespace
}  // namespace dualkey::verbs
