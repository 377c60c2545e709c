#include "base/free_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include "base/fd.h"

namespace dualkey::base {
namespace {

// Below this, ports are often taken by services (databases, dev servers).
constexpr int kLowestPicked = 10000;

int EphemeralLow() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0;
  if (!(range >> low)) return 32768;  // Linux's default
  return low;
}

// Binds port (0: any) on 127.0.0.1; the bound port, or 0. Without
// SO_REUSEADDR, so a port still in TIME_WAIT counts as taken.
int TryBind(int port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t size = sizeof address;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &size) != 0)
    return 0;
  return ntohs(address.sin_port);
}

}  // namespace

int FreeLoopbackPort() {
  const int high = EphemeralLow();
  if (high - kLowestPicked >= 1000) {
    std::random_device seed;
    std::mt19937 random(seed());
    std::uniform_int_distribution<int> pick(kLowestPicked, high - 1);
    for (int attempt = 0; attempt < 64; ++attempt)
      if (const int port = TryBind(pick(random)); port != 0) return port;
  }
  // The ephemeral range starts too low to leave room below it: any port.
  return TryBind(0);
}

}  // namespace dualkey::base
