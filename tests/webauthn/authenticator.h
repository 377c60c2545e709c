// A software authenticator for tests: real keys (OpenSSL), real CBOR
// (libcbor), the bytes a browser would hand the page. Registration and
// assertions can be bent (flags, origin, counter...) to test refusals.
#pragma once

#include <cbor.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstdint>
#include <string>

#include "webauthn/webauthn.h"

namespace dualkey::testing {

inline std::string Sha256Bytes(const std::string& data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

// How the authenticator's answer is made; the defaults are a good one.
struct AuthenticatorOptions {
  std::string type;  // default webauthn.create / webauthn.get
  std::string origin = "http://localhost:8790";
  std::string rp_id = "localhost";
  std::uint8_t flags = 0x05;  // UP | UV
  bool cross_origin = false;
  std::string fmt = "none";
};

class SoftAuthenticator {
 public:
  // alg: webauthn::kEs256 or webauthn::kEdDsa (or -257 to build a COSE key we do not verify)
  explicit SoftAuthenticator(int alg = webauthn::kEs256, std::string credential_id = "cred-1")
      : alg_(alg), credential_id_(std::move(credential_id)) {
    key_ = alg == webauthn::kEdDsa ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                                   : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  }
  ~SoftAuthenticator() { EVP_PKEY_free(key_); }

  using Options = AuthenticatorOptions;

  webauthn::Registration Register(const std::string& challenge, Options o = {}) {
    std::string auth = AuthDataHead(o.rp_id, o.flags | 0x40, counter_);
    auth += std::string(16, '\0');  // AAGUID
    auth += static_cast<char>(credential_id_.size() >> 8);
    auth += static_cast<char>(credential_id_.size() & 0xFF);
    auth += credential_id_;
    auth += CoseKey();
    cbor_item_t* map = cbor_new_definite_map(3);
    cbor_map_add(
        map, {cbor_move(cbor_build_string("fmt")), cbor_move(cbor_build_string(o.fmt.c_str()))});
    cbor_map_add(map,
                 {cbor_move(cbor_build_string("attStmt")), cbor_move(cbor_new_definite_map(0))});
    cbor_map_add(
        map,
        {cbor_move(cbor_build_string("authData")),
         cbor_move(cbor_build_bytestring(reinterpret_cast<cbor_data>(auth.data()), auth.size()))});
    webauthn::Registration r;
    r.attestation_object = Serialize(map);
    cbor_decref(&map);
    r.client_data_json = ClientData(o.type.empty() ? "webauthn.create" : o.type, challenge,
                                    o.origin, o.cross_origin);
    return r;
  }

  // An assertion; the counter advances by one each time unless `counter` is given.
  webauthn::Assertion Assert(const std::string& challenge, Options o = {}, long long counter = -1) {
    counter_ = counter >= 0 ? static_cast<std::uint32_t>(counter) : counter_ + 1;
    webauthn::Assertion a;
    a.credential_id = credential_id_;
    a.authenticator_data = AuthDataHead(o.rp_id, o.flags, counter_);
    a.client_data_json =
        ClientData(o.type.empty() ? "webauthn.get" : o.type, challenge, o.origin, o.cross_origin);
    a.signature = Sign(a.authenticator_data + Sha256Bytes(a.client_data_json));
    return a;
  }

  std::string Sign(const std::string& message) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    const bool ed = alg_ == webauthn::kEdDsa;
    EVP_DigestSignInit(ctx, nullptr, ed ? nullptr : EVP_sha256(), nullptr, key_);
    std::size_t length = 0;
    EVP_DigestSign(ctx, nullptr, &length, reinterpret_cast<const unsigned char*>(message.data()),
                   message.size());
    std::string signature(length, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &length,
                   reinterpret_cast<const unsigned char*>(message.data()), message.size());
    signature.resize(length);
    EVP_MD_CTX_free(ctx);
    return signature;
  }

  static std::string ClientData(const std::string& type, const std::string& challenge,
                                const std::string& origin, bool cross_origin) {
    return "{\"type\":\"" + type + "\",\"challenge\":\"" + webauthn::Base64UrlEncode(challenge) +
           "\",\"origin\":\"" + origin + "\",\"crossOrigin\":" + (cross_origin ? "true" : "false") +
           "}";
  }

  const std::string& credential_id() const { return credential_id_; }

 private:
  static std::string AuthDataHead(const std::string& rp_id, std::uint8_t flags,
                                  std::uint32_t counter) {
    std::string head = Sha256Bytes(rp_id);
    head += static_cast<char>(flags);
    for (int shift = 24; shift >= 0; shift -= 8)
      head += static_cast<char>((counter >> shift) & 0xFF);
    return head;
  }

  static std::string Serialize(cbor_item_t* item) {
    unsigned char* buffer = nullptr;
    std::size_t size = 0;
    const std::size_t length = cbor_serialize_alloc(item, &buffer, &size);
    std::string out(reinterpret_cast<char*>(buffer), length);
    free(buffer);
    return out;
  }

  static cbor_item_t* Int(long long v) {
    return v >= 0 ? cbor_build_uint64(static_cast<std::uint64_t>(v))
                  : cbor_build_negint64(static_cast<std::uint64_t>(-1 - v));
  }
  static cbor_item_t* Bytes(const std::string& b) {
    return cbor_build_bytestring(reinterpret_cast<cbor_data>(b.data()), b.size());
  }

  std::string CoseKey() {
    cbor_item_t* map;
    if (alg_ == webauthn::kEdDsa) {
      unsigned char raw[32];
      std::size_t length = sizeof raw;
      EVP_PKEY_get_raw_public_key(key_, raw, &length);
      map = cbor_new_definite_map(4);
      cbor_map_add(map, {cbor_move(Int(1)), cbor_move(Int(1))});
      cbor_map_add(map, {cbor_move(Int(3)), cbor_move(Int(-8))});
      cbor_map_add(map, {cbor_move(Int(-1)), cbor_move(Int(6))});
      cbor_map_add(map, {cbor_move(Int(-2)),
                         cbor_move(Bytes(std::string(reinterpret_cast<char*>(raw), length)))});
    } else {
      unsigned char point[65];
      std::size_t length = 0;
      EVP_PKEY_get_octet_string_param(key_, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &length);
      map = cbor_new_definite_map(5);
      cbor_map_add(map, {cbor_move(Int(1)), cbor_move(Int(2))});
      cbor_map_add(map, {cbor_move(Int(3)), cbor_move(Int(alg_))});
      cbor_map_add(map, {cbor_move(Int(-1)), cbor_move(Int(1))});
      cbor_map_add(map, {cbor_move(Int(-2)),
                         cbor_move(Bytes(std::string(reinterpret_cast<char*>(point + 1), 32)))});
      cbor_map_add(map, {cbor_move(Int(-3)),
                         cbor_move(Bytes(std::string(reinterpret_cast<char*>(point + 33), 32)))});
    }
    std::string out = Serialize(map);
    cbor_decref(&map);
    return out;
  }

  int alg_;
  std::string credential_id_;
  EVP_PKEY* key_ = nullptr;
  std::uint32_t counter_ = 0;
};

}  // namespace dualkey::testing
