#include "guard/guard.h"

#include "file/file.h"
#include "http/http.h"
#include "mcp/mcp.h"
#include "policy/policy.h"
#include "sql/sql.h"

namespace dualkey::guard {

Result Check(const Request& request) {
  return Check(request, policy::Load(policy::DefaultSources(request.cwd, request.home)));
}

Result Check(const Request& request, const policy::Policy& policy) {
  const policy::Subject subject{request.agent};
  Result result;
  switch (request.channel) {
    case Channel::kShell: {
      shell::Analysis analysis =
          shell::Analyze(request.input, {request.cwd, request.home, policy.packs.get()});
      result.commands = std::move(analysis.commands);
      result.parse_error = std::move(analysis.parse_error);
      result.verdict = policy::Decide(policy, std::move(analysis.actions), subject);
      break;
    }
    case Channel::kSql:
      result.verdict = policy::Decide(policy, sql::Classify(request.input), subject);
      break;
    case Channel::kFile:
      result.verdict = policy::Decide(
          policy,
          file::ClassifyFileWrite(request.input, request.file_operation, request.cwd, request.home),
          subject);
      break;
    case Channel::kHttp: {
      dualkey::Result<http::Request> http_request = http::ParseRequestJson(request.input);
      if (!http_request.ok()) {
        result.verdict = policy::FailClosed(http_request.status().message());
        result.verdict.observe_only =
            policy.mode == policy::Mode::kObserve && policy.errors.empty();
        break;
      }
      result.verdict = policy::Decide(policy, http::Classify(*http_request), subject);
      break;
    }
    case Channel::kMcp: {
      dualkey::Result<mcp::ToolCall> call = mcp::ParseToolCallJson(request.input);
      if (!call.ok()) {
        result.verdict =
            policy::FailClosed("the MCP tool call could not be read: " + call.status().message());
        result.verdict.observe_only =
            policy.mode == policy::Mode::kObserve && policy.errors.empty();
        break;
      }
      result.verdict = policy::Decide(
          policy, mcp::Classify(*call, {request.cwd, request.home, policy.packs.get()}), subject);
      break;
    }
  }
  return result;
}

}  // namespace dualkey::guard
