// One way to turn untrusted text into JSON and back. Agents, MCP servers,
// SQL clients and HTTP peers send arbitrary bytes; nlohmann::json throws on
// invalid UTF-8 when serialising, and an uncaught throw aborts the process
// (a crash is a fail-open for every agent's hook). Everything that writes
// JSON carrying outside text goes through JsonDump; everything that shows
// such text to people goes through ToValidUtf8.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace dualkey::base {

// Serialises compactly; invalid UTF-8 in strings becomes U+FFFD. Never throws.
std::string JsonDump(const nlohmann::json& value);
std::string JsonDump(const nlohmann::ordered_json& value);

// Parses a JSON text; nullopt with `error` set (when given) on any failure,
// invalid UTF-8 included. Never throws.
std::optional<nlohmann::json> JsonParse(std::string_view text, std::string* error = nullptr);

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code
// points past U+10FFFF).
bool IsValidUtf8(std::string_view text);

// `text` with each maximal invalid sequence replaced by U+FFFD.
std::string ToValidUtf8(std::string_view text);

// Offset of the first byte that does not start a valid UTF-8 sequence, or
// std::string_view::npos when `text` is valid: for errors that say where.
std::size_t FirstInvalidUtf8(std::string_view text);

}  // namespace dualkey::base
