#include "proxy/pg/internal/scram.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sodium.h>

#include <array>
#include <cstring>

namespace dualkey::pgproxy::scram {
namespace {

using Key = std::array<std::uint8_t, 32>;

Key Hmac(const void* key, std::size_t key_len, std::string_view message) {
  Key out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key, static_cast<int>(key_len),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(), &len);
  return out;
}

// Attribute `name=` of a comma-separated SCRAM message.
std::optional<std::string_view> Attribute(std::string_view message, char name) {
  std::size_t pos = 0;
  while (pos <= message.size()) {
    std::size_t comma = message.find(',', pos);
    if (comma == std::string_view::npos) comma = message.size();
    std::string_view part = message.substr(pos, comma - pos);
    if (part.size() >= 2 && part[0] == name && part[1] == '=') return part.substr(2);
    pos = comma + 1;
  }
  return std::nullopt;
}

bool PrintableNonce(std::string_view nonce) {
  if (nonce.empty()) return false;
  for (char c : nonce)
    if (c < 0x21 || c > 0x7e || c == ',') return false;
  return true;
}

}  // namespace

std::string RandomBytes(std::size_t n) {
  std::string out(n, '\0');
  if (sodium_init() < 0) return out;
  randombytes_buf(out.data(), n);
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  std::string out(text.size(), '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
    return std::nullopt;
  out.resize(len);
  return out;
}

std::optional<std::string> ServerExchange::First(std::string_view client_first,
                                                 std::string* error) {
  // gs2-header: "n,," or "y,," (no channel binding; "p=" would need it).
  if (client_first.size() < 3 || (client_first[0] != 'n' && client_first[0] != 'y') ||
      client_first[1] != ',') {
    *error = client_first.starts_with("p=") ? "channel binding is not supported by dualkey's proxy"
                                            : "malformed SCRAM client-first-message";
    return std::nullopt;
  }
  const std::size_t second_comma = client_first.find(',', 2);
  if (second_comma == std::string_view::npos) {
    *error = "malformed SCRAM client-first-message";
    return std::nullopt;
  }
  gs2_header_ = std::string(client_first.substr(0, second_comma + 1));
  client_first_bare_ = std::string(client_first.substr(second_comma + 1));
  std::optional<std::string_view> nonce = Attribute(client_first_bare_, 'r');
  if (!nonce || !PrintableNonce(*nonce) || nonce->size() > 512) {
    *error = "malformed SCRAM client nonce";
    return std::nullopt;
  }
  nonce_ = std::string(*nonce) + Base64Encode(RandomBytes(18));
  server_first_ = "r=" + nonce_ + ",s=" + Base64Encode(verifier_.salt) +
                  ",i=" + std::to_string(verifier_.iterations);
  return server_first_;
}

std::optional<std::string> ServerExchange::Final(std::string_view client_final,
                                                 std::string* error) {
  const std::size_t proof_at = client_final.rfind(",p=");
  std::optional<std::string_view> binding = Attribute(client_final, 'c');
  std::optional<std::string_view> nonce = Attribute(client_final, 'r');
  if (proof_at == std::string_view::npos || !binding || !nonce) {
    *error = "malformed SCRAM client-final-message";
    return std::nullopt;
  }
  std::optional<std::string> gs2 = Base64Decode(*binding);
  if (!gs2 || *gs2 != gs2_header_ || *nonce != nonce_) {
    *error = "SCRAM channel binding or nonce mismatch";
    return std::nullopt;
  }
  std::optional<std::string> proof = Base64Decode(client_final.substr(proof_at + 3));
  if (!proof || proof->size() != 32) {
    *error = "malformed SCRAM proof";
    return std::nullopt;
  }
  const std::string auth_message = client_first_bare_ + "," + server_first_ + "," +
                                   std::string(client_final.substr(0, proof_at));
  Key signature = Hmac(verifier_.stored_key.data(), 32, auth_message);
  Key client_key{};
  for (int i = 0; i < 32; ++i)
    client_key[i] = static_cast<std::uint8_t>((*proof)[i]) ^ signature[i];
  Key stored{};
  SHA256(client_key.data(), 32, stored.data());
  if (sodium_memcmp(stored.data(), verifier_.stored_key.data(), 32) != 0) {
    *error = "wrong token";
    return std::nullopt;
  }
  Key server_signature = Hmac(verifier_.server_key.data(), 32, auth_message);
  return "v=" +
         Base64Encode(std::string_view(reinterpret_cast<const char*>(server_signature.data()), 32));
}

ClientExchange::ClientExchange(std::string password) : password_(std::move(password)) {}

std::string ClientExchange::First() {
  nonce_ = Base64Encode(RandomBytes(18));
  client_first_bare_ = "n=,r=" + nonce_;
  return "n,," + client_first_bare_;
}

std::optional<std::string> ClientExchange::Final(std::string_view server_first,
                                                 std::string* error) {
  std::optional<std::string_view> nonce = Attribute(server_first, 'r');
  std::optional<std::string_view> salt64 = Attribute(server_first, 's');
  std::optional<std::string_view> iterations_text = Attribute(server_first, 'i');
  if (!nonce || !salt64 || !iterations_text || !nonce->starts_with(nonce_)) {
    *error = "malformed SCRAM server-first-message from upstream";
    return std::nullopt;
  }
  std::optional<std::string> salt = Base64Decode(*salt64);
  int iterations = 0;
  try {
    iterations = std::stoi(std::string(*iterations_text));
  } catch (...) {
  }
  if (!salt || iterations < 1 || iterations > 10'000'000) {
    *error = "bad SCRAM salt or iteration count from upstream";
    return std::nullopt;
  }
  Key salted{};
  PKCS5_PBKDF2_HMAC(password_.data(), static_cast<int>(password_.size()),
                    reinterpret_cast<const unsigned char*>(salt->data()),
                    static_cast<int>(salt->size()), iterations, EVP_sha256(), 32, salted.data());
  Key client_key = Hmac(salted.data(), 32, "Client Key");
  Key stored{};
  SHA256(client_key.data(), 32, stored.data());
  Key server_key = Hmac(salted.data(), 32, "Server Key");
  const std::string without_proof = "c=biws,r=" + std::string(*nonce);
  const std::string auth_message =
      client_first_bare_ + "," + std::string(server_first) + "," + without_proof;
  Key signature = Hmac(stored.data(), 32, auth_message);
  std::string proof(32, '\0');
  for (int i = 0; i < 32; ++i) proof[i] = static_cast<char>(client_key[i] ^ signature[i]);
  Key server_signature = Hmac(server_key.data(), 32, auth_message);
  expected_server_signature_ =
      "v=" +
      Base64Encode(std::string_view(reinterpret_cast<const char*>(server_signature.data()), 32));
  sodium_memzero(salted.data(), 32);
  return without_proof + ",p=" + Base64Encode(proof);
}

bool ClientExchange::Verify(std::string_view server_final) const {
  return !expected_server_signature_.empty() && server_final == expected_server_signature_;
}

std::string Md5Password(std::string_view user, std::string_view password, std::string_view salt) {
  auto hex = [](const unsigned char* digest) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 16; ++i) {
      out.push_back(kHex[digest[i] >> 4]);
      out.push_back(kHex[digest[i] & 15]);
    }
    return out;
  };
  unsigned char digest[16];
  std::string first = std::string(password) + std::string(user);
  EVP_Digest(first.data(), first.size(), digest, nullptr, EVP_md5(), nullptr);
  std::string second = hex(digest) + std::string(salt);
  EVP_Digest(second.data(), second.size(), digest, nullptr, EVP_md5(), nullptr);
  return "md5" + hex(digest);
}

}  // namespace dualkey::pgproxy::scram
