#include "daemon/internal/transport.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "base/line_io.h"
#include "base/thread_priority.h"
#include "base/unix_socket.h"
#include "client/client.h"
#include "client/protocol.h"

namespace dualkey::daemon::internal {
namespace {

using nlohmann::json;

void ServeRequests(Core* core, const Dispatcher* dispatcher, const std::atomic<bool>* stop,
                   int fd) {
  Peer peer;
  peer.via = Peer::Via::kUnix;
  if (Result<client::PeerCredentials> cred = client::PeerOf(fd); cred.ok())
    peer = core->UnixPeer(cred->pid, cred->uid, cred->gid);
  std::string buffer, line;
  while (!*stop && base::ReadLine(fd, &buffer, &line, 1000 * 60 * 60, stop)) {
    Result<json> request = client::DecodeLine(line);
    if (!request.ok()) {
      // Not JSON, or not UTF-8: refused, never decided.
      core->Record("bad_request",
                   json{{"error", request.status().message()}, {"bytes", line.size()}}, &peer);
      json reply = client::ErrorJson(Status::InvalidArgument(
          "the request is not a JSON object in UTF-8 (" + request.status().message() +
          "); send text that is not UTF-8 as FIELD_b64"));
      reply["decision"] = "hold";
      if (!base::WriteAll(fd, client::EncodeLine(reply))) break;
      continue;
    }
    const auto op_field = request->find("op");
    const std::string op =
        op_field != request->end() && op_field->is_string() ? op_field->get<std::string>() : "";
    // A report is of decisions already made and answered (client/reporter.h):
    // this connection's thread writes them to the log at a lower priority
    // than the threads that decide, for as long as the connection lasts.
    if (op == client::kOpReport) base::LowerThisThreadPriority(base::kOffPathNiceSteps);
    if (op == client::kOpWatch) {
      core->Subscribe(fd);
      base::WriteAll(fd, client::EncodeLine(json{{"ok", true}, {"watching", true}}));
      // Hold the connection until the client leaves or we stop.
      char byte;
      while (!*stop) {
        pollfd pfd{fd, POLLIN, 0};
        int ready = poll(&pfd, 1, 200);
        if (ready > 0 && recv(fd, &byte, 1, 0) <= 0) break;
      }
      core->Unsubscribe(fd);
      break;
    }
    if (!base::WriteAll(fd, client::EncodeLine(dispatcher->Handle(peer, *request)))) break;
  }
}

void ServeConnection(Core* core, const Dispatcher* dispatcher, const std::atomic<bool>* stop,
                     int fd, std::atomic<int>* active) {
  // An exception ends this connection (the client sees it close, and a hook
  // holds), never the daemon: a detached thread's exception would abort it.
  try {
    ServeRequests(core, dispatcher, stop, fd);
  } catch (...) {
  }
  close(fd);
  --*active;
}

}  // namespace

Result<std::unique_ptr<UnixListener>> UnixListener::Open(const std::string& path) {
  if (path.empty()) return Status::InvalidArgument("unusable socket path: ''");
  // A socket file left by a daemon that died: replace it unless one answers.
  if (base::ConnectUnixSocket(path).ok())
    return Status::FailedPrecondition("another daemon is already listening on " + path);
  unlink(path.c_str());
  Result<base::UniqueFd> listening = base::ListenUnixSocket(path, 128);
  if (!listening.ok()) return listening.status();
  const int fd = listening->release();
  // Agents (maybe another OS user) must be able to ask; approving needs TOTP.
  chmod(path.c_str(), 0666);
  return std::unique_ptr<UnixListener>(new UnixListener(fd, path));
}

UnixListener::~UnixListener() {
  close(fd_);
  unlink(path_.c_str());
}

void UnixListener::Run(Core& core, const Dispatcher& dispatcher, const std::atomic<bool>& stop) {
  std::atomic<int> active{0};
  while (!stop) {
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, 200) <= 0) continue;
    int fd = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++active;
    std::thread(ServeConnection, &core, &dispatcher, &stop, fd, &active).detach();
  }
  // Connections notice `stop` within 200 ms; the listener outlives them.
  while (active > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

}  // namespace dualkey::daemon::internal
