// The wire protocol's codec helpers, shared by protocol.cc (requests, errors,
// lines) and replies.cc: base64 for bytes that are not UTF-8, a field
// reader whose first problem wins, and the status names on the wire.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/encoding.h"
#include "base/status.h"
#include "client/protocol.h"

namespace dualkey::client::internal {

using nlohmann::json;

using base::Base64;
using base::Unbase64;

// Reads fields of one object; the first problem wins. Requests fail with
// kInvalidArgument, replies with kCorruption (the peer, not the caller, is
// at fault).
class Reader {
 public:
  Reader(const json& j, Status::Code code) : j_(j), code_(code) {
    if (!j_.is_object()) Fail("not a JSON object");
  }

  void Text(std::string_view key, std::string* out, bool required = false) {
    if (!status_.ok()) return;
    if (Status s = GetText(j_, key, out, required); !s.ok()) Fail(s.message());
  }
  void Bool(std::string_view key, bool* out) {
    const json* v = Find(key);
    if (v == nullptr) return;
    if (!v->is_boolean()) return Fail("\"" + std::string(key) + "\" must be true or false");
    *out = v->get<bool>();
  }
  template <typename Int>
  void Number(std::string_view key, Int* out) {
    const json* v = Find(key);
    if (v == nullptr) return;
    if (!v->is_number_integer()) return Fail("\"" + std::string(key) + "\" must be an integer");
    *out = v->get<Int>();
  }
  void Strings(std::string_view key, std::vector<std::string>* out) {
    const json* v = Find(key);
    if (v == nullptr) return;
    if (!v->is_array()) return Fail("\"" + std::string(key) + "\" must be a list of strings");
    out->clear();
    for (const json& item : *v) {
      if (!item.is_string()) return Fail("\"" + std::string(key) + "\" must be a list of strings");
      out->push_back(item.get<std::string>());
    }
  }
  void DecisionField(std::string_view key, std::optional<Decision>* out, bool required) {
    const json* v = Find(key);
    if (v == nullptr) {
      if (required) Fail("\"" + std::string(key) + "\" is missing");
      return;
    }
    Decision d;
    if (!v->is_string() || !ParseDecision(v->get_ref<const std::string&>(), &d))
      return Fail("\"" + std::string(key) + "\" is one of allow, hold, hold2, deny");
    *out = d;
  }
  void ChannelField(std::string_view key, Channel* out) {
    const json* v = Find(key);
    if (!status_.ok()) return;
    if (v == nullptr || !v->is_string() || !ParseChannel(v->get_ref<const std::string&>(), out))
      Fail("\"" + std::string(key) + "\" is one of shell, sql, http, mcp, file");
  }
  const json* Object(std::string_view key) {
    const json* v = Find(key);
    if (v != nullptr && !v->is_object()) {
      Fail("\"" + std::string(key) + "\" must be an object");
      return nullptr;
    }
    return v;
  }
  const json* Array(std::string_view key, bool required) {
    const json* v = Find(key);
    if (v == nullptr) {
      if (required) Fail("\"" + std::string(key) + "\" is missing");
      return nullptr;
    }
    if (!v->is_array()) {
      Fail("\"" + std::string(key) + "\" must be a list");
      return nullptr;
    }
    return v;
  }

  void Fail(std::string message) {
    if (!status_.ok()) return;
    status_ = code_ == Status::Code::kCorruption
                  ? Status::Corruption("the daemon's reply is malformed: " + message)
                  : Status::InvalidArgument(std::move(message));
  }
  const Status& status() const { return status_; }

 private:
  const json* Find(std::string_view key) {
    if (!status_.ok() || !j_.is_object()) return nullptr;
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  const json& j_;
  Status::Code code_;
  Status status_;
};

Reader RequestReader(const json& j);
json Op(std::string_view op);
void PutAction(json& j, const ActionRef& a);
void ReadAction(Reader& r, ActionRef* a, std::string_view op);
// Reply decoding starts here: {"ok": false} is the peer's error.
Status ReplyPrelude(const json& j);
json Ok();

inline constexpr std::pair<std::string_view, Status::Code> kCodeNames[] = {
    {"not_found", Status::Code::kNotFound},
    {"invalid_argument", Status::Code::kInvalidArgument},
    {"permission_denied", Status::Code::kPermissionDenied},
    {"failed_precondition", Status::Code::kFailedPrecondition},
    {"resource_exhausted", Status::Code::kResourceExhausted},
    {"unavailable", Status::Code::kUnavailable},
    {"io_error", Status::Code::kIOError},
    {"corruption", Status::Code::kCorruption},
    {"internal", Status::Code::kInternal},
};

Status MakeStatus(Status::Code code, std::string message);

}  // namespace dualkey::client::internal
