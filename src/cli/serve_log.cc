#include "cli/serve_log.h"

#include <unistd.h>

#include <chrono>
#include <string_view>
#include <cstdio>
#include <ctime>

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
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms % 1000));
  return buffer;
}

bool Routine(const json& event) {
  return event.value("event", "") == "verdict" && event.value("decision", "") == "allow";
}

}  // namespace

std::optional<LogFormat> ParseLogFormat(const std::string& text) {
  if (text == "text") return LogFormat::kText;
  if (text == "json") return LogFormat::kJson;
  return std::nullopt;
}

std::optional<std::string> LogLine(const json& event, LogFormat format) {
  if (!event.is_object() || Routine(event)) return std::nullopt;
  if (format == LogFormat::kJson) return base::JsonDump(event);
  const std::string kind = event.value("event", "event");
  std::string line = Time(event.value("time_ms", std::int64_t{0})) + " " + Plain(kind);
  // What people look for first, in this order; then anything else the event
  // carries, so new kinds of events are logged without a change here.
  static constexpr const char* kFirst[] = {"decision", "agent",   "approval_id", "approver",
                                           "as",       "channel", "input"};
  static constexpr const char* kNever[] = {"event", "time_ms", "reason", "peer", "cwd"};
  for (const char* key : kFirst) {
    if (!event.contains(key)) continue;
    if (std::string(key) == "decision" && event[key] == kind) continue;  // "hold decision=hold"
    if (std::string(key) == "input" && event[key].is_string()) {
      // Quoted as JSON: whatever the agent wrote stays inside the quotes.
      std::string input = base::ToValidUtf8(event[key].get<std::string>());
      if (input.size() > 160) input = base::ToValidUtf8(input.substr(0, 160)) + "...";
      line += " " + base::JsonDump(json(input));
    } else {
      line += " " + std::string(key) + "=" + Plain(event[key]);
    }
  }
  for (const auto& [key, value] : event.items()) {
    bool shown = false;
    for (const char* k : kFirst) shown = shown || key == k;
    for (const char* k : kNever) shown = shown || key == k;
    if (shown || value.is_null() || value.is_object() || value.is_array()) continue;
    const bool time = key.ends_with("_ms") && value.is_number_integer() && value.get<std::int64_t>() > 0;
    line += " " + Plain(json(key), 40) + "=" + (time ? Time(value.get<std::int64_t>()) : Plain(value, 80));
  }
  if (event.contains("reason")) line += " -- " + Plain(event["reason"], 300);
  return line;
}

std::function<void(std::string_view, const json&)> LogToStderr(LogFormat format) {
  return [format](std::string_view kind, const json& fields) {
    if (kind == "verdict") {
      auto decision = fields.find("decision");
      if (decision != fields.end() && *decision == "allow") return;  // routine
    }
    json event = fields;
    event["event"] = std::string(kind);
    std::optional<std::string> line = LogLine(event, format);
    if (!line) return;
    line->push_back('\n');
    (void)!write(STDERR_FILENO, line->data(), line->size());
  };
}

}  // namespace dualkey::cli
