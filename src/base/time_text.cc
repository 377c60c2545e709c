#include "base/time_text.h"

#include <ctime>

namespace dualkey::base {

std::string FormatTime(std::int64_t ms, const char* format, TimeZone zone) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  if (zone == TimeZone::kUtc)
    gmtime_r(&seconds, &tm);
  else
    localtime_r(&seconds, &tm);
  char text[64];
  if (std::strftime(text, sizeof text, format, &tm) == 0) return "";
  return text;
}

}  // namespace dualkey::base
