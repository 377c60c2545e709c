#include "client/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "base/fd.h"
#include "base/line_io.h"
#include "base/unix_socket.h"

namespace dualkey::client {
namespace {

using nlohmann::json;

using Fd = base::UniqueFd;

template <typename Reply>
Result<Reply> Typed(const Result<json>& raw) {
  if (!raw.ok()) return raw.status();
  return Decode<Reply>(*raw);
}

}  // namespace

Result<PeerCredentials> PeerOf(int fd) {
  ucred cred{};
  socklen_t length = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0)
    return Status::IOError(std::string("SO_PEERCRED: ") + std::strerror(errno));
  return PeerCredentials{cred.pid, cred.uid, cred.gid};
}

Client Client::ForThisProcess(ClientOptions options) {
  return ForLayout(install::CurrentLayout(), std::move(options));
}

Client Client::ForLayout(const Result<install::Layout>& layout, ClientOptions options) {
  Client client;
  client.options_ = std::move(options);
  if (!layout.ok()) {
    // An install file that cannot be trusted is a protected install gone
    // wrong, never single-user mode.
    client.protected_ = true;
    client.usable_ = Status::PermissionDenied(
        "the protected install's configuration cannot be trusted: " + layout.status().message());
    return client;
  }
  client.protected_ = layout->protected_install;
  if (client.protected_) {
    client.socket_path_ = layout->socket_path;
    client.daemon_uid_ = layout->daemon_uid;
    if (!client.options_.socket_path.empty() && client.options_.socket_path != layout->socket_path)
      client.usable_ = Status::PermissionDenied("this machine has a protected dualkey install (" +
                                                layout->install_file + "): its daemon listens on " +
                                                layout->socket_path + " only; the socket " +
                                                client.options_.socket_path + " is not used");
  } else {
    client.socket_path_ =
        client.options_.socket_path.empty() ? layout->socket_path : client.options_.socket_path;
  }
  return client;
}

Result<int> Client::Connect() const {
  if (!usable_.ok()) return usable_;
  if (socket_path_.empty()) return Status::InvalidArgument("no daemon socket path");
  Result<base::UniqueFd> connected = base::ConnectUnixSocket(socket_path_);
  if (!connected.ok()) {
    const Status& why = connected.status();
    std::string message = "the dualkey daemon is not running (" + why.message() + ")";
    // No socket at all: no daemon set up here (in single-user mode, normal).
    if (why.Is(Status::Code::kNotFound)) return Status::NotFound(std::move(message));
    if (why.Is(Status::Code::kInvalidArgument)) return why;
    return Status::Unavailable(std::move(message));
  }
  Fd guard = std::move(connected).value();
  const int fd = guard.get();
  if (protected_) {
    Result<PeerCredentials> peer = PeerOf(fd);
    if (!peer.ok()) return peer.status();
    if (peer->uid != 0 && peer->uid != daemon_uid_)
      return Status::PermissionDenied(
          "a foreign process (uid " + std::to_string(peer->uid) + ", pid " +
          std::to_string(peer->pid) + ") holds the dualkey daemon's socket " + socket_path_ +
          "; it is not the daemon (which runs as uid " + std::to_string(daemon_uid_) +
          "), so dualkey treats the daemon as unreachable");
  }
  // Sends must not block forever on a daemon that stopped reading.
  timeval timeout{options_.timeout_ms / 1000, (options_.timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  return guard.release();
}

Result<json> Client::RoundTrip(int fd, const json& request) const {
  return RoundTripLine(fd, EncodeLine(request));
}

Result<json> Client::RoundTripLine(int fd, const std::string& request) const {
  if (!base::WriteAll(fd, request))
    return Status::Unavailable("the dualkey daemon closed the connection (" + socket_path_ + ")");
  std::string buffer, line;
  if (!base::ReadLine(fd, &buffer, &line, options_.timeout_ms))
    return Status::Unavailable("the dualkey daemon did not answer in time (" + socket_path_ + ")");
  Result<json> reply = DecodeLine(line);
  if (!reply.ok())
    return Status::Corruption("the dualkey daemon answered something that is not a JSON object (" +
                              reply.status().message() + ")");
  return reply;
}

Result<json> Client::Call(const json& request) const {
  Result<int> fd = Connect();
  if (!fd.ok()) return fd.status();
  Fd guard(*fd);
  return RoundTrip(*fd, request);
}

Client::Connection::~Connection() {
  if (fd_ >= 0) close(fd_);
}

Result<json> Client::Connection::Call(const json& request) {
  return CallLine(EncodeLine(request));
}

Result<json> Client::Connection::CallLine(const std::string& request) {
  if (fd_ >= 0) {
    // Between calls the daemon sends nothing: a readable kept connection was
    // closed by it (a restart, an idle one dropped). Checked before sending,
    // so a request is never sent twice.
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, 0) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  if (fd_ < 0) {
    Result<int> fd = client_->Connect();
    if (!fd.ok()) return fd.status();
    fd_ = *fd;
  }
  Result<json> reply = client_->RoundTripLine(fd_, request);
  if (!reply.ok()) {
    close(fd_);
    fd_ = -1;
  }
  return reply;
}

Result<PeerCredentials> Client::Listener() const {
  Result<int> fd = Connect();
  if (!fd.ok()) return fd.status();
  Fd guard(*fd);
  return PeerOf(*fd);
}

Result<CheckReply> Client::Check(const CheckRequest& request) const {
  return Typed<CheckReply>(Call(ToJson(request)));
}

Result<ProbeReply> Client::Probe(const CheckRequest& request) const {
  return Typed<ProbeReply>(Call(ProbeJson(request)));
}

Result<CheckReply> Client::Consume(const ConsumeRequest& request) const {
  return Typed<CheckReply>(Call(ToJson(request)));
}

Result<PendingReply> Client::Pending() const {
  return Typed<PendingReply>(Call(ToJson(PendingRequest{})));
}

Result<ApprovalReply> Client::Approve(const ApproveRequest& request) const {
  return Typed<ApprovalReply>(Call(ToJson(request)));
}

Result<ApprovalReply> Client::Deny(const DenyRequest& request) const {
  return Typed<ApprovalReply>(Call(ToJson(request)));
}

Result<BreakerResetReply> Client::BreakerReset(const BreakerResetRequest& request) const {
  return Typed<BreakerResetReply>(Call(ToJson(request)));
}

Result<BreakerStatusReply> Client::BreakerStatus(const BreakerStatusRequest& request) const {
  return Typed<BreakerStatusReply>(Call(ToJson(request)));
}

Result<StatusReply> Client::DaemonStatus() const {
  return Typed<StatusReply>(Call(ToJson(StatusRequest{})));
}

Status Client::Watch(const std::function<void(const json&)>& on_event,
                     const std::atomic<bool>* stop) const {
  Result<int> fd = Connect();
  if (!fd.ok()) return fd.status();
  Fd guard(*fd);
  std::string buffer, line;
  if (!base::WriteAll(*fd, EncodeLine(json{{"op", std::string(kOpWatch)}})) ||
      !base::ReadLine(*fd, &buffer, &line, options_.timeout_ms))
    return Status::Unavailable("the dualkey daemon did not accept the watch (" + socket_path_ +
                               ")");
  Result<json> accepted = DecodeLine(line);
  if (!accepted.ok()) return Status::Corruption("the daemon's reply to watch is not JSON");
  if (Status s = ReplyStatus(*accepted); !s.ok()) return s;
  // Events follow, one per line.
  while (stop == nullptr || !*stop) {
    if (!base::ReadLine(*fd, &buffer, &line, 1000 * 60 * 60 * 24, stop)) break;
    Result<json> event = DecodeLine(line);
    if (event.ok()) on_event(*event);
  }
  return Status::Ok();
}

Result<json> CallAt(const std::string& socket_path, const json& request, int timeout_ms) {
  return Client::ForLayout(install::Layout{}, ClientOptions{socket_path, timeout_ms}).Call(request);
}

Verdict Unreachable(Verdict local, const Status& why) {
  if (local.Enforced() != Decision::kAllow)
    local.reason +=
        " (the dualkey daemon is not reachable: " + why.message() + "; so this stays held)";
  return local;
}

}  // namespace dualkey::client
