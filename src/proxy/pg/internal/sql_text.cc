#include "proxy/pg/internal/sql_text.h"

#include <cstring>

#include "base/json_text.h"

namespace dualkey::pgproxy {

std::string_view SqlForClassification(std::string_view raw, std::string* storage) {
  if (base::IsValidUtf8(raw) && !raw.starts_with(kLatin1Marker)) return raw;
  storage->clear();
  storage->reserve(kLatin1Marker.size() + raw.size() * 2);
  storage->append(kLatin1Marker);
  for (char c : raw) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x80) {
      storage->push_back(c);
    } else {
      storage->push_back(static_cast<char>(0xC0 | (byte >> 6)));
      storage->push_back(static_cast<char>(0x80 | (byte & 0x3F)));
    }
  }
  return *storage;
}

bool HasEncodingDependentEscape(std::string_view raw) {
  for (const char* p = static_cast<const char*>(std::memchr(raw.data(), '\\', raw.size()));
       p != nullptr;) {
    const std::size_t at = static_cast<std::size_t>(p - raw.data());
    if (at > 0 && static_cast<unsigned char>(raw[at - 1]) >= 0x80 && at + 1 < raw.size() &&
        (raw[at + 1] == '\'' || raw[at + 1] == '\\'))
      return true;
    if (at + 1 >= raw.size()) break;
    p = static_cast<const char*>(std::memchr(p + 1, '\\', raw.size() - at - 1));
  }
  return false;
}

}  // namespace dualkey::pgproxy
