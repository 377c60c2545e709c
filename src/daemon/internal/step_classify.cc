// classify → raise to the caller's minimum (chain.h).
#include <cstdlib>

#include "base/json_text.h"
#include "client/reporter.h"
#include "daemon/internal/chain.h"
#include "guard/guard.h"

namespace dualkey::daemon::internal {

const std::string& Exchange::Hash() {
  if (!hash_)
    hash_ = approval::ActionHash(ToString(request.action.channel), request.action.input,
                                 request.action.cwd, agent);
  return *hash_;
}

policy::Policy Classifier::PolicyFor(const Peer& peer, const client::CheckRequest& request) const {
  if (!layout_.sandbox_dir.empty())
    return policy::Load(policy::SandboxSources(layout_.config_dir, request.action.cwd));
  if (layout_.protected_install) {
    // Loosening comes from root-owned files only: the system layer; the
    // caller's own user layer (found from its uid, not from anything it
    // sends) and the project's may only tighten.
    policy::Sources sources = policy::ProtectedSources(
        layout_.config_dir, peer.via == Peer::Via::kUnix ? peer.uid : static_cast<uid_t>(-1),
        request.action.cwd);
    if (const char* labels = std::getenv("DUALKEY_ENV")) sources.env_labels = labels;
    sources.system_file = system_policy_.Current();
    return policy::Load(sources);
  }
  policy::Sources sources = policy::SingleUserSources(request.action.cwd, request.home);
  sources.system_file = system_policy_.Current();
  return policy::Load(sources);
}

void Classifier::Classify(Exchange& x) const {
  const client::CheckRequest& request = x.request;
  guard::Request r;
  r.channel = request.action.channel;
  r.input = request.action.input;
  r.cwd = request.action.cwd;
  r.agent = request.action.agent;
  r.home = request.home;
  r.file_operation = request.file_operation;
  guard::Result checked = guard::Check(r, PolicyFor(x.peer, request));
  x.verdict = std::move(checked.verdict);
  x.commands = std::move(checked.commands);
  x.agent = request.action.agent.empty() ? "unknown" : request.action.agent;
}

void RaiseToMinimum(const client::CheckRequest& request, Verdict* verdict) {
  policy::Raise(verdict, request.min_decision, request.detail);
}

}  // namespace dualkey::daemon::internal
