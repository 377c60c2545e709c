// What dualkey knows about paths, for every channel that meets one (the
// shell's arguments, an agent's Write/Edit tools, MCP file tools): resolves a
// path as written against the working directory and home, and says what kind
// of place it is: the root, a home, system or data directories, backups,
// disposable build output, temp. Pure string work: the file system is never
// consulted, so classification is deterministic. Name tests: names.h.
#pragma once

#include <string>
#include <string_view>

namespace dualkey::paths {

enum class PathKind {
  kRoot,        // "/" or "/*"
  kHome,        // a home directory itself, or everything in it (~, ~/*, /home/x)
  kSystem,      // /etc, /usr, /bin, /boot, /lib, /var, /proc ... and their tops
  kData,        // databases and service data: /var/lib/*, /srv, /data, /mnt, /opt,
                // *.db, *.sqlite*, data dirs of postgres/mysql/redis/docker
  kBackup,      // any component naming backups (backup, backups, *.bak dirs,
                // /var/backups, borg/restic repos)
  kVcs,         // a .git directory or inside one
  kDisposable,  // build output and caches: node_modules, dist, build, target,
                // __pycache__, .pytest_cache, .cache, coverage, ...
  kTemp,        // /tmp, /var/tmp, $TMPDIR, a known mktemp result
  kDevice,      // /dev/sd*, /dev/nvme*, /dev/disk/* ... (not /dev/null)
  kNull,        // /dev/null, /dev/stdout, /dev/stderr
  kProject,     // an ordinary path inside a project (under home, not the above)
  kOther,       // anything else with a known location
  kUnknown,     // the path contains unknowns ($X, $(...)) we cannot resolve
};

struct ResolvedPath {
  std::string path;  // absolute and normalised ("." and ".." folded) when known
  PathKind kind = PathKind::kUnknown;
  bool glob = false;  // the last components hold a glob: reaches many entries
};

// A path as a command or tool wrote it, after what could be expanded was.
struct PathWord {
  std::string text;
  bool known = true;  // false: parts could not be expanded ($X, $(...))
  bool glob = false;  // holds unquoted glob characters
  bool temp = false;  // a known temporary location (mktemp's result)
};

// `cwd` may be empty (unknown): relative paths are then judged by their names.
ResolvedPath ResolvePath(const PathWord& word, std::string_view cwd, std::string_view home);

// Folds "." and ".." and duplicate slashes of an absolute path.
std::string NormalizePath(std::string_view absolute);

std::string_view ToString(PathKind kind);

}  // namespace dualkey::paths
