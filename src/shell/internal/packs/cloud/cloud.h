// The cloud pack's internals (packs/cloud/*.cc): the command as words, the
// helpers that read it, and the handlers kCloudRules (cloud.cc) names.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/packs.h"
#include "shell/internal/packs/shared.h"
#include "shell/internal/paths.h"

namespace dualkey::shell::cloud {

struct CloudTool {
  std::string_view name;       // basename as typed
  std::string_view canonical;  // the name rules use
  std::span<const std::string_view> with_value;
};

// The command as words: indices into `args` of everything not an option.
struct CloudCommand {
  std::string_view tool;
  std::span<const Arg> args;
  std::vector<std::size_t> words;

  std::string_view Word(std::size_t k) const {
    return k < words.size() ? std::string_view(args[words[k]].text) : std::string_view();
  }
  // Arguments after the k-th word (its options and operands).
  std::span<const Arg> After(std::size_t k) const {
    return k < words.size() ? args.subspan(words[k] + 1) : std::span<const Arg>();
  }
};

using RuleHandler = void (*)(const Invocation& inv, const CloudCommand& cmd, Context& ctx);

// command.cc
using base::IContains;
using shared::ArgsOf;
using shared::Emit;
using shared::EmitRead;
using shared::Lower;
void EmitUnknownVerb(Context& ctx, std::string_view tool, std::string_view word);
bool NamesBackup(std::string_view text);
const CloudTool* FindTool(std::string_view name);
CloudCommand Collect(const CloudTool& tool, std::span<const Arg> args);
bool HasOption(std::span<const Arg> args, std::string_view name);
std::string_view OptionText(std::span<const Arg> args, std::string_view name);
bool IsDryRun(std::span<const Arg> args);
bool IsTargetOption(std::string_view name);
std::vector<std::string> TargetsOf(const CloudCommand& cmd, std::size_t verb);
bool AnyNamesBackup(const CloudCommand& cmd, std::size_t upto,
                    const std::vector<std::string>& targets);

// handlers.cc
bool IsS3(std::string_view text);
void AwsS3(const Invocation& inv, const CloudCommand& cmd, Context& ctx);
void Gsutil(const Invocation& inv, const CloudCommand&, Context& ctx);
void RemoteScript(Context& ctx, const Invocation& inv, std::string_view script,
                  std::string_view what);
void FlySsh(const Invocation& inv, const CloudCommand& cmd, Context& ctx);
void GcloudSsh(const Invocation& inv, const CloudCommand& cmd, Context& ctx);
void AzRunCommand(const Invocation& inv, const CloudCommand& cmd, Context& ctx);
void AwsSsmSend(const Invocation&, const CloudCommand&, Context& ctx);
void AwsEcsExec(const Invocation& inv, const CloudCommand& cmd, Context& ctx);
void RunInner(const Invocation& inv, const CloudCommand& cmd, Context& ctx, bool local);
void HerokuRun(const Invocation& inv, const CloudCommand& cmd, Context& ctx);
void RailwayRun(const Invocation& inv, const CloudCommand& cmd, Context& ctx);
void SqlConsole(const Invocation& inv, const CloudCommand& cmd, Context& ctx,
                std::string_view option, std::string_view short_option, SqlDialect dialect,
                std::size_t positional_sql);
void HerokuPsql(const Invocation& inv, const CloudCommand& cmd, Context& ctx);
void WranglerD1(const Invocation& inv, const CloudCommand& cmd, Context& ctx);
void TursoShell(const Invocation& inv, const CloudCommand& cmd, Context& ctx);
void BqQuery(const Invocation& inv, const CloudCommand& cmd, Context& ctx);

}  // namespace dualkey::shell::cloud
