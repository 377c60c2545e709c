// WebAuthn (passkeys) for the approver's page: verifying what a browser's
// authenticator returns, with OpenSSL for the signatures and libcbor for the
// CBOR. A registration yields a Credential (its public key); an assertion is
// checked against a Credential and a challenge the server issued: type,
// challenge, origin, the relying party's id hash, user presence and user
// verification, the signature counter and the signature (ES256 or EdDSA).
// Attestation statements are not checked ("none" is what we ask for): trust
// in a passkey comes from who authorised its enrolment, not from its maker.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace dualkey::webauthn {

// COSE algorithm identifiers we verify.
inline constexpr int kEs256 = -7;  // ECDSA P-256 with SHA-256
inline constexpr int kEdDsa = -8;  // Ed25519

// The relying party: the page's origin ("https://dualkey.example.com",
// "http://localhost:8790") and its RP id (the host: "dualkey.example.com",
// "localhost").
struct RelyingParty {
  std::string id;
  std::string origin;
};

// A registered passkey.
struct Credential {
  std::string id;              // raw credential id bytes
  int alg = 0;                 // kEs256 or kEdDsa
  std::string public_key_der;  // SubjectPublicKeyInfo, DER
  std::uint32_t sign_count = 0;
  bool user_verified = false;  // the registration was user-verified
};

// navigator.credentials.create()'s response, decoded from base64url.
struct Registration {
  std::string client_data_json;
  std::string attestation_object;
};

// navigator.credentials.get()'s response, decoded from base64url.
struct Assertion {
  std::string credential_id;
  std::string client_data_json;
  std::string authenticator_data;
  std::string signature;
};

// Checks a registration against the challenge we issued (raw bytes).
// kInvalidArgument (malformed), kPermissionDenied (wrong origin, rp, challenge,
// flags), kUnimplemented-like kFailedPrecondition (an algorithm we do not verify).
Result<Credential> VerifyRegistration(const RelyingParty& rp, std::string_view challenge,
                                      const Registration& registration);

// Checks an assertion by `credential` for the challenge we issued; returns
// the new signature counter to store. Requires user presence and user
// verification. A counter that did not grow (when either side is non-zero)
// is refused: a cloned authenticator, or a replay.
Result<std::uint32_t> VerifyAssertion(const RelyingParty& rp, std::string_view challenge,
                                      const Credential& credential, const Assertion& assertion);

// RFC 4648 base64url without padding (WebAuthn's encoding); Decode accepts
// padding and rejects anything else that is not base64url.
std::string Base64UrlEncode(std::string_view bytes);
bool Base64UrlDecode(std::string_view text, std::string* out);

// The RP id for an origin: its host ("https://a.example:8443" -> "a.example").
// Empty when `origin` is not scheme://host[:port].
std::string RpIdOfOrigin(std::string_view origin);

// libcbor is loaded on first use (the hook, which never needs it, does not
// pay for it at start). False when it is missing.
bool CborAvailable();

}  // namespace dualkey::webauthn
