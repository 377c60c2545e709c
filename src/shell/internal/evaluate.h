// The evaluator walks a parsed script the way the shell would run it, but
// without running anything: it tracks variables, functions, aliases, traps
// and the working directory, expands words (quotes, parameters, tilde,
// braces, IFS splitting, arithmetic; globs stay symbolic) and hands every
// command that would execute, in every branch, to a sink. Code the shell
// runs implicitly (command substitutions inside arithmetic and array
// subscripts, trap handlers, aliases, `command_not_found_handle`, `mapfile
// -C`) is evaluated where bash would run it.
//
// All work is bounded by an EvalBudget shared by every evaluator of one
// input (nested shells included): bytes of expanded text, bytes of state
// copied for subshells, and steps. Past the budget the evaluator stops and
// reports the input as opaque, so it is held.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/ast.h"
#include "shell/internal/invocation.h"
#include "shell/internal/output.h"

namespace dualkey::shell {

struct Variable {
  std::string value;
  bool known = true;
  bool temp = false;      // value is a fresh temp path ($(mktemp -d))
  bool exported = false;  // visible to child shells (bash -c, ssh ...)
};

using Variables = std::map<std::string, Variable, std::less<>>;

class InvocationSink {
 public:
  virtual ~InvocationSink() = default;
  virtual void OnInvocation(const Invocation& invocation) = 0;
  // Something the evaluator itself cannot see through (too many commands,
  // nesting too deep, a budget spent).
  virtual void OnOpaque(std::string reason) = 0;
  // The content of a file a command reads (`cat f`, `$(< f)`), when known:
  // written earlier in the same input, or on this machine.
  virtual CodeFile ReadFile(const Arg& path, std::string_view cwd) {
    CodeFile file;
    file.path = path.text;
    return file;
  }
  // The shell text `source FILE` / `. FILE` runs in this shell, when it can
  // be known; the sink reports what it cannot read. `project_code`: read from
  // this machine rather than written by the line (see Context).
  struct SourcedText {
    std::string text;
    bool project_code = false;
  };
  virtual std::optional<SourcedText> SourceFile(const Invocation& invocation) {
    return std::nullopt;
  }
  // Brackets code the evaluator runs from a file read on this machine.
  virtual void ProjectCode(bool enter) {}
};

struct EvalLimits {
  int max_invocations = 2048;     // per evaluator
  int max_loop_words = 32;        // for-loop words evaluated one by one
  int max_loop_iterations = 256;  // all loops together, per evaluator
  int max_brace_words = 256;      // results of one brace expansion
  int max_function_depth = 8;     // nested function calls
  int max_arith_depth = 8;        // variables whose values are arithmetic code
  // Code computed at run time evaluated inside each other: alias and trap
  // text, array subscripts (a name reached by ${!x} whose subscript uses ${!x}).
  int max_text_depth = 8;
  // Shared by every evaluator of one input:
  std::size_t max_expansion_bytes = 1 << 20;  // text produced by expansion
  std::size_t max_copy_bytes = 32 << 20;      // state copied for subshells and scopes
  std::size_t max_steps = 100000;             // commands, assignments, words walked
};

// The work budget of one input. Once spent it stays spent: every evaluator
// sharing it stops.
class EvalBudget {
 public:
  explicit EvalBudget(const EvalLimits& limits = {}) : limits_(limits) {}

  bool ChargeBytes(std::size_t bytes);  // false once past max_expansion_bytes
  bool ChargeCopy(std::size_t bytes);   // false once past max_copy_bytes
  bool Step();                          // false once past max_steps
  void Exhaust(std::string reason);

  bool exhausted() const { return !reason_.empty(); }
  const std::string& reason() const { return reason_; }
  // True exactly once after exhaustion: the caller reports it.
  bool TakeReport();
  std::size_t expanded_bytes() const { return expanded_bytes_; }
  std::size_t copied_bytes() const { return copied_bytes_; }
  const EvalLimits& limits() const { return limits_; }

 private:
  EvalLimits limits_;
  std::size_t expanded_bytes_ = 0;
  std::size_t copied_bytes_ = 0;
  std::size_t steps_ = 0;
  std::string reason_;
  bool reported_ = false;
};

class Evaluator {
 public:
  // `budget` is shared with nested evaluators; null: the evaluator keeps its own.
  Evaluator(InvocationSink& sink, Variables variables, std::string cwd, std::string home, int depth,
            const EvalLimits& limits = {}, EvalBudget* budget = nullptr);

  // What a parent shell passed down: exported variables and functions.
  void Inherit(const Environment& environment);

  // Runs the script, then what bash runs at exit (trap handlers,
  // command_not_found_handle).
  void Run(const List& list);

  // Exported variables, for a child shell started from this one.
  Variables ExportedVariables() const;

  const EvalBudget& budget() const { return *budget_; }

 private:
  using FunctionTable = std::map<std::string, std::shared_ptr<const Command>, std::less<>>;

  struct Alias {
    std::string text;
    bool known = true;
  };

  void RunList(const List& list);
  void RunAndOr(const AndOr& and_or);
  PredictedOutput RunPipeline(const Pipeline& pipeline, bool want_output);
  void RunCommand(const Command& command, Invocation* pipe_invocation);
  void RunSimple(const SimpleCommand& simple, const std::vector<Redirect>& extra, Invocation* out);
  bool RunAlias(const SimpleCommand& simple, const std::vector<Redirect>& extra);
  void RunText(std::string_view script, std::string_view what);
  void RunDeferred();
  void RunBuiltinEffects(const Invocation& inv);
  void Assign(const Assignment& assignment, bool exported);
  void SetVariable(const std::string& name, Variable var);
  std::vector<Arg> ExpandWord(const Word& word, bool split_fields);
  Arg ExpandSingle(const Word& word);  // no field splitting or brace expansion
  PredictedOutput CommandSubstitutionValue(const List& body);
  void AddRedirects(const std::vector<Redirect>& redirects, Invocation* inv);
  void Emit(Invocation inv);

  // Arithmetic: `text` is an expression as written (expansions active).
  // Runs the substitutions in it and the code in variables it names
  // (x='a[$(cmd)]'; $((x)) runs cmd); returns its value when known.
  std::optional<long long> EvaluateArith(std::string_view text);
  // The same for already expanded text: follows the variables it names.
  std::optional<long long> EvaluateExpandedArith(std::string_view text);
  // NAME[SUBSCRIPT] given to a builtin (printf -v, read, test -v, unset,
  // declare): the subscript is arithmetic and runs. Returns the name with the
  // subscript expanded.
  std::string EvaluateSubscripted(std::string_view name);
  // Scoped state for subshells and substitutions, charged to the budget.
  struct Snapshot {
    Variables vars;
    std::string cwd;
  };
  Snapshot Save();
  void Restore(Snapshot snapshot);
  bool Spent();  // true (and reported) once the budget is spent
  std::shared_ptr<const Environment> CurrentEnvironment();

  InvocationSink& sink_;
  Variables vars_;
  FunctionTable functions_;
  std::set<std::string, std::less<>> exported_functions_;
  std::map<std::string, Alias, std::less<>> aliases_;
  std::vector<std::string> alias_stack_;
  std::map<std::string, std::string, std::less<>> hashed_;  // hash -p PATH NAME
  std::vector<Arg> traps_;                                  // handlers run at exit
  std::vector<std::shared_ptr<List>> kept_;  // parsed alias and trap text stays alive
  std::map<std::string, std::shared_ptr<List>, std::less<>> parsed_texts_;
  std::string cwd_;
  std::string home_;
  int depth_;
  EvalLimits limits_;
  std::unique_ptr<EvalBudget> own_budget_;
  EvalBudget* budget_;
  int function_depth_ = 0;
  int arith_depth_ = 0;
  int text_depth_ = 0;
  int invocations_ = 0;
  int loop_iterations_ = 0;
  bool exhausted_ = false;
  bool env_dirty_ = true;
  std::shared_ptr<const Environment> env_cache_;
  FileReader reader_;
};

}  // namespace dualkey::shell
