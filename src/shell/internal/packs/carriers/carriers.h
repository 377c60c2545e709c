// The carrier pack's internals (packs/carriers/*.cc): the helpers the carrier
// handlers share, and the handlers the pack table (carriers.cc) names.
#pragma once

#include <array>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/packs.h"
#include "shell/internal/packs/shared.h"
#include "shell/internal/paths.h"

namespace dualkey::shell::carriers {

using Args = std::span<const Arg>;
using std::string_view;

// ------------------------------------------------------------------ common.cc

using shared::In;
using shared::Opaque;
string_view Basename(string_view path);
using shared::Inner;
std::string Join(Args args, bool* known);
void RunScriptText(const Invocation& inv, Context& ctx, const Arg& script, const std::string& what);
void RunArgv(const Invocation& inv, Context& ctx, Args argv);
void RunArgv(const Invocation& inv, Context& ctx, std::vector<std::string> words);
enum class StdinKind { kNone, kText, kUnknown };
StdinKind ReadStdin(const Invocation& inv, Context& ctx, std::string* text, std::string* source);

// ------------------------------------------------------------ code_files.cc

std::string ShebangInterpreter(string_view text);
bool IsShellName(string_view name);
void ClassifyMakefileText(string_view text, const Invocation& inv, Context& ctx, bool project_code);

// ------------------------------------------------------------- scheduled.cc

void ClassifyCrontabText(string_view text, bool user_field, const Invocation& inv, Context& ctx,
                         bool project_code);

// --------------------------------------------------------------- runners.cc

// A command that runs the command that follows it: `unshare -m rm -rf /`.
struct RunnerSpec {
  string_view name;
  string_view subcommand;        // required first word ("run", "exec"); empty: none
  string_view short_with_value;  // option letters that take a value (-u X, -uX)
  std::initializer_list<string_view> long_with_value;  // --opt X (also --opt=X)
  int operands_before = 0;       // words before the command (chroot NEWROOT, taskset MASK)
  bool shell_string = false;     // the rest is shell text, joined (watchexec 'make test')
  string_view command_option;    // the command follows this option (xterm -e CMD ...)
  string_view no_command_flags;  // short flags that mean "no command runs" (taskset -p)
};

const std::array<RunnerSpec, 56>& Runners();
const std::array<RunnerSpec, 10>& TerminalRunners();

// ----------------------------------------------------------------- handlers

void HandleAt(const Invocation& inv, Context& ctx);
void HandleCrontab(const Invocation& inv, Context& ctx);
void HandleTmux(const Invocation& inv, Context& ctx);
void HandleScreen(const Invocation& inv, Context& ctx);
void HandleVim(const Invocation& inv, Context& ctx);
void HandleEmacs(const Invocation& inv, Context& ctx);
void HandleExpect(const Invocation& inv, Context& ctx);
void HandleMake(const Invocation& inv, Context& ctx);
void HandleGdb(const Invocation& inv, Context& ctx);
void HandleRunner(const Invocation& inv, Context& ctx);
void HandleCoreutils(const Invocation& inv, Context& ctx);
void HandleIp(const Invocation& inv, Context& ctx);
void HandleCapsh(const Invocation& inv, Context& ctx);
void HandleSg(const Invocation& inv, Context& ctx);
void HandleScriptOption(const Invocation& inv, Context& ctx);

}  // namespace dualkey::shell::carriers
