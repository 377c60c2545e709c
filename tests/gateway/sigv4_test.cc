// SigV4 against the published AWS Signature Version 4 test suite
// (https://docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html;
// the vectors as reproduced in the AWS SDK for JavaScript's signature-v4
// suite.fixture.js): credentials AKIDEXAMPLE, 20150830T123600Z, us-east-1,
// service "service".
#include "gateway/internal/sigv4.h"

#include <gtest/gtest.h>

namespace {

using dualkey::gateway::internal::AwsKeys;
using dualkey::gateway::internal::SignV4;
using dualkey::gateway::internal::SigV4Request;

const AwsKeys kSuiteKeys{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
constexpr const char* kEmptySha =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct Vector {
  const char* name;
  const char* method;
  const char* path;
  const char* query;
  std::vector<std::pair<std::string, std::string>> extra_headers;
  const char* body;
  const char* signed_headers;
  const char* signature;
};

std::string Sign(const Vector& v) {
  SigV4Request request;
  request.method = v.method;
  request.path = v.path;
  request.query = v.query;
  request.headers = v.extra_headers;
  request.headers.emplace_back("Host", "example.amazonaws.com");
  request.headers.emplace_back("X-Amz-Date", "20150830T123600Z");
  request.payload_sha256_hex = dualkey::gateway::internal::Sha256Hex(v.body);
  auto signature = SignV4(request, kSuiteKeys, "us-east-1", "service", "20150830T123600Z");
  EXPECT_EQ(signature.signed_headers, v.signed_headers) << v.name;
  return signature.authorization;
}

TEST(SigV4, AwsTestSuiteVectors) {
  const std::vector<Vector> vectors = {
      {"get-vanilla",
       "GET",
       "/",
       "",
       {},
       "",
       "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"post-vanilla",
       "POST",
       "/",
       "",
       {},
       "",
       "host;x-amz-date",
       "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
      {"get-vanilla-query-order-key-case",
       "GET",
       "/",
       "Param2=value2&Param1=value1",
       {},
       "",
       "host;x-amz-date",
       "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
      {"get-vanilla-query-order-value",
       "GET",
       "/",
       "Param1=value2&Param1=value1",
       {},
       "",
       "host;x-amz-date",
       "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"},
      {"post-vanilla-query",
       "POST",
       "/",
       "Param1=value1",
       {},
       "",
       "host;x-amz-date",
       "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
      {"get-unreserved",
       "GET",
       "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
       "",
       {},
       "",
       "host;x-amz-date",
       "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
      {"post-header-key-case",
       "POST",
       "/",
       "",
       {{"MY-HEADER1", "value1"}},
       "",
       "host;my-header1;x-amz-date",
       "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
      {"post-header-value-case",
       "POST",
       "/",
       "",
       {{"My-Header1", "VALUE1"}},
       "",
       "host;my-header1;x-amz-date",
       "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
      {"get-header-value-trim",
       "GET",
       "/",
       "",
       {{"My-Header1", " value1"}, {"My-Header2", "\"a   b   c\""}},
       "",
       "host;my-header1;my-header2;x-amz-date",
       "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
      {"get-header-key-duplicate",
       "GET",
       "/",
       "",
       {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}},
       "",
       "host;my-header1;x-amz-date",
       "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
      {"post-x-www-form-urlencoded",
       "POST",
       "/",
       "",
       {{"Content-Type", "application/x-www-form-urlencoded"}},
       "Param1=value1",
       "content-type;host;x-amz-date",
       "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
  };
  for (const Vector& v : vectors) {
    EXPECT_EQ(Sign(v), std::string("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
                                   "service/aws4_request, SignedHeaders=") +
                           v.signed_headers + ", Signature=" + v.signature)
        << v.name;
  }
}

TEST(SigV4, CanonicalRequestOfGetVanillaQueryOrderKeyCase) {
  SigV4Request request{"GET",
                       "/",
                       "Param2=value2&Param1=value1",
                       {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
                       kEmptySha};
  auto signature = SignV4(request, kSuiteKeys, "us-east-1", "service", "20150830T123600Z");
  EXPECT_EQ(signature.canonical_request,
            "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
            "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" +
                std::string(kEmptySha));
  EXPECT_EQ(signature.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0");
}

TEST(SigV4, WrongSecretGivesAnotherSignature) {
  SigV4Request request{"GET", "/", "", {{"Host", "example.amazonaws.com"}}, kEmptySha};
  AwsKeys other = kSuiteKeys;
  other.secret_access_key.back() = 'X';
  EXPECT_NE(SignV4(request, kSuiteKeys, "us-east-1", "service", "20150830T123600Z").signature,
            SignV4(request, other, "us-east-1", "service", "20150830T123600Z").signature);
}

}  // namespace
