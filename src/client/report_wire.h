// The report op's lean encoding: a batch of decisions as one string
// ("packed") instead of an array of JSON objects, so that neither side
// builds or walks a JSON tree per decision (the proxies report every
// statement they forward; the tree was most of the audit's cost).
//
// A packed batch is the decisions one after the other, each its fields in a
// fixed order: time_ms, decision, forwarded (0/1), added_us, channel, agent,
// cwd, input, class, reason. A number is its decimal digits and ','; a text
// is its length in bytes, ':' and the bytes, or, for bytes that are not
// valid UTF-8, the length of their base64, '~' and the base64 (the request
// line stays UTF-8; the daemon gets the exact bytes, as FIELD_b64 does in
// JSON). On the wire: {"op":"report","source":S,"packed":P,"count":N,
// "gaps":[...]}; a daemon that takes it says "packed": true in its reply
// (an older one ignores the field, and the reporter falls back to
// "decisions").
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "client/protocol.h"

namespace dualkey::client {

// Appends `text` as a JSON string, quotes included, escaped exactly as
// nlohmann::json's dump escapes it: for valid UTF-8, what base::JsonDump
// writes (the audit log's canonical form). `text` must be valid UTF-8.
void AppendJsonString(std::string* out, std::string_view text);

// The daemon keeps 8192 bytes of an input or a reason (base::RedactSecrets
// cuts and marks the rest): a decision carries a little more than that, so
// that the daemon still sees it was cut, and a batch stays small.
inline constexpr std::size_t kMaxReportedText = 8192 + 1024;

// A reported decision whose texts point elsewhere: into a ReportedDecision
// (ViewOf) or a packed batch.
struct DecisionView {
  std::int64_t time_ms = 0;
  Decision decision = Decision::kAllow;
  bool forwarded = false;
  std::int64_t added_us = -1;
  Channel channel = Channel::kSql;
  std::string_view agent, cwd, input, op_class, reason;
};
// `d`'s fields; valid while `d` is.
DecisionView ViewOf(const ReportedDecision& d);
// A copy of the decision `d` points at (ViewOf's inverse).
ReportedDecision OwnedOf(const DecisionView& d);

// Appends one decision to a packed batch.
void AppendPacked(std::string* out, const DecisionView& d);

// Decisions kept packed, as they go on the wire, one after the other in one
// buffer: the reporter's queue (client/reporter.h). Queueing a decision
// copies its texts once into that buffer and allocates nothing once the
// buffer has grown to the queue's usual size; a batch is a prefix of it,
// copied out whole. A queue of decision objects cost every statement a
// proxy forwarded several allocations, and the sending thread their frees
// and an encoding pass.
class PackedQueue {
 public:
  std::size_t size() const { return ends_.size() - first_; }
  bool empty() const { return size() == 0; }
  // The bytes the queued decisions take.
  std::size_t bytes() const { return text_.size() - begin_; }

  void Push(const DecisionView& decision);
  // Copies the oldest decisions into `*out` (replacing what it held): at
  // most `max_count`, and no more once `max_bytes` are reached (always one,
  // if any is queued, however long). Returns how many.
  std::size_t Front(std::size_t max_count, std::size_t max_bytes, std::string* out) const;
  // Removes the oldest `count` (at most size()).
  void Pop(std::size_t count);

 private:
  std::string text_;  // packed decisions; those before begin_ are gone
  std::size_t begin_ = 0;
  std::vector<std::size_t> ends_;  // each decision's end in text_; those before first_ are gone
  std::size_t first_ = 0;
};

// One decision read from a packed batch. The texts point into the batch, or
// into `storage` for bytes that travelled as base64.
struct PackedDecision : DecisionView {
  std::string storage[5];
};
// Reads the decision at the front of `*in` and moves `*in` past it;
// kInvalidArgument naming what is wrong when it is not one.
Status NextPacked(std::string_view* in, PackedDecision* out);

// The request line (with its newline) of a report: `head`'s source,
// sender, first and gaps (its decisions are not used); `packed` holds
// `count` decisions (AppendPacked).
std::string PackedReportLine(const ReportRequest& head, std::string_view packed, std::size_t count);

// A report line read without nlohmann's lexer walking "packed" (it reads a
// string a byte at a time: a sixth of the daemon's time per reported
// decision). The top-level "packed" string is found by a scan, unescaped in
// bulk, and the rest of the line parsed as usual. nullopt unless the line
// is a JSON object with exactly one top-level "packed" string, spelled
// without escapes, that this reads exactly as nlohmann would; the caller
// then parses the line the general way (which also gives the error).
// What it returns equals nlohmann::json::parse(line).
std::optional<nlohmann::json> ParseReportLine(std::string_view line);

}  // namespace dualkey::client
