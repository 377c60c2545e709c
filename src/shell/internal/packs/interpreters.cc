// Interpreter one-liners (python -c, node -e, perl -e, ruby -e, php -r,
// awk, lua -e): the code is tokenised (strings, identifiers, punctuation) and
// scanned for the calls of each language that delete files or run shell
// commands. A literal argument is followed (shell text back into the shell
// guard, paths into the fs pack); a computed one is opaque and held. Text in
// print() or console.log() is data and stays allowed.
//
// This file holds the pack table; the scans live under packs/interpreters/,
// with their shared types in packs/interpreters/interpreters.h.
#include "shell/internal/packs/interpreters/interpreters.h"

#include "shell/internal/packs/packs.h"

namespace dualkey::shell {
namespace {

constexpr PackEntry kInterpreters[] = {
    {"python", interpreters::Python},
    {"python2", interpreters::Python},
    {"python3", interpreters::Python, true},
    {"pypy3", interpreters::Python},
    {"pypy", interpreters::Python},
    {"node", interpreters::Node},
    {"nodejs", interpreters::Node},
    {"bun", interpreters::Node},
    {"deno", interpreters::Deno},
    {"perl", interpreters::Perl},
    {"ruby", interpreters::Ruby},
    {"php", interpreters::Php},
    {"awk", interpreters::Awk},
    {"gawk", interpreters::Awk},
    {"mawk", interpreters::Awk},
    {"nawk", interpreters::Awk},
    {"lua", interpreters::Lua},
    {"luajit", interpreters::Lua},
    {"Rscript", interpreters::Rscript},
    {"pwsh", interpreters::PowerShell},
    {"powershell", interpreters::PowerShell},
    {"powershell.exe", interpreters::PowerShell},
    {"pwsh.exe", interpreters::PowerShell},
};

}  // namespace

std::span<const PackEntry> InterpreterPack() {
  return kInterpreters;
}

}  // namespace dualkey::shell
