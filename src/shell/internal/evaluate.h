// The evaluator walks a parsed script the way the shell would run it, but
// without running anything: it tracks variables and the working directory,
// expands words (quotes, parameters, tilde, braces; globs stay symbolic) and
// hands every command that would execute, in every branch, to a sink.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "shell/internal/ast.h"
#include "shell/internal/invocation.h"

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
  // nesting too deep).
  virtual void OnOpaque(std::string reason) = 0;
};

struct EvalLimits {
  int max_invocations = 2048;   // per top-level input, across nesting
  int max_loop_words = 32;      // for-loop words evaluated one by one
  int max_brace_words = 256;    // results of one brace expansion
  int max_function_depth = 8;   // nested function calls
};

class Evaluator {
 public:
  Evaluator(InvocationSink& sink, Variables variables, std::string cwd, std::string home,
            int depth, const EvalLimits& limits = {});

  void Run(const List& list);

  // Exported variables, for a child shell started from this one.
  Variables ExportedVariables() const;

 private:
  void RunList(const List& list);
  void RunAndOr(const AndOr& and_or);
  void RunPipeline(const Pipeline& pipeline);
  void RunCommand(const Command& command, Invocation* pipe_invocation);
  void RunSimple(const SimpleCommand& simple, const std::vector<Redirect>& extra,
                 Invocation* out);
  void RunBuiltinEffects(const Invocation& inv);
  void Assign(const Assignment& assignment, bool exported);
  std::vector<Arg> ExpandWord(const Word& word, bool split_fields);
  Arg ExpandSingle(const Word& word);  // no field splitting or brace expansion
  std::string CommandSubstitutionValue(const List& body, bool* known, bool* temp);
  void AddRedirects(const std::vector<Redirect>& redirects, Invocation* inv);
  void Emit(Invocation inv);

  InvocationSink& sink_;
  Variables vars_;
  std::map<std::string, std::shared_ptr<Command>, std::less<>> functions_;
  std::string cwd_;
  std::string home_;
  int depth_;
  EvalLimits limits_;
  int function_depth_ = 0;
  int invocations_ = 0;
  bool exhausted_ = false;
};

}  // namespace dualkey::shell
