// The audit log: a hash-chained, append-only file of JSON lines.
//
// Format (one JSON object per line, each line ends with '\n'):
//
//   line 1, the header:
//     {"dualkey_audit":1,"public_key":"<hex Ed25519 public key>","created_ms":<ms>}
//   an entry:
//     {"seq":N,"time_ms":T,"kind":"...","fields":{...},"prev":"<hex>","hash":"<hex>",
//      "mac":"<hex>"}
//     hash = SHA-256(prev || "\n" || canonical), where prev is the previous
//     entry's hash in hex ("0"*64 for seq 1) and canonical is the JSON object
//     {"fields":...,"kind":...,"seq":N,"time_ms":T} with sorted keys and no
//     whitespace (nlohmann::json::dump()). seq starts at 1 and has no gaps.
//     mac = keyed BLAKE2b-256 of hash, with a key derived from the signing
//     key: only the writer can check it. It tells the writer, when it opens
//     the log again, which unsealed records are its own (a crash can leave
//     some) and which someone appended while it was stopped (the chain alone
//     needs no key). Logs written before macs existed have none.
//   a checkpoint, after every `checkpoint_every` entries, when asked, and
//   when the log is opened ("event":"open") and closed ("event":"close"):
//     {"checkpoint":{"event":"open","hash":"<hash of entry N>","seq":N},"sig":"<hex>"}
//     sig = Ed25519 signature over the canonical checkpoint object text
//     {"event":"...","hash":"...","seq":N} ("event" absent when periodic).
//
// Durability: Append builds its line under the log's mutex (that is where the
// chain is extended), queues it, and waits until a leader has written it and
// fdatasync'ed. Whoever finds no leader active becomes the leader: it takes
// the whole queue, writes it with one write() on the O_APPEND descriptor and
// syncs once, so concurrent appenders share one sync (group commit). A failed
// write or sync breaks the log: every later Append fails (fail closed), since
// the file's tail is then unknown.
//
// Crash recovery (Open): an unfinished final line (no '\n') was never
// acknowledged, so it is cut off; the last entry's hash is recomputed to check
// the tail and resume the chain, and a checkpoint is signed at once if the tail
// lacks one. Open takes an exclusive flock so that two daemons never
// interleave writes to one file.
#include "audit/audit.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <thread>

namespace dualkey::audit {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr std::string_view kZeroHash =
    "0000000000000000000000000000000000000000000000000000000000000000";
constexpr std::size_t kMaxProblems = 100;

std::string Errno(std::string_view what) {
  return std::string(what) + ": " + std::strerror(errno);
}

std::string Hex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes exactly `out.size()` bytes of hex; false on any other input.
template <std::size_t N>
bool Unhex(std::string_view text, std::array<unsigned char, N>* out) {
  if (text.size() != 2 * N) return false;
  for (std::size_t i = 0; i < N; ++i) {
    int hi = HexDigit(text[2 * i]), lo = HexDigit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

bool IsLowerHex(std::string_view text, std::size_t size) {
  return text.size() == size && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// SHA-256 with the algorithm fetched once and the context reused: a fetch per
// digest costs more than hashing a 200-byte record.
class Sha256 {
 public:
  Sha256() : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {}
  ~Sha256() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
  }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  // Hex digest of a || "\n" || b; empty when OpenSSL fails.
  std::string ChainHash(std::string_view prev, std::string_view canonical) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (md_ == nullptr || ctx_ == nullptr || EVP_DigestInit_ex(ctx_, md_, nullptr) != 1 ||
        EVP_DigestUpdate(ctx_, prev.data(), prev.size()) != 1 ||
        EVP_DigestUpdate(ctx_, "\n", 1) != 1 ||
        EVP_DigestUpdate(ctx_, canonical.data(), canonical.size()) != 1 ||
        EVP_DigestFinal_ex(ctx_, digest, &size) != 1) {
      return {};
    }
    return Hex(digest, size);
  }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

std::string DumpCanonical(const Json& value) {
  // Sorted keys (nlohmann's object is a std::map), no whitespace; invalid
  // UTF-8 is replaced rather than thrown (parse already rejects it).
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// The canonical record up to the seq digits: {"fields":F,"kind":K,"seq":
// Built outside the lock; the lock only appends the numbers.
std::string CanonicalPrefix(std::string_view kind, const std::string& fields_canonical) {
  std::string out;
  out.reserve(fields_canonical.size() + kind.size() + 32);
  out += "{\"fields\":";
  out += fields_canonical;
  out += ",\"kind\":";
  out += DumpCanonical(Json(std::string(kind)));
  out += ",\"seq\":";
  return out;
}

void AppendCanonicalTail(std::uint64_t seq, std::int64_t time_ms, std::string* canonical) {
  *canonical += std::to_string(seq);
  *canonical += ",\"time_ms\":";
  *canonical += std::to_string(time_ms);
  *canonical += '}';
}

// The line as written: the spec's key order for people reading it; the
// verifier parses it, so the order carries no meaning.
std::string EntryLine(std::uint64_t seq, std::int64_t time_ms, std::string_view kind_json,
                      std::string_view fields_canonical, std::string_view prev,
                      std::string_view hash, std::string_view mac) {
  std::string line;
  line.reserve(fields_canonical.size() + kind_json.size() + 220);
  line += "{\"seq\":";
  line += std::to_string(seq);
  line += ",\"time_ms\":";
  line += std::to_string(time_ms);
  line += ",\"kind\":";
  line += kind_json;
  line += ",\"fields\":";
  line += fields_canonical;
  line += ",\"prev\":\"";
  line += prev;
  line += "\",\"hash\":\"";
  line += hash;
  line += "\",\"mac\":\"";
  line += mac;
  line += "\"}\n";
  return line;
}

std::string CheckpointMessage(std::uint64_t seq, std::string_view hash, std::string_view event) {
  Json message{{"seq", seq}, {"hash", std::string(hash)}};
  if (!event.empty()) message["event"] = std::string(event);
  return DumpCanonical(message);
}

using SecretKey = std::array<unsigned char, crypto_sign_SECRETKEYBYTES>;
using PublicKeyBytes = std::array<unsigned char, crypto_sign_PUBLICKEYBYTES>;
using Signature = std::array<unsigned char, crypto_sign_BYTES>;

// The key of entry macs: derived from the signing key, so there is one
// secret to keep, and a mac never reveals it.
using MacKey = std::array<unsigned char, crypto_generichash_KEYBYTES>;

MacKey DeriveMacKey(const SecretKey& sk) {
  static constexpr std::string_view kContext = "dualkey.audit.entry-mac.v1";
  MacKey key{};
  crypto_generichash(key.data(), key.size(),
                     reinterpret_cast<const unsigned char*>(kContext.data()), kContext.size(),
                     sk.data(), crypto_sign_SEEDBYTES);
  return key;
}

std::string EntryMac(std::string_view hash, const MacKey& key) {
  std::array<unsigned char, 32> mac{};
  crypto_generichash(mac.data(), mac.size(), reinterpret_cast<const unsigned char*>(hash.data()),
                     hash.size(), key.data(), key.size());
  return Hex(mac.data(), mac.size());
}

// A checkpoint line; `sig_hex` receives the signature.
std::string CheckpointLine(std::uint64_t seq, std::string_view hash, std::string_view event,
                           const SecretKey& sk, std::string* sig_hex = nullptr) {
  std::string message = CheckpointMessage(seq, hash, event);
  Signature sig{};
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), sk.data());
  std::string hex = Hex(sig.data(), sig.size());
  if (sig_hex != nullptr) *sig_hex = hex;
  return "{\"checkpoint\":" + message + ",\"sig\":\"" + hex + "\"}\n";
}

bool CheckSignature(std::uint64_t seq, std::string_view hash, std::string_view event,
                    std::string_view sig_hex, const PublicKeyBytes& pk) {
  Signature sig{};
  if (!Unhex(sig_hex, &sig)) return false;
  std::string message = CheckpointMessage(seq, hash, event);
  return crypto_sign_verify_detached(sig.data(),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), pk.data()) == 0;
}

// ---- Parsing lines -------------------------------------------------------

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

ParsedLine ParseLine(std::string_view text) {
  ParsedLine out;
  if (text.empty()) {
    out.why = "empty line";
    return out;
  }
  Json value = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded() || !value.is_object()) {
    out.why = "not a JSON object";
    return out;
  }
  if (value.contains("dualkey_audit")) {
    out.kind = LineKind::kHeader;
    return out;
  }
  if (value.contains("checkpoint")) {
    const Json& cp = value["checkpoint"];
    auto sig = value.find("sig");
    const bool has_event = cp.is_object() && cp.contains("event");
    if (!cp.is_object() || !cp.contains("seq") || !cp["seq"].is_number_unsigned() ||
        !cp.contains("hash") || !cp["hash"].is_string() || sig == value.end() ||
        !sig->is_string() || value.size() != 2 || cp.size() != (has_event ? 3u : 2u) ||
        (has_event &&
         (!cp["event"].is_string() || (cp["event"] != "open" && cp["event"] != "close")))) {
      out.why = "malformed checkpoint";
      return out;
    }
    out.kind = LineKind::kCheckpoint;
    out.checkpoint.seq = cp["seq"].get<std::uint64_t>();
    out.checkpoint.hash = cp["hash"].get<std::string>();
    out.checkpoint.sig = sig->get<std::string>();
    if (has_event) out.checkpoint.event = cp["event"].get<std::string>();
    return out;
  }
  auto field = [&](const char* name) -> const Json* {
    auto it = value.find(name);
    return it == value.end() ? nullptr : &*it;
  };
  const Json* seq = field("seq");
  const Json* time_ms = field("time_ms");
  const Json* kind = field("kind");
  const Json* fields = field("fields");
  const Json* prev = field("prev");
  const Json* hash = field("hash");
  const Json* mac = field("mac");
  if (seq == nullptr || !seq->is_number_unsigned()) {
    out.why = "malformed entry: no valid \"seq\"";
  } else if (time_ms == nullptr || !time_ms->is_number_integer()) {
    out.why = "malformed entry: no valid \"time_ms\"";
  } else if (kind == nullptr || !kind->is_string()) {
    out.why = "malformed entry: no valid \"kind\"";
  } else if (fields == nullptr || !fields->is_object()) {
    out.why = "malformed entry: no valid \"fields\" object";
  } else if (prev == nullptr || !prev->is_string()) {
    out.why = "malformed entry: no valid \"prev\"";
  } else if (hash == nullptr || !hash->is_string()) {
    out.why = "malformed entry: no valid \"hash\"";
  } else if (mac != nullptr && (!mac->is_string() || !IsLowerHex(mac->get<std::string>(), 64))) {
    out.why = "malformed entry: no valid \"mac\"";
  } else if (value.size() != (mac != nullptr ? 7u : 6u)) {
    out.why = "malformed entry: unexpected extra keys";
  } else {
    out.kind = LineKind::kEntry;
    out.entry.seq = seq->get<std::uint64_t>();
    out.entry.time_ms = time_ms->get<std::int64_t>();
    out.entry.kind = kind->get<std::string>();
    out.entry.fields = *fields;
    out.entry.prev = prev->get<std::string>();
    out.entry.hash = hash->get<std::string>();
    if (mac != nullptr) out.entry.mac = mac->get<std::string>();
  }
  return out;
}

std::string RecomputeHash(const ParsedEntry& entry, Sha256* sha) {
  std::string canonical = CanonicalPrefix(entry.kind, DumpCanonical(entry.fields));
  AppendCanonicalTail(entry.seq, entry.time_ms, &canonical);
  return sha->ChainHash(entry.prev, canonical);
}

struct Header {
  std::string public_key;
};

std::optional<Header> ParseHeader(std::string_view text, std::string* why) {
  Json value = Json::parse(text.begin(), text.end(), nullptr, false);
  if (value.is_discarded() || !value.is_object()) {
    *why = "not a JSON object";
    return std::nullopt;
  }
  auto version = value.find("dualkey_audit");
  if (version == value.end() || !version->is_number_integer() || version->get<int>() != 1) {
    *why = "no \"dualkey_audit\":1";
    return std::nullopt;
  }
  auto key = value.find("public_key");
  if (key == value.end() || !key->is_string() ||
      !IsLowerHex(key->get<std::string>(), 2 * crypto_sign_PUBLICKEYBYTES)) {
    *why = "no valid \"public_key\"";
    return std::nullopt;
  }
  return Header{key->get<std::string>()};
}

// ---- Files ---------------------------------------------------------------

// `written` (when given) receives how many bytes did reach the file, so that
// a failed write can be cut off again.
bool WriteAll(int fd, std::string_view data, std::string* error, std::size_t* written = nullptr) {
  if (written != nullptr) *written = 0;
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = Errno("audit log write failed");
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
    if (written != nullptr) *written += static_cast<std::size_t>(n);
  }
  return true;
}

bool PreadAll(int fd, char* buffer, std::size_t size, off_t offset, std::string* error) {
  while (size > 0) {
    ssize_t n = ::pread(fd, buffer, size, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = n < 0 ? Errno("audit log read failed") : "audit log read failed: file shrank";
      return false;
    }
    buffer += n;
    size -= static_cast<std::size_t>(n);
    offset += n;
  }
  return true;
}

// Makes a newly created file's directory entry durable.
void SyncParentDirectory(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) parent = ".";
  int dir = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return;
  ::fsync(dir);
  ::close(dir);
}

// The Ed25519 key file: the 32-byte seed in hex and a newline, mode 0600.
// Created when missing; refused when others can read it, because whoever
// reads it can sign forged checkpoints.
bool LoadOrCreateKey(const std::string& path, SecretKey* sk, PublicKeyBytes* pk,
                     std::string* error) {
  std::array<unsigned char, crypto_sign_SEEDBYTES> seed{};
  for (int attempt = 0; attempt < 2; ++attempt) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
      struct stat st {};
      if (::fstat(fd, &st) != 0) {
        *error = Errno("audit key " + path);
        ::close(fd);
        return false;
      }
      if ((st.st_mode & 077) != 0) {
        ::close(fd);
        *error = "audit key " + path +
                 " is accessible to other users (whoever reads it can forge checkpoints); "
                 "run chmod 600 on it";
        return false;
      }
      char text[2 * crypto_sign_SEEDBYTES + 2] = {};
      ssize_t n = ::read(fd, text, sizeof(text));
      ::close(fd);
      std::string_view content(text, n > 0 ? static_cast<std::size_t>(n) : 0);
      while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) {
        content.remove_suffix(1);
      }
      if (!Unhex(content, &seed)) {
        *error = "audit key " + path + " is not a 64-digit hex Ed25519 seed";
        return false;
      }
      crypto_sign_seed_keypair(pk->data(), sk->data(), seed.data());
      sodium_memzero(seed.data(), seed.size());
      sodium_memzero(text, sizeof(text));
      return true;
    }
    if (errno != ENOENT) {
      *error = Errno("audit key " + path);
      return false;
    }
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      if (errno == EEXIST) continue;  // created by someone else meanwhile: read theirs
      *error = Errno("cannot create audit key " + path);
      return false;
    }
    randombytes_buf(seed.data(), seed.size());
    std::string text = Hex(seed.data(), seed.size()) + "\n";
    sodium_memzero(seed.data(), seed.size());
    bool written = WriteAll(fd, text, error) && ::fsync(fd) == 0;
    sodium_memzero(text.data(), text.size());
    ::close(fd);
    if (!written) {
      if (error->empty()) *error = Errno("cannot write audit key " + path);
      ::unlink(path.c_str());
      return false;
    }
    SyncParentDirectory(path);
  }
  *error = "cannot read audit key " + path;
  return false;
}

// ---- The log -------------------------------------------------------------

// The end of the chain: the last entry's seq, hash and time, and how many
// entries follow the last checkpoint line.
struct Head {
  std::uint64_t seq = 0;
  std::string hash{kZeroHash};
  std::int64_t time_ms = 0;
  std::uint64_t since_checkpoint = 0;
};

class FileLog final : public Log {
 public:
  FileLog(int fd, const SecretKey& sk, const PublicKeyBytes& pk, int checkpoint_every)
      : fd_(fd),
        sk_(sk),
        mac_key_(DeriveMacKey(sk)),
        public_key_hex_(Hex(pk.data(), pk.size())),
        checkpoint_every_(checkpoint_every > 0 ? checkpoint_every : 1000) {}

  ~FileLog() override {
    {
      std::unique_lock lock(mu_);
      stopping_ = true;
    }
    flush_cv_.notify_all();
    if (flusher_.joinable()) flusher_.join();
    if (ready_) {
      std::string ignored;
      Close(&ignored);
    }
    ::close(fd_);  // releases the flock
    sodium_memzero(sk_.data(), sk_.size());
    sodium_memzero(mac_key_.data(), mac_key_.size());
  }

  // Called by Open before the log is shared: where the chain goes on, and
  // how far the file is already written and synced.
  void Resume(const Head& head, const CheckpointInfo& durable_checkpoint) {
    head_ = written_head_ = head;
    durable_checkpoint_ = written_checkpoint_ = queued_checkpoint_ = durable_checkpoint;
  }
  void SetReady() { ready_ = true; }
  // Open only: the chain goes on from an entry the file no longer has.
  void Rebase(std::uint64_t seq, const std::string& hash) {
    head_.seq = written_head_.seq = seq;
    head_.hash = written_head_.hash = hash;
    head_.since_checkpoint = written_head_.since_checkpoint = 1;
  }

  // Open's own records, before the log is shared.
  std::uint64_t AppendInternal(const std::string& kind, const Json& fields, std::string* error) {
    return Append(Record{kind, DumpCanonical(fields)}, error, Durability::kSynced);
  }

  // A checkpoint for the head with `event`, durable before returning.
  bool WriteCheckpoint(std::string_view event, CheckpointInfo* written, std::string* error) {
    std::unique_lock lock(mu_);
    if (!Usable(error)) return false;
    if (event.empty() && head_.since_checkpoint == 0 && queued_checkpoint_.seq == head_.seq &&
        !queued_checkpoint_.hash.empty()) {
      // One follows the last entry already; wait for it to be durable.
      const std::uint64_t target = queued_checkpoint_end_;
      if (!WaitDurable(lock, target, epoch_, error)) return false;
      if (written) *written = durable_checkpoint_;
      return true;
    }
    QueueCheckpoint(event);
    const std::uint64_t target = queued_pos_;
    if (!WaitDurable(lock, target, epoch_, error)) return false;
    if (written) *written = durable_checkpoint_;
    return true;
  }

  std::uint64_t Append(const Record& record, std::string* error, Durability durability) override {
    std::string scratch;
    if (error == nullptr) error = &scratch;
    // Everything that does not depend on the chain is done before the lock.
    Prepared prepared;
    if (!Prepare(record, &prepared, error)) return 0;
    std::unique_lock lock(mu_);
    if (!Usable(error)) return 0;
    const std::uint64_t seq = QueueEntry(prepared, error);
    if (seq == 0) return 0;
    return Wait(lock, queued_pos_, epoch_, durability, error) ? seq : 0;
  }

  std::size_t AppendAll(const std::vector<Record>& records, std::string* error,
                        Durability durability) override {
    std::string scratch;
    if (error == nullptr) error = &scratch;
    std::vector<Prepared> prepared(records.size());
    std::size_t ready = 0;
    while (ready < records.size() && Prepare(records[ready], &prepared[ready], error)) ++ready;
    if (ready == 0) return 0;
    std::vector<std::uint64_t> ends;  // where each record's line ends in the file
    ends.reserve(ready);
    std::unique_lock lock(mu_);
    if (!Usable(error)) return 0;
    for (std::size_t i = 0; i < ready; ++i) {
      if (QueueEntry(prepared[i], error) == 0) break;
      ends.push_back(queued_pos_);
    }
    if (ends.empty()) return 0;
    const std::uint64_t epoch = epoch_;
    std::string failure;
    if (Wait(lock, ends.back(), epoch, durability, &failure)) return ends.size();
    *error = failure;
    // The write failed: the records before the failed batch are kept.
    const std::uint64_t reached = durability == Durability::kWritten ? written_pos_ : durable_pos_;
    std::size_t kept = 0;
    std::string ignored;
    while (kept < ends.size() && ends[kept] <= reached && !Lost(epoch, ends[kept], &ignored))
      ++kept;
    return kept;
  }

  bool Checkpoint(std::string* error) override {
    std::string scratch;
    return WriteCheckpoint("", nullptr, error != nullptr ? error : &scratch);
  }

  bool Close(std::string* error) override {
    std::string scratch;
    if (error == nullptr) error = &scratch;
    std::unique_lock lock(mu_);
    if (closed_) return true;
    if (!broken_.empty()) {
      *error = broken_;
      return false;
    }
    // From here on appends fail: nothing of ours may follow the close seal.
    closed_ = true;
    QueueCheckpoint("close");
    return WaitDurable(lock, queued_pos_, epoch_, error);
  }

  CheckpointInfo LastCheckpoint() const override {
    std::unique_lock lock(mu_);
    return durable_checkpoint_;
  }

  std::string PublicKey() const override { return public_key_hex_; }

 private:
  // A record's parts that do not depend on the chain, made before the lock.
  struct Prepared {
    std::string kind_json;
    std::string fields_canonical;
    std::string canonical;  // up to the seq
  };
  static bool Prepare(const Record& record, Prepared* out, std::string* error) {
    if (record.canonical && record.fields.size() >= 2 && record.fields.front() == '{' &&
        record.fields.back() == '}') {
      out->fields_canonical = record.fields;
      out->kind_json = DumpCanonical(Json(record.kind));
      out->canonical = CanonicalPrefix(record.kind, out->fields_canonical);
      return true;
    }
    Json fields = record.fields.empty()
                      ? Json::object()
                      : Json::parse(record.fields, nullptr, /*allow_exceptions=*/false);
    if (fields.is_discarded() || !fields.is_object()) {
      *error = "audit record fields are not a JSON object";
      return false;
    }
    out->fields_canonical = DumpCanonical(fields);
    out->kind_json = DumpCanonical(Json(record.kind));
    out->canonical = CanonicalPrefix(record.kind, out->fields_canonical);
    return true;
  }

  // Under mu_: chains `prepared` onto the head and queues its line (and a
  // checkpoint when one is due). Returns its seq, 0 with `error` set.
  std::uint64_t QueueEntry(Prepared& prepared, std::string* error) {
    const std::uint64_t seq = head_.seq + 1;
    // Never backwards, so that export --since sees a time-ordered file even
    // when the wall clock steps back.
    const std::int64_t time_ms = std::max(NowMs(), head_.time_ms);
    AppendCanonicalTail(seq, time_ms, &prepared.canonical);
    std::string hash = sha_.ChainHash(head_.hash, prepared.canonical);
    if (hash.empty()) {
      *error = "audit log: SHA-256 failed";
      return 0;
    }
    Queue(EntryLine(seq, time_ms, prepared.kind_json, prepared.fields_canonical, head_.hash, hash,
                    EntryMac(hash, mac_key_)));
    head_.seq = seq;
    head_.time_ms = time_ms;
    head_.hash = std::move(hash);
    if (++head_.since_checkpoint >= static_cast<std::uint64_t>(checkpoint_every_))
      QueueCheckpoint("");
    return seq;
  }

  // Under mu_: until what was queued up to `target` is written or synced.
  bool Wait(std::unique_lock<std::mutex>& lock, std::uint64_t target, std::uint64_t epoch,
            Durability durability, std::string* error) {
    if (durability == Durability::kWritten) {
      if (!WaitWritten(lock, target, epoch, error)) return false;
      // The flusher wakes on its own every 100 ms: waking it per append
      // would cost a context switch and an fsync per harmless command.
      if (!flusher_.joinable()) flusher_ = std::thread([this] { FlushLoop(); });
      return true;
    }
    return WaitDurable(lock, target, epoch, error);
  }

  // Under mu_: whether appends are accepted now; `error` says why not.
  bool Usable(std::string* error) {
    if (closed_) {
      *error = "the audit log is closed";
      return false;
    }
    if (!broken_.empty()) {
      *error = broken_;
      return false;
    }
    if (std::chrono::steady_clock::now() < retry_at_) {
      // A write just failed (a full disk): fail at once rather than have
      // every request try, and try again shortly.
      *error = failure_;
      return false;
    }
    return true;
  }

  void Queue(std::string line) {
    queued_pos_ += line.size();
    pending_ += line;
  }

  void QueueCheckpoint(std::string_view event) {
    CheckpointInfo info;
    info.seq = head_.seq;
    info.hash = head_.hash;
    info.event = std::string(event);
    info.time_ms = NowMs();
    Queue(CheckpointLine(head_.seq, head_.hash, event, sk_, &info.sig));
    queued_checkpoint_ = std::move(info);
    queued_checkpoint_end_ = queued_pos_;
    head_.since_checkpoint = 0;
  }

  bool Sync(std::string* error) {
    while (::fdatasync(fd_) != 0) {
      if (errno == EINTR) continue;
      *error = Errno("audit log fdatasync failed") +
               " (the kernel may have dropped written records: the log refuses appends until "
               "the daemon restarts and checks it)";
      return false;
    }
    return true;
  }

  // A waiter whose line was queued in `epoch`: false (with the failure)
  // when a failed write since then took its line away.
  bool Lost(std::uint64_t epoch, std::uint64_t target, std::string* error) const {
    if (epoch == epoch_) return false;
    auto kept = rollback_pos_.find(epoch);
    if (kept != rollback_pos_.end() && target <= kept->second) return false;
    *error = failure_;
    return true;
  }

  // The leader's write failed: cut off what reached the file and drop every
  // queued line (they chain onto the lost ones); the chain goes on from the
  // last written entry. Waiters of the lost lines fail.
  void RollBack(std::size_t partial, const std::string& failure) {
    if (partial > 0) {
      const off_t end = ::lseek(fd_, 0, SEEK_END);
      if (end < 0 || ::ftruncate(fd_, end - static_cast<off_t>(partial)) != 0) {
        broken_ = failure + "; and the partial write could not be cut off (" +
                  std::strerror(errno) + "): the log refuses appends until the daemon restarts";
      }
    }
    failure_ = failure + "; nothing of this record was kept";
    rollback_pos_[epoch_] = written_pos_;
    if (rollback_pos_.size() > 4096) rollback_pos_.erase(rollback_pos_.begin());
    ++epoch_;
    head_ = written_head_;
    queued_pos_ = written_pos_;
    queued_checkpoint_ = written_checkpoint_;
    pending_.clear();
    retry_at_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  }

  // Group commit: the first waiter with no leader active writes everything
  // queued so far and syncs once; the others wait for it. Batches are
  // numbered and their waiters sleep on the condition variable of their
  // batch's parity, so a finished sync wakes only its own appenders and one
  // appender of the next batch to lead it, not every waiting thread.
  bool WaitDurable(std::unique_lock<std::mutex>& lock, std::uint64_t target, std::uint64_t epoch,
                   std::string* error) {
    const std::uint64_t my_batch = next_batch_;  // the batch the queued line will go out in
    while (true) {
      if (Lost(epoch, target, error)) return false;
      if (durable_pos_ >= target) return true;
      if (!broken_.empty()) {
        *error = broken_;
        return false;
      }
      if (leader_active_) {
        batch_cv_[my_batch % 2].wait(lock);
        continue;
      }
      leader_active_ = true;
      GatherFollowers(lock);
      const std::uint64_t batch_no = next_batch_++;
      batch_.swap(pending_);
      const std::uint64_t batch_end = queued_pos_;
      const Head batch_head = head_;
      const CheckpointInfo batch_checkpoint = queued_checkpoint_;
      const std::uint64_t batch_entries = head_.seq - written_head_.seq;
      lock.unlock();
      auto sync_start = std::chrono::steady_clock::now();
      std::string failure;
      std::size_t partial = 0;
      const bool written = WriteAll(fd_, batch_, &failure, &partial);
      const bool ok = written && Sync(&failure);
      auto sync_time = std::chrono::steady_clock::now() - sync_start;
      batch_.clear();
      lock.lock();
      leader_active_ = false;
      last_batch_entries_ = batch_entries;
      sync_ewma_ =
          (sync_ewma_ * 7 + std::chrono::duration_cast<std::chrono::microseconds>(sync_time)) / 8;
      if (ok) {
        durable_pos_ = written_pos_ = batch_end;
        written_head_ = batch_head;
        durable_checkpoint_ = written_checkpoint_ = batch_checkpoint;
      } else if (!written) {
        RollBack(partial, failure);
      } else {
        // Written but not synced: the kernel may drop pages after a failed
        // fdatasync, so the file's tail is unknown. Refuse from here on.
        broken_ = failure;
      }
      batch_cv_[batch_no % 2].notify_all();
      if (ok)
        batch_cv_[(batch_no + 1) % 2].notify_one();
      else
        batch_cv_[(batch_no + 1) % 2].notify_all();
    }
  }

  // Like WaitDurable without the sync: the first waiter with no leader
  // active writes everything queued. The page cache outlives the process, so
  // a written record survives kill -9; FlushLoop syncs it soon after.
  bool WaitWritten(std::unique_lock<std::mutex>& lock, std::uint64_t target, std::uint64_t epoch,
                   std::string* error) {
    while (true) {
      if (Lost(epoch, target, error)) return false;
      if (written_pos_ >= target) return true;
      if (!broken_.empty()) {
        *error = broken_;
        return false;
      }
      if (leader_active_) {
        // A sync leader wakes only one waiter of the next batch; a short
        // timed wait keeps write-only appenders from depending on that.
        batch_cv_[next_batch_ % 2].wait_for(lock, std::chrono::microseconds(200));
        continue;
      }
      leader_active_ = true;
      const std::uint64_t batch_no = next_batch_++;
      batch_.swap(pending_);
      const std::uint64_t batch_end = queued_pos_;
      const Head batch_head = head_;
      const CheckpointInfo batch_checkpoint = queued_checkpoint_;
      lock.unlock();
      std::string failure;
      std::size_t partial = 0;
      const bool ok = WriteAll(fd_, batch_, &failure, &partial);
      batch_.clear();
      lock.lock();
      leader_active_ = false;
      if (ok) {
        written_pos_ = batch_end;
        written_head_ = batch_head;
        written_checkpoint_ = batch_checkpoint;
      } else {
        RollBack(partial, failure);
      }
      batch_cv_[batch_no % 2].notify_all();
      batch_cv_[(batch_no + 1) % 2].notify_all();
    }
  }

  // Syncs written records within 100 ms of their append.
  void FlushLoop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      flush_cv_.wait_for(lock, std::chrono::milliseconds(100));
      if (written_pos_ <= durable_pos_ || leader_active_ || !broken_.empty()) continue;
      // An empty batch: WaitDurable writes what is queued and syncs.
      std::string error;
      WaitDurable(lock, written_pos_, epoch_, &error);
    }
  }

  // When the last batch had company, the appenders it released are about to
  // come back: a leader that synced at once would take only the first of
  // them and make the rest wait a whole extra sync. So while appends keep
  // arriving, wait a little (at most half a sync) before taking the batch. A
  // lone appender never waits.
  void GatherFollowers(std::unique_lock<std::mutex>& lock) {
    if (last_batch_entries_ <= 1) return;
    constexpr auto kStep = std::chrono::microseconds(50);
    auto deadline =
        std::chrono::steady_clock::now() +
        std::min<std::chrono::microseconds>(sync_ewma_ / 2, std::chrono::milliseconds(2));
    std::uint64_t seen = head_.seq;
    while (std::chrono::steady_clock::now() < deadline) {
      gather_cv_.wait_for(lock, kStep);
      if (head_.seq == seen) break;  // nobody joined during a step: go
      seen = head_.seq;
    }
  }

  const int fd_;
  SecretKey sk_;
  MacKey mac_key_;
  const std::string public_key_hex_;
  const int checkpoint_every_;

  mutable std::mutex mu_;
  std::condition_variable batch_cv_[2];  // waiters of even / odd batches
  std::condition_variable gather_cv_;    // never notified: the leader's timed pause
  std::uint64_t next_batch_ = 0;         // number of the batch pending_ will go out in
  Sha256 sha_;                           // guarded by mu_
  // Positions count the bytes queued since the log was opened: a waiter
  // waits for its line's end to be written or durable.
  Head head_;                     // the chain as queued
  Head written_head_;             // the chain as written to the file
  std::uint64_t queued_pos_ = 0;  // end of everything queued
  std::uint64_t written_pos_ = 0;
  std::uint64_t durable_pos_ = 0;
  CheckpointInfo queued_checkpoint_, written_checkpoint_, durable_checkpoint_;
  std::uint64_t queued_checkpoint_end_ = 0;
  // A failed write rolls the queue back: lines queued in an older epoch
  // survived only up to the position it kept.
  std::uint64_t epoch_ = 0;
  std::map<std::uint64_t, std::uint64_t> rollback_pos_;
  std::string failure_;  // why the last write failed
  std::chrono::steady_clock::time_point retry_at_{};
  std::condition_variable flush_cv_;
  std::thread flusher_;  // started by the first kWritten append
  bool stopping_ = false;
  bool closed_ = false;
  bool ready_ = false;   // Open finished: the destructor seals with a close checkpoint
  std::string pending_;  // lines queued, not yet written
  std::string batch_;    // the leader's buffer (only the leader touches it)
  bool leader_active_ = false;
  std::uint64_t last_batch_entries_ = 0;       // entries the last leader synced
  std::chrono::microseconds sync_ewma_{1000};  // how long write + sync takes here
  std::string broken_;                         // set after a failed sync: the log refuses appends
};

// Cuts an unfinished final line (no '\n': a write the crash interrupted, never
// acknowledged). Returns the new size, or -1 with `error` set.
off_t CutTornLine(int fd, off_t size, std::string* error) {
  if (size == 0) return 0;
  char last = 0;
  if (!PreadAll(fd, &last, 1, size - 1, error)) return -1;
  if (last == '\n') return size;
  off_t end = size;
  std::string chunk;
  off_t keep = 0;
  while (end > 0) {
    off_t start = std::max<off_t>(0, end - 65536);
    chunk.resize(static_cast<std::size_t>(end - start));
    if (!PreadAll(fd, chunk.data(), chunk.size(), start, error)) return -1;
    std::size_t newline = chunk.rfind('\n');
    if (newline != std::string::npos) {
      keep = start + static_cast<off_t>(newline) + 1;
      break;
    }
    end = start;
  }
  if (::ftruncate(fd, keep) != 0 || ::fdatasync(fd) != 0) {
    *error = Errno("cannot cut the torn last line of the audit log");
    return -1;
  }
  return keep;
}

// Reads the header line and checks it names our key.
bool CheckHeader(int fd, off_t size, const std::string& public_key_hex, const std::string& path,
                 std::string* error) {
  std::string line;
  std::size_t want = 4096;
  while (true) {
    line.resize(std::min<std::size_t>(want, static_cast<std::size_t>(size)));
    if (!PreadAll(fd, line.data(), line.size(), 0, error)) return false;
    std::size_t newline = line.find('\n');
    if (newline != std::string::npos) {
      line.resize(newline);
      break;
    }
    if (line.size() == static_cast<std::size_t>(size)) break;  // cannot happen after CutTornLine
    want *= 2;
  }
  std::string why;
  std::optional<Header> header = ParseHeader(line, &why);
  if (!header) {
    *error = path + " line 1: bad audit log header (" + why + ")";
    return false;
  }
  if (header->public_key != public_key_hex) {
    *error = path + " was created with another signing key (header public key " +
             header->public_key + ", key file gives " + public_key_hex + ")";
    return false;
  }
  return true;
}

// Reads a file's complete lines from the end towards the start.
class BackwardLines {
 public:
  BackwardLines(int fd, off_t end) : fd_(fd), end_(end), buffer_start_(end) {}

  // The line before the last one returned (without its '\n') and where it
  // starts; false at the start of the file or on a read error (`error`).
  bool Next(std::string* line, off_t* offset, std::string* error) {
    if (end_ <= 0) return false;
    while (true) {
      // buffer_ holds [buffer_start_, end_); the line ends at end_ - 1 ('\n').
      const std::size_t last = static_cast<std::size_t>(end_ - buffer_start_);
      std::size_t newline = last >= 2 ? buffer_.rfind('\n', last - 2) : std::string::npos;
      if (newline != std::string::npos) {
        const off_t start = buffer_start_ + static_cast<off_t>(newline) + 1;
        line->assign(buffer_, newline + 1, static_cast<std::size_t>(end_ - 1 - start));
        *offset = start;
        end_ = start;
        buffer_.resize(newline + 1);
        return true;
      }
      if (buffer_start_ == 0) {
        line->assign(buffer_, 0, last > 0 ? last - 1 : 0);
        *offset = 0;
        end_ = 0;
        buffer_.clear();
        return true;
      }
      const off_t read_start = std::max<off_t>(0, buffer_start_ - static_cast<off_t>(chunk_));
      std::string chunk(static_cast<std::size_t>(buffer_start_ - read_start), '\0');
      if (!PreadAll(fd_, chunk.data(), chunk.size(), read_start, error)) return false;
      buffer_.insert(0, chunk);
      buffer_start_ = read_start;
      chunk_ = std::min<std::size_t>(chunk_ * 4, 16 << 20);
    }
  }

 private:
  int fd_;
  off_t end_;           // lines before this offset are not returned yet
  off_t buffer_start_;  // buffer_ holds the file from here to end_
  std::string buffer_;
  std::size_t chunk_ = 65536;
};

// The end of an existing log as Open reads it: the last checkpoint this
// key signed and the lines after it.
struct TailScan {
  bool found_checkpoint = false;
  ParsedCheckpoint checkpoint;
  std::int64_t covered_time_ms = 0;  // time of the entry the checkpoint covers, when read
  off_t after_offset = 0;            // where the lines after the checkpoint start
  std::vector<std::string> after;    // those lines, oldest first
};

bool ScanTail(int fd, off_t size, const PublicKeyBytes& pk, TailScan* scan, std::string* error) {
  BackwardLines lines(fd, size);
  std::string line;
  off_t offset = 0;
  std::vector<std::string> newest_first;
  scan->after_offset = size;
  while (lines.Next(&line, &offset, error)) {
    if (offset == 0) break;  // the header
    ParsedLine parsed = ParseLine(line);
    if (!scan->found_checkpoint && parsed.kind == LineKind::kCheckpoint &&
        CheckSignature(parsed.checkpoint.seq, parsed.checkpoint.hash, parsed.checkpoint.event,
                       parsed.checkpoint.sig, pk)) {
      scan->found_checkpoint = true;
      scan->checkpoint = parsed.checkpoint;
      continue;  // one more line: the entry it covers, for its time
    }
    if (scan->found_checkpoint) {
      if (parsed.kind == LineKind::kEntry && parsed.entry.seq == scan->checkpoint.seq)
        scan->covered_time_ms = parsed.entry.time_ms;
      if (parsed.kind != LineKind::kCheckpoint) break;
      continue;
    }
    newest_first.push_back(std::move(line));
    scan->after_offset = offset;
  }
  if (!error->empty()) return false;
  scan->after.assign(std::make_move_iterator(newest_first.rbegin()),
                     std::make_move_iterator(newest_first.rend()));
  return true;
}

// The hash of entry `seq`, searched from the end; empty when the file has none.
std::string FindEntryHash(int fd, off_t size, std::uint64_t seq, std::string* error) {
  BackwardLines lines(fd, size);
  std::string line;
  off_t offset = 0;
  while (lines.Next(&line, &offset, error) && offset > 0) {
    ParsedLine parsed = ParseLine(line);
    if (parsed.kind != LineKind::kEntry) continue;
    if (parsed.entry.seq == seq) return parsed.entry.hash;
    if (parsed.entry.seq < seq) break;
  }
  return {};
}

// Lines that end before `offset` (a line number is this plus one).
std::uint64_t LinesBefore(int fd, off_t offset) {
  std::uint64_t count = 0;
  std::string chunk(1 << 20, '\0');
  std::string ignored;
  for (off_t at = 0; at < offset;) {
    const std::size_t n = static_cast<std::size_t>(std::min<off_t>(offset - at, chunk.size()));
    if (!PreadAll(fd, chunk.data(), n, at, &ignored)) break;
    count += static_cast<std::uint64_t>(std::count(chunk.data(), chunk.data() + n, '\n'));
    at += static_cast<off_t>(n);
  }
  return count;
}

std::string FormatTime(std::int64_t time_ms) {
  std::time_t seconds = static_cast<std::time_t>(time_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[40];
  std::size_t n = std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buffer + n, sizeof(buffer) - n, ".%03dZ", static_cast<int>(time_ms % 1000));
  return buffer;
}

std::string EntryJsonLine(const Entry& entry) {
  OrderedJson line;
  line["seq"] = entry.seq;
  line["time_ms"] = entry.time_ms;
  line["kind"] = entry.kind;
  line["fields"] = OrderedJson::parse(entry.fields, nullptr, false);
  line["prev"] = entry.prev_hash;
  line["hash"] = entry.hash;
  return line.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

// Reads a key file's seed without creating one; refuses nothing but garbage.
bool ReadSeed(const std::string& path, std::array<unsigned char, crypto_sign_SEEDBYTES>* seed,
              std::string* error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    *error = Errno("audit key " + path);
    return false;
  }
  char text[2 * crypto_sign_SEEDBYTES + 2] = {};
  ssize_t n = ::read(fd, text, sizeof(text));
  ::close(fd);
  std::string_view content(text, n > 0 ? static_cast<std::size_t>(n) : 0);
  while (!content.empty() && (content.back() == '\n' || content.back() == '\r'))
    content.remove_suffix(1);
  const bool ok = Unhex(content, seed);
  sodium_memzero(text, sizeof(text));
  if (!ok) *error = "audit key " + path + " is not a 64-digit hex Ed25519 seed";
  return ok;
}

}  // namespace

std::optional<std::string> PublicKeyOfKeyFile(const std::string& key_path, std::string* error) {
  std::string scratch;
  if (error == nullptr) error = &scratch;
  if (sodium_init() < 0) {
    *error = "libsodium failed to initialise";
    return std::nullopt;
  }
  std::array<unsigned char, crypto_sign_SEEDBYTES> seed{};
  if (!ReadSeed(key_path, &seed, error)) return std::nullopt;
  SecretKey sk{};
  PublicKeyBytes pk{};
  crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data());
  sodium_memzero(seed.data(), seed.size());
  sodium_memzero(sk.data(), sk.size());
  return Hex(pk.data(), pk.size());
}

std::unique_ptr<Log> Log::Open(const OpenOptions& options, std::string* error, OpenReport* report) {
  std::string scratch;
  if (error == nullptr) error = &scratch;
  error->clear();
  OpenReport scratch_report;
  if (report == nullptr) report = &scratch_report;
  *report = OpenReport{};
  if (sodium_init() < 0) {
    *error = "libsodium failed to initialise";
    return nullptr;
  }
  if (options.path.empty() || options.key_path.empty()) {
    *error = "audit log: path and key_path are required";
    return nullptr;
  }
  SecretKey sk{};
  PublicKeyBytes pk{};
  if (!LoadOrCreateKey(options.key_path, &sk, &pk, error)) return nullptr;
  const std::string public_key_hex = Hex(pk.data(), pk.size());
  MacKey mac_key = DeriveMacKey(sk);

  int fd = ::open(options.path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = Errno("cannot open audit log " + options.path);
    sodium_memzero(sk.data(), sk.size());
    sodium_memzero(mac_key.data(), mac_key.size());
    return nullptr;
  }
  // From here on the FileLog owns fd and the key (closing and wiping them).
  auto log = std::make_unique<FileLog>(fd, sk, pk, options.checkpoint_every);
  sodium_memzero(sk.data(), sk.size());
  struct WipeMacKey {
    MacKey* key;
    ~WipeMacKey() { sodium_memzero(key->data(), key->size()); }
  } wipe{&mac_key};
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    *error = errno == EWOULDBLOCK ? "audit log " + options.path + " is in use by another process"
                                  : Errno("cannot lock audit log " + options.path);
    return nullptr;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    *error = Errno("cannot stat audit log " + options.path);
    return nullptr;
  }
  off_t size = CutTornLine(fd, st.st_size, error);
  if (size < 0) return nullptr;

  Head head;                                        // our own chain, as far as the file shows it
  CheckpointInfo durable;                           // the last checkpoint in the file we signed
  std::map<std::uint64_t, std::string> own_hashes;  // entries after it
  std::string found_hash_at_expected;
  if (size == 0) {
    OrderedJson header;
    header["dualkey_audit"] = 1;
    header["public_key"] = public_key_hex;
    header["created_ms"] = NowMs();
    if (!WriteAll(fd, header.dump() + "\n", error) || ::fdatasync(fd) != 0) {
      if (error->empty()) *error = Errno("cannot write audit log header");
      return nullptr;
    }
    SyncParentDirectory(options.path);
  } else {
    if (!CheckHeader(fd, size, public_key_hex, options.path, error)) return nullptr;
    TailScan scan;
    if (!ScanTail(fd, size, pk, &scan, error)) {
      *error = options.path + ": " + *error;
      return nullptr;
    }
    // Our macs are required after a checkpoint that names an event (this
    // version opened the log); earlier logs had none.
    bool strict = false;
    if (scan.found_checkpoint) {
      head.seq = scan.checkpoint.seq;
      head.hash = scan.checkpoint.hash;
      head.time_ms = scan.covered_time_ms;
      durable.seq = scan.checkpoint.seq;
      durable.hash = scan.checkpoint.hash;
      durable.sig = scan.checkpoint.sig;
      durable.event = scan.checkpoint.event;
      strict = !scan.checkpoint.event.empty();
    }
    Sha256 sha;
    std::size_t first_foreign_index = 0;
    for (std::size_t i = 0; i < scan.after.size(); ++i) {
      ParsedLine parsed = ParseLine(scan.after[i]);
      bool own = false;
      if (parsed.kind == LineKind::kEntry) {
        const ParsedEntry& entry = parsed.entry;
        const bool mac_ok =
            entry.mac.empty() ? !strict : entry.mac == EntryMac(entry.hash, mac_key);
        own = mac_ok && entry.seq == head.seq + 1 && entry.prev == head.hash &&
              RecomputeHash(entry, &sha) == entry.hash;
        if (own) {
          head.seq = entry.seq;
          head.hash = entry.hash;
          head.time_ms = std::max(head.time_ms, entry.time_ms);
          ++head.since_checkpoint;
          own_hashes[entry.seq] = entry.hash;
        }
      }
      if (own) continue;
      if (report->foreign_records++ == 0) {
        first_foreign_index = i;
        report->first_foreign_seq = parsed.kind == LineKind::kEntry ? parsed.entry.seq : 0;
      }
    }
    if (report->foreign_records > 0) {
      report->first_foreign_line = LinesBefore(fd, scan.after_offset) + 1 + first_foreign_index;
    }
    if (options.expect_seq > 0 && options.expect_seq <= head.seq) {
      if (options.expect_seq == durable.seq) {
        found_hash_at_expected = durable.hash;
      } else if (auto own_hash = own_hashes.find(options.expect_seq);
                 own_hash != own_hashes.end()) {
        found_hash_at_expected = own_hash->second;
      } else {
        found_hash_at_expected = FindEntryHash(fd, size, options.expect_seq, error);
        if (!error->empty()) return nullptr;
      }
    }
  }
  log->Resume(head, durable);

  // Records we did not write are never sealed over: our chain goes on from
  // our own last record, and says what it found.
  if (report->foreign_records > 0) {
    Json fields{{"records", report->foreign_records},
                {"first_seq", report->first_foreign_seq},
                {"first_line", report->first_foreign_line},
                {"own_last_seq", head.seq},
                {"why", "records after seq " + std::to_string(head.seq) +
                            " were not written by this log's key (appended or edited while it was "
                            "closed); they are not covered by any checkpoint"}};
    if (log->AppendInternal("audit.foreign_records", fields, error) == 0) return nullptr;
  }
  // The store remembers how far this log had got: a log that no longer has
  // that entry was deleted, replaced or shortened.
  if (options.expect_seq > 0 && found_hash_at_expected != options.expect_hash) {
    if (size == 0) {
      report->discontinuity = "the audit log was missing or empty";
    } else if (head.seq < options.expect_seq) {
      report->discontinuity = "the audit log ends at seq " + std::to_string(head.seq) +
                              " (records " + std::to_string(head.seq + 1) + ".." +
                              std::to_string(options.expect_seq) + " are gone)";
    } else if (found_hash_at_expected.empty()) {
      report->discontinuity =
          "the audit log has no entry seq " + std::to_string(options.expect_seq);
    } else {
      report->discontinuity = "the audit log's entry seq " + std::to_string(options.expect_seq) +
                              " differs from the one sealed (records replaced)";
    }
    report->discontinuity += ", but the store remembers a checkpoint at seq " +
                             std::to_string(options.expect_seq) + " (hash " + options.expect_hash +
                             ")";
    Json fields{{"expected_seq", options.expect_seq},
                {"expected_hash", options.expect_hash},
                {"file_last_seq", head.seq},
                {"why", report->discontinuity}};
    // After a cut, the chain goes on from what was sealed, so the gap shows.
    if (head.seq < options.expect_seq) log->Rebase(options.expect_seq, options.expect_hash);
    if (log->AppendInternal("audit.discontinuity", fields, error) == 0) return nullptr;
  }
  if (!log->WriteCheckpoint("open", &report->opened, error)) return nullptr;
  log->SetReady();
  return log;
}

VerifyReport Verify(const std::string& path, std::string_view public_key) {
  VerifyReport report;
  if (sodium_init() < 0) {
    report.unreadable = true;
    report.problems.push_back("libsodium failed to initialise");
    return report;
  }
  std::uint64_t line_no = 0;
  std::uint64_t line_seq = 0;  // the seq the line being read names (0: none)
  auto problem = [&](std::string text) {
    if (report.problems.empty()) {
      report.first_problem_line = line_no;
      report.first_problem_seq = line_seq;
    }
    if (report.problems.size() < kMaxProblems) {
      report.problems.push_back(std::move(text));
    } else if (report.problems.size() == kMaxProblems) {
      report.problems.push_back("... further problems not listed");
    }
  };
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    report.unreadable = true;
    report.problems.push_back("cannot open " + path + ": " + std::strerror(errno));
    return report;
  }

  std::optional<PublicKeyBytes> key;
  auto use_key = [&](std::string_view hex) {
    PublicKeyBytes pk{};
    if (Unhex(hex, &pk)) {
      key = pk;
      report.public_key = std::string(hex);
    }
  };
  if (!public_key.empty()) {
    report.key_pinned = true;
    use_key(public_key);
    if (!key) problem("the public key given to verify is not 64 hex digits");
  }
  // After a signed "close" checkpoint nothing may follow until our "open".
  bool closed = false;
  std::uint64_t closed_at = 0, foreign_after_close = 0;
  auto foreign = [&](std::uint64_t count, std::uint64_t seq, std::uint64_t line) {
    if (report.foreign_records == 0) {
      report.first_foreign_seq = seq;
      report.first_foreign_line = line;
    }
    report.foreign_records += count;
  };

  Sha256 sha;
  std::string line;
  std::uint64_t last_seq = 0;
  std::string last_hash(kZeroHash);
  bool seen_header = false;
  while (std::getline(in, line)) {
    ++line_no;
    std::string where = "line " + std::to_string(line_no) + ": ";
    if (in.eof()) {
      // No '\n': an unfinished write from a crash, never acknowledged. Open
      // cuts it off.
      report.notes.push_back(where +
                             "torn final line (an unfinished write, never acknowledged); ignored");
      break;
    }
    if (line_no == 1) {
      seen_header = true;
      std::string why;
      std::optional<Header> header = ParseHeader(line, &why);
      if (!header) {
        problem(where + "bad header (" + why + ")");
      } else if (!public_key.empty()) {
        if (key && header->public_key != report.public_key) {
          problem(where + "header public key " + header->public_key +
                  " differs from the expected key " + report.public_key + " (header replaced)");
        }
      } else {
        use_key(header->public_key);
      }
      continue;
    }
    ParsedLine parsed = ParseLine(line);
    line_seq = parsed.kind == LineKind::kEntry        ? parsed.entry.seq
               : parsed.kind == LineKind::kCheckpoint ? parsed.checkpoint.seq
                                                      : 0;
    switch (parsed.kind) {
      case LineKind::kGarbage:
        problem(where + parsed.why + " (garbage or a damaged record)");
        break;
      case LineKind::kHeader:
        problem(where + "a second header (files spliced together?)");
        break;
      case LineKind::kCheckpoint: {
        const ParsedCheckpoint& cp = parsed.checkpoint;
        std::string what = where + "checkpoint at seq " + std::to_string(cp.seq) + ": ";
        bool signed_ok = key && CheckSignature(cp.seq, cp.hash, cp.event, cp.sig, *key);
        if (signed_ok && cp.event == "close") {
          closed = true;
          closed_at = cp.seq;
        } else if (signed_ok && cp.event == "open") {
          if (closed && foreign_after_close > 0)
            problem("line " + std::to_string(line_no) + ": the log was opened again at seq " +
                    std::to_string(cp.seq) + " after " + std::to_string(foreign_after_close) +
                    " record(s) that were not dualkey's");
          closed = false;
          foreign_after_close = 0;
        }
        if (!key) {
          problem(what + "cannot check the signature (no valid public key)");
        } else if (!signed_ok) {
          problem(what + "bad signature (checkpoint forged or edited, or the header key replaced)");
        }
        if (cp.seq > last_seq) {
          problem(what + "but the entries before it end at seq " + std::to_string(last_seq) +
                  " (records removed or reordered)");
        } else if (cp.seq < last_seq) {
          problem(what + "out of place after seq " + std::to_string(last_seq) +
                  " (records reordered)");
        } else if (cp.hash != last_hash) {
          problem(what + "does not match the hash of entry " + std::to_string(last_seq) +
                  " (records edited or replaced)");
        } else if (signed_ok) {
          ++report.checkpoints;
          report.last_checkpoint_seq = cp.seq;
        }
        break;
      }
      case LineKind::kEntry: {
        const ParsedEntry& entry = parsed.entry;
        ++report.entries;
        std::string what = where + "seq " + std::to_string(entry.seq) + ": ";
        // The daemon's own notes about what it found are written before it
        // signs "open"; they are not foreign.
        const bool own_note =
            entry.kind == "audit.foreign_records" || entry.kind == "audit.discontinuity";
        if (closed && !own_note) {
          if (foreign_after_close++ == 0)
            problem(what + "written after the log was closed and sealed at seq " +
                    std::to_string(closed_at) +
                    " (not dualkey's: records appended while the daemon was stopped)");
          foreign(1, entry.seq, line_no);
        }
        if (entry.kind == "audit.foreign_records") {
          const Json& f = entry.fields;
          const std::uint64_t records = f.value("records", std::uint64_t{0});
          const std::uint64_t first_seq = f.value("first_seq", std::uint64_t{0});
          const std::uint64_t first_line = f.value("first_line", std::uint64_t{0});
          problem(what + "when dualkey opened the log it found " + std::to_string(records) +
                  " record(s) it did not write after its seq " +
                  std::to_string(f.value("own_last_seq", std::uint64_t{0})) +
                  ", the first at line " + std::to_string(first_line) + " (seq " +
                  std::to_string(first_seq) + "): appended or edited while it was stopped");
          if (report.foreign_records == 0) foreign(records, first_seq, first_line);
        } else if (entry.kind == "audit.discontinuity") {
          problem(
              what + "when dualkey opened the log: " +
              entry.fields.value("why", std::string("the log was deleted, replaced or shortened")));
        }
        if (RecomputeHash(entry, &sha) != entry.hash) {
          problem(what + "hash mismatch (record edited)");
        }
        if (entry.seq != last_seq + 1) {
          if (entry.seq <= last_seq) {
            problem(what + "comes after seq " + std::to_string(last_seq) +
                    " (records reordered or duplicated)");
          } else {
            problem(what + "follows seq " + std::to_string(last_seq) + " (records " +
                    std::to_string(last_seq + 1) +
                    (entry.seq - 1 > last_seq + 1 ? ".." + std::to_string(entry.seq - 1) : "") +
                    " removed or moved)");
          }
        } else if (entry.prev != last_hash) {
          problem(what + "prev does not match the hash of seq " + std::to_string(last_seq) +
                  " (the chain is broken: records replaced or edited)");
        }
        // Resynchronise on the record as written, so that one edit is
        // reported once rather than at every later line.
        last_seq = entry.seq;
        last_hash = entry.hash;
        break;
      }
    }
  }
  if (in.bad()) {
    report.unreadable = true;
    report.problems.push_back("read error in " + path);
  }
  line_seq = 0;
  if (!seen_header) problem("the file is empty: no header (truncated)");
  report.last_seq = last_seq;
  report.last_hash = last_hash;
  if (report.last_checkpoint_seq < last_seq && !closed) {
    report.notes.push_back(
        "entries after seq " + std::to_string(report.last_checkpoint_seq) +
        " are not covered by a signed checkpoint yet (the daemon is running, or stopped without "
        "closing the log: it checks them when it starts)");
  }
  if (!report.key_pinned && !report.public_key.empty()) {
    report.notes.push_back(
        "the signer was read from the log's own header: a log rewritten with a new key would "
        "verify too; pin it with --pubkey KEY (`dualkey audit pubkey` prints it)");
  }
  report.ok = report.problems.empty() && !report.unreadable;
  return report;
}

std::vector<Entry> Read(const std::string& path, std::int64_t since_ms, std::string* error) {
  std::vector<Entry> entries;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (error) *error = "cannot open " + path + ": " + std::strerror(errno);
    return entries;
  }
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // torn final line
    if (first) {
      first = false;
      continue;
    }
    ParsedLine parsed = ParseLine(line);
    if (parsed.kind != LineKind::kEntry || parsed.entry.time_ms < since_ms) continue;
    Entry entry;
    entry.seq = parsed.entry.seq;
    entry.time_ms = parsed.entry.time_ms;
    entry.kind = std::move(parsed.entry.kind);
    entry.fields = DumpCanonical(parsed.entry.fields);
    entry.prev_hash = std::move(parsed.entry.prev);
    entry.hash = std::move(parsed.entry.hash);
    entries.push_back(std::move(entry));
  }
  if (in.bad() && error) *error = "read error in " + path;
  return entries;
}

int RunAuditCommand(const std::string& action, const std::string& path, std::int64_t since_ms,
                    int tail_lines, bool json, std::ostream& out, std::ostream& err) {
  return RunAuditCommand(action, path, since_ms, tail_lines, json, {}, out, err);
}

int RunAuditCommand(const std::string& action, const std::string& path, std::int64_t since_ms,
                    int tail_lines, bool json, std::string_view public_key, std::ostream& out,
                    std::ostream& err) {
  if (action == "verify") {
    VerifyReport report = Verify(path, public_key);
    if (json) {
      Json result{{"ok", report.ok},
                  {"path", path},
                  {"entries", report.entries},
                  {"checkpoints", report.checkpoints},
                  {"last_seq", report.last_seq},
                  {"last_hash", report.last_hash},
                  {"last_checkpoint_seq", report.last_checkpoint_seq},
                  {"public_key", report.public_key},
                  {"key_pinned", report.key_pinned},
                  {"foreign_records", report.foreign_records},
                  {"first_foreign_seq", report.first_foreign_seq},
                  {"first_foreign_line", report.first_foreign_line},
                  {"unreadable", report.unreadable},
                  {"problems", report.problems},
                  {"notes", report.notes}};
      out << DumpCanonical(result) << "\n";
    } else if (report.unreadable) {
      for (const std::string& p : report.problems) err << "dualkey audit verify: " << p << "\n";
    } else {
      out << (report.ok ? "audit log intact: " : "audit log TAMPERED: ") << path << "\n"
          << "  " << report.entries << " entries, " << report.checkpoints
          << " signed checkpoints; last entry is seq " << report.last_seq << " (hash "
          << report.last_hash << "), last signed checkpoint at seq " << report.last_checkpoint_seq
          << "\n"
          << "  public key " << (report.public_key.empty() ? "(none)" : report.public_key)
          << (report.key_pinned ? " (pinned)" : " (from the log's header)") << "\n";
      if (report.foreign_records > 0)
        out << "  " << report.foreign_records
            << " record(s) not written by dualkey; the first at line " << report.first_foreign_line
            << " (seq " << report.first_foreign_seq << ")\n";
      for (const std::string& p : report.problems) out << "  problem: " << p << "\n";
      for (const std::string& n : report.notes) out << "  note: " << n << "\n";
      if (report.ok) {
        out << "  compare the last entry and key with an external copy to detect a truncated or "
               "rewritten log\n";
      }
    }
    if (report.unreadable) return 2;
    return report.ok ? 0 : 1;
  }
  if (action == "tail" || action == "export") {
    std::string error;
    std::vector<Entry> entries = Read(path, action == "export" ? since_ms : 0, &error);
    if (!error.empty()) {
      err << "dualkey audit " << action << ": " << error << "\n";
      return 2;
    }
    std::size_t begin = 0;
    if (action == "tail") {
      std::size_t count = tail_lines > 0 ? static_cast<std::size_t>(tail_lines) : 20;
      begin = entries.size() > count ? entries.size() - count : 0;
    }
    for (std::size_t i = begin; i < entries.size(); ++i) {
      const Entry& entry = entries[i];
      if (action == "export" || json) {
        out << EntryJsonLine(entry) << "\n";
      } else {
        out << "#" << entry.seq << "  " << FormatTime(entry.time_ms) << "  " << entry.kind << "  "
            << entry.fields << "\n";
      }
    }
    return 0;
  }
  err << "dualkey audit: unknown action '" << action << "' (verify, tail or export)\n";
  return 2;
}

std::optional<DetachedSignature> SignWithKeyFile(const std::string& key_path,
                                                 std::string_view message, std::string* error) {
  if (sodium_init() < 0) {
    *error = "libsodium failed to initialise";
    return std::nullopt;
  }
  struct stat st {};
  if (::lstat(key_path.c_str(), &st) != 0) {
    *error = Errno("audit key " + key_path);
    return std::nullopt;
  }
  SecretKey sk{};
  PublicKeyBytes pk{};
  if (!LoadOrCreateKey(key_path, &sk, &pk, error)) return std::nullopt;
  Signature sig{};
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), sk.data());
  sodium_memzero(sk.data(), sk.size());
  return DetachedSignature{Hex(pk.data(), pk.size()), Hex(sig.data(), sig.size())};
}

bool VerifyDetached(std::string_view public_key_hex, std::string_view message,
                    std::string_view signature_hex) {
  if (sodium_init() < 0) return false;
  PublicKeyBytes pk{};
  Signature sig{};
  if (!Unhex(public_key_hex, &pk) || !Unhex(signature_hex, &sig)) return false;
  return crypto_sign_verify_detached(sig.data(),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), pk.data()) == 0;
}

}  // namespace dualkey::audit
