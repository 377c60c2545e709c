// Restoring snapshots: directories first, then files written by one worker
// per core (each chunk read from its pack, decompressed, re-hashed and written
// at its offset), then directory modes and times, deepest first. A file whose
// chunks do not all arrive intact is removed (a file being replaced keeps its
// old content: the new one is written beside it and renamed when whole), so a
// damaged chunk never leaves a half-restored file looking whole.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "base/fd.h"
#include "vault/internal/impl.h"

namespace dualkey::vault {
namespace {

using internal::ChunkId;
using internal::Entry;
using internal::Errno;
using internal::Manifest;
using internal::Space;
namespace fs = std::filesystem;

timespec Ts(std::int64_t ns) {
  return timespec{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
}

bool WriteAllAt(int fd, const char* data, std::size_t size, std::uint64_t offset) {
  while (size > 0) {
    // 1 MiB at a time: much larger writes cost more system time per byte here.
    ssize_t n =
        ::pwrite(fd, data, std::min<std::size_t>(size, 1u << 20), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return true;
}

// Reads one chunk into `raw` and checks it, reusing the caller's buffers.
class ChunkReader {
 public:
  explicit ChunkReader(const Vault::Impl& vault) : vault_(vault), dctx_(ZSTD_createDCtx()) {}
  ~ChunkReader() { ZSTD_freeDCtx(dctx_); }
  ChunkReader(const ChunkReader&) = delete;
  ChunkReader& operator=(const ChunkReader&) = delete;

  // Returns the chunk's bytes (valid until the next call), or null with `error` set.
  const char* Read(const ChunkId& id, std::size_t* size, std::string* error) {
    auto it = vault_.index.chunks.find(id);
    if (it == vault_.index.chunks.end()) {
      *error = "chunk " + internal::Hex(id) + " is missing from the vault";
      return nullptr;
    }
    const internal::Location& loc = it->second;
    stored_.resize(loc.stored);
    if (!vault_.backend->ReadAt(Space::kPacks, vault_.index.packs[loc.pack], loc.offset, loc.stored,
                                stored_.data(), error))
      return nullptr;
    const char* data = stored_.data();
    if (loc.flags & internal::kCompressed) {
      raw_.resize(loc.raw);
      std::size_t n =
          ZSTD_decompressDCtx(dctx_, raw_.data(), raw_.size(), stored_.data(), stored_.size());
      if (ZSTD_isError(n) || n != loc.raw) {
        *error = "chunk " + internal::Hex(id) + " does not decompress (damaged)";
        return nullptr;
      }
      data = raw_.data();
    } else if (loc.stored != loc.raw) {
      *error = "chunk " + internal::Hex(id) + ": size mismatch (damaged)";
      return nullptr;
    }
    if (internal::Sha256(data, loc.raw) != id) {
      *error = "chunk " + internal::Hex(id) + " does not match its hash (damaged)";
      return nullptr;
    }
    *size = loc.raw;
    return data;
  }

 private:
  const Vault::Impl& vault_;
  ZSTD_DCtx* dctx_;
  std::string stored_, raw_;
};

using Fd = base::UniqueFd;
using SharedFd = std::shared_ptr<Fd>;

std::vector<std::string> Components(std::string_view rel) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= rel.size()) {
    std::size_t slash = rel.find('/', start);
    if (slash == std::string_view::npos) slash = rel.size();
    if (slash > start) parts.emplace_back(rel.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

// Where a restore writes: a directory the user chose (--to) or the one that
// held a snapshot's root, and everything below it reached with openat from
// its descriptor, one component at a time, never following a symbolic link.
// Whatever sits inside the target (an agent's planted `srv -> /etc`, or one
// swapped in while the restore runs) can make a restore fail, never write
// outside the target.
class TargetTree {
 public:
  // Creates the base (as `mkdir -p` would) and opens it.
  static std::unique_ptr<TargetTree> Open(const std::string& base, std::string* error) {
    std::error_code ec;
    fs::create_directories(base, ec);
    const int fd = ::open(base.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      *error = Errno("cannot open the restore target " + base);
      return nullptr;
    }
    return std::unique_ptr<TargetTree>(new TargetTree(base, fd));
  }

  const std::string& base() const { return base_; }
  std::string Show(std::string_view rel) const {
    return base_ == "/" ? "/" + std::string(rel) : base_ + "/" + std::string(rel);
  }

  // What stands in the way of writing at `rel` (its parents, and itself when
  // `itself`): "" when nothing does (missing parts are fine).
  std::string Obstacle(std::string_view rel, bool itself) const {
    std::vector<std::string> parts = Components(rel);
    if (!itself && !parts.empty()) parts.pop_back();
    SharedFd dir = base_fd_;
    std::string walked;
    for (const std::string& part : parts) {
      walked += (walked.empty() ? "" : "/") + part;
      struct stat st {};
      if (::fstatat(dir->get(), part.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return "";
      if (S_ISLNK(st.st_mode)) {
        std::string target(4096, '\0');
        const ssize_t n = ::readlinkat(dir->get(), part.c_str(), target.data(), target.size());
        target.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
        return Show(walked) + " is a symbolic link (to " + target +
               ") inside the restore target; a restore never writes through one: remove it, "
               "or restore elsewhere";
      }
      if (!S_ISDIR(st.st_mode))
        return Show(walked) + " is not a directory; a restore cannot put files under it";
      const int next =
          ::openat(dir->get(), part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0) return Errno("cannot open " + Show(walked));
      dir = std::make_shared<Fd>(next);
    }
    return "";
  }

  // The directory `rel_dir` below the base, its missing parts created 0700
  // (their own modes are set at the end). Null with `error` when a part is a
  // link or not a directory. Thread-safe.
  SharedFd Dir(const std::string& rel_dir, std::string* error) {
    {
      std::lock_guard lock(mutex_);
      if (auto it = cache_.find(rel_dir); it != cache_.end()) return it->second;
    }
    SharedFd dir = base_fd_;
    std::string walked;
    for (const std::string& part : Components(rel_dir)) {
      walked += (walked.empty() ? "" : "/") + part;
      int next = ::openat(dir->get(), part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0 && errno == ENOENT) {
        if (::mkdirat(dir->get(), part.c_str(), 0700) != 0 && errno != EEXIST) {
          *error = Errno("cannot create " + Show(walked));
          return nullptr;
        }
        next = ::openat(dir->get(), part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      }
      if (next < 0) {
        *error = errno == ENOTDIR || errno == ELOOP
                     ? Show(walked) + " is a symbolic link or not a directory; not written through"
                     : Errno("cannot open " + Show(walked));
        return nullptr;
      }
      dir = std::make_shared<Fd>(next);
    }
    std::lock_guard lock(mutex_);
    // Bounded: a restore of many directories must not hold a descriptor
    // for each (users keep theirs alive through the shared pointer).
    if (cache_.size() >= 256) cache_.clear();
    cache_.emplace(rel_dir, dir);
    return dir;
  }

 private:
  TargetTree(std::string base, int fd)
      : base_(std::move(base)), base_fd_(std::make_shared<Fd>(fd)) {}
  std::string base_;
  SharedFd base_fd_;
  std::mutex mutex_;
  std::unordered_map<std::string, SharedFd> cache_;
};

std::string ParentOf(const std::string& rel) {
  const std::size_t slash = rel.rfind('/');
  return slash == std::string::npos ? std::string() : rel.substr(0, slash);
}
std::string NameOf(const std::string& rel) {
  const std::size_t slash = rel.rfind('/');
  return slash == std::string::npos ? rel : rel.substr(slash + 1);
}

// One entry to restore: where (a tree and a path below it).
struct Placement {
  const Entry* entry = nullptr;
  TargetTree* tree = nullptr;
  std::string rel;   // below the tree's base, no leading '/'
  std::string dest;  // for people
};

struct FileState {
  const Placement* place = nullptr;
  std::string temp_name;  // in the same directory
  SharedFd parent;
  std::mutex mutex;
  int fd = -1;
  bool open_failed = false;
  std::atomic<std::size_t> remaining{0};
  std::atomic<bool> failed{false};
};

struct ChunkJob {
  std::uint32_t file;
  std::uint32_t chunk;
  std::uint64_t offset;
};

bool Under(const std::string& path, const std::string& prefix) {
  return path == prefix || prefix == "/" ||
         (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
          path[prefix.size()] == '/');
}

void SetOwnerAndTimesAt(const Entry& e, int dir, const std::string& name) {
  if (::geteuid() == 0) ::fchownat(dir, name.c_str(), e.uid, e.gid, AT_SYMLINK_NOFOLLOW);
  timespec times[2] = {Ts(e.mtime_ns), Ts(e.mtime_ns)};
  ::utimensat(dir, name.c_str(), times, AT_SYMLINK_NOFOLLOW);
}

}  // namespace

Result<RestoreReport> Vault::Restore(const std::string& id, const RestoreOptions& options) const {
  Result<std::string> exact = impl_->Resolve(id);
  if (!exact.ok()) return exact.status();
  std::string message;
  std::string* const error = &message;
  Manifest manifest;
  if (!impl_->ReadManifest(*exact, false, &manifest, error) || !impl_->LoadIndex(error))
    return Status::IOError(message);

  std::string to_dir;
  if (!options.to_dir.empty()) {
    to_dir = fs::absolute(options.to_dir).lexically_normal().string();
    while (to_dir.size() > 1 && to_dir.back() == '/') to_dir.pop_back();
  }
  std::vector<std::string> only;
  for (const std::string& p : options.only) {
    std::string a = p.empty() || p[0] != '/' ? p : fs::path(p).lexically_normal().string();
    while (a.size() > 1 && a.back() == '/') a.pop_back();
    only.push_back(a);
  }
  // The trees written into: --to DIR, or in place the directory that held
  // each saved root (links above it are the system's; at and below it, none
  // is followed).
  std::map<std::string, std::unique_ptr<TargetTree>> trees;
  auto tree_for = [&](const std::string& base) -> TargetTree* {
    auto it = trees.find(base);
    if (it != trees.end()) return it->second.get();
    std::unique_ptr<TargetTree> tree = TargetTree::Open(base, error);
    if (!tree) return nullptr;
    return trees.emplace(base, std::move(tree)).first->second.get();
  };
  std::vector<Placement> chosen;
  for (const Entry& e : manifest.entries) {
    if (!only.empty() && std::none_of(only.begin(), only.end(),
                                      [&](const std::string& p) { return Under(e.path, p); }))
      continue;
    Placement place;
    place.entry = &e;
    std::string base;
    if (e.type == "stream") {
      if (options.to_dir.empty()) {
        return Status::InvalidArgument(
            "snapshot " + *exact + " holds streams (" + manifest.info.meta.kind +
            "): restore them with --to DIR, or into a database with --db");
      }
      base = to_dir;
      place.rel = e.path;
      std::replace(place.rel.begin(), place.rel.end(), '/', '_');
      if (place.rel == "." || place.rel == "..") place.rel = "_" + place.rel;
    } else {
      if (e.path.empty() || e.path[0] != '/') continue;  // never outside the target
      bool escapes = false;
      for (const auto& part : fs::path(e.path)) escapes |= part == ".." || part == ".";
      if (escapes) continue;
      if (!to_dir.empty()) {
        base = to_dir;
        place.rel = e.path.substr(1);
      } else {
        std::string root;
        for (const std::string& r : manifest.info.roots)
          if (!r.empty() && r[0] == '/' && Under(e.path, r) && r.size() > root.size()) root = r;
        base = root.empty() || root == "/" ? "/" : fs::path(root).parent_path().string();
        place.rel = base == "/" ? e.path.substr(1) : e.path.substr(base.size() + 1);
      }
      if (place.rel.empty()) continue;  // the target itself: not ours to change
    }
    place.tree = tree_for(base);
    if (!place.tree) return Status::IOError(message);
    place.dest = place.tree->Show(place.rel);
    chosen.push_back(std::move(place));
  }
  if (chosen.empty()) {
    return Status::NotFound(only.empty() ? "snapshot " + *exact + " is empty"
                                         : "nothing in the snapshot matches");
  }
  // Before writing anything: no link or non-directory on any path, and (unless
  // --overwrite) nothing that would be replaced.
  std::vector<std::string> existing;
  for (const Placement& p : chosen) {
    std::string obstacle = p.tree->Obstacle(p.rel, p.entry->type == "dir");
    if (!obstacle.empty()) {
      return Status::FailedPrecondition(obstacle + "; nothing was restored");
    }
    struct stat st {};
    if (!options.overwrite && p.entry->type != "dir" && ::lstat(p.dest.c_str(), &st) == 0)
      existing.push_back(p.dest);
  }
  if (!existing.empty()) {
    return Status::FailedPrecondition(std::to_string(existing.size()) +
                                      " path(s) exist already, first " + existing[0] +
                                      "; restore with --to DIR, or --overwrite to replace them");
  }

  RestoreReport report;
  std::mutex problems_mutex;
  auto problem = [&](std::string text) {
    std::lock_guard lock(problems_mutex);
    report.problems.push_back(std::move(text));
  };
  // Directories (owner-only until their own mode is set at the end), links, fifos.
  std::vector<const Placement*> dirs;
  std::vector<FileState> files(chosen.size());
  std::vector<ChunkJob> jobs;
  std::size_t file_count = 0;
  std::uint64_t bytes_total = 0;
  for (const Placement& p : chosen) {
    const Entry* e = p.entry;
    const std::string name = NameOf(p.rel);
    std::string dir_error;
    SharedFd parent = p.tree->Dir(ParentOf(p.rel), &dir_error);
    if (!parent) {
      problem(dir_error);
      continue;
    }
    if (e->type == "dir") {
      if (::mkdirat(parent->get(), name.c_str(), 0700) != 0 && errno != EEXIST) {
        problem(Errno("cannot create " + p.dest));
        continue;
      }
      dirs.push_back(&p);
    } else if (e->type == "symlink") {
      if (options.overwrite) ::unlinkat(parent->get(), name.c_str(), 0);
      if (::symlinkat(e->target.c_str(), parent->get(), name.c_str()) != 0) {
        problem(Errno("cannot create link " + p.dest));
        continue;
      }
      SetOwnerAndTimesAt(*e, parent->get(), name);
    } else if (e->type == "fifo") {
      if (options.overwrite) ::unlinkat(parent->get(), name.c_str(), 0);
      if (::mkfifoat(parent->get(), name.c_str(), e->mode & 07777) != 0)
        problem(Errno("cannot create fifo " + p.dest));
      else
        SetOwnerAndTimesAt(*e, parent->get(), name);
    } else if (e->type == "file" || e->type == "stream") {
      FileState& f = files[file_count];
      f.place = &p;
      f.parent = std::move(parent);
      // Replacing a file: write beside it and rename, so the old one stays
      // until the new one is whole. A new file is written in place (O_EXCL:
      // never clobbering) and removed again if any chunk fails; that halves
      // the directory operations, which contend on the directory's lock.
      f.temp_name =
          options.overwrite ? "." + name + ".dkv-restore-" + internal::RandomHex(4) : name;
      f.remaining = e->chunks.size();
      std::uint64_t offset = 0;
      for (std::uint32_t c = 0; c < e->chunks.size(); ++c) {
        auto it = impl_->index.chunks.find(e->chunks[c]);
        jobs.push_back(ChunkJob{static_cast<std::uint32_t>(file_count), c, offset});
        offset += it == impl_->index.chunks.end() ? 0 : it->second.raw;
      }
      bytes_total += e->size;
      ++file_count;
    }
  }

  // Opens a file being restored (under f.mutex): created, never through a link.
  auto open_file = [&](FileState& f) {
    f.fd = ::openat(f.parent->get(), f.temp_name.c_str(),
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (f.fd < 0) {
      f.open_failed = true;
      problem(Errno("cannot create " +
                    f.place->tree->Show(ParentOf(f.place->rel).empty()
                                            ? f.temp_name
                                            : ParentOf(f.place->rel) + "/" + f.temp_name)));
    }
  };
  auto finish = [&](FileState& f) {
    std::lock_guard lock(f.mutex);
    if (f.fd < 0 && !f.open_failed && !f.failed) open_file(f);  // an empty file
    if (f.fd < 0) return;
    const Entry& e = *f.place->entry;
    const std::string name = NameOf(f.place->rel);
    bool ok = !f.failed;
    if (ok && ::ftruncate(f.fd, static_cast<off_t>(e.size)) != 0) {
      problem(Errno("cannot write " + f.place->dest));
      ok = false;
    }
    if (ok) {
      if (::geteuid() == 0) ::fchown(f.fd, e.uid, e.gid);
      ::fchmod(f.fd, e.type == "stream" ? 0600 : (e.mode & 07777));
      timespec times[2] = {Ts(e.mtime_ns), Ts(e.mtime_ns)};
      ::futimens(f.fd, times);
    }
    ::close(f.fd);
    f.fd = -1;
    if (ok && f.temp_name != name &&
        ::renameat(f.parent->get(), f.temp_name.c_str(), f.parent->get(), name.c_str()) != 0) {
      problem(Errno("cannot move the restored file into place at " + f.place->dest));
      ok = false;
    }
    if (!ok) {
      ::unlinkat(f.parent->get(), f.temp_name.c_str(), 0);
      return;
    }
    std::lock_guard report_lock(problems_mutex);
    report.files += 1;
    report.bytes += e.size;
  };
  for (std::size_t i = 0; i < file_count; ++i)
    if (files[i].place->entry->chunks.empty()) finish(files[i]);

  std::atomic<std::size_t> next{0};
  std::atomic<std::uint64_t> bytes_done{0};
  std::mutex progress_mutex;
  auto worker = [&] {
    ChunkReader reader(*impl_);
    std::string chunk_error;
    for (std::size_t j; (j = next.fetch_add(1)) < jobs.size();) {
      const ChunkJob& job = jobs[j];
      FileState& f = files[job.file];
      const Entry& e = *f.place->entry;
      if (!f.failed) {
        std::size_t size = 0;
        const char* data = reader.Read(e.chunks[job.chunk], &size, &chunk_error);
        if (!data) {
          if (!f.failed.exchange(true)) problem(e.path + ": " + chunk_error);
        } else {
          int fd;
          {
            std::lock_guard lock(f.mutex);
            if (f.fd < 0 && !f.open_failed) open_file(f);
            fd = f.fd;
          }
          if (fd < 0 || !WriteAllAt(fd, data, size, job.offset)) {
            if (fd >= 0 && !f.failed.exchange(true))
              problem(Errno("cannot write " + f.place->dest));
            f.failed = true;
          }
          std::uint64_t done = bytes_done.fetch_add(size) + size;
          if (options.progress && options.progress->report) {
            std::unique_lock lock(progress_mutex, std::try_to_lock);
            if (lock) options.progress->report(ProgressState{done, bytes_total, 0, file_count});
          }
        }
      }
      if (f.remaining.fetch_sub(1) == 1) finish(f);
    }
  };
  std::vector<std::thread> threads;
  // More workers than cores: writes block now and then on the page cache's
  // dirty limit, and another worker can decompress meanwhile.
  unsigned n = 2 * std::max(2u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();

  // Directory modes and times last (writing into them changed their mtime),
  // deepest first so a read-only parent does not block its children.
  std::sort(dirs.begin(), dirs.end(),
            [](const Placement* a, const Placement* b) { return a->rel.size() > b->rel.size(); });
  for (const Placement* p : dirs) {
    std::string dir_error;
    SharedFd parent = p->tree->Dir(ParentOf(p->rel), &dir_error);
    const std::string name = NameOf(p->rel);
    const int fd = parent ? ::openat(parent->get(), name.c_str(),
                                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                          : -1;
    if (fd < 0) {
      problem(parent ? Errno("cannot set the mode of " + p->dest) : dir_error);
      continue;
    }
    const Entry& e = *p->entry;
    if (::geteuid() == 0) ::fchown(fd, e.uid, e.gid);
    ::fchmod(fd, e.mode & 07777);
    timespec times[2] = {Ts(e.mtime_ns), Ts(e.mtime_ns)};
    ::futimens(fd, times);
    ::close(fd);
  }
  if (options.progress && options.progress->report)
    options.progress->report(ProgressState{report.bytes, bytes_total, report.files, file_count});
  return report;
}

Status Vault::RestoreStream(const std::string& id, const std::string& name, int fd) const {
  Result<std::string> exact = impl_->Resolve(id);
  if (!exact.ok()) return exact.status();
  std::string error;
  Manifest manifest;
  if (!impl_->ReadManifest(*exact, false, &manifest, &error) || !impl_->LoadIndex(&error))
    return Status::IOError(error);
  for (const Entry& e : manifest.entries) {
    if (e.path != name) continue;
    ChunkReader reader(*impl_);
    for (const ChunkId& c : e.chunks) {
      std::size_t size = 0;
      const char* data = reader.Read(c, &size, &error);
      if (!data) return Status::IOError(error);
      while (size > 0) {
        ssize_t n = ::write(fd, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return Status::IOError(Errno("cannot write the stream"));
        data += n;
        size -= static_cast<std::size_t>(n);
      }
    }
    return Status::Ok();
  }
  return Status::NotFound("snapshot " + *exact + " has no entry " + name);
}

}  // namespace dualkey::vault
