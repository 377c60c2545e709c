// Turns one agent's hook JSON into the guard requests it stands for: a shell
// command, one request per file a file tool touches, or an MCP call. Knows
// each agent's event names, tool names and field names; nothing else.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "guard/guard.h"
#include "hook/hook.h"

namespace dualkey::hook::internal {

struct ToolCall {
  bool ok = false;
  std::string error;          // why the input cannot be checked (ok == false)
  std::string event;          // hook_event_name as sent
  std::string tool;           // the tool's name for messages ("Bash", "write_file")
  bool read_only = false;     // a tool that only reads: allowed unclassified
  bool unknown_tool = false;  // a tool we do not know: held
  std::vector<guard::Request> requests;
};

// Parse errors, unknown events and missing fields come back with ok == false.
ToolCall ParseToolCall(Agent agent, std::string_view json_text, const Environment& env);

// Files an apply_patch envelope touches, with the operation on each
// ("create"/"write" for Add File and Move to, "edit" for Update File,
// "delete" for Delete File and a moved file's old path). False when the text
// is not a patch envelope.
struct PatchFile {
  std::string path;
  std::string operation;
};
bool ParsePatchEnvelope(std::string_view patch, std::vector<PatchFile>* files);

// Cheap structural pre-check before the JSON parser: false when arrays and
// objects nest deeper than `max_depth` (outside strings).
bool NestingWithin(std::string_view json_text, int max_depth);

// JSON text with each lone UTF-16 surrogate escape ("\ud800" without its
// pair) replaced by "\ufffd", in place (same length). JavaScript agents
// write a string holding a lone surrogate that way, and turn it into U+FFFD
// when they hand the string to a process: the replaced text is what runs.
std::string ReplaceLoneSurrogateEscapes(std::string_view json_text);

}  // namespace dualkey::hook::internal
