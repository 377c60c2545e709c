#include "shell/internal/evaluate.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <optional>
#include <span>

namespace dualkey::shell {
namespace {

// Each character of a word under expansion carries where it came from, since
// only unquoted literal text takes part in brace and tilde expansion, and only
// unquoted text (literal or expanded) in globbing.
constexpr char kLiteral = 'L';  // unquoted literal
constexpr char kExpanded = 'E';  // unquoted result of an expansion
constexpr char kQuoted = 'Q';

struct Field {
  std::string text;
  std::string mask;  // one of kLiteral/kExpanded/kQuoted per char of `text`
  bool known = true;
  bool temp = false;
  bool glob_value = false;  // a variable whose value stands for glob matches
  bool started = false;     // a field exists even if empty ("" is one word)

  void Append(std::string_view piece, char origin) {
    text.append(piece);
    mask.append(piece.size(), origin);
    started = true;
  }
};

bool IsSpecialParam(std::string_view name) {
  if (name.empty()) return true;
  if (std::isdigit(static_cast<unsigned char>(name[0]))) return true;
  return name.size() == 1 && std::string_view("@*#?$!-").find(name[0]) != std::string_view::npos;
}

bool IsIfsSpace(char c) { return c == ' ' || c == '\t' || c == '\n'; }

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

// Brace expansion over the unquoted literal characters of one field:
// a{b,c}d -> abd acd, {1..3} -> 1 2 3. Returns false when nothing expanded.
bool ExpandBraces(const Field& field, int limit, std::vector<Field>* out) {
  const std::string& s = field.text;
  const std::string& m = field.mask;
  for (std::size_t open = 0; open < s.size(); ++open) {
    if (s[open] != '{' || m[open] != kLiteral) continue;
    int level = 0;
    std::vector<std::size_t> commas;
    std::size_t close = std::string::npos;
    for (std::size_t k = open + 1; k < s.size(); ++k) {
      if (m[k] != kLiteral) continue;
      if (s[k] == '{') {
        ++level;
      } else if (s[k] == '}') {
        if (level == 0) {
          close = k;
          break;
        }
        --level;
      } else if (s[k] == ',' && level == 0) {
        commas.push_back(k);
      }
    }
    if (close == std::string::npos) return false;
    std::vector<std::pair<std::string, std::string>> alternatives;
    if (!commas.empty()) {
      std::size_t start = open + 1;
      commas.push_back(close);
      for (std::size_t comma : commas) {
        alternatives.emplace_back(s.substr(start, comma - start), m.substr(start, comma - start));
        start = comma + 1;
      }
    } else {
      // Sequence {a..b}: integers or single letters.
      std::string inner = s.substr(open + 1, close - open - 1);
      std::size_t dots = inner.find("..");
      if (dots == std::string::npos) continue;
      std::string lo = inner.substr(0, dots), hi = inner.substr(dots + 2);
      auto is_int = [](const std::string& t) {
        if (t.empty() || t.size() > 9) return false;
        std::size_t i = (t[0] == '-') ? 1 : 0;
        if (i == t.size()) return false;
        for (; i < t.size(); ++i)
          if (!std::isdigit(static_cast<unsigned char>(t[i]))) return false;
        return true;
      };
      if (is_int(lo) && is_int(hi)) {
        long a = std::stol(lo), b = std::stol(hi);
        long step = a <= b ? 1 : -1;
        for (long v = a;; v += step) {
          std::string t = std::to_string(v);
          alternatives.emplace_back(t, std::string(t.size(), kLiteral));
          if (v == b || static_cast<int>(alternatives.size()) >= limit) break;
        }
      } else if (lo.size() == 1 && hi.size() == 1 && std::isalpha(static_cast<unsigned char>(lo[0])) &&
                 std::isalpha(static_cast<unsigned char>(hi[0]))) {
        int step = lo[0] <= hi[0] ? 1 : -1;
        for (int c = lo[0];; c += step) {
          alternatives.emplace_back(std::string(1, static_cast<char>(c)), "L");
          if (c == hi[0]) break;
        }
      } else {
        continue;
      }
    }
    for (auto& [alt_text, alt_mask] : alternatives) {
      if (static_cast<int>(out->size()) >= limit) break;
      Field next = field;
      next.text = s.substr(0, open) + alt_text + s.substr(close + 1);
      next.mask = m.substr(0, open) + alt_mask + m.substr(close + 1);
      std::vector<Field> nested;
      if (ExpandBraces(next, limit, &nested)) {
        for (auto& n : nested) {
          if (static_cast<int>(out->size()) >= limit) break;
          out->push_back(std::move(n));
        }
      } else {
        out->push_back(std::move(next));
      }
    }
    return true;
  }
  return false;
}

bool HasGlob(const Field& field) {
  for (std::size_t i = 0; i < field.text.size(); ++i) {
    if (field.mask[i] == kQuoted) continue;
    char c = field.text[i];
    if (c == '*' || c == '?' || c == '[') return true;
  }
  return false;
}

// A leading unquoted ~ or ~user becomes a home directory.
void ExpandTilde(Field* field, std::string_view home) {
  if (field->text.empty() || field->text[0] != '~' || field->mask[0] != kLiteral) return;
  std::size_t end = field->text.find('/');
  if (end == std::string::npos) end = field->text.size();
  for (std::size_t i = 1; i < end; ++i)
    if (field->mask[i] != kLiteral) return;
  std::string user = field->text.substr(1, end - 1);
  std::string replacement = user.empty() ? std::string(home) : (user == "root" ? "/root" : "/home/" + user);
  if (user == "+" || user == "-") return;  // ~+ ~- : PWD/OLDPWD, rare; leave
  field->text.replace(0, end, replacement);
  field->mask.replace(0, end, std::string(replacement.size(), kQuoted));
}

std::string RemovePattern(const std::string& value, const std::string& pattern, const std::string& op,
                          bool* ok) {
  // Only literal patterns are folded; a glob pattern is left unknown.
  if (pattern.find_first_of("*?[") != std::string::npos) {
    *ok = false;
    return {};
  }
  *ok = true;
  if (op == "#" || op == "##") return value.starts_with(pattern) ? value.substr(pattern.size()) : value;
  if (op == "%" || op == "%%")
    return value.ends_with(pattern) ? value.substr(0, value.size() - pattern.size()) : value;
  *ok = false;
  return {};
}

}  // namespace

Evaluator::Evaluator(InvocationSink& sink, Variables variables, std::string cwd, std::string home,
                     int depth, const EvalLimits& limits)
    : sink_(sink),
      vars_(std::move(variables)),
      cwd_(std::move(cwd)),
      home_(std::move(home)),
      depth_(depth),
      limits_(limits) {
  if (!vars_.contains("HOME")) vars_["HOME"] = Variable{home_, true, false, true};
  if (!cwd_.empty()) vars_["PWD"] = Variable{cwd_, true, false, true};
}

Variables Evaluator::ExportedVariables() const {
  Variables out;
  for (const auto& [name, var] : vars_)
    if (var.exported) out.emplace(name, var);
  return out;
}

void Evaluator::Run(const List& list) { RunList(list); }

void Evaluator::RunList(const List& list) {
  for (const AndOr& item : list.items) {
    if (exhausted_) return;
    RunAndOr(item);
  }
}

void Evaluator::RunAndOr(const AndOr& and_or) {
  // Every branch may run: `false || rm -rf x` deletes x.
  RunPipeline(and_or.first);
  for (const auto& [op, pipeline] : and_or.rest) RunPipeline(pipeline);
}

void Evaluator::RunPipeline(const Pipeline& pipeline) {
  std::vector<Arg> previous;
  bool has_previous = false;
  for (std::size_t i = 0; i < pipeline.commands.size(); ++i) {
    const Command& command = *pipeline.commands[i];
    Invocation inv;
    if (i > 0) {
      inv.stdin_piped = true;
      inv.piped_from = has_previous ? previous : std::vector<Arg>{};
    }
    RunCommand(command, &inv);
    has_previous = std::holds_alternative<SimpleCommand>(command.node);
    previous = std::move(inv.argv);
  }
}

void Evaluator::RunCommand(const Command& command, Invocation* pipe_invocation) {
  if (exhausted_) return;
  auto scoped = [&](const std::shared_ptr<List>& body) {
    if (!body) return;
    Variables saved_vars = vars_;
    std::string saved_cwd = cwd_;
    RunList(*body);
    vars_ = std::move(saved_vars);
    cwd_ = std::move(saved_cwd);
  };
  auto run = [&](const std::shared_ptr<List>& body) {
    if (body) RunList(*body);
  };
  // Redirections on a compound command still write files.
  if (!command.redirects.empty() && !std::holds_alternative<SimpleCommand>(command.node)) {
    Invocation redirect_only;
    AddRedirects(command.redirects, &redirect_only);
    Emit(std::move(redirect_only));
  }
  std::visit(
      [&](const auto& node) {
        using T = std::decay_t<decltype(node)>;
        if constexpr (std::is_same_v<T, SimpleCommand>) {
          RunSimple(node, command.redirects, pipe_invocation);
        } else if constexpr (std::is_same_v<T, Subshell>) {
          scoped(node.body);
        } else if constexpr (std::is_same_v<T, BraceGroup>) {
          run(node.body);
        } else if constexpr (std::is_same_v<T, IfClause>) {
          for (const auto& branch : node.branches) {
            run(branch.condition);
            run(branch.body);
          }
          run(node.else_body);
        } else if constexpr (std::is_same_v<T, ForClause>) {
          std::vector<Arg> values;
          for (const Word& word : node.words) {
            for (Arg& arg : ExpandWord(word, true)) values.push_back(std::move(arg));
          }
          if (!node.has_in && node.arith.empty()) values.push_back(Arg{"$@", false});
          if (node.variable.empty() || values.empty()) {
            run(node.body);
            return;
          }
          int count = 0;
          for (const Arg& value : values) {
            if (++count > limits_.max_loop_words) break;
            Variable var{value.text, value.known, value.temp, false};
            auto it = vars_.find(node.variable);
            if (it != vars_.end()) var.exported = it->second.exported;
            vars_[node.variable] = var;
            if (value.glob) vars_[node.variable + "\x01glob"] = Variable{"1"};
            else vars_.erase(node.variable + "\x01glob");
            run(node.body);
          }
        } else if constexpr (std::is_same_v<T, WhileClause>) {
          run(node.condition);
          run(node.body);
        } else if constexpr (std::is_same_v<T, CaseClause>) {
          ExpandSingle(node.subject);
          for (const auto& item : node.items) run(item.body);
        } else if constexpr (std::is_same_v<T, FunctionDef>) {
          functions_[node.name] = node.body;
        } else if constexpr (std::is_same_v<T, ArithCommand>) {
          // (( )) runs nothing by itself.
        } else if constexpr (std::is_same_v<T, TestCommand>) {
          for (const Word& word : node.words) ExpandWord(word, false);
        }
      },
      command.node);
}

void Evaluator::Assign(const Assignment& assignment, bool exported) {
  Variable var;
  if (assignment.array) {
    // Arrays: keep the elements joined; individual indexing is not tracked.
    std::string joined;
    for (const Word& element : assignment.elements) {
      for (const Arg& arg : ExpandWord(element, true)) {
        if (!joined.empty()) joined.push_back(' ');
        joined += arg.text;
        var.known = var.known && arg.known;
      }
    }
    var.value = std::move(joined);
  } else {
    Arg value = ExpandSingle(assignment.value);
    var.value = std::move(value.text);
    var.known = value.known;
    var.temp = value.temp;
  }
  auto it = vars_.find(assignment.name);
  if (assignment.append && it != vars_.end()) {
    var.value = it->second.value + var.value;
    var.known = var.known && it->second.known;
  }
  var.exported = exported || (it != vars_.end() && it->second.exported);
  vars_[assignment.name] = std::move(var);
}

void Evaluator::RunSimple(const SimpleCommand& simple, const std::vector<Redirect>& extra,
                          Invocation* out) {
  Invocation& inv = *out;
  inv.cwd = cwd_;
  inv.depth = depth_;
  for (const Word& word : simple.words) {
    for (Arg& arg : ExpandWord(word, true)) inv.argv.push_back(std::move(arg));
  }
  AddRedirects(simple.redirects, &inv);
  AddRedirects(extra, &inv);

  if (inv.argv.empty()) {
    // Bare assignments change this shell's state.
    for (const Assignment& assignment : simple.assignments) Assign(assignment, false);
    if (!inv.redirects.empty()) Emit(inv);
    return;
  }
  // Prefix assignments (FOO=1 cmd) only reach the command; still evaluate
  // them, their $(...) runs.
  for (const Assignment& assignment : simple.assignments) {
    Variables saved = vars_;
    Assign(assignment, true);
    vars_ = std::move(saved);
  }

  const std::string_view name = inv.argv[0].text;
  if (inv.argv[0].known) {
    auto fn = functions_.find(name);
    if (fn != functions_.end() && function_depth_ < limits_.max_function_depth) {
      ++function_depth_;
      RunCommand(*fn->second, nullptr);
      --function_depth_;
      if (!inv.redirects.empty()) {
        Invocation redirect_only;
        redirect_only.cwd = cwd_;
        redirect_only.redirects = inv.redirects;
        Emit(std::move(redirect_only));
      }
      return;
    }
  }
  Emit(inv);
  RunBuiltinEffects(inv);
}

// Builtins that change the state later commands see.
void Evaluator::RunBuiltinEffects(const Invocation& inv) {
  const std::string_view name = inv.argv[0].text;
  auto args = std::span<const Arg>(inv.argv).subspan(1);
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
    if (cwd_.empty()) vars_.erase("PWD");
    else vars_["PWD"] = Variable{cwd_, true, false, true};
  } else if (name == "popd") {
    cwd_.clear();
  } else if (name == "export" || name == "declare" || name == "typeset" || name == "local" ||
             name == "readonly") {
    bool exported = name == "export";
    for (const Arg& arg : args) {
      if (arg.text.starts_with('-')) {
        if (arg.text.find('x') != std::string::npos) exported = true;
        continue;
      }
      std::size_t eq = arg.text.find('=');
      std::string var_name = arg.text.substr(0, eq);
      if (var_name.empty()) continue;
      if (eq == std::string::npos) {
        auto it = vars_.find(var_name);
        if (it != vars_.end()) it->second.exported |= exported;
        continue;
      }
      Variable var{arg.text.substr(eq + 1), arg.known, arg.temp, exported};
      vars_[var_name] = std::move(var);
    }
  } else if (name == "unset") {
    for (const Arg& arg : args)
      if (!arg.text.starts_with('-')) vars_.erase(arg.text);
  } else if (name == "read" || name == "mapfile" || name == "readarray") {
    // Values read at run time are unknown.
    for (const Arg& arg : args)
      if (!arg.text.starts_with('-')) vars_[arg.text] = Variable{"$" + arg.text, false};
  }
}

void Evaluator::AddRedirects(const std::vector<Redirect>& redirects, Invocation* inv) {
  for (const Redirect& redirect : redirects) {
    switch (redirect.op) {
      case Redirect::Op::kHereDoc: {
        inv->has_stdin_text = true;
        if (redirect.heredoc_quoted) {
          inv->stdin_text = redirect.heredoc_body;
        } else {
          Arg body = ExpandSingle(redirect.heredoc_word);
          inv->stdin_text = std::move(body.text);
          inv->stdin_text_known = body.known;
        }
        continue;
      }
      case Redirect::Op::kHereString: {
        Arg body = ExpandSingle(redirect.target);
        inv->has_stdin_text = true;
        inv->stdin_text = std::move(body.text);
        inv->stdin_text_known = body.known;
        continue;
      }
      default:
        break;
    }
    FileRedirect file;
    file.fd = redirect.fd;
    file.target = ExpandSingle(redirect.target);
    switch (redirect.op) {
      case Redirect::Op::kInput:
      case Redirect::Op::kReadWrite:
        file.kind = RedirectKind::kRead;
        break;
      case Redirect::Op::kOutput:
      case Redirect::Op::kClobber:
      case Redirect::Op::kOutputBoth:
        file.kind = RedirectKind::kTruncate;
        break;
      case Redirect::Op::kAppend:
      case Redirect::Op::kAppendBoth:
        file.kind = RedirectKind::kAppend;
        break;
      case Redirect::Op::kDupInput:
      case Redirect::Op::kDupOutput: {
        const std::string& t = file.target.text;
        bool is_fd = !t.empty() && (t == "-" || std::all_of(t.begin(), t.end(), [](char c) {
                                      return std::isdigit(static_cast<unsigned char>(c)) || c == '-';
                                    }));
        file.kind = (is_fd || redirect.op == Redirect::Op::kDupInput) ? RedirectKind::kDup
                                                                      : RedirectKind::kTruncate;
        break;
      }
      default:
        break;
    }
    inv->redirects.push_back(std::move(file));
  }
}

void Evaluator::Emit(Invocation inv) {
  if (exhausted_) return;
  if (++invocations_ > limits_.max_invocations) {
    exhausted_ = true;
    sink_.OnOpaque("the input runs more commands than dualkey evaluates (" +
                   std::to_string(limits_.max_invocations) + ")");
    return;
  }
  if (inv.cwd.empty()) inv.cwd = cwd_;
  inv.depth = depth_;
  sink_.OnInvocation(inv);
}

std::string Evaluator::CommandSubstitutionValue(const List& body, bool* known, bool* temp) {
  // The substitution's commands run too: evaluate them in a subshell scope.
  Variables saved_vars = vars_;
  std::string saved_cwd = cwd_;
  RunList(body);
  vars_ = std::move(saved_vars);
  cwd_ = std::move(saved_cwd);

  *known = false;
  *temp = false;
  if (body.items.size() != 1 || !body.items[0].rest.empty()) return "$(...)";
  const Pipeline& pipeline = body.items[0].first;
  if (pipeline.commands.size() != 1) return "$(...)";
  const auto* simple = std::get_if<SimpleCommand>(&pipeline.commands[0]->node);
  if (simple == nullptr || simple->words.empty()) return "$(...)";
  std::vector<Arg> argv;
  for (const Word& word : simple->words)
    for (Arg& arg : ExpandWord(word, true)) argv.push_back(std::move(arg));
  if (argv.empty() || !argv[0].known) return "$(...)";
  const std::string& name = argv[0].text;
  if (name == "mktemp") {
    *known = true;
    *temp = true;
    return "/tmp/tmp.XXXXXXXXXX";
  }
  if (name == "pwd" && !cwd_.empty()) {
    *known = true;
    return cwd_;
  }
  if (name == "echo") {
    std::string out;
    std::size_t i = 1;
    if (i < argv.size() && argv[i].text == "-n") ++i;
    bool all_known = true;
    for (; i < argv.size(); ++i) {
      if (!out.empty()) out.push_back(' ');
      out += argv[i].text;
      all_known = all_known && argv[i].known;
    }
    *known = all_known;
    return all_known ? out : "$(...)";
  }
  return "$(...)";
}

std::vector<Arg> Evaluator::ExpandWord(const Word& word, bool split_fields) {
  std::vector<Field> fields(1);

  // Appends one expanded value; unquoted values split on whitespace.
  auto append_value = [&](const std::string& value, bool quoted, bool known, bool temp, bool glob) {
    Field* current = &fields.back();
    current->known = current->known && known;
    current->temp = current->temp || temp;
    current->glob_value = current->glob_value || glob;
    if (quoted || !split_fields || !known) {
      current->Append(value, quoted ? kQuoted : kExpanded);
      if (quoted) current->started = true;
      return;
    }
    std::size_t i = 0;
    bool first = true;
    while (i <= value.size()) {
      std::size_t j = i;
      while (j < value.size() && !IsIfsSpace(value[j])) ++j;
      std::string_view piece(value.data() + i, j - i);
      if (!first && !piece.empty()) {
        fields.emplace_back();
        fields.back().known = known;
        fields.back().temp = temp;
        fields.back().glob_value = glob;
      }
      if (!piece.empty()) {
        fields.back().Append(piece, kExpanded);
        first = false;
      }
      if (j >= value.size()) break;
      i = j + 1;
      while (i < value.size() && IsIfsSpace(value[i])) ++i;
      if (i >= value.size()) break;
      if (first && fields.back().started) first = false;
    }
  };

  std::function<void(const std::vector<WordPart>&, bool)> expand_parts;
  expand_parts = [&](const std::vector<WordPart>& parts, bool force_quoted) {
    for (const WordPart& part : parts) {
      const bool quoted = part.quoted || force_quoted;
      switch (part.kind) {
        case WordPart::Kind::kLiteral:
          fields.back().Append(part.text, quoted ? kQuoted : kLiteral);
          if (quoted) fields.back().started = true;
          break;
        case WordPart::Kind::kParam: {
          const std::string& name = part.text;
          // A copy: expanding an operand may run a substitution that
          // replaces vars_, which would leave an iterator dangling.
          std::optional<Variable> var;
          if (!IsSpecialParam(name)) {
            if (auto found = vars_.find(name); found != vars_.end()) var = found->second;
          }
          const bool set = var.has_value();
          const bool glob = set && vars_.contains(name + "\x01glob");
          const std::string& op = part.param_op;
          if (op.empty()) {
            if (set) append_value(var->value, quoted, var->known, var->temp, glob);
            else append_value("$" + name, quoted, false, false, false);
          } else if (op == ":-" || op == "-" || op == ":=" || op == "=") {
            if (set && !(op[0] == ':' && var->known && var->value.empty())) {
              append_value(var->value, quoted, var->known, var->temp, glob);
            } else {
              // Unset here: the default is what the command would most
              // plausibly get.
              Word operand{part.operand, {}};
              Arg value = ExpandSingle(operand);
              if (op.back() == '=') vars_[name] = Variable{value.text, value.known, value.temp};
              append_value(value.text, quoted, value.known, value.temp, false);
            }
          } else if (op == ":?" || op == "?") {
            if (set) append_value(var->value, quoted, var->known, var->temp, glob);
            else append_value("$" + name, quoted, false, false, false);
          } else if (op == ":+" || op == "+") {
            if (set && var->known) {
              Arg value = ExpandSingle(Word{part.operand, {}});
              append_value(value.text, quoted, value.known, value.temp, false);
            } else if (!set) {
              append_value("${" + name + "+...}", quoted, false, false, false);
            }
          } else if (op == "#len") {
            if (set && var->known) append_value(std::to_string(var->value.size()), quoted, true, false, false);
            else append_value("${#" + name + "}", quoted, false, false, false);
          } else if (op == "#" || op == "##" || op == "%" || op == "%%") {
            Arg pattern = ExpandSingle(Word{part.operand, {}});
            bool ok = false;
            std::string value;
            if (set && var->known && pattern.known)
              value = RemovePattern(var->value, pattern.text, op, &ok);
            if (ok) append_value(value, quoted, true, var->temp, glob);
            else append_value("${" + name + op + "...}", quoted, false, false, false);
          } else {
            append_value("${" + name + op + "...}", quoted, false, false, false);
          }
          break;
        }
        case WordPart::Kind::kCommandSub: {
          bool known = false, temp = false;
          std::string value = part.body ? CommandSubstitutionValue(*part.body, &known, &temp) : "";
          append_value(value, quoted, known, temp, false);
          break;
        }
        case WordPart::Kind::kArith: {
          bool digits = !part.text.empty();
          std::string trimmed;
          for (char c : part.text) {
            if (c == ' ') continue;
            trimmed.push_back(c);
            if (!std::isdigit(static_cast<unsigned char>(c))) digits = false;
          }
          append_value(digits ? trimmed : "$((...))", quoted, digits, false, false);
          break;
        }
        case WordPart::Kind::kProcessSub: {
          if (part.body) {
            Variables saved_vars = vars_;
            std::string saved_cwd = cwd_;
            RunList(*part.body);
            vars_ = std::move(saved_vars);
            cwd_ = std::move(saved_cwd);
          }
          fields.back().Append(part.process_sub_output ? ">(...)" : "<(...)", kQuoted);
          fields.back().known = false;
          break;
        }
      }
    }
  };
  expand_parts(word.parts, false);

  std::vector<Arg> out;
  for (Field& field : fields) {
    if (!field.started && field.text.empty()) continue;
    ExpandTilde(&field, home_);
    std::vector<Field> expanded;
    if (!split_fields || !ExpandBraces(field, limits_.max_brace_words, &expanded)) {
      expanded.push_back(std::move(field));
    }
    for (Field& f : expanded) {
      Arg arg;
      arg.glob = HasGlob(f) || f.glob_value;
      arg.known = f.known;
      arg.temp = f.temp;
      arg.text = std::move(f.text);
      out.push_back(std::move(arg));
    }
  }
  return out;
}

Arg Evaluator::ExpandSingle(const Word& word) {
  std::vector<Arg> args = ExpandWord(word, false);
  if (args.empty()) return Arg{};
  if (args.size() == 1) return std::move(args[0]);
  Arg joined = std::move(args[0]);
  for (std::size_t i = 1; i < args.size(); ++i) {
    joined.text += " " + args[i].text;
    joined.known = joined.known && args[i].known;
    joined.glob = joined.glob || args[i].glob;
  }
  return joined;
}

}  // namespace dualkey::shell
