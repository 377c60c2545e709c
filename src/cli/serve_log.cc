#include "cli/serve_log.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>
#include <string_view>

#include "base/json_text.h"

namespace dualkey::cli {
namespace {

using nlohmann::json;

// A value as one line of text: control characters (an agent's newline
// that would forge a log line) escaped.
std::string Plain(const json& value, std::size_t limit = 200) {
  std::string text = value.is_string() ? value.get<std::string>() : base::JsonDump(value);
  text = base::ToValidUtf8(text);
  std::string out;
  for (unsigned char c : text) {
    if (out.size() >= limit) {
      out += "...";
      break;
    }
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string Time(std::int64_t ms) {
  if (ms <= 0)
    ms = std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms % 1000));
  return buffer;
}

// An allow (or a probe that would allow) is routine: the audit log keeps it.
bool Routine(std::string_view kind, const json& fields) {
  if (kind != "verdict" && kind != "probe") return false;
  const auto decision = fields.find("decision");
  return decision != fields.end() && *decision == "allow";
}

// A value as written after `key=`: quoted as JSON when it has a space, a
// quote or nothing, so a line reads back unambiguously.
std::string Value(const json& value, std::size_t limit) {
  std::string text = Plain(value, limit);
  if (text.empty() || text.find_first_of(" \"=") != std::string::npos)
    return base::JsonDump(json(text));
  return text;
}

}  // namespace

std::optional<LogFormat> ParseLogFormat(const std::string& text) {
  if (text == "text") return LogFormat::kText;
  if (text == "json") return LogFormat::kJson;
  return std::nullopt;
}

std::optional<std::string> LogLine(const json& event, LogFormat format, bool allows) {
  if (!event.is_object() || (!allows && Routine(event.value("event", ""), event)))
    return std::nullopt;
  if (format == LogFormat::kJson) return base::JsonDump(event);
  const std::string kind = event.value("event", "event");
  std::string line = Time(event.value("time_ms", std::int64_t{0})) + " " + Plain(kind);
  // What people look for first, in this order; then anything else the event
  // carries, so new kinds of events are logged without a change here.
  static constexpr const char* kFirst[] = {"decision", "agent", "approval_id", "approver", "as",
                                           "channel",  "input", "socket",      "http"};
  // Said last, as free text: why it happened.
  static constexpr const char* kWhy[] = {"reason", "why"};
  static constexpr const char* kNever[] = {"event", "time_ms", "reason", "why", "peer", "cwd"};
  for (const char* key : kFirst) {
    if (!event.contains(key)) continue;
    if (std::string(key) == "decision" && event[key] == kind) continue;  // "hold decision=hold"
    if (std::string(key) == "input" && event[key].is_string()) {
      // Quoted as JSON: whatever the agent wrote stays inside the quotes.
      std::string input = base::ToValidUtf8(event[key].get<std::string>());
      if (input.size() > 160) input = base::ToValidUtf8(input.substr(0, 160)) + "...";
      line += " " + base::JsonDump(json(input));
    } else {
      line += " " + std::string(key) + "=" + Value(event[key], 200);
    }
  }
  for (const auto& [key, value] : event.items()) {
    bool shown = false;
    for (const char* k : kFirst) shown = shown || key == k;
    for (const char* k : kNever) shown = shown || key == k;
    if (shown || value.is_null() || value.is_object() || value.is_array()) continue;
    // Times as times: expires_ms=1764958690000 reads expires=2026-12-05T...
    if (key.ends_with("_ms") && value.is_number_integer() && value.get<std::int64_t>() > 0) {
      line += " " + Plain(json(key.substr(0, key.size() - 3)), 40) + "=" +
              Time(value.get<std::int64_t>());
      continue;
    }
    line += " " + Plain(json(key), 40) + "=" + Value(value, 200);
  }
  const char* separator = " -- ";
  for (const char* key : kWhy) {
    if (!event.contains(key) || event[key].is_null()) continue;
    line += separator + Plain(event[key], 400);
    separator = "; ";
  }
  return line;
}

std::function<void(std::string_view, const json&)> LogToStderr(LogOptions options) {
  // One write per line; the lock keeps lines longer than a pipe's atomic
  // write (a long SQL statement in JSON) whole too.
  auto lock = std::make_shared<std::mutex>();
  return [options, lock](std::string_view kind, const json& fields) {
    if (!options.allows && Routine(kind, fields)) return;
    json event = fields;
    event["event"] = std::string(kind);
    std::optional<std::string> line = LogLine(event, options.format, options.allows);
    if (!line) return;
    line->push_back('\n');
    std::lock_guard guard(*lock);
    for (std::size_t done = 0; done < line->size();) {
      const ssize_t n = write(STDERR_FILENO, line->data() + done, line->size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // stderr gone (closed journal): the audit log has it
      done += static_cast<std::size_t>(n);
    }
  };
}

}  // namespace dualkey::cli
