// Bytes as text: lower-case hex and standard base64 (padded).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dualkey::base {

std::string Hex(const unsigned char* data, std::size_t size);

std::string Base64(std::string_view bytes);
// False when `text` is not base64.
bool Unbase64(std::string_view text, std::string* out);

}  // namespace dualkey::base
