// The daemon's wire protocol as value types: one request and one reply type
// per op, and their encoding. Every client (hooks, `check`, the proxies, the
// gateway, the CLI, `doctor`) and the daemon itself go through this header,
// so a field is named in one place.
//
// On the wire: one JSON object per line each way (the Unix socket) or as an
// HTTP body (POST /v1/<op>). Requests carry "op"; replies carry "ok", and
// {"ok": false, "error": "...", "status": "permission_denied"} on failure.
// Unknown fields are ignored both ways (older and newer peers interoperate);
// a reply that lacks what its op must answer (a check without a valid
// "decision") is an error, never a default.
//
// Bytes are bytes: a text field that is not valid UTF-8 (a file name, a SQL
// literal) travels as the displayable text (invalid sequences as U+FFFD) in
// FIELD plus the exact bytes, base64, in FIELD_b64. The receiver uses the
// exact bytes, so a decision and an approval's binding never depend on the
// repair; a peer that does not know FIELD_b64 sees only the repaired text.
//
// Ops: check, probe, consume, pending, approve, deny, breaker_reset,
// breaker_status, approver_add, approver_remove, approver_rotate,
// approver_list, audit_info, status, watch. docs/daemon.md documents each.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "core/action.h"

namespace dualkey::client {

inline constexpr std::string_view kOpCheck = "check";
inline constexpr std::string_view kOpProbe = "probe";
inline constexpr std::string_view kOpConsume = "consume";
inline constexpr std::string_view kOpPending = "pending";
inline constexpr std::string_view kOpApprove = "approve";
inline constexpr std::string_view kOpDeny = "deny";
inline constexpr std::string_view kOpBreakerReset = "breaker_reset";
inline constexpr std::string_view kOpBreakerStatus = "breaker_status";
inline constexpr std::string_view kOpApproverAdd = "approver_add";
inline constexpr std::string_view kOpApproverRemove = "approver_remove";
inline constexpr std::string_view kOpApproverRotate = "approver_rotate";
inline constexpr std::string_view kOpApproverList = "approver_list";
inline constexpr std::string_view kOpAuditInfo = "audit_info";
inline constexpr std::string_view kOpStatus = "status";
inline constexpr std::string_view kOpWatch = "watch";
inline constexpr std::string_view kOpReport = "report";

// The largest line either side accepts.
inline constexpr std::size_t kMaxLineBytes = 1 << 20;

// What an approval is bound to: the exact channel, input, working directory
// and agent (approval::ActionHash).
struct ActionRef {
  Channel channel = Channel::kShell;
  std::string input;
  std::string cwd;
  std::string agent;
};

// check: decide, audit, register a hold as a pending approval, use an
// approval once. probe: the same question with no effect (see ProbeReply).
struct CheckRequest {
  ActionRef action;
  std::string home;            // for ~ in shell input
  std::string file_operation;  // file channel: write | edit | delete
  // A component that knows more than the text (rows a DELETE touches) may
  // raise the decision, never lower it, and say why in `detail`.
  std::optional<Decision> min_decision;
  std::string detail;
  // The caller saves what the action destroys before it runs: an approved
  // action is answered hold + approval_ready, and `consume` uses it.
  bool defer_consume = false;
  // The PostgreSQL proxy found that a held statement destroys nothing (a
  // catalog fact: the object does not exist, the table is empty), or saved
  // what it destroys under a "snapshot" decision within the policy's
  // [snapshot] limits. A plain hold of SQL drops or row destruction is then
  // allowed and audited with what allowed it: no approval, no breaker or
  // rate-limit count. Nothing runs on this answer alone: only the proxy
  // that established the fact forwards the statement.
  struct AllowedBy {
    std::string fact;         // "table public.t is empty"
    std::string snapshot_id;  // the vault snapshot that undoes it
    std::string measured;     // "1 row, 4 bytes of public.knex_migrations_lock"
    bool empty() const { return fact.empty() && snapshot_id.empty(); }
  };
  AllowedBy allowed_by;
};

struct CheckReply {
  Decision decision = Decision::kHold;
  std::string reason;
  // Observe mode: what would have been decided (the decision is allow).
  std::optional<Decision> observed;
  // A hold registered (or found again) as a pending approval.
  std::string approval_id;
  std::string code;
  int approvals_needed = 0;
  std::int64_t expires_ms = 0;
  // The same pending action asked again: no new request, no breaker count.
  bool reasked = false;
  // Allowed because an approval was used up (once).
  bool approved = false;
  std::vector<std::string> approvers;
  // defer_consume: approved, waiting for `consume`.
  bool approval_ready = false;
  std::string snapshot_id;
  // Allowed by the caller's catalog fact (allowed_by), as audited.
  std::string fact;
  // The breaker holds this agent (a human resets it).
  bool frozen = false;
};

struct ConsumeRequest {
  ActionRef action;
  std::string snapshot_id;
};
// consume answers a CheckReply: allow + approved, or a hold when no approval is left.

// probe: what a check would answer and do, with no effect: no pending
// request, no approval used, no breaker or rate-limit count; the audit log
// gets one entry marked as a probe.
struct ProbeReply {
  Decision decision = Decision::kHold;  // what a check would answer now
  std::string reason;
  std::optional<Decision> observed;
  bool frozen = false;
  // What a check would do: "allow", "register" (a new pending approval),
  // "reask" (the pending approval `approval_id` again), "use_approval" (an
  // approval waits and would be used), "deny".
  std::string would;
  std::string approval_id;          // reask / use_approval
  bool counts_for_breaker = false;  // a check would be a destructive attempt
  bool would_trip_breaker = false;
  bool rate_limited = false;
};

// A pending (or decided) approval request as humans see it.
struct Approval {
  std::string id;
  std::string code;
  std::string agent;
  std::string channel;
  std::string input;
  std::string cwd;
  std::string reason;
  int approvals_needed = 1;
  std::vector<std::string> approvers;
  std::string state;  // pending | approved | denied | consumed | expired
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;
  std::string denied_by;
  std::string deny_reason;
  // Wrong codes tried for this request, and until when it is locked (0: not).
  int failed_codes = 0;
  std::int64_t locked_until_ms = 0;
  // pending: what the daemon worked out when it held the action (commands,
  // actions, blast radius, vault; null when it kept none) and the words
  // people read about it (client/words.h).
  nlohmann::json details;
  nlohmann::json words;
};

// Wrong codes counted against a scope ("approver:alice", "request:ap_...").
struct FailedCodes {
  std::string scope;
  int failures = 0;
  std::int64_t last_failure_ms = 0;
  std::int64_t locked_until_ms = 0;  // 0: not locked
};

// A passkey's answer to a challenge the daemon issued (op passkey_challenge),
// in place of a TOTP code: every field base64url as the browser gives it.
// The challenge is bound to the action (for an approval: the request id and
// its action hash) and works once.
struct PasskeyAnswer {
  std::string nonce;  // the challenge's id, from passkey_challenge
  std::string credential_id;
  std::string client_data_json;
  std::string authenticator_data;
  std::string signature;
};

struct PendingRequest {};
struct PendingReply {
  std::vector<Approval> requests;
  std::vector<FailedCodes> failed_codes;  // every scope with recent failures
};

struct ApproveRequest {
  std::string id;  // id or code
  std::string approver;
  std::string totp;
  std::optional<PasskeyAnswer> passkey;  // instead of totp
};
struct DenyRequest {
  std::string id;
  std::string approver;
  std::string reason;
};
struct ApprovalReply {  // approve and deny
  Approval request;
};

struct BreakerResetRequest {
  std::string agent;
  std::string approver;
  std::string totp;
  std::optional<PasskeyAnswer> passkey;  // instead of totp
};
struct BreakerResetReply {
  std::string agent;
  bool frozen = false;
};

struct BreakerStatusRequest {
  std::string agent;  // empty: every agent the daemon knows about
};
struct BreakerAgent {
  std::string agent;
  bool frozen = false;
  std::int64_t since_ms = 0;  // frozen: when; else 0
  std::string why;            // frozen: what tripped it
  int recent_attempts = 0;    // distinct destructive attempts in the current window
  std::string reset;          // the command that unfreezes it
};
struct BreakerStatusReply {
  int attempts = 0;        // attempts within...
  int window_seconds = 0;  // ...this window trip the breaker
  std::vector<BreakerAgent> agents;
};

// Approver administration. The first approver: root or the daemon's own
// user, no code. Every later change: an existing approver's code.
struct ApproverRequest {  // approver_add, approver_remove, approver_rotate
  std::string name;
  std::string approver;  // who vouches (absent for the first approver)
  std::string totp;
  std::optional<PasskeyAnswer> passkey;  // instead of totp
};
struct ApproverReply {
  std::string name;
  std::string secret;  // add and rotate: the new TOTP secret (base32), once
  std::string uri;     // its otpauth:// URI
  bool first = false;  // add: the first approver
  bool removed = false;
};
struct ApproverListReply {
  std::vector<std::string> approvers;
};
struct AuditInfoReply {
  std::string public_key;  // hex Ed25519: what `audit verify --pubkey` expects
  std::string path;
  std::uint64_t checkpoint_seq = 0;  // the last durable signed checkpoint
  std::string checkpoint_hash;
};

struct StatusRequest {};
struct StatusReply {
  int pid = 0;
  std::string socket;
  bool protected_install = false;
  std::int64_t uid = -1;  // the daemon's uid
  // The system policy the daemon holds (read at start and on SIGHUP).
  std::string policy_path;
  std::int64_t policy_loaded_ms = 0;
  std::vector<std::string> policy_errors;  // of the policy in force: destructive actions held
  // The last reload that was refused (the previous policy stayed), and why.
  std::int64_t policy_reload_failed_ms = 0;
  std::vector<std::string> policy_reload_errors;
};

// report: what the PostgreSQL proxy, the HTTP gateway and the MCP proxy
// decided on their own (allowed ones included; what they asked the daemon
// is audited by the check already), in batches, for the daemon's audit log.
// The daemon redacts secrets from `input` and `reason` before writing.
struct ReportedDecision {
  std::int64_t time_ms = 0;
  ActionRef action;
  Decision decision = Decision::kAllow;
  std::string op_class;  // the class that weighed most ("none": no action)
  std::string reason;
  bool forwarded = false;      // the request went on to its server
  std::int64_t added_us = -1;  // time the decision added before forwarding (-1: unknown)
};
// Decisions that could not be delivered (the queue was full, or the daemon
// was unreachable for longer than the queue holds): counted, then recorded.
struct ReportGap {
  std::uint64_t lost = 0;
  std::uint64_t lost_destructive = 0;  // of which were not reads (those were held)
  std::int64_t from_ms = 0;
  std::int64_t to_ms = 0;
  std::string reason;
  // How many the sender had counted lost (and lost destructive) before
  // this gap, in gap records the daemon took: where the gap starts.
  std::uint64_t first_lost = 0;
  std::uint64_t first_lost_destructive = 0;
};
// Exactly once: a sender names itself (`sender`, unique per reporter) and
// numbers its decisions in the order it sends them (`first`: the number of
// the batch's first one, 0-based). A batch sent again (its reply was lost
// to a timeout, the daemon had written it) starts below where the daemon's
// mark for that sender (and the peer's uid and pid) stands; the daemon
// skips what it already wrote and counts it as recorded. Gaps likewise, by
// `first_lost`. Without `sender` every batch is written as it comes.
struct ReportRequest {
  std::string source;  // "pg_proxy", "gateway", "mcp_proxy"
  std::string sender;
  std::uint64_t first = 0;
  std::vector<ReportedDecision> decisions;
  std::vector<ReportGap> gaps;
};
struct ReportReply {
  std::uint64_t recorded = 0;  // records made durable (written)
  bool packed = false;         // the daemon read "packed" (client/report_wire.h)
};

// --- encoding ---------------------------------------------------------------
// ToJson(request) includes "op"; ToJson(reply) includes "ok": true.
// FromJson fails with kInvalidArgument (a request) or kCorruption (a reply)
// naming the field; a reply {"ok": false} decodes to its error Status.

nlohmann::json ToJson(const CheckRequest& r);
nlohmann::json ToJson(const ConsumeRequest& r);
nlohmann::json ToJson(const PendingRequest& r);
nlohmann::json ToJson(const ApproveRequest& r);
nlohmann::json ToJson(const DenyRequest& r);
nlohmann::json ToJson(const BreakerResetRequest& r);
nlohmann::json ToJson(const BreakerStatusRequest& r);
nlohmann::json ToJson(const StatusRequest& r);
// ApproverRequest needs its op: approver_add, approver_remove or approver_rotate.
nlohmann::json ToJson(const ApproverRequest& r, std::string_view op);
// A probe is a check's request under op "probe".
nlohmann::json ProbeJson(const CheckRequest& r);

Status FromJson(const nlohmann::json& j, CheckRequest* out);
Status FromJson(const nlohmann::json& j, ConsumeRequest* out);
Status FromJson(const nlohmann::json& j, ApproveRequest* out);
Status FromJson(const nlohmann::json& j, DenyRequest* out);
Status FromJson(const nlohmann::json& j, BreakerResetRequest* out);
Status FromJson(const nlohmann::json& j, BreakerStatusRequest* out);
Status FromJson(const nlohmann::json& j, ApproverRequest* out);

nlohmann::json ToJson(const CheckReply& r);
nlohmann::json ToJson(const ProbeReply& r);
nlohmann::json ToJson(const Approval& r);
nlohmann::json ToJson(const PendingReply& r);
nlohmann::json ToJson(const ApprovalReply& r);
nlohmann::json ToJson(const BreakerResetReply& r);
nlohmann::json ToJson(const BreakerStatusReply& r);
nlohmann::json ToJson(const StatusReply& r);
nlohmann::json ToJson(const ReportGap& g);
nlohmann::json ToJson(const ReportRequest& r);
nlohmann::json ToJson(const ReportReply& r);
Status FromJson(const nlohmann::json& j, ReportRequest* out);
Status FromJson(const nlohmann::json& j, ReportReply* out);
nlohmann::json ToJson(const ApproverReply& r);
nlohmann::json ToJson(const ApproverListReply& r);
nlohmann::json ToJson(const AuditInfoReply& r);

Status FromJson(const nlohmann::json& j, CheckReply* out);
Status FromJson(const nlohmann::json& j, ProbeReply* out);
Status FromJson(const nlohmann::json& j, Approval* out);
Status FromJson(const nlohmann::json& j, PendingReply* out);
Status FromJson(const nlohmann::json& j, ApprovalReply* out);
Status FromJson(const nlohmann::json& j, BreakerResetReply* out);
Status FromJson(const nlohmann::json& j, BreakerStatusReply* out);
Status FromJson(const nlohmann::json& j, StatusReply* out);
Status FromJson(const nlohmann::json& j, ApproverReply* out);
Status FromJson(const nlohmann::json& j, ApproverListReply* out);
Status FromJson(const nlohmann::json& j, AuditInfoReply* out);

// {"ok": false, "error": message, "status": "permission_denied"}.
nlohmann::json ErrorJson(const Status& status);

// The "passkey" object of a request: nullopt when absent, an error when malformed.
nlohmann::json ToJson(const PasskeyAnswer& r);
Result<std::optional<PasskeyAnswer>> PasskeyOf(const nlohmann::json& request);
// The Status a reply carries: Ok for {"ok": true}, its error for
// {"ok": false}, kCorruption for anything else.
Status ReplyStatus(const nlohmann::json& reply);

template <typename T>
Result<T> Decode(const nlohmann::json& j) {
  T out;
  if (Status s = FromJson(j, &out); !s.ok()) return s;
  return out;
}

// One line on the wire: compact JSON (never throws; see json_text.h) and '\n'.
std::string EncodeLine(const nlohmann::json& value);
// A line (without its '\n') as a JSON object; kInvalidArgument otherwise.
Result<nlohmann::json> DecodeLine(std::string_view line);

// Text fields that may carry any bytes (see the header comment).
void PutText(nlohmann::json& j, std::string_view key, std::string_view bytes);
// The field's exact bytes: FIELD_b64 when present, else FIELD; `missing`
// when neither is there. kInvalidArgument when either is not a string or the
// base64 does not decode.
Status GetText(const nlohmann::json& j, std::string_view key, std::string* out,
               bool required = false);

}  // namespace dualkey::client
