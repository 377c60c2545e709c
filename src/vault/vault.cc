// The vault: opening, init and retention, reading snapshots and listing them.
// Ingest (the put pipeline) is in ingest.cc, restore in restore.cc, verify,
// prune and gc in maintenance.cc.
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

#include "base/json_text.h"
#include "install/layout.h"
#include "vault/internal/impl.h"

namespace dualkey::vault {

using internal::Manifest;
using internal::Space;
using Json = nlohmann::json;

namespace {

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

// kNotFound when there is no vault at `dir`.
Result<std::unique_ptr<Vault::Impl>> LoadConfig(const std::string& dir) {
  std::string error;
  // Without `create`, the only failure is a vault that is not there.
  auto backend = internal::OpenLocalBackend(dir, false, &error);
  if (!backend) return Status::NotFound(error);
  std::string text;
  if (!backend->Read(Space::kConfig, "vault.json", &text, &error)) return Status::IOError(error);
  Json config = Json::parse(text, nullptr, false);
  auto impl = std::make_unique<Vault::Impl>();
  if (!config.is_object() || config.value("dualkey_vault", 0) != 1 ||
      !internal::FromHex(config.value("public_key", ""), impl->public_key.data(), 32))
    return Status::Corruption(dir + "/config/vault.json is not a dualkey vault configuration");
  impl->dir = dir;
  impl->vault_id = config.value("id", "");
  impl->created_ms = config.value("created_ms", std::int64_t{0});
  impl->retention_days = config.value("retention_days", 30);
  impl->average_chunk = config.value("average_chunk", std::uint32_t{1} << 20);
  impl->compression_level = config.value("compression_level", 1);
  impl->normalization = config.value("normalization", 0);
  // Extensions: retention/<ms>-<days>. The largest wins; none can lower it.
  std::vector<std::string> names;
  if (!backend->List(Space::kRetention, &names, &error)) return Status::IOError(error);
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

Result<Vault> Vault::OpenOrInit(const std::string& dir, int retention_days) {
  Result<Vault> vault = Open(dir);
  if (vault.ok()) return vault;
  if (Status init = Init(dir, retention_days); !init.ok()) return init;
  return Open(dir);
}

Result<Vault> Vault::Open(const std::string& dir) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  Result<std::unique_ptr<Impl>> impl = LoadConfig(dir);
  if (!impl.ok()) return impl.status();
  return Vault(std::move(impl).value());
}

Status Vault::Init(const std::string& dir, int retention_days) {
  InitOptions options;
  options.retention_days = retention_days;
  return Init(dir, options);
}

Status Vault::Init(const std::string& dir, const InitOptions& options) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  if (options.retention_days < 0 || options.retention_days > 36500)
    return Status::InvalidArgument("retention must be between 0 and 36500 days");
  if (options.average_chunk < 4096 || options.average_chunk > (64u << 20))
    return Status::InvalidArgument("average chunk size must be between 4 KiB and 64 MiB");
  if (options.compression_level < 1 || options.compression_level > 19)
    return Status::InvalidArgument("compression level must be between 1 and 19");
  std::string error;
  Result<std::unique_ptr<Impl>> loaded = LoadConfig(dir);
  if (loaded.ok()) {
    const std::unique_ptr<Impl>& existing = loaded.value();
    if (options.retention_days < existing->retention_days)
      return Status::FailedPrecondition("the vault at " + dir + " keeps snapshots " +
                                        std::to_string(existing->retention_days) +
                                        " days; retention can be extended, never shortened");
    if (options.retention_days == existing->retention_days) return Status::Ok();
    const std::string name =
        std::to_string(internal::NowMs()) + "-" + std::to_string(options.retention_days);
    if (!existing->backend->Create(Space::kRetention, name, "", &error) ||
        !existing->backend->Sync(Space::kRetention, &error))
      return Status::IOError(error);
    return Status::Ok();
  }
  struct stat st {};
  if (::stat((dir + "/config").c_str(), &st) == 0)
    return Status::IOError("cannot open the vault at " + dir + ": " + loaded.status().message());
  auto backend = internal::OpenLocalBackend(dir, true, &error);
  if (!backend) return Status::IOError(error);
  std::array<std::uint8_t, 32> public_key{};
  if (::access(KeyPath(dir).c_str(), F_OK) == 0)
    return Status::FailedPrecondition(
        KeyPath(dir) + " exists without a vault configuration; refusing to reuse it");
  if (!CreateKey(dir, &public_key, &error)) return Status::IOError(error);
  Json config = {{"dualkey_vault", 1},
                 {"id", internal::RandomHex(8)},
                 {"created_ms", internal::NowMs()},
                 {"retention_days", options.retention_days},
                 {"average_chunk", std::bit_floor(options.average_chunk)},
                 {"compression_level", options.compression_level},
                 {"normalization", std::clamp(options.normalization, 0, 2)},
                 {"public_key", internal::Hex(public_key.data(), public_key.size())}};
  if (!backend->Create(Space::kConfig, "vault.json", config.dump(2) + "\n", &error) ||
      !backend->Sync(Space::kConfig, &error))
    return Status::IOError(error);
  return Status::Ok();
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

Result<std::string> Vault::Impl::Resolve(const std::string& id) const {
  std::string error;
  if (id == "latest") {
    std::vector<Manifest> all = Summaries(&error);
    if (all.empty()) {
      if (!error.empty()) return Status::IOError(error);
      return Status::NotFound("the vault has no snapshots yet");
    }
    return all.back().id;
  }
  std::vector<std::string> names, matches;
  if (!backend->List(Space::kSnapshots, &names, &error)) return Status::IOError(error);
  for (const std::string& name : names)
    if (name.size() > 5 && name.compare(0, id.size(), id) == 0 && !id.empty())
      matches.push_back(name.substr(0, name.size() - 5));
  if (matches.size() == 1) return matches[0];
  if (matches.empty()) return Status::NotFound("no snapshot " + id + " (see `dualkey vault ls`)");
  return Status::InvalidArgument("snapshot id " + id + " is ambiguous; give more characters");
}

Result<SnapshotInfo> Vault::PutPaths(const std::vector<std::string>& paths,
                                     const SnapshotMeta& meta, const Progress* progress) {
  std::string error;
  std::optional<SnapshotInfo> info = impl_->Ingest(&paths, nullptr, meta, progress, &error);
  if (!info) return Status::IOError(error);
  return std::move(*info);
}

Result<SnapshotInfo> Vault::PutStreams(const std::vector<NamedStream>& streams,
                                       const SnapshotMeta& meta) {
  std::string error;
  std::optional<SnapshotInfo> info = impl_->Ingest(nullptr, &streams, meta, nullptr, &error);
  if (!info) return Status::IOError(error);
  return std::move(*info);
}

Result<std::vector<SnapshotInfo>> Vault::List() const {
  std::string error;
  std::vector<SnapshotInfo> out;
  for (Manifest& m : impl_->Summaries(&error)) out.push_back(std::move(m.info));
  if (!error.empty()) return Status::IOError(error);
  return out;
}

Result<SnapshotInfo> Vault::Show(const std::string& id, std::vector<EntryInfo>* entries) const {
  Result<std::string> exact = impl_->Resolve(id);
  if (!exact.ok()) return exact.status();
  Manifest m;
  std::string error;
  if (!impl_->ReadManifest(*exact, entries == nullptr, &m, &error)) return Status::IOError(error);
  if (entries) {
    entries->clear();
    for (const internal::Entry& e : m.entries)
      entries->push_back(EntryInfo{e.path, e.type, e.mode, e.size, e.mtime_ns, e.target});
  }
  return m.info;
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
