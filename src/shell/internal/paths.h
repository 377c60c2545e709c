// The shell's view of paths: the paths module (paths/paths.h, names.h) with
// its names used unqualified in the shell, and a shell word resolved as a path.
#pragma once

#include <string_view>

#include "paths/names.h"
#include "paths/paths.h"
#include "shell/internal/invocation.h"

namespace dualkey::shell {

using paths::BaseName;
using paths::DirName;
using paths::GlobBase;
using paths::IsDatabaseFileName;
using paths::IsLogFileName;
using paths::IsProjectContainerName;
using paths::IsPureWildcard;
using paths::IsSameOrUnder;
using paths::IsSensitiveHomeEntry;
using paths::NormalizePath;
using paths::PathDepth;
using paths::PathKind;
using paths::ResolvedPath;
using paths::ToString;

inline paths::PathWord AsPathWord(const Arg& arg) {
  return paths::PathWord{arg.text, arg.known, arg.glob, arg.temp};
}

// `cwd` may be empty (unknown): relative paths are then judged by their names.
inline ResolvedPath ResolvePath(const Arg& arg, std::string_view cwd, std::string_view home) {
  return paths::ResolvePath(AsPathWord(arg), cwd, home);
}

}  // namespace dualkey::shell
