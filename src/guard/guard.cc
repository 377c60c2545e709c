#include "guard/guard.h"

#include "policy/policy.h"
#include "sql/sql.h"

namespace dualkey::guard {

Result Check(const Request& request) {
  Result result;
  switch (request.channel) {
    case Channel::kShell: {
      shell::Analysis analysis = shell::Analyze(request.input, {request.cwd, request.home});
      result.commands = std::move(analysis.commands);
      result.parse_error = std::move(analysis.parse_error);
      result.verdict = policy::Decide(std::move(analysis.actions));
      break;
    }
    case Channel::kSql:
      result.verdict = policy::Decide(sql::Classify(request.input));
      break;
    case Channel::kHttp:
    case Channel::kMcp:
    case Channel::kFile:
      result.verdict = policy::FailClosed("the " + std::string(ToString(request.channel)) +
                                          " channel is not understood yet, so it is held");
      break;
  }
  return result;
}

}  // namespace dualkey::guard
