// What builtins do to the state later commands see (cd, export, set, alias,
// trap, source, eval ...): Evaluator::RunBuiltinEffects.

#include <algorithm>
#include <cctype>
#include <functional>
#include <optional>
#include <span>

#include "shell/internal/evaluate.h"
#include "shell/internal/evaluate_words.h"
#include "shell/internal/parser.h"

namespace dualkey::shell {

using namespace evaluate_words;

namespace {

std::string JoinPath(std::string_view base, std::string_view rel) {
  if (rel.starts_with('/')) return std::string(rel);
  std::string out(base);
  if (out.empty() || out.back() != '/') out.push_back('/');
  out.append(rel);
  return out;
}

// Folds "." and ".." so `cd ../..` keeps an exact cwd.
std::string Normalize(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view part = path.substr(i, j - i);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j;
  }
  std::string out;
  for (std::string_view part : parts) {
    out.push_back('/');
    out.append(part);
  }
  return out.empty() ? "/" : out;
}
}  // namespace
// Builtins that change the state later commands see, or run code.
void Evaluator::RunBuiltinEffects(const Invocation& inv) {
  if (inv.argv.empty() || !inv.argv[0].known || Spent()) return;
  const std::string_view name = inv.argv[0].text;
  // The builtins below, sorted: most commands are none of them.
  static constexpr std::string_view kStateful[] = {
      ".",      "[",       "alias",   "cd",        "declare",  "enable",  "eval",
      "export", "getopts", "hash",    "let",       "local",    "mapfile", "popd",
      "printf", "pushd",   "read",    "readarray", "readonly", "source",  "test",
      "trap",   "typeset", "unalias", "unset",     "wait"};
  if (!std::binary_search(std::begin(kStateful), std::end(kStateful), name)) return;
  auto args = std::span<const Arg>(inv.argv).subspan(1);
  auto is_option = [](const Arg& arg) {
    return arg.text.size() > 1 && (arg.text[0] == '-' || arg.text[0] == '+');
  };
  if (name == "eval") {
    // Runs here, so what it defines (functions, aliases, variables) stays.
    const Arg joined = JoinArgs(args);
    const std::string& script = joined.text;
    if (!joined.known)
      sink_.OnOpaque("eval runs shell text computed at run time (" + script + ")");
    else if (!script.empty())
      RunText(script, "eval");
    return;
  }
  if (name == "source" || name == ".") {
    if (args.empty()) return;
    if (!args[0].known) {
      sink_.OnOpaque("`" + std::string(name) +
                     "` reads shell code from a source computed at run time (" + args[0].text +
                     ")");
      return;
    }
    if (std::optional<InvocationSink::SourcedText> sourced = sink_.SourceFile(inv)) {
      if (sourced->project_code) sink_.ProjectCode(true);
      RunText(sourced->text, std::string(name) + " " + args[0].text);
      if (sourced->project_code) sink_.ProjectCode(false);
    }
    return;
  }
  if (name == "cd" || name == "pushd") {
    std::vector<Arg> operands;
    for (const Arg& arg : args)
      if (!(arg.text.size() > 1 && arg.text[0] == '-')) operands.push_back(arg);
    if (operands.empty()) {
      if (name == "cd") cwd_ = home_;
      return;
    }
    const Arg& target = operands[0];
    if (!target.known || target.glob || target.text == "-") {
      cwd_.clear();
    } else if (target.text.starts_with('/')) {
      cwd_ = Normalize(target.text);
    } else if (!cwd_.empty()) {
      cwd_ = Normalize(JoinPath(cwd_, target.text));
    }
    if (cwd_.empty())
      vars_.erase("PWD");
    else
      vars_["PWD"] = Variable{cwd_, true, false, true};
  } else if (name == "popd") {
    cwd_.clear();
  } else if (name == "export" || name == "declare" || name == "typeset" || name == "local" ||
             name == "readonly") {
    bool exported = name == "export";
    bool functions = false, integer = false;
    for (const Arg& arg : args) {
      if (arg.text.starts_with('-') && arg.text.size() > 1) {
        if (arg.text.find('x') != std::string::npos) exported = true;
        if (arg.text.find('f') != std::string::npos) functions = true;
        if (arg.text.find('i') != std::string::npos) integer = true;
        continue;
      }
      std::size_t eq = arg.text.find('=');
      std::string var_name = arg.text.substr(0, eq);
      if (var_name.ends_with('+')) var_name.pop_back();
      if (var_name.empty()) continue;
      if (var_name.find('[') != std::string::npos) var_name = EvaluateSubscripted(var_name);
      if (functions) {
        // export -f NAME / declare -fx NAME: the function reaches child shells.
        if (exported && functions_.contains(var_name)) {
          exported_functions_.insert(var_name);
          env_dirty_ = true;
        }
        continue;
      }
      if (eq == std::string::npos) {
        auto it = vars_.find(var_name);
        if (it != vars_.end()) {
          it->second.exported |= exported;
          env_dirty_ = true;
        }
        continue;
      }
      Variable var{arg.text.substr(eq + 1), arg.known, arg.temp, exported};
      if (integer && var.known) EvaluateExpandedArith(var.value);
      if (var.known && (var_name == "PS0" || var_name == "PS1" || var_name == "PS4") &&
          HasCode(var.value)) {
        Word word;
        if (ParseExpansions(var.value, &word)) ExpandSingle(word);
      }
      SetVariable(var_name, std::move(var));
    }
  } else if (name == "unset") {
    bool functions = false;
    for (const Arg& arg : args) {
      if (arg.text == "-f") {
        functions = true;
        continue;
      }
      if (arg.text.starts_with('-')) continue;
      std::string var_name = arg.text;
      if (var_name.find('[') != std::string::npos) var_name = EvaluateSubscripted(var_name);
      if (functions)
        functions_.erase(var_name);
      else
        vars_.erase(var_name);
      env_dirty_ = true;
    }
  } else if (name == "read" || name == "mapfile" || name == "readarray" || name == "getopts" ||
             name == "printf" || name == "wait") {
    // Options and the variables they fill (values unknown until run time);
    // a subscript in a variable name is arithmetic and runs.
    std::string_view with_value = name == "read"      ? "adinNptu"
                                  : name == "printf"  ? "v"
                                  : name == "wait"    ? "p"
                                  : name == "getopts" ? ""
                                                      : "dnOsuCc";
    std::vector<std::string> names;
    std::string printf_target;
    std::size_t i = 0;
    for (; i < args.size(); ++i) {
      const std::string& text = args[i].text;
      if (text == "--") {
        ++i;
        break;
      }
      if (!is_option(args[i])) break;
      for (std::size_t k = 1; k < text.size(); ++k) {
        if (with_value.find(text[k]) == std::string_view::npos) continue;
        std::string value = k + 1 < text.size()   ? text.substr(k + 1)
                            : i + 1 < args.size() ? args[++i].text
                                                  : std::string();
        const char option = text[k];
        if ((name == "read" && option == 'a') || (name == "wait" && option == 'p')) {
          names.push_back(value);
        } else if (name == "printf" && option == 'v') {
          printf_target = value;
        } else if ((name == "mapfile" || name == "readarray") && option == 'C') {
          // mapfile -C CALLBACK runs CALLBACK every -c lines.
          if (args[i].known)
            RunText(value, "mapfile -C");
          else
            sink_.OnOpaque("mapfile -C runs a callback computed at run time");
        }
        break;
      }
    }
    if (name == "printf") {
      if (printf_target.empty()) return;
      std::string target = printf_target.find('[') != std::string::npos
                               ? EvaluateSubscripted(printf_target)
                               : printf_target;
      Variable var{"$" + target, false};
      if (i < args.size()) {
        bool known = true;
        std::vector<std::string> rest;
        for (std::size_t k = i + 1; k < args.size(); ++k) {
          rest.push_back(args[k].text);
          known = known && args[k].known;
        }
        if (known && args[i].known) {
          if (std::optional<std::string> text = FormatPrintf(args[i].text, rest)) {
            if (budget_->ChargeBytes(text->size())) var = Variable{std::move(*text), true};
          }
        }
      }
      SetVariable(target, std::move(var));
      return;
    }
    if (name == "getopts") {
      if (i + 1 < args.size()) names.push_back(args[i + 1].text);
    } else if (name != "wait") {
      for (; i < args.size(); ++i) names.push_back(args[i].text);
    }
    for (std::string& target : names) {
      if (target.find('[') != std::string::npos) target = EvaluateSubscripted(target);
      if (target.empty()) continue;
      SetVariable(target, Variable{"$" + target, false});
    }
  } else if (name == "let") {
    for (const Arg& arg : args)
      if (arg.known) EvaluateArith(arg.text);
  } else if (name == "test" || name == "[") {
    for (std::size_t i = 0; i + 1 < args.size(); ++i)
      if (args[i].text == "-v") EvaluateSubscripted(args[i + 1].text);
  } else if (name == "alias") {
    for (const Arg& arg : args) {
      std::size_t eq = arg.text.find('=');
      if (is_option(arg) || eq == std::string::npos || eq == 0) continue;
      aliases_[arg.text.substr(0, eq)] = Alias{arg.text.substr(eq + 1), arg.known};
    }
  } else if (name == "unalias") {
    for (const Arg& arg : args) {
      if (arg.text == "-a")
        aliases_.clear();
      else
        aliases_.erase(arg.text);
    }
  } else if (name == "hash") {
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (args[i].text == "-r") {
        hashed_.clear();
      } else if (args[i].text == "-p" && i + 2 < args.size()) {
        if (args[i + 1].known && args[i + 2].known)
          hashed_[args[i + 2].text] = args[i + 1].text;
        else
          sink_.OnOpaque("hash -p maps a command to a program computed at run time");
        i += 2;
      }
    }
  } else if (name == "trap") {
    std::size_t i = 0;
    while (i < args.size() && is_option(args[i]) && args[i].text != "-") {
      if (args[i].text == "-p" || args[i].text == "-l") return;  // prints
      if (args[i].text == "--") {
        ++i;
        break;
      }
      ++i;
    }
    // trap HANDLER SIGNAL...; a single operand (or "-") resets the signal.
    if (i + 1 < args.size() && args[i].text != "-" && !args[i].text.empty())
      traps_.push_back(args[i]);
  } else if (name == "enable") {
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (args[i].text == "-f") {
        sink_.OnOpaque("`enable -f` loads a builtin from a shared object, which cannot be seen");
        return;
      }
    }
  }
}

}  // namespace dualkey::shell
