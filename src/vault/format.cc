#include "vault/internal/format.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <zstd.h>

#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/json_text.h"

namespace dualkey::vault::internal {
namespace {

using Json = nlohmann::json;

template <typename T>
void Put(std::string* out, T value) {
  char bytes[sizeof(T)];
  for (std::size_t i = 0; i < sizeof(T); ++i) bytes[i] = static_cast<char>(value >> (8 * i));
  out->append(bytes, sizeof(T));
}

template <typename T>
bool Get(std::string_view* in, T* value) {
  if (in->size() < sizeof(T)) return false;
  T v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i)
    v |= static_cast<T>(static_cast<std::uint8_t>((*in)[i])) << (8 * i);
  *value = v;
  in->remove_prefix(sizeof(T));
  return true;
}

const EVP_MD* Sha256Md() {
  // Fetched once: an implicit fetch per call costs more than hashing a small file.
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

}  // namespace

bool FromHex(std::string_view hex, std::uint8_t* out, std::size_t size) {
  if (hex.size() != size * 2) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < size; ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

ChunkId Sha256(const void* data, std::size_t size) {
  ChunkId id{};
  unsigned int length = 0;
  EVP_Digest(data, size, id.data(), &length, Sha256Md(), nullptr);
  return id;
}

std::string RandomHex(std::size_t bytes) {
  std::vector<std::uint8_t> buffer(bytes);
  randombytes_buf(buffer.data(), buffer.size());
  return Hex(buffer.data(), buffer.size());
}

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::uint32_t Index::PackNumber(const std::string& name) {
  auto [it, inserted] = pack_numbers.emplace(name, static_cast<std::uint32_t>(packs.size()));
  if (inserted) packs.push_back(name);
  return it->second;
}

std::string EncodeIndex(const std::vector<PackEntries>& packs) {
  std::string out(kIndexMagic);
  for (const PackEntries& pack : packs) {
    Put<std::uint16_t>(&out, static_cast<std::uint16_t>(pack.pack.size()));
    out += pack.pack;
    Put<std::uint32_t>(&out, static_cast<std::uint32_t>(pack.entries.size()));
    for (const auto& e : pack.entries) {
      out.append(reinterpret_cast<const char*>(e.id.data()), e.id.size());
      Put<std::uint64_t>(&out, e.offset);
      Put<std::uint32_t>(&out, e.stored);
      Put<std::uint32_t>(&out, e.raw);
      Put<std::uint8_t>(&out, e.flags);
    }
  }
  ChunkId sum = Sha256(out.data(), out.size());
  out.append(reinterpret_cast<const char*>(sum.data()), sum.size());
  return out;
}

bool DecodeIndex(std::string_view data, std::vector<PackEntries>* packs, std::string* error) {
  if (data.size() < kIndexMagic.size() + 32 || data.substr(0, kIndexMagic.size()) != kIndexMagic) {
    *error = "not an index object";
    return false;
  }
  ChunkId sum = Sha256(data.data(), data.size() - 32);
  if (std::memcmp(sum.data(), data.data() + data.size() - 32, 32) != 0) {
    *error = "index checksum mismatch (damaged)";
    return false;
  }
  std::string_view in = data.substr(kIndexMagic.size(), data.size() - 32 - kIndexMagic.size());
  while (!in.empty()) {
    PackEntries pack;
    std::uint16_t name_size = 0;
    std::uint32_t count = 0;
    if (!Get(&in, &name_size) || in.size() < name_size) break;
    pack.pack = std::string(in.substr(0, name_size));
    in.remove_prefix(name_size);
    if (!Get(&in, &count) || in.size() / (32 + 8 + 4 + 4 + 1) < count) break;
    pack.entries.resize(count);
    for (auto& e : pack.entries) {
      std::memcpy(e.id.data(), in.data(), 32);
      in.remove_prefix(32);
      Get(&in, &e.offset);
      Get(&in, &e.stored);
      Get(&in, &e.raw);
      Get(&in, &e.flags);
    }
    packs->push_back(std::move(pack));
  }
  if (!in.empty()) {
    *error = "index object malformed";
    return false;
  }
  return true;
}

bool DecodeBlob(const ChunkId& id, std::uint8_t flags, const char* stored, std::size_t stored_size,
                std::uint32_t raw_size, std::string* out, std::string* error) {
  if (flags & kCompressed) {
    out->resize(raw_size);
    std::size_t n = ZSTD_decompress(out->data(), raw_size, stored, stored_size);
    if (ZSTD_isError(n) || n != raw_size) {
      *error = "chunk " + Hex(id) + ": cannot decompress (damaged)";
      return false;
    }
  } else {
    if (stored_size != raw_size) {
      *error = "chunk " + Hex(id) + ": size mismatch (damaged)";
      return false;
    }
    out->assign(stored, stored_size);
  }
  if (Sha256(out->data(), out->size()) != id) {
    *error = "chunk " + Hex(id) + ": content does not match its hash (damaged)";
    return false;
  }
  return true;
}

namespace {

// Paths are bytes. JSON strings are UTF-8: a name that is not keeps its
// bytes in `key`_b64 beside a readable `key` (the bytes replaced), so a
// restore writes exactly the names that were saved and two names never
// become one.
void PutBytes(Json& j, const char* key, const std::string& bytes) {
  if (base::IsValidUtf8(bytes)) {
    j[key] = bytes;
  } else {
    j[key] = base::ToValidUtf8(bytes);
    j[std::string(key) + "_b64"] = base::Base64(bytes);
  }
}

std::string GetBytes(const Json& j, const char* key) {
  auto raw = j.find(std::string(key) + "_b64");
  std::string bytes;
  if (raw != j.end() && raw->is_string() && base::Unbase64(raw->get<std::string>(), &bytes))
    return bytes;
  return j.value(key, "");
}

}  // namespace

std::string EncodeManifestBody(const Manifest& m) {
  const SnapshotInfo& info = m.info;
  Json summary = {{"version", 1},
                  {"id", m.id},
                  {"created_ms", info.created_ms},
                  {"started_ms", m.started_ms},
                  {"retain_until_ms", info.retain_until_ms},
                  {"who", info.meta.who},
                  {"action", info.meta.action},
                  {"approval_id", info.meta.approval_id},
                  {"kind", info.meta.kind},
                  {"tags", info.meta.tags},
                  {"files", info.files},
                  {"bytes", info.bytes},
                  {"added_bytes", info.added_bytes}};
  Json roots = Json::array(), roots_b64 = Json::array();
  bool roots_valid = true;
  for (const std::string& root : info.roots) {
    roots.push_back(base::ToValidUtf8(root));
    roots_b64.push_back(base::Base64(root));
    roots_valid = roots_valid && base::IsValidUtf8(root);
  }
  summary["roots"] = std::move(roots);
  if (!roots_valid) summary["roots_b64"] = std::move(roots_b64);
  // The who/action/tags text is for people: invalid bytes are replaced.
  std::string text = base::JsonDump(summary);
  text += "\n[";
  bool first = true;
  for (const Entry& e : m.entries) {
    Json j = {{"type", e.type},
              {"mode", e.mode},
              {"uid", e.uid},
              {"gid", e.gid},
              {"mtime_ns", e.mtime_ns}};
    PutBytes(j, "path", e.path);
    if (e.type == "file" || e.type == "stream") {
      j["size"] = e.size;
      j["ctime_ns"] = e.ctime_ns;
      j["ino"] = e.ino;
      j["dev"] = e.dev;
      Json chunks = Json::array();
      for (const ChunkId& id : e.chunks) chunks.push_back(Hex(id));
      j["chunks"] = std::move(chunks);
    }
    if (e.type == "symlink") PutBytes(j, "target", e.target);
    if (!first) text += ',';
    first = false;
    text += base::JsonDump(j);
  }
  text += "]";
  std::string body(ZSTD_compressBound(text.size()), '\0');
  std::size_t n = ZSTD_compress(body.data(), body.size(), text.data(), text.size(), 3);
  body.resize(ZSTD_isError(n) ? 0 : n);
  return body;
}

bool DecodeManifestBody(std::string_view body, bool summary_only, Manifest* out,
                        std::string* error) {
  unsigned long long size = ZSTD_getFrameContentSize(body.data(), body.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > (1ull << 32)) {
    *error = "snapshot body is not a zstd frame";
    return false;
  }
  std::string text(size, '\0');
  std::size_t n = ZSTD_decompress(text.data(), text.size(), body.data(), body.size());
  if (ZSTD_isError(n) || n != size) {
    *error = "snapshot body does not decompress";
    return false;
  }
  std::size_t newline = text.find('\n');
  if (newline == std::string::npos) {
    *error = "snapshot body has no summary line";
    return false;
  }
  Json summary = Json::parse(text.substr(0, newline), nullptr, false);
  if (!summary.is_object()) {
    *error = "snapshot summary is not JSON";
    return false;
  }
  try {
    out->id = summary.at("id").get<std::string>();
    SnapshotInfo& info = out->info;
    info.id = out->id;
    info.created_ms = summary.at("created_ms").get<std::int64_t>();
    out->started_ms = summary.value("started_ms", info.created_ms);
    info.retain_until_ms = summary.at("retain_until_ms").get<std::int64_t>();
    info.meta.who = summary.value("who", "");
    info.meta.action = summary.value("action", "");
    info.meta.approval_id = summary.value("approval_id", "");
    info.meta.kind = summary.value("kind", "files");
    info.meta.tags = summary.value("tags", std::vector<std::string>{});
    info.roots = summary.value("roots", std::vector<std::string>{});
    if (auto raw = summary.find("roots_b64");
        raw != summary.end() && raw->is_array() && raw->size() == info.roots.size()) {
      for (std::size_t i = 0; i < info.roots.size(); ++i) {
        std::string bytes;
        if ((*raw)[i].is_string() && base::Unbase64((*raw)[i].get<std::string>(), &bytes))
          info.roots[i] = std::move(bytes);
      }
    }
    info.files = summary.value("files", std::uint64_t{0});
    info.bytes = summary.value("bytes", std::uint64_t{0});
    info.added_bytes = summary.value("added_bytes", std::uint64_t{0});
    if (summary_only) return true;
    Json entries = Json::parse(std::string_view(text).substr(newline + 1), nullptr, false);
    if (!entries.is_array()) {
      *error = "snapshot entries are not a JSON array";
      return false;
    }
    out->entries.clear();
    out->entries.reserve(entries.size());
    for (const Json& j : entries) {
      Entry e;
      j.at("path").get<std::string>();  // required
      e.path = GetBytes(j, "path");
      e.type = j.at("type").get<std::string>();
      e.mode = j.value("mode", 0u);
      e.uid = j.value("uid", 0u);
      e.gid = j.value("gid", 0u);
      e.mtime_ns = j.value("mtime_ns", std::int64_t{0});
      e.ctime_ns = j.value("ctime_ns", std::int64_t{0});
      e.ino = j.value("ino", std::uint64_t{0});
      e.dev = j.value("dev", std::uint64_t{0});
      e.size = j.value("size", std::uint64_t{0});
      e.target = GetBytes(j, "target");
      if (auto it = j.find("chunks"); it != j.end()) {
        for (const Json& c : *it) {
          ChunkId id;
          if (!c.is_string() || !FromHex(c.get<std::string>(), id.data(), id.size())) {
            *error = "snapshot entry " + e.path + ": bad chunk id";
            return false;
          }
          e.chunks.push_back(id);
        }
      }
      out->entries.push_back(std::move(e));
    }
  } catch (const Json::exception& e) {
    *error = std::string("snapshot manifest malformed: ") + e.what();
    return false;
  }
  return true;
}

std::string SignSnapshot(const std::string& body, const std::uint8_t* secret_key) {
  std::array<std::uint8_t, crypto_sign_BYTES> sig{};
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(body.data()),
                       body.size(), secret_key);
  Json header = {{"body_len", body.size()}, {"sig", Hex(sig.data(), sig.size())}};
  return std::string(kSnapshotMagic) + base::JsonDump(header) + "\n" + body;
}

bool OpenSnapshot(std::string_view object, const std::uint8_t* public_key, std::string* body,
                  std::string* error) {
  if (object.substr(0, kSnapshotMagic.size()) != kSnapshotMagic) {
    *error = "not a snapshot object";
    return false;
  }
  object.remove_prefix(kSnapshotMagic.size());
  std::size_t newline = object.find('\n');
  if (newline == std::string_view::npos) {
    *error = "snapshot header truncated";
    return false;
  }
  Json header = Json::parse(object.substr(0, newline), nullptr, false);
  std::array<std::uint8_t, crypto_sign_BYTES> sig{};
  if (!header.is_object() || !header.contains("sig") || !header["sig"].is_string() ||
      !FromHex(header["sig"].get<std::string>(), sig.data(), sig.size())) {
    *error = "snapshot header malformed";
    return false;
  }
  std::string_view rest = object.substr(newline + 1);
  if (header.value("body_len", std::uint64_t{0}) != rest.size()) {
    *error = "snapshot body truncated or extended";
    return false;
  }
  if (crypto_sign_verify_detached(sig.data(), reinterpret_cast<const unsigned char*>(rest.data()),
                                  rest.size(), public_key) != 0) {
    *error = "snapshot signature does not verify (altered, or signed by another key)";
    return false;
  }
  body->assign(rest);
  return true;
}

}  // namespace dualkey::vault::internal
