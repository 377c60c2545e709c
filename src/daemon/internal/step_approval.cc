// Approval and vault save (chain.h): an approval is used once, after what the
// action destroys is durable in the vault; a waiting request is re-asked.
#include <filesystem>

#include "audit/search.h"
#include "daemon/internal/chain.h"

namespace dualkey::daemon::internal {
namespace {

using nlohmann::json;

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : " and ") + name;
  return out;
}

}  // namespace

std::string VaultSaver::DirFor(const ServeOptions& o) {
  const std::string dir = o.vault_dir.empty() ? o.state_dir + "/vault" : o.vault_dir;
  std::error_code ignored;
  const std::filesystem::path absolute = std::filesystem::absolute(dir, ignored);
  return absolute.empty() ? dir : absolute.lexically_normal().string();
}

Result<vault::SnapshotInfo> VaultSaver::Save(const std::vector<std::string>& targets,
                                             const std::string& agent, const std::string& input,
                                             const std::string& approval_id, const Peer& peer) {
  // A vault that cannot be opened keeps such actions held.
  std::lock_guard lock(mutex_);
  if (!vault_) {
    Result<vault::Vault> opened = vault::Vault::OpenOrInit(dir_, 30);
    if (!opened.ok()) return Status::Unavailable(opened.status().message());
    vault_ = std::move(opened).value();
  }
  vault::SnapshotMeta meta;
  meta.who = agent;
  meta.action = input;
  meta.approval_id = approval_id;
  meta.kind = "files";
  meta.tags = {"approved-action"};
  Result<vault::SnapshotInfo> saved = vault_->PutPaths(targets, meta, nullptr);
  if (!saved.ok()) return saved.status();
  json fields{{"snapshot_id", saved->id},
              {"vault", dir_},
              {"paths", targets},
              {"files", saved->files},
              {"bytes", saved->bytes}};
  if (!approval_id.empty()) fields["approval_id"] = approval_id;
  client::PutText(fields, "agent", agent);
  client::PutText(fields, "input", input);
  core_.Record("vault_snapshot", std::move(fields), &peer);
  return *saved;
}

PendingHolds::PendingHolds(approval::Store& store) : store_(store) {
  std::vector<approval::Request> pending;
  if (store_.Pending(Core::NowMs(), &pending).ok())
    for (const approval::Request& r : pending) by_hash_[r.action_hash] = r.id;
}

std::optional<approval::Request> PendingHolds::Live(const std::string& hash) {
  std::string id;
  {
    std::lock_guard lock(mutex_);
    auto found = by_hash_.find(hash);
    if (found == by_hash_.end()) return std::nullopt;
    id = found->second;
  }
  approval::Request r;
  if (!store_.Get(id, &r).ok() || r.action_hash != hash || r.state != approval::State::kPending ||
      r.expires_ms <= Core::NowMs()) {
    std::lock_guard lock(mutex_);
    if (auto found = by_hash_.find(hash); found != by_hash_.end() && found->second == id)
      by_hash_.erase(found);
    return std::nullopt;
  }
  return r;
}

void PendingHolds::Remember(const std::string& hash, const std::string& id) {
  std::lock_guard lock(mutex_);
  by_hash_[hash] = id;
}

void PendingHolds::Expired(const std::vector<approval::Request>& expired) {
  std::lock_guard lock(mutex_);
  for (const approval::Request& r : expired) {
    auto found = by_hash_.find(r.action_hash);
    if (found != by_hash_.end() && found->second == r.id) by_hash_.erase(found);
  }
}

std::optional<Outcome> ApprovalStep::Run(Exchange& x) {
  const Verdict& verdict = x.verdict;
  const client::CheckRequest& request = x.request;
  if (verdict.decision == Decision::kDeny) return std::nullopt;
  const std::string& hash = x.Hash();
  // What an approved action destroys goes into the vault before it may
  // run; the approval is consumed only once that save is durable, and a
  // failed save leaves the action held (and the approval usable).
  const Channel channel = request.action.channel;
  bool approved = false;
  std::string approved_id;
  // Ask the store first: finding the targets stats and expands globs on
  // disk, which only an approved action needs.
  if (channel == Channel::kShell || channel == Channel::kFile || request.defer_consume) {
    if (Status st = store_.HasApproval(hash, Core::NowMs(), &approved, &approved_id); !st.ok())
      return Outcome::Held("the approval store failed: " + st.message());
  }
  if (request.defer_consume && approved) {
    // Still a hold to anyone who reads only the decision; not audited here
    // (the consume that follows is).
    Outcome out;
    out.kind = "";
    out.reply.decision = Decision::kHold;
    out.reply.approval_ready = true;
    out.reply.approval_id = approved_id;
    out.reply.reason = "approved; save what it destroys, then consume the approval";
    return out;
  }
  std::string snapshot_id;
  const std::vector<std::string> targets =
      approved ? vault::FileTargets(verdict.actions) : std::vector<std::string>{};
  if (!targets.empty()) {
    Result<vault::SnapshotInfo> saved =
        vault_.Save(targets, x.agent, request.action.input, approved_id, x.peer);
    if (!saved.ok())
      return Outcome::Held("approved, but the vault could not save what it would destroy (" +
                           saved.status().message() + "); it stays held and nothing ran");
    snapshot_id = saved->id;
  }
  approval::Request consumed;
  const Status consume = store_.ConsumeApproval(hash, Core::NowMs(), &consumed);
  if (consume.ok()) {
    Outcome out;
    out.kind = "consumed";
    out.if_unrecorded = Outcome::IfUnrecorded::kRelease;
    client::CheckReply& reply = out.reply;
    reply.decision = Decision::kAllow;
    reply.approved = true;
    reply.approval_id = consumed.id;
    reply.approvers = consumed.approvers;
    reply.reason = "approved by " + Join(consumed.approvers) + " (used once): " + verdict.reason;
    if (!snapshot_id.empty()) {
      reply.snapshot_id = snapshot_id;
      reply.reason +=
          "; saved first as vault snapshot " + snapshot_id + " (" +
          audit::RestoreCommand(json{{"snapshot_id", snapshot_id}, {"vault", vault_.dir()}}) + ")";
      // The run names its snapshot and the vault it is in: the history (and
      // `dualkey audit search`) show the exact restore command from this record.
      out.extra["vault"] = vault_.dir();
    }
    return out;
  }
  if (!consume.Is(Status::Code::kNotFound))
    return Outcome::Held("the approval store failed: " + consume.message());

  // The same action asked again while its request waits: the same
  // request, and not a new attempt for the breaker or the rate limit.
  if (std::optional<approval::Request> waiting = holds_.Live(hash)) {
    Outcome out;
    out.kind = "hold";
    out.durability = audit::Log::Durability::kWritten;
    client::CheckReply& reply = out.reply;
    reply.decision = verdict.decision;
    reply.reason = verdict.reason;
    reply.approval_id = waiting->id;
    reply.code = waiting->code;
    reply.approvals_needed = waiting->approvals_needed;
    reply.expires_ms = waiting->expires_ms;
    reply.reasked = true;
    return out;
  }
  return std::nullopt;
}

}  // namespace dualkey::daemon::internal
