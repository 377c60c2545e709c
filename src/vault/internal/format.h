// The vault's on-disk formats, shared by ingest, restore, verify and prune.
//
// Pack (packs/<32 hex>.pack): "DKVPACK1", then blobs, each
//   [32 chunk id][1 flags][4 raw length LE][4 stored length LE][stored bytes]
//   flags bit 0: zstd-compressed. The chunk id is SHA-256 of the raw bytes.
// Index (index/<32 hex>.idx): "DKVIDX01", then per pack
//   [2 name length][name][4 count] and count x [32 id][8 offset][4 stored][4 raw][1 flags]
//   (offset: where the stored bytes start), then SHA-256 of everything before.
// Snapshot (snapshots/<16 hex>.snap): "DKVSNAP1\n", a JSON header line
//   {"body_len":N,"sig":"<hex Ed25519 signature of the body>"}, then the body:
//   zstd of a summary JSON line, '\n', and a JSON array of entries.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/encoding.h"
#include "vault/vault.h"

namespace dualkey::vault::internal {

using ChunkId = std::array<std::uint8_t, 32>;

struct ChunkIdHash {
  std::size_t operator()(const ChunkId& id) const {
    std::size_t h;
    static_assert(sizeof(h) <= sizeof(ChunkId));
    __builtin_memcpy(&h, id.data(), sizeof(h));
    return h;
  }
};

inline constexpr std::string_view kPackMagic = "DKVPACK1";
inline constexpr std::string_view kIndexMagic = "DKVIDX01";
inline constexpr std::string_view kSnapshotMagic = "DKVSNAP1\n";
inline constexpr std::size_t kBlobHeader = 32 + 1 + 4 + 4;
inline constexpr std::uint8_t kCompressed = 1;

using base::Hex;
inline std::string Hex(const ChunkId& id) {
  return Hex(id.data(), id.size());
}
bool FromHex(std::string_view hex, std::uint8_t* out, std::size_t size);
ChunkId Sha256(const void* data, std::size_t size);
std::string RandomHex(std::size_t bytes);
std::int64_t NowMs();

struct Location {
  std::uint32_t pack = 0;  // index into Index::packs
  std::uint64_t offset = 0;
  std::uint32_t stored = 0, raw = 0;
  std::uint8_t flags = 0;
};

struct Index {
  std::vector<std::string> packs;  // object names
  std::unordered_map<std::string, std::uint32_t> pack_numbers;
  std::unordered_map<ChunkId, Location, ChunkIdHash> chunks;
  std::uint32_t PackNumber(const std::string& name);
};

// One pack's entries, as the index object records them.
struct PackEntries {
  std::string pack;
  struct Entry {
    ChunkId id;
    std::uint64_t offset;
    std::uint32_t stored, raw;
    std::uint8_t flags;
  };
  std::vector<Entry> entries;
};
std::string EncodeIndex(const std::vector<PackEntries>& packs);
bool DecodeIndex(std::string_view data, std::vector<PackEntries>* packs, std::string* error);

// Decompresses (if needed) a stored blob and checks its hash.
bool DecodeBlob(const ChunkId& id, std::uint8_t flags, const char* stored, std::size_t stored_size,
                std::uint32_t raw_size, std::string* out, std::string* error);

struct Entry {
  std::string path;
  std::string type;  // file | dir | symlink | stream | fifo
  std::uint32_t mode = 0, uid = 0, gid = 0;
  std::int64_t mtime_ns = 0, ctime_ns = 0;
  std::uint64_t ino = 0, dev = 0, size = 0;
  std::string target;
  std::vector<ChunkId> chunks;
};

struct Manifest {
  std::string id;
  SnapshotInfo info;
  std::int64_t started_ms = 0;  // walk began: files changed later are never trusted from cache
  std::vector<Entry> entries;
};

// Body (compressed, to be signed) and the reverse. `summary_only` skips entries.
std::string EncodeManifestBody(const Manifest& manifest);
bool DecodeManifestBody(std::string_view body, bool summary_only, Manifest* out,
                        std::string* error);
// The whole object: header line with signature + body; and the reverse,
// checking the signature against `public_key` (32 bytes).
std::string SignSnapshot(const std::string& body, const std::uint8_t* secret_key);
bool OpenSnapshot(std::string_view object, const std::uint8_t* public_key, std::string* body,
                  std::string* error);

}  // namespace dualkey::vault::internal
