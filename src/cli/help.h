// The command line's teaching side: help laid out for people (a command
// list of one line each, the examples in each command's own --help,
// --help-all for everything) and, on the error path only, what was not
// understood and what was probably meant ("did you mean 'check'?").
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
class ParseError;
}  // namespace CLI

namespace dualkey::cli {

// Installs the help layout and --help-all on `app`. Call before adding
// subcommands (they take their parent's layout when they are made).
void TeachingHelp(CLI::App& app);

// Prints the answer to a parse error: help and version as asked (exit 0);
// otherwise which word or option of argv was not understood, in which
// command, with the nearest known one and where to read more (exit 2).
int ReportParseError(CLI::App& app, const CLI::ParseError& error, int argc, char** argv);

// The candidate nearest to `word` when it is near enough to be a typo (a
// few edits, a swapped pair, or an unambiguous prefix), else nothing.
std::optional<std::string> Nearest(std::string_view word,
                                   const std::vector<std::string>& candidates);

}  // namespace dualkey::cli
