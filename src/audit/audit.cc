// The audit log: a hash-chained, append-only file of JSON lines.
//
// Format (one JSON object per line, each line ends with '\n'):
//
//   line 1, the header:
//     {"dualkey_audit":1,"public_key":"<hex Ed25519 public key>","created_ms":<ms>}
//   an entry:
//     {"seq":N,"time_ms":T,"kind":"...","fields":{...},"prev":"<hex>","hash":"<hex>"}
//     hash = SHA-256(prev || "\n" || canonical), where prev is the previous
//     entry's hash in hex ("0"*64 for seq 1) and canonical is the JSON object
//     {"fields":...,"kind":...,"seq":N,"time_ms":T} with sorted keys and no
//     whitespace (nlohmann::json::dump()). seq starts at 1 and has no gaps.
//   a checkpoint, after every `checkpoint_every` entries, on open after a
//   crash, and on clean close:
//     {"checkpoint":{"hash":"<hash of entry N>","seq":N},"sig":"<hex>"}
//     sig = Ed25519 signature over the canonical checkpoint object text
//     {"hash":"...","seq":N}.
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
                      std::string_view hash) {
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
  line += "\"}\n";
  return line;
}

std::string CheckpointMessage(std::uint64_t seq, std::string_view hash) {
  return DumpCanonical(Json{{"seq", seq}, {"hash", std::string(hash)}});
}

using SecretKey = std::array<unsigned char, crypto_sign_SECRETKEYBYTES>;
using PublicKeyBytes = std::array<unsigned char, crypto_sign_PUBLICKEYBYTES>;
using Signature = std::array<unsigned char, crypto_sign_BYTES>;

std::string CheckpointLine(std::uint64_t seq, std::string_view hash, const SecretKey& sk) {
  std::string message = CheckpointMessage(seq, hash);
  Signature sig{};
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), sk.data());
  return "{\"checkpoint\":" + message + ",\"sig\":\"" + Hex(sig.data(), sig.size()) + "\"}\n";
}

bool CheckSignature(std::uint64_t seq, std::string_view hash, std::string_view sig_hex,
                    const PublicKeyBytes& pk) {
  Signature sig{};
  if (!Unhex(sig_hex, &sig)) return false;
  std::string message = CheckpointMessage(seq, hash);
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
};

struct ParsedCheckpoint {
  std::uint64_t seq = 0;
  std::string hash;
  std::string sig;
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
    if (!cp.is_object() || !cp.contains("seq") || !cp["seq"].is_number_unsigned() ||
        !cp.contains("hash") || !cp["hash"].is_string() || sig == value.end() ||
        !sig->is_string() || value.size() != 2 || cp.size() != 2) {
      out.why = "malformed checkpoint";
      return out;
    }
    out.kind = LineKind::kCheckpoint;
    out.checkpoint.seq = cp["seq"].get<std::uint64_t>();
    out.checkpoint.hash = cp["hash"].get<std::string>();
    out.checkpoint.sig = sig->get<std::string>();
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
  } else if (value.size() != 6) {
    out.why = "malformed entry: unexpected extra keys";
  } else {
    out.kind = LineKind::kEntry;
    out.entry.seq = seq->get<std::uint64_t>();
    out.entry.time_ms = time_ms->get<std::int64_t>();
    out.entry.kind = kind->get<std::string>();
    out.entry.fields = *fields;
    out.entry.prev = prev->get<std::string>();
    out.entry.hash = hash->get<std::string>();
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

bool WriteAll(int fd, std::string_view data, std::string* error) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = Errno("audit log write failed");
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
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

class FileLog final : public Log {
 public:
  FileLog(int fd, const SecretKey& sk, const PublicKeyBytes& pk, int checkpoint_every)
      : fd_(fd),
        sk_(sk),
        public_key_hex_(Hex(pk.data(), pk.size())),
        checkpoint_every_(checkpoint_every > 0 ? checkpoint_every : 1000) {}

  ~FileLog() override {
    {
      std::unique_lock lock(mu_);
      stopping_ = true;
    }
    flush_cv_.notify_all();
    if (flusher_.joinable()) flusher_.join();
    {
      std::unique_lock lock(mu_);
      while (leader_active_) {  // only if the owner closes while appends are in flight
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        lock.lock();
      }
      // Seal the tail with a checkpoint on clean close.
      if (broken_.empty() && last_seq_ > 0 && since_checkpoint_ > 0) {
        pending_ += CheckpointLine(last_seq_, last_hash_, sk_);
      }
      if (broken_.empty() && !pending_.empty()) {
        std::string error;
        if (WriteAll(fd_, pending_, &error)) ::fdatasync(fd_);
      }
    }
    ::close(fd_);  // releases the flock
    sodium_memzero(sk_.data(), sk_.size());
  }

  // Called by Open before the log is shared.
  void Resume(std::uint64_t last_seq, std::string last_hash, std::int64_t last_time_ms,
              bool tail_checkpointed) {
    last_seq_ = durable_seq_ = written_seq_ = last_seq;
    last_hash_ = std::move(last_hash);
    last_time_ms_ = last_time_ms;
    since_checkpoint_ = tail_checkpointed ? 0 : 1;
  }

  // Writes a checkpoint now if the tail lacks one (after a crash).
  bool SealTail(std::string* error) {
    if (last_seq_ == 0 || since_checkpoint_ == 0) return true;
    since_checkpoint_ = 0;
    return WriteAll(fd_, CheckpointLine(last_seq_, last_hash_, sk_), error) && Sync(error);
  }

  std::uint64_t Append(const Record& record, std::string* error, Durability durability) override {
    std::string scratch;
    if (error == nullptr) error = &scratch;
    // Everything that does not depend on the chain is done before the lock.
    Json fields = record.fields.empty()
                      ? Json::object()
                      : Json::parse(record.fields, nullptr, /*allow_exceptions=*/false);
    if (fields.is_discarded() || !fields.is_object()) {
      *error = "audit record fields are not a JSON object";
      return 0;
    }
    std::string fields_canonical = DumpCanonical(fields);
    std::string kind_json = DumpCanonical(Json(record.kind));
    std::string canonical = CanonicalPrefix(record.kind, fields_canonical);

    std::unique_lock lock(mu_);
    if (!broken_.empty()) {
      *error = broken_;
      return 0;
    }
    std::uint64_t seq = last_seq_ + 1;
    // Never backwards, so that export --since sees a time-ordered file even
    // when the wall clock steps back.
    std::int64_t time_ms = std::max(NowMs(), last_time_ms_);
    AppendCanonicalTail(seq, time_ms, &canonical);
    std::string hash = sha_.ChainHash(last_hash_, canonical);
    if (hash.empty()) {
      *error = "audit log: SHA-256 failed";
      return 0;
    }
    pending_ += EntryLine(seq, time_ms, kind_json, fields_canonical, last_hash_, hash);
    last_seq_ = seq;
    last_time_ms_ = time_ms;
    last_hash_ = std::move(hash);
    if (++since_checkpoint_ >= static_cast<std::uint64_t>(checkpoint_every_)) {
      pending_ += CheckpointLine(seq, last_hash_, sk_);
      since_checkpoint_ = 0;
    }
    if (durability == Durability::kWritten) {
      if (!WaitWritten(lock, seq, error)) return 0;
      // The flusher wakes on its own every 100 ms: waking it per append
      // would cost a context switch and an fsync per harmless command.
      if (!flusher_.joinable()) flusher_ = std::thread([this] { FlushLoop(); });
      return seq;
    }
    if (!WaitDurable(lock, seq, error)) return 0;
    return seq;
  }

  std::string PublicKey() const override { return public_key_hex_; }

 private:
  bool Sync(std::string* error) {
    while (::fdatasync(fd_) != 0) {
      if (errno == EINTR) continue;
      *error = Errno("audit log fdatasync failed");
      return false;
    }
    return true;
  }

  // Group commit: the first waiter with no leader active writes everything
  // queued so far and syncs once; the others wait for it. Batches are
  // numbered and their waiters sleep on the condition variable of their
  // batch's parity, so a finished sync wakes only its own appenders and one
  // appender of the next batch to lead it, not every waiting thread.
  bool WaitDurable(std::unique_lock<std::mutex>& lock, std::uint64_t seq, std::string* error) {
    const std::uint64_t my_batch = next_batch_;  // the batch the queued line will go out in
    while (durable_seq_ < seq) {
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
      std::uint64_t batch_last = last_seq_;
      lock.unlock();
      auto sync_start = std::chrono::steady_clock::now();
      std::string failure;
      bool ok = WriteAll(fd_, batch_, &failure) && Sync(&failure);
      auto sync_time = std::chrono::steady_clock::now() - sync_start;
      batch_.clear();
      lock.lock();
      leader_active_ = false;
      last_batch_entries_ = batch_last - durable_seq_;
      sync_ewma_ =
          (sync_ewma_ * 7 + std::chrono::duration_cast<std::chrono::microseconds>(sync_time)) / 8;
      if (ok) {
        durable_seq_ = batch_last;
        written_seq_ = std::max(written_seq_, batch_last);
      } else {
        // The file's tail is now unknown: refuse everything from here on.
        broken_ = failure;
        batch_cv_[(batch_no + 1) % 2].notify_all();
      }
      batch_cv_[batch_no % 2].notify_all();
      batch_cv_[(batch_no + 1) % 2].notify_one();
    }
    return true;
  }

  // Like WaitDurable without the sync: the first waiter with no leader
  // active writes everything queued. The page cache outlives the process, so
  // a written record survives kill -9; FlushLoop syncs it soon after.
  bool WaitWritten(std::unique_lock<std::mutex>& lock, std::uint64_t seq, std::string* error) {
    while (written_seq_ < seq) {
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
      std::uint64_t batch_last = last_seq_;
      lock.unlock();
      std::string failure;
      bool ok = WriteAll(fd_, batch_, &failure);
      batch_.clear();
      lock.lock();
      leader_active_ = false;
      if (ok) {
        written_seq_ = batch_last;
      } else {
        broken_ = failure;
      }
      batch_cv_[batch_no % 2].notify_all();
      batch_cv_[(batch_no + 1) % 2].notify_all();
    }
    return true;
  }

  // Syncs written records within 100 ms of their append.
  void FlushLoop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      flush_cv_.wait_for(lock, std::chrono::milliseconds(100));
      if (written_seq_ <= durable_seq_ || leader_active_ || !broken_.empty()) continue;
      // An empty batch: WaitDurable writes what is queued and syncs.
      std::string error;
      WaitDurable(lock, written_seq_, &error);
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
    std::uint64_t seen = last_seq_;
    while (std::chrono::steady_clock::now() < deadline) {
      gather_cv_.wait_for(lock, kStep);
      if (last_seq_ == seen) break;  // nobody joined during a step: go
      seen = last_seq_;
    }
  }

  const int fd_;
  SecretKey sk_;
  const std::string public_key_hex_;
  const int checkpoint_every_;

  std::mutex mu_;
  std::condition_variable batch_cv_[2];  // waiters of even / odd batches
  std::condition_variable gather_cv_;    // never notified: the leader's timed pause
  std::uint64_t next_batch_ = 0;         // number of the batch pending_ will go out in
  Sha256 sha_;                           // guarded by mu_
  std::uint64_t last_seq_ = 0;           // last seq assigned (chain head)
  std::string last_hash_{kZeroHash};     // its hash
  std::int64_t last_time_ms_ = 0;
  std::uint64_t since_checkpoint_ = 0;  // entries since the last checkpoint line
  std::uint64_t durable_seq_ = 0;       // everything up to here is synced
  std::uint64_t written_seq_ = 0;       // everything up to here is in the file
  std::condition_variable flush_cv_;
  std::thread flusher_;  // started by the first kWritten append
  bool stopping_ = false;
  std::string pending_;  // lines queued, not yet written
  std::string batch_;    // the leader's buffer (only the leader touches it)
  bool leader_active_ = false;
  std::uint64_t last_batch_entries_ = 0;       // entries the last leader synced
  std::chrono::microseconds sync_ewma_{1000};  // how long write + sync takes here
  std::string broken_;                         // set after a failed write: the log refuses appends
};

// What Open learns from the end of an existing file.
struct Tail {
  std::uint64_t last_seq = 0;
  std::string last_hash{kZeroHash};
  std::int64_t last_time_ms = 0;
  bool checkpointed = false;  // a checkpoint for last_seq follows it
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

// Finds the last entry (and whether a checkpoint for it follows) by reading
// the file backwards in growing chunks; checks the entry's own hash.
bool ReadTail(int fd, off_t size, Tail* tail, std::string* error) {
  Sha256 sha;
  std::size_t chunk_size = 65536;
  std::string chunk;
  while (true) {
    off_t start = std::max<off_t>(0, size - static_cast<off_t>(chunk_size));
    chunk.resize(static_cast<std::size_t>(size - start));
    if (!PreadAll(fd, chunk.data(), chunk.size(), start, error)) return false;
    // Complete lines in the chunk, newest first. The first piece is partial
    // unless the chunk starts at the beginning of the file.
    std::string_view view(chunk);
    view.remove_suffix(1);  // the final '\n'
    std::optional<std::uint64_t> checkpoint_seq;
    while (true) {
      std::size_t newline = view.rfind('\n');
      bool first_in_chunk = newline == std::string_view::npos;
      if (first_in_chunk && start > 0) break;  // partial: read more
      std::string_view line = first_in_chunk ? view : view.substr(newline + 1);
      bool is_header = first_in_chunk && start == 0;
      if (is_header) return true;  // no entries yet
      ParsedLine parsed = ParseLine(line);
      if (parsed.kind == LineKind::kCheckpoint) {
        if (!checkpoint_seq) checkpoint_seq = parsed.checkpoint.seq;
      } else if (parsed.kind == LineKind::kEntry) {
        if (RecomputeHash(parsed.entry, &sha) != parsed.entry.hash) {
          *error = "the last entry of the audit log (seq " + std::to_string(parsed.entry.seq) +
                   ") fails its hash check; run `dualkey audit verify`";
          return false;
        }
        tail->last_seq = parsed.entry.seq;
        tail->last_hash = parsed.entry.hash;
        tail->last_time_ms = parsed.entry.time_ms;
        tail->checkpointed = checkpoint_seq == parsed.entry.seq;
        return true;
      } else {
        *error = "the end of the audit log is corrupt (" +
                 (parsed.why.empty() ? std::string("unexpected header") : parsed.why) +
                 "); run `dualkey audit verify`";
        return false;
      }
      view = view.substr(0, first_in_chunk ? 0 : newline);
      if (first_in_chunk) return true;
    }
    if (start == 0) return true;
    chunk_size *= 4;
  }
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

}  // namespace

std::unique_ptr<Log> Log::Open(const OpenOptions& options, std::string* error) {
  std::string scratch;
  if (error == nullptr) error = &scratch;
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
  std::string public_key_hex = Hex(pk.data(), pk.size());

  int fd = ::open(options.path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = Errno("cannot open audit log " + options.path);
    sodium_memzero(sk.data(), sk.size());
    return nullptr;
  }
  // From here on the FileLog owns fd and the key (closing and wiping them).
  auto log = std::make_unique<FileLog>(fd, sk, pk, options.checkpoint_every);
  sodium_memzero(sk.data(), sk.size());
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
    return log;
  }
  if (!CheckHeader(fd, size, public_key_hex, options.path, error)) return nullptr;
  Tail tail;
  if (!ReadTail(fd, size, &tail, error)) {
    *error = options.path + ": " + *error;
    return nullptr;
  }
  log->Resume(tail.last_seq, tail.last_hash, tail.last_time_ms, tail.checkpointed);
  if (!log->SealTail(error)) return nullptr;
  return log;
}

VerifyReport Verify(const std::string& path, std::string_view public_key) {
  VerifyReport report;
  if (sodium_init() < 0) {
    report.unreadable = true;
    report.problems.push_back("libsodium failed to initialise");
    return report;
  }
  auto problem = [&](std::string text) {
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
    use_key(public_key);
    if (!key) problem("the public key given to verify is not 64 hex digits");
  }

  Sha256 sha;
  std::string line;
  std::uint64_t line_no = 0;
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
        bool signed_ok = key && CheckSignature(cp.seq, cp.hash, cp.sig, *key);
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
  if (!seen_header) problem("the file is empty: no header (truncated)");
  report.last_seq = last_seq;
  report.last_hash = last_hash;
  if (report.last_checkpoint_seq < last_seq) {
    report.notes.push_back(
        "entries after seq " + std::to_string(report.last_checkpoint_seq) +
        " are not covered by a signed checkpoint (the daemon did not close cleanly, or is "
        "running)");
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
  if (action == "verify") {
    VerifyReport report = Verify(path);
    if (json) {
      Json result{{"ok", report.ok},
                  {"path", path},
                  {"entries", report.entries},
                  {"checkpoints", report.checkpoints},
                  {"last_seq", report.last_seq},
                  {"last_hash", report.last_hash},
                  {"last_checkpoint_seq", report.last_checkpoint_seq},
                  {"public_key", report.public_key},
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
          << "  public key " << (report.public_key.empty() ? "(none)" : report.public_key) << "\n";
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
