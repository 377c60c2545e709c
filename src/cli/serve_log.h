// `dualkey serve`'s log: one line per event the daemon records and
// broadcasts to its watchers (holds, approvals, denials, refused codes,
// breaker trips and resets, expiries, vault snapshots, reloads, and whatever
// it adds later), except routine allows, which only the audit log keeps.
// Plain text for people, or one JSON object per line for machines. The kinds
// are the audit log's (`dualkey audit tail`, `dualkey watch --json`).
//
//   2026-12-05T18:43:10.478Z hold agent=cli approval_id=ap_yphpgio52o
//     channel=shell "rm -rf /srv/data" approvals_needed=1 code=RVL-TGW
//     expires=2026-12-05T18:58:10.477Z -- recursive delete of /srv/data
//   (one line: the time, the kind, who and what, then key=value, then why)
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace dualkey::cli {

enum class LogFormat { kText, kJson };

struct LogOptions {
  LogFormat format = LogFormat::kText;
  bool allows = false;  // routine allows too (a busy log; for following a hook)
};

// "text" or "json"; nothing for anything else.
std::optional<LogFormat> ParseLogFormat(const std::string& text);

// The line for one event, without the newline; nothing for events not
// logged (routine allows). Text from the outside (an agent's command, a
// reason) is escaped: a line is always one line.
std::optional<std::string> LogLine(const nlohmann::json& event, LogFormat format,
                                   bool allows = false);

// What `dualkey serve` hands the daemon (ServeOptions::on_event): writes
// each logged event's line to stderr in one write, so lines from the
// daemon's threads never interleave. Routine allows cost one comparison.
std::function<void(std::string_view kind, const nlohmann::json& fields)> LogToStderr(
    LogOptions options);

}  // namespace dualkey::cli
