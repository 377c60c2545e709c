// The syntax tree of a POSIX/bash command line, as produced by Parse().
// It keeps quoting and expansions apart so the evaluator can tell literal
// text from what the shell would compute at run time.
#pragma once

#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace dualkey::shell {

struct List;  // forward: bodies of substitutions and compound commands

// One piece of a word. A word like  "a$B"'c'  is three parts:
// Literal{"a", quoted}, Param{"B", quoted}, Literal{"c", quoted}.
struct WordPart {
  enum class Kind {
    kLiteral,     // text; `quoted` disables glob, brace and tilde expansion
    kParam,       // $NAME, ${NAME}, ${NAME:-word}, $1, $@, $?, ...
    kCommandSub,  // $(list) or `list`
    kArith,       // $(( expr ))
    kProcessSub,  // <(list) or >(list)
  };
  Kind kind = Kind::kLiteral;
  bool quoted = false;  // inside '...', "...", $'...' or backslash-escaped
  // kLiteral: the text after quote removal ($'..' escapes already decoded).
  // kParam:   the parameter name ("HOME", "1", "@", "?").
  // kArith:   the expression text.
  std::string text;
  // kParam only: the operator of ${NAME<op>word}, e.g. ":-", "-", ":=",
  // "=", ":?", "?", ":+", "+", "#", "##", "%", "%%", "/", "//", ":" (substring),
  // "#len" for ${#NAME}; empty for plain $NAME / ${NAME}.
  std::string param_op;
  std::vector<WordPart> operand;  // kParam: the word after the operator
  // kCommandSub / kProcessSub: the parsed body.
  std::shared_ptr<List> body;
  bool process_sub_output = false;  // kProcessSub: >(...) rather than <(...)
};

struct Word {
  std::vector<WordPart> parts;
  // The word exactly as written in the source (for display and errors).
  std::string source;
};

struct Redirect {
  enum class Op {
    kInput,       // <
    kOutput,      // >   (truncates)
    kClobber,     // >|  (truncates)
    kAppend,      // >>
    kReadWrite,   // <>
    kDupInput,    // <&
    kDupOutput,   // >&  (also `>&file` when target is not a number)
    kOutputBoth,  // &>  (truncates; stdout and stderr)
    kAppendBoth,  // &>>
    kHereDoc,     // << and <<-
    kHereString,  // <<<
  };
  Op op = Op::kOutput;
  int fd = -1;  // explicit fd number before the operator, -1 if none
  Word target;  // file, fd or here-string word; heredoc: the delimiter word
  // kHereDoc: the body text (lines up to the delimiter, tabs stripped for <<-).
  // When the delimiter was unquoted the body is also parsed into
  // `heredoc_word` so expansions in it ($(...), $VAR) are visible.
  std::string heredoc_body;
  bool heredoc_quoted = false;
  Word heredoc_word;
};

struct Assignment {
  std::string name;
  Word value;
  bool append = false;         // NAME+=value
  bool array = false;          // NAME=(a b c)
  std::vector<Word> elements;  // array elements when `array`
};

struct SimpleCommand {
  std::vector<Assignment> assignments;  // NAME=value prefixes
  std::vector<Word> words;              // command name and arguments
  std::vector<Redirect> redirects;
};

struct Command;
using CommandPtr = std::shared_ptr<Command>;

struct Subshell {
  std::shared_ptr<List> body;
};  // ( list )
struct BraceGroup {
  std::shared_ptr<List> body;
};  // { list; }

struct IfClause {
  // branches[i] = {condition, body}; `else_body` may be null.
  struct Branch {
    std::shared_ptr<List> condition;
    std::shared_ptr<List> body;
  };
  std::vector<Branch> branches;
  std::shared_ptr<List> else_body;
};

struct ForClause {
  std::string variable;  // empty for C-style for ((;;))
  bool has_in = false;   // `for x in words`; without `in` it iterates "$@"
  std::vector<Word> words;
  std::string arith;  // C-style: the text between (( and ))
  std::shared_ptr<List> body;
};

struct WhileClause {
  bool until = false;
  std::shared_ptr<List> condition;
  std::shared_ptr<List> body;
};

struct CaseClause {
  struct Item {
    std::vector<Word> patterns;
    std::shared_ptr<List> body;  // may be null for an empty item
  };
  Word subject;
  std::vector<Item> items;
};

struct FunctionDef {
  std::string name;
  CommandPtr body;
};

// (( expr )) and [[ expr ]]: kept as words; they run nothing by themselves
// except through expansions inside them.
struct ArithCommand {
  std::string expr;
};
struct TestCommand {
  std::vector<Word> words;
};

struct Command {
  std::variant<SimpleCommand, Subshell, BraceGroup, IfClause, ForClause, WhileClause, CaseClause,
               FunctionDef, ArithCommand, TestCommand>
      node;
  // Redirections applied to a compound command: `{ ...; } > out`.
  std::vector<Redirect> redirects;
};

struct Pipeline {
  std::vector<CommandPtr> commands;  // a | b | c  (|& also counts)
  bool negated = false;              // ! pipeline
  bool timed = false;                // time pipeline
};

// a && b || c &
struct AndOr {
  enum class Op { kAnd, kOr };
  Pipeline first;
  std::vector<std::pair<Op, Pipeline>> rest;
  bool background = false;  // terminated by &
};

struct List {
  std::vector<AndOr> items;  // separated by ; & or newlines
};

}  // namespace dualkey::shell
