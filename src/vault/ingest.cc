// Putting files and streams into the vault: a pipeline that keeps both cores
// busy.
//
//   reader (this thread): walks the trees, reads each file into shared
//     arenas and cuts it into content-defined chunks;
//   workers (one per core): SHA-256 each chunk, skip those the vault has,
//     zstd-compress the rest (or store them raw when a sample shows they do
//     not compress);
//   packer: appends blobs to a pack and writes each full pack as a
//     write-once object (temp file, fsync, no-replace rename).
//
// Then the packs' directory is synced, an index object naming their chunks is
// written and synced, and only then the signed snapshot: a snapshot exists
// only once everything it needs is durable, so a kill -9 at any point leaves
// every earlier snapshot intact and this one absent.
//
// Unchanged files (same size, mtime, ctime, inode as in the latest snapshot
// of the same roots, and older than that snapshot's start) reuse its chunks
// without being read, as restic and borg do.
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "vault/internal/chunker.h"
#include "vault/internal/impl.h"
#include "vault/internal/pipeline.h"

namespace dualkey::vault {
namespace {

using internal::ArenaPool;
using internal::BoundedQueue;
using internal::ChunkId;
using internal::Entry;
using internal::Errno;
using internal::Manifest;
using internal::Slots;
using internal::Space;

constexpr std::size_t kPackTarget = 32u << 20;

struct Job {
  std::shared_ptr<std::uint8_t> arena;
  const std::uint8_t* data = nullptr;
  std::uint32_t size = 0;
  ChunkId* slot = nullptr;
};

struct Blob {
  ChunkId id;
  std::uint8_t flags = 0;
  std::uint32_t raw = 0;
  std::string compressed;
  // Stored raw: the bytes stay in the reader's arena until packed (one copy less).
  std::shared_ptr<std::uint8_t> arena;
  const std::uint8_t* raw_data = nullptr;

  std::string_view stored() const {
    return raw_data ? std::string_view(reinterpret_cast<const char*>(raw_data), raw)
                    : std::string_view(compressed);
  }
};

struct WalkItem {
  Entry entry;
  std::vector<std::uint32_t> slots;  // regular files read now
  std::uint64_t bytes_read = 0;
  bool cached = false;
};

bool IsPseudoFileSystem(const std::string& path) {
  struct statfs fs {};
  if (::statfs(path.c_str(), &fs) != 0) return false;
  switch (static_cast<unsigned long>(fs.f_type)) {
    case PROC_SUPER_MAGIC:
    case SYSFS_MAGIC:
    case DEVPTS_SUPER_MAGIC:
    case CGROUP_SUPER_MAGIC:
    case CGROUP2_SUPER_MAGIC:
    case DEBUGFS_MAGIC:
    case TRACEFS_MAGIC:
    case SECURITYFS_MAGIC:
    case BPF_FS_MAGIC:
      return true;
  }
  return false;
}

std::int64_t Ns(const timespec& t) {
  return std::int64_t{t.tv_sec} * 1000000000 + t.tv_nsec;
}

Entry FromStat(const std::string& path, const struct stat& st) {
  Entry e;
  e.path = path;
  e.mode = st.st_mode & 07777;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  e.mtime_ns = Ns(st.st_mtim);
  e.ctime_ns = Ns(st.st_ctim);
  e.ino = st.st_ino;
  e.dev = st.st_dev;
  e.size = static_cast<std::uint64_t>(st.st_size);
  return e;
}

bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_size == b.st_size && Ns(a.st_mtim) == Ns(b.st_mtim) &&
         Ns(a.st_ctim) == Ns(b.st_ctim) && a.st_ino == b.st_ino;
}

class Pipeline {
 public:
  Pipeline(Vault::Impl& vault, const Progress* progress)
      : vault_(vault),
        chunker_(vault.average_chunk, vault.normalization),
        pool_(std::max<std::size_t>(8u << 20, 2 * chunker_.max_size()), 16),
        jobs_(64),
        blobs_(96u << 20),
        progress_(progress) {}

  // Walks `roots` into items_; false with error_ set on an unreadable path.
  bool Walk(const std::vector<std::string>& roots) {
    std::unordered_set<std::string> seen;
    std::string vault_dir = std::filesystem::weakly_canonical(vault_.dir).string();
    for (const std::string& root : roots) {
      std::vector<std::pair<std::string, dev_t>> stack{{root, 0}};  // path, parent's device
      while (!stack.empty()) {
        auto [path, parent_dev] = std::move(stack.back());
        stack.pop_back();
        if (!seen.insert(path).second) continue;
        if (path == vault_dir) continue;  // the vault never swallows itself
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0) return Fail(Errno("cannot read " + path));
        WalkItem item;
        item.entry = FromStat(path, st);
        if (S_ISREG(st.st_mode)) {
          item.entry.type = "file";
          files_total_ += 1;
          bytes_total_ += item.entry.size;
        } else if (S_ISDIR(st.st_mode)) {
          // Kernel views (/proc, /sys, ...) hold no data to keep, and their
          // files' sizes lie: not entered, not recorded.
          if (st.st_dev != parent_dev && IsPseudoFileSystem(path)) continue;
          item.entry.type = "dir";
          DIR* dir = ::opendir(path.c_str());
          if (!dir) return Fail(Errno("cannot read directory " + path));
          std::vector<std::string> children;
          errno = 0;
          while (dirent* d = ::readdir(dir)) {
            std::string name = d->d_name;
            if (name == "." || name == "..") continue;
            children.push_back(path == "/" ? "/" + name : path + "/" + name);
          }
          int read_errno = errno;
          ::closedir(dir);
          if (read_errno != 0) {
            errno = read_errno;
            return Fail(Errno("cannot list " + path));
          }
          std::sort(children.rbegin(), children.rend());  // popped in order
          for (auto& child : children) stack.emplace_back(std::move(child), st.st_dev);
        } else if (S_ISLNK(st.st_mode)) {
          item.entry.type = "symlink";
          std::string target(4096, '\0');
          ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
          if (n < 0) return Fail(Errno("cannot read link " + path));
          target.resize(static_cast<std::size_t>(n));
          item.entry.target = std::move(target);
        } else if (S_ISFIFO(st.st_mode)) {
          item.entry.type = "fifo";
        } else {
          skipped_.push_back(path);  // sockets and devices hold no data to keep
          continue;
        }
        if (item.entry.type != "file") item.entry.size = 0;
        items_.push_back(std::move(item));
      }
    }
    return true;
  }

  // Marks files unchanged since `parent` as cached (their chunks reused).
  void UseParent(const Manifest& parent) {
    const std::int64_t trusted_before_ns = (parent.started_ms - 1000) * 1000000;
    std::unordered_map<std::string, const Entry*> by_path;
    for (const Entry& e : parent.entries)
      if (e.type == "file") by_path.emplace(e.path, &e);
    for (WalkItem& item : items_) {
      Entry& e = item.entry;
      if (e.type != "file") continue;
      auto it = by_path.find(e.path);
      if (it == by_path.end()) continue;
      const Entry& old = *it->second;
      if (old.size != e.size || old.mtime_ns != e.mtime_ns || old.ctime_ns != e.ctime_ns ||
          old.ino != e.ino || old.dev != e.dev || e.mtime_ns >= trusted_before_ns ||
          e.ctime_ns >= trusted_before_ns)
        continue;
      bool all_present = true;
      for (const ChunkId& id : old.chunks)
        if (!vault_.index.chunks.count(id)) all_present = false;
      if (!all_present) continue;
      e.chunks = old.chunks;
      item.cached = true;
    }
  }

  void AddStreams(const std::vector<NamedStream>& streams) {
    for (const NamedStream& s : streams) {
      WalkItem item;
      item.entry.path = s.name;
      item.entry.type = "stream";
      item.entry.mode = 0600;
      item.entry.mtime_ns = internal::NowMs() * 1000000;
      items_.push_back(std::move(item));
      files_total_ += 1;
    }
  }

  // Reads and stores everything; false with error_ set on any failure.
  bool Run(const std::vector<NamedStream>* streams) {
    const unsigned cores = std::max(2u, std::thread::hardware_concurrency());
    std::vector<std::thread> workers;
    for (unsigned i = 0; i < cores; ++i) workers.emplace_back([this] { Work(); });
    std::thread packer([this] { Pack(); });

    std::size_t stream_index = 0;
    for (WalkItem& item : items_) {
      if (failed_) break;
      if (item.entry.type == "file") {
        if (item.cached) {
          files_done_ += 1;
          bytes_done_ += item.entry.size;
          continue;
        }
        if (!ReadFile(item)) break;
      } else if (item.entry.type == "stream") {
        const NamedStream& stream = (*streams)[stream_index++];
        bool ok = ReadSource(item, [&](std::uint8_t* buffer, std::size_t capacity) {
          return stream.read(reinterpret_cast<char*>(buffer), capacity);
        });
        if (!ok) {
          Fail("cannot read stream " + item.entry.path);
          break;
        }
        item.entry.size = item.bytes_read;
      }
      Report(false);
    }
    arena_.reset();
    jobs_.Close();
    for (auto& w : workers) w.join();
    blobs_.Close();
    packer.join();
    FlushPack();
    Report(true);
    return !failed_;
  }

  // After Run: makes packs durable and writes the index object for them.
  bool WriteIndex(std::string* error) {
    if (packs_.empty()) return true;
    internal::Backend& backend = *vault_.backend;
    if (!backend.Sync(Space::kPacks, error)) return false;
    std::string data = internal::EncodeIndex(packs_);
    const std::string name = internal::RandomHex(16) + ".idx";
    if (!backend.Create(Space::kIndex, name, data, error)) return false;
    index_name_ = name;
    if (!backend.Sync(Space::kIndex, error)) return false;
    added_bytes_ += data.size();
    // The next LoadIndex picks the new object up.
    return true;
  }

  // A put that failed takes back everything it wrote (no snapshot refers to
  // it, and the writer lock kept every other writer out), so the vault is
  // exactly as it was and a full disk gets its space back. Returns what is
  // left when removing failed too (`vault gc` collects it).
  std::string Discard() {
    internal::Backend& backend = *vault_.backend;
    backend.DiscardPending();
    std::string problem, error;
    if (!index_name_.empty() && !backend.Remove(Space::kIndex, index_name_, &error))
      problem = error;
    for (const internal::PackEntries& pack : packs_)
      if (!backend.Remove(Space::kPacks, pack.pack, &error)) problem = error;
    backend.Sync(Space::kIndex, &error);
    backend.Sync(Space::kPacks, &error);
    packs_.clear();
    index_name_.clear();
    added_bytes_ = 0;
    return problem;
  }

  std::vector<Entry> TakeEntries() {
    std::vector<Entry> out;
    out.reserve(items_.size());
    for (WalkItem& item : items_) {
      if (!item.cached && (item.entry.type == "file" || item.entry.type == "stream")) {
        item.entry.chunks.clear();
        for (std::uint32_t s : item.slots) item.entry.chunks.push_back(*slots_.At(s));
      }
      out.push_back(std::move(item.entry));
    }
    return out;
  }

  const std::string& error() const { return error_; }
  std::uint64_t added_bytes() const { return added_bytes_; }
  std::uint64_t files_total() const { return files_total_; }
  const std::vector<std::string>& skipped() const { return skipped_; }

 private:
  bool Fail(std::string message) {
    std::lock_guard lock(error_mutex_);
    if (!failed_) error_ = std::move(message);
    failed_ = true;
    return false;
  }

  void Report(bool final) {
    if (!progress_ || !progress_->report) return;
    auto now = std::chrono::steady_clock::now();
    if (!final && now - last_report_ < std::chrono::milliseconds(progress_->interval_ms)) return;
    last_report_ = now;
    progress_->report(ProgressState{bytes_done_, bytes_total_, files_done_, files_total_});
  }

  // Makes room for at least `want` more bytes after the pending chunk data.
  void EnsureSpace(std::size_t want) {
    if (arena_ && pool_.size() - used_ >= want) return;
    std::shared_ptr<std::uint8_t> fresh = pool_.Get();
    const std::size_t pending = arena_ ? used_ - start_ : 0;
    if (pending) std::memcpy(fresh.get(), arena_.get() + start_, pending);
    arena_ = std::move(fresh);
    start_ = 0;
    used_ = pending;
  }

  void Emit(WalkItem& item, std::size_t size) {
    std::uint32_t slot = slots_.Add();
    item.slots.push_back(slot);
    jobs_.Push(
        Job{arena_, arena_.get() + start_, static_cast<std::uint32_t>(size), slots_.At(slot)});
    start_ += size;
  }

  // Reads a source to its end, emitting chunks. `read` returns bytes, 0 at
  // the end, -1 on error.
  template <typename Read>
  bool ReadSource(WalkItem& item, Read read) {
    item.slots.clear();
    item.bytes_read = 0;
    const std::size_t room = pool_.size() / 2;
    for (;;) {
      if (failed_) return false;
      std::size_t remaining_hint = item.entry.type == "file" && item.entry.size > item.bytes_read
                                       ? item.entry.size - item.bytes_read + 1
                                       : room;
      EnsureSpace(std::clamp<std::size_t>(remaining_hint, 4096, room));
      std::int64_t n = read(arena_.get() + used_, pool_.size() - used_);
      if (n < 0) return false;
      if (n == 0) break;
      used_ += static_cast<std::size_t>(n);
      item.bytes_read += static_cast<std::uint64_t>(n);
      bytes_done_ += static_cast<std::uint64_t>(n);
      while (std::size_t cut = chunker_.Next(arena_.get() + start_, used_ - start_, false))
        Emit(item, cut);
      Report(false);
    }
    while (used_ > start_) Emit(item, chunker_.Next(arena_.get() + start_, used_ - start_, true));
    return true;
  }

  bool ReadFile(WalkItem& item) {
    const std::string& path = item.entry.path;
    const std::uint64_t progress_before = bytes_done_;
    for (int attempt = 0; attempt < 3; ++attempt) {
      bytes_done_ = progress_before;
      int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
      if (fd < 0 && errno == EPERM) fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) return Fail(Errno("cannot read " + path));
      struct stat before {
      }, after{};
      if (::fstat(fd, &before) != 0 || !S_ISREG(before.st_mode)) {
        ::close(fd);
        return Fail(path + " changed while being saved (no longer a regular file)");
      }
      item.entry = FromStat(path, before);
      item.entry.type = "file";
      ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
      int read_errno = 0;
      bool ok = ReadSource(item, [&](std::uint8_t* buffer, std::size_t capacity) -> std::int64_t {
        for (;;) {
          ssize_t n = ::read(fd, buffer, capacity);
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) read_errno = errno;
          return n;
        }
      });
      bool stat_ok = ::fstat(fd, &after) == 0;
      ::close(fd);
      if (!ok) {
        if (failed_) return false;
        errno = read_errno;
        return Fail(Errno("cannot read " + path));
      }
      if (stat_ok && SameFile(before, after) &&
          item.bytes_read == static_cast<std::uint64_t>(before.st_size)) {
        files_done_ += 1;
        return true;
      }
    }
    return Fail(path + " kept changing while it was read (3 attempts); nothing was saved");
  }

  void Work() {
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, vault_.compression_level);
    std::string sample(ZSTD_compressBound(kSample), '\0');
    // Compressed output lands here first: sizing a fresh string to the bound
    // for every chunk would zero a megabyte each time.
    const std::size_t scratch_size = ZSTD_compressBound(chunker_.max_size());
    auto scratch = std::make_unique_for_overwrite<char[]>(scratch_size);
    Job job;
    while (jobs_.Pop(&job)) {
      ChunkId id = internal::Sha256(job.data, job.size);
      *job.slot = id;
      if (failed_) {
        job.arena.reset();
        continue;
      }
      if (vault_.index.chunks.count(id)) {
        job.arena.reset();
        continue;
      }
      {
        std::lock_guard lock(new_mutex_);
        if (!new_ids_.insert(id).second) {
          job.arena.reset();
          continue;
        }
      }
      Blob blob;
      blob.id = id;
      blob.raw = job.size;
      // A sample decides: data that does not compress (media, archives,
      // encrypted files) is stored as is, without spending a full zstd pass.
      bool try_compress = true;
      if (job.size > 2 * kSample) {
        std::size_t n = ZSTD_compress2(cctx, sample.data(), sample.size(), job.data, kSample);
        try_compress = !ZSTD_isError(n) && n < kSample * 97 / 100;
      }
      if (try_compress) {
        std::size_t n = ZSTD_compress2(cctx, scratch.get(), scratch_size, job.data, job.size);
        if (!ZSTD_isError(n) && n < job.size) {
          blob.compressed.assign(scratch.get(), n);
          blob.flags = internal::kCompressed;
        } else {
          try_compress = false;
        }
      }
      if (!try_compress) {
        blob.raw_data = job.data;
        blob.arena = std::move(job.arena);
      }
      job.arena.reset();
      const std::size_t weight = blob.stored().size() + 64;
      blobs_.Push(std::move(blob), weight);
    }
    ZSTD_freeCCtx(cctx);
  }

  void Pack() {
    Blob blob;
    while (blobs_.Pop(&blob)) {
      if (failed_) continue;
      if (pack_.empty()) {
        pack_.reserve(kPackTarget + (8u << 20));
        pack_.assign(internal::kPackMagic);
        current_ = internal::PackEntries{};
      }
      char header[internal::kBlobHeader];
      std::memcpy(header, blob.id.data(), 32);
      header[32] = static_cast<char>(blob.flags);
      const std::string_view data = blob.stored();
      const std::uint32_t stored = static_cast<std::uint32_t>(data.size());
      for (int b = 0; b < 4; ++b) {
        header[33 + b] = static_cast<char>(blob.raw >> (8 * b));
        header[37 + b] = static_cast<char>(stored >> (8 * b));
      }
      pack_.append(header, sizeof(header));
      current_.entries.push_back({blob.id, pack_.size(), stored, blob.raw, blob.flags});
      pack_.append(data);
      blob.arena.reset();
      if (pack_.size() >= kPackTarget) FlushPack();
    }
  }

  void FlushPack() {
    if (pack_.empty() || failed_) return;
    current_.pack = internal::RandomHex(16) + ".pack";
    std::string error;
    if (!vault_.backend->CreateLater(Space::kPacks, current_.pack, pack_, &error)) {
      Fail("cannot write to the vault: " + error);
      return;
    }
    added_bytes_ += pack_.size();
    packs_.push_back(std::move(current_));
    pack_.clear();
  }

  static constexpr std::size_t kSample = 64 << 10;

  Vault::Impl& vault_;
  internal::Chunker chunker_;
  ArenaPool pool_;
  BoundedQueue<Job> jobs_;
  BoundedQueue<Blob> blobs_;
  const Progress* progress_;
  std::chrono::steady_clock::time_point last_report_{};

  std::vector<WalkItem> items_;
  std::vector<std::string> skipped_;
  Slots slots_;
  std::shared_ptr<std::uint8_t> arena_;
  std::size_t start_ = 0, used_ = 0;
  std::uint64_t bytes_done_ = 0, bytes_total_ = 0, files_done_ = 0, files_total_ = 0;

  std::mutex new_mutex_;
  std::unordered_set<ChunkId, internal::ChunkIdHash> new_ids_;

  std::string pack_;
  internal::PackEntries current_;
  std::vector<internal::PackEntries> packs_;
  std::string index_name_;  // the index object this put wrote, if any
  std::uint64_t added_bytes_ = 0;

  std::mutex error_mutex_;
  std::atomic<bool> failed_{false};
  std::string error_;
};

// Absolute, normalised, without a trailing slash.
std::string Absolute(const std::string& path) {
  std::string out = std::filesystem::absolute(path).lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

}  // namespace

std::optional<SnapshotInfo> Vault::Impl::Ingest(const std::vector<std::string>* paths,
                                                const std::vector<NamedStream>* streams,
                                                const SnapshotMeta& meta, const Progress* progress,
                                                std::string* error) {
  std::array<std::uint8_t, 64> secret{};
  if (!LoadSecretKey(&secret, error)) return std::nullopt;
  auto lock = backend->LockWriter(error);
  if (!lock) return std::nullopt;
  if (!LoadIndex(error)) return std::nullopt;

  Manifest manifest;
  manifest.id = internal::RandomHex(8);
  manifest.started_ms = internal::NowMs();
  manifest.info.meta = meta;
  if (manifest.info.meta.kind.empty()) manifest.info.meta.kind = paths ? "files" : "sql_rows";

  auto ingest = std::make_unique<Pipeline>(*this, progress);
  if (paths) {
    if (paths->empty()) {
      *error = "nothing to save: no paths given";
      return std::nullopt;
    }
    for (const std::string& p : *paths) manifest.info.roots.push_back(Absolute(p));
    if (!ingest->Walk(manifest.info.roots)) {
      *error = ingest->error();
      return std::nullopt;
    }
    // The latest snapshot of the same roots lends its unchanged files.
    std::vector<std::string> sorted_roots = manifest.info.roots;
    std::sort(sorted_roots.begin(), sorted_roots.end());
    std::string ignored;
    std::vector<Manifest> all = Summaries(&ignored);
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      std::vector<std::string> roots = it->info.roots;
      std::sort(roots.begin(), roots.end());
      if (roots != sorted_roots || it->info.meta.kind != "files") continue;
      Manifest parent;
      if (ReadManifest(it->id, false, &parent, &ignored)) ingest->UseParent(parent);
      break;
    }
  } else {
    if (!streams || streams->empty()) {
      *error = "nothing to save: no streams given";
      return std::nullopt;
    }
    for (const NamedStream& s : *streams) manifest.info.roots.push_back(s.name);
    ingest->AddStreams(*streams);
  }

  // Anything that fails from here on takes back what this put wrote.
  auto fail = [&](std::string why) -> std::optional<SnapshotInfo> {
    const std::string left = ingest->Discard();
    *error = std::move(why);
    if (!left.empty())
      *error += " (and what this put had written could not all be removed: " + left +
                "; `dualkey vault gc` collects it)";
    return std::nullopt;
  };
  if (!ingest->Run(streams)) return fail(ingest->error());
  std::string index_error;
  if (!ingest->WriteIndex(&index_error)) return fail("cannot write to the vault: " + index_error);
  manifest.entries = ingest->TakeEntries();
  for (const Entry& e : manifest.entries) {
    if (e.type == "file" || e.type == "stream") {
      manifest.info.files += 1;
      manifest.info.bytes += e.size;
    }
  }
  manifest.info.id = manifest.id;
  manifest.info.created_ms = internal::NowMs();
  manifest.info.retain_until_ms = manifest.info.created_ms + retention_days * kDayMs;
  manifest.info.added_bytes = ingest->added_bytes();
  // The manifest's own size counts as added; estimate, then sign the final body.
  std::string body = internal::EncodeManifestBody(manifest);
  manifest.info.added_bytes += body.size() + 160;
  body = internal::EncodeManifestBody(manifest);
  std::string object = internal::SignSnapshot(body, secret.data());
  sodium_memzero(secret.data(), secret.size());
  if (!backend->Create(Space::kSnapshots, manifest.id + ".snap", object, error))
    return fail("cannot write the snapshot: " + *error);
  if (!backend->Sync(Space::kSnapshots, error)) {
    // The snapshot object exists but may not be durable: it stays (its
    // chunks with it); a crash now loses it whole, never in part.
    *error = "cannot make the snapshot durable: " + *error;
    return std::nullopt;
  }
  return manifest.info;
}

}  // namespace dualkey::vault
