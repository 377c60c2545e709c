// The proxy's fast path: the data phase of plain (non-TLS) sessions on one
// epoll thread, one recv and one send per burst of messages as pgbouncer
// does, each statement decided on the spot when that needs no waiting.
// Anything slower (a hold, the daemon, a row estimate, a snapshot, an error
// to report) hands the session back to its coroutines at a message boundary.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dualkey::pgproxy {

// Where the server's side of a session stands when the pump hands it back.
struct PumpHandBack {
  char transaction_status = 'I';   // of the last ReadyForQuery
  int syncs_outstanding = 0;       // ReadyForQuery messages the server still owes
  bool unsynced_extended = false;  // extended-protocol messages sent since the last Sync
};

// What the pump needs from a session. ForwardsNow runs on the pump thread
// while the session is in the pump; Resume and Finished are called there
// once, after which the pump no longer touches the session.
class PumpSession {
 public:
  virtual ~PumpSession() = default;
  // True when this statement may be forwarded now, without waiting for
  // anything; false sends the session back to its coroutines.
  virtual bool ForwardsNow(std::string_view sql,
                           const std::vector<std::int32_t>* parameter_types) = 0;
  // The session goes back to its coroutines with its sockets (non-blocking),
  // the client bytes not yet forwarded (starting at a message boundary) and
  // where the server's side stands.
  virtual void Resume(int client_fd, int upstream_fd, std::string client_bytes,
                      const PumpHandBack& state) = 0;
  // The session ended in the pump; its sockets are closed. `why` is empty
  // for an orderly end (Terminate, or the client closing between messages).
  virtual void Finished(const std::string& why) = 0;
};

class Pump {
 public:
  // Starts the pump thread; nullptr (and `error`) when epoll is unavailable.
  static std::unique_ptr<Pump> Start(std::size_t max_statement_bytes, std::string* error);
  ~Pump();
  Pump(const Pump&) = delete;
  Pump& operator=(const Pump&) = delete;

  // Thread-safe. The pump owns both sockets from here on (until Resume).
  void Add(std::shared_ptr<PumpSession> session, int client_fd, int upstream_fd);

 private:
  struct Impl;
  explicit Pump(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dualkey::pgproxy
