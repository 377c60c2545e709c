#include "cli/help.h"

#include <limits.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/commands.h"

namespace dualkey::cli {
namespace {

// The command list shows each command's first line; the rest of its
// description (examples, exit statuses) is in its own --help.
class Layout : public CLI::Formatter {
 public:
  std::string make_subcommand(const CLI::App* sub) const override {
    // The first sentence, on one line.
    std::string description;
    for (char c : sub->get_description()) {
      const char last = description.empty() ? '\0' : description.back();
      if ((last == '.' && (c == ' ' || c == '\n')) || (last == ':' && c == '\n')) break;
      description.push_back(c == '\n' ? ' ' : c);
    }
    if (description.ends_with(':')) description.pop_back();
    std::stringstream out;
    CLI::detail::format_help(out, sub->get_display_name(true), description, get_column_width());
    return out.str();
  }
  std::string make_footer(const CLI::App* app) const override {
    std::string footer = CLI::Formatter::make_footer(app);
    if (app->get_parent() == nullptr)
      footer +=
          "Run 'dualkey COMMAND --help' for a command's options and examples, 'dualkey "
          "--help-all'\nfor every command at once. Documentation: docs/ in the source, "
          "share/doc/dualkey when installed.\n";
    else if (!app->get_subcommands({}).empty())
      footer += "Run '" + CommandPath(app) + " COMMAND --help' for a command's options.\n";
    return footer;
  }

  static std::string CommandPath(const CLI::App* app) {
    std::string path;
    for (const CLI::App* a = app; a != nullptr; a = a->get_parent())
      path = a->get_name() + (path.empty() ? "" : " " + path);
    return path;
  }
};

// Optimal string alignment distance: insertions, deletions, substitutions
// and swaps of neighbours each cost one.
std::size_t Distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

std::vector<std::string> SubcommandNames(CLI::App* app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app->get_subcommands([](CLI::App*) { return true; }))
    if (!sub->get_name().empty()) names.push_back(sub->get_name());
  return names;
}

std::vector<std::string> OptionNames(CLI::App* app) {
  std::vector<std::string> names;
  for (const CLI::Option* option : app->get_options()) {
    if (option->get_group().empty()) continue;  // hidden: aliases, test flags
    for (const std::string& name : option->get_lnames()) names.push_back("--" + name);
    for (const std::string& name : option->get_snames()) names.push_back("-" + name);
  }
  return names;
}

std::string CommandPath(const CLI::App* app) {
  std::string path;
  for (const CLI::App* a = app; a != nullptr; a = a->get_parent())
    path = a->get_name() + (path.empty() ? "" : " " + path);
  return path;
}

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  std::optional<std::string> nearest = Nearest(word, candidates);
  return nearest ? " Did you mean '" + *nearest + "'?" : "";
}

std::string List(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

std::optional<std::string> Nearest(std::string_view word,
                                   const std::vector<std::string>& candidates) {
  if (word.empty()) return std::nullopt;
  // A typo is a few edits for its length: one in a short word, more in a
  // longer one (the dashes of an option are not part of the word).
  const std::size_t letters = word.size() - std::min(word.find_first_not_of('-'), word.size());
  const std::size_t allowed = letters <= 4 ? 1 : letters <= 8 ? 2 : 3;
  std::optional<std::string> best;
  std::size_t best_distance = allowed + 1;
  for (const std::string& candidate : candidates) {
    const std::size_t d = Distance(word, candidate);
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  if (best) return best;
  // An unambiguous beginning of a longer name ("--retention" for
  // "--retention-days").
  std::optional<std::string> prefixed;
  for (const std::string& candidate : candidates) {
    if (letters < 3 || !candidate.starts_with(word)) continue;
    if (prefixed) return std::nullopt;
    prefixed = candidate;
  }
  return prefixed;
}

void TeachingHelp(CLI::App& app) {
  app.formatter(std::make_shared<Layout>());
  app.set_help_all_flag("--help-all", "Print the help of every command at once and exit");
}

int ReportParseError(CLI::App& app, const CLI::ParseError& error, int argc, char** argv) {
  if (error.get_exit_code() == 0) return app.exit(error);  // --help, --help-all, --version
  if (argc <= 1) {
    std::cerr << app.help();
    return 2;
  }

  // Walk the words the way the parser does, to the first it did not know.
  CLI::App* current = &app;
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word == "--") break;
    if (word.size() > 1 && word[0] == '-') {
      const bool long_form = word.starts_with("--");
      const std::string name = long_form ? word.substr(0, word.find('=')) : word.substr(0, 2);
      const CLI::Option* option = current->get_option_no_throw(name);
      if (option == nullptr) {
        std::cerr << CommandPath(current) << ": unknown option '" << name << "'."
                  << DidYouMean(name, OptionNames(current)) << "\nRun '" << CommandPath(current)
                  << " --help' for its options.\n";
        return 2;
      }
      const bool value_attached = long_form ? word.find('=') != std::string::npos : word.size() > 2;
      if (option->get_items_expected_min() > 0 && !value_attached) {
        ++i;  // its value
        if (option->get_items_expected_max() > 1 && option->get_allow_extra_args())
          while (i + 1 < argc && argv[i + 1][0] != '-') ++i;
      }
      continue;
    }
    const std::vector<std::string> subcommands = SubcommandNames(current);
    if (subcommands.empty()) continue;  // a positional argument
    CLI::App* next = nullptr;
    for (CLI::App* sub : current->get_subcommands([](CLI::App*) { return true; }))
      if (!sub->get_name().empty() && sub->check_name(word)) next = sub;
    if (next == nullptr) {
      std::cerr << CommandPath(current) << ": '" << word << "' is not a " << CommandPath(current)
                << " command." << DidYouMean(word, subcommands)
                << "\nCommands: " << List(subcommands) << ".\nRun '" << CommandPath(current)
                << " --help' for what each does.\n";
      return 2;
    }
    current = next;
  }
  // Every word was known: the parser's own complaint (a value missing, a
  // required argument), said in the command it is about.
  const std::vector<std::string> subcommands = SubcommandNames(current);
  if (!subcommands.empty() && std::string(error.what()).find("subcommand") != std::string::npos) {
    std::cerr << CommandPath(current) << ": which command? " << List(subcommands) << ".\nRun '"
              << CommandPath(current) << " --help' for what each does.\n";
    return 2;
  }
  std::cerr << CommandPath(current) << ": " << error.what() << "\nRun '" << CommandPath(current)
            << " --help' for its options.\n";
  return 2;
}

std::string CurrentDirectory() {
  char buffer[PATH_MAX];
  if (getcwd(buffer, sizeof(buffer)) == nullptr) return {};
  return buffer;
}

void AddStateDir(CLI::App* cmd, std::string& dir, const std::string& help) {
  cmd->add_option("--state-dir", dir, help)->option_text("DIR");
  cmd->add_option("--state", dir, "the same as --state-dir")->group("");
}

}  // namespace dualkey::cli
