// The audit key file, and what is signed with it outside the log (see
// key_file.h and audit.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "audit/audit.h"
#include "audit/internal/file_io.h"
#include "audit/internal/format.h"
#include "audit/internal/key_file.h"

namespace dualkey::audit {
namespace internal {

Status LoadOrCreateKey(const std::string& path, SecretKey* sk, PublicKeyBytes* pk) {
  std::array<unsigned char, crypto_sign_SEEDBYTES> seed{};
  for (int attempt = 0; attempt < 2; ++attempt) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
      struct stat st {};
      if (::fstat(fd, &st) != 0) {
        Status failed = Status::IOError(Errno("audit key " + path));
        ::close(fd);
        return failed;
      }
      if ((st.st_mode & 077) != 0) {
        ::close(fd);
        return Status::PermissionDenied(
            "audit key " + path +
            " is accessible to other users (whoever reads it can forge checkpoints); "
            "run chmod 600 on it");
      }
      char text[2 * crypto_sign_SEEDBYTES + 2] = {};
      ssize_t n = ::read(fd, text, sizeof(text));
      ::close(fd);
      std::string_view content(text, n > 0 ? static_cast<std::size_t>(n) : 0);
      while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) {
        content.remove_suffix(1);
      }
      if (!Unhex(content, &seed)) {
        return Status::Corruption("audit key " + path + " is not a 64-digit hex Ed25519 seed");
      }
      crypto_sign_seed_keypair(pk->data(), sk->data(), seed.data());
      sodium_memzero(seed.data(), seed.size());
      sodium_memzero(text, sizeof(text));
      return Status::Ok();
    }
    if (errno != ENOENT) return Status::IOError(Errno("audit key " + path));
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      if (errno == EEXIST) continue;  // created by someone else meanwhile: read theirs
      return Status::IOError(Errno("cannot create audit key " + path));
    }
    randombytes_buf(seed.data(), seed.size());
    std::string text = Hex(seed.data(), seed.size()) + "\n";
    sodium_memzero(seed.data(), seed.size());
    std::string error;
    bool written = WriteAll(fd, text, &error) && ::fsync(fd) == 0;
    sodium_memzero(text.data(), text.size());
    ::close(fd);
    if (!written) {
      if (error.empty()) error = Errno("cannot write audit key " + path);
      ::unlink(path.c_str());
      return Status::IOError(error);
    }
    SyncParentDirectory(path);
  }
  return Status::IOError("cannot read audit key " + path);
}

Status ReadSeed(const std::string& path, std::array<unsigned char, crypto_sign_SEEDBYTES>* seed) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return errno == ENOENT ? Status::NotFound(Errno("audit key " + path))
                           : Status::IOError(Errno("audit key " + path));
  }
  char text[2 * crypto_sign_SEEDBYTES + 2] = {};
  ssize_t n = ::read(fd, text, sizeof(text));
  ::close(fd);
  std::string_view content(text, n > 0 ? static_cast<std::size_t>(n) : 0);
  while (!content.empty() && (content.back() == '\n' || content.back() == '\r'))
    content.remove_suffix(1);
  const bool ok = Unhex(content, seed);
  sodium_memzero(text, sizeof(text));
  if (!ok) return Status::Corruption("audit key " + path + " is not a 64-digit hex Ed25519 seed");
  return Status::Ok();
}

}  // namespace internal

using internal::Errno;
using internal::Hex;
using internal::PublicKeyBytes;
using internal::SecretKey;
using internal::Signature;
using internal::Unhex;

Result<std::string> PublicKeyOfKeyFile(const std::string& key_path) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  std::array<unsigned char, crypto_sign_SEEDBYTES> seed{};
  if (Status read = internal::ReadSeed(key_path, &seed); !read.ok()) return read;
  SecretKey sk{};
  PublicKeyBytes pk{};
  crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data());
  sodium_memzero(seed.data(), seed.size());
  sodium_memzero(sk.data(), sk.size());
  return Hex(pk.data(), pk.size());
}

Result<DetachedSignature> SignWithKeyFile(const std::string& key_path, std::string_view message) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  struct stat st {};
  if (::lstat(key_path.c_str(), &st) != 0) {
    return errno == ENOENT ? Status::NotFound(Errno("audit key " + key_path))
                           : Status::IOError(Errno("audit key " + key_path));
  }
  SecretKey sk{};
  PublicKeyBytes pk{};
  if (Status loaded = internal::LoadOrCreateKey(key_path, &sk, &pk); !loaded.ok()) return loaded;
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
