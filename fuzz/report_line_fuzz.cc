// libFuzzer: a report line read the fast way (client::ParseReportLine, which
// finds "packed" by a scan and unescapes it itself) is exactly what
// nlohmann's parser reads, or is left to the parser. Aborts otherwise.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "client/report_wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const std::optional<nlohmann::json> fast = dualkey::client::ParseReportLine(line);
  if (!fast) return 0;
  const nlohmann::json full = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (full.is_discarded() || *fast != full) std::abort();
  return 0;
}
