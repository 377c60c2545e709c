// The git pack's internals (packs/git/*.cc): the parsed command line the
// subcommand handlers share, and the handlers git.cc dispatches to.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/packs.h"
#include "shell/internal/paths.h"

namespace dualkey::shell::gitpack {

using std::string_view;

struct GitCommand {
  std::string repo;                  // from -C, resolved; empty when it is the cwd
  std::string alias_script;          // `-c alias.X=!cmd` when X is the subcommand
  std::string alias_expansion;       // `-c alias.X='push -f'`: git words X stands for
  std::vector<Arg> settings;         // every -c KEY=VALUE
  std::size_t subcommand_index = 0;  // in inv.argv
  bool require_force_off = false;    // -c clean.requireForce=false
  std::optional<Arg> subcommand;
  std::span<const Arg> args;  // after the subcommand
};

// common.cc
bool IsProtectedBranch(string_view ref);
bool In(string_view text, std::initializer_list<string_view> set);
bool IsTagRef(string_view ref);
GitCommand ParseGit(const Invocation& inv, Context& ctx);
std::string RepoLabel(const GitCommand& git, const Invocation& inv);
void Emit(Context& ctx, string_view op_class, std::string target, Reversibility reversibility,
          Severity severity, std::string reason);
bool IsDryRun(std::span<const Arg> args);

// code.cc
bool IsCommandSetting(string_view key);
void RunGitCode(const Invocation& inv, Context& ctx, const std::string& cwd, const Arg& code,
                std::string what);
void ClassifySetting(const Invocation& inv, Context& ctx, const std::string& cwd, string_view key,
                     const Arg& value, string_view how);
void ClassifyGitEnvironment(const Invocation& inv, Context& ctx, const std::string& cwd);
void HandleConfig(const GitCommand& git, const Invocation& inv, Context& ctx);
void HandleSubmodule(const GitCommand& git, const Invocation& inv, Context& ctx);
void HandleRebase(const GitCommand& git, const Invocation& inv, Context& ctx);
void HandleBisect(const GitCommand& git, const Invocation& inv, Context& ctx);
void HandleDifftool(const GitCommand& git, const Invocation& inv, Context& ctx);
void ClassifyTransport(const GitCommand& git, const Invocation& inv, Context& ctx);

// subcommands.cc
void HandlePush(const GitCommand& git, const Invocation& inv, Context& ctx);
bool ExpiresEverything(string_view value);
void HandleReflog(const GitCommand& git, const Invocation& inv, Context& ctx);
void HandleGc(const GitCommand& git, const Invocation& inv, Context& ctx);
void HandlePrune(const GitCommand& git, const Invocation& inv, Context& ctx);
void HandleRewrite(const GitCommand& git, const Invocation& inv, Context& ctx);
void HandleClean(const GitCommand& git, const Invocation& inv, Context& ctx);
bool IsWholeTreeSpec(const Arg& spec);
void EmitDiscard(const GitCommand& git, const Invocation& inv, Context& ctx, bool whole_tree,
                 std::string what);
std::vector<Arg> WithoutAttachedValues(std::span<const Arg> args, std::string_view letters);
void HandleCheckout(const GitCommand& git, const Invocation& inv, Context& ctx);
void HandleRestore(const GitCommand& git, const Invocation& inv, Context& ctx);
void HandleSwitch(const GitCommand& git, const Invocation& inv, Context& ctx);
void HandleReset(const GitCommand& git, const Invocation& inv, Context& ctx);
void HandleBranch(const GitCommand& git, const Invocation& inv, Context& ctx);
void HandleStash(const GitCommand& git, const Invocation& inv, Context& ctx);
void HandleUpdateRef(const GitCommand& git, const Invocation& inv, Context& ctx);
void HandleRm(const GitCommand& git, const Invocation& inv, Context& ctx);
void HandleWorktree(const GitCommand& git, const Invocation& inv, Context& ctx);

}  // namespace dualkey::shell::gitpack
