#include "base/unix_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

namespace dualkey::base {
namespace {

// An address for `path`; for a long path it names the socket through the
// open directory, which must stay open until bind or connect is done.
struct UnixAddress {
  sockaddr_un address{};
  UniqueFd directory;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&address); }
  static constexpr socklen_t size() { return sizeof(sockaddr_un); }
};

bool Fits(const std::string& text) {
  return text.size() < sizeof(sockaddr_un::sun_path);
}

Result<UnixAddress> AddressOf(const std::string& path) {
  if (path.empty()) return Status::InvalidArgument("empty socket path");
  if (path.find('\0') != std::string::npos)
    return Status::InvalidArgument("socket path with a NUL byte");
  UnixAddress result;
  result.address.sun_family = AF_UNIX;
  std::string reachable = path;
  if (!Fits(path)) {
    const std::size_t slash = path.rfind('/');
    const std::string directory =
        slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    int fd = ::open(directory.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      const int why = errno;
      std::string message = path + ": " + std::strerror(why);
      return why == ENOENT ? Status::NotFound(std::move(message))
                           : Status::IOError(std::move(message));
    }
    result.directory = UniqueFd(fd);
    reachable = "/proc/self/fd/" + std::to_string(fd) + "/" + name;
    if (name.empty() || !Fits(reachable))
      return Status::InvalidArgument(path + ": the socket's file name is too long");
  }
  std::memcpy(result.address.sun_path, reachable.c_str(), reachable.size() + 1);
  return result;
}

Status Failure(const std::string& path, int why) {
  std::string message = path + ": " + std::strerror(why);
  if (why == ENOENT) return Status::NotFound(std::move(message));
  if (why == EACCES || why == EPERM) return Status::PermissionDenied(std::move(message));
  return Status::Unavailable(std::move(message));
}

}  // namespace

Result<UniqueFd> ConnectUnixSocket(const std::string& path) {
  Result<UnixAddress> address = AddressOf(path);
  if (!address.ok()) return address.status();
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Status::IOError(std::string("socket: ") + std::strerror(errno));
  int rc;
  do {
    rc = ::connect(fd.get(), address->get(), address->size());
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return Failure(path, errno);
  return fd;
}

Result<UniqueFd> ListenUnixSocket(const std::string& path, int backlog) {
  Result<UnixAddress> address = AddressOf(path);
  if (!address.ok()) return address.status();
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Status::IOError(std::string("socket: ") + std::strerror(errno));
  if (::bind(fd.get(), address->get(), address->size()) != 0 || ::listen(fd.get(), backlog) != 0)
    return Status::IOError("cannot listen on " + path + ": " + std::strerror(errno));
  return fd;
}

}  // namespace dualkey::base
