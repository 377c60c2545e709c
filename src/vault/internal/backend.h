// Where the vault's objects live. Everything the vault stores is a write-once
// object in one of a few namespaces (packs, index, snapshots, retention,
// config): created once, never overwritten, removed only by an approved prune.
// That is the model of S3 Object Lock in compliance mode too, so a second
// backend is a new file implementing this interface (see docs/vault.md).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dualkey::vault::internal {

// "what: strerror(errno)".
std::string Errno(const std::string& what);

enum class Space { kConfig, kPacks, kIndex, kSnapshots, kRetention };

class Backend {
 public:
  virtual ~Backend() = default;

  // Creates object `name` with `data`. Fails if it exists (never overwrites).
  // The object is durable once Sync(space) has returned.
  virtual bool Create(Space space, const std::string& name, std::string_view data,
                      std::string* error) = 0;
  // Like Create, but may return before the data is durable, so the caller can
  // go on working while the disk writes: the object exists (and is durable)
  // once Sync(space) has returned. Thread-compatible with Sync.
  virtual bool CreateLater(Space space, const std::string& name, std::string_view data,
                           std::string* error) = 0;
  // Makes every Create in `space` so far durable (directory fsync locally;
  // a no-op where Create is durable on return).
  virtual bool Sync(Space space, std::string* error) = 0;
  // Forgets every CreateLater not yet made durable by Sync: those objects
  // never appear (a put that failed takes back what it wrote).
  virtual void DiscardPending() = 0;

  virtual bool Read(Space space, const std::string& name, std::string* out,
                    std::string* error) const = 0;
  // Reads `length` bytes at `offset` into `out` (which must have room). Thread-safe.
  virtual bool ReadAt(Space space, const std::string& name, std::uint64_t offset,
                      std::uint64_t length, char* out, std::string* error) const = 0;
  virtual bool List(Space space, std::vector<std::string>* names, std::string* error) const = 0;
  virtual bool Size(Space space, const std::string& name, std::uint64_t* size,
                    std::string* error) const = 0;

  // Removal exists only for Prune, which checks retention and a human's
  // approval first; a compliance-mode object store refuses it by itself
  // before the object's retain-until date.
  virtual bool Remove(Space space, const std::string& name, std::string* error) = 0;

  // One writer at a time (puts, prune). Held until the returned handle dies.
  class Lock {
   public:
    virtual ~Lock() = default;
  };
  virtual std::unique_ptr<Lock> LockWriter(std::string* error) = 0;

  // Free-form location for messages.
  virtual std::string Describe() const = 0;
};

// The local directory backend: objects are files made read-only (0444) after
// they are written, created through a temp file, fsync and a rename that
// refuses to replace anything.
std::unique_ptr<Backend> OpenLocalBackend(const std::string& dir, bool create, std::string* error);

}  // namespace dualkey::vault::internal
