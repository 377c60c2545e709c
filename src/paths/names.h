// Name tests on paths (the shell's file system, git and disk packs, the file
// channel), on top of ResolvePath (paths.h). Pure string work; case-insensitive where file names
// are (".DB" and ".db" are both databases).
#pragma once

#include <string_view>

namespace dualkey::paths {

// The last component of a path ("/a/b.db" -> "b.db").
std::string_view BaseName(std::string_view path);
// The path without its last component ("/a/b" -> "/a", "/a" -> "/").
std::string_view DirName(std::string_view path);

// A database file by its extension: .db, .sqlite3, .ibd, .rdb, a -wal file...
bool IsDatabaseFileName(std::string_view name);
// A log file (*.log, *.log.1): truncating one is routine housekeeping.
bool IsLogFileName(std::string_view name);
// True when `path` equals `dir` or lies below it. Both absolute and normalised.
bool IsSameOrUnder(std::string_view path, std::string_view dir);
// Number of components: "/" -> 0, "/a/b" -> 2.
int PathDepth(std::string_view path);
// A glob component made only of wildcards ("*", ".*", "*.*", "[a-z]*"): it
// reaches every entry of its directory rather than a named kind of file.
bool IsPureWildcard(std::string_view component);
// Strips trailing pure-wildcard components: "/srv/*" -> "/srv".
std::string_view GlobBase(std::string_view path);
// Credentials and keys kept in a home: ~/.ssh, ~/.gnupg, ~/.aws, ~/.kube ...
bool IsSensitiveHomeEntry(std::string_view path, std::string_view home);
// A folder that holds several projects (projects, src, repos, code ...):
// ~/projects/app is then a whole project.
bool IsProjectContainerName(std::string_view name);

}  // namespace dualkey::paths
