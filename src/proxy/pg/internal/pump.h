// The proxy's fast path: the data phase of every session, plain or TLS, on
// a few epoll threads (each session on one of them), one recv and one send
// per burst of messages as pgbouncer does, each statement decided on the spot when that needs no
// waiting. Anything slower (a hold, the daemon, a row estimate, a snapshot, an error to report)
// hands the session back to its coroutines at a message boundary; they give it back to the pump
// once that is done.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/pg/internal/tls.h"

namespace dualkey::pgproxy {

// One side of a session as the pump holds it: a non-blocking socket and,
// for TLS, the engine with the session's keys (the same one the coroutines
// used: it moves with the socket, in both directions).
struct PumpSide {
  int fd = -1;
  std::unique_ptr<TlsEngine> tls;
};

// Where the server's side of a session stands when it changes hands.
struct PumpHandBack {
  char transaction_status = 'I';   // of the last ReadyForQuery
  int syncs_outstanding = 0;       // ReadyForQuery messages the server still owes
  bool unsynced_extended = false;  // extended-protocol messages sent since the last Sync
};

// What the pump needs from a session. ForwardsNow runs on the pump thread
// the session is on (one at a time: sessions on other threads run theirs
// at the same moment, so it may touch only the session's own state and
// what is thread-safe); Resume and Finished are called there once, after
// which the pump no longer touches the session.
class PumpSession {
 public:
  virtual ~PumpSession() = default;
  // True when this statement may be forwarded now, without waiting for
  // anything; false sends the session back to its coroutines.
  virtual bool ForwardsNow(std::string_view sql,
                           const std::vector<std::int32_t>* parameter_types) = 0;
  // The session goes back to its coroutines with its sockets (non-blocking)
  // and TLS engines, the client bytes not yet forwarded (starting at a
  // message boundary) and where the server's side stands. An engine may
  // still hold bytes the pump did not read: they are the next ones.
  virtual void Resume(PumpSide client, PumpSide upstream, std::string client_bytes,
                      const PumpHandBack& state) = 0;
  // The session ended in the pump; its sockets are closed. `why` is empty
  // for an orderly end (Terminate, or the client closing between messages).
  virtual void Finished(const std::string& why) = 0;
};

class Pump {
 public:
  // Starts `threads` epoll threads (at least one); nullptr (and `error`)
  // when epoll is unavailable. A session is added to the thread with the
  // fewest sessions and stays there until it leaves the pump.
  static std::unique_ptr<Pump> Start(std::size_t max_statement_bytes, int threads,
                                     std::string* error);
  // One per four cores, at least one and at most four. One thread forwards
  // some 50,000 statements a second (~20 us of CPU each, most of it the
  // kernel's); more threads serve more sessions at once, but on a machine
  // the proxy shares with PostgreSQL and its clients each costs CPU per
  // statement: on 2 cores, 2 threads took ~18% more CPU per pgbench -S
  // transaction than 1, for the same throughput (docs/pg-proxy.md).
  static int DefaultThreads();
  ~Pump();
  Pump(const Pump&) = delete;
  Pump& operator=(const Pump&) = delete;

  // Thread-safe. The pump owns both sides from here on (until Resume).
  // A session coming back from its coroutines brings where the server's
  // side stands and the client bytes they read but did not forward (a
  // message begun, from its first byte).
  void Add(std::shared_ptr<PumpSession> session, PumpSide client, PumpSide upstream,
           const PumpHandBack& state = {}, std::string client_bytes = {});

 private:
  struct Impl;
  explicit Pump(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dualkey::pgproxy
