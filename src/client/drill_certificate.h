// The bytes a `dualkey drill` certificate's signature covers, shared by the
// daemon that signs it (daemon/drill.cc) and `dualkey drill verify`.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "base/json_text.h"

namespace dualkey::client {

// A prefix no other signed document of dualkey's starts with: an audit
// checkpoint's signature can never pass for a certificate's, or the reverse.
inline constexpr const char* kCertificateDomain = "dualkey-drill-certificate-v1\n";

// The signed text: the domain, then the canonical JSON (keys sorted, no
// spaces) of the certificate with the time the daemon signed it. (Which key
// signed is the verifier's question: it checks against the pinned key.)
inline std::string CertificateMessage(const nlohmann::json& certificate, std::int64_t signed_ms) {
  nlohmann::json signed_part{{"certificate", certificate}, {"signed_ms", signed_ms}};
  return std::string(kCertificateDomain) + base::JsonDump(signed_part);
}

}  // namespace dualkey::client
