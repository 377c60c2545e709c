#include "base/status.h"

namespace dualkey {

std::string_view ToString(Status::Code code) {
  switch (code) {
    case Status::Code::kOk:
      return "ok";
    case Status::Code::kNotFound:
      return "not found";
    case Status::Code::kInvalidArgument:
      return "invalid argument";
    case Status::Code::kPermissionDenied:
      return "permission denied";
    case Status::Code::kFailedPrecondition:
      return "failed precondition";
    case Status::Code::kResourceExhausted:
      return "resource exhausted";
    case Status::Code::kUnavailable:
      return "unavailable";
    case Status::Code::kIOError:
      return "I/O error";
    case Status::Code::kCorruption:
      return "corruption";
    case Status::Code::kInternal:
      return "internal error";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out(dualkey::ToString(code_));
  if (!message_.empty()) out += ": " + message_;
  return out;
}

}  // namespace dualkey
