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
#include <mutex>
#include <thread>

#include "vault/internal/impl.h"

namespace dualkey::vault {
namespace {

using internal::ChunkId;
using internal::Entry;
using internal::Manifest;
using internal::Space;
namespace fs = std::filesystem;

std::string Errno(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

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

struct FileState {
  const Entry* entry = nullptr;
  std::string dest, temp;
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

void SetOwnerAndTimes(const Entry& e, const std::string& dest, bool symlink) {
  if (::geteuid() == 0) ::lchown(dest.c_str(), e.uid, e.gid);
  timespec times[2] = {Ts(e.mtime_ns), Ts(e.mtime_ns)};
  ::utimensat(AT_FDCWD, dest.c_str(), times, symlink ? AT_SYMLINK_NOFOLLOW : 0);
}

}  // namespace

std::optional<RestoreReport> Vault::Restore(const std::string& id, const RestoreOptions& options,
                                            std::string* error) const {
  std::optional<std::string> exact = impl_->Resolve(id, error);
  if (!exact) return std::nullopt;
  Manifest manifest;
  if (!impl_->ReadManifest(*exact, false, &manifest, error) || !impl_->LoadIndex(error))
    return std::nullopt;

  std::string to_dir;
  if (!options.to_dir.empty()) {
    to_dir = fs::absolute(options.to_dir).lexically_normal().string();
    while (to_dir.size() > 1 && to_dir.back() == '/') to_dir.pop_back();
    if (to_dir == "/") to_dir.clear();
  }
  std::vector<std::string> only;
  for (const std::string& p : options.only) {
    std::string a = p.empty() || p[0] != '/' ? p : fs::path(p).lexically_normal().string();
    while (a.size() > 1 && a.back() == '/') a.pop_back();
    only.push_back(a);
  }
  // Where each entry goes; streams become files named after the stream.
  std::vector<std::pair<const Entry*, std::string>> chosen;
  for (const Entry& e : manifest.entries) {
    if (!only.empty() && std::none_of(only.begin(), only.end(),
                                      [&](const std::string& p) { return Under(e.path, p); }))
      continue;
    std::string dest;
    if (e.type == "stream") {
      if (options.to_dir.empty()) {
        *error = "snapshot " + *exact + " holds streams (" + manifest.info.meta.kind +
                 "): restore them with --to DIR, or into a database with --db";
        return std::nullopt;
      }
      std::string name = e.path;
      std::replace(name.begin(), name.end(), '/', '_');
      dest = (to_dir.empty() ? std::string() : to_dir) + "/" + name;
    } else {
      if (e.path.empty() || e.path[0] != '/') continue;  // never outside the target
      bool escapes = false;
      for (const auto& part : fs::path(e.path)) escapes |= part == "..";
      if (escapes) continue;
      dest = to_dir + e.path;
    }
    chosen.emplace_back(&e, dest);
  }
  if (chosen.empty()) {
    *error = only.empty() ? "snapshot " + *exact + " is empty" : "nothing in the snapshot matches";
    return std::nullopt;
  }
  // Refuse before writing anything when files would be replaced.
  if (!options.overwrite) {
    std::vector<std::string> existing;
    for (const auto& [e, dest] : chosen) {
      struct stat st {};
      if (e->type != "dir" && ::lstat(dest.c_str(), &st) == 0) existing.push_back(dest);
    }
    if (!existing.empty()) {
      *error = std::to_string(existing.size()) + " path(s) exist already, first " + existing[0] +
               "; restore with --to DIR, or --overwrite to replace them";
      return std::nullopt;
    }
  }

  RestoreReport report;
  std::mutex problems_mutex;
  auto problem = [&](std::string text) {
    std::lock_guard lock(problems_mutex);
    report.problems.push_back(std::move(text));
  };
  // Directories (owner-only until their own mode is set at the end), links, fifos.
  std::vector<std::pair<const Entry*, std::string>> dirs;
  std::vector<FileState> files(chosen.size());
  std::vector<ChunkJob> jobs;
  std::size_t file_count = 0;
  std::uint64_t bytes_total = 0;
  for (const auto& [e, dest] : chosen) {
    std::error_code ec;
    fs::create_directories(fs::path(dest).parent_path(), ec);
    if (e->type == "dir") {
      if (::mkdir(dest.c_str(), 0700) != 0 && errno != EEXIST) {
        problem(Errno("cannot create " + dest));
        continue;
      }
      dirs.emplace_back(e, dest);
    } else if (e->type == "symlink") {
      if (options.overwrite) ::unlink(dest.c_str());
      if (::symlink(e->target.c_str(), dest.c_str()) != 0) {
        problem(Errno("cannot create link " + dest));
        continue;
      }
      SetOwnerAndTimes(*e, dest, true);
    } else if (e->type == "fifo") {
      if (options.overwrite) ::unlink(dest.c_str());
      if (::mkfifo(dest.c_str(), e->mode & 07777) != 0)
        problem(Errno("cannot create fifo " + dest));
      else
        SetOwnerAndTimes(*e, dest, false);
    } else if (e->type == "file" || e->type == "stream") {
      FileState& f = files[file_count];
      f.entry = e;
      f.dest = dest;
      // Replacing a file: write beside it and rename, so the old one stays
      // until the new one is whole. A new file is written in place (O_EXCL:
      // never clobbering) and removed again if any chunk fails; that halves
      // the directory operations, which contend on the directory's lock.
      if (options.overwrite) {
        fs::path p(dest);
        f.temp = (p.parent_path() /
                  ("." + p.filename().string() + ".dkv-restore-" + internal::RandomHex(4)))
                     .string();
      } else {
        f.temp = dest;
      }
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

  auto finish = [&](FileState& f) {
    std::lock_guard lock(f.mutex);
    if (f.fd < 0 && !f.open_failed && !f.failed) {
      // An empty file: nothing was written yet.
      f.fd = ::open(f.temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (f.fd < 0) {
        problem(Errno("cannot create " + f.temp));
        return;
      }
    }
    if (f.fd < 0) return;
    const Entry& e = *f.entry;
    bool ok = !f.failed;
    if (ok && ::ftruncate(f.fd, static_cast<off_t>(e.size)) != 0) {
      problem(Errno("cannot write " + f.dest));
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
    if (ok && f.temp != f.dest && ::rename(f.temp.c_str(), f.dest.c_str()) != 0) {
      problem(Errno("cannot move the restored file into place at " + f.dest));
      ok = false;
    }
    if (!ok) {
      ::unlink(f.temp.c_str());
      return;
    }
    std::lock_guard report_lock(problems_mutex);
    report.files += 1;
    report.bytes += e.size;
  };
  for (std::size_t i = 0; i < file_count; ++i)
    if (files[i].entry->chunks.empty()) finish(files[i]);

  std::atomic<std::size_t> next{0};
  std::atomic<std::uint64_t> bytes_done{0};
  std::mutex progress_mutex;
  auto worker = [&] {
    ChunkReader reader(*impl_);
    std::string chunk_error;
    for (std::size_t j; (j = next.fetch_add(1)) < jobs.size();) {
      const ChunkJob& job = jobs[j];
      FileState& f = files[job.file];
      if (!f.failed) {
        std::size_t size = 0;
        const char* data = reader.Read(f.entry->chunks[job.chunk], &size, &chunk_error);
        if (!data) {
          if (!f.failed.exchange(true)) problem(f.entry->path + ": " + chunk_error);
        } else {
          int fd;
          {
            std::lock_guard lock(f.mutex);
            if (f.fd < 0 && !f.open_failed) {
              f.fd = ::open(f.temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
              if (f.fd < 0) {
                f.open_failed = true;
                problem(Errno("cannot create " + f.temp));
              }
            }
            fd = f.fd;
          }
          if (fd < 0 || !WriteAllAt(fd, data, size, job.offset)) {
            if (fd >= 0 && !f.failed.exchange(true)) problem(Errno("cannot write " + f.dest));
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
            [](const auto& a, const auto& b) { return a.second.size() > b.second.size(); });
  for (const auto& [e, dest] : dirs) {
    if (::geteuid() == 0) ::lchown(dest.c_str(), e->uid, e->gid);
    ::chmod(dest.c_str(), e->mode & 07777);
    SetOwnerAndTimes(*e, dest, false);
  }
  if (options.progress && options.progress->report)
    options.progress->report(ProgressState{report.bytes, bytes_total, report.files, file_count});
  return report;
}

bool Vault::RestoreStream(const std::string& id, const std::string& name, int fd,
                          std::string* error) const {
  std::optional<std::string> exact = impl_->Resolve(id, error);
  if (!exact) return false;
  Manifest manifest;
  if (!impl_->ReadManifest(*exact, false, &manifest, error) || !impl_->LoadIndex(error))
    return false;
  for (const Entry& e : manifest.entries) {
    if (e.path != name) continue;
    ChunkReader reader(*impl_);
    for (const ChunkId& c : e.chunks) {
      std::size_t size = 0;
      const char* data = reader.Read(c, &size, error);
      if (!data) return false;
      while (size > 0) {
        ssize_t n = ::write(fd, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          *error = Errno("cannot write the stream");
          return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
      }
    }
    return true;
  }
  *error = "snapshot " + *exact + " has no entry " + name;
  return false;
}

}  // namespace dualkey::vault
