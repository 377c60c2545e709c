#include "daemon/internal/decision.h"

#include <cstdlib>
#include <filesystem>

#include "audit/search.h"
#include "base/json_text.h"
#include "client/reporter.h"
#include "daemon/internal/hold_details.h"
#include "daemon/internal/protocol.h"
#include "guard/guard.h"

namespace dualkey::daemon::internal {
namespace {

using nlohmann::json;

bool IsRead(const Action& action) {
  return action.severity == Severity::kNone && !action.op_class.starts_with("opaque.");
}

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : " and ") + name;
  return out;
}

json ReplyFields(const json& action_fields, const CheckReply& reply) {
  json fields = ToJson(reply);
  fields.erase("ok");
  for (auto& [key, value] : action_fields.items()) fields[key] = value;
  return fields;
}

std::string FrozenReason(const std::string& agent) {
  return "the breaker froze agent '" + agent +
         "' after a burst of destructive attempts; a human must run `dualkey breaker reset " +
         agent + "` (see `dualkey breaker status`)";
}

// Whether the PostgreSQL proxy's fact or snapshot (allowed_by) may stand in
// for a human: only for SQL, only for a plain hold (never hold2 or deny, nor
// a hold the caller raised), a snapshot only where the policy said
// "snapshot", and only for what a catalog fact or a snapshot of rows can
// speak for: drops, and rows deleted, overwritten or truncated.
bool FactCanAllow(const CheckRequest& request, const Verdict& verdict) {
  const CheckRequest::AllowedBy& by = request.allowed_by;
  if (by.empty() || request.action.channel != Channel::kSql ||
      verdict.decision != Decision::kHold || verdict.observe_only)
    return false;
  if (by.fact.empty() && !verdict.snapshot) return false;
  for (const Action& action : verdict.actions) {
    if (!IsDestructive(action)) continue;
    const std::string& c = action.op_class;
    if (c != "db.drop" && !c.starts_with("db.drop.") && !policy::SnapshotCapable(c)) return false;
  }
  return true;
}

std::string AllowedReason(const CheckRequest& request, const Verdict& verdict) {
  const CheckRequest::AllowedBy& by = request.allowed_by;
  std::string reason = verdict.reason + "; allowed without a human:";
  if (!by.fact.empty()) reason += " it destroys nothing (" + by.fact + ")";
  if (!by.snapshot_id.empty() && verdict.snapshot)
    reason +=
        std::string(by.fact.empty() ? "" : ";") + " what it destroys is small (" +
        (by.measured.empty() ? std::string("within the policy's [snapshot] limits") : by.measured) +
        ") and was saved first as vault snapshot " + by.snapshot_id + " (dualkey vault restore " +
        by.snapshot_id + ")";
  return reason;
}

// The vault approved actions are saved to, as an absolute path (the
// audit records name it, for the restore command).
std::string VaultDir(const ServeOptions& o) {
  const std::string dir = o.vault_dir.empty() ? o.state_dir + "/vault" : o.vault_dir;
  std::error_code ignored;
  const std::filesystem::path absolute = std::filesystem::absolute(dir, ignored);
  return absolute.empty() ? dir : absolute.lexically_normal().string();
}

}  // namespace

DecisionPath::DecisionPath(Core& core, Breaker& breaker)
    : core_(core), breaker_(breaker), vault_dir_(VaultDir(core.options())) {
  // Requests that were pending before a restart are asked again, not anew.
  std::vector<approval::Request> pending;
  if (core_.store().Pending(Core::NowMs(), &pending).ok())
    for (const approval::Request& r : pending) pending_by_hash_[r.action_hash] = r.id;
}

json DecisionPath::ActionFields(const ActionRef& action, const std::string& agent) {
  json fields{{"channel", std::string(ToString(action.channel))}};
  PutText(fields, "agent", agent);
  PutText(fields, "input", action.input);
  PutText(fields, "cwd", action.cwd);
  return fields;
}

policy::Policy DecisionPath::PolicyFor(const Peer& peer, const CheckRequest& request) const {
  const install::Layout& layout = core_.layout();
  if (!layout.sandbox_dir.empty())
    return policy::Load(policy::SandboxSources(layout.config_dir, request.action.cwd));
  if (layout.protected_install) {
    // Loosening comes from root-owned files only: the system layer; the
    // caller's own user layer (found from its uid, not from anything it
    // sends) and the project's may only tighten.
    policy::Sources sources = policy::ProtectedSources(
        layout.config_dir, peer.via == Peer::Via::kUnix ? peer.uid : static_cast<uid_t>(-1),
        request.action.cwd);
    if (const char* labels = std::getenv("DUALKEY_ENV")) sources.env_labels = labels;
    sources.system_file = core_.system_policy().Current();
    return policy::Load(sources);
  }
  policy::Sources sources = policy::SingleUserSources(request.action.cwd, request.home);
  sources.system_file = core_.system_policy().Current();
  return policy::Load(sources);
}

DecisionPath::Classified DecisionPath::Classify(const Peer& peer,
                                                const CheckRequest& request) const {
  guard::Request r;
  r.channel = request.action.channel;
  r.input = request.action.input;
  r.cwd = request.action.cwd;
  r.agent = request.action.agent;
  r.home = request.home;
  r.file_operation = request.file_operation;
  Classified out;
  guard::Result checked = guard::Check(r, PolicyFor(peer, request));
  out.verdict = std::move(checked.verdict);
  out.commands = std::move(checked.commands);
  // A trusted component (the PostgreSQL proxy, the HTTP gateway) can know
  // more than the text shows, such as the rows a DELETE would touch: it may
  // raise the decision, never lower it, and say why for the human.
  policy::Raise(&out.verdict, request.min_decision, request.detail);
  out.agent = request.action.agent.empty() ? "unknown" : request.action.agent;
  return out;
}

std::string DecisionPath::Classified::Hash(const ActionRef& action) const {
  // Only what is not simply allowed needs it: kept off the allow path.
  return approval::ActionHash(ToString(action.channel), action.input, action.cwd, agent);
}

std::optional<approval::Request> DecisionPath::LivePending(const std::string& hash) {
  std::string id;
  {
    std::lock_guard lock(holds_mutex_);
    auto found = pending_by_hash_.find(hash);
    if (found == pending_by_hash_.end()) return std::nullopt;
    id = found->second;
  }
  approval::Request r;
  if (!core_.store().Get(id, &r).ok() || r.action_hash != hash ||
      r.state != approval::State::kPending || r.expires_ms <= Core::NowMs()) {
    std::lock_guard lock(holds_mutex_);
    if (auto found = pending_by_hash_.find(hash);
        found != pending_by_hash_.end() && found->second == id)
      pending_by_hash_.erase(found);
    return std::nullopt;
  }
  return r;
}

void DecisionPath::Expired(const std::vector<approval::Request>& expired) {
  std::lock_guard lock(holds_mutex_);
  for (const approval::Request& r : expired) {
    auto found = pending_by_hash_.find(r.action_hash);
    if (found != pending_by_hash_.end() && found->second == r.id) pending_by_hash_.erase(found);
  }
}

CheckReply DecisionPath::Held(const Peer& peer, const json& action_fields, std::string reason) {
  CheckReply reply;
  reply.decision = Decision::kHold;
  reply.reason = std::move(reason);
  core_.Record("verdict", ReplyFields(action_fields, reply), &peer);
  return reply;
}

Result<CheckReply> DecisionPath::Check(const Peer& peer, const CheckRequest& request) {
  Classified c = Classify(peer, request);
  Verdict& verdict = c.verdict;
  const std::string& agent = c.agent;
  json fields = ActionFields(request.action, agent);
  fields["class"] = base::ToValidUtf8(DecidingClass(verdict));

  bool frozen = false;
  if (Status st = core_.store().IsFrozen(agent, &frozen); !st.ok())
    return Held(peer, fields, "the approval store is unreachable: " + st.message());
  bool non_read = false;
  for (const Action& action : verdict.actions) non_read = non_read || !IsRead(action);
  if (frozen && non_read) {
    CheckReply reply;
    reply.decision = Decision::kHold;
    reply.reason = FrozenReason(agent);
    reply.frozen = true;
    core_.Record("verdict", ReplyFields(fields, reply), &peer);
    return reply;
  }

  if (verdict.Enforced() == Decision::kAllow) {
    CheckReply reply;
    reply.decision = Decision::kAllow;
    reply.reason = verdict.reason;
    if (verdict.observe_only) reply.observed = verdict.decision;
    if (!core_.Record("verdict", ReplyFields(fields, reply), &peer,
                      audit::Log::Durability::kWritten))
      return Held(peer, fields, "the audit log could not be written");
    return reply;
  }

  if (FactCanAllow(request, verdict)) {
    // What allowed it is audited; no approval is asked for and the breaker
    // and the rate limit count nothing.
    CheckReply reply;
    reply.decision = Decision::kAllow;
    reply.reason = AllowedReason(request, verdict);
    reply.fact = request.allowed_by.fact;
    if (verdict.snapshot) reply.snapshot_id = request.allowed_by.snapshot_id;
    if (!core_.Record("verdict", ReplyFields(fields, reply), &peer))
      return Held(peer, fields, "the audit log could not be written");
    return reply;
  }

  const std::string hash = c.Hash(request.action);
  if (verdict.decision != Decision::kDeny) {
    // What an approved action destroys goes into the vault before it may
    // run; the approval is consumed only once that save is durable, and a
    // failed save leaves the action held (and the approval usable).
    const Channel channel = request.action.channel;
    bool approved = false;
    std::string approved_id;
    // Ask the store first: finding the targets stats and expands globs on
    // disk, which only an approved action needs.
    if (channel == Channel::kShell || channel == Channel::kFile || request.defer_consume)
      if (Status st = core_.store().HasApproval(hash, Core::NowMs(), &approved, &approved_id);
          !st.ok())
        return Held(peer, fields, "the approval store failed: " + st.message());
    if (request.defer_consume && approved) {
      // Still a hold to anyone who reads only the decision.
      CheckReply reply;
      reply.decision = Decision::kHold;
      reply.approval_ready = true;
      reply.approval_id = approved_id;
      reply.reason = "approved; save what it destroys, then consume the approval";
      return reply;
    }
    std::string snapshot_id;
    const std::vector<std::string> targets =
        approved ? vault::FileTargets(verdict.actions) : std::vector<std::string>{};
    if (!targets.empty()) {
      std::string vault_error;
      std::optional<vault::SnapshotInfo> saved =
          SaveToVault(targets, agent, request.action.input, approved_id, peer, &vault_error);
      if (!saved)
        return Held(peer, fields,
                    "approved, but the vault could not save what it would destroy (" + vault_error +
                        "); it stays held and nothing ran");
      snapshot_id = saved->id;
    }
    approval::Request consumed;
    const Status consume = core_.store().ConsumeApproval(hash, Core::NowMs(), &consumed);
    if (consume.ok()) {
      CheckReply reply;
      reply.decision = Decision::kAllow;
      reply.approved = true;
      reply.approval_id = consumed.id;
      reply.approvers = consumed.approvers;
      reply.reason = "approved by " + Join(consumed.approvers) + " (used once): " + verdict.reason;
      if (!snapshot_id.empty()) {
        reply.snapshot_id = snapshot_id;
        reply.reason +=
            "; saved first as vault snapshot " + snapshot_id + " (" +
            audit::RestoreCommand(json{{"snapshot_id", snapshot_id}, {"vault", vault_dir_}}) + ")";
      }
      // The run names its snapshot and the vault it is in: the history (and
      // `dualkey audit search`) show the exact restore command from this record.
      json run = ReplyFields(fields, reply);
      if (!snapshot_id.empty()) run["vault"] = vault_dir_;
      std::string audit_error;
      if (!core_.Record("consumed", std::move(run), &peer, audit::Log::Durability::kSynced,
                        &audit_error))
        return Unconsumed(peer, fields, consumed.id, audit_error);
      return reply;
    }
    if (!consume.Is(Status::Code::kNotFound))  // kNotFound: no approval, not a failure
      return Held(peer, fields, "the approval store failed: " + consume.message());

    // The same action asked again while its request waits: the same
    // request, and not a new attempt for the breaker or the rate limit.
    if (std::optional<approval::Request> waiting = LivePending(hash)) {
      CheckReply reply;
      reply.decision = verdict.decision;
      reply.reason = verdict.reason;
      reply.approval_id = waiting->id;
      reply.code = waiting->code;
      reply.approvals_needed = waiting->approvals_needed;
      reply.expires_ms = waiting->expires_ms;
      reply.reasked = true;
      core_.Record("hold", ReplyFields(fields, reply), &peer, audit::Log::Durability::kWritten);
      return reply;
    }
  }

  // Held or denied: a destructive attempt for the breaker and the rate limit.
  const bool limited = !breaker_.TakeToken(agent);
  if (verdict.decision == Decision::kDeny || limited) {
    CheckReply reply;
    reply.decision = Decision::kDeny;
    reply.reason = limited ? "rate limit: too many destructive requests from agent '" + agent +
                                 "' (" + verdict.reason + ")"
                           : verdict.reason;
    core_.Record("verdict", ReplyFields(fields, reply), &peer);
    breaker_.Attempt(agent, hash, request.action.input, peer);
    return reply;
  }
  approval::Request pending;
  pending.action_hash = hash;
  pending.agent = agent;
  pending.channel = std::string(ToString(request.action.channel));
  pending.input = request.action.input;
  pending.cwd = request.action.cwd;
  pending.reason = verdict.reason;
  pending.approvals_needed = verdict.decision == Decision::kHold2 ? 2 : 1;
  pending.created_ms = Core::NowMs();
  pending.expires_ms = pending.created_ms + core_.options().approval_ttl_seconds * 1000LL;
  pending.details =
      HoldDetails(request, verdict, c.commands, peer.known ? static_cast<long long>(peer.uid) : -1);
  approval::Request stored;
  if (Status st = core_.store().Hold(pending, &stored); !st.ok())
    return Held(peer, fields, "the approval store failed: " + st.message());
  {
    std::lock_guard lock(holds_mutex_);
    pending_by_hash_[hash] = stored.id;
  }
  CheckReply reply;
  reply.decision = verdict.decision;
  reply.reason = verdict.reason;
  reply.approval_id = stored.id;
  reply.code = stored.code;
  reply.approvals_needed = stored.approvals_needed;
  reply.expires_ms = stored.expires_ms;
  // Another daemon sharing the store registered it first: asked again.
  reply.reasked = stored.created_ms != pending.created_ms;
  core_.Record("hold", ReplyFields(fields, reply), &peer);
  if (!reply.reasked) breaker_.Attempt(agent, hash, request.action.input, peer);
  return reply;
}

Result<ProbeReply> DecisionPath::Probe(const Peer& peer, const CheckRequest& request) {
  Classified c = Classify(peer, request);
  const Verdict& verdict = c.verdict;
  const std::string hash = c.Hash(request.action);
  ProbeReply reply;
  reply.decision = verdict.Enforced();
  reply.reason = verdict.reason;
  if (verdict.observe_only) reply.observed = verdict.decision;
  if (Status st = core_.store().IsFrozen(c.agent, &reply.frozen); !st.ok())
    return Status::Unavailable("the approval store is unreachable: " + st.message());
  bool non_read = false;
  for (const Action& action : verdict.actions) non_read = non_read || !IsRead(action);
  if (reply.frozen && non_read) {
    reply.decision = Decision::kHold;
    reply.reason = FrozenReason(c.agent);
    reply.would = "hold";
  } else if (verdict.Enforced() == Decision::kAllow) {
    reply.would = "allow";
  } else if (FactCanAllow(request, verdict)) {
    reply.would = "allow";
    reply.decision = Decision::kAllow;
    reply.reason = AllowedReason(request, verdict);
  } else {
    bool approved = false;
    std::string approved_id;
    if (verdict.decision != Decision::kDeny)
      if (Status st = core_.store().HasApproval(hash, Core::NowMs(), &approved, &approved_id);
          !st.ok())
        return Status::Unavailable("the approval store failed: " + st.message());
    std::optional<approval::Request> waiting;
    if (approved) {
      reply.would = "use_approval";
      reply.approval_id = approved_id;
      reply.decision = request.defer_consume ? Decision::kHold : Decision::kAllow;
    } else if (verdict.decision != Decision::kDeny && (waiting = LivePending(hash))) {
      reply.would = "reask";
      reply.approval_id = waiting->id;
    } else {
      const bool limited = !breaker_.HasToken(c.agent);
      reply.rate_limited = limited;
      reply.would = verdict.decision == Decision::kDeny || limited ? "deny" : "register";
      if (limited) reply.decision = Decision::kDeny;
      const Breaker::Preview preview = breaker_.Peek(c.agent, hash);
      reply.counts_for_breaker = preview.counts;
      reply.would_trip_breaker = preview.trips;
    }
  }
  json fields = ToJson(reply);
  fields.erase("ok");
  const json action = ActionFields(request.action, c.agent);
  for (const auto& [key, value] : action.items()) fields[key] = value;
  // An entry marked as a probe: it asked, it changed nothing.
  core_.Record("probe", std::move(fields), &peer, audit::Log::Durability::kWritten);
  return reply;
}

Result<CheckReply> DecisionPath::Consume(const Peer& peer, const ConsumeRequest& request) {
  const std::string agent = request.action.agent.empty() ? "unknown" : request.action.agent;
  const json fields = ActionFields(request.action, agent);
  const std::string hash = approval::ActionHash(ToString(request.action.channel),
                                                request.action.input, request.action.cwd, agent);
  approval::Request consumed;
  if (Status st = core_.store().ConsumeApproval(hash, Core::NowMs(), &consumed); !st.ok())
    return Held(peer, fields,
                st.Is(Status::Code::kNotFound)
                    ? "no approval left for this action (used, expired or never given)"
                    : "the approval store failed: " + st.message());
  CheckReply reply;
  reply.decision = Decision::kAllow;
  reply.approved = true;
  reply.approval_id = consumed.id;
  reply.approvers = consumed.approvers;
  reply.reason = "approved by " + Join(consumed.approvers) + " (used once)";
  if (!request.snapshot_id.empty()) {
    reply.snapshot_id = request.snapshot_id;
    reply.reason += "; saved first as vault snapshot " + request.snapshot_id +
                    " (dualkey vault restore " + request.snapshot_id + ")";
  }
  std::string audit_error;
  if (!core_.Record("consumed", ReplyFields(fields, reply), &peer, audit::Log::Durability::kSynced,
                    &audit_error))
    return Unconsumed(peer, fields, consumed.id, audit_error);
  return reply;
}

CheckReply DecisionPath::Unconsumed(const Peer& peer, const json& action_fields,
                                    const std::string& approval_id,
                                    const std::string& audit_error) {
  const Status released = core_.store().ReleaseConsumption(approval_id);
  return Held(peer, action_fields,
              "approved, but the audit log could not be written (" + audit_error +
                  "); it stays held and nothing ran" +
                  (released.ok() ? "; the approval is still usable"
                                 : "; the approval could not be released: " + released.message()));
}

std::optional<vault::SnapshotInfo> DecisionPath::SaveToVault(
    const std::vector<std::string>& targets, const std::string& agent, const std::string& input,
    const std::string& approval_id, const Peer& peer, std::string* error) {
  // One vault per daemon, opened (and created with the default retention)
  // on first use; a vault that cannot be opened keeps such actions held.
  std::lock_guard lock(vault_mutex_);
  if (!vault_) {
    vault_ = vault::Vault::OpenOrInit(vault_dir_, 30, error);
    if (!vault_) return std::nullopt;
  }
  vault::SnapshotMeta meta;
  meta.who = agent;
  meta.action = input;
  meta.approval_id = approval_id;
  meta.kind = "files";
  meta.tags = {"approved-action"};
  std::optional<vault::SnapshotInfo> saved = vault_->PutPaths(targets, meta, nullptr, error);
  if (saved) {
    json fields{{"snapshot_id", saved->id},
                {"vault", vault_dir_},
                {"paths", targets},
                {"files", saved->files},
                {"bytes", saved->bytes}};
    if (!approval_id.empty()) fields["approval_id"] = approval_id;
    PutText(fields, "agent", agent);
    PutText(fields, "input", input);
    core_.Record("vault_snapshot", std::move(fields), &peer);
  }
  return saved;
}

void AddDecisionOps(Dispatcher& dispatcher, DecisionPath& decisions) {
  dispatcher.Add(
      kOpCheck,
      [&decisions](const Peer& peer, const json& body) -> Result<json> {
        CheckRequest request;
        if (Status s = FromJson(body, &request); !s.ok()) return s;
        Result<CheckReply> reply = decisions.Check(peer, request);
        if (!reply.ok()) return reply.status();
        return ToJson(*reply);
      },
      /*decides=*/true);
  dispatcher.Add(
      kOpProbe,
      [&decisions](const Peer& peer, const json& body) -> Result<json> {
        CheckRequest request;
        if (Status s = FromJson(body, &request); !s.ok()) return s;
        Result<ProbeReply> reply = decisions.Probe(peer, request);
        if (!reply.ok()) return reply.status();
        return ToJson(*reply);
      },
      /*decides=*/true);
  dispatcher.Add(
      kOpConsume,
      [&decisions](const Peer& peer, const json& body) -> Result<json> {
        ConsumeRequest request;
        if (Status s = FromJson(body, &request); !s.ok()) return s;
        Result<CheckReply> reply = decisions.Consume(peer, request);
        if (!reply.ok()) return reply.status();
        return ToJson(*reply);
      },
      /*decides=*/true);
}

}  // namespace dualkey::daemon::internal
