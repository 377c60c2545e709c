// The scan of a one-liner: finds the destroying calls and follows their
// arguments; the handlers of python, node, perl, ruby, php, lua, R and awk.

#include <algorithm>
#include <cctype>
#include <map>
#include <string>

#include "shell/internal/packs/interpreters/interpreters.h"

namespace dualkey::shell::interpreters {

bool MatchesCall(std::string_view ident, std::string_view name) {
  if (ident == name) return true;
  // Component-aligned suffix: "require('fs').rmSync" ends with ".rmSync".
  return ident.size() > name.size() && ident.ends_with(name) &&
         ident[ident.size() - name.size() - 1] == '.';
}

void RunArgv(const Invocation& inv, Context& ctx, std::vector<std::string> words) {
  Invocation inner;
  for (std::string& word : words) inner.argv.push_back(Arg{std::move(word)});
  inner.cwd = inv.cwd;
  inner.depth = inv.depth + 1;
  inner.remote = inv.remote;
  ctx.ClassifyInvocation(inner);
}

void ApplyCall(const Call& call, const Argument& arg, Language language, const Invocation& inv,
               Context& ctx, std::string_view interpreter, int eval_depth) {
  std::string who(interpreter);
  if (!arg.literal || arg.strings.empty()) {
    ctx.Emit(MakeAction(
        "opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
        who + " calls " + std::string(call.name) + " with an argument computed at run time"));
    return;
  }
  auto run_argv = [&](std::vector<std::string> words) { RunArgv(inv, ctx, std::move(words)); };
  switch (call.effect) {
    case Effect::kShell: {
      std::string script = arg.strings[0];
      for (std::size_t k = 1; k < arg.strings.size(); ++k) script += " " + arg.strings[k];
      ctx.ClassifyScript(script, inv.cwd, inv.depth + 1);
      break;
    }
    case Effect::kArgv:
      if (arg.is_list)
        run_argv(arg.strings);
      else
        ctx.ClassifyScript(arg.strings[0], inv.cwd, inv.depth + 1);  // shell=True style
      break;
    case Effect::kDeleteTree:
      for (const std::string& path : arg.strings) run_argv({"rm", "-rf", "--", path});
      break;
    case Effect::kDeleteFile:
      for (const std::string& path : arg.strings) run_argv({"rm", "-f", "--", path});
      break;
    case Effect::kEval:
      if (eval_depth < 4) ScanCode(arg.strings[0], language, inv, ctx, interpreter, eval_depth + 1);
      break;
    case Effect::kRmArgs: {
      std::vector<std::string> argv{"rm"};
      argv.insert(argv.end(), arg.strings.begin(), arg.strings.end());
      run_argv(std::move(argv));
      break;
    }
    case Effect::kNone:
      break;
  }
}

const Call* FindCall(std::span<const Call> calls, const std::string& text, Language language) {
  for (const Call& call : calls) {
    if (!MatchesCall(text, call.name)) continue;
    bool qualified = call.name.find('.') != std::string_view::npos;
    if (!qualified && text != call.name) {
      std::string_view owner(text);
      owner = owner.substr(0, owner.size() - call.name.size() - 1);
      bool known_owner = owner.ends_with(")") || owner == "os" || owner == "fs" ||
                         owner == "child_process" || owner == "cp" || owner == "shutil" ||
                         owner == "File.Path" || owner == "subprocess" || owner == "Kernel" ||
                         owner.ends_with("fs") || owner.ends_with("promises") || owner == "fse" ||
                         owner == "fs-extra" || owner == "Deno" || owner == "Bun" ||
                         owner == "POSIX" || owner == "execa" || owner == "FileUtils" ||
                         IsDangerousModule(owner, language);
      if (!known_owner) continue;
    }
    return &call;
  }
  return nullptr;
}

void ScanCode(std::string_view code, Language language, const Invocation& inv, Context& ctx,
              std::string_view interpreter, int eval_depth) {
  std::vector<Token> tokens = Tokenize(code, language);
  FoldDynamicImports(&tokens, language, inv, ctx, interpreter);
  const Bindings bindings = CollectBindings(tokens, language);
  std::span<const Call> calls = CallsFor(language);
  const std::string who(interpreter);
  auto opaque = [&](std::string reason) {
    ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                        who + " " + reason));
  };
  // A literal variable as an argument: p = '/srv/x'; shutil.rmtree(p).
  auto argument = [&](std::size_t name_index) {
    Argument arg = FirstArgument(tokens, name_index);
    if (!arg.strings.empty() || arg.literal) return arg;
    std::size_t a = name_index + 1;
    if (a < tokens.size() && tokens[a].text == "(") ++a;
    if (a < tokens.size() && tokens[a].kind == Token::Kind::kIdent && a + 1 < tokens.size() &&
        (tokens[a + 1].text == ")" || tokens[a + 1].text == ",")) {
      if (auto it = bindings.literals.find(tokens[a].text); it != bindings.literals.end()) {
        arg.literal = true;
        arg.strings.push_back(it->second);
      }
    }
    return arg;
  };
  const bool bare_calls = language == Language::kPerl || language == Language::kRuby;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const Token& token = tokens[i];
    // PHP and friends name callbacks as strings: array_map('unlink', $files).
    if (token.kind == Token::Kind::kString && language == Language::kPhp &&
        InArgumentPosition(tokens, i)) {
      const Call* call = FindCall(calls, token.text, language);
      if (call != nullptr && call->effect != Effect::kNone)
        opaque("passes " + token.text + " as a callback, applied to values computed at run time");
      continue;
    }
    if (token.kind != Token::Kind::kIdent) continue;
    const std::string name = Resolve(bindings, token.text);
    // Computed attribute access on a module that destroys: getattr(shutil,
    // 'rm' + 'tree'), fs[name], os.__dict__[x]. A literal name is a call.
    if ((name == "getattr" || name == "builtins.getattr") && i + 3 < tokens.size() &&
        tokens[i + 1].text == "(" && tokens[i + 2].kind == Token::Kind::kIdent &&
        tokens[i + 3].text == ",") {
      const std::string module = Resolve(bindings, tokens[i + 2].text);
      std::size_t close = MatchingClose(tokens, i + 1);
      const bool literal = i + 5 < tokens.size() && tokens[i + 4].kind == Token::Kind::kString &&
                           !tokens[i + 4].interpolated && tokens[i + 5].text == ")";
      if (literal && close != std::string::npos) {
        const Call* call = FindCall(calls, module + "." + tokens[i + 4].text, language);
        if (call != nullptr && call->effect != Effect::kNone) {
          if (close + 1 < tokens.size() && tokens[close + 1].text == "(")
            ApplyCall(*call, argument(close), language, inv, ctx, interpreter, eval_depth);
          else
            opaque("takes " + module + "." + tokens[i + 4].text + " with getattr");
        }
      } else if (IsDangerousModule(module, language)) {
        opaque("reaches into " + module + " with a name computed at run time (getattr)");
      }
      continue;
    }
    if (i + 1 < tokens.size() && tokens[i + 1].text == "[" &&
        (IsDangerousModule(name, language) || name.ends_with(".__dict__") ||
         (name == "vars" || name == "globals" || name == "locals"))) {
      std::size_t close = MatchingClose(tokens, i + 1);
      std::string module = name;
      if (module.ends_with(".__dict__")) module.resize(module.size() - 9);
      if (close == i + 3 && tokens[i + 2].kind == Token::Kind::kString &&
          !tokens[i + 2].interpolated) {
        const Call* call = FindCall(calls, module + "." + tokens[i + 2].text, language);
        if (call != nullptr && call->effect != Effect::kNone && close + 1 < tokens.size() &&
            tokens[close + 1].text == "(")
          ApplyCall(*call, argument(close), language, inv, ctx, interpreter, eval_depth);
      } else if (IsDangerousModule(module, language) || name == "globals" || name == "vars") {
        opaque("reaches into " + module + " with a name computed at run time ([...])");
      }
      continue;
    }
    // Only a call: the name must be followed by "(" or, in Perl/Ruby/awk,
    // by an argument directly ("system 'ls'").
    const bool next_is_call =
        i + 1 < tokens.size() &&
        (tokens[i + 1].text == "(" ||
         (bare_calls && (tokens[i + 1].kind == Token::Kind::kString ||
                         tokens[i + 1].kind == Token::Kind::kIdent || tokens[i + 1].text == "{")));
    const Call* call = FindCall(calls, name, language);
    if (call == nullptr || call->effect == Effect::kNone) continue;
    if (!next_is_call) {
      // A destroyer passed as a value: map(os.remove, paths), forEach(fs.rmSync).
      if (InArgumentPosition(tokens, i) && name.find('.') != std::string::npos)
        opaque("passes " + name + " as a function, applied to values computed at run time");
      continue;
    }
    Argument arg = argument(i);
    // Path('x').unlink(): the path is the receiver's argument.
    if (!arg.literal && arg.strings.empty() && i >= 2 && tokens[i - 1].text == ")" &&
        (call->effect == Effect::kDeleteFile || call->effect == Effect::kDeleteTree)) {
      int level = 0;
      std::size_t k = i - 1;
      for (;; --k) {
        if (tokens[k].text == ")")
          ++level;
        else if (tokens[k].text == "(" && --level == 0)
          break;
        if (k == 0) break;
      }
      if (k > 0 && tokens[k - 1].kind == Token::Kind::kIdent &&
          tokens[k - 1].text.ends_with("Path"))
        arg = argument(k - 1);
    }
    ApplyCall(*call, arg, language, inv, ctx, interpreter, eval_depth);
  }
}

// Scans the code an interpreter gets inline (-c/-e/-r), or on stdin.
void RunInterpreter(const Invocation& inv, Context& ctx, Language language,
                    std::initializer_list<std::string_view> code_flags,
                    std::initializer_list<std::string_view> value_flags) {
  std::span<const Arg> args = std::span<const Arg>(inv.argv).subspan(1);
  std::string interpreter(inv.name());
  bool inline_code = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    bool is_code_flag = std::find(code_flags.begin(), code_flags.end(), text) != code_flags.end();
    // Perl/Ruby clusters: -ne, -pe, -lane all end with the code flag.
    if (!is_code_flag && (language == Language::kPerl || language == Language::kRuby) &&
        text.size() > 2 && text[0] == '-' && text[1] != '-' &&
        (text.back() == 'e' || text.back() == 'E') &&
        std::all_of(text.begin() + 1, text.end(),
                    [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }) &&
        text[1] != 'M' && text[1] != 'm' && text[1] != 'I' && text[1] != 'r')
      is_code_flag = true;
    if (is_code_flag && i + 1 < args.size()) {
      inline_code = true;
      const Arg& code = args[i + 1];
      if (!code.known) {
        ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                            interpreter + " runs code computed at run time"));
      } else {
        ScanCode(code.text, language, inv, ctx, interpreter, 0);
      }
      ++i;
      continue;
    }
    if (std::find(value_flags.begin(), value_flags.end(), text) != value_flags.end()) {
      ++i;
      continue;
    }
    if (text == "-" || text.empty() || text[0] != '-') {
      if (text != "-") {
        // A script file: the project's own code, unless this command line
        // wrote it (then what it holds is what runs).
        if (!ctx.WrittenHere(args[i], inv.cwd, inv.remote)) return;
        CodeFile file = ctx.ReadCodeFile(args[i], inv.cwd, inv.remote);
        if (!file.written_here) return;
        if (file.state == CodeFile::State::kText)
          ScanCode(file.text, language, inv, ctx, interpreter, 0);
        else if (file.state == CodeFile::State::kUnknown)
          ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                              interpreter + " runs " + text +
                                  ", written earlier in this command by something whose output "
                                  "cannot be known"));
        return;
      }
      break;
    }
  }
  if (inline_code) return;
  if (inv.has_stdin_text) {
    if (!inv.stdin_text_known) {
      ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                          interpreter + " reads code with parts computed at run time"));
      return;
    }
    ScanCode(inv.stdin_text, language, inv, ctx, interpreter, 0);
  } else if (inv.stdin_piped) {
    ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                        interpreter + " runs code piped in at run time, which cannot be checked"));
  }
}

void Python(const Invocation& inv, Context& ctx) {
  // -m module runs a module (pytest, http.server): the project's own work.
  std::span<const Arg> args = std::span<const Arg>(inv.argv).subspan(1);
  for (const Arg& arg : args) {
    if (arg.text == "-m") return;
    if (arg.text == "-c" || !arg.text.starts_with("-")) break;
  }
  RunInterpreter(inv, ctx, Language::kPython, {"-c"}, {"-W", "-X", "-Q"});
}
void Node(const Invocation& inv, Context& ctx) {
  RunInterpreter(inv, ctx, Language::kJavaScript, {"-e", "--eval", "-p", "--print"},
                 {"-r", "--require", "--import", "--loader"});
}
void Deno(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = std::span<const Arg>(inv.argv).subspan(1);
  if (!args.empty() && args[0].text == "eval" && args.size() > 1) {
    if (!args.back().known) {
      ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                          "deno eval runs code computed at run time"));
      return;
    }
    ScanCode(args.back().text, Language::kJavaScript, inv, ctx, "deno", 0);
  }
}
void Perl(const Invocation& inv, Context& ctx) {
  RunInterpreter(inv, ctx, Language::kPerl, {"-e", "-E"}, {"-I", "-M", "-m"});
}
void Ruby(const Invocation& inv, Context& ctx) {
  RunInterpreter(inv, ctx, Language::kRuby, {"-e"}, {"-I", "-r"});
}
void Php(const Invocation& inv, Context& ctx) {
  RunInterpreter(inv, ctx, Language::kPhp, {"-r"}, {"-d", "-c"});
}
void Lua(const Invocation& inv, Context& ctx) {
  RunInterpreter(inv, ctx, Language::kLua, {"-e"}, {"-l"});
}
void Rscript(const Invocation& inv, Context& ctx) {
  RunInterpreter(inv, ctx, Language::kR, {"-e"}, {});
}

// True when `command` (shell text) starts with a program that executes what
// it reads on stdin: a shell, an interpreter or a database client.
bool ReadsCodeOnStdin(std::string_view command) {
  std::size_t start = command.find_first_not_of(" \t");
  if (start == std::string_view::npos) return false;
  std::size_t end = command.find_first_of(" \t", start);
  std::string_view word = command.substr(start, end == std::string_view::npos ? end : end - start);
  if (auto slash = word.rfind('/'); slash != std::string_view::npos) word = word.substr(slash + 1);
  constexpr std::string_view kReaders[] = {
      "sh",     "bash",    "zsh",     "dash",      "ksh",     "ash",   "fish",
      "python", "python3", "perl",    "ruby",      "node",    "php",   "lua",
      "psql",   "mysql",   "sqlite3", "redis-cli", "mongosh", "mongo", "osascript"};
  for (std::string_view reader : kReaders)
    if (word == reader) return true;
  return false;
}

// awk 'program' files...: the program is the first operand.
void Awk(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = std::span<const Arg>(inv.argv).subspan(1);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    if (text == "-f" || text == "--file") return;  // program from a file
    if (text == "-F" || text == "-v" || text == "--assign" || text == "--field-separator") {
      ++i;
      continue;
    }
    if (text.starts_with("-") && text != "-") continue;
    if (!args[i].known) {
      ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                          "awk runs a program computed at run time"));
      return;
    }
    ScanCode(text, Language::kAwk, inv, ctx, inv.name(), 0);
    // print | "cmd" and "cmd" | getline pipe through a shell.
    std::vector<Token> tokens = Tokenize(text, Language::kAwk);
    for (std::size_t k = 0; k + 1 < tokens.size(); ++k) {
      if (tokens[k].text == "|" && tokens[k + 1].kind == Token::Kind::kString &&
          !tokens[k + 1].interpolated) {
        // The command reads what awk prints: a shell or interpreter there runs
        // generated text.
        if (ReadsCodeOnStdin(tokens[k + 1].text)) {
          ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                              "awk pipes generated text into `" + tokens[k + 1].text + "`"));
          continue;
        }
        ctx.ClassifyScript(tokens[k + 1].text, inv.cwd, inv.depth + 1);
      } else if (tokens[k].text == "|" && tokens[k + 1].kind == Token::Kind::kIdent &&
                 tokens[k + 1].text != "getline") {
        ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                            "awk pipes into a command computed at run time"));
      } else if (tokens[k].kind == Token::Kind::kString && tokens[k + 1].text == "|" &&
                 k + 2 < tokens.size() && tokens[k + 2].text == "getline") {
        ctx.ClassifyScript(tokens[k].text, inv.cwd, inv.depth + 1);
      }
    }
    return;
  }
}

}  // namespace dualkey::shell::interpreters

namespace dualkey::shell {

using namespace interpreters;

bool ScanInterpreterCode(std::string_view interpreter, std::string_view code, const Invocation& inv,
                         Context& ctx) {
  std::string_view name = interpreter;
  if (auto slash = name.rfind('/'); slash != std::string_view::npos) name = name.substr(slash + 1);
  Language language;
  if (name.starts_with("python") || name.starts_with("pypy"))
    language = Language::kPython;
  else if (In(name, {"node", "nodejs", "bun", "deno", "ts-node", "tsx", "zx"}))
    language = Language::kJavaScript;
  else if (name.starts_with("perl"))
    language = Language::kPerl;
  else if (name.starts_with("ruby") || name == "jruby")
    language = Language::kRuby;
  else if (name.starts_with("php"))
    language = Language::kPhp;
  else if (name.starts_with("lua"))
    language = Language::kLua;
  else if (name == "Rscript" || name == "R")
    language = Language::kR;
  else if (In(name, {"awk", "gawk", "mawk", "nawk"}))
    language = Language::kAwk;
  else if (In(name, {"pwsh", "powershell", "pwsh.exe", "powershell.exe"})) {
    ScanPowerShell(code, inv, ctx, 0);
    return true;
  } else {
    return false;
  }
  ScanCode(code, language, inv, ctx, name, 0);
  return true;
}

}  // namespace dualkey::shell
