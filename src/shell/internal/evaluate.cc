// The evaluator's core: the budget, running lists, pipelines and commands,
// assignments, alias and trap text, redirections and emitting invocations.

#include "shell/internal/evaluate.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <optional>
#include <span>

#include "shell/internal/evaluate_words.h"
#include "shell/internal/parser.h"

namespace dualkey::shell {

using namespace evaluate_words;

namespace {

// What a scoped copy of one variable costs beyond its text (map node, strings).
constexpr std::size_t kVariableOverhead = 64;
}  // namespace
// ------------------------------------------------------------------- budget

bool EvalBudget::ChargeBytes(std::size_t bytes) {
  if (exhausted()) return false;
  if (bytes >
      limits_.max_expansion_bytes - std::min(expanded_bytes_, limits_.max_expansion_bytes)) {
    Exhaust("the command expands to more than " +
            std::to_string(limits_.max_expansion_bytes / 1024) +
            " KiB of text, more than dualkey evaluates");
    return false;
  }
  expanded_bytes_ += bytes;
  return true;
}

bool EvalBudget::ChargeCopy(std::size_t bytes) {
  if (exhausted()) return false;
  if (bytes > limits_.max_copy_bytes - std::min(copied_bytes_, limits_.max_copy_bytes)) {
    Exhaust("the command copies more shell state than dualkey evaluates");
    return false;
  }
  copied_bytes_ += bytes;
  return true;
}

bool EvalBudget::Step() {
  if (exhausted()) return false;
  if (++steps_ > limits_.max_steps) {
    Exhaust("the command takes more evaluation steps than dualkey evaluates (" +
            std::to_string(limits_.max_steps) + ")");
    return false;
  }
  return true;
}

void EvalBudget::Exhaust(std::string reason) {
  if (reason_.empty()) reason_ = std::move(reason);
}

bool EvalBudget::TakeReport() {
  if (!exhausted() || reported_) return false;
  reported_ = true;
  return true;
}

// ---------------------------------------------------------------- evaluator

Evaluator::Evaluator(InvocationSink& sink, Variables variables, std::string cwd, std::string home,
                     int depth, const EvalLimits& limits, EvalBudget* budget)
    : sink_(sink),
      vars_(std::move(variables)),
      cwd_(std::move(cwd)),
      home_(std::move(home)),
      depth_(depth),
      limits_(limits) {
  if (budget == nullptr) {
    own_budget_ = std::make_unique<EvalBudget>(limits);
    budget = own_budget_.get();
  }
  budget_ = budget;
  reader_ = [this](const Arg& path, std::string_view cwd) { return sink_.ReadFile(path, cwd); };
  if (!vars_.contains("HOME")) vars_["HOME"] = Variable{home_, true, false, true};
  if (!cwd_.empty()) vars_["PWD"] = Variable{cwd_, true, false, true};
}

void Evaluator::Inherit(const Environment& environment) {
  for (const auto& [name, value] : environment.variables) {
    if (name == "HOME" || name == "PWD") continue;
    vars_[name] = Variable{value.text, value.known, value.temp, true};
  }
  for (const auto& [name, body] : environment.functions) {
    functions_[name] = body;
    exported_functions_.insert(name);
  }
  env_dirty_ = true;
}

Variables Evaluator::ExportedVariables() const {
  Variables out;
  for (const auto& [name, var] : vars_)
    if (var.exported) out.emplace(name, var);
  return out;
}

void Evaluator::Run(const List& list) {
  RunList(list);
  RunDeferred();
}

bool Evaluator::Spent() {
  if (exhausted_) return true;
  if (!budget_->exhausted()) return false;
  exhausted_ = true;
  if (budget_->TakeReport()) sink_.OnOpaque(budget_->reason());
  return true;
}

Evaluator::Snapshot Evaluator::Save() {
  std::size_t bytes = cwd_.size();
  for (const auto& [name, var] : vars_) bytes += name.size() + var.value.size() + kVariableOverhead;
  if (!budget_->ChargeCopy(bytes)) {
    Spent();
    return {{}, cwd_};
  }
  return {vars_, cwd_};
}

void Evaluator::Restore(Snapshot snapshot) {
  if (exhausted_) return;  // a spent budget kept no copy
  vars_ = std::move(snapshot.vars);
  cwd_ = std::move(snapshot.cwd);
  env_dirty_ = true;
}

void Evaluator::SetVariable(const std::string& name, Variable var) {
  if (!budget_->ChargeBytes(name.size())) {
    Spent();
    return;
  }
  vars_[name] = std::move(var);
  env_dirty_ = true;
}

std::shared_ptr<const Environment> Evaluator::CurrentEnvironment() {
  if (!env_dirty_) return env_cache_;
  env_dirty_ = false;
  Environment env;
  for (const auto& [name, var] : vars_) {
    if (!var.exported || name == "HOME" || name == "PWD") continue;
    env.variables.emplace(name, Arg{var.value, var.known, false, var.temp});
  }
  for (const std::string& name : exported_functions_) {
    auto it = functions_.find(name);
    if (it != functions_.end()) env.functions.emplace(name, it->second);
  }
  if (env.variables.empty() && env.functions.empty())
    env_cache_.reset();
  else
    env_cache_ = std::make_shared<const Environment>(std::move(env));
  return env_cache_;
}

void Evaluator::RunList(const List& list) {
  for (const AndOr& item : list.items) {
    if (Spent()) return;
    RunAndOr(item);
  }
}

void Evaluator::RunAndOr(const AndOr& and_or) {
  // Every branch may run: `false || rm -rf x` deletes x.
  RunPipeline(and_or.first, false);
  for (const auto& [op, pipeline] : and_or.rest) RunPipeline(pipeline, false);
}

PredictedOutput Evaluator::RunPipeline(const Pipeline& pipeline, bool want_output) {
  std::vector<Arg> previous;
  bool has_previous = false;
  PredictedOutput output;
  for (std::size_t i = 0; i < pipeline.commands.size(); ++i) {
    const Command& command = *pipeline.commands[i];
    Invocation inv;
    if (i > 0) {
      inv.stdin_piped = true;
      inv.piped_from = has_previous ? previous : std::vector<Arg>{};
      inv.piped_text = std::move(output.text);
    }
    RunCommand(command, &inv);
    has_previous = std::holds_alternative<SimpleCommand>(command.node);
    // What this stage prints matters to the next stage, or to a $(...).
    const bool needed = want_output || i + 1 < pipeline.commands.size();
    output =
        needed && has_previous && !exhausted_ ? PredictOutput(inv, reader_) : PredictedOutput{};
    if (output.text && !budget_->ChargeBytes(output.text->size())) {
      Spent();
      output = {};
    }
    previous = std::move(inv.argv);
  }
  return output;
}

void Evaluator::RunCommand(const Command& command, Invocation* pipe_invocation) {
  if (Spent()) return;
  if (!budget_->Step()) {
    Spent();
    return;
  }
  auto scoped = [&](const std::shared_ptr<List>& body) {
    if (!body) return;
    Snapshot saved = Save();
    if (exhausted_) return;
    RunList(*body);
    Restore(std::move(saved));
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
          if (!node.arith.empty()) EvaluateArith(node.arith);
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
            if (++count > limits_.max_loop_words || Spent()) break;
            // Nested loops multiply: past a total, the body runs once more
            // with the variable unknown instead of once per word.
            if (++loop_iterations_ > limits_.max_loop_iterations) {
              SetVariable(node.variable, Variable{"$" + node.variable, false});
              run(node.body);
              break;
            }
            Variable var{value.text, value.known, value.temp, false};
            auto it = vars_.find(node.variable);
            if (it != vars_.end()) var.exported = it->second.exported;
            SetVariable(node.variable, var);
            if (value.glob)
              vars_[node.variable + "\x01glob"] = Variable{"1"};
            else
              vars_.erase(node.variable + "\x01glob");
            run(node.body);
          }
        } else if constexpr (std::is_same_v<T, WhileClause>) {
          run(node.condition);
          run(node.body);
        } else if constexpr (std::is_same_v<T, CaseClause>) {
          ExpandSingle(node.subject);
          for (const auto& item : node.items) {
            for (const Word& pattern : item.patterns) ExpandSingle(pattern);
            run(item.body);
          }
        } else if constexpr (std::is_same_v<T, FunctionDef>) {
          functions_[node.name] = node.body;
          env_dirty_ = true;
        } else if constexpr (std::is_same_v<T, ArithCommand>) {
          EvaluateArith(node.expr);
        } else if constexpr (std::is_same_v<T, TestCommand>) {
          std::vector<Arg> words;
          for (const Word& word : node.words)
            for (Arg& arg : ExpandWord(word, false)) words.push_back(std::move(arg));
          // [[ -v a[$(cmd)] ]] and the operands of -eq & co. are arithmetic.
          for (std::size_t i = 0; i < words.size(); ++i) {
            const std::string& text = words[i].text;
            if (text == "-v" && i + 1 < words.size()) {
              EvaluateSubscripted(words[i + 1].text);
            } else if (text == "-eq" || text == "-ne" || text == "-lt" || text == "-le" ||
                       text == "-gt" || text == "-ge") {
              if (i > 0 && words[i - 1].known) EvaluateExpandedArith(words[i - 1].text);
              if (i + 1 < words.size() && words[i + 1].known)
                EvaluateExpandedArith(words[i + 1].text);
            }
          }
        }
      },
      command.node);
}

void Evaluator::Assign(const Assignment& assignment, bool exported) {
  std::string name = assignment.name;
  if (name.find('[') != std::string::npos) name = EvaluateSubscripted(name);
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
  auto it = vars_.find(name);
  if (assignment.append && it != vars_.end()) {
    // The whole new value is a copy: charge it, or `a+=$a` chains grow unbounded.
    if (!budget_->ChargeBytes(it->second.value.size())) {
      Spent();
      return;
    }
    var.value = it->second.value + var.value;
    var.known = var.known && it->second.known;
  }
  var.exported = exported || (it != vars_.end() && it->second.exported);
  // Values bash runs as code later: prompts expand $(...), PROMPT_COMMAND runs.
  if (var.known && (name == "PS0" || name == "PS1" || name == "PS2" || name == "PS4") &&
      HasCode(var.value)) {
    Word word;
    if (ParseExpansions(var.value, &word)) ExpandSingle(word);
  } else if (name == "PROMPT_COMMAND") {
    if (var.known)
      RunText(var.value, "PROMPT_COMMAND");
    else
      sink_.OnOpaque("PROMPT_COMMAND is set to code computed at run time");
  }
  SetVariable(name, std::move(var));
}

void Evaluator::RunText(std::string_view script, std::string_view what) {
  if (Spent()) return;
  if (text_depth_ >= limits_.max_text_depth) {
    sink_.OnOpaque(std::string(what) + " code nests deeper than dualkey follows");
    return;
  }
  if (!budget_->ChargeBytes(script.size())) {
    Spent();
    return;
  }
  // The same text (an alias used many times) is parsed once.
  std::shared_ptr<List> list;
  if (auto it = parsed_texts_.find(script); it != parsed_texts_.end()) {
    list = it->second;
  } else {
    ParseResult parsed = Parse(script);
    if (!parsed.ok) {
      sink_.OnOpaque("cannot parse the code " + std::string(what) +
                     " runs: " + parsed.error.message);
      return;
    }
    list = parsed.list;
    if (parsed_texts_.size() < 256)
      parsed_texts_.emplace(std::string(script), list);
    else
      kept_.push_back(list);
  }
  ++text_depth_;
  RunList(*list);
  --text_depth_;
}

// What bash runs when the script ends: trap handlers (EXIT, ERR, signals)
// and, for commands that were not found, command_not_found_handle.
void Evaluator::RunDeferred() {
  for (std::size_t i = 0; i < traps_.size() && !Spent(); ++i) {
    const Arg handler = traps_[i];
    if (!handler.known) {
      sink_.OnOpaque("a trap handler is computed at run time (" + handler.text + ")");
      continue;
    }
    RunText(handler.text, "a trap handler");
  }
  traps_.clear();
  auto handle = functions_.find("command_not_found_handle");
  if (handle != functions_.end() && !Spent()) {
    std::shared_ptr<const Command> body = handle->second;
    functions_.erase(handle);  // once
    RunCommand(*body, nullptr);
  }
}

bool Evaluator::RunAlias(const SimpleCommand& simple, const std::vector<Redirect>& extra) {
  if (aliases_.empty() || simple.words.empty()) return false;
  const Word& first = simple.words[0];
  if (first.parts.size() != 1 || first.parts[0].kind != WordPart::Kind::kLiteral ||
      first.parts[0].quoted)
    return false;
  const std::string& name = first.parts[0].text;
  auto it = aliases_.find(name);
  if (it == aliases_.end()) return false;
  if (std::find(alias_stack_.begin(), alias_stack_.end(), name) != alias_stack_.end())
    return false;  // bash does not expand an alias inside itself
  for (const Assignment& assignment : simple.assignments) ExpandSingle(assignment.value);
  if (!it->second.known) {
    sink_.OnOpaque("the alias `" + name + "` runs code computed at run time");
    return true;
  }
  std::string text = it->second.text;
  for (std::size_t i = 1; i < simple.words.size(); ++i) {
    text.push_back(' ');
    text += simple.words[i].source;
  }
  alias_stack_.push_back(name);
  RunText(text, "the alias `" + name + "`");
  alias_stack_.pop_back();
  if (!simple.redirects.empty() || !extra.empty()) {
    Invocation redirect_only;
    redirect_only.cwd = cwd_;
    AddRedirects(simple.redirects, &redirect_only);
    AddRedirects(extra, &redirect_only);
    Emit(std::move(redirect_only));
  }
  return true;
}

void Evaluator::RunSimple(const SimpleCommand& simple, const std::vector<Redirect>& extra,
                          Invocation* out) {
  if (Spent()) return;
  if (RunAlias(simple, extra)) return;
  Invocation& inv = *out;
  inv.cwd = cwd_;
  inv.depth = depth_;
  // Arguments of declaration builtins that are assignments (declare x=$y)
  // are not split into fields, as in bash.
  bool declaration = false;
  if (!simple.words.empty() && simple.words[0].parts.size() == 1 &&
      simple.words[0].parts[0].kind == WordPart::Kind::kLiteral) {
    const std::string& first = simple.words[0].parts[0].text;
    declaration = first == "declare" || first == "typeset" || first == "local" ||
                  first == "export" || first == "readonly";
  }
  for (std::size_t w = 0; w < simple.words.size(); ++w) {
    const Word& word = simple.words[w];
    bool assignment = false;
    if (declaration && w > 0) {
      const std::string& source = word.source;
      std::size_t k = 0;
      while (k < source.size() && IsNameChar(source[k])) ++k;
      assignment = k > 0 && IsNameStart(source[0]) && k < source.size() &&
                   (source[k] == '=' || source[k] == '[' ||
                    (source[k] == '+' && k + 1 < source.size() && source[k + 1] == '='));
    }
    for (Arg& arg : ExpandWord(word, !assignment)) inv.argv.push_back(std::move(arg));
  }
  AddRedirects(simple.redirects, &inv);
  AddRedirects(extra, &inv);

  if (inv.argv.empty()) {
    // Bare assignments change this shell's state.
    for (const Assignment& assignment : simple.assignments) Assign(assignment, false);
    if (!inv.redirects.empty()) Emit(inv);
    return;
  }
  // Prefix assignments (FOO=1 cmd) only reach the command, in its environment.
  std::vector<std::pair<std::string, Arg>> prefixes;
  for (const Assignment& assignment : simple.assignments) {
    Arg value;
    if (assignment.array) {
      value = Arg{"(...)", false};
      for (const Word& element : assignment.elements) ExpandWord(element, true);
    } else {
      value = ExpandSingle(assignment.value);
    }
    prefixes.emplace_back(assignment.name, std::move(value));
  }

  const std::string_view name = inv.argv[0].text;
  if (inv.argv[0].known) {
    auto fn = functions_.find(name);
    if (fn != functions_.end() && function_depth_ < limits_.max_function_depth) {
      std::shared_ptr<const Command> body = fn->second;
      Snapshot saved;
      if (!prefixes.empty()) {
        saved = Save();
        for (auto& [var_name, value] : prefixes)
          SetVariable(var_name, Variable{value.text, value.known, value.temp, true});
      }
      ++function_depth_;
      RunCommand(*body, nullptr);
      --function_depth_;
      if (!prefixes.empty()) Restore(std::move(saved));
      if (!inv.redirects.empty()) {
        Invocation redirect_only;
        redirect_only.cwd = cwd_;
        redirect_only.redirects = inv.redirects;
        Emit(std::move(redirect_only));
      }
      return;
    }
    // hash -p /bin/rm tidy: `tidy` runs /bin/rm.
    if (auto hashed = hashed_.find(name); hashed != hashed_.end())
      inv.argv[0].text = hashed->second;
  }
  std::shared_ptr<const Environment> env = CurrentEnvironment();
  if (!prefixes.empty()) {
    auto with_prefixes =
        env ? std::make_shared<Environment>(*env) : std::make_shared<Environment>();
    for (auto& [var_name, value] : prefixes) with_prefixes->variables[var_name] = std::move(value);
    env = std::move(with_prefixes);
  }
  inv.env = std::move(env);
  inv.run_by_evaluator = inv.argv[0].known && (name == "eval" || name == "source" || name == ".");
  Emit(inv);
  RunBuiltinEffects(inv);
}

void Evaluator::AddRedirects(const std::vector<Redirect>& redirects, Invocation* inv) {
  for (const Redirect& redirect : redirects) {
    switch (redirect.op) {
      case Redirect::Op::kHereDoc: {
        inv->has_stdin_text = true;
        if (redirect.heredoc_quoted) {
          if (!budget_->ChargeBytes(redirect.heredoc_body.size())) {
            Spent();
            inv->stdin_text_known = false;
            continue;
          }
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
        bool is_fd =
            !t.empty() && (t == "-" || std::all_of(t.begin(), t.end(), [](char c) {
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
  if (Spent()) return;
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

}  // namespace dualkey::shell
