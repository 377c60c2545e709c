#include "token/token.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/encoding.h"

namespace dualkey::token {
namespace {

using nlohmann::json;

std::string Base64(const std::uint8_t* data, std::size_t size, int variant) {
  std::string out(sodium_base64_encoded_len(size, variant), '\0');
  sodium_bin2base64(out.data(), out.size(), data, size, variant);
  out.resize(std::strlen(out.c_str()));
  return out;
}

bool Unbase64(const std::string& text, std::string* out) {
  out->assign(text.size(), '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out->data()), out->size(), text.data(),
                        text.size(), nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
    return false;
  out->resize(len);
  return true;
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("-_.:@", c) != nullptr;
  });
}

std::array<std::uint8_t, 32> Hmac(const std::uint8_t* key, std::size_t key_len,
                                  std::string_view message) {
  std::array<std::uint8_t, 32> out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key, static_cast<int>(key_len),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(), &len);
  return out;
}

json ToJson(const Token& t) {
  return json{
      {"name", t.name},
      {"scopes", t.scopes},
      {"created_ms", t.created_ms},
      {"sha256", t.sha256_hex},
      {"scram",
       {{"salt", Base64(reinterpret_cast<const std::uint8_t*>(t.scram.salt.data()),
                        t.scram.salt.size(), sodium_base64_VARIANT_ORIGINAL)},
        {"iterations", t.scram.iterations},
        {"stored_key", Base64(t.scram.stored_key.data(), 32, sodium_base64_VARIANT_ORIGINAL)},
        {"server_key", Base64(t.scram.server_key.data(), 32, sodium_base64_VARIANT_ORIGINAL)}}}};
}

bool FromJson(const json& j, Token* t) {
  try {
    t->name = j.at("name").get<std::string>();
    t->scopes = j.at("scopes").get<std::vector<std::string>>();
    t->created_ms = j.at("created_ms").get<std::int64_t>();
    t->sha256_hex = j.at("sha256").get<std::string>();
    const json& s = j.at("scram");
    t->scram.iterations = s.at("iterations").get<int>();
    std::string stored, server;
    if (!Unbase64(s.at("salt").get<std::string>(), &t->scram.salt) ||
        !Unbase64(s.at("stored_key").get<std::string>(), &stored) ||
        !Unbase64(s.at("server_key").get<std::string>(), &server) || stored.size() != 32 ||
        server.size() != 32)
      return false;
    std::memcpy(t->scram.stored_key.data(), stored.data(), 32);
    std::memcpy(t->scram.server_key.data(), server.data(), 32);
    return ValidName(t->name) && t->sha256_hex.size() == 64;
  } catch (const json::exception&) {
    return false;
  }
}

// An exclusive lock on the token file's lock file for read-modify-write.
class FileLock {
 public:
  explicit FileLock(const std::string& path)
      : fd_(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (fd_ >= 0) flock(fd_, LOCK_EX);
  }
  ~FileLock() {
    if (fd_ >= 0) close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

bool WriteAtomically(const std::string& path, const std::string& data, std::string* error) {
  const std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = "cannot write " + tmp + ": " + std::strerror(errno);
    return false;
  }
  const char* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = "cannot write " + tmp + ": " + std::strerror(errno);
      close(fd);
      return false;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "cannot save " + path + ": " + std::strerror(errno);
    return false;
  }
  const std::string dir = path.substr(0, path.find_last_of('/') + 1);
  int dfd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return true;
}

}  // namespace

bool Token::Allows(std::string_view scope) const {
  return std::any_of(scopes.begin(), scopes.end(),
                     [&](const std::string& s) { return s == "*" || s == scope; });
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return base::Hex(digest, sizeof digest);
}

ScramVerifier MakeScramVerifier(std::string_view secret, std::string salt, int iterations) {
  ScramVerifier v;
  v.salt = std::move(salt);
  v.iterations = iterations;
  std::uint8_t salted[32];
  PKCS5_PBKDF2_HMAC(secret.data(), static_cast<int>(secret.size()),
                    reinterpret_cast<const unsigned char*>(v.salt.data()),
                    static_cast<int>(v.salt.size()), iterations, EVP_sha256(), 32, salted);
  std::array<std::uint8_t, 32> client_key = Hmac(salted, 32, "Client Key");
  SHA256(client_key.data(), client_key.size(), v.stored_key.data());
  v.server_key = Hmac(salted, 32, "Server Key");
  sodium_memzero(salted, sizeof salted);
  return v;
}

Store::Store(std::string state_dir)
    : state_dir_(std::move(state_dir)), path_(state_dir_ + "/tokens.json") {}

Status Store::Refresh() {
  struct stat st {};
  if (stat(path_.c_str(), &st) != 0) {
    if (errno != ENOENT)
      return Status::IOError("cannot read " + path_ + ": " + std::strerror(errno));
    tokens_.clear();
    loaded_mtime_ns_ = 0;
    loaded_size_ = 0;
    return Status::Ok();
  }
  const std::int64_t mtime = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  if (mtime == loaded_mtime_ns_ && st.st_size == loaded_size_) return Status::Ok();
  std::ifstream in(path_);
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (!in && !in.eof()) return Status::IOError("cannot read " + path_);
  json doc = json::parse(buffer.str(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("tokens") ||
      !doc["tokens"].is_array())
    return Status::Corruption(path_ + " is damaged (not a dualkey token file)");
  std::vector<Token> tokens;
  for (const json& j : doc["tokens"]) {
    Token t;
    if (!FromJson(j, &t)) return Status::Corruption(path_ + " has a damaged entry");
    tokens.push_back(std::move(t));
  }
  tokens_ = std::move(tokens);
  loaded_mtime_ns_ = mtime;
  loaded_size_ = st.st_size;
  return Status::Ok();
}

Result<std::string> Store::Add(const std::string& name, const std::vector<std::string>& scopes) {
  if (!ValidName(name))
    return Status::InvalidArgument(
        "a token name is 1-128 letters, digits, '-', '_', '.', ':' or '@'");
  for (const std::string& s : scopes)
    if (s != "pg" && s != "http" && s != "mcp" && s != "*")
      return Status::InvalidArgument("unknown scope '" + s + "' (pg, http, mcp or *)");
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  mkdir(state_dir_.c_str(), 0700);
  FileLock lock(path_ + ".lock");
  if (!lock.ok()) return Status::IOError("cannot lock " + path_ + ".lock: " + std::strerror(errno));
  loaded_mtime_ns_ = -1;
  if (Status s = Refresh(); !s.ok()) return s;
  for (const Token& t : tokens_)
    if (t.name == name)
      return Status::FailedPrecondition("a token named '" + name + "' exists; revoke it first");
  std::uint8_t raw[32];
  randombytes_buf(raw, sizeof raw);
  std::string secret = "dk_" + Base64(raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof raw);
  std::string salt(16, '\0');
  randombytes_buf(salt.data(), salt.size());

  Token t;
  t.name = name;
  t.scopes = scopes.empty() ? std::vector<std::string>{"*"} : scopes;
  t.created_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  t.sha256_hex = Sha256Hex(secret);
  t.scram = MakeScramVerifier(secret, std::move(salt), 4096);
  std::vector<Token> next = tokens_;
  next.push_back(std::move(t));
  json doc{{"version", 1}, {"tokens", json::array()}};
  for (const Token& x : next) doc["tokens"].push_back(ToJson(x));
  std::string error;
  if (!WriteAtomically(path_, doc.dump(2) + "\n", &error)) return Status::IOError(error);
  loaded_mtime_ns_ = -1;
  return secret;
}

Status Store::Revoke(const std::string& name) {
  FileLock lock(path_ + ".lock");
  loaded_mtime_ns_ = -1;
  if (Status s = Refresh(); !s.ok()) return s;
  std::vector<Token> next;
  for (const Token& t : tokens_)
    if (t.name != name) next.push_back(t);
  if (next.size() == tokens_.size()) return Status::NotFound("no token named '" + name + "'");
  json doc{{"version", 1}, {"tokens", json::array()}};
  for (const Token& x : next) doc["tokens"].push_back(ToJson(x));
  std::string error;
  if (!WriteAtomically(path_, doc.dump(2) + "\n", &error)) return Status::IOError(error);
  loaded_mtime_ns_ = -1;
  return Status::Ok();
}

Result<Token> Store::FindBySecret(std::string_view secret) {
  if (Status s = Refresh(); !s.ok()) return s;
  const std::string hash = Sha256Hex(secret);
  for (const Token& t : tokens_)
    if (sodium_memcmp(t.sha256_hex.data(), hash.data(), 64) == 0) return t;
  return Status::NotFound("no such token");
}

Result<Token> Store::FindByName(std::string_view name) {
  if (Status s = Refresh(); !s.ok()) return s;
  for (const Token& t : tokens_)
    if (t.name == name) return t;
  return Status::NotFound("no token named '" + std::string(name) + "'");
}

Result<std::vector<Token>> Store::List() {
  if (Status s = Refresh(); !s.ok()) return s;
  return tokens_;
}

}  // namespace dualkey::token
