// The audit log's record format (docs/audit-format.md): hex, the chain hash,
// the canonical form of an entry, the lines as written (entries with their
// macs, signed checkpoints, the header) and their parsing. No I/O.
#pragma once

#include <openssl/evp.h>
#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "audit/audit.h"
#include "base/encoding.h"
#include "base/text.h"

namespace dualkey::audit::internal {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// The prev of the first entry.
inline constexpr std::string_view kZeroHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// ---- Hex -------------------------------------------------------------------

using base::Hex;
using base::HexValue;

// Decodes exactly `out.size()` bytes of hex; false on any other input.
template <std::size_t N>
bool Unhex(std::string_view text, std::array<unsigned char, N>* out) {
  if (text.size() != 2 * N) return false;
  for (std::size_t i = 0; i < N; ++i) {
    int hi = HexValue(text[2 * i]), lo = HexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

bool IsLowerHex(std::string_view text, std::size_t size);

// Wall clock, milliseconds since the epoch.
std::int64_t NowMs();

// ---- The chain hash and the canonical form ---------------------------------

// SHA-256 with the algorithm fetched once and the context reused: a fetch per
// digest costs more than hashing a 200-byte record.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  // Hex digest of prev || "\n" || the canonical record (given in pieces,
  // so that a long record's text is hashed where it lies, not copied into
  // one string first); empty when OpenSSL fails.
  std::string ChainHash(std::string_view prev, std::initializer_list<std::string_view> canonical);

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

// Sorted keys, no whitespace; invalid UTF-8 replaced.
std::string DumpCanonical(const Json& value);
// The canonical record, what the chain hashes, is
//   kCanonicalHead F CanonicalAfterFields(K, N, T)
// = {"fields":F,"kind":K,"seq":N,"time_ms":T} with F the canonical fields
// and K the kind as canonical JSON.
inline constexpr std::string_view kCanonicalHead = "{\"fields\":";
std::string CanonicalAfterFields(std::string_view kind_json, std::uint64_t seq,
                                 std::int64_t time_ms);

// Appends an entry's line as written, with its '\n'.
void AppendEntryLine(std::string* out, std::uint64_t seq, std::int64_t time_ms,
                     std::string_view kind_json, std::string_view fields_canonical,
                     std::string_view prev, std::string_view hash, std::string_view mac);

// ---- Keys, macs and signed checkpoints ---------------------------------------

using SecretKey = std::array<unsigned char, crypto_sign_SECRETKEYBYTES>;
using PublicKeyBytes = std::array<unsigned char, crypto_sign_PUBLICKEYBYTES>;
using Signature = std::array<unsigned char, crypto_sign_BYTES>;

// The key of entry macs: derived from the signing key, so there is one
// secret to keep, and a mac never reveals it.
using MacKey = std::array<unsigned char, crypto_generichash_KEYBYTES>;

MacKey DeriveMacKey(const SecretKey& sk);
// Keyed BLAKE2b-256 of an entry's hex hash, in hex.
std::string EntryMac(std::string_view hash, const MacKey& key);

// The signed text of a checkpoint: {"event":"...","hash":"...","seq":N}.
std::string CheckpointMessage(std::uint64_t seq, std::string_view hash, std::string_view event);
// A checkpoint line; `sig_hex` receives the signature.
std::string CheckpointLine(std::uint64_t seq, std::string_view hash, std::string_view event,
                           const SecretKey& sk, std::string* sig_hex = nullptr);
bool CheckSignature(std::uint64_t seq, std::string_view hash, std::string_view event,
                    std::string_view sig_hex, const PublicKeyBytes& pk);

// ---- Parsing lines -----------------------------------------------------------

struct ParsedEntry {
  std::uint64_t seq = 0;
  std::int64_t time_ms = 0;
  std::string kind;
  Json fields;
  std::string prev;
  std::string hash;
  std::string mac;  // empty in logs written before macs
};

struct ParsedCheckpoint {
  std::uint64_t seq = 0;
  std::string hash;
  std::string sig;
  std::string event;  // "open", "close" or ""
};

enum class LineKind { kEntry, kCheckpoint, kHeader, kGarbage };

struct ParsedLine {
  LineKind kind = LineKind::kGarbage;
  ParsedEntry entry;
  ParsedCheckpoint checkpoint;
  std::string why;  // for garbage: what is wrong
};

// One line without its '\n'.
ParsedLine ParseLine(std::string_view text);

// ---- Reading entries back ----------------------------------------------------

// The items of a "decisions" entry with these fields, when it is read back
// as them (an array of objects, not empty); nullptr when the entry is read
// as it is (any other kind, or a batch that is not one).
const Json* BatchItems(std::string_view kind, const Json& fields);
// A batch item as the "decision" record it is read back as: the item with
// the batch's shared fields (peer, source, time_ms).
Json BatchItemFields(const Json& item, const Json& batch_fields);
// `entry` as Read gives it back (audit.h, AppendReadable), from its parsed
// fields: no printing and parsing again.
void AppendReadable(ParsedEntry entry, std::vector<Entry>* out);

// The hash the entry should have, from its prev and canonical form.
std::string RecomputeHash(const ParsedEntry& entry, Sha256* sha);

struct Header {
  std::string public_key;
};

// Line 1; nullopt with `why` when it is not a version 1 header with a key.
std::optional<Header> ParseHeader(std::string_view text, std::string* why);

// An entry as `dualkey audit export --format json` and `audit read` print it:
// seq, item (only for an item of a "decisions" entry), time_ms, kind,
// fields (as JSON), prev, hash, in that order.
std::string EntryJsonLine(const Entry& entry);

}  // namespace dualkey::audit::internal
