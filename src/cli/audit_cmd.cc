// CLI glue for `dualkey audit`: the logic is in src/audit/.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>

#include "audit/audit.h"
#include "cli/commands.h"
#include "daemon/daemon.h"

namespace dualkey::cli {
namespace {

// "1732550000" (epoch seconds), "1732550000000" (ms), or "15m", "2h", "7d" ago.
bool ParseSince(const std::string& text, std::int64_t* since_ms) {
  if (text.empty()) {
    *since_ms = 0;
    return true;
  }
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 15) return false;
  const std::int64_t value = std::stoll(text.substr(0, digits));
  const std::string unit = text.substr(digits);
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  if (unit.empty()) {
    *since_ms = value < 100'000'000'000 ? value * 1000 : value;
    return true;
  }
  std::int64_t seconds = 0;
  if (unit == "s")
    seconds = value;
  else if (unit == "m")
    seconds = value * 60;
  else if (unit == "h")
    seconds = value * 3600;
  else if (unit == "d")
    seconds = value * 86400;
  else
    return false;
  *since_ms = now - seconds * 1000;
  return true;
}

}  // namespace

int RunAudit(const std::string& action, const std::string& file, const std::string& since,
             int lines, bool json) {
  std::int64_t since_ms = 0;
  if (!ParseSince(since, &since_ms)) {
    std::cerr << "dualkey audit: --since takes epoch seconds or a duration like 15m, 2h, 7d\n";
    return 2;
  }
  const std::string path = file.empty() ? daemon::DefaultStateDir() + "/audit.jsonl" : file;
  return audit::RunAuditCommand(action, path, since_ms, lines, json, std::cout, std::cerr);
}

}  // namespace dualkey::cli
