// Vault::Impl, shared by vault.cc (open, list), maintenance.cc (verify,
// prune, gc), ingest.cc and restore.cc.
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "vault/internal/backend.h"
#include "vault/internal/format.h"
#include "vault/vault.h"

namespace dualkey::vault {

inline constexpr std::int64_t kDayMs = 24LL * 60 * 60 * 1000;

struct Vault::Impl {
  std::string dir;
  std::unique_ptr<internal::Backend> backend;
  std::string vault_id;
  std::int64_t created_ms = 0;
  int retention_days = 30;  // effective: the largest ever set
  std::uint32_t average_chunk = 1 << 20;
  int compression_level = 1;
  int normalization = 0;  // chunker.h
  std::array<std::uint8_t, 32> public_key{};

  // Where each chunk is: brought up to date with the index objects on disk
  // by LoadIndex at the start of every put, restore and prune.
  mutable std::mutex index_mutex;
  mutable std::set<std::string> index_objects;  // loaded
  mutable internal::Index index;
  bool LoadIndex(std::string* error) const;

  // Reads and checks (signature) one snapshot; `id` is the exact id.
  bool ReadManifest(const std::string& id, bool summary_only, internal::Manifest* out,
                    std::string* error) const;
  // Resolves a unique prefix or "latest": kNotFound when none matches (or
  // there is no snapshot), kInvalidArgument when several do.
  Result<std::string> Resolve(const std::string& id) const;
  std::vector<internal::Manifest> Summaries(std::string* error) const;
  std::int64_t EffectiveRetainUntil(const SnapshotInfo& info) const;

  // The signing key (vault.key), only needed by writers.
  bool LoadSecretKey(std::array<std::uint8_t, 64>* secret, std::string* error) const;

  std::optional<SnapshotInfo> Ingest(const std::vector<std::string>* paths,
                                     const std::vector<NamedStream>* streams,
                                     const SnapshotMeta& meta, const Progress* progress,
                                     std::string* error);
};

}  // namespace dualkey::vault
