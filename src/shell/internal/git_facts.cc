#include "shell/internal/git_facts.h"

#include <dlfcn.h>
#include <git2.h>
#include <limits.h>
#include <sys/stat.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <mutex>

#include "shell/internal/paths.h"

namespace dualkey::shell {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::time_t kIgnoreRulesSettleSeconds = 10 * 60;

// libgit2, loaded at the first delete that needs facts. Linking it would
// cost every hook process its relocations and its dependencies' (libssh2,
// mbedtls, http-parser, pcre2) though most commands never ask; the soname
// is the one the headers describe, so the layouts of the structs agree.
struct Git {
  decltype(&git_libgit2_init) init = nullptr;
  decltype(&git_libgit2_opts) opts = nullptr;
  decltype(&git_repository_open_ext) repository_open_ext = nullptr;
  decltype(&git_repository_free) repository_free = nullptr;
  decltype(&git_repository_workdir) repository_workdir = nullptr;
  decltype(&git_repository_path) repository_path = nullptr;
  decltype(&git_repository_is_bare) repository_is_bare = nullptr;
  decltype(&git_repository_index) repository_index = nullptr;
  decltype(&git_repository_odb) repository_odb = nullptr;
  decltype(&git_odb_free) odb_free = nullptr;
  decltype(&git_odb_exists) odb_exists = nullptr;
  decltype(&git_index_free) index_free = nullptr;
  decltype(&git_index_entrycount) index_entrycount = nullptr;
  decltype(&git_index_get_byindex) index_get_byindex = nullptr;
  decltype(&git_index_find_prefix) index_find_prefix = nullptr;
  decltype(&git_diff_index_to_workdir) diff_index_to_workdir = nullptr;
  decltype(&git_diff_num_deltas) diff_num_deltas = nullptr;
  decltype(&git_diff_get_delta) diff_get_delta = nullptr;
  decltype(&git_diff_free) diff_free = nullptr;
  decltype(&git_error_last) error_last = nullptr;
  std::string load_error;

  bool ok() const { return load_error.empty(); }

  std::string LastError() const {
    const git_error* error = error_last();
    return error != nullptr && error->message != nullptr ? error->message : "unknown error";
  }
};

const Git& LoadGit() {
  static Git git;
  static std::once_flag once;
  std::call_once(once, [] {
    void* handle = ::dlopen("libgit2.so." LIBGIT2_SOVERSION, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      git.load_error = "libgit2 " LIBGIT2_SOVERSION " is not installed";
      return;
    }
    bool missing = false;
    auto bind = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(handle, name));
      missing = missing || fn == nullptr;
    };
    bind(git.init, "git_libgit2_init");
    bind(git.opts, "git_libgit2_opts");
    bind(git.repository_open_ext, "git_repository_open_ext");
    bind(git.repository_free, "git_repository_free");
    bind(git.repository_workdir, "git_repository_workdir");
    bind(git.repository_path, "git_repository_path");
    bind(git.repository_is_bare, "git_repository_is_bare");
    bind(git.repository_index, "git_repository_index");
    bind(git.repository_odb, "git_repository_odb");
    bind(git.odb_free, "git_odb_free");
    bind(git.odb_exists, "git_odb_exists");
    bind(git.index_free, "git_index_free");
    bind(git.index_entrycount, "git_index_entrycount");
    bind(git.index_get_byindex, "git_index_get_byindex");
    bind(git.index_find_prefix, "git_index_find_prefix");
    bind(git.diff_index_to_workdir, "git_diff_index_to_workdir");
    bind(git.diff_num_deltas, "git_diff_num_deltas");
    bind(git.diff_get_delta, "git_diff_get_delta");
    bind(git.diff_free, "git_diff_free");
    bind(git.error_last, "git_error_last");
    if (missing) {
      git.load_error = "libgit2 lacks a function dualkey uses";
      return;
    }
    // Loaded once and never unloaded: the library stays initialised for the
    // life of the process (the daemon asks many times).
    if (git.init() < 0) {
      git.load_error = "libgit2 did not initialise";
      return;
    }
    // In a protected install the daemon (its own user) reads the
    // developer's repositories. Owner validation guards git from running
    // what a foreign repository's config says; nothing here runs anything
    // (no hooks, no fsmonitor, no filter drivers: libgit2 has none of them
    // in a diff), so it would only turn facts into names.
    git.opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
  });
  return git;
}

// RAII for libgit2's objects.
template <typename T>
class Owned {
 public:
  using Free = void (*)(T*);
  explicit Owned(Free free) : free_(free) {}
  ~Owned() {
    if (ptr_ != nullptr) free_(ptr_);
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  T** out() { return &ptr_; }
  T* get() const { return ptr_; }

 private:
  T* ptr_ = nullptr;
  Free free_;
};

bool Exists(const std::string& path, struct stat* st) {
  return ::lstat(path.c_str(), st) == 0;
}

std::string RealPath(const std::string& path) {
  char buffer[PATH_MAX];
  if (::realpath(path.c_str(), buffer) == nullptr) return {};
  return buffer;
}

// Local data an ignore rule may cover without making it disposable: a
// database, credentials, backups. Losing those is not "ignored output".
// The kind the name rules give a path inside a work tree, wherever the work
// tree is (under /tmp every name would be temp): `rel` is relative to it.
PathKind KindByNames(std::string_view rel) {
  Arg arg;
  arg.text = std::string(rel);
  while (arg.text.size() > 1 && arg.text.back() == '/') arg.text.pop_back();
  return ResolvePath(arg, "", "").kind;
}

bool IsPreciousName(std::string_view rel) {
  std::string_view name = BaseName(rel);
  if (IsDatabaseFileName(name)) return true;
  if (name == ".env" ||
      (name.starts_with(".env.") && !name.ends_with(".example") && !name.ends_with(".sample") &&
       !name.ends_with(".template") && !name.ends_with(".dist")))
    return true;
  if (name.ends_with(".pem") || name.ends_with(".key") || name.ends_with(".p12") ||
      name.ends_with(".kdbx"))
    return true;
  const PathKind kind = KindByNames(rel);
  return kind == PathKind::kData || kind == PathKind::kBackup;
}

// Whether a changed file can make something ignored: a git config file
// that sets core.excludesFile (any case), an ignore file with a rule line
// (git's template of comments alone has none). Read bounded; one that
// cannot be read counts.
bool CanIgnore(const std::string& path, bool config) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return true;
  std::string text(64 * 1024, '\0');
  text.resize(std::fread(text.data(), 1, text.size(), file));
  std::fclose(file);
  if (config) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text.find("excludesfile") != std::string::npos;
  }
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front())))
      line.remove_prefix(1);
    if (!line.empty() && line.front() != '#') return true;
    start = end + 1;
  }
  return false;
}

// Ignore rules outside the project's committed .gitignore files: the
// repository's info/exclude and config (core.excludesFile), the user's git
// config and global ignore file. Changed a moment ago, they may have been
// written to make something look ignored; their word is then not taken.
std::string RecentlyChangedIgnoreSource(const std::string& git_dir) {
  // Ignore files, and config files that name one (core.excludesFile): git
  // writes config for other reasons too (push -u), which do not count.
  std::vector<std::pair<std::string, bool>> sources = {{git_dir + "info/exclude", false},
                                                       {git_dir + "config", true}};
  const char* home = std::getenv("HOME");
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (home != nullptr && *home != '\0')
    sources.emplace_back(std::string(home) + "/.gitconfig", true);
  std::string config_dir = xdg != nullptr && *xdg != '\0' ? std::string(xdg)
                           : home != nullptr              ? std::string(home) + "/.config"
                                                          : std::string();
  if (!config_dir.empty()) {
    sources.emplace_back(config_dir + "/git/ignore", false);
    sources.emplace_back(config_dir + "/git/config", true);
  }
  const std::time_t now = std::time(nullptr);
  for (const auto& [source, config] : sources) {
    struct stat st;
    if (::stat(source.c_str(), &st) != 0) continue;
    if (st.st_mtime <= now - kIgnoreRulesSettleSeconds) continue;
    if (!CanIgnore(source, config)) continue;
    return source;
  }
  return {};
}

struct Walk {
  Clock::time_point deadline;
  std::size_t examined = 0;
  std::size_t max_entries = 0;
  bool over = false;
};

int OnProgress(const git_diff*, const char*, const char*, void* payload) {
  auto* walk = static_cast<Walk*>(payload);
  ++walk->examined;
  if (walk->examined > walk->max_entries ||
      ((walk->examined & 63) == 0 && Clock::now() > walk->deadline)) {
    walk->over = true;
    return -1;  // aborts the diff
  }
  return 0;
}

void AddPreview(LossFacts& facts, std::string_view name) {
  if (facts.preview.size() < 3) facts.preview.emplace_back(name);
}

// git lists an ignored folder as one entry. Unless its name says it is build
// output or a cache (node_modules, .venv: not entered), it is walked for data
// an ignore rule may cover: a local database, .env, keys, backups. Symbolic
// links are not followed. False when the walk exceeds the bound.
bool FindIgnoredData(const std::string& root, std::string_view entry, Walk& walk,
                     LossFacts& facts) {
  std::string dir = root + "/" + std::string(entry);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (KindByNames(entry) == PathKind::kDisposable) return true;
  std::error_code error;
  std::filesystem::recursive_directory_iterator it(
      dir, std::filesystem::directory_options::skip_permission_denied, error);
  if (error) return true;  // gone or unreadable: nothing more to see
  for (; it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
    if (error) return false;
    if (++walk.examined > walk.max_entries ||
        ((walk.examined & 63) == 0 && Clock::now() > walk.deadline))
      return false;
    const std::string path = it->path().string();
    const std::string_view rel = std::string_view(path).substr(root.size() + 1);
    if (it->is_symlink(error)) continue;
    const bool is_dir = it->is_directory(error);
    // A repository kept under an ignored folder: its history is nowhere else.
    if (it->path().filename() == ".git") {
      if (is_dir) it.disable_recursion_pending();
      ++facts.repositories;
      AddPreview(facts, rel);
      continue;
    }
    if (is_dir && KindByNames(rel) == PathKind::kDisposable) it.disable_recursion_pending();
    if (!IsPreciousName(rel)) continue;
    if (is_dir) it.disable_recursion_pending();
    ++facts.lost_files;
    ++facts.ignored_data;
    if (!is_dir) facts.lost_bytes += it->file_size(error);
    AddPreview(facts, rel);
  }
  return true;
}

}  // namespace

std::string HumanBytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"bytes", "KB", "MB", "GB", "TB"};
  if (bytes < 1024) return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, value < 10 ? "%.1f %s" : "%.0f %s", value, kUnits[unit]);
  return text;
}

std::string LossFacts::Describe() const {
  switch (outcome) {
    case Outcome::kNoWorkTree:
      return {};
    case Outcome::kNotApplicable:
    case Outcome::kUnreadable:
      return note;
    case Outcome::kRead:
      break;
  }
  auto plural = [](std::size_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
  };
  if (lost_files == 0 && repositories == 0 && !ignore_rules_changed.empty())
    return "the ignore rules were changed (" + ignore_rules_changed +
           "), so what git ignores is not taken as the project's output";
  if (LosesNothing()) {
    if (tracked == 0 && ignored == 0) return "nothing in it is tracked or kept by git";
    if (ignored == 0)
      return "restorable from git: " + plural(tracked, "tracked file", "tracked files") +
             ", unchanged";
    if (tracked == 0) return "ignored by the project";
    return "restorable from git: " + plural(tracked, "tracked file", "tracked files") +
           " unchanged, the rest ignored by the project";
  }
  std::string out;
  auto add = [&](std::size_t n, const char* one, const char* many) {
    if (n == 0) return;
    if (!out.empty()) out += " and ";
    out += plural(n, one, many);
  };
  add(untracked, "untracked file", "untracked files");
  add(modified, "modified file", "modified files");
  add(ignored_data, "ignored data file", "ignored data files");
  add(unverified, "file git does not hold or does not compare",
      "files git does not hold or does not compare");
  if (lost_files > 0) out += ", " + HumanBytes(lost_bytes) + ",";
  if (repositories > 0) {
    if (!out.empty()) out += " and ";
    out += plural(repositories, "repository with its own history",
                  "repositories with their own history");
  }
  out += " would be lost";
  for (std::size_t i = 0; i < preview.size(); ++i) out += (i == 0 ? ": " : ", ") + preview[i];
  if (lost_files + repositories > preview.size()) out += ", …";
  return out;
}

LossFacts ReadLossFacts(std::string_view path_view, const LossLimits& limits) {
  LossFacts facts;
  const Clock::time_point start = Clock::now();
  const std::string path(path_view);
  struct stat st;
  if (path.empty() || path[0] != '/' || !Exists(path, &st)) return facts;
  if (S_ISLNK(st.st_mode)) {
    facts.outcome = LossFacts::Outcome::kNotApplicable;
    facts.note = "a symbolic link, judged by its name";
    return facts;
  }
  // Facts are about what is really deleted: a parent that is a symbolic link
  // out of the tree leads elsewhere.
  const std::string real = RealPath(path);
  if (real.empty()) return facts;

  // The innermost work tree: the nearest directory holding a .git.
  std::string root;
  for (std::string dir = real;; dir = std::string(DirName(dir))) {
    if (BaseName(dir) == ".git") {
      facts.outcome = LossFacts::Outcome::kNotApplicable;
      facts.note = "inside the repository's .git";
      return facts;
    }
    struct stat dot;
    if (Exists(dir + (dir == "/" ? ".git" : "/.git"), &dot)) {
      root = dir;
      break;
    }
    if (dir == "/") return facts;  // no work tree
  }
  facts.work_tree = root;
  if (root == real) {
    facts.outcome = LossFacts::Outcome::kNotApplicable;
    facts.note = "the work tree's root, judged by its name";
    return facts;
  }
  const std::string rel = real.substr(root == "/" ? 1 : root.size() + 1);

  auto unreadable = [&](std::string why) {
    facts.outcome = LossFacts::Outcome::kUnreadable;
    facts.note = "git facts not read (" + why + "), judged by its name";
    facts.tracked = facts.ignored = facts.lost_files = facts.repositories = 0;
    facts.untracked = facts.modified = facts.ignored_data = facts.unverified = 0;
    facts.lost_bytes = 0;
    facts.preview.clear();
    return facts;
  };

  const Git& git = LoadGit();
  if (!git.ok()) return unreadable(git.load_error);
  Owned<git_repository> repo(git.repository_free);
  if (git.repository_open_ext(repo.out(), root.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr) < 0)
    return unreadable("the repository cannot be opened: " + git.LastError());
  const char* workdir = git.repository_workdir(repo.get());
  if (git.repository_is_bare(repo.get()) || workdir == nullptr || RealPath(workdir) != root)
    return unreadable("the repository's work tree is elsewhere");
  Owned<git_index> index(git.index_free);
  if (git.repository_index(index.out(), repo.get()) < 0)
    return unreadable("the index cannot be read: " + git.LastError());

  Owned<git_odb> odb(git.odb_free);
  if (git.repository_odb(odb.out(), repo.get()) < 0)
    return unreadable("the object store cannot be opened: " + git.LastError());

  // Tracked entries under the path: their count bounds the walk, and
  // submodules with their own .git directory hold history nowhere else.
  std::size_t position = 0;
  if (git.index_find_prefix(&position, index.get(), rel.c_str()) == 0) {
    const std::size_t count = git.index_entrycount(index.get());
    for (; position < count; ++position) {
      const git_index_entry* entry = git.index_get_byindex(index.get(), position);
      if (entry == nullptr || entry->path == nullptr) break;
      std::string_view entry_path(entry->path);
      if (!entry_path.starts_with(rel)) break;
      if (entry_path.size() != rel.size() && entry_path[rel.size()] != '/') continue;
      if (++facts.tracked > limits.max_entries)
        return unreadable("more than " + std::to_string(limits.max_entries) + " tracked files");
      // assume-unchanged and skip-worktree entries are not compared with
      // the work tree: what they hold is not known to be in history.
      if ((entry->flags & GIT_INDEX_ENTRY_VALID) != 0 ||
          (entry->flags_extended & GIT_INDEX_ENTRY_SKIP_WORKTREE) != 0) {
        --facts.tracked;
        ++facts.lost_files;
        ++facts.unverified;
        AddPreview(facts, entry_path);
        continue;
      }
      // "Restorable" means the content is in the object store: an index
      // entry can name a blob that was hashed but never written
      // (update-index --cacheinfo with hash-object's answer).
      if (entry->mode != GIT_FILEMODE_COMMIT && !git.odb_exists(odb.get(), &entry->id)) {
        --facts.tracked;
        ++facts.lost_files;
        ++facts.unverified;
        AddPreview(facts, entry_path);
        continue;
      }
      if (entry->mode == GIT_FILEMODE_COMMIT) {
        struct stat sub;
        const std::string dotgit = root + "/" + std::string(entry_path) + "/.git";
        if (Exists(dotgit, &sub) && S_ISDIR(sub.st_mode)) {
          ++facts.repositories;
          AddPreview(facts, std::string(entry_path) + "/.git");
        }
      }
    }
  }
  if (Clock::now() - start > limits.budget) return unreadable("the time bound was reached");

  Walk walk;
  walk.deadline = start + limits.budget;
  walk.max_entries = limits.max_entries;
  git_diff_options options = GIT_DIFF_OPTIONS_INIT;
  options.flags = GIT_DIFF_INCLUDE_UNTRACKED | GIT_DIFF_RECURSE_UNTRACKED_DIRS |
                  GIT_DIFF_INCLUDE_IGNORED | GIT_DIFF_INCLUDE_TYPECHANGE |
                  GIT_DIFF_DISABLE_PATHSPEC_MATCH | GIT_DIFF_SKIP_BINARY_CHECK;
  options.ignore_submodules = GIT_SUBMODULE_IGNORE_NONE;
  // The target, and the .gitignore files above it: ignore rules that are
  // not committed are not the project's declaration.
  std::vector<std::string> specs = {rel, ".gitignore"};
  for (std::size_t slash = rel.find('/'); slash != std::string::npos && specs.size() < 64;
       slash = rel.find('/', slash + 1))
    specs.push_back(rel.substr(0, slash) + "/.gitignore");
  std::vector<char*> pathspec;
  for (std::string& spec : specs) pathspec.push_back(spec.data());
  options.pathspec = {pathspec.data(), pathspec.size()};
  options.progress_cb = OnProgress;
  options.payload = &walk;
  Owned<git_diff> diff(git.diff_free);
  if (git.diff_index_to_workdir(diff.out(), repo.get(), index.get(), &options) < 0) {
    if (walk.over)
      return unreadable("more than " + std::to_string(limits.max_entries) +
                        " files or the time bound");
    return unreadable("the work tree cannot be compared: " + git.LastError());
  }
  const std::size_t deltas = git.diff_num_deltas(diff.get());
  for (std::size_t i = 0; i < deltas; ++i) {
    const git_diff_delta* delta = git.diff_get_delta(diff.get(), i);
    if (delta == nullptr) continue;
    const char* name = delta->new_file.path ? delta->new_file.path : delta->old_file.path;
    if (name == nullptr) continue;
    const std::string_view entry(name);
    if (entry != rel && !entry.starts_with(rel + "/")) {  // an ignore file above the target
      if (delta->status != GIT_DELTA_IGNORED && facts.ignore_rules_changed.empty())
        facts.ignore_rules_changed = std::string(entry);
      continue;
    }
    switch (delta->status) {
      case GIT_DELTA_DELETED:  // already gone from the work tree
        if (facts.tracked > 0) --facts.tracked;
        break;
      case GIT_DELTA_IGNORED:
        if (IsPreciousName(entry)) {
          ++facts.lost_files;
          ++facts.ignored_data;
          facts.lost_bytes += delta->new_file.size;
          AddPreview(facts, entry);
        } else {
          ++facts.ignored;
          if (entry.ends_with('/') && !FindIgnoredData(root, entry, walk, facts))
            return unreadable("more than " + std::to_string(limits.max_entries) +
                              " files or the time bound");
        }
        break;
      case GIT_DELTA_UNTRACKED:
        if (entry.ends_with('/')) {  // a directory git does not enter: a repository
          ++facts.repositories;
          AddPreview(facts, entry);
        } else {
          ++facts.lost_files;
          ++facts.untracked;
          facts.lost_bytes += delta->new_file.size;
          AddPreview(facts, entry);
        }
        break;
      case GIT_DELTA_MODIFIED:
      case GIT_DELTA_TYPECHANGE:
      case GIT_DELTA_CONFLICTED:
      case GIT_DELTA_UNREADABLE:
      default:
        if (facts.tracked > 0) --facts.tracked;
        ++facts.lost_files;
        ++facts.modified;
        facts.lost_bytes += delta->new_file.size;
        AddPreview(facts, entry);
        break;
    }
  }
  if (facts.ignore_rules_changed.empty()) {
    const char* git_dir = git.repository_path(repo.get());
    if (git_dir != nullptr) facts.ignore_rules_changed = RecentlyChangedIgnoreSource(git_dir);
  }
  // Inside the target, a changed .gitignore is itself a modified or
  // untracked file, so the delete is held anyway.
  facts.outcome = LossFacts::Outcome::kRead;
  return facts;
}

}  // namespace dualkey::shell
