// WebAuthn Level 2 verification (https://www.w3.org/TR/webauthn-2/, sections
// 7.1 and 7.2), for the checks the approver's page needs. Every length is
// checked before it is read: the bytes come from a browser we do not trust.
#include "webauthn/webauthn.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <array>
#include <memory>
#include <optional>

#include "base/json_text.h"
#include "webauthn/internal/libcbor.h"

namespace dualkey::webauthn {
namespace {

using internal::Cbor;

constexpr std::uint8_t kFlagUserPresent = 0x01;
constexpr std::uint8_t kFlagUserVerified = 0x04;
constexpr std::uint8_t kFlagAttested = 0x40;
constexpr std::uint8_t kFlagExtensions = 0x80;
// Anything larger is not a passkey response.
constexpr std::size_t kMaxField = 64 * 1024;

std::string Sha256(std::string_view data) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

bool SameBytes(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// --- CBOR ----------------------------------------------------------------

struct CborDeleter {
  void operator()(cbor_item_t* item) const {
    if (item != nullptr) Cbor().decref(&item);
  }
};
using CborItem = std::unique_ptr<cbor_item_t, CborDeleter>;

// Decodes one CBOR item at the start of `data`; `read` gets its length.
Result<CborItem> LoadCbor(std::string_view data, std::size_t* read) {
  if (!Cbor().loaded)
    return Status::Unavailable(
        "libcbor cannot be loaded (Debian package libcbor0.8): passkeys cannot be checked");
  cbor_load_result result{};
  cbor_item_t* item = Cbor().load(reinterpret_cast<cbor_data>(data.data()), data.size(), &result);
  if (item == nullptr || result.error.code != CBOR_ERR_NONE)
    return Status::InvalidArgument("malformed CBOR");
  if (read != nullptr) *read = result.read;
  return CborItem(item);
}

std::optional<std::string> CborBytes(const cbor_item_t* item) {
  if (item == nullptr || !Cbor().isa_bytestring(item) || !Cbor().bytestring_is_definite(item))
    return std::nullopt;
  return std::string(reinterpret_cast<const char*>(Cbor().bytestring_handle(item)),
                     Cbor().bytestring_length(item));
}

std::optional<std::string> CborText(const cbor_item_t* item) {
  if (item == nullptr || !Cbor().isa_string(item) || !Cbor().string_is_definite(item))
    return std::nullopt;
  return std::string(reinterpret_cast<const char*>(Cbor().string_handle(item)),
                     Cbor().string_length(item));
}

// A CBOR integer (major type 0 or 1) as int64; nullopt otherwise.
std::optional<std::int64_t> CborInt(const cbor_item_t* item) {
  if (item == nullptr) return std::nullopt;
  if (Cbor().isa_uint(item)) {
    const std::uint64_t v = Cbor().get_int(item);
    if (v > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(v);
  }
  if (Cbor().isa_negint(item)) {
    const std::uint64_t v = Cbor().get_int(item);
    if (v > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return -1 - static_cast<std::int64_t>(v);
  }
  return std::nullopt;
}

// The value under an integer key of a definite map (COSE keys) or nullptr.
const cbor_item_t* MapInt(const cbor_item_t* map, std::int64_t key) {
  const std::size_t n = Cbor().map_size(map);
  const cbor_pair* pairs = Cbor().map_handle(map);
  for (std::size_t i = 0; i < n; ++i)
    if (std::optional<std::int64_t> k = CborInt(pairs[i].key); k && *k == key)
      return pairs[i].value;
  return nullptr;
}

// The value under a text key of a definite map (the attestation object).
const cbor_item_t* MapText(const cbor_item_t* map, std::string_view key) {
  const std::size_t n = Cbor().map_size(map);
  const cbor_pair* pairs = Cbor().map_handle(map);
  for (std::size_t i = 0; i < n; ++i)
    if (std::optional<std::string> k = CborText(pairs[i].key); k && *k == key)
      return pairs[i].value;
  return nullptr;
}

bool IsDefiniteMap(const cbor_item_t* item) {
  return item != nullptr && Cbor().isa_map(item) && Cbor().map_is_definite(item);
}

// --- keys ------------------------------------------------------------------

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

// A COSE_Key (RFC 9053) we verify: EC2 P-256 for ES256, OKP Ed25519 for EdDSA.
Result<Credential> KeyFromCose(const cbor_item_t* cose) {
  if (!IsDefiniteMap(cose)) return Status::InvalidArgument("the credential key is not a COSE map");
  const std::optional<std::int64_t> kty = CborInt(MapInt(cose, 1));
  const std::optional<std::int64_t> alg = CborInt(MapInt(cose, 3));
  const std::optional<std::int64_t> crv = CborInt(MapInt(cose, -1));
  const std::optional<std::string> x = CborBytes(MapInt(cose, -2));
  if (!kty || !alg) return Status::InvalidArgument("the COSE key lacks kty or alg");
  Pkey key;
  if (*alg == kEs256) {
    const std::optional<std::string> y = CborBytes(MapInt(cose, -3));
    if (*kty != 2 || crv != 1 || !x || !y || x->size() != 32 || y->size() != 32)
      return Status::InvalidArgument("an ES256 key must be EC2 on P-256 with 32-byte x and y");
    // SEC1 uncompressed point.
    std::string point = "\x04" + *x + *y;
    OSSL_PARAM_BLD* build = OSSL_PARAM_BLD_new();
    OSSL_PARAM_BLD_push_utf8_string(build, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(build, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(build);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
    EVP_PKEY* raw = nullptr;
    const bool made = ctx != nullptr && params != nullptr && EVP_PKEY_fromdata_init(ctx) > 0 &&
                      EVP_PKEY_fromdata(ctx, &raw, EVP_PKEY_PUBLIC_KEY, params) > 0;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(build);
    if (!made) return Status::InvalidArgument("the ES256 key is not a point on P-256");
    key.reset(raw);
    // fromdata does not check that the point is on the curve.
    EVP_PKEY_CTX* check = EVP_PKEY_CTX_new(key.get(), nullptr);
    const bool valid = check != nullptr && EVP_PKEY_public_check(check) == 1;
    EVP_PKEY_CTX_free(check);
    if (!valid) return Status::InvalidArgument("the ES256 key is not a point on P-256");
  } else if (*alg == kEdDsa) {
    if (*kty != 1 || crv != 6 || !x || x->size() != 32)
      return Status::InvalidArgument("an EdDSA key must be OKP Ed25519 with a 32-byte x");
    key.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                          reinterpret_cast<const unsigned char*>(x->data()), 32));
    if (!key) return Status::InvalidArgument("the Ed25519 key is malformed");
  } else {
    return Status::FailedPrecondition("the passkey uses COSE algorithm " + std::to_string(*alg) +
                                      "; dualkey verifies ES256 (-7) and EdDSA (-8)");
  }
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(key.get(), &der);
  if (length <= 0) return Status::Internal("cannot encode the public key");
  Credential credential;
  credential.alg = static_cast<int>(*alg);
  credential.public_key_der.assign(reinterpret_cast<const char*>(der),
                                   static_cast<std::size_t>(length));
  OPENSSL_free(der);
  return credential;
}

bool VerifySignature(const Credential& credential, std::string_view message,
                     std::string_view signature) {
  const auto* der = reinterpret_cast<const unsigned char*>(credential.public_key_der.data());
  Pkey key(d2i_PUBKEY(nullptr, &der, static_cast<long>(credential.public_key_der.size())));
  if (!key) return false;
  const bool ed = credential.alg == kEdDsa;
  if (ed != (EVP_PKEY_get_id(key.get()) == EVP_PKEY_ED25519)) return false;
  if (!ed && (credential.alg != kEs256 || EVP_PKEY_get_id(key.get()) != EVP_PKEY_EC)) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      ctx != nullptr &&
      EVP_DigestVerifyInit(ctx, nullptr, ed ? nullptr : EVP_sha256(), nullptr, key.get()) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

// --- client data and authenticator data ----------------------------------

Status CheckClientData(const RelyingParty& rp, std::string_view challenge,
                       std::string_view client_data_json, std::string_view type) {
  if (client_data_json.empty() || client_data_json.size() > kMaxField)
    return Status::InvalidArgument("clientDataJSON is missing or too large");
  std::string error;
  std::optional<nlohmann::json> data = base::JsonParse(client_data_json, &error);
  if (!data || !data->is_object()) return Status::InvalidArgument("clientDataJSON is not JSON");
  auto text = [&](const char* key) -> std::string {
    auto found = data->find(key);
    return found != data->end() && found->is_string() ? found->get<std::string>() : "";
  };
  if (text("type") != type)
    return Status::PermissionDenied("the browser signed a \"" + base::ToValidUtf8(text("type")) +
                                    "\", not a \"" + std::string(type) + "\"");
  std::string signed_challenge;
  if (!Base64UrlDecode(text("challenge"), &signed_challenge) ||
      !SameBytes(signed_challenge, challenge))
    return Status::PermissionDenied(
        "the passkey signed another challenge (an old or replayed answer, or another action)");
  if (text("origin") != rp.origin)
    return Status::PermissionDenied("the passkey answered for origin " +
                                    base::ToValidUtf8(text("origin")) + ", not " + rp.origin);
  if (auto cross = data->find("crossOrigin");
      cross != data->end() && cross->is_boolean() && cross->get<bool>())
    return Status::PermissionDenied("the passkey was used from a cross-origin frame");
  return Status::Ok();
}

struct AuthData {
  std::string rp_id_hash;
  std::uint8_t flags = 0;
  std::uint32_t sign_count = 0;
  // With the attested-credential flag (registrations):
  std::string credential_id;
  CborItem cose_key;
};

Result<AuthData> ParseAuthData(std::string_view bytes, bool want_credential) {
  if (bytes.size() < 37 || bytes.size() > kMaxField)
    return Status::InvalidArgument("authenticator data is too short or too large");
  AuthData out;
  out.rp_id_hash = std::string(bytes.substr(0, 32));
  out.flags = static_cast<std::uint8_t>(bytes[32]);
  for (int i = 0; i < 4; ++i)
    out.sign_count = (out.sign_count << 8) | static_cast<std::uint8_t>(bytes[33 + i]);
  std::size_t at = 37;
  if (out.flags & kFlagAttested) {
    if (bytes.size() < at + 18)
      return Status::InvalidArgument("attested credential data is cut short");
    at += 16;  // AAGUID
    const std::size_t id_length =
        (static_cast<std::uint8_t>(bytes[at]) << 8) | static_cast<std::uint8_t>(bytes[at + 1]);
    at += 2;
    if (id_length == 0 || id_length > 1023 || bytes.size() < at + id_length)
      return Status::InvalidArgument("the credential id is empty, too long or cut short");
    out.credential_id = std::string(bytes.substr(at, id_length));
    at += id_length;
    std::size_t read = 0;
    Result<CborItem> key = LoadCbor(bytes.substr(at), &read);
    if (!key.ok()) return key.status();
    out.cose_key = std::move(key).value();
    at += read;
  } else if (want_credential) {
    return Status::InvalidArgument("a registration without attested credential data");
  }
  if (out.flags & kFlagExtensions) {
    std::size_t read = 0;
    Result<CborItem> extensions = LoadCbor(bytes.substr(at), &read);
    if (!extensions.ok()) return Status::InvalidArgument("malformed authenticator extensions");
    at += read;
  }
  if (at != bytes.size()) return Status::InvalidArgument("trailing bytes after authenticator data");
  return out;
}

Status CheckFlags(const RelyingParty& rp, const AuthData& data) {
  if (!SameBytes(data.rp_id_hash, Sha256(rp.id)))
    return Status::PermissionDenied("the passkey belongs to another site (rpIdHash is not " +
                                    rp.id + "'s)");
  if (!(data.flags & kFlagUserPresent))
    return Status::PermissionDenied("the authenticator did not see a user present (UP flag)");
  if (!(data.flags & kFlagUserVerified))
    return Status::PermissionDenied(
        "the authenticator did not verify the user (UV flag): a PIN or biometric is required");
  return Status::Ok();
}

}  // namespace

bool CborAvailable() {
  return Cbor().loaded;
}

std::string Base64UrlEncode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const std::uint32_t v = (static_cast<std::uint8_t>(bytes[i]) << 16) |
                            (static_cast<std::uint8_t>(bytes[i + 1]) << 8) |
                            static_cast<std::uint8_t>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == bytes.size()) {
    const std::uint32_t v = static_cast<std::uint8_t>(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (i + 2 == bytes.size()) {
    const std::uint32_t v = (static_cast<std::uint8_t>(bytes[i]) << 16) |
                            (static_cast<std::uint8_t>(bytes[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

bool Base64UrlDecode(std::string_view text, std::string* out) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return false;
  std::string bytes;
  bytes.reserve(text.size() * 3 / 4);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '-')
      v = 62;
    else if (c == '_')
      v = 63;
    else
      return false;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  *out = std::move(bytes);
  return true;
}

std::string RpIdOfOrigin(std::string_view origin) {
  const std::size_t scheme = origin.find("://");
  if (scheme == std::string_view::npos) return "";
  const std::string_view proto = origin.substr(0, scheme);
  if (proto != "http" && proto != "https") return "";
  std::string_view rest = origin.substr(scheme + 3);
  if (rest.empty() || rest.find_first_of("/?#@") != std::string_view::npos) return "";
  if (rest.front() == '[') return "";  // an IP literal is no RP id
  const std::size_t colon = rest.find(':');
  std::string host(rest.substr(0, colon));
  if (colon != std::string_view::npos) {
    const std::string_view port = rest.substr(colon + 1);
    if (port.empty() || port.find_first_not_of("0123456789") != std::string_view::npos) return "";
  }
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (host.empty() ||
      host.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") != std::string::npos)
    return "";
  return host;
}

Result<Credential> VerifyRegistration(const RelyingParty& rp, std::string_view challenge,
                                      const Registration& registration) {
  if (Status s = CheckClientData(rp, challenge, registration.client_data_json, "webauthn.create");
      !s.ok())
    return s;
  if (registration.attestation_object.empty() || registration.attestation_object.size() > kMaxField)
    return Status::InvalidArgument("the attestation object is missing or too large");
  std::size_t read = 0;
  Result<CborItem> object = LoadCbor(registration.attestation_object, &read);
  if (!object.ok()) return object.status();
  if (read != registration.attestation_object.size() || !IsDefiniteMap(object->get()))
    return Status::InvalidArgument("the attestation object is not one CBOR map");
  if (!CborText(MapText(object->get(), "fmt")))
    return Status::InvalidArgument("the attestation object has no format");
  std::optional<std::string> auth_bytes = CborBytes(MapText(object->get(), "authData"));
  if (!auth_bytes) return Status::InvalidArgument("the attestation object has no authData");
  Result<AuthData> auth = ParseAuthData(*auth_bytes, /*want_credential=*/true);
  if (!auth.ok()) return auth.status();
  if (Status s = CheckFlags(rp, *auth); !s.ok()) return s;
  Result<Credential> credential = KeyFromCose(auth->cose_key.get());
  if (!credential.ok()) return credential.status();
  credential->id = auth->credential_id;
  credential->sign_count = auth->sign_count;
  credential->user_verified = true;
  return credential;
}

Result<std::uint32_t> VerifyAssertion(const RelyingParty& rp, std::string_view challenge,
                                      const Credential& credential, const Assertion& assertion) {
  if (!SameBytes(assertion.credential_id, credential.id))
    return Status::PermissionDenied("the assertion is from another passkey");
  if (Status s = CheckClientData(rp, challenge, assertion.client_data_json, "webauthn.get");
      !s.ok())
    return s;
  Result<AuthData> auth = ParseAuthData(assertion.authenticator_data, /*want_credential=*/false);
  if (!auth.ok()) return auth.status();
  if (Status s = CheckFlags(rp, *auth); !s.ok()) return s;
  if (assertion.signature.empty() || assertion.signature.size() > 1024)
    return Status::InvalidArgument("the signature is missing or too large");
  const std::string message = assertion.authenticator_data + Sha256(assertion.client_data_json);
  if (!VerifySignature(credential, message, assertion.signature))
    return Status::PermissionDenied("the passkey's signature does not verify");
  if ((auth->sign_count != 0 || credential.sign_count != 0) &&
      auth->sign_count <= credential.sign_count)
    return Status::PermissionDenied("the passkey's signature counter did not advance (" +
                                    std::to_string(auth->sign_count) + " after " +
                                    std::to_string(credential.sign_count) +
                                    "): a replayed answer or a cloned authenticator");
  return auth->sign_count;
}

}  // namespace dualkey::webauthn
