#include <iostream>

#include "mcp/proxy.h"

namespace dualkey::mcp {
int RunHttpProxy(const ProxyOptions& options) {
  std::cerr << "dualkey mcp: --upstream is not built yet\n";
  return 2;
}
}  // namespace dualkey::mcp
