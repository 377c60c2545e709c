// One way to ask the daemon. Every integration (the hooks, `check`, the MCP
// proxy, the HTTP gateway, the PostgreSQL proxy, the CLI's pending/approve/
// deny/watch/breaker commands, `doctor`, the demo) uses this client, so the
// rules below hold everywhere:
//
// Where the daemon is. install::CurrentLayout() decides, once, when the
// client is made. On a protected install the socket is the layout's and
// nothing else (DUALKEY_SOCKET and --socket are not used), and the process
// listening there must run as the layout's daemon user or root (SO_PEERCRED):
// anything else is "unreachable", with a message naming the foreign uid and
// pid. An install file that exists but cannot be trusted makes every call
// fail with the layout's message. In single-user mode the socket is
// --socket, else $DUALKEY_SOCKET, else <state dir>/dualkey.sock.
//
// When to ask. Always try: a daemon that is not running costs one failed
// connect(). There is no "is the socket file there" pre-check.
//
// What an answer means. A reply that decodes is the daemon's decision. Any
// error (not running, timed out, foreign peer, malformed reply, the daemon's
// own refusal) is a Status, and for a decision the caller applies
// Unreachable(): its own verdict stands, never lowered, and nothing held can
// be approved meanwhile. kNotFound: no socket file at all (in single-user
// mode: no daemon set up, which needs no warning); kPermissionDenied: a
// foreign peer or an untrusted install; kUnavailable: not answering;
// kCorruption: a reply that does not decode.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"
#include "client/protocol.h"
#include "core/action.h"
#include "install/layout.h"

namespace dualkey::client {

struct ClientOptions {
  // An explicit socket (a --socket flag). Single-user mode only: on a
  // protected install a different path makes every call fail, saying why.
  std::string socket_path;
  int timeout_ms = 5000;
};

// The process on the other end of a Unix socket, from SO_PEERCRED.
struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
};

class Client {
 public:
  // The daemon of this machine, per install::CurrentLayout().
  static Client ForThisProcess(ClientOptions options = {});
  // The same for a given layout (or the error loading it).
  static Client ForLayout(const Result<install::Layout>& layout, ClientOptions options = {});

  bool protected_install() const { return protected_; }
  const std::string& socket_path() const { return socket_path_; }
  // Not ok when no call can succeed (an untrusted install file, a socket a
  // protected install does not allow); every call then returns it.
  const Status& usable() const { return usable_; }
  int timeout_ms() const { return options_.timeout_ms; }

  Result<CheckReply> Check(const CheckRequest& request) const;
  // What a check would answer and do, with no effect (see ProbeReply).
  Result<ProbeReply> Probe(const CheckRequest& request) const;
  Result<CheckReply> Consume(const ConsumeRequest& request) const;
  Result<PendingReply> Pending() const;
  Result<ApprovalReply> Approve(const ApproveRequest& request) const;
  Result<ApprovalReply> Deny(const DenyRequest& request) const;
  Result<BreakerResetReply> BreakerReset(const BreakerResetRequest& request) const;
  Result<BreakerStatusReply> BreakerStatus(const BreakerStatusRequest& request = {}) const;
  Result<StatusReply> DaemonStatus() const;

  // Who listens on the socket (for `doctor`): its credentials once it
  // passed the peer check, or why not.
  Result<PeerCredentials> Listener() const;

  // Any op as JSON (ops other modules add, tests): the reply object whatever
  // its "ok"; errors only for transport, peer and framing failures.
  Result<nlohmann::json> Call(const nlohmann::json& request) const;

  // One connection kept for many calls (the decision reporter's batches: no
  // connect, and no thread in the daemon, per call). One the daemon closed
  // since the last call (a restart) is replaced before sending; one that
  // fails is dropped (the next call connects again). Not thread-safe; the
  // client must outlive it.
  class Connection {
   public:
    explicit Connection(const Client& client) : client_(&client) {}
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    Result<nlohmann::json> Call(const nlohmann::json& request);
    // The same with the request already encoded: one line, its newline included.
    Result<nlohmann::json> CallLine(const std::string& line);

   private:
    const Client* client_;
    int fd_ = -1;
  };

  // Subscribes to the daemon's events; calls `on_event` for each until the
  // daemon leaves or `stop` becomes true (checked at least every 200 ms).
  Status Watch(const std::function<void(const nlohmann::json&)>& on_event,
               const std::atomic<bool>* stop) const;

 private:
  Client() = default;
  // A connected socket whose peer passed the check, or why not.
  Result<int> Connect() const;
  Result<nlohmann::json> RoundTrip(int fd, const nlohmann::json& request) const;
  Result<nlohmann::json> RoundTripLine(int fd, const std::string& line) const;

  ClientOptions options_;
  bool protected_ = false;
  std::string socket_path_;
  uid_t daemon_uid_ = static_cast<uid_t>(-1);
  Status usable_;
};

// The one rule for a decision the daemon could not give: the caller's own
// verdict, with the reason saying why the daemon was not asked. It is never
// lowered; a hold stays held (nothing can be approved until the daemon answers).
Verdict Unreachable(Verdict local, const Status& why);

// The peer of a connected Unix socket.
Result<PeerCredentials> PeerOf(int fd);

// One raw round trip to the daemon listening at `socket_path`, with no
// layout and no peer check: tests and the demo, which run their own daemon.
Result<nlohmann::json> CallAt(const std::string& socket_path, const nlohmann::json& request,
                              int timeout_ms);

}  // namespace dualkey::client
