// FreeLoopbackPort against the real kernel: the port it gives can be
// listened on at once, and it lies below the ephemeral range, where no
// outgoing connection can take it first.
#include "base/free_port.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <set>

namespace {

int ListenOn(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || listen(fd, 1) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(FreeLoopbackPort, CanBeListenedOnAndLiesBelowTheEphemeralRange) {
  int ephemeral_low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_low;
  std::set<int> seen;
  for (int i = 0; i < 20; ++i) {
    const int port = dualkey::base::FreeLoopbackPort();
    ASSERT_GT(port, 0);
    if (ephemeral_low > 11000) {
      EXPECT_LT(port, ephemeral_low);
      EXPECT_GE(port, 10000);
    }
    const int fd = ListenOn(port);
    EXPECT_GE(fd, 0) << "port " << port << " was not free";
    // While it is listened on, it is never handed out.
    for (int j = 0; j < 50; ++j) EXPECT_NE(dualkey::base::FreeLoopbackPort(), port);
    if (fd >= 0) close(fd);
    seen.insert(port);
  }
  // Picked at random, not the same port each time.
  EXPECT_GT(seen.size(), 10u);
}

}  // namespace
