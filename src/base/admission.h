// Connection limits for a listener: at most `total` open connections, at
// most `per_address` from one client address. A connection is idle while it
// waits for a request (or has not finished sending one's header) and busy
// while one is served. At a limit, the connection idle the longest in the
// limit's scope is closed to make room, as nginx drains kept-alive
// connections: a flood of sockets that send nothing, or send it slowly,
// never keeps a working client out. When every connection in scope is busy,
// the newcomer is refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace dualkey::base {

class Admission {
 public:
  struct Limits {
    std::size_t total = 1000;
    std::size_t per_address = 500;
  };

  // One admitted connection. Destroying it frees the slot.
  class Slot {
   public:
    ~Slot();
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    // Idle: may be closed to make room. Connections start idle.
    void SetIdle(bool idle);
    const std::string& address() const { return address_; }

   private:
    friend class Admission;
    Slot(Admission* owner, std::uint64_t id, std::string address)
        : owner_(owner), id_(id), address_(std::move(address)) {}
    Admission* owner_;
    std::uint64_t id_;
    std::string address_;
  };

  explicit Admission(Limits limits) : limits_(limits) {}
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

  // Admits a connection from `address`. `close` ends it when it must make
  // room; it is called without the lock held, from whichever thread admits
  // the newcomer, and must be safe to call after the connection ended. Null
  // with `refusal` set when every connection in the way is busy.
  std::unique_ptr<Slot> Admit(const std::string& address, std::function<void()> close,
                              std::string* refusal);

  // Closes the connection idle the longest (out of descriptors: a new one
  // needs one). False when none is idle.
  bool EvictOldestIdle();

  std::size_t open() const;
  // The most connections open at once since the last call (then starts over
  // from the number open now): what a memory trimmer compares with.
  std::size_t TakePeak();
  const Limits& limits() const { return limits_; }

 private:
  struct Entry {
    std::string address;
    std::function<void()> close;
    bool idle = true;
    std::uint64_t idle_since = 0;  // a sequence number: smaller is longer ago
  };
  // Removes the longest-idle entry (of `address`, or any when empty) and
  // returns its close function; empty when none is idle. Under mutex_.
  std::function<void()> TakeOldestIdle(const std::string& address);
  void Release(std::uint64_t id);
  void SetIdle(std::uint64_t id, bool idle);

  Limits limits_;
  mutable std::mutex mutex_;
  std::uint64_t next_id_ = 1;
  std::uint64_t clock_ = 0;
  std::map<std::uint64_t, Entry> entries_;
  std::unordered_map<std::string, std::size_t> by_address_;
  std::size_t peak_ = 0;
};

}  // namespace dualkey::base
