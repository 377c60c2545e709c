#include "file/file.h"

#include <string>

#include "paths/names.h"
#include "paths/paths.h"
#include "protect/protect.h"

namespace dualkey::file {
namespace {

using std::string_view;

bool IsUnder(string_view path, string_view dir) {
  return paths::IsSameOrUnder(path, dir);
}

Action Make(string_view op_class, std::string target, Reversibility reversibility,
            Severity severity, std::string reason) {
  return MakeAction(Channel::kFile, std::string(op_class), {std::move(target)}, reversibility,
                    severity, std::move(reason));
}

// "write" -> "overwrites", for reasons a human reads.
string_view Verb(Operation operation) {
  switch (operation) {
    case Operation::kCreate:
      return "creates";
    case Operation::kWrite:
      return "overwrites";
    case Operation::kEdit:
      return "edits";
    case Operation::kDelete:
      return "deletes";
  }
  return "changes";
}

// The class suffix per operation: "fs.write.system", "fs.delete.system".
string_view OpWord(Operation operation) {
  switch (operation) {
    case Operation::kCreate:
      return "create";
    case Operation::kWrite:
      return "write";
    case Operation::kEdit:
      return "edit";
    case Operation::kDelete:
      return "delete";
  }
  return "write";
}

// Losing the old content: a replaced or deleted file is gone; an edit keeps
// most of it; a new file loses nothing.
Reversibility LossOf(Operation operation) {
  switch (operation) {
    case Operation::kCreate:
      return Reversibility::kReversible;
    case Operation::kEdit:
      return Reversibility::kRecoverable;
    case Operation::kWrite:
    case Operation::kDelete:
      return Reversibility::kIrreversible;
  }
  return Reversibility::kUnknown;
}

Action Classify(const paths::ResolvedPath& resolved, Operation operation, string_view cwd,
                string_view home) {
  const std::string& path = resolved.path;
  const std::string verb(Verb(operation));
  const std::string word(OpWord(operation));
  const Reversibility loss = LossOf(operation);

  // dualkey's own state, keys, socket, policy and binary, and the agents'
  // hook settings (protect/protect.h): guard.tamper, never below hold2.
  const protect::Place place = protect::Classify(path, home);
  if (protect::IsGuard(place.kind))
    return Make("guard.tamper", path, Reversibility::kIrreversible, Severity::kCritical,
                verb + " " + std::string(place.what) + " (" + path +
                    "): an agent must not change the guard that checks it or switch it off");

  switch (resolved.kind) {
    case paths::PathKind::kDevice:
      return Make("disk.write", path, Reversibility::kIrreversible, Severity::kCritical,
                  verb + " the device " + path + " directly");
    case paths::PathKind::kBackup:
      if (operation == Operation::kCreate)
        return Make("backup.create", path, Reversibility::kReversible, Severity::kNone,
                    "creates a new file among backups (" + path + ")");
      return Make(operation == Operation::kDelete ? "backup.delete" : "backup.modify", path,
                  Reversibility::kIrreversible, Severity::kCritical,
                  verb + " a backup (" + path + "): backups are the way back from every mistake");
    case paths::PathKind::kRoot:
    case paths::PathKind::kSystem:
      return Make("fs." + word + ".system", path, Reversibility::kIrreversible, Severity::kHigh,
                  verb + " the system file " + path);
    case paths::PathKind::kHome:
      return Make("fs." + word + ".home", path, Reversibility::kIrreversible, Severity::kHigh,
                  verb + " the home directory itself (" + path + ")");
    case paths::PathKind::kVcs:
      return Make("vcs.internal." + word, path, Reversibility::kRecoverable, Severity::kMedium,
                  verb + " git's internals (" + path +
                      "): hooks and config there run code and rewrite history");
    default:
      break;
  }
  if (paths::IsSensitiveHomeEntry(path, home))
    return Make("credentials." + word, path, Reversibility::kIrreversible, Severity::kHigh,
                verb + " keys or credentials (" + path + ")");
  if (place.kind == protect::Kind::kStartupFile)
    return Make("fs." + word + ".startup", path, Reversibility::kRecoverable, Severity::kMedium,
                verb + " a shell startup file (" + path + "), which runs in every new shell");

  switch (resolved.kind) {
    case paths::PathKind::kTemp:
    case paths::PathKind::kNull:
    case paths::PathKind::kDisposable:
      return Make("fs." + word + ".disposable", path, loss, Severity::kLow,
                  verb + " a temporary or rebuildable file (" + path + ")");
    case paths::PathKind::kUnknown:
      return Make("fs." + word + ".unresolved", path, Reversibility::kUnknown, Severity::kMedium,
                  verb + " a path dualkey cannot resolve (" + path + ")");
    case paths::PathKind::kData:
      if (operation != Operation::kCreate)
        return Make("fs." + word + ".data", path, loss, Severity::kHigh,
                    verb + " database or service data (" + path + ")");
      break;
    default:
      break;
  }

  // Relative paths with no known working directory stay relative: they are
  // inside the agent's project by construction.
  const bool absolute = !path.empty() && path[0] == '/';
  const bool outside = absolute && (cwd.empty() ? true : !IsUnder(path, cwd));
  if (!outside) {
    if (operation == Operation::kDelete)
      return Make("fs.delete", path, Reversibility::kRecoverable, Severity::kLow,
                  "deletes one file in the project (" + path + ")");
    return Make("fs." + word, path, Reversibility::kReversible, Severity::kNone,
                verb + " a file in the project (" + path + ")");
  }
  switch (operation) {
    case Operation::kWrite:
    case Operation::kDelete:
      return Make("fs." + word + ".outside_project", path, Reversibility::kIrreversible,
                  Severity::kMedium,
                  verb + " a file outside the project (" + path + "); its old content is lost");
    case Operation::kEdit:
      return Make("fs.edit.outside_project", path, Reversibility::kRecoverable, Severity::kLow,
                  "edits part of a file outside the project (" + path + ")");
    case Operation::kCreate:
      break;
  }
  return Make("fs.create.outside_project", path, Reversibility::kReversible, Severity::kLow,
              "creates a new file outside the project (" + path + ")");
}

}  // namespace

bool ParseOperation(string_view text, Operation* out) {
  static constexpr struct {
    string_view name;
    Operation operation;
  } kNames[] = {{"create", Operation::kCreate},
                {"write", Operation::kWrite},
                {"edit", Operation::kEdit},
                {"delete", Operation::kDelete}};
  for (const auto& entry : kNames) {
    if (entry.name == text) {
      *out = entry.operation;
      return true;
    }
  }
  return false;
}

string_view ToString(Operation operation) {
  return OpWord(operation);
}

std::vector<Action> ClassifyFileWrite(string_view path, string_view operation, string_view cwd,
                                      string_view home) {
  std::vector<Action> actions;
  Operation op;
  if (!ParseOperation(operation, &op)) {
    actions.push_back(Make("opaque.file", std::string(path), Reversibility::kUnknown,
                           Severity::kHigh,
                           "unknown file operation '" + std::string(operation) + "'"));
    return actions;
  }
  if (path.empty() || path.find('\0') != string_view::npos) {
    actions.push_back(Make("opaque.file", std::string(path), Reversibility::kUnknown,
                           Severity::kHigh, "a file tool without a usable path"));
    return actions;
  }
  // A file tool's path is literal: no variables, globs or command
  // substitution. Only a leading ~ is the home, as agents' tools expand it.
  paths::PathWord arg;
  arg.text = std::string(path);
  std::string normalized_cwd =
      !cwd.empty() && cwd[0] == '/' ? paths::NormalizePath(cwd) : std::string();
  std::string normalized_home =
      !home.empty() && home[0] == '/' ? paths::NormalizePath(home) : std::string();
  paths::ResolvedPath resolved = paths::ResolvePath(arg, normalized_cwd, normalized_home);
  if (resolved.kind == paths::PathKind::kUnknown && (path[0] == '/' || !normalized_cwd.empty())) {
    // "$" or "`" in a literal file name: resolve it ourselves, judged by place.
    std::string absolute =
        path[0] == '/' ? std::string(path) : normalized_cwd + "/" + std::string(path);
    resolved.path = paths::NormalizePath(absolute);
    paths::PathWord plain;
    plain.text = resolved.path;
    for (char& c : plain.text)
      if (c == '$' || c == '`') c = '_';
    resolved.kind = paths::ResolvePath(plain, "", normalized_home).kind;
  }
  actions.push_back(Classify(resolved, op, normalized_cwd, normalized_home));
  return actions;
}

}  // namespace dualkey::file
