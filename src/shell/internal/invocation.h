// What the classifier packs see: one command as it would be executed, after
// the evaluator expanded its words (variables, quotes, braces, tilde) as far
// as they can be known before running, plus the Context packs report to.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/action.h"
#include "shell/internal/ast.h"
#include "shell/internal/git_facts.h"

namespace dualkey::shell {

// One expanded argument.
struct Arg {
  // The value. Parts that cannot be known before running (an unset $VAR, a
  // $(...) whose output we cannot predict) appear as written ("$X", "$(...)").
  std::string text;
  bool known = true;  // false if any part of `text` is such a placeholder
  bool glob = false;  // contains an unquoted *, ? or [..] the shell would expand
  // true when the value is known to be a fresh temp path (e.g. $(mktemp -d)).
  bool temp = false;
};

enum class RedirectKind {
  kRead,      // < file, <> file
  kTruncate,  // > file, >| file, &> file: empties the file first
  kAppend,    // >> file, &>> file
  kDup,       // >&2, <&0, 2>&1: no file touched
};

struct FileRedirect {
  RedirectKind kind = RedirectKind::kRead;
  int fd = -1;
  Arg target;  // unresolved path as expanded (see ResolvePath in paths.h)
};

// What a command inherits from the shell that starts it besides its argv:
// exported variables (with NAME=value prefixes) and exported functions
// (`export -f`). A child shell (bash -c, BASH_ENV, xargs sh -c) starts with it.
struct Environment {
  std::map<std::string, Arg, std::less<>> variables;
  std::map<std::string, std::shared_ptr<const Command>, std::less<>> functions;
};

struct Invocation {
  std::vector<Arg> argv;  // argv[0] is the command as written (may be a path)
  std::vector<FileRedirect> redirects;
  // Text fed on stdin by a heredoc or here-string, if any.
  bool has_stdin_text = false;
  std::string stdin_text;
  bool stdin_text_known = true;  // false when it holds unexpanded parts
  // Set when stdin comes from the previous stage of a pipeline.
  bool stdin_piped = false;
  std::vector<Arg> piped_from;  // argv of that previous stage (not unwrapped)
  // What that previous stage prints, when it can be known before running
  // (echo, printf, cat of a here-document or of a file written earlier).
  std::optional<std::string> piped_text;
  // The environment beyond the defaults; null when nothing is exported.
  std::shared_ptr<const Environment> env;
  // eval and source: the evaluator already ran the code in the shell that
  // runs them (their definitions stay), so packs leave it alone.
  bool run_by_evaluator = false;
  // Absolute working directory when the command runs; empty if unknown
  // (e.g. after `cd $UNSET`).
  std::string cwd;
  int depth = 0;  // how many wrappers/interpreters deep this command sits
  // Runs on another machine or in a container (ssh, docker exec): local
  // files say nothing about what it sees there.
  bool remote = false;

  std::string_view name() const;  // basename of argv[0], "" if argv empty
  bool NameKnown() const { return !argv.empty() && argv[0].known; }
  // An environment variable the command gets; null when not set.
  const Arg* EnvValue(std::string_view variable) const;
  // The text the command reads on stdin when it is known: a here-document,
  // a here-string, or predictable output of the previous pipeline stage.
  std::optional<std::string> StdinText() const;
};

// A file that a command runs or reads as code (bash FILE, ./FILE, source
// FILE, crontab FILE, BASH_ENV=FILE): what is known about it before running.
struct CodeFile {
  enum class State {
    kText,        // `text` holds the content (written earlier in the line, or read here)
    kProgram,     // a copy or link of a program: `text` is its name ("rm")
    kBinary,      // a compiled program on this machine: the project's own build
    kUnknown,     // written earlier in the line by something whose output is unknown
    kMissing,     // not on this machine and not written by the line
    kUnreadable,  // there, but cannot be read (permissions, not a regular file)
    kTooLarge,    // larger than dualkey reads
    kNotLocal,    // on another host or in a container
  };
  State state = State::kMissing;
  std::string text;
  std::string path;           // as resolved
  bool written_here = false;  // written by an earlier command of the same line
  bool appended = false;      // `text` was appended to what the file held before
};

enum class SqlDialect { kPostgres, kMySql, kSqlite };

// What a pack reports to, and how it follows wrapped commands.
class Context {
 public:
  virtual ~Context() = default;
  virtual void Emit(Action action) = 0;
  // Classify a command that another one runs (sudo X, xargs X, find -exec X).
  // The caller builds `inner` (argv, cwd, depth+1).
  virtual void ClassifyInvocation(const Invocation& inner) = 0;
  // Classify shell text that another command runs (bash -c, eval, ssh host).
  virtual void ClassifyScript(std::string_view script, std::string_view cwd, int depth) = 0;
  // The same for shell text run on another host or in a container (ssh host
  // CMD, heroku run): its working directory is unknown, its files are not ours.
  virtual void ClassifyRemoteScript(std::string_view script, int depth) = 0;
  // Classify SQL text handed to a database CLI; `target` names the database
  // (host/db) for the Action's targets.
  virtual void ClassifySql(std::string_view sql, SqlDialect dialect, std::string_view target,
                           int depth) = 0;
  virtual const std::string& home() const = 0;  // the user's home directory
  // Shell text read from a file that a command runs (bash FILE, ./FILE,
  // source FILE). `project_code`: the file was not written by this command
  // line but found on this machine, so it is the project's own code: what
  // cannot be seen through in it is not held by itself; what it visibly
  // destroys is.
  virtual void ClassifyFileScript(std::string_view script, std::string_view cwd, int depth,
                                  bool project_code) {
    ClassifyScript(script, cwd, depth);
  }
  // True when an earlier command of this line wrote `path` (or a tree it is
  // in): cheaper than ReadCodeFile for carriers that only follow such files.
  virtual bool WrittenHere(const Arg& path, std::string_view cwd, bool remote) { return false; }
  // True when an earlier command of this line created `path` or a tree it
  // is in (mkdir, git clone, an output option) and nothing is there on this
  // machine now: deleting it loses only what the line itself made.
  virtual bool CreatedHere(const Arg& path, std::string_view cwd, bool remote) { return false; }
  // What deleting the absolute `path` loses, read from its git work tree
  // (git_facts.h); the dispatcher remembers the answer for the line.
  virtual LossFacts LossFactsFor(std::string_view path) { return ReadLossFacts(path); }
  // A file a command runs or reads as code (see CodeFile). `remote`: the
  // command runs on another host, where local files say nothing.
  virtual CodeFile ReadCodeFile(const Arg& path, std::string_view cwd, bool remote) {
    CodeFile file;
    file.path = path.text;
    file.state = path.known ? CodeFile::State::kMissing : CodeFile::State::kUnknown;
    return file;
  }
};

// A pack handles the commands named in its table.
using PackHandler = void (*)(const Invocation& inv, Context& ctx);

struct PackEntry {
  std::string_view command;  // basename, e.g. "rm"; with `prefix`, "mkfs."
  PackHandler handler;
  bool prefix = false;  // match every name starting with `command`
};

// Helpers shared by packs ------------------------------------------------

// An Action on the shell channel.
Action MakeAction(std::string op_class, std::vector<std::string> targets,
                  Reversibility reversibility, Severity severity, std::string reason);

// Short and long flag parsing that understands clustering (-rf), `--` and
// `--opt=value`. `HasShort(args, 'r')` is true for -r, -rf, -fr, -Rf...
// Only arguments before `--` count as options.
bool HasShortFlag(std::span<const Arg> args, char flag);
bool HasLongFlag(std::span<const Arg> args, std::string_view flag);  // "--force"
// First value of an option: "-o X", "-oX", "--out X", "--out=X". Empty if absent.
std::string OptionValue(std::span<const Arg> args, std::string_view short_or_long);
// Words that are not options (after `--`, everything). `takes_value` lists
// options that consume the next word, e.g. {"-n", "--namespace"}.
std::vector<Arg> Operands(std::span<const Arg> args,
                          std::initializer_list<std::string_view> takes_value = {});
// Index of the first operand at or after `from`, skipping the values of the
// options in `with_value` (not when written --opt=value); args.size() if none.
std::size_t NextOperand(std::span<const Arg> args, std::size_t from,
                        std::span<const std::string_view> with_value);
// The operands at or after `from` (NextOperand's walk): views into args.
std::vector<std::string_view> OperandsFrom(std::span<const Arg> args, std::size_t from,
                                           std::span<const std::string_view> with_value);
bool InList(std::span<const std::string_view> list, std::string_view word);
// The words joined with single spaces, as eval, watch, ssh and `git
// submodule foreach` make one script of their arguments; known only when
// every word is.
Arg JoinArgs(std::span<const Arg> args);

}  // namespace dualkey::shell
