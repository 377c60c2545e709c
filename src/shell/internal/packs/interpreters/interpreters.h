// The interpreter pack's internals (packs/interpreters/*.cc): the call
// tables, tokens and bindings the scans share, and the pack's handlers.
#pragma once

#include <functional>
#include <initializer_list>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/packs.h"
#include "shell/internal/packs/shared.h"

namespace dualkey::shell::interpreters {

enum class Effect {
  kShell,       // the argument is a shell command line
  kArgv,        // the argument is an argv list (or a program name + list)
  kDeleteTree,  // recursive delete of the path argument
  kDeleteFile,  // delete of the path argument
  kEval,        // evaluates code in the same language
  kRmArgs,      // shelljs rm('-rf', path): the arguments of rm
  kNone,        // listed so a reference to it is not taken for a destroyer
};

struct Call {
  std::string_view name;  // dotted suffix matched on component boundaries
  Effect effect;
};

enum class Language { kPython, kJavaScript, kPerl, kRuby, kPhp, kAwk, kLua, kR };

struct Token {
  enum class Kind { kIdent, kString, kPunct, kOther };
  Kind kind;
  std::string text;           // identifier (dotted), decoded string, or the punct
  bool interpolated = false;  // a string with ${..}/#{..}/{..} parts
};

// The literal first argument after a call name: a string, or a list of
// strings. Returns false when the argument is computed.
struct Argument {
  bool literal = false;
  bool is_list = false;
  std::vector<std::string> strings;
};

// What names stand for, from imports and plain assignments:
//   import shutil as s; from os import system as run; r = shutil.rmtree
//   const cp = require('child_process'); const {execSync: x} = require(...)
//   import {rmSync as r} from 'fs'; p = '/srv/x' (a literal, for arguments)
struct Bindings {
  std::map<std::string, std::string, std::less<>> names;     // alias -> dotted target
  std::map<std::string, std::string, std::less<>> literals;  // variable -> string value
};

// calls.cc
using shared::In;
std::span<const Call> CallsFor(Language language);
// tokenize.cc
std::vector<Token> Tokenize(std::string_view code, Language language);
// bindings.cc
Argument FirstArgument(const std::vector<Token>& tokens, std::size_t name_index);
bool IsDangerousModule(std::string_view name, Language language);
std::string StripModulePrefix(std::string name);
Bindings CollectBindings(const std::vector<Token>& tokens, Language language);
std::string Resolve(const Bindings& bindings, const std::string& name);
void FoldDynamicImports(std::vector<Token>* tokens, Language language, const Invocation& inv,
                        Context& ctx, std::string_view interpreter);
std::size_t MatchingClose(const std::vector<Token>& tokens, std::size_t open);
bool InArgumentPosition(const std::vector<Token>& tokens, std::size_t i);
// scan.cc
bool MatchesCall(std::string_view ident, std::string_view name);
// Classifies a command the code runs (words known as written) one level
// deeper, in the same folder and on the same host.
void RunArgv(const Invocation& inv, Context& ctx, std::vector<std::string> words);
void ApplyCall(const Call& call, const Argument& arg, Language language, const Invocation& inv,
               Context& ctx, std::string_view interpreter, int eval_depth);
const Call* FindCall(std::span<const Call> calls, const std::string& text, Language language);
void ScanCode(std::string_view code, Language language, const Invocation& inv, Context& ctx,
              std::string_view interpreter, int eval_depth);
void RunInterpreter(const Invocation& inv, Context& ctx, Language language,
                    std::initializer_list<std::string_view> code_flags,
                    std::initializer_list<std::string_view> value_flags);
void Python(const Invocation& inv, Context& ctx);
void Node(const Invocation& inv, Context& ctx);
void Deno(const Invocation& inv, Context& ctx);
void Perl(const Invocation& inv, Context& ctx);
void Ruby(const Invocation& inv, Context& ctx);
void Php(const Invocation& inv, Context& ctx);
void Lua(const Invocation& inv, Context& ctx);
void Rscript(const Invocation& inv, Context& ctx);
bool ReadsCodeOnStdin(std::string_view command);
void Awk(const Invocation& inv, Context& ctx);
// powershell.cc
void ScanPowerShell(std::string_view code, const Invocation& inv, Context& ctx, int depth);
void PowerShell(const Invocation& inv, Context& ctx);

}  // namespace dualkey::shell::interpreters
