// `dualkey scan`: finds cloud and database credentials lying in files an
// agent can read (AWS keys, .env tokens, platform CLI configs, connection
// strings with passwords), so they can be moved into dualkey's gateway, where
// agents use them without ever seeing them.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace dualkey::scan {

struct Finding {
  std::string path;
  int line = 0;             // 1-based
  std::string kind;         // "aws-access-key", "github-token", "database-url", ...
  std::string what;         // "AWS access key id", for people
  std::string preview;      // redacted: never the whole secret
  std::string readable_by;  // filled by Scan from the file's mode
  std::string move;         // the steps that move it into dualkey
};

// The credentials in one file's text. `path` decides which rules apply (a
// .env file's TOKEN=..., ~/.pgpass lines, a kubeconfig's token:).
std::vector<Finding> ScanText(std::string_view path, std::string_view text);

struct Options {
  std::vector<std::string> roots;  // files or directories
  int max_depth = 8;               // directories below a root
  std::size_t max_file_bytes = 1 << 20;
  std::size_t max_files = 200000;
  std::vector<std::string> skip_dirs;  // absolute paths never entered (dualkey's own state)
  std::function<void(std::size_t files)> progress;  // called every few thousand files
};

struct Report {
  std::vector<Finding> findings;
  std::size_t files_scanned = 0;
  bool truncated = false;           // stopped at max_files
  std::vector<std::string> errors;  // unreadable roots
};

// Walks the roots without following symlinks, skipping .git (but its config),
// node_modules, caches and binary or large files.
Report Scan(const Options& options);

}  // namespace dualkey::scan
