#include "client/reporter.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "base/thread_priority.h"
#include "client/report_wire.h"

namespace dualkey::client {
namespace {

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A name no other reporter on this machine has at the same time: the
// daemon keys its marks by the peer's uid and pid as well.
std::string NewSenderId() {
  std::random_device random;
  char text[17];
  std::snprintf(text, sizeof text, "%08x%08x", random(), random());
  return text;
}

}  // namespace

std::string_view DecidingClass(const Verdict& verdict) {
  const Action* deciding = nullptr;
  for (const Action& action : verdict.actions)
    if (deciding == nullptr || action.severity > deciding->severity) deciding = &action;
  return deciding != nullptr && !deciding->op_class.empty() ? std::string_view(deciding->op_class)
                                                            : "none";
}

bool AnyDestructive(const Verdict& verdict) {
  for (const Action& action : verdict.actions)
    if (IsDestructive(action)) return true;
  return false;
}

DecisionReporter::DecisionReporter(Client client, ReporterOptions options)
    : client_(std::move(client)), options_(std::move(options)), sender_(NewSenderId()) {
  thread_ = std::thread([this] { Run(); });
}

DecisionReporter::~DecisionReporter() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

bool DecisionReporter::ReportLocal(const ActionText& action, const Verdict& verdict,
                                   Decision decision, bool forwarded, std::int64_t added_us,
                                   std::string_view reason) {
  DecisionView d;
  d.channel = action.channel;
  d.input = action.input;
  d.cwd = action.cwd;
  d.agent = action.agent;
  d.decision = decision;
  d.op_class = DecidingClass(verdict);
  d.reason = reason;
  d.forwarded = forwarded;
  d.added_us = added_us;
  const bool destructive = forwarded && AnyDestructive(verdict);
  return Report(d, destructive) || !destructive;
}

bool DecisionReporter::Report(const DecisionView& decision, bool destructive) {
  const std::int64_t time_ms = decision.time_ms != 0 ? decision.time_ms : NowMs();
  std::unique_lock lock(mutex_);
  const bool full = queue_.size() >= options_.max_queue;
  if (full || (destructive && !link_up_.load(std::memory_order_relaxed))) {
    if (full) {
      // Not delivered, ever: counted, and the count recorded later.
      if (gap_.lost == 0) gap_.from_ms = time_ms;
      gap_.to_ms = time_ms;
      ++gap_.lost;
      if (destructive) {
        ++gap_.lost_destructive;
        ++lost_destructive_;
      }
      gap_.reason =
          "the audit queue (" + std::to_string(options_.max_queue) + " decisions) was full" +
          (link_up_ ? std::string() : "; the daemon was unreachable: " + stats_.last_error);
      ++stats_.lost;
    }
    return false;
  }
  DecisionView timed = decision;
  timed.time_ms = time_ms;
  queue_.Push(timed);
  ++stats_.reported;
  // The sending thread is woken once, as the queue reaches a full batch:
  // past that it finds more than a batch when it looks (it takes a batch
  // at a time, and looks again at once while the link is up). Waking it at
  // every decision past a batch cost a futex call and a context switch
  // per statement whenever the daemon was away (the queue stays full then,
  // and the thread only goes back to its backoff).
  const bool wake = queue_.size() == options_.max_batch && link_up_.load(std::memory_order_relaxed);
  lock.unlock();
  if (wake) wake_.notify_one();
  return true;
}

bool DecisionReporter::Flush(int timeout_ms) {
  std::unique_lock lock(mutex_);
  wake_.notify_one();
  return drained_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                           [this] { return queue_.empty() && gap_.lost == 0; });
}

DecisionReporter::Stats DecisionReporter::stats() const {
  std::lock_guard lock(mutex_);
  Stats s = stats_;
  s.queued = queue_.size();
  s.link_up = link_up_;
  return s;
}

bool DecisionReporter::SendBatch() {
  ReportRequest request;
  request.source = options_.source;
  request.sender = sender_;
  if (!link_up_) {
    // Away: an empty report asks whether the daemon is back before a batch
    // (up to max_batch decisions) is encoded for it.
    Result<nlohmann::json> answer = connection_.Call(ToJson(request));
    if (!answer.ok()) {
      std::lock_guard lock(mutex_);
      stats_.last_error = answer.status().message();
      return false;
    }
  }
  // The batch is copied from the queue's front under the lock (one copy of
  // packed bytes: Report(), on the request path, waits no longer than
  // that), and sent after it.
  std::size_t count = 0;
  {
    std::lock_guard lock(mutex_);
    // The queue's front is decision number `delivered` of this sender's.
    request.first = stats_.delivered;
    count = queue_.Front(options_.max_batch, options_.max_batch_bytes, &batch_);
    if (gap_.lost > 0) {
      request.gaps.push_back(gap_);
      request.gaps.back().first_lost = stats_.lost - gap_.lost;
      request.gaps.back().first_lost_destructive = lost_destructive_ - gap_.lost_destructive;
    }
  }
  // Nothing to send: while the daemon is away, an empty report asks
  // whether it is back.
  if (count == 0 && request.gaps.empty() && link_up_) return true;
  const bool legacy = legacy_;
  if (legacy) {
    // A daemon from before "packed" reads decision objects.
    std::string_view rest = batch_;
    PackedDecision read;
    for (std::size_t i = 0; i < count; ++i) {
      if (Status s = NextPacked(&rest, &read); !s.ok()) break;  // not reached: we packed it
      request.decisions.push_back(OwnedOf(read));
    }
    count = request.decisions.size();
  }
  Result<nlohmann::json> answer =
      legacy ? connection_.Call(ToJson(request))
             : connection_.CallLine(PackedReportLine(request, batch_, count));
  ReportReply reply;
  Status status = answer.ok() ? FromJson(*answer, &reply) : answer.status();
  std::size_t taken = std::min<std::size_t>(reply.recorded, count);
  bool gap_recorded = reply.recorded == count + request.gaps.size();
  if (status.ok() && !legacy && !reply.packed) {
    // A daemon from before "packed": it recorded the gap alone, if any.
    // The decisions go again, as "decisions".
    taken = 0;
    gap_recorded = reply.recorded == request.gaps.size();
    legacy_ = true;
  } else if (status.ok() && reply.recorded < count + request.gaps.size()) {
    status = Status::IOError("the daemon recorded " + std::to_string(reply.recorded) + " of " +
                             std::to_string(count + request.gaps.size()) +
                             " (its audit log cannot be written)");
  }
  std::lock_guard lock(mutex_);
  // What the daemon recorded leaves the queue (decisions first, then the gap).
  queue_.Pop(taken);
  stats_.delivered += taken;
  if (!request.gaps.empty() && status.ok() && gap_recorded) {
    // Lost after the batch was taken stay for the next gap record.
    gap_.lost -= request.gaps[0].lost;
    gap_.lost_destructive -= request.gaps[0].lost_destructive;
    if (gap_.lost == 0)
      gap_ = ReportGap{};
    else
      gap_.from_ms = request.gaps[0].to_ms;
    ++stats_.gaps_sent;
  }
  if (!status.ok()) stats_.last_error = status.message();
  link_up_ = status.ok();
  if (queue_.empty() && gap_.lost == 0) drained_.notify_all();
  return status.ok();
}

void DecisionReporter::Run() {
  // Off the request path: the caller answered before the decision was queued.
  base::LowerThisThreadPriority(base::kOffPathNiceSteps);
  int backoff_ms = options_.flush_ms;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      // A full batch goes at once, unless the daemon is away: then only the
      // backoff (a full queue must not make this thread spin).
      wake_.wait_for(lock, std::chrono::milliseconds(backoff_ms),
                     [this] { return stop_ || (queue_.size() >= options_.max_batch && link_up_); });
      if (stop_ && queue_.empty() && gap_.lost == 0) return;
    }
    bool stopping;
    {
      std::lock_guard lock(mutex_);
      stopping = stop_;
    }
    const bool sent = SendBatch();
    if (stopping && !sent) return;  // the daemon is away: nothing more to do at exit
    // Away: try again less often (at most once a second), and say so once.
    backoff_ms = sent ? options_.flush_ms : std::min(1000, backoff_ms * 2);
  }
}

}  // namespace dualkey::client
