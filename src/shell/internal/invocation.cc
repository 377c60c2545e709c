#include "shell/internal/invocation.h"

#include <algorithm>

namespace dualkey::shell {

std::string_view Invocation::name() const {
  if (argv.empty()) return {};
  std::string_view text = argv[0].text;
  auto slash = text.rfind('/');
  return slash == std::string_view::npos ? text : text.substr(slash + 1);
}

const Arg* Invocation::EnvValue(std::string_view variable) const {
  if (!env) return nullptr;
  auto it = env->variables.find(variable);
  return it == env->variables.end() ? nullptr : &it->second;
}

std::optional<std::string> Invocation::StdinText() const {
  if (has_stdin_text) {
    if (!stdin_text_known) return std::nullopt;
    return stdin_text;
  }
  if (stdin_piped) return piped_text;
  return std::nullopt;
}

Action MakeAction(std::string op_class, std::vector<std::string> targets,
                  Reversibility reversibility, Severity severity, std::string reason) {
  return dualkey::MakeAction(Channel::kShell, std::move(op_class), std::move(targets),
                             reversibility, severity, std::move(reason));
}

namespace {
bool IsEndOfOptions(const Arg& arg) {
  return arg.text == "--";
}
bool IsShortCluster(std::string_view text) {
  return text.size() >= 2 && text[0] == '-' && text[1] != '-';
}
}  // namespace

std::vector<std::string_view> OperandsFrom(std::span<const Arg> args, std::size_t from,
                                           std::span<const std::string_view> with_value) {
  std::vector<std::string_view> out;
  for (std::size_t i = NextOperand(args, from, with_value); i < args.size();
       i = NextOperand(args, i + 1, with_value))
    out.push_back(args[i].text);
  return out;
}

Arg JoinArgs(std::span<const Arg> args) {
  Arg joined;
  for (const Arg& arg : args) {
    if (!joined.text.empty()) joined.text.push_back(' ');
    joined.text += arg.text;
    joined.known = joined.known && arg.known;
  }
  return joined;
}

bool HasShortFlag(std::span<const Arg> args, char flag) {
  for (const Arg& arg : args) {
    if (IsEndOfOptions(arg)) break;
    if (IsShortCluster(arg.text) && arg.text.find(flag, 1) != std::string::npos) return true;
  }
  return false;
}

bool HasLongFlag(std::span<const Arg> args, std::string_view flag) {
  for (const Arg& arg : args) {
    if (IsEndOfOptions(arg)) break;
    std::string_view text = arg.text;
    if (text == flag) return true;
    if (text.size() > flag.size() && text.starts_with(flag) && text[flag.size()] == '=')
      return true;
  }
  return false;
}

std::string OptionValue(std::span<const Arg> args, std::string_view option) {
  const bool is_long = option.starts_with("--");
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view text = args[i].text;
    if (text == "--") break;
    if (text == option) return i + 1 < args.size() ? args[i + 1].text : std::string();
    if (is_long) {
      if (text.size() > option.size() && text.starts_with(option) && text[option.size()] == '=')
        return std::string(text.substr(option.size() + 1));
    } else if (option.size() == 2 && text.size() > 2 && text.starts_with(option) &&
               text[1] != '-') {
      return std::string(text.substr(2));  // -oVALUE
    }
  }
  return {};
}

std::vector<Arg> Operands(std::span<const Arg> args,
                          std::initializer_list<std::string_view> takes_value) {
  std::vector<Arg> out;
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const Arg& arg = args[i];
    if (options_done) {
      out.push_back(arg);
      continue;
    }
    if (arg.text == "--") {
      options_done = true;
      continue;
    }
    if (arg.text.size() > 1 && arg.text[0] == '-') {
      for (std::string_view option : takes_value) {
        if (arg.text == option) {
          ++i;  // skip the option's value
          break;
        }
      }
      continue;
    }
    out.push_back(arg);
  }
  return out;
}

bool InList(std::span<const std::string_view> list, std::string_view word) {
  return std::find(list.begin(), list.end(), word) != list.end();
}

std::size_t NextOperand(std::span<const Arg> args, std::size_t from,
                        std::span<const std::string_view> with_value) {
  for (std::size_t i = from; i < args.size(); ++i) {
    std::string_view text = args[i].text;
    if (text == "--") return i + 1 < args.size() ? i + 1 : args.size();
    if (text.size() > 1 && text[0] == '-') {
      if (text.find('=') == std::string_view::npos && InList(with_value, text)) ++i;
      continue;
    }
    return i;
  }
  return args.size();
}

}  // namespace dualkey::shell
