// The drill's battery: attempts as data, in the corpus's case format
// (../shared/corpus/cases.jsonl: id, channel, input, cwd, expect, class,
// why) plus what the drill needs to send them (section, via). The built-in
// files (src/drill/battery/*.jsonl) are compiled into the binary; the
// machine's (/etc/dualkey/drill/*.jsonl), the user's
// (~/.config/dualkey/drill/*.jsonl) and --battery FILEs add to them. Added
// files can only add attempts: an id already taken is an error, never a
// replacement.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dualkey::drill::internal {

// Where an attempt is sent.
inline constexpr const char* kViaHooks = "hooks";       // every installed agent hook
inline constexpr const char* kViaPgProxy = "pg-proxy";  // the PostgreSQL proxy, as SQL
inline constexpr const char* kViaGateway = "gateway";   // the HTTP gateway, as a request
inline constexpr const char* kViaMcp = "mcp";           // each wrapped MCP server
inline constexpr const char* kViaBreaker = "breaker";   // the burst: real checks, one agent

struct Case {
  std::string id;
  std::string channel;   // shell, sql, http, mcp, file
  nlohmann::json input;  // text (shell, sql) or object (http, mcp, file)
  std::string cwd;       // optional; placeholders allowed
  std::string expect;    // hold | allow
  std::string cls;       // the corpus's "class"
  std::string why;
  std::string section;           // destructive, obfuscation, tamper, control, burst...
  std::vector<std::string> via;  // default from the channel
  std::string source;            // "built-in:shell.jsonl", or a file path
  int line = 0;

  bool destructive() const { return expect != "allow"; }
};

struct Battery {
  std::vector<Case> cases;
  std::vector<std::string> errors;  // "file:line: message"; those lines are left out
  std::vector<std::string> sources;
  std::string hash;  // SHA-256 over every case as loaded, in order
};

struct BatterySources {
  bool builtin = true;
  std::vector<std::string> files;  // explicit --battery files (must exist)
  // Directories whose *.jsonl are read when present (system, user).
  std::vector<std::string> directories;
};

Battery LoadBattery(const BatterySources& sources);

// Parses one JSONL text into `battery` (appends cases and errors).
void ParseBattery(const std::string& text, const std::string& source, Battery* battery);

// Why a case from a user's own file could touch more than the drill's
// canaries (SQL naming tables outside the canary schema, calls to functions,
// roles or databases; API calls outside the stand-in); empty when it cannot.
// Such a case is an error of its file and never sent (scope.cc).
std::string OutsideScope(const Case& c);
// The same for one SQL text and the schema's real name.
std::string SqlOutsideCanary(const std::string& sql, const std::string& schema);

// The built-in files: name and text.
struct BuiltinFile {
  const char* name;
  const char* text;
};
std::vector<BuiltinFile> BuiltinBattery();

// {canary}, {schema}, {home}, {state_dir}, {config_dir}, {socket}, {binary},
// {user}... replaced by their values; unknown names are left as they are.
using Placeholders = std::map<std::string, std::string>;
std::string Substitute(const std::string& text, const Placeholders& values);
nlohmann::json Substitute(const nlohmann::json& value, const Placeholders& values);

}  // namespace dualkey::drill::internal
