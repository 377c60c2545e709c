// Building blocks of the put pipeline (ingest.cc): a bounded queue between
// its stages, reused read arenas, and slots whose addresses stay put.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "vault/internal/format.h"

namespace dualkey::vault::internal {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity) {}
  // Blocks while full; false once closed.
  bool Push(T item, std::size_t weight = 1) {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock,
                   [&] { return closed_ || weight_ + weight <= capacity_ || items_.empty(); });
    if (closed_) return false;
    weight_ += weight;
    items_.emplace_back(std::move(item), weight);
    not_empty_.notify_one();
    return true;
  }
  // Blocks while empty; false once closed and drained.
  bool Pop(T* item) {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return false;
    *item = std::move(items_.front().first);
    weight_ -= items_.front().second;
    items_.pop_front();
    not_full_.notify_all();
    return true;
  }
  void Close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable not_empty_, not_full_;
  std::deque<std::pair<T, std::size_t>> items_;
  std::size_t weight_ = 0, capacity_;
  bool closed_ = false;
};

// Fixed-size buffers reused across the put: fresh large allocations would
// page-fault on every use. Get blocks when all are in flight (backpressure).
class ArenaPool {
 public:
  ArenaPool(std::size_t size, int count) : size_(size), left_(count) {}
  std::shared_ptr<std::uint8_t> Get() {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [&] { return !free_.empty() || left_ > 0; });
    std::uint8_t* buffer;
    if (!free_.empty()) {
      buffer = free_.back().release();
      free_.pop_back();
    } else {
      --left_;
      buffer = new std::uint8_t[size_];
    }
    return std::shared_ptr<std::uint8_t>(buffer, [this](std::uint8_t* b) {
      std::lock_guard lock(mutex_);
      free_.emplace_back(b);
      available_.notify_one();
    });
  }
  std::size_t size() const { return size_; }

 private:
  std::size_t size_;
  int left_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<std::uint8_t[]>> free_;
};

// Chunk ids land here; addresses stay put while the reader adds more.
class Slots {
 public:
  std::uint32_t Add() {
    if (count_ % kBlock == 0) blocks_.push_back(std::make_unique<ChunkId[]>(kBlock));
    return count_++;
  }
  ChunkId* At(std::uint32_t i) { return &blocks_[i / kBlock][i % kBlock]; }

 private:
  static constexpr std::uint32_t kBlock = 4096;
  std::vector<std::unique_ptr<ChunkId[]>> blocks_;
  std::uint32_t count_ = 0;
};

}  // namespace dualkey::vault::internal
