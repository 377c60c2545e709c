// AWS Signature Version 4: the gateway re-signs each forwarded request with
// the real keys, which only dualkey holds (agents send unsigned requests).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dualkey::gateway::internal {

struct AwsKeys {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary credentials
};

struct SigV4Request {
  std::string method;
  std::string path;   // as sent (percent-encoded), without the query
  std::string query;  // as sent, without '?'
  // Every header to sign, including host and x-amz-date; names any case.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload_sha256_hex;  // of the body, or "UNSIGNED-PAYLOAD"
};

struct SigV4Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "host;x-amz-date"
  std::string signature;       // hex
  std::string authorization;   // the Authorization header value
};

// `amz_date` is "YYYYMMDDTHHMMSSZ". S3 does not normalise or double-encode
// the path; every other service does.
SigV4Signature SignV4(const SigV4Request& request, const AwsKeys& keys, std::string_view region,
                      std::string_view service, std::string_view amz_date);

// "YYYYMMDDTHHMMSSZ" for now.
std::string AmzDateNow();
std::string Sha256Hex(std::string_view data);

}  // namespace dualkey::gateway::internal
