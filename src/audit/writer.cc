// The audit log's writer: see writer.h. The format of what it writes is in
// format.h and docs/audit-format.md.
//
// Durability: Append builds its line under the log's mutex (that is where the
// chain is extended), queues it, and waits until a leader has written it and
// fdatasync'ed. Whoever finds no leader active becomes the leader: it takes
// the whole queue, writes it with one write() on the O_APPEND descriptor and
// syncs once, so concurrent appenders share one sync (group commit). A failed
// write is cut off again and fails the records that went with it; a failed
// sync breaks the log: every later Append fails (fail closed), since the
// file's tail is then unknown.
#include "audit/internal/writer.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "audit/internal/file_io.h"

namespace dualkey::audit::internal {
namespace {

class FileLog final : public LogWriter {
 public:
  FileLog(int fd, const SecretKey& sk, const PublicKeyBytes& pk, int checkpoint_every)
      : fd_(fd),
        sk_(sk),
        mac_key_(DeriveMacKey(sk)),
        public_key_hex_(Hex(pk.data(), pk.size())),
        checkpoint_every_(checkpoint_every > 0 ? checkpoint_every : 1000) {}

  ~FileLog() override {
    {
      std::unique_lock lock(mu_);
      stopping_ = true;
    }
    flush_cv_.notify_all();
    if (flusher_.joinable()) flusher_.join();
    if (ready_) Close().ok();  // nothing to tell: the process is going away
    ::close(fd_);              // releases the flock
    sodium_memzero(sk_.data(), sk_.size());
    sodium_memzero(mac_key_.data(), mac_key_.size());
  }

  void Resume(const Head& head, const CheckpointInfo& durable_checkpoint) override {
    head_ = written_head_ = head;
    durable_checkpoint_ = written_checkpoint_ = queued_checkpoint_ = durable_checkpoint;
  }
  void SetReady() override { ready_ = true; }
  void Rebase(std::uint64_t seq, const std::string& hash) override {
    head_.seq = written_head_.seq = seq;
    head_.hash = written_head_.hash = hash;
    head_.since_checkpoint = written_head_.since_checkpoint = 1;
  }

  Result<std::uint64_t> AppendInternal(const std::string& kind, const Json& fields) override {
    return Append(Record{kind, DumpCanonical(fields)}, Durability::kSynced);
  }

  Status WriteCheckpoint(std::string_view event, CheckpointInfo* written) override {
    std::unique_lock lock(mu_);
    if (Status usable = Usable(); !usable.ok()) return usable;
    if (event.empty() && head_.since_checkpoint == 0 && queued_checkpoint_.seq == head_.seq &&
        !queued_checkpoint_.hash.empty()) {
      // One follows the last entry already; wait for it to be durable.
      const std::uint64_t target = queued_checkpoint_end_;
      if (Status durable = WaitDurable(lock, target, epoch_); !durable.ok()) return durable;
      if (written) *written = durable_checkpoint_;
      return Status::Ok();
    }
    QueueCheckpoint(event);
    const std::uint64_t target = queued_pos_;
    if (Status durable = WaitDurable(lock, target, epoch_); !durable.ok()) return durable;
    if (written) *written = durable_checkpoint_;
    return Status::Ok();
  }

  Result<std::uint64_t> Append(const Record& record, Durability durability) override {
    // Everything that does not depend on the chain is done before the lock.
    Prepared prepared;
    if (Status ok = Prepare(record, &prepared); !ok.ok()) return ok;
    std::unique_lock lock(mu_);
    if (Status usable = Usable(); !usable.ok()) return usable;
    Result<std::uint64_t> seq = QueueEntry(prepared);
    if (!seq.ok()) return seq;
    if (Status done = Wait(lock, queued_pos_, epoch_, durability); !done.ok()) return done;
    return seq;
  }

  Status AppendAll(const std::vector<Record>& records, std::size_t* appended,
                   Durability durability) override {
    std::size_t scratch = 0;
    if (appended == nullptr) appended = &scratch;
    *appended = 0;
    std::vector<Prepared> prepared(records.size());
    std::size_t ready = 0;
    Status failed;
    while (ready < records.size() && (failed = Prepare(records[ready], &prepared[ready])).ok())
      ++ready;
    if (ready == 0) return failed;
    std::vector<std::uint64_t> ends;  // where each record's line ends in the file
    ends.reserve(ready);
    std::unique_lock lock(mu_);
    if (Status usable = Usable(); !usable.ok()) return usable;
    for (std::size_t i = 0; i < ready; ++i) {
      Result<std::uint64_t> seq = QueueEntry(prepared[i]);
      if (!seq.ok()) {
        failed = seq.status();
        break;
      }
      ends.push_back(queued_pos_);
    }
    if (ends.empty()) return failed;
    const std::uint64_t epoch = epoch_;
    Status done = Wait(lock, ends.back(), epoch, durability);
    if (done.ok()) {
      *appended = ends.size();
      return failed;  // OK unless a record could not be queued
    }
    // The write failed: the records before the failed batch are kept.
    const std::uint64_t reached = durability == Durability::kWritten ? written_pos_ : durable_pos_;
    std::size_t kept = 0;
    while (kept < ends.size() && ends[kept] <= reached && Lost(epoch, ends[kept]).ok()) ++kept;
    *appended = kept;
    return done;
  }

  Status Checkpoint() override { return WriteCheckpoint("", nullptr); }

  Status Close() override {
    std::unique_lock lock(mu_);
    if (closed_) return Status::Ok();
    if (!broken_.empty()) return Status::IOError(broken_);
    // From here on appends fail: nothing of ours may follow the close seal.
    closed_ = true;
    QueueCheckpoint("close");
    return WaitDurable(lock, queued_pos_, epoch_);
  }

  CheckpointInfo LastCheckpoint() const override {
    std::unique_lock lock(mu_);
    return durable_checkpoint_;
  }

  std::string PublicKey() const override { return public_key_hex_; }

 private:
  // A record's parts that do not depend on the chain, made before the lock.
  // `fields` may point into the record: a Prepared lives no longer than the
  // call that was given the record, and does not move (a long record's text
  // is copied once, into the line written).
  struct Prepared {
    Prepared() = default;
    Prepared(const Prepared&) = delete;
    Prepared& operator=(const Prepared&) = delete;
    std::string kind_json;
    std::string_view fields;   // canonical: the record's own text, or fields_owned
    std::string fields_owned;  // made canonical here
  };
  static Status Prepare(const Record& record, Prepared* out) {
    out->kind_json = DumpCanonical(Json(record.kind));
    if (record.canonical && record.fields.size() >= 2 && record.fields.front() == '{' &&
        record.fields.back() == '}') {
      out->fields = record.fields;
      return Status::Ok();
    }
    Json fields = record.fields.empty()
                      ? Json::object()
                      : Json::parse(record.fields, nullptr, /*allow_exceptions=*/false);
    if (fields.is_discarded() || !fields.is_object()) {
      return Status::InvalidArgument("audit record fields are not a JSON object");
    }
    out->fields_owned = DumpCanonical(fields);
    out->fields = out->fields_owned;
    return Status::Ok();
  }

  // Under mu_: chains `prepared` onto the head and queues its line (and a
  // checkpoint when one is due). Returns its seq.
  Result<std::uint64_t> QueueEntry(const Prepared& prepared) {
    const std::uint64_t seq = head_.seq + 1;
    // Never backwards, so that export --since sees a time-ordered file even
    // when the wall clock steps back.
    const std::int64_t time_ms = std::max(NowMs(), head_.time_ms);
    std::string hash = sha_.ChainHash(
        head_.hash,
        {kCanonicalHead, prepared.fields, CanonicalAfterFields(prepared.kind_json, seq, time_ms)});
    if (hash.empty()) return Status::Internal("audit log: SHA-256 failed");
    const std::size_t before = pending_.size();
    AppendEntryLine(&pending_, seq, time_ms, prepared.kind_json, prepared.fields, head_.hash, hash,
                    EntryMac(hash, mac_key_));
    queued_pos_ += pending_.size() - before;
    head_.seq = seq;
    head_.time_ms = time_ms;
    head_.hash = std::move(hash);
    if (++head_.since_checkpoint >= static_cast<std::uint64_t>(checkpoint_every_))
      QueueCheckpoint("");
    return seq;
  }

  // Under mu_: until what was queued up to `target` is written or synced.
  Status Wait(std::unique_lock<std::mutex>& lock, std::uint64_t target, std::uint64_t epoch,
              Durability durability) {
    if (durability == Durability::kWritten) {
      if (Status written = WaitWritten(lock, target, epoch); !written.ok()) return written;
      // The flusher wakes on its own every 100 ms: waking it per append
      // would cost a context switch and an fsync per harmless command.
      if (!flusher_.joinable()) flusher_ = std::thread([this] { FlushLoop(); });
      return Status::Ok();
    }
    return WaitDurable(lock, target, epoch);
  }

  // Under mu_: whether appends are accepted now, and why not.
  Status Usable() {
    if (closed_) return Status::FailedPrecondition("the audit log is closed");
    if (!broken_.empty()) return Status::IOError(broken_);
    if (std::chrono::steady_clock::now() < retry_at_) {
      // A write just failed (a full disk): fail at once rather than have
      // every request try, and try again shortly.
      return Status::Unavailable(failure_);
    }
    return Status::Ok();
  }

  void Queue(std::string line) {
    queued_pos_ += line.size();
    pending_ += line;
  }

  void QueueCheckpoint(std::string_view event) {
    CheckpointInfo info;
    info.seq = head_.seq;
    info.hash = head_.hash;
    info.event = std::string(event);
    info.time_ms = NowMs();
    Queue(CheckpointLine(head_.seq, head_.hash, event, sk_, &info.sig));
    queued_checkpoint_ = std::move(info);
    queued_checkpoint_end_ = queued_pos_;
    head_.since_checkpoint = 0;
  }

  bool Sync(std::string* error) {
    while (::fdatasync(fd_) != 0) {
      if (errno == EINTR) continue;
      *error = Errno("audit log fdatasync failed") +
               " (the kernel may have dropped written records: the log refuses appends until "
               "the daemon restarts and checks it)";
      return false;
    }
    return true;
  }

  // A waiter whose line was queued in `epoch`: the failure when a failed
  // write since then took its line away, OK when it did not.
  Status Lost(std::uint64_t epoch, std::uint64_t target) const {
    if (epoch == epoch_) return Status::Ok();
    auto kept = rollback_pos_.find(epoch);
    if (kept != rollback_pos_.end() && target <= kept->second) return Status::Ok();
    return Status::IOError(failure_);
  }

  // The leader's write failed: cut off what reached the file and drop every
  // queued line (they chain onto the lost ones); the chain goes on from the
  // last written entry. Waiters of the lost lines fail.
  void RollBack(std::size_t partial, const std::string& failure) {
    if (partial > 0) {
      const off_t end = ::lseek(fd_, 0, SEEK_END);
      if (end < 0 || ::ftruncate(fd_, end - static_cast<off_t>(partial)) != 0) {
        broken_ = failure + "; and the partial write could not be cut off (" +
                  std::strerror(errno) + "): the log refuses appends until the daemon restarts";
      }
    }
    failure_ = failure + "; nothing of this record was kept";
    rollback_pos_[epoch_] = written_pos_;
    if (rollback_pos_.size() > 4096) rollback_pos_.erase(rollback_pos_.begin());
    ++epoch_;
    head_ = written_head_;
    queued_pos_ = written_pos_;
    queued_checkpoint_ = written_checkpoint_;
    pending_.clear();
    retry_at_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  }

  // Group commit: the first waiter with no leader active writes everything
  // queued so far and syncs once; the others wait for it. Batches are
  // numbered and their waiters sleep on the condition variable of their
  // batch's parity, so a finished sync wakes only its own appenders and one
  // appender of the next batch to lead it, not every waiting thread.
  Status WaitDurable(std::unique_lock<std::mutex>& lock, std::uint64_t target,
                     std::uint64_t epoch) {
    const std::uint64_t my_batch = next_batch_;  // the batch the queued line will go out in
    while (true) {
      if (Status lost = Lost(epoch, target); !lost.ok()) return lost;
      if (durable_pos_ >= target) return Status::Ok();
      if (!broken_.empty()) return Status::IOError(broken_);
      if (leader_active_) {
        batch_cv_[my_batch % 2].wait(lock);
        continue;
      }
      leader_active_ = true;
      GatherFollowers(lock);
      const std::uint64_t batch_no = next_batch_++;
      batch_.swap(pending_);
      const std::uint64_t batch_end = queued_pos_;
      const Head batch_head = head_;
      const CheckpointInfo batch_checkpoint = queued_checkpoint_;
      const std::uint64_t batch_entries = head_.seq - written_head_.seq;
      lock.unlock();
      auto sync_start = std::chrono::steady_clock::now();
      std::string failure;
      std::size_t partial = 0;
      const bool written = WriteAll(fd_, batch_, &failure, &partial);
      const bool ok = written && Sync(&failure);
      auto sync_time = std::chrono::steady_clock::now() - sync_start;
      batch_.clear();
      lock.lock();
      leader_active_ = false;
      last_batch_entries_ = batch_entries;
      sync_ewma_ =
          (sync_ewma_ * 7 + std::chrono::duration_cast<std::chrono::microseconds>(sync_time)) / 8;
      if (ok) {
        durable_pos_ = written_pos_ = batch_end;
        written_head_ = batch_head;
        durable_checkpoint_ = written_checkpoint_ = batch_checkpoint;
      } else if (!written) {
        RollBack(partial, failure);
      } else {
        // Written but not synced: the kernel may drop pages after a failed
        // fdatasync, so the file's tail is unknown. Refuse from here on.
        broken_ = failure;
      }
      batch_cv_[batch_no % 2].notify_all();
      if (ok)
        batch_cv_[(batch_no + 1) % 2].notify_one();
      else
        batch_cv_[(batch_no + 1) % 2].notify_all();
    }
  }

  // Like WaitDurable without the sync: the first waiter with no leader
  // active writes everything queued. The page cache outlives the process, so
  // a written record survives kill -9; FlushLoop syncs it soon after.
  Status WaitWritten(std::unique_lock<std::mutex>& lock, std::uint64_t target,
                     std::uint64_t epoch) {
    while (true) {
      if (Status lost = Lost(epoch, target); !lost.ok()) return lost;
      if (written_pos_ >= target) return Status::Ok();
      if (!broken_.empty()) return Status::IOError(broken_);
      if (leader_active_) {
        // A sync leader wakes only one waiter of the next batch; a short
        // timed wait keeps write-only appenders from depending on that.
        batch_cv_[next_batch_ % 2].wait_for(lock, std::chrono::microseconds(200));
        continue;
      }
      leader_active_ = true;
      const std::uint64_t batch_no = next_batch_++;
      batch_.swap(pending_);
      const std::uint64_t batch_end = queued_pos_;
      const Head batch_head = head_;
      const CheckpointInfo batch_checkpoint = queued_checkpoint_;
      lock.unlock();
      std::string failure;
      std::size_t partial = 0;
      const bool ok = WriteAll(fd_, batch_, &failure, &partial);
      batch_.clear();
      lock.lock();
      leader_active_ = false;
      if (ok) {
        written_pos_ = batch_end;
        written_head_ = batch_head;
        written_checkpoint_ = batch_checkpoint;
      } else {
        RollBack(partial, failure);
      }
      batch_cv_[batch_no % 2].notify_all();
      batch_cv_[(batch_no + 1) % 2].notify_all();
    }
  }

  // Syncs written records within 100 ms of their append.
  void FlushLoop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      flush_cv_.wait_for(lock, std::chrono::milliseconds(100));
      if (written_pos_ <= durable_pos_ || leader_active_ || !broken_.empty()) continue;
      // An empty batch: WaitDurable writes what is queued and syncs. A
      // failure is the appenders' to report.
      WaitDurable(lock, written_pos_, epoch_).ok();
    }
  }

  // When the last batch had company, the appenders it released are about to
  // come back: a leader that synced at once would take only the first of
  // them and make the rest wait a whole extra sync. So while appends keep
  // arriving, wait a little (at most half a sync) before taking the batch. A
  // lone appender never waits.
  void GatherFollowers(std::unique_lock<std::mutex>& lock) {
    if (last_batch_entries_ <= 1) return;
    constexpr auto kStep = std::chrono::microseconds(50);
    auto deadline =
        std::chrono::steady_clock::now() +
        std::min<std::chrono::microseconds>(sync_ewma_ / 2, std::chrono::milliseconds(2));
    std::uint64_t seen = head_.seq;
    while (std::chrono::steady_clock::now() < deadline) {
      gather_cv_.wait_for(lock, kStep);
      if (head_.seq == seen) break;  // nobody joined during a step: go
      seen = head_.seq;
    }
  }

  const int fd_;
  SecretKey sk_;
  MacKey mac_key_;
  const std::string public_key_hex_;
  const int checkpoint_every_;

  mutable std::mutex mu_;
  std::condition_variable batch_cv_[2];  // waiters of even / odd batches
  std::condition_variable gather_cv_;    // never notified: the leader's timed pause
  std::uint64_t next_batch_ = 0;         // number of the batch pending_ will go out in
  Sha256 sha_;                           // guarded by mu_
  // Positions count the bytes queued since the log was opened: a waiter
  // waits for its line's end to be written or durable.
  Head head_;                     // the chain as queued
  Head written_head_;             // the chain as written to the file
  std::uint64_t queued_pos_ = 0;  // end of everything queued
  std::uint64_t written_pos_ = 0;
  std::uint64_t durable_pos_ = 0;
  CheckpointInfo queued_checkpoint_, written_checkpoint_, durable_checkpoint_;
  std::uint64_t queued_checkpoint_end_ = 0;
  // A failed write rolls the queue back: lines queued in an older epoch
  // survived only up to the position it kept.
  std::uint64_t epoch_ = 0;
  std::map<std::uint64_t, std::uint64_t> rollback_pos_;
  std::string failure_;  // why the last write failed
  std::chrono::steady_clock::time_point retry_at_{};
  std::condition_variable flush_cv_;
  std::thread flusher_;  // started by the first kWritten append
  bool stopping_ = false;
  bool closed_ = false;
  bool ready_ = false;   // Open finished: the destructor seals with a close checkpoint
  std::string pending_;  // lines queued, not yet written
  std::string batch_;    // the leader's buffer (only the leader touches it)
  bool leader_active_ = false;
  std::uint64_t last_batch_entries_ = 0;       // entries the last leader synced
  std::chrono::microseconds sync_ewma_{1000};  // how long write + sync takes here
  std::string broken_;                         // set after a failed sync: the log refuses appends
};

}  // namespace

std::unique_ptr<LogWriter> LogWriter::Create(int fd, const SecretKey& sk, const PublicKeyBytes& pk,
                                             int checkpoint_every) {
  return std::make_unique<FileLog>(fd, sk, pk, checkpoint_every);
}

}  // namespace dualkey::audit::internal
