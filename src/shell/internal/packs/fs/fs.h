// The file system pack's internals (packs/fs/*.cc): how a delete or write is
// judged (assess.cc), shared by the command handlers the pack table names.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "shell/internal/packs/packs.h"
#include "shell/internal/packs/shared.h"
#include "shell/internal/paths.h"

namespace dualkey::shell::fs {

using std::string_view;

// What one operation does to one resolved target.
struct Assessment {
  string_view op_class;
  Severity severity = Severity::kNone;
  Reversibility reversibility = Reversibility::kIrreversible;
  string_view what;  // the kind of place, for the reason
  // Held by the name rules alone (an ordinary folder of a project): facts
  // about what the delete loses (FactsDecide) may settle it.
  bool facts_may_decide = false;
  // Low impact by the names (one ordinary file deleted or emptied): the
  // facts raise it when no version control can give the data back.
  bool raised_when_unversioned = false;
};

enum class WriteMode { kTruncate, kAppend };

// assess.cc
using shared::ArgsOf;
string_view HomeOf(string_view path, string_view home);
bool MatchesEveryName(string_view name);
bool IsWholeProject(string_view path, const Invocation& inv, string_view home);
bool LooksLikeFileName(string_view name);
bool IsDockerVolumePath(string_view path);
Assessment AssessDelete(const ResolvedPath& target, bool recursive, const Invocation& inv,
                        string_view home);
bool IsUnderProcOrSys(string_view path);
std::optional<Assessment> AssessWrite(const ResolvedPath& target, WriteMode mode, bool emptying,
                                      string_view home);
void EmitAssessment(Context& ctx, const Assessment& assessment, string_view target,
                    string_view verb, string_view note = {});
ResolvedPath Resolve(const Arg& arg, const Invocation& inv, Context& ctx);
Assessment DecideByFacts(const ResolvedPath& target, const Arg& operand, Assessment assessment,
                         const Invocation& inv, Context& ctx, std::string* note);
Assessment RaiseWhenUnversioned(const ResolvedPath& target, const Arg& operand,
                                Assessment assessment, const Invocation& inv, Context& ctx,
                                std::string* note);
void EmitDelete(const Arg& operand, bool recursive, string_view verb, const Invocation& inv,
                Context& ctx, std::string note = {});
std::optional<Arg> ProbeForUnknown(const Arg& arg);
ResolvedPath ResolveWriteTarget(const Arg& arg, const Invocation& inv, Context& ctx);
void EmitWrite(const Arg& arg, WriteMode mode, bool emptying, string_view verb,
               const Invocation& inv, Context& ctx);
bool IsEmptyingCommand(const Invocation& inv);

// handlers
void HandleRm(const Invocation& inv, Context& ctx);
void HandleUnlink(const Invocation& inv, Context& ctx);
void HandleRmdir(const Invocation& inv, Context& ctx);
void HandleShred(const Invocation& inv, Context& ctx);
void HandleTruncate(const Invocation& inv, Context& ctx);
void HandleMv(const Invocation& inv, Context& ctx);
void HandleCp(const Invocation& inv, Context& ctx);
void HandleRsyncRemoveSources(const Invocation& inv, Context& ctx);
void HandleRsync(const Invocation& inv, Context& ctx);
void HandleTar(const Invocation& inv, Context& ctx);
void HandleTee(const Invocation& inv, Context& ctx);
void HandleSort(const Invocation& inv, Context& ctx);
void HandleSed(const Invocation& inv, Context& ctx);
void HandleInstall(const Invocation& inv, Context& ctx);
void HandleLn(const Invocation& inv, Context& ctx);
void HandleFallocate(const Invocation& inv, Context& ctx);
void HandleRimraf(const Invocation& inv, Context& ctx);
void HandlePermissions(const Invocation& inv, Context& ctx);

}  // namespace dualkey::shell::fs
