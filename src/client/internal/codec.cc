// The wire protocol's codec helpers: see codec.h.
#include "client/internal/codec.h"

namespace dualkey::client::internal {

Reader RequestReader(const json& j) {
  return Reader(j, Status::Code::kInvalidArgument);
}

json Op(std::string_view op) {
  return json{{"op", std::string(op)}};
}

void PutAction(json& j, const ActionRef& a) {
  j["channel"] = std::string(ToString(a.channel));
  PutText(j, "input", a.input);
  PutText(j, "cwd", a.cwd);
  PutText(j, "agent", a.agent);
}

void ReadAction(Reader& r, ActionRef* a, std::string_view op) {
  r.ChannelField("channel", &a->channel);
  if (!r.status().ok()) {
    r.Fail(std::string(op) + " needs a \"channel\" (shell, sql, http, mcp or file)");
    return;
  }
  r.Text("input", &a->input, /*required=*/true);
  r.Text("cwd", &a->cwd);
  r.Text("agent", &a->agent);
}

Status ReplyPrelude(const json& j) {
  return ReplyStatus(j);
}

json Ok() {
  return json{{"ok", true}};
}

Status MakeStatus(Status::Code code, std::string message) {
  switch (code) {
    case Status::Code::kOk:
      return Status::Ok();
    case Status::Code::kNotFound:
      return Status::NotFound(std::move(message));
    case Status::Code::kInvalidArgument:
      return Status::InvalidArgument(std::move(message));
    case Status::Code::kPermissionDenied:
      return Status::PermissionDenied(std::move(message));
    case Status::Code::kFailedPrecondition:
      return Status::FailedPrecondition(std::move(message));
    case Status::Code::kResourceExhausted:
      return Status::ResourceExhausted(std::move(message));
    case Status::Code::kUnavailable:
      return Status::Unavailable(std::move(message));
    case Status::Code::kIOError:
      return Status::IOError(std::move(message));
    case Status::Code::kCorruption:
      return Status::Corruption(std::move(message));
    case Status::Code::kInternal:
      return Status::Internal(std::move(message));
  }
  return Status::Internal(std::move(message));
}

}  // namespace dualkey::client::internal
