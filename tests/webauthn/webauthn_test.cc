// WebAuthn verification over real authenticator data: keys made with
// OpenSSL, CBOR written with libcbor, every check bent once to see it refuse.
#include "webauthn/webauthn.h"

#include <gtest/gtest.h>

#include "authenticator.h"

namespace dualkey::webauthn {
namespace {

using testing::SoftAuthenticator;

const RelyingParty kRp{"localhost", "http://localhost:8790"};
const std::string kChallenge = "0123456789abcdef0123456789abcdef";

Credential Enrol(SoftAuthenticator& authenticator) {
  Result<Credential> credential =
      VerifyRegistration(kRp, kChallenge, authenticator.Register(kChallenge));
  EXPECT_TRUE(credential.ok()) << credential.status().ToString();
  return credential.ok() ? *credential : Credential{};
}

class BothAlgorithms : public ::testing::TestWithParam<int> {};

TEST_P(BothAlgorithms, RegistersAndVerifiesAssertions) {
  ASSERT_TRUE(CborAvailable());
  SoftAuthenticator authenticator(GetParam());
  Credential credential = Enrol(authenticator);
  EXPECT_EQ(credential.alg, GetParam());
  EXPECT_EQ(credential.id, authenticator.credential_id());
  EXPECT_FALSE(credential.public_key_der.empty());
  const std::string challenge = "approve ap_x: 9f2c...";
  Result<std::uint32_t> counter =
      VerifyAssertion(kRp, challenge, credential, authenticator.Assert(challenge));
  ASSERT_TRUE(counter.ok()) << counter.status().ToString();
  EXPECT_EQ(*counter, 1u);
  credential.sign_count = *counter;
  // The same answer again: the counter did not advance.
  Assertion replay = authenticator.Assert(challenge, {}, 1);
  EXPECT_TRUE(VerifyAssertion(kRp, challenge, credential, replay)
                  .status()
                  .Is(Status::Code::kPermissionDenied));
  EXPECT_TRUE(VerifyAssertion(kRp, challenge, credential, authenticator.Assert(challenge)).ok());
}

INSTANTIATE_TEST_SUITE_P(Webauthn, BothAlgorithms, ::testing::Values(kEs256, kEdDsa));

TEST(Webauthn, RefusesEveryBentField) {
  SoftAuthenticator authenticator;
  const Credential credential = Enrol(authenticator);
  auto refused = [&](const Assertion& a, const std::string& challenge = kChallenge) {
    Result<std::uint32_t> r = VerifyAssertion(kRp, challenge, credential, a);
    return r.ok() ? std::string("accepted") : r.status().message();
  };
  SoftAuthenticator::Options o;
  o.origin = "http://evil.example:8790";
  EXPECT_NE(refused(authenticator.Assert(kChallenge, o)).find("origin"), std::string::npos);
  o = {};
  o.rp_id = "evil.example";
  EXPECT_NE(refused(authenticator.Assert(kChallenge, o)).find("another site"), std::string::npos);
  o = {};
  o.type = "webauthn.create";
  EXPECT_NE(refused(authenticator.Assert(kChallenge, o)).find("webauthn.get"), std::string::npos);
  o = {};
  o.flags = 0x01;  // present, not verified
  EXPECT_NE(refused(authenticator.Assert(kChallenge, o)).find("UV"), std::string::npos);
  o.flags = 0x04;  // verified, not present
  EXPECT_NE(refused(authenticator.Assert(kChallenge, o)).find("UP"), std::string::npos);
  o = {};
  o.cross_origin = true;
  EXPECT_NE(refused(authenticator.Assert(kChallenge, o)).find("cross-origin"), std::string::npos);
  // Signed for another action.
  EXPECT_NE(refused(authenticator.Assert("another challenge")).find("challenge"),
            std::string::npos);
  // Bytes changed after signing.
  Assertion a = authenticator.Assert(kChallenge);
  a.signature[a.signature.size() / 2] ^= 1;
  EXPECT_NE(refused(a).find("signature"), std::string::npos);
  a = authenticator.Assert(kChallenge);
  a.authenticator_data[36] ^= 1;  // the counter
  EXPECT_NE(refused(a).find("signature"), std::string::npos);
  a = authenticator.Assert(kChallenge);
  a.credential_id = "cred-2";
  EXPECT_NE(refused(a).find("another passkey"), std::string::npos);
  // Another key, same credential id.
  SoftAuthenticator impostor;
  EXPECT_NE(refused(impostor.Assert(kChallenge)).find("signature"), std::string::npos);
  // Malformed.
  a = authenticator.Assert(kChallenge);
  a.authenticator_data.resize(20);
  EXPECT_NE(refused(a), "accepted");
  a = authenticator.Assert(kChallenge);
  a.authenticator_data += "x";
  EXPECT_NE(refused(a).find("trailing"), std::string::npos);
  a = authenticator.Assert(kChallenge);
  a.client_data_json = "{not json";
  EXPECT_NE(refused(a), "accepted");
  a.client_data_json = "";
  EXPECT_NE(refused(a), "accepted");
  a = authenticator.Assert(kChallenge);
  a.signature.clear();
  EXPECT_NE(refused(a), "accepted");
  // Still fine after all that.
  EXPECT_EQ(refused(authenticator.Assert(kChallenge)), "accepted");
}

TEST(Webauthn, CountersThatDoNotCountAreAccepted) {
  SoftAuthenticator authenticator;
  Credential credential = Enrol(authenticator);  // counter 0
  EXPECT_TRUE(
      VerifyAssertion(kRp, kChallenge, credential, authenticator.Assert(kChallenge, {}, 0)).ok());
  credential.sign_count = 5;
  EXPECT_FALSE(
      VerifyAssertion(kRp, kChallenge, credential, authenticator.Assert(kChallenge, {}, 0)).ok());
}

TEST(Webauthn, RegistrationRefusals) {
  SoftAuthenticator authenticator;
  auto status = [&](const Registration& r, const std::string& challenge = kChallenge) {
    Result<Credential> c = VerifyRegistration(kRp, challenge, r);
    return c.ok() ? std::string("accepted") : c.status().message();
  };
  SoftAuthenticator::Options o;
  EXPECT_EQ(status(authenticator.Register(kChallenge)), "accepted");
  EXPECT_NE(status(authenticator.Register("other")).find("challenge"), std::string::npos);
  o.type = "webauthn.get";
  EXPECT_NE(status(authenticator.Register(kChallenge, o)).find("webauthn.create"),
            std::string::npos);
  o = {};
  o.origin = "https://localhost.evil.example";
  EXPECT_NE(status(authenticator.Register(kChallenge, o)).find("origin"), std::string::npos);
  o = {};
  o.flags = 0x01;
  EXPECT_NE(status(authenticator.Register(kChallenge, o)).find("UV"), std::string::npos);
  o = {};
  o.rp_id = "example.com";
  EXPECT_NE(status(authenticator.Register(kChallenge, o)).find("another site"), std::string::npos);
  Registration r = authenticator.Register(kChallenge);
  r.attestation_object = r.attestation_object.substr(0, r.attestation_object.size() - 3);
  EXPECT_NE(status(r), "accepted");
  r.attestation_object = "\xff\xff";
  EXPECT_NE(status(r), "accepted");
  r.attestation_object.clear();
  EXPECT_NE(status(r), "accepted");
  SoftAuthenticator rsa(-257);  // an algorithm we do not verify: said so
  Result<Credential> c = VerifyRegistration(kRp, kChallenge, rsa.Register(kChallenge));
  EXPECT_TRUE(c.status().Is(Status::Code::kFailedPrecondition)) << c.status().ToString();
  // "packed" or any other format: the statement is not relied on.
  o = {};
  o.fmt = "packed";
  EXPECT_EQ(status(authenticator.Register(kChallenge, o)), "accepted");
}

TEST(Webauthn, Base64UrlAndRpIds) {
  for (const std::string text : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00"}) {
    std::string back;
    ASSERT_TRUE(Base64UrlDecode(Base64UrlEncode(text), &back));
    EXPECT_EQ(back, text);
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  std::string out;
  EXPECT_FALSE(Base64UrlDecode("ab+/", &out));
  EXPECT_FALSE(Base64UrlDecode("a", &out));
  EXPECT_TRUE(Base64UrlDecode("Zm9v", &out));
  EXPECT_EQ(out, "foo");
  EXPECT_EQ(RpIdOfOrigin("http://localhost:8790"), "localhost");
  EXPECT_EQ(RpIdOfOrigin("https://Dualkey.Example.com"), "dualkey.example.com");
  EXPECT_EQ(RpIdOfOrigin("https://a.example/path"), "");
  EXPECT_EQ(RpIdOfOrigin("ftp://a.example"), "");
  EXPECT_EQ(RpIdOfOrigin("https://[::1]:8790"), "");
  EXPECT_EQ(RpIdOfOrigin("https://a.example:"), "");
}

}  // namespace
}  // namespace dualkey::webauthn
