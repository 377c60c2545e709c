// The vault: opening, init and retention, listing, verify and prune. Ingest
// (the put pipeline) is in ingest.cc, restore in restore.cc.
#include "vault/vault.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <unordered_set>

#include "approval/approval.h"
#include "audit/audit.h"
#include "base/json_text.h"
#include "install/layout.h"
#include "vault/internal/impl.h"

namespace dualkey::vault {

using internal::ChunkId;
using internal::Manifest;
using internal::Space;
using Json = nlohmann::json;

namespace {

constexpr std::int64_t kDayMs = 24LL * 60 * 60 * 1000;

bool Fail(std::string* error, std::string message) {
  *error = std::move(message);
  return false;
}

std::string KeyPath(const std::string& dir) {
  return dir + "/vault.key";
}

// The vault's signing key: a hex Ed25519 seed, 0600, beside the objects.
bool CreateKey(const std::string& dir, std::array<std::uint8_t, 32>* public_key,
               std::string* error) {
  std::array<std::uint8_t, crypto_sign_SEEDBYTES> seed{};
  randombytes_buf(seed.data(), seed.size());
  std::array<std::uint8_t, crypto_sign_SECRETKEYBYTES> sk{};
  crypto_sign_seed_keypair(public_key->data(), sk.data(), seed.data());
  std::string text = internal::Hex(seed.data(), seed.size()) + "\n";
  sodium_memzero(seed.data(), seed.size());
  sodium_memzero(sk.data(), sk.size());
  int fd = ::open(KeyPath(dir).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Fail(error, "cannot create " + KeyPath(dir) + ": " + std::strerror(errno));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  sodium_memzero(text.data(), text.size());
  ::close(fd);
  if (!ok) return Fail(error, "cannot write " + KeyPath(dir) + ": " + std::strerror(errno));
  return true;
}

std::unique_ptr<Vault::Impl> LoadConfig(const std::string& dir, std::string* error) {
  auto backend = internal::OpenLocalBackend(dir, false, error);
  if (!backend) return nullptr;
  std::string text;
  if (!backend->Read(Space::kConfig, "vault.json", &text, error)) return nullptr;
  Json config = Json::parse(text, nullptr, false);
  auto impl = std::make_unique<Vault::Impl>();
  if (!config.is_object() || config.value("dualkey_vault", 0) != 1 ||
      !internal::FromHex(config.value("public_key", ""), impl->public_key.data(), 32)) {
    *error = dir + "/config/vault.json is not a dualkey vault configuration";
    return nullptr;
  }
  impl->dir = dir;
  impl->vault_id = config.value("id", "");
  impl->created_ms = config.value("created_ms", std::int64_t{0});
  impl->retention_days = config.value("retention_days", 30);
  impl->average_chunk = config.value("average_chunk", std::uint32_t{1} << 20);
  impl->compression_level = config.value("compression_level", 1);
  impl->normalization = config.value("normalization", 0);
  // Extensions: retention/<ms>-<days>. The largest wins; none can lower it.
  std::vector<std::string> names;
  if (!backend->List(Space::kRetention, &names, error)) return nullptr;
  for (const std::string& name : names) {
    std::size_t dash = name.find('-');
    if (dash == std::string::npos) continue;
    int days = std::atoi(name.c_str() + dash + 1);
    impl->retention_days = std::max(impl->retention_days, days);
  }
  impl->backend = std::move(backend);
  return impl;
}

}  // namespace

Vault::Vault(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Vault::Vault(Vault&&) noexcept = default;
Vault& Vault::operator=(Vault&&) noexcept = default;
Vault::~Vault() = default;

int Vault::retention_days() const {
  return impl_->retention_days;
}
const std::string& Vault::dir() const {
  return impl_->dir;
}

std::optional<Vault> Vault::OpenOrInit(const std::string& dir, int retention_days,
                                       std::string* error) {
  std::optional<Vault> vault = Open(dir, error);
  if (vault) return vault;
  if (!Init(dir, retention_days, error)) return std::nullopt;
  return Open(dir, error);
}

std::optional<Vault> Vault::Open(const std::string& dir, std::string* error) {
  if (sodium_init() < 0) {
    *error = "libsodium failed to initialise";
    return std::nullopt;
  }
  std::unique_ptr<Impl> impl = LoadConfig(dir, error);
  if (!impl) return std::nullopt;
  return Vault(std::move(impl));
}

bool Vault::Init(const std::string& dir, int retention_days, std::string* error) {
  InitOptions options;
  options.retention_days = retention_days;
  return Init(dir, options, error);
}

bool Vault::Init(const std::string& dir, const InitOptions& options, std::string* error) {
  if (sodium_init() < 0) return Fail(error, "libsodium failed to initialise");
  if (options.retention_days < 0 || options.retention_days > 36500)
    return Fail(error, "retention must be between 0 and 36500 days");
  if (options.average_chunk < 4096 || options.average_chunk > (64u << 20))
    return Fail(error, "average chunk size must be between 4 KiB and 64 MiB");
  if (options.compression_level < 1 || options.compression_level > 19)
    return Fail(error, "compression level must be between 1 and 19");
  std::string open_error;
  if (std::unique_ptr<Impl> existing = LoadConfig(dir, &open_error)) {
    if (options.retention_days < existing->retention_days)
      return Fail(error, "the vault at " + dir + " keeps snapshots " +
                             std::to_string(existing->retention_days) +
                             " days; retention can be extended, never shortened");
    if (options.retention_days == existing->retention_days) return true;
    const std::string name =
        std::to_string(internal::NowMs()) + "-" + std::to_string(options.retention_days);
    return existing->backend->Create(Space::kRetention, name, "", error) &&
           existing->backend->Sync(Space::kRetention, error);
  }
  struct stat st {};
  if (::stat((dir + "/config").c_str(), &st) == 0)
    return Fail(error, "cannot open the vault at " + dir + ": " + open_error);
  auto backend = internal::OpenLocalBackend(dir, true, error);
  if (!backend) return false;
  std::array<std::uint8_t, 32> public_key{};
  if (::access(KeyPath(dir).c_str(), F_OK) == 0)
    return Fail(error,
                KeyPath(dir) + " exists without a vault configuration; refusing to reuse it");
  if (!CreateKey(dir, &public_key, error)) return false;
  Json config = {{"dualkey_vault", 1},
                 {"id", internal::RandomHex(8)},
                 {"created_ms", internal::NowMs()},
                 {"retention_days", options.retention_days},
                 {"average_chunk", std::bit_floor(options.average_chunk)},
                 {"compression_level", options.compression_level},
                 {"normalization", std::clamp(options.normalization, 0, 2)},
                 {"public_key", internal::Hex(public_key.data(), public_key.size())}};
  return backend->Create(Space::kConfig, "vault.json", config.dump(2) + "\n", error) &&
         backend->Sync(Space::kConfig, error);
}

bool Vault::Impl::LoadSecretKey(std::array<std::uint8_t, 64>* secret, std::string* error) const {
  int fd = ::open(KeyPath(dir).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Fail(
        error, "cannot read the vault's signing key " + KeyPath(dir) + ": " + std::strerror(errno));
  char text[2 * crypto_sign_SEEDBYTES + 2] = {};
  ssize_t n = ::read(fd, text, sizeof(text));
  ::close(fd);
  std::array<std::uint8_t, crypto_sign_SEEDBYTES> seed{};
  std::array<std::uint8_t, 32> pk{};
  bool ok = n >= 2 * static_cast<ssize_t>(crypto_sign_SEEDBYTES) &&
            internal::FromHex(std::string_view(text, 2 * crypto_sign_SEEDBYTES), seed.data(),
                              seed.size());
  sodium_memzero(text, sizeof(text));
  if (!ok) return Fail(error, KeyPath(dir) + " is not a vault signing key");
  crypto_sign_seed_keypair(pk.data(), secret->data(), seed.data());
  sodium_memzero(seed.data(), seed.size());
  if (pk != public_key) return Fail(error, KeyPath(dir) + " does not match the vault's public key");
  return true;
}

bool Vault::Impl::LoadIndex(std::string* error) const {
  // Another process may have added index objects (a put) or replaced them (a
  // prune) since we last looked: load new ones, and start over when one we
  // loaded is gone, so no chunk of a pruned pack is ever taken as present.
  std::lock_guard lock(index_mutex);
  std::vector<std::string> names;
  if (!backend->List(Space::kIndex, &names, error)) return false;
  const std::set<std::string> present(names.begin(), names.end());
  bool removed = false;
  for (const std::string& name : index_objects) removed |= !present.count(name);
  if (removed) {
    index = internal::Index{};
    index_objects.clear();
  }
  for (const std::string& name : names) {
    if (index_objects.count(name)) continue;
    std::string data, problem;
    std::vector<internal::PackEntries> packs;
    if (!backend->Read(Space::kIndex, name, &data, error)) return false;
    index_objects.insert(name);
    // A damaged index object loses only its packs' chunks: verify reports it.
    if (!internal::DecodeIndex(data, &packs, &problem)) continue;
    for (const auto& pack : packs) {
      std::uint32_t number = index.PackNumber(pack.pack);
      for (const auto& e : pack.entries)
        index.chunks.emplace(e.id, internal::Location{number, e.offset, e.stored, e.raw, e.flags});
    }
  }
  return true;
}

bool Vault::Impl::ReadManifest(const std::string& id, bool summary_only, Manifest* out,
                               std::string* error) const {
  std::string object, body;
  if (!backend->Read(Space::kSnapshots, id + ".snap", &object, error)) return false;
  if (!internal::OpenSnapshot(object, public_key.data(), &body, error) ||
      !internal::DecodeManifestBody(body, summary_only, out, error)) {
    *error = "snapshot " + id + ": " + *error;
    return false;
  }
  if (out->id != id) return Fail(error, "snapshot " + id + ": its manifest names " + out->id);
  out->info.retain_until_ms = EffectiveRetainUntil(out->info);
  return true;
}

std::int64_t Vault::Impl::EffectiveRetainUntil(const SnapshotInfo& info) const {
  return std::max(info.retain_until_ms, info.created_ms + retention_days * kDayMs);
}

std::vector<Manifest> Vault::Impl::Summaries(std::string* error) const {
  std::vector<std::string> names;
  std::vector<Manifest> out;
  if (!backend->List(Space::kSnapshots, &names, error)) return out;
  for (const std::string& name : names) {
    if (name.size() < 6 || name.substr(name.size() - 5) != ".snap") continue;
    Manifest m;
    std::string problem;
    if (ReadManifest(name.substr(0, name.size() - 5), true, &m, &problem))
      out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const Manifest& a, const Manifest& b) {
    return a.info.created_ms != b.info.created_ms ? a.info.created_ms < b.info.created_ms
                                                  : a.id < b.id;
  });
  return out;
}

std::optional<std::string> Vault::Impl::Resolve(const std::string& id, std::string* error) const {
  if (id == "latest") {
    std::vector<Manifest> all = Summaries(error);
    if (all.empty()) {
      if (error->empty()) *error = "the vault has no snapshots yet";
      return std::nullopt;
    }
    return all.back().id;
  }
  std::vector<std::string> names, matches;
  if (!backend->List(Space::kSnapshots, &names, error)) return std::nullopt;
  for (const std::string& name : names)
    if (name.size() > 5 && name.compare(0, id.size(), id) == 0 && !id.empty())
      matches.push_back(name.substr(0, name.size() - 5));
  if (matches.size() == 1) return matches[0];
  *error = matches.empty() ? "no snapshot " + id + " (see `dualkey vault ls`)"
                           : "snapshot id " + id + " is ambiguous; give more characters";
  return std::nullopt;
}

std::optional<SnapshotInfo> Vault::PutPaths(const std::vector<std::string>& paths,
                                            const SnapshotMeta& meta, const Progress* progress,
                                            std::string* error) {
  return impl_->Ingest(&paths, nullptr, meta, progress, error);
}

std::optional<SnapshotInfo> Vault::PutStreams(const std::vector<NamedStream>& streams,
                                              const SnapshotMeta& meta, std::string* error) {
  return impl_->Ingest(nullptr, &streams, meta, nullptr, error);
}

std::vector<SnapshotInfo> Vault::List(std::string* error) const {
  std::vector<SnapshotInfo> out;
  for (Manifest& m : impl_->Summaries(error)) out.push_back(std::move(m.info));
  return out;
}

std::optional<SnapshotInfo> Vault::Show(const std::string& id, std::vector<EntryInfo>* entries,
                                        std::string* error) const {
  std::optional<std::string> exact = impl_->Resolve(id, error);
  if (!exact) return std::nullopt;
  Manifest m;
  if (!impl_->ReadManifest(*exact, entries == nullptr, &m, error)) return std::nullopt;
  if (entries) {
    entries->clear();
    for (const internal::Entry& e : m.entries)
      entries->push_back(EntryInfo{e.path, e.type, e.mode, e.size, e.mtime_ns, e.target});
  }
  return m.info;
}

namespace {

// The intact blobs of one pack object, as an index records them; what is
// wrong with the rest goes to `problems`.
void ScanPack(const std::string& name, const std::string& data,
              std::vector<internal::PackEntries::Entry>* entries,
              std::vector<std::string>* problems) {
  std::string raw, problem;
  if (data.compare(0, internal::kPackMagic.size(), internal::kPackMagic) != 0) {
    problems->push_back("pack " + name + ": bad header (damaged)");
    return;
  }
  std::size_t pos = internal::kPackMagic.size();
  while (pos < data.size()) {
    if (data.size() - pos < internal::kBlobHeader) {
      problems->push_back("pack " + name + ": truncated blob header at offset " +
                          std::to_string(pos));
      return;
    }
    ChunkId id;
    std::memcpy(id.data(), data.data() + pos, 32);
    const std::uint8_t flags = static_cast<std::uint8_t>(data[pos + 32]);
    std::uint32_t raw_size = 0, stored = 0;
    for (int b = 0; b < 4; ++b) {
      raw_size |= std::uint32_t(std::uint8_t(data[pos + 33 + b])) << (8 * b);
      stored |= std::uint32_t(std::uint8_t(data[pos + 37 + b])) << (8 * b);
    }
    const std::size_t start = pos + internal::kBlobHeader;
    if (stored > data.size() - start) {
      problems->push_back("pack " + name + ": blob at offset " + std::to_string(pos) +
                          " runs past the end (truncated or damaged)");
      return;
    }
    if (internal::DecodeBlob(id, flags, data.data() + start, stored, raw_size, &raw, &problem))
      entries->push_back({id, start, stored, raw_size, flags});
    else
      problems->push_back("pack " + name + " offset " + std::to_string(pos) + ": " + problem);
    pos = start + stored;
  }
}

std::string ShortId(const std::string& name) {
  return name.size() > 12 ? name.substr(0, 12) + "…" : name;
}

}  // namespace

VerifyReport Vault::Verify(const Progress* progress) const {
  VerifyReport report;
  std::string error;
  const internal::Backend& backend = *impl_->backend;
  // Index objects: each must be intact; together they say where each chunk is.
  std::vector<std::string> index_names, pack_names;
  std::unordered_map<std::string, std::vector<internal::PackEntries::Entry>> indexed;
  std::vector<std::string> damaged_indexes;
  if (!backend.List(Space::kIndex, &index_names, &error) ||
      !backend.List(Space::kPacks, &pack_names, &error)) {
    report.problems.push_back(error);
    return report;
  }
  for (const std::string& name : index_names) {
    std::string data, problem;
    std::vector<internal::PackEntries> packs;
    if (!backend.Read(Space::kIndex, name, &data, &problem) ||
        !internal::DecodeIndex(data, &packs, &problem)) {
      report.problems.push_back("index " + name + ": " + problem);
      damaged_indexes.push_back(name);
      continue;
    }
    for (auto& pack : packs) {
      auto& list = indexed[pack.pack];
      list.insert(list.end(), pack.entries.begin(), pack.entries.end());
    }
  }
  const std::set<std::string> present(pack_names.begin(), pack_names.end());
  for (const auto& [pack, entries] : indexed)
    if (!present.count(pack)) report.problems.push_back("pack " + pack + ": missing (indexed)");

  // Packs, in parallel: every blob re-read, decompressed and re-hashed.
  std::uint64_t total_bytes = 0;
  for (const std::string& name : pack_names) {
    std::uint64_t size = 0;
    if (backend.Size(Space::kPacks, name, &size, &error)) total_bytes += size;
  }
  std::mutex mutex;
  std::unordered_set<ChunkId, internal::ChunkIdHash> good;        // intact in some pack
  std::unordered_set<ChunkId, internal::ChunkIdHash> restorable;  // ... where an index says
  std::map<std::string, std::vector<ChunkId>> unindexed_packs;    // pack -> its intact chunks
  std::atomic<std::size_t> next{0};
  std::atomic<std::uint64_t> bytes_done{0};
  auto worker = [&] {
    std::string data, problem;
    for (std::size_t i; (i = next.fetch_add(1)) < pack_names.size();) {
      const std::string& name = pack_names[i];
      std::vector<std::string> problems;
      std::vector<internal::PackEntries::Entry> entries;
      data.clear();
      if (!backend.Read(Space::kPacks, name, &data, &problem))
        problems.push_back("pack " + name + ": " + problem);
      else
        ScanPack(name, data, &entries, &problems);
      bytes_done += data.size();
      std::lock_guard lock(mutex);
      auto it = indexed.find(name);
      if (it == indexed.end()) {
        std::vector<ChunkId>& ids = unindexed_packs[name];
        for (const auto& e : entries) ids.push_back(e.id);
      } else {
        std::set<std::uint64_t> offsets;
        for (const auto& e : entries) offsets.insert(e.offset);
        for (const auto& e : it->second) {
          if (offsets.count(e.offset))
            restorable.insert(e.id);
          else
            problems.push_back("pack " + name + ": indexed chunk " + internal::Hex(e.id) +
                               " not found intact at offset " + std::to_string(e.offset));
        }
      }
      for (const auto& e : entries) good.insert(e.id);
      report.chunks += entries.size();
      report.packs += 1;
      report.bytes += data.size();
      report.problems.insert(report.problems.end(), problems.begin(), problems.end());
      if (progress && progress->report)
        progress->report(
            ProgressState{bytes_done.load(), total_bytes, report.packs, pack_names.size()});
    }
  };
  std::vector<std::thread> threads;
  unsigned n = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
  for (unsigned i = 0; i < n; ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();

  // Snapshots: signature, and every chunk present, intact and found by an
  // index (restore looks chunks up there).
  std::unordered_set<ChunkId, internal::ChunkIdHash> needed;
  std::vector<std::string> snap_names;
  backend.List(Space::kSnapshots, &snap_names, &error);
  for (const std::string& name : snap_names) {
    if (name.size() < 6 || name.substr(name.size() - 5) != ".snap") continue;
    Manifest m;
    std::string problem;
    const std::string id = name.substr(0, name.size() - 5);
    if (!impl_->ReadManifest(id, false, &m, &problem)) {
      report.problems.push_back(problem);
      report.unrestorable.emplace_back(id, "its snapshot object cannot be read: " + problem);
      continue;
    }
    report.snapshots += 1;
    std::size_t damaged = 0, unindexed = 0;
    std::string first_damaged, first_unindexed;
    for (const internal::Entry& e : m.entries) {
      for (const ChunkId& c : e.chunks) {
        needed.insert(c);
        if (restorable.count(c)) continue;
        if (good.count(c)) {
          if (unindexed++ == 0) first_unindexed = e.path;
        } else if (damaged++ == 0) {
          first_damaged = e.path;
        }
      }
    }
    std::string why;
    if (damaged)
      why = std::to_string(damaged) + " chunk(s) missing or damaged, first in " +
            base::ToValidUtf8(first_damaged);
    if (unindexed) {
      why += (why.empty() ? "" : "; ") + std::to_string(unindexed) +
             " chunk(s) intact in packs that no readable index names, first in " +
             base::ToValidUtf8(first_unindexed) +
             (damaged_indexes.empty()
                  ? std::string()
                  : " (index " + ShortId(damaged_indexes.front()) + " is damaged)") +
             "; `dualkey vault gc` re-indexes them";
    }
    if (!why.empty()) {
      report.problems.push_back("snapshot " + id + " cannot be fully restored: " + why);
      report.unrestorable.emplace_back(id, why);
    }
  }
  for (const auto& [pack, ids] : unindexed_packs) {
    const bool wanted =
        std::any_of(ids.begin(), ids.end(), [&](const ChunkId& c) { return needed.count(c) > 0; });
    if (wanted)
      report.notes.push_back("pack " + pack +
                             ": in no readable index, and snapshots need it (`dualkey vault gc` "
                             "re-indexes it)");
    else
      report.notes.push_back("pack " + pack +
                             ": not in any index and no snapshot needs it (left by an "
                             "interrupted put; `dualkey vault gc` removes it)");
  }
  std::sort(report.notes.begin(), report.notes.end());
  report.ok = report.problems.empty();
  return report;
}

std::optional<PruneReport> Vault::Prune(const PruneOptions& options, std::string* error) {
  auto lock = impl_->backend->LockWriter(error);
  if (!lock) return std::nullopt;
  // The vault's own audit log records every prune, refused or not.
  audit::OpenOptions audit_options;
  audit_options.path = impl_->dir + "/audit.jsonl";
  audit_options.key_path = impl_->dir + "/audit.key";
  Result<std::unique_ptr<audit::Log>> opened = audit::Log::Open(audit_options);
  if (!opened.ok()) {
    *error = "cannot open the vault's audit log (prune needs it): " + opened.status().message();
    return std::nullopt;
  }
  std::unique_ptr<audit::Log> log = std::move(opened).value();
  std::string audit_error;
  auto record = [&](const std::string& kind, Json fields) {
    fields["vault"] = impl_->dir;
    Result<std::uint64_t> appended = log->Append(audit::Record{kind, base::JsonDump(fields)});
    if (!appended.ok()) audit_error = appended.status().message();
    return appended.ok();
  };
  auto refuse = [&](const std::string& why) -> std::optional<PruneReport> {
    record("vault_prune_refused", Json{{"approver", options.approver}, {"why", why}});
    *error = why;
    return std::nullopt;
  };

  // A human's TOTP code, checked where the daemon checks its codes (with the
  // same lockouts); spent only once the prune's audit record is durable.
  if (options.approver.empty()) return refuse("prune needs --as NAME and --code CODE");
  Result<std::unique_ptr<approval::Store>> opened_store = approval::OpenStore(options.store);
  if (!opened_store.ok())
    return refuse("cannot open the approval store " + options.store + ": " +
                  opened_store.status().message());
  std::unique_ptr<approval::Store> store = std::move(opened_store).value();
  const approval::AuthResult auth = approval::Authorize(
      *store, options.approver, options.totp, "vault_prune:" + impl_->dir, internal::NowMs());
  if (!auth.status.ok()) return refuse(auth.status.message());
  auto spend = [&]() {
    const Status used = store->UseTotpStep(auth.spend.approver, auth.spend.step);
    if (used.ok()) return true;
    if (error != nullptr) *error = used.message();
    record("vault_prune_not_applied",
           Json{{"approver", options.approver}, {"why", used.message()}});
    return false;
  };

  // What has expired, by the wall clock; nothing else can be chosen.
  const std::int64_t now = internal::NowMs();
  std::string list_error;
  std::vector<Manifest> summaries = impl_->Summaries(&list_error);
  if (!list_error.empty()) return refuse(list_error);
  PruneReport report;
  std::vector<std::string> expired;
  std::vector<std::string> keep;
  for (const Manifest& m : summaries) {
    if (m.info.retain_until_ms <= now)
      expired.push_back(m.id);
    else
      keep.push_back(m.id);
  }
  report.kept_unexpired = keep;
  report.snapshots_removed = expired;

  // Chunks still needed; packs holding none of them go.
  if (!impl_->LoadIndex(error)) return refuse(*error);
  std::unordered_set<ChunkId, internal::ChunkIdHash> needed;
  for (const std::string& id : keep) {
    Manifest m;
    if (!impl_->ReadManifest(id, false, &m, error)) return refuse(*error);
    for (const auto& e : m.entries) needed.insert(e.chunks.begin(), e.chunks.end());
  }
  std::vector<internal::PackEntries> surviving(impl_->index.packs.size());
  for (std::size_t i = 0; i < surviving.size(); ++i) surviving[i].pack = impl_->index.packs[i];
  std::vector<bool> pack_needed(impl_->index.packs.size(), false);
  for (const auto& [id, loc] : impl_->index.chunks) {
    surviving[loc.pack].entries.push_back({id, loc.offset, loc.stored, loc.raw, loc.flags});
    if (needed.count(id)) pack_needed[loc.pack] = true;
  }
  std::vector<std::string> pack_names, remove_packs, index_names;
  impl_->backend->List(Space::kPacks, &pack_names, error);
  impl_->backend->List(Space::kIndex, &index_names, error);
  std::vector<internal::PackEntries> kept_packs;
  for (std::size_t i = 0; i < surviving.size(); ++i)
    if (pack_needed[i]) kept_packs.push_back(std::move(surviving[i]));
  std::set<std::string> kept_names;
  for (const auto& p : kept_packs) kept_names.insert(p.pack);
  for (const std::string& name : pack_names) {
    if (kept_names.count(name)) continue;
    // Unindexed packs (a put interrupted between its packs and its index)
    // go too, but only once they are older than the retention.
    struct stat st {};
    bool indexed = impl_->index.pack_numbers.count(name) > 0;
    if (!indexed && ::stat((impl_->dir + "/packs/" + name).c_str(), &st) == 0 &&
        st.st_mtime * 1000LL + impl_->retention_days * kDayMs > now)
      continue;
    // Unindexed is not unused: a damaged index object leaves packs that kept
    // snapshots need without an index naming them. Those stay.
    if (!indexed) {
      std::string data, problem;
      std::vector<internal::PackEntries::Entry> entries;
      std::vector<std::string> problems;
      if (!impl_->backend->Read(Space::kPacks, name, &data, &problem)) continue;
      ScanPack(name, data, &entries, &problems);
      if (!problems.empty() || std::any_of(entries.begin(), entries.end(),
                                           [&](const auto& e) { return needed.count(e.id) > 0; }))
        continue;
    }
    remove_packs.push_back(name);
    std::uint64_t size = 0;
    if (impl_->backend->Size(Space::kPacks, name, &size, error)) report.bytes_freed += size;
  }
  report.packs_removed = remove_packs.size();
  if (options.dry_run) {
    if (!record("vault_prune_dry_run", Json{{"approver", options.approver},
                                            {"would_remove", expired},
                                            {"packs", remove_packs.size()}})) {
      *error =
          "cannot record the prune in the audit log (" + audit_error + "); the code is unspent";
      return std::nullopt;
    }
    if (!spend()) return std::nullopt;
    return report;
  }
  if (expired.empty() && remove_packs.empty()) {
    if (!record("vault_prune", Json{{"approver", options.approver}, {"removed", Json::array()}})) {
      *error =
          "cannot record the prune in the audit log (" + audit_error + "); the code is unspent";
      return std::nullopt;
    }
    if (!spend()) return std::nullopt;
    return report;
  }
  if (!record("vault_prune", Json{{"approver", options.approver},
                                  {"removed", expired},
                                  {"packs", remove_packs.size()},
                                  {"bytes", report.bytes_freed}})) {
    *error = "cannot record the prune in the audit log (" + audit_error +
             "); nothing deleted and the code is unspent";
    return std::nullopt;
  }
  if (!spend()) return std::nullopt;
  // Order keeps the vault consistent at every step: the new index (only
  // surviving packs) is durable first; then snapshots go, then old index
  // objects, then packs nothing references any more.
  const std::string index_name = internal::RandomHex(16) + ".idx";
  if (!impl_->backend->Create(Space::kIndex, index_name, internal::EncodeIndex(kept_packs),
                              error) ||
      !impl_->backend->Sync(Space::kIndex, error))
    return std::nullopt;
  for (const std::string& id : expired)
    if (!impl_->backend->Remove(Space::kSnapshots, id + ".snap", error)) return std::nullopt;
  impl_->backend->Sync(Space::kSnapshots, error);
  for (const std::string& name : index_names)
    if (!impl_->backend->Remove(Space::kIndex, name, error)) return std::nullopt;
  impl_->backend->Sync(Space::kIndex, error);
  for (const std::string& name : remove_packs)
    if (!impl_->backend->Remove(Space::kPacks, name, error)) return std::nullopt;
  impl_->backend->Sync(Space::kPacks, error);
  return report;
}

std::optional<GcReport> Vault::Gc(const GcOptions& options, std::string* error) {
  auto lock = impl_->backend->LockWriter(error);
  if (!lock) return std::nullopt;
  internal::Backend& backend = *impl_->backend;
  // Everything every snapshot needs; while one cannot be read, its needs
  // are unknown and nothing is removed.
  std::unordered_set<ChunkId, internal::ChunkIdHash> needed;
  std::vector<std::string> snap_names;
  if (!backend.List(Space::kSnapshots, &snap_names, error)) return std::nullopt;
  for (const std::string& name : snap_names) {
    if (name.size() < 6 || name.substr(name.size() - 5) != ".snap") continue;
    Manifest m;
    std::string problem;
    if (!impl_->ReadManifest(name.substr(0, name.size() - 5), false, &m, &problem)) {
      *error = problem +
               "; gc changes nothing while a snapshot's needs are unknown (see "
               "`dualkey vault verify`)";
      return std::nullopt;
    }
    for (const auto& e : m.entries) needed.insert(e.chunks.begin(), e.chunks.end());
  }
  // What the readable index objects say; damaged ones are replaced.
  std::vector<std::string> index_names, pack_names;
  if (!backend.List(Space::kIndex, &index_names, error) ||
      !backend.List(Space::kPacks, &pack_names, error))
    return std::nullopt;
  std::map<std::string, std::vector<internal::PackEntries::Entry>> indexed;
  GcReport report;
  for (const std::string& name : index_names) {
    std::string data, problem;
    std::vector<internal::PackEntries> packs;
    if (!backend.Read(Space::kIndex, name, &data, &problem) ||
        !internal::DecodeIndex(data, &packs, &problem)) {
      report.index_replaced.push_back(name);
      continue;
    }
    for (auto& pack : packs) {
      auto& list = indexed[pack.pack];
      list.insert(list.end(), pack.entries.begin(), pack.entries.end());
    }
  }
  std::vector<internal::PackEntries> kept;
  for (const std::string& name : pack_names) {
    std::vector<internal::PackEntries::Entry> entries;
    auto it = indexed.find(name);
    const bool in_index = it != indexed.end();
    if (in_index) {
      entries = it->second;
    } else {
      // Named by no readable index: what it holds is read from the pack.
      std::string data, problem;
      std::vector<std::string> problems;
      if (!backend.Read(Space::kPacks, name, &data, &problem)) {
        *error = "pack " + name + ": " + problem;
        return std::nullopt;
      }
      ScanPack(name, data, &entries, &problems);
    }
    const bool wanted = std::any_of(entries.begin(), entries.end(),
                                    [&](const auto& e) { return needed.count(e.id) > 0; });
    if (wanted) {
      if (!in_index) report.packs_reindexed.push_back(name);
      kept.push_back(internal::PackEntries{name, std::move(entries)});
    } else {
      report.packs_removed.push_back(name);
      std::uint64_t size = 0;
      if (backend.Size(Space::kPacks, name, &size, error)) report.bytes_freed += size;
    }
  }
  const bool changes = !report.packs_removed.empty() || !report.packs_reindexed.empty() ||
                       !report.index_replaced.empty();
  if (!changes) return report;
  // All index objects are folded into one that names exactly the kept packs.
  report.index_replaced = index_names;

  audit::OpenOptions audit_options;
  audit_options.path = impl_->dir + "/audit.jsonl";
  audit_options.key_path = impl_->dir + "/audit.key";
  Result<std::unique_ptr<audit::Log>> log = audit::Log::Open(audit_options);
  if (!log.ok()) {
    *error = "cannot open the vault's audit log (gc needs it): " + log.status().message();
    return std::nullopt;
  }
  Json fields{{"vault", impl_->dir},
              {"dry_run", options.dry_run},
              {"packs_removed", report.packs_removed},
              {"bytes_freed", report.bytes_freed},
              {"packs_reindexed", report.packs_reindexed},
              {"index_replaced", report.index_replaced}};
  if (Result<std::uint64_t> appended = (*log)->Append(
          audit::Record{options.dry_run ? "vault_gc_dry_run" : "vault_gc", base::JsonDump(fields)});
      !appended.ok()) {
    *error = "cannot record the gc in the audit log (" + appended.status().message() +
             "); nothing changed";
    return std::nullopt;
  }
  if (options.dry_run) return report;
  // The new index is durable before anything it replaces goes, and packs go
  // last: at every step each snapshot's chunks are found.
  const std::string index_name = internal::RandomHex(16) + ".idx";
  if (!backend.Create(Space::kIndex, index_name, internal::EncodeIndex(kept), error) ||
      !backend.Sync(Space::kIndex, error))
    return std::nullopt;
  for (const std::string& name : index_names)
    if (!backend.Remove(Space::kIndex, name, error)) return std::nullopt;
  backend.Sync(Space::kIndex, error);
  for (const std::string& name : report.packs_removed)
    if (!backend.Remove(Space::kPacks, name, error)) return std::nullopt;
  backend.Sync(Space::kPacks, error);
  return report;
}

std::string DefaultVaultDir() {
  if (const char* dir = std::getenv("DUALKEY_VAULT"); dir && *dir) return dir;
  return install::DefaultStateDir() + "/vault";
}

NamedStream StreamFromFd(std::string name, int fd) {
  return NamedStream{std::move(name), [fd](char* buffer, std::size_t capacity) -> std::int64_t {
                       for (;;) {
                         ssize_t n = ::read(fd, buffer, capacity);
                         if (n < 0 && errno == EINTR) continue;
                         return n;
                       }
                     }};
}

NamedStream StreamFromString(std::string name, std::string data) {
  auto shared = std::make_shared<std::string>(std::move(data));
  auto offset = std::make_shared<std::size_t>(0);
  return NamedStream{std::move(name),
                     [shared, offset](char* buffer, std::size_t capacity) -> std::int64_t {
                       std::size_t n = std::min(capacity, shared->size() - *offset);
                       std::memcpy(buffer, shared->data() + *offset, n);
                       *offset += n;
                       return static_cast<std::int64_t>(n);
                     }};
}

}  // namespace dualkey::vault
