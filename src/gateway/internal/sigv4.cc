#include "gateway/internal/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>

#include "base/encoding.h"
#include "base/text.h"

namespace dualkey::gateway::internal {
namespace {

std::string Hex(const unsigned char* data, std::size_t size) {
  return base::Hex(data, size);
}

std::string Hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &size);
  return std::string(reinterpret_cast<char*>(out), size);
}

std::string Decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && base::HexValue(text[i + 1]) >= 0 &&
        base::HexValue(text[i + 2]) >= 0) {
      out.push_back(
          static_cast<char>(base::HexValue(text[i + 1]) * 16 + base::HexValue(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// RFC 3986 unreserved characters stay; everything else is %XX (upper case).
std::string Encode(std::string_view text) {
  return base::PercentEncode(text);
}

std::vector<std::string> Split(std::string_view text, char separator) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    std::size_t end = text.find(separator, start);
    out.emplace_back(text.substr(start, end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

std::string CanonicalUri(std::string_view path, bool s3) {
  if (path.empty()) return "/";
  std::vector<std::string> segments = Split(path, '/');
  std::vector<std::string> kept;
  if (s3) {
    kept = std::move(segments);
  } else {
    // Remove dot segments and empty ones (RFC 3986 5.2.4), as AWS normalises.
    for (std::size_t i = 0; i < segments.size(); ++i) {
      const std::string& segment = segments[i];
      if (segment == ".") continue;
      if (segment == "..") {
        if (kept.size() > 1) kept.pop_back();
        continue;
      }
      if (segment.empty() && i != 0 && i + 1 != segments.size()) continue;
      kept.push_back(segment);
    }
  }
  std::string out;
  for (std::size_t i = 0; i < kept.size(); ++i) {
    if (i != 0) out.push_back('/');
    std::string once = Encode(Decode(kept[i]));
    out += s3 ? once : Encode(once);
  }
  if (out.empty() || out[0] != '/') out.insert(out.begin(), '/');
  return out;
}

std::string CanonicalQuery(std::string_view query) {
  if (query.empty()) return "";
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const std::string& part : Split(query, '&')) {
    if (part.empty()) continue;
    std::size_t eq = part.find('=');
    std::string name = part.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : part.substr(eq + 1);
    // '+' in a query means a space only in forms; AWS reads it literally.
    pairs.emplace_back(Encode(Decode(name)), Encode(Decode(value)));
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [name, value] : pairs) {
    if (!out.empty()) out.push_back('&');
    out += name + "=" + value;
  }
  return out;
}

std::string TrimAll(std::string_view value) {
  std::string out;
  bool space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), out, &size, EVP_sha256(), nullptr);
  return Hex(out, size);
}

std::string AmzDateNow() {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y%m%dT%H%M%SZ", &utc);
  return buffer;
}

SigV4Signature SignV4(const SigV4Request& request, const AwsKeys& keys, std::string_view region,
                      std::string_view service, std::string_view amz_date) {
  SigV4Signature out;
  // Lower-case names, values trimmed, repeated headers joined with commas.
  std::map<std::string, std::string> headers;
  for (const auto& [name, value] : request.headers) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto [it, inserted] = headers.emplace(lower, TrimAll(value));
    if (!inserted) it->second += "," + TrimAll(value);
  }
  std::string canonical_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers += name + ":" + value + "\n";
    if (!out.signed_headers.empty()) out.signed_headers.push_back(';');
    out.signed_headers += name;
  }
  std::string method = request.method;
  for (char& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  out.canonical_request = method + "\n" + CanonicalUri(request.path, service == "s3") + "\n" +
                          CanonicalQuery(request.query) + "\n" + canonical_headers + "\n" +
                          out.signed_headers + "\n" + request.payload_sha256_hex;
  const std::string date(amz_date.substr(0, 8));
  const std::string scope =
      date + "/" + std::string(region) + "/" + std::string(service) + "/aws4_request";
  out.string_to_sign = "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" + scope + "\n" +
                       Sha256Hex(out.canonical_request);
  std::string key = Hmac("AWS4" + keys.secret_access_key, date);
  key = Hmac(key, region);
  key = Hmac(key, service);
  key = Hmac(key, "aws4_request");
  const std::string raw = Hmac(key, out.string_to_sign);
  out.signature = Hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  out.authorization = "AWS4-HMAC-SHA256 Credential=" + keys.access_key_id + "/" + scope +
                      ", SignedHeaders=" + out.signed_headers + ", Signature=" + out.signature;
  return out;
}

}  // namespace dualkey::gateway::internal
