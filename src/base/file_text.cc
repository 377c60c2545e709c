#include "base/file_text.h"

#include <time.h>

#include <fstream>
#include <sstream>

namespace dualkey::base {

bool ReadFile(const std::string& path, std::string* text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  *text = buffer.str();
  return !in.bad();
}

std::string LocalStamp() {
  time_t now = time(nullptr);
  tm local{};
  localtime_r(&now, &local);
  char buffer[32];
  strftime(buffer, sizeof(buffer), "%Y%m%d-%H%M%S", &local);
  return buffer;
}

}  // namespace dualkey::base
