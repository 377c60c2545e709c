// What a simple command prints, when that can be known before running it:
// echo, printf, cat of a here-document or of a file whose content is known,
// base64 -d of known text, pwd, mktemp. The evaluator uses it for $(...)
// values and for text piped into the next command; the dispatcher for the
// content of files written by redirections (`printf 'rm -rf x' > f.sh`).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "shell/internal/invocation.h"

namespace dualkey::shell {

struct PredictedOutput {
  std::optional<std::string> text;  // nullopt: cannot be known
  bool temp = false;                // a fresh temp path (mktemp)
};

// Looks up a file's content for `cat FILE`: written earlier or on disk.
using FileReader = std::function<CodeFile(const Arg& path, std::string_view cwd)>;

// Output larger than this is treated as unknown.
constexpr std::size_t kMaxPredictedOutput = 256 * 1024;

// `redirected`: the output that goes to the command's stdout redirection
// (`printf x > f`) rather than to a pipe.
PredictedOutput PredictOutput(const Invocation& inv, const FileReader& read_file,
                              bool redirected = false);

// printf's FORMAT applied to ARGS (escapes, %s %b %d %c %x %o %q %%, widths,
// reuse of the format while arguments remain). nullopt when it cannot be
// known or would be too large.
std::optional<std::string> FormatPrintf(std::string_view format, std::span<const std::string> args);

// echo -e / printf %b escapes: \n \t \\ \0NNN \xHH ...; `stop` is set by \c.
std::string DecodeEchoEscapes(std::string_view text, bool* stop = nullptr);

// RFC 4648 base64 (whitespace ignored); nullopt if malformed.
std::optional<std::string> DecodeBase64(std::string_view text);

}  // namespace dualkey::shell
