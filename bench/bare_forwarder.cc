// The floor for bench/pg_proxy_compare.sh: a TCP forwarder that inspects
// nothing (one epoll thread; per readable socket one recv and one send, as
// the proxies do). Whatever a PostgreSQL proxy costs beyond this is its own
// work; what this costs is the extra hop itself.
//
//   bare_forwarder LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT
// Prints "listening on 127.0.0.1:PORT" once ready; runs until killed.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

int ConnectUpstream(const char* host, const char* port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host, port, &hints, &found) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  return fd;
}

// Sends everything; waits for the socket when it is full (a floor, not a
// product: a slow peer stalls the others, which pgbench never makes it do).
bool SendAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n > 0) {
      data += n;
      size -= static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      pollfd p{fd, POLLOUT, 0};
      poll(&p, 1, 1000);
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: bare_forwarder LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT\n");
    return 2;
  }
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[1])));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(listener, 128) != 0) {
    std::perror("bare_forwarder: listen");
    return 1;
  }
  socklen_t length = sizeof address;
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  std::printf("listening on 127.0.0.1:%d\n", ntohs(address.sin_port));
  std::fflush(stdout);

  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = listener;
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listener, &event);
  std::vector<int> peer;
  std::vector<char> buffer(64 * 1024);
  epoll_event ready[64];
  while (true) {
    const int n = epoll_wait(epoll_fd, ready, 64, -1);
    for (int i = 0; i < n; ++i) {
      const int fd = ready[i].data.fd;
      if (fd == listener) {
        const int client = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (client < 0) continue;
        const int upstream = ConnectUpstream(argv[2], argv[3]);
        if (upstream < 0) {
          std::perror("bare_forwarder: connecting upstream");
          close(client);
          continue;
        }
        for (int s : {client, upstream}) {
          setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          if (static_cast<size_t>(s) >= peer.size()) peer.resize(s + 1, -1);
        }
        peer[client] = upstream;
        peer[upstream] = client;
        for (int s : {client, upstream}) {
          event.data.fd = s;
          epoll_ctl(epoll_fd, EPOLL_CTL_ADD, s, &event);
        }
        continue;
      }
      if (fd >= static_cast<int>(peer.size()) || peer[fd] < 0) continue;  // closed in this batch
      const ssize_t got = recv(fd, buffer.data(), buffer.size(), 0);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (got <= 0 || !SendAll(peer[fd], buffer.data(), static_cast<size_t>(got))) {
        const int other = peer[fd];
        close(fd);
        close(other);
        peer[fd] = peer[other] = -1;
      }
    }
  }
}
