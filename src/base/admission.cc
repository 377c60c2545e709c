#include "base/admission.h"

#include <algorithm>
#include <vector>

namespace dualkey::base {

Admission::Slot::~Slot() {
  owner_->Release(id_);
}

void Admission::Slot::SetIdle(bool idle) {
  owner_->SetIdle(id_, idle);
}

std::function<void()> Admission::TakeOldestIdle(const std::string& address) {
  auto oldest = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (!it->second.idle || (!address.empty() && it->second.address != address)) continue;
    if (oldest == entries_.end() || it->second.idle_since < oldest->second.idle_since) oldest = it;
  }
  if (oldest == entries_.end()) return {};
  std::function<void()> close = std::move(oldest->second.close);
  auto count = by_address_.find(oldest->second.address);
  if (count != by_address_.end() && --count->second == 0) by_address_.erase(count);
  entries_.erase(oldest);  // its Slot's release later finds nothing
  return close;
}

std::unique_ptr<Admission::Slot> Admission::Admit(const std::string& address,
                                                  std::function<void()> close,
                                                  std::string* refusal) {
  std::vector<std::function<void()>> to_close;
  std::unique_ptr<Slot> slot;
  {
    std::lock_guard lock(mutex_);
    bool refused = false;
    while (!refused && by_address_.count(address) && by_address_[address] >= limits_.per_address) {
      std::function<void()> victim = TakeOldestIdle(address);
      if (victim) {
        to_close.push_back(std::move(victim));
      } else {
        refused = true;
        *refusal = std::to_string(limits_.per_address) + " connections from " + address +
                   " are busy (the per-client limit)";
      }
    }
    while (!refused && entries_.size() >= limits_.total) {
      std::function<void()> victim = TakeOldestIdle("");
      if (victim) {
        to_close.push_back(std::move(victim));
      } else {
        refused = true;
        *refusal = std::to_string(limits_.total) + " connections are busy (the connection limit)";
      }
    }
    if (!refused) {
      const std::uint64_t id = next_id_++;
      entries_[id] = Entry{address, std::move(close), true, clock_++};
      ++by_address_[address];
      peak_ = std::max(peak_, entries_.size());
      slot.reset(new Slot(this, id, address));
    }
  }
  for (auto& victim : to_close)
    if (victim) victim();
  return slot;
}

bool Admission::EvictOldestIdle() {
  std::function<void()> victim;
  {
    std::lock_guard lock(mutex_);
    victim = TakeOldestIdle("");
  }
  if (!victim) return false;
  victim();
  return true;
}

std::size_t Admission::open() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::size_t Admission::TakePeak() {
  std::lock_guard lock(mutex_);
  const std::size_t peak = std::max(peak_, entries_.size());
  peak_ = entries_.size();
  return peak;
}

void Admission::Release(std::uint64_t id) {
  std::function<void()> dropped;  // destroyed outside the lock
  std::lock_guard lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;  // evicted: already released
  dropped = std::move(it->second.close);
  auto count = by_address_.find(it->second.address);
  if (count != by_address_.end() && --count->second == 0) by_address_.erase(count);
  entries_.erase(it);
}

void Admission::SetIdle(std::uint64_t id, bool idle) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.idle == idle) return;
  it->second.idle = idle;
  if (idle) it->second.idle_since = clock_++;
}

}  // namespace dualkey::base
