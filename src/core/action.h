// The one data model that flows through dualkey: a channel adapter (shell,
// SQL, HTTP, MCP) turns its input into Actions; the policy turns Actions into
// a Verdict; effectors (approval, vault, audit, breaker) act on the Verdict.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dualkey {

enum class Channel : std::uint8_t { kShell, kSql, kHttp, kMcp, kFile };

// Ordered by strictness: a multi-action input takes the maximum.
enum class Decision : std::uint8_t { kAllow = 0, kHold = 1, kHold2 = 2, kDeny = 3 };

// Can the effect be undone without outside help?
enum class Reversibility : std::uint8_t {
  kReversible,    // nothing is lost (reads, builds, commits)
  kRecoverable,   // lost, but recoverable from a local copy (git reflog, trash)
  kIrreversible,  // gone once it runs
  kUnknown,       // we could not tell; treated like kIrreversible
};

// How much a destructive action reaches. Packs set it from the targets.
enum class Severity : std::uint8_t {
  kNone,      // no effect on data (reads, prints)
  kLow,       // disposable data: build output, caches, temp files
  kMedium,    // ordinary data the user cares about
  kHigh,      // whole databases, directories of data, remote history
  kCritical,  // root, home, disks, backups, everything at once
};

struct Action {
  Channel channel = Channel::kShell;
  // Dotted operation class: "fs.delete.recursive", "db.drop", "read.only".
  std::string op_class;
  // What it acts on: resolved paths, qualified object names, hosts, buckets.
  std::vector<std::string> targets;
  Reversibility reversibility = Reversibility::kReversible;
  Severity severity = Severity::kNone;
  // One sentence for a human: why this class, what it reaches.
  std::string reason;
  // Which pack and rule classified it ("pack github-cli, rule repo-delete
  // (packs/gh.toml:31)"), for `dualkey policy explain`; empty when the
  // channel's own classifier did.
  std::string origin;
};

// An action as a channel's classifier makes it: every field but `origin`.
// Each channel's own MakeAction fixes `channel` and calls this.
Action MakeAction(Channel channel, std::string op_class, std::vector<std::string> targets,
                  Reversibility reversibility, Severity severity, std::string reason);

// True when the action destroys or irreversibly changes something worth a
// human's look. The built-in default policy holds exactly these.
bool IsDestructive(const Action& action);

// The policy's answer for a whole input.
struct Verdict {
  Decision decision = Decision::kAllow;
  std::string reason;  // the deciding action's reason, or why we failed closed
  std::vector<Action> actions;
  // Policy mode "observe": `decision` is what would happen; nothing is held.
  bool observe_only = false;
  // decision is kHold, and every held action may run without a human once
  // what it destroys is saved and found small (policy "snapshot"). Only a
  // component that can take the snapshot acts on it; to everyone else this
  // is a hold.
  bool snapshot = false;

  // What integrations enforce: the decision, or allow when only observing.
  Decision Enforced() const { return observe_only ? Decision::kAllow : decision; }
};

std::string_view ToString(Channel channel);
std::string_view ToString(Decision decision);
std::string_view ToString(Reversibility reversibility);
std::string_view ToString(Severity severity);
// The names ToString gives; false (and *out untouched) for any other text.
bool ParseChannel(std::string_view text, Channel* out);
bool ParseDecision(std::string_view text, Decision* out);
bool ParseReversibility(std::string_view text, Reversibility* out);
bool ParseSeverity(std::string_view text, Severity* out);

}  // namespace dualkey
