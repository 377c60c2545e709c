// TOTP (RFC 6238 over RFC 4226 HOTP) and the otpauth enrolment helpers.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <qrencode.h>

#include <algorithm>
#include <array>
#include <cstdio>

#include "approval/approval.h"
#include "approval/internal.h"
#include "base/text.h"

namespace dualkey::approval {
namespace {

constexpr std::int64_t kStepSeconds = 30;
constexpr std::uint32_t kModulus = 1000000;  // 6 digits

// RFC 4226 section 5.3: HMAC-SHA1 over the big-endian counter, dynamic
// truncation. Returns -1 when the HMAC cannot be computed.
std::int64_t Hotp(const std::vector<unsigned char>& key, std::uint64_t counter) {
  std::array<unsigned char, 8> message{};
  for (int i = 7; i >= 0; --i) {
    message[i] = static_cast<unsigned char>(counter & 0xff);
    counter >>= 8;
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_size = 0;
  if (HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()), message.data(), message.size(),
           mac.data(), &mac_size) == nullptr ||
      mac_size < 20) {
    return -1;
  }
  const unsigned offset = mac[mac_size - 1] & 0x0f;
  const std::uint32_t binary = (static_cast<std::uint32_t>(mac[offset] & 0x7f) << 24) |
                               (static_cast<std::uint32_t>(mac[offset + 1]) << 16) |
                               (static_cast<std::uint32_t>(mac[offset + 2]) << 8) |
                               static_cast<std::uint32_t>(mac[offset + 3]);
  return binary % kModulus;
}

std::string SixDigits(std::int64_t value) {
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "%06lld", static_cast<long long>(value));
  return buffer;
}

bool DecodeSecret(const std::string& secret_base32, std::vector<unsigned char>* key) {
  return internal::Base32Decode(secret_base32, key) && !key->empty();
}

}  // namespace

std::string NewTotpSecret() {
  std::array<unsigned char, 20> raw{};
  if (!internal::RandomBytes(raw.data(), raw.size())) return {};
  return internal::Base32Encode(raw.data(), raw.size());
}

std::string TotpCode(const std::string& secret_base32, std::int64_t unix_seconds) {
  std::vector<unsigned char> key;
  if (unix_seconds < 0 || !DecodeSecret(secret_base32, &key)) return {};
  const std::int64_t value = Hotp(key, static_cast<std::uint64_t>(unix_seconds / kStepSeconds));
  return value < 0 ? std::string() : SixDigits(value);
}

bool CheckTotp(const std::string& secret_base32, std::string_view code, std::int64_t unix_seconds,
               std::int64_t* step) {
  if (code.size() != 6 || unix_seconds < 0) return false;
  for (char c : code) {
    if (c < '0' || c > '9') return false;
  }
  std::vector<unsigned char> key;
  if (!DecodeSecret(secret_base32, &key)) return false;
  const std::int64_t current = unix_seconds / kStepSeconds;
  // The current step and its neighbours (clock skew, slow typing), all three
  // computed and compared whatever matches, so the time taken says nothing
  // about the code. The newest matching step wins.
  std::int64_t matched = -1;
  bool failed = false;
  for (std::int64_t candidate : {current - 1, current, current + 1}) {
    const std::int64_t value =
        Hotp(key, static_cast<std::uint64_t>(std::max<std::int64_t>(candidate, 0)));
    failed = failed || value < 0;
    const std::string expected = SixDigits(value < 0 ? 0 : value);
    const bool equal = CRYPTO_memcmp(expected.data(), code.data(), 6) == 0;
    if (equal && candidate >= 0) matched = candidate;
  }
  if (failed || matched < 0) return false;
  if (step) *step = matched;
  return true;
}

std::string TotpUri(const std::string& name, const std::string& secret_base32) {
  return "otpauth://totp/dualkey:" + base::PercentEncode(name) + "?secret=" + secret_base32 +
         "&issuer=dualkey&algorithm=SHA1&digits=6&period=30";
}

std::string TerminalQr(const std::string& text) {
  QRcode* qr = QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (qr == nullptr) return {};
  // Drawn for a light-on-dark terminal, as qrencode -t UTF8 does: a light
  // module is a lit glyph half, a dark module is background. The quiet zone
  // (4 modules, required by the standard for scanners) is light.
  constexpr int kQuiet = 4;
  const int size = qr->width;
  const int total = size + 2 * kQuiet;
  auto light = [&](int row, int column) {
    if (row >= total) return false;  // below the code: terminal background
    const int r = row - kQuiet;
    const int c = column - kQuiet;
    if (r < 0 || c < 0 || r >= size || c >= size) return true;
    return (qr->data[r * size + c] & 1) == 0;
  };
  std::string out;
  out.reserve(static_cast<std::size_t>((total + 1) / 2) * (total * 3 + 1));
  for (int row = 0; row < total; row += 2) {
    for (int column = 0; column < total; ++column) {
      const bool top = light(row, column);
      const bool bottom = light(row + 1, column);
      if (top && bottom) {
        out += "\u2588";  // █
      } else if (top) {
        out += "\u2580";  // ▀
      } else if (bottom) {
        out += "\u2584";  // ▄
      } else {
        out += ' ';
      }
    }
    out += '\n';
  }
  QRcode_free(qr);
  return out;
}

}  // namespace dualkey::approval
