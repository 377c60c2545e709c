// What deleting a path inside a git work tree would really lose, read from
// the repository on this machine: tracked files that are unchanged can be
// restored from history, ignored ones are the project's own declared output,
// untracked-not-ignored and modified files are work that exists nowhere else.
//
// The names of folders are a guess; these are facts. They are read only when
// a delete needs them (the file system pack asks for recursive deletes of
// ordinary folders), with libgit2 loaded at that moment (dlopen), so the hook
// pays nothing for the commands that do not. Reading is bounded in entries
// and in time; a repository that cannot be read in the bound, or at all,
// yields kUnreadable, and the caller keeps its name rules: never an allow.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dualkey::shell {

struct LossLimits {
  std::size_t max_entries = 20000;        // index entries and work tree files examined
  std::chrono::milliseconds budget{300};  // wall time for one path
};

struct LossFacts {
  enum class Outcome {
    kNoWorkTree,     // the path does not exist, or is in no work tree: names decide
    kNotApplicable,  // the work tree's root, inside .git, a symlink: names decide
    kUnreadable,     // a repository is there but could not be read in the bound
    kRead,           // the counts below are facts
  };
  Outcome outcome = Outcome::kNoWorkTree;
  std::string note;              // kNotApplicable, kUnreadable: why the names decide
  std::string work_tree;         // the work tree's root (real path), when found
  std::size_t tracked = 0;       // tracked files, unchanged since the index
  std::size_t ignored = 0;       // ignored entries (a whole ignored folder is one)
  std::size_t lost_files = 0;    // all of the three below
  std::size_t untracked = 0;     // untracked and not ignored
  std::size_t modified = 0;      // tracked and changed (modified, conflicted, unreadable)
  std::size_t ignored_data = 0;  // ignored but data all the same (a database, .env, keys)
  std::size_t unverified = 0;    // assume-unchanged / skip-worktree: never compared
  // Ignore rules not committed (a .gitignore above the path modified or new)
  // or changed a moment ago (info/exclude, git config): the name of the
  // source. What git ignores is then not taken as the project's output
  // (libgit2 does not even list ignored files inside an ignored folder that
  // holds tracked ones), so the names decide.
  std::string ignore_rules_changed;
  std::size_t repositories = 0;  // repositories with their own history inside the path
  std::uint64_t lost_bytes = 0;
  std::vector<std::string> preview;  // first lost names, relative to the work tree

  bool LosesNothing() const {
    return outcome == Outcome::kRead && lost_files == 0 && repositories == 0 &&
           ignore_rules_changed.empty();
  }
  // "restorable from git: 12 tracked files unchanged", "ignored by the
  // project", "3 untracked or modified files, 12 KB, would be lost: a.md, …".
  std::string Describe() const;
};

// `path`: absolute and normalised. Never throws.
LossFacts ReadLossFacts(std::string_view path, const LossLimits& limits = {});

// Bytes as "12 KB", "1.5 MB" (for reasons).
std::string HumanBytes(std::uint64_t bytes);

}  // namespace dualkey::shell
