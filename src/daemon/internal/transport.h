// The daemon's Unix socket: accepts connections, learns each caller's uid
// and pid (SO_PEERCRED), reads one request per line, hands it to the
// Dispatcher and writes the reply. One thread per connection: agents are
// few and their requests short. `watch` turns a connection into a stream
// of events.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "base/status.h"
#include "daemon/internal/core.h"

namespace dualkey::daemon::internal {

class UnixListener {
 public:
  // Binds `path` (mode 0666: asking is harmless; approving needs a code). A
  // socket file left by a daemon that died is replaced; one that answers is
  // not (kFailedPrecondition).
  static Result<std::unique_ptr<UnixListener>> Open(const std::string& path);
  ~UnixListener();

  // Serves until `stop`; returns once every connection has ended.
  void Run(Core& core, const Dispatcher& dispatcher, const std::atomic<bool>& stop);

 private:
  UnixListener(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

}  // namespace dualkey::daemon::internal
