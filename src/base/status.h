// Errors as values at module boundaries, in the spirit of LevelDB's Status:
// a code callers branch on and a message for people. "No approval" is
// kNotFound, a store that failed is kUnavailable or kIOError: callers never
// compare message text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace dualkey {

class Status {
 public:
  enum class Code : std::uint8_t {
    kOk = 0,
    kNotFound,            // the thing asked for does not exist (not a failure of the store)
    kInvalidArgument,     // the caller's input is malformed
    kPermissionDenied,    // who asks may not do this (wrong peer, wrong code)
    kFailedPrecondition,  // the state does not allow it (expired, already used, frozen)
    kResourceExhausted,   // a limit was hit (rate, lockout, disk full, budget)
    kUnavailable,         // a peer or store cannot be reached; retrying may help
    kIOError,             // a read or write failed
    kCorruption,          // stored data does not verify
    kInternal,            // a bug: an invariant did not hold
  };

  Status() = default;  // OK
  static Status Ok() { return Status(); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status PermissionDenied(std::string msg) {
    return Status(Code::kPermissionDenied, std::move(msg));
  }
  static Status FailedPrecondition(std::string msg) {
    return Status(Code::kFailedPrecondition, std::move(msg));
  }
  static Status ResourceExhausted(std::string msg) {
    return Status(Code::kResourceExhausted, std::move(msg));
  }
  static Status Unavailable(std::string msg) { return Status(Code::kUnavailable, std::move(msg)); }
  static Status IOError(std::string msg) { return Status(Code::kIOError, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(Code::kInternal, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool Is(Code code) const { return code_ == code; }

  // "not found: no approval for this action"
  std::string ToString() const;

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

std::string_view ToString(Status::Code code);

// A value or the Status that explains its absence.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design
  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  std::optional<T> value_;
  Status status_ = Status::Internal("no value");
};

}  // namespace dualkey
