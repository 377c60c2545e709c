// Interpreter one-liners (python -c, node -e, perl -e, ruby -e, php -r,
// awk, lua -e): the code is tokenised (strings, identifiers, punctuation) and
// scanned for the calls of each language that delete files or run shell
// commands. A literal argument is followed (shell text back into the shell
// guard, paths into the fs pack); a computed one is opaque and held. Text in
// print() or console.log() is data and stays allowed.
#include <algorithm>
#include <cctype>
#include <string>

#include "shell/internal/packs/packs.h"

namespace dualkey::shell {
namespace {

enum class Effect {
  kShell,       // the argument is a shell command line
  kArgv,        // the argument is an argv list (or a program name + list)
  kDeleteTree,  // recursive delete of the path argument
  kDeleteFile,  // delete of the path argument
  kEval,        // evaluates code in the same language
};

struct Call {
  std::string_view name;  // dotted suffix matched on component boundaries
  Effect effect;
};

enum class Language { kPython, kJavaScript, kPerl, kRuby, kPhp, kAwk, kLua, kR };

constexpr Call kPythonCalls[] = {
    {"os.system", Effect::kShell},          {"os.popen", Effect::kShell},
    {"subprocess.run", Effect::kArgv},      {"subprocess.call", Effect::kArgv},
    {"subprocess.check_call", Effect::kArgv}, {"subprocess.check_output", Effect::kArgv},
    {"subprocess.Popen", Effect::kArgv},    {"subprocess.getoutput", Effect::kShell},
    {"subprocess.getstatusoutput", Effect::kShell},
    {"shutil.rmtree", Effect::kDeleteTree}, {"rmtree", Effect::kDeleteTree},
    {"os.remove", Effect::kDeleteFile},     {"os.unlink", Effect::kDeleteFile},
    {"os.rmdir", Effect::kDeleteFile},      {"os.removedirs", Effect::kDeleteFile},
    {"system", Effect::kShell},             {"exec", Effect::kEval},
    {"eval", Effect::kEval},                {"unlink", Effect::kDeleteFile},
    {"rmdir", Effect::kDeleteFile},
};
constexpr Call kJavaScriptCalls[] = {
    {"execSync", Effect::kShell},     {"exec", Effect::kShell},
    {"spawnSync", Effect::kArgv},     {"spawn", Effect::kArgv},
    {"execFileSync", Effect::kArgv},  {"execFile", Effect::kArgv},
    {"rmSync", Effect::kDeleteTree},  {"rmdirSync", Effect::kDeleteTree},
    {"fs.rm", Effect::kDeleteTree},   {"fs.rmdir", Effect::kDeleteTree},
    {"promises.rm", Effect::kDeleteTree}, {"unlinkSync", Effect::kDeleteFile},
    {"fs.unlink", Effect::kDeleteFile}, {"removeSync", Effect::kDeleteTree},
    {"emptyDirSync", Effect::kDeleteTree}, {"rimraf", Effect::kDeleteTree},
    {"eval", Effect::kEval},          {"Function", Effect::kEval},
    {"Deno.remove", Effect::kDeleteTree}, {"Bun.spawn", Effect::kArgv},
};
constexpr Call kPerlCalls[] = {
    {"system", Effect::kShell},     {"exec", Effect::kShell},    {"qx", Effect::kShell},
    {"unlink", Effect::kDeleteFile}, {"rmdir", Effect::kDeleteFile},
    {"rmtree", Effect::kDeleteTree}, {"remove_tree", Effect::kDeleteTree},
    {"eval", Effect::kEval},
};
constexpr Call kRubyCalls[] = {
    {"system", Effect::kShell},        {"exec", Effect::kShell},
    {"spawn", Effect::kShell},         {"Open3.capture2", Effect::kShell},
    {"Open3.popen3", Effect::kShell},  {"FileUtils.rm_rf", Effect::kDeleteTree},
    {"FileUtils.rm_r", Effect::kDeleteTree}, {"FileUtils.remove_dir", Effect::kDeleteTree},
    {"FileUtils.remove_entry", Effect::kDeleteTree}, {"FileUtils.rm", Effect::kDeleteFile},
    {"FileUtils.rm_f", Effect::kDeleteFile}, {"File.delete", Effect::kDeleteFile},
    {"File.unlink", Effect::kDeleteFile}, {"Dir.rmdir", Effect::kDeleteFile},
    {"Dir.delete", Effect::kDeleteFile}, {"eval", Effect::kEval},
};
constexpr Call kPhpCalls[] = {
    {"system", Effect::kShell},    {"exec", Effect::kShell},     {"shell_exec", Effect::kShell},
    {"passthru", Effect::kShell},  {"proc_open", Effect::kShell}, {"popen", Effect::kShell},
    {"unlink", Effect::kDeleteFile}, {"rmdir", Effect::kDeleteFile}, {"eval", Effect::kEval},
};
constexpr Call kAwkCalls[] = {{"system", Effect::kShell}};
constexpr Call kLuaCalls[] = {
    {"os.execute", Effect::kShell}, {"io.popen", Effect::kShell},
    {"os.remove", Effect::kDeleteFile}, {"load", Effect::kEval}, {"loadstring", Effect::kEval},
};
constexpr Call kRCalls[] = {
    {"system", Effect::kShell},     {"system2", Effect::kArgv},
    {"unlink", Effect::kDeleteTree}, {"file.remove", Effect::kDeleteFile},
    {"eval", Effect::kEval},
};

std::span<const Call> CallsFor(Language language) {
  switch (language) {
    case Language::kPython: return kPythonCalls;
    case Language::kJavaScript: return kJavaScriptCalls;
    case Language::kPerl: return kPerlCalls;
    case Language::kRuby: return kRubyCalls;
    case Language::kPhp: return kPhpCalls;
    case Language::kAwk: return kAwkCalls;
    case Language::kLua: return kLuaCalls;
    case Language::kR: return kRCalls;
  }
  return {};
}

struct Token {
  enum class Kind { kIdent, kString, kPunct, kOther };
  Kind kind;
  std::string text;       // identifier (dotted), decoded string, or the punct
  bool interpolated = false;  // a string with ${..}/#{..}/{..} parts
};

// Tokeniser shared by the languages: good enough to tell calls from data.
std::vector<Token> Tokenize(std::string_view code, Language language) {
  std::vector<Token> tokens;
  std::size_t i = 0;
  const std::size_t n = code.size();
  auto ident_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
  };
  while (i < n && tokens.size() < 20000) {
    char c = code[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    // Comments.
    if (c == '#' && language != Language::kJavaScript && language != Language::kPhp) {
      while (i < n && code[i] != '\n') ++i;
      continue;
    }
    if (c == '/' && i + 1 < n && code[i + 1] == '/' &&
        (language == Language::kJavaScript || language == Language::kPhp)) {
      while (i < n && code[i] != '\n') ++i;
      continue;
    }
    if (c == '-' && i + 1 < n && code[i + 1] == '-' && language == Language::kLua) {
      while (i < n && code[i] != '\n') ++i;
      continue;
    }
    if (c == '\'' || c == '"' || c == '`') {
      // Python triple quotes.
      std::size_t quote_len = 1;
      if (language == Language::kPython && i + 2 < n && code[i + 1] == c && code[i + 2] == c)
        quote_len = 3;
      bool prefixed_f = !tokens.empty() && tokens.back().kind == Token::Kind::kIdent &&
                        (tokens.back().text == "f" || tokens.back().text == "rf");
      Token token{Token::Kind::kString, {}};
      std::size_t j = i + quote_len;
      while (j < n) {
        if (code.compare(j, quote_len, std::string(quote_len, c)) == 0) break;
        if (code[j] == '\\' && j + 1 < n && c != '\'' ) {
          char e = code[j + 1];
          token.text.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
          j += 2;
          continue;
        }
        if (code[j] == '\\' && j + 1 < n && c == '\'' &&
            (code[j + 1] == '\'' || code[j + 1] == '\\')) {
          token.text.push_back(code[j + 1]);
          j += 2;
          continue;
        }
        if ((c == '`' && code[j] == '$' && j + 1 < n && code[j + 1] == '{') ||
            (c == '"' && code[j] == '#' && j + 1 < n && code[j + 1] == '{' &&
             language == Language::kRuby) ||
            (c == '"' && code[j] == '$' && (language == Language::kPerl || language == Language::kPhp)) ||
            (prefixed_f && code[j] == '{'))
          token.interpolated = true;
        token.text.push_back(code[j]);
        ++j;
      }
      if (prefixed_f) tokens.pop_back();
      // Perl/Ruby backticks run a shell command.
      if (c == '`' && (language == Language::kPerl || language == Language::kRuby ||
                       language == Language::kPhp)) {
        tokens.push_back({Token::Kind::kIdent, "qx"});
        tokens.push_back({Token::Kind::kPunct, "("});
        tokens.push_back(token);
        tokens.push_back({Token::Kind::kPunct, ")"});
      } else {
        tokens.push_back(std::move(token));
      }
      i = std::min(n, j + quote_len);
      continue;
    }
    if (ident_char(c)) {
      std::size_t j = i;
      // Dotted names (os.path.x, fs.rmSync) and Perl's File::Path::rmtree.
      while (j < n) {
        if (ident_char(code[j])) {
          ++j;
        } else if (code[j] == '.' && j + 1 < n && ident_char(code[j + 1]) &&
                   language != Language::kPerl && language != Language::kPhp) {
          ++j;
        } else if (code[j] == ':' && j + 2 < n && code[j + 1] == ':' && ident_char(code[j + 2])) {
          j += 2;
        } else {
          break;
        }
      }
      std::string text(code.substr(i, j - i));
      for (char& ch : text)
        if (ch == ':') ch = '.';
      std::string collapsed;
      for (std::size_t k = 0; k < text.size(); ++k)
        if (!(text[k] == '.' && k > 0 && text[k - 1] == '.')) collapsed.push_back(text[k]);
      tokens.push_back({Token::Kind::kIdent, collapsed});
      i = j;
      continue;
    }
    // Perl/Ruby %x(...) and qx{...} are shell commands written as quotes.
    tokens.push_back({Token::Kind::kPunct, std::string(1, c)});
    ++i;
  }
  return tokens;
}

bool MatchesCall(std::string_view ident, std::string_view name) {
  if (ident == name) return true;
  // Component-aligned suffix: "require('fs').rmSync" ends with ".rmSync".
  return ident.size() > name.size() && ident.ends_with(name) &&
         ident[ident.size() - name.size() - 1] == '.';
}

// The literal first argument after a call name: a string, or a list of
// strings. Returns false when the argument is computed.
struct Argument {
  bool literal = false;
  bool is_list = false;
  std::vector<std::string> strings;
};

Argument FirstArgument(const std::vector<Token>& tokens, std::size_t name_index) {
  Argument arg;
  std::size_t i = name_index + 1;
  if (i < tokens.size() && tokens[i].kind == Token::Kind::kPunct &&
      (tokens[i].text == "(" || tokens[i].text == "{"))
    ++i;
  if (i >= tokens.size()) return arg;
  if (tokens[i].kind == Token::Kind::kString) {
    arg.literal = !tokens[i].interpolated;
    arg.strings.push_back(tokens[i].text);
    // A program name followed by an argv list: spawn('rm', ['-rf', '/x']).
    if (i + 2 < tokens.size() && tokens[i + 1].text == "," && tokens[i + 2].text == "[") {
      for (std::size_t k = i + 3; k < tokens.size() && tokens[k].text != "]"; ++k) {
        if (tokens[k].kind == Token::Kind::kString) arg.strings.push_back(tokens[k].text);
        else if (tokens[k].text != ",") arg.literal = false;
      }
      arg.is_list = true;
    } else if (i + 1 < tokens.size() && tokens[i + 1].text == "+") {
      arg.literal = false;  // "rm -rf " + path
    }
    return arg;
  }
  if (tokens[i].text == "[" || (tokens[i].text == "(" && i > name_index + 1)) {
    arg.is_list = true;
    arg.literal = true;
    for (std::size_t k = i + 1; k < tokens.size(); ++k) {
      if (tokens[k].text == "]" || tokens[k].text == ")") break;
      if (tokens[k].kind == Token::Kind::kString) arg.strings.push_back(tokens[k].text);
      else if (tokens[k].text != ",") arg.literal = false;
    }
    return arg;
  }
  return arg;
}

void ScanCode(std::string_view code, Language language, const Invocation& inv, Context& ctx,
              std::string_view interpreter, int eval_depth);

void ApplyCall(const Call& call, const Argument& arg, Language language, const Invocation& inv,
               Context& ctx, std::string_view interpreter, int eval_depth) {
  std::string who(interpreter);
  if (!arg.literal || arg.strings.empty()) {
    ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                        who + " calls " + std::string(call.name) +
                            " with an argument computed at run time"));
    return;
  }
  auto run_argv = [&](std::vector<std::string> words) {
    Invocation inner;
    for (std::string& word : words) inner.argv.push_back(Arg{std::move(word)});
    inner.cwd = inv.cwd;
    inner.depth = inv.depth + 1;
    inner.remote = inv.remote;
    ctx.ClassifyInvocation(inner);
  };
  switch (call.effect) {
    case Effect::kShell: {
      std::string script = arg.strings[0];
      for (std::size_t k = 1; k < arg.strings.size(); ++k) script += " " + arg.strings[k];
      ctx.ClassifyScript(script, inv.cwd, inv.depth + 1);
      break;
    }
    case Effect::kArgv:
      if (arg.is_list) run_argv(arg.strings);
      else ctx.ClassifyScript(arg.strings[0], inv.cwd, inv.depth + 1);  // shell=True style
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
  }
}

void ScanCode(std::string_view code, Language language, const Invocation& inv, Context& ctx,
              std::string_view interpreter, int eval_depth) {
  std::vector<Token> tokens = Tokenize(code, language);
  std::span<const Call> calls = CallsFor(language);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const Token& token = tokens[i];
    if (token.kind != Token::Kind::kIdent) continue;
    // Only a call: the name must be followed by "(" or, in Perl/Ruby/awk,
    // by an argument directly ("system 'ls'").
    // Perl and Ruby calls need no parentheses: `unlink glob("x")`, `system $cmd`.
    const bool bare_calls = language == Language::kPerl || language == Language::kRuby;
    bool next_is_call =
        i + 1 < tokens.size() &&
        (tokens[i + 1].text == "(" ||
         (bare_calls && (tokens[i + 1].kind == Token::Kind::kString ||
                         tokens[i + 1].kind == Token::Kind::kIdent || tokens[i + 1].text == "{")));
    if (!next_is_call) continue;
    // A method on something else (list.remove, obj.exec) does not match a
    // bare name unless the name is qualified in the table.
    for (const Call& call : calls) {
      if (!MatchesCall(token.text, call.name)) continue;
      // Bare-named calls must not be methods of arbitrary objects ("re.exec",
      // "cursor.execute" are not shell): require the exact name, or a
      // qualified table entry.
      bool qualified = call.name.find('.') != std::string_view::npos;
      if (!qualified && token.text != call.name) {
        std::string_view owner(token.text);
        owner = owner.substr(0, owner.size() - call.name.size() - 1);
        // require('child_process').exec / cp.exec / os.unlink / fs.unlinkSync
        bool known_owner = owner.ends_with(")") || owner == "os" || owner == "fs" ||
                           owner == "child_process" || owner == "cp" || owner == "shutil" ||
                           owner == "File.Path" || owner == "subprocess" || owner == "Kernel" ||
                           owner.ends_with("fs") || owner.ends_with("promises") ||
                           owner == "fse" || owner == "Deno" || owner == "Bun" || owner == "POSIX";
        if (!known_owner) continue;
      }
      ApplyCall(call, FirstArgument(tokens, i), language, inv, ctx, interpreter, eval_depth);
      break;
    }
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
        text.size() > 2 && text[0] == '-' && text[1] != '-' && (text.back() == 'e' || text.back() == 'E'))
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
      if (text != "-") return;  // a script file or module: the project's own code
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
      "sh",   "bash",  "zsh",  "dash", "ksh",   "ash",    "fish",  "python", "python3",
      "perl", "ruby",  "node", "php",  "lua",   "psql",   "mysql", "sqlite3", "redis-cli",
      "mongosh", "mongo", "osascript"};
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

constexpr PackEntry kInterpreters[] = {
    {"python", Python},   {"python2", Python}, {"python3", Python, true}, {"pypy3", Python},
    {"pypy", Python},     {"node", Node},       {"nodejs", Node},          {"bun", Node},
    {"deno", Deno},       {"perl", Perl},       {"ruby", Ruby},            {"php", Php},
    {"awk", Awk},         {"gawk", Awk},        {"mawk", Awk},             {"nawk", Awk},
    {"lua", Lua},         {"luajit", Lua},      {"Rscript", Rscript},
};

}  // namespace

std::span<const PackEntry> InterpreterPack() { return kInterpreters; }

}  // namespace dualkey::shell
