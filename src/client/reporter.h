// Decisions the PostgreSQL proxy, the HTTP gateway and the MCP proxy make
// on their own (a read they forward, a write the policy allows, a hold when
// the daemon is away) go to the daemon's hash-chained audit log through
// this reporter, batched so the request path never waits for the daemon:
// Report() only queues (packed as it goes on the wire, into one buffer:
// report_wire.h's PackedQueue); a thread sends batches (the `report` op, through
// client.h) every few milliseconds, and the daemon appends them with group
// commit.
//
// The queue is bounded. When the daemon cannot be reached (or cannot write
// its log) the queue keeps what it holds and sends it once the daemon is
// back, so nothing is lost while it fits. Meanwhile Report() refuses
// destructive decisions (the caller holds them: nothing destroys without a
// record), and when the queue is full reads are still served and counted;
// the count is sent as an "audit_gap" record once the link comes back.
// Each decision is written once: a batch sent again after a timeout carries
// the same numbers, and the daemon skips what it wrote already (protocol.h,
// ReportRequest).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "client/client.h"
#include "client/protocol.h"
#include "client/report_wire.h"

namespace dualkey::client {

struct ReporterOptions {
  std::string source;  // "pg_proxy", "gateway", "mcp_proxy"
  std::size_t max_queue = 65536;
  std::size_t max_batch = 1024;
  // A batch stops growing past this many bytes: the daemon takes lines of
  // up to 1 MiB, and a batch of long statements must still fit (each text
  // is cut at kMaxReportedText bytes; escaping grows it at most 6 times).
  std::size_t max_batch_bytes = 128 * 1024;
  int flush_ms = 20;  // the longest a decision waits before it is sent
};

// The class of the action that weighs most (the most severe; the first of
// equals), "none" for no action: the audit log's and the metrics' class.
// Valid while `verdict` is.
std::string_view DecidingClass(const Verdict& verdict);
// Whether any action destroys (core's IsDestructive).
bool AnyDestructive(const Verdict& verdict);

class DecisionReporter {
 public:
  DecisionReporter(Client client, ReporterOptions options);
  // Sends what is queued (waiting at most the client's timeout), then stops.
  ~DecisionReporter();
  DecisionReporter(const DecisionReporter&) = delete;
  DecisionReporter& operator=(const DecisionReporter&) = delete;

  // Queues `decision`. False when it could not be queued for delivery: the
  // queue is full, or it is `destructive` and the daemon is not reachable
  // now. The caller must then hold a destructive request; a read may be
  // served (it is counted in the next gap record). Never blocks on I/O.
  // Its texts are copied before this returns; time_ms 0 is now.
  bool Report(const DecisionView& decision, bool destructive);
  bool Report(const ReportedDecision& decision, bool destructive) {
    return Report(ViewOf(decision), destructive);
  }
  // What a proxy decided about: the texts its caller has (copied, once,
  // into the queue).
  struct ActionText {
    Channel channel = Channel::kShell;
    std::string_view input, cwd, agent;
  };
  // Reports what the caller decided on `action` itself. False when the
  // decision was forwarded, destroys, and could not be queued: the caller
  // holds the request (nothing destroys without a record).
  bool ReportLocal(const ActionText& action, const Verdict& verdict, Decision decision,
                   bool forwarded, std::int64_t added_us, std::string_view reason = "");

  // Waits until everything queued so far was sent (or `timeout_ms` passed).
  bool Flush(int timeout_ms);

  struct Stats {
    std::uint64_t reported = 0;   // queued
    std::uint64_t delivered = 0;  // recorded by the daemon
    std::uint64_t lost = 0;       // counted into gaps
    std::uint64_t gaps_sent = 0;
    std::size_t queued = 0;
    bool link_up = true;
    std::string last_error;
  };
  Stats stats() const;
  bool link_up() const { return link_up_.load(std::memory_order_relaxed); }

 private:
  void Run();
  // One batch out; false when the daemon did not take all of it.
  bool SendBatch();

  const Client client_;
  Client::Connection connection_{client_};  // the sending thread's only
  const ReporterOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable drained_;
  const std::string sender_;  // this reporter, to the daemon (exactly once)
  PackedQueue queue_;
  std::string batch_;  // the batch being sent (the sending thread's; kept for its capacity)
  ReportGap gap_;      // lost since the last gap record was sent
  std::uint64_t lost_destructive_ = 0;  // ever, as stats_.lost counts all
  Stats stats_;
  std::atomic<bool> link_up_{true};
  bool legacy_ = false;  // the daemon reads "decisions" only (the sending thread's)
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace dualkey::client
