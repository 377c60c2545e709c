// Times as text.
#pragma once

#include <cstdint>
#include <string>

namespace dualkey::base {

enum class TimeZone { kLocal, kUtc };

// `ms` since the epoch, through strftime's `format` in `zone` (at most 63
// bytes of text).
std::string FormatTime(std::int64_t ms, const char* format, TimeZone zone);

}  // namespace dualkey::base
