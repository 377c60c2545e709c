// Interpreter one-liners (python -c, node -e, perl -e, ruby -e, php -r,
// awk, lua -e): the code is tokenised (strings, identifiers, punctuation) and
// scanned for the calls of each language that delete files or run shell
// commands. A literal argument is followed (shell text back into the shell
// guard, paths into the fs pack); a computed one is opaque and held. Text in
// print() or console.log() is data and stays allowed.
#include <algorithm>
#include <cctype>
#include <map>
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
  kRmArgs,      // shelljs rm('-rf', path): the arguments of rm
  kNone,        // listed so a reference to it is not taken for a destroyer
};

struct Call {
  std::string_view name;  // dotted suffix matched on component boundaries
  Effect effect;
};

enum class Language { kPython, kJavaScript, kPerl, kRuby, kPhp, kAwk, kLua, kR };

struct Token;

constexpr Call kPythonCalls[] = {
    {"os.system", Effect::kShell},
    {"os.popen", Effect::kShell},
    {"subprocess.run", Effect::kArgv},
    {"subprocess.call", Effect::kArgv},
    {"subprocess.check_call", Effect::kArgv},
    {"subprocess.check_output", Effect::kArgv},
    {"subprocess.Popen", Effect::kArgv},
    {"subprocess.getoutput", Effect::kShell},
    {"subprocess.getstatusoutput", Effect::kShell},
    {"shutil.rmtree", Effect::kDeleteTree},
    {"rmtree", Effect::kDeleteTree},
    {"os.remove", Effect::kDeleteFile},
    {"os.unlink", Effect::kDeleteFile},
    {"os.rmdir", Effect::kDeleteFile},
    {"os.removedirs", Effect::kDeleteFile},
    {"system", Effect::kShell},
    {"exec", Effect::kEval},
    {"eval", Effect::kEval},
    {"unlink", Effect::kDeleteFile},
    {"rmdir", Effect::kDeleteFile},
    {"os.execv", Effect::kArgv},
    {"os.execvp", Effect::kArgv},
    {"os.execl", Effect::kArgv},
    {"os.execlp", Effect::kArgv},
    {"os.execve", Effect::kArgv},
    {"os.spawnv", Effect::kArgv},
    {"os.spawnvp", Effect::kArgv},
    {"os.spawnl", Effect::kArgv},
    {"os.spawnlp", Effect::kArgv},
    {"os.posix_spawn", Effect::kArgv},
    {"os.posix_spawnp", Effect::kArgv},
    {"pty.spawn", Effect::kArgv},
    {"commands.getoutput", Effect::kShell},
    {"os.truncate", Effect::kDeleteFile},
    {"shutil.move", Effect::kNone},
    {"compile", Effect::kEval},
};
constexpr Call kJavaScriptCalls[] = {
    {"execSync", Effect::kShell},
    {"exec", Effect::kShell},
    {"spawnSync", Effect::kArgv},
    {"spawn", Effect::kArgv},
    {"execFileSync", Effect::kArgv},
    {"execFile", Effect::kArgv},
    {"rmSync", Effect::kDeleteTree},
    {"rmdirSync", Effect::kDeleteTree},
    {"fs.rm", Effect::kDeleteTree},
    {"fs.rmdir", Effect::kDeleteTree},
    {"promises.rm", Effect::kDeleteTree},
    {"unlinkSync", Effect::kDeleteFile},
    {"fs.unlink", Effect::kDeleteFile},
    {"removeSync", Effect::kDeleteTree},
    {"emptyDirSync", Effect::kDeleteTree},
    {"rimraf", Effect::kDeleteTree},
    {"eval", Effect::kEval},
    {"Function", Effect::kEval},
    {"Deno.remove", Effect::kDeleteTree},
    {"Bun.spawn", Effect::kArgv},
    {"execa", Effect::kArgv},
    {"execaSync", Effect::kArgv},
    {"execaCommand", Effect::kShell},
    {"execaCommandSync", Effect::kShell},
    {"truncateSync", Effect::kDeleteFile},
    {"shell.rm", Effect::kRmArgs},
    {"shell.exec", Effect::kShell},
    {"del.sync", Effect::kDeleteTree},
    {"deleteSync", Effect::kDeleteTree},
    {"Deno.Command", Effect::kArgv},
    {"Deno.run", Effect::kArgv},
    {"Bun.spawnSync", Effect::kArgv},
    {"vm.runInNewContext", Effect::kEval},
    {"vm.runInThisContext", Effect::kEval},
};
constexpr Call kPerlCalls[] = {
    {"system", Effect::kShell},      {"exec", Effect::kShell},
    {"qx", Effect::kShell},          {"readpipe", Effect::kShell},
    {"unlink", Effect::kDeleteFile}, {"rmdir", Effect::kDeleteFile},
    {"rmtree", Effect::kDeleteTree}, {"remove_tree", Effect::kDeleteTree},
    {"eval", Effect::kEval},
};
constexpr Call kRubyCalls[] = {
    {"system", Effect::kShell},
    {"exec", Effect::kShell},
    {"spawn", Effect::kShell},
    {"Open3.capture2", Effect::kShell},
    {"Open3.popen3", Effect::kShell},
    {"FileUtils.rm_rf", Effect::kDeleteTree},
    {"FileUtils.rm_r", Effect::kDeleteTree},
    {"FileUtils.remove_dir", Effect::kDeleteTree},
    {"FileUtils.remove_entry", Effect::kDeleteTree},
    {"FileUtils.rm", Effect::kDeleteFile},
    {"FileUtils.rm_f", Effect::kDeleteFile},
    {"File.delete", Effect::kDeleteFile},
    {"File.unlink", Effect::kDeleteFile},
    {"Dir.rmdir", Effect::kDeleteFile},
    {"Dir.delete", Effect::kDeleteFile},
    {"eval", Effect::kEval},
    {"qx", Effect::kShell},
    {"IO.popen", Effect::kShell},
    {"Open3.capture3", Effect::kShell},
    {"Open3.capture2e", Effect::kShell},
    {"Open3.popen2", Effect::kShell},
    {"Open3.popen2e", Effect::kShell},
    {"Process.spawn", Effect::kShell},
    {"FileUtils.rmtree", Effect::kDeleteTree},
    {"FileUtils.remove_entry_secure", Effect::kDeleteTree},
    {"rm_rf", Effect::kDeleteTree},
    {"rm_r", Effect::kDeleteTree},
    {"remove_dir", Effect::kDeleteTree},
    {"instance_eval", Effect::kEval},
    {"class_eval", Effect::kEval},
};
constexpr Call kPhpCalls[] = {
    {"system", Effect::kShell},
    {"exec", Effect::kShell},
    {"shell_exec", Effect::kShell},
    {"passthru", Effect::kShell},
    {"proc_open", Effect::kShell},
    {"popen", Effect::kShell},
    {"unlink", Effect::kDeleteFile},
    {"rmdir", Effect::kDeleteFile},
    {"eval", Effect::kEval},
    {"pcntl_exec", Effect::kArgv},
    {"qx", Effect::kShell},
    {"assert", Effect::kEval},
    {"create_function", Effect::kEval},
};
constexpr Call kAwkCalls[] = {{"system", Effect::kShell}};
constexpr Call kLuaCalls[] = {
    {"os.execute", Effect::kShell},     {"io.popen", Effect::kShell},
    {"os.remove", Effect::kDeleteFile}, {"load", Effect::kEval},
    {"loadstring", Effect::kEval},
};
constexpr Call kRCalls[] = {
    {"system", Effect::kShell},      {"system2", Effect::kArgv},
    {"unlink", Effect::kDeleteTree}, {"file.remove", Effect::kDeleteFile},
    {"eval", Effect::kEval},
};

bool In(std::string_view text, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), text) != set.end();
}

std::span<const Call> CallsFor(Language language) {
  switch (language) {
    case Language::kPython:
      return kPythonCalls;
    case Language::kJavaScript:
      return kJavaScriptCalls;
    case Language::kPerl:
      return kPerlCalls;
    case Language::kRuby:
      return kRubyCalls;
    case Language::kPhp:
      return kPhpCalls;
    case Language::kAwk:
      return kAwkCalls;
    case Language::kLua:
      return kLuaCalls;
    case Language::kR:
      return kRCalls;
  }
  return {};
}

struct Token {
  enum class Kind { kIdent, kString, kPunct, kOther };
  Kind kind;
  std::string text;           // identifier (dotted), decoded string, or the punct
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
        if (code[j] == '\\' && j + 1 < n && c != '\'') {
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
            (c == '"' && code[j] == '$' &&
             (language == Language::kPerl || language == Language::kPhp)) ||
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
    // Quote-like operators: Perl q{} qq{} qx{} qw{}, Ruby %x() %q() %Q() %w() %().
    {
      std::size_t start = std::string_view::npos;  // index of the opening delimiter
      std::string op;
      if (language == Language::kPerl && (c == 'q') && (i == 0 || !ident_char(code[i - 1]))) {
        std::size_t j = i + 1;
        if (j < n && (code[j] == 'q' || code[j] == 'x' || code[j] == 'w')) ++j;
        while (j < n && (code[j] == ' ' || code[j] == '\t')) ++j;
        if (j < n && !ident_char(code[j]) && !std::isspace(static_cast<unsigned char>(code[j])) &&
            std::string_view("=,;)").find(code[j]) == std::string_view::npos) {
          op = std::string(code.substr(i, std::min(j, i + 2) - i));
          if (op.size() == 2 && op[1] != 'q' && op[1] != 'x' && op[1] != 'w') op.resize(1);
          start = j;
        }
      } else if (language == Language::kRuby && c == '%' && i + 1 < n) {
        std::size_t j = i + 1;
        if (j < n && std::string_view("xqQwWiI").find(code[j]) != std::string_view::npos) ++j;
        if (j < n && std::string_view("({[<|!/^").find(code[j]) != std::string_view::npos &&
            (j > i + 1 || code[j] == '(' || code[j] == '{' || code[j] == '[')) {
          op = std::string(code.substr(i, j - i));
          start = j;
        }
      }
      if (start != std::string_view::npos) {
        const char open = code[start];
        const char close = open == '('   ? ')'
                           : open == '{' ? '}'
                           : open == '[' ? ']'
                           : open == '<' ? '>'
                                         : open;
        int level = 1;
        std::size_t j = start + 1;
        std::string text;
        while (j < n) {
          const char d = code[j];
          if (d == '\\' && j + 1 < n) {
            text.push_back(code[j + 1]);
            j += 2;
            continue;
          }
          if (open != close && d == open)
            ++level;
          else if (d == close && --level == 0)
            break;
          text.push_back(d);
          ++j;
        }
        Token token{Token::Kind::kString, text};
        token.interpolated =
            (op == "qx" || op == "qq" || op == "%x" || op == "%Q" || op == "%" || op == "%W" ||
             op == "%I") &&
            (text.find('$') != std::string::npos || text.find("#{") != std::string::npos);
        if (op == "qx" || op == "%x") {
          tokens.push_back({Token::Kind::kIdent, "qx"});
          tokens.push_back({Token::Kind::kPunct, "("});
          tokens.push_back(token);
          tokens.push_back({Token::Kind::kPunct, ")"});
        } else {
          tokens.push_back(std::move(token));
        }
        i = std::min(n, j + 1);
        continue;
      }
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
        if (tokens[k].kind == Token::Kind::kString)
          arg.strings.push_back(tokens[k].text);
        else if (tokens[k].text != ",")
          arg.literal = false;
      }
      arg.is_list = true;
    } else if (i + 1 < tokens.size() && (tokens[i + 1].text == "+" || tokens[i + 1].text == "%" ||
                                         tokens[i + 1].text == ".")) {
      arg.literal = false;  // "rm -rf " + path, "rm %s" % p, "rm " . $p
    } else if (i + 1 < tokens.size() && tokens[i + 1].text == ",") {
      // Further literal arguments: rm('-rf', '/x'), execFile('rm', '-rf')...
      for (std::size_t k = i + 2; k < tokens.size() && tokens[k].text != ")"; ++k) {
        if (tokens[k].kind == Token::Kind::kString)
          arg.strings.push_back(tokens[k].text);
        else if (tokens[k].text == "[" || tokens[k].text == "{" || tokens[k].text == "(")
          break;
      }
    }
    return arg;
  }
  if (tokens[i].text == "[" || (tokens[i].text == "(" && i > name_index + 1)) {
    arg.is_list = true;
    arg.literal = true;
    for (std::size_t k = i + 1; k < tokens.size(); ++k) {
      if (tokens[k].text == "]" || tokens[k].text == ")") break;
      if (tokens[k].kind == Token::Kind::kString)
        arg.strings.push_back(tokens[k].text);
      else if (tokens[k].text != ",")
        arg.literal = false;
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
    ctx.Emit(MakeAction(
        "opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
        who + " calls " + std::string(call.name) + " with an argument computed at run time"));
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

// Modules whose attributes destroy or run code: reaching into one with a
// computed name (getattr(shutil, 'rm' + 'tree'), fs[name]) is opaque.
bool IsDangerousModule(std::string_view name, Language language) {
  switch (language) {
    case Language::kPython:
      return name == "os" || name == "shutil" || name == "subprocess" || name == "pty" ||
             name == "posix" || name == "nt" || name == "pathlib" || name == "importlib" ||
             name == "builtins" || name == "__builtins__" || name == "commands" ||
             name == "ctypes" || name == "sys.modules";
    case Language::kJavaScript:
      return name == "fs" || name == "child_process" || name == "fs.promises" ||
             name == "fs/promises" || name == "process" || name == "Deno" || name == "Bun" ||
             name == "cp" || name == "fse" || name == "fs-extra" || name == "globalThis" ||
             name == "global" || name == "module" || name == "vm";
    case Language::kRuby:
      return name == "FileUtils" || name == "Kernel" || name == "IO" || name == "Open3" ||
             name == "Process" || name == "File" || name == "Dir";
    case Language::kPerl:
      return name == "File.Path" || name == "POSIX" || name == "CORE";
    case Language::kPhp:
    case Language::kAwk:
    case Language::kLua:
    case Language::kR:
      return name == "os" || name == "io";
  }
  return false;
}

std::string StripModulePrefix(std::string name) {
  if (name.starts_with("node:")) name.erase(0, 5);
  for (char& c : name)
    if (c == '/') c = '.';
  return name;
}

// What names stand for, from imports and plain assignments:
//   import shutil as s; from os import system as run; r = shutil.rmtree
//   const cp = require('child_process'); const {execSync: x} = require(...)
//   import {rmSync as r} from 'fs'; p = '/srv/x' (a literal, for arguments)
struct Bindings {
  std::map<std::string, std::string, std::less<>> names;     // alias -> dotted target
  std::map<std::string, std::string, std::less<>> literals;  // variable -> string value
};

Bindings CollectBindings(const std::vector<Token>& tokens, Language language) {
  Bindings out;
  auto is = [&](std::size_t k, std::string_view text) {
    return k < tokens.size() && tokens[k].text == text;
  };
  auto ident = [&](std::size_t k) {
    return k < tokens.size() && tokens[k].kind == Token::Kind::kIdent;
  };
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (language == Language::kPython) {
      if (is(i, "import") && (i == 0 || !is(i - 1, "from"))) {
        // import a.b as x, c as y
        std::size_t k = i + 1;
        while (ident(k)) {
          std::string module = tokens[k].text;
          if (is(k + 1, "as") && ident(k + 2)) {
            out.names[tokens[k + 2].text] = module;
            k += 3;
          } else {
            k += 1;
          }
          if (!is(k, ",")) break;
          ++k;
        }
      } else if (is(i, "from") && ident(i + 1) && is(i + 2, "import")) {
        const std::string module = tokens[i + 1].text;
        std::size_t k = i + 3;
        if (is(k, "(")) ++k;
        while (ident(k)) {
          std::string name = tokens[k].text;
          if (is(k + 1, "as") && ident(k + 2)) {
            out.names[tokens[k + 2].text] = module + "." + name;
            k += 3;
          } else {
            out.names[name] = module + "." + name;
            k += 1;
          }
          if (!is(k, ",")) break;
          ++k;
        }
      }
    }
    if (language == Language::kJavaScript) {
      // import x from 'm' | import * as x from 'm' | import {a as b, c} from 'm'
      if (is(i, "import")) {
        std::size_t k = i + 1;
        std::vector<std::pair<std::string, std::string>> pending;  // alias, member ("" = module)
        if (is(k, "*") && is(k + 1, "as") && ident(k + 2)) {
          pending.emplace_back(tokens[k + 2].text, "");
          k += 3;
        } else if (ident(k) && tokens[k].text != "from") {
          pending.emplace_back(tokens[k].text, "");
          k += 1;
          if (is(k, ",")) ++k;
        }
        if (is(k, "{")) {
          ++k;
          while (ident(k)) {
            std::string member = tokens[k].text;
            if (is(k + 1, "as") && ident(k + 2)) {
              pending.emplace_back(tokens[k + 2].text, member);
              k += 3;
            } else {
              pending.emplace_back(member, member);
              k += 1;
            }
            if (is(k, ",")) ++k;
          }
          if (is(k, "}")) ++k;
        }
        if (is(k, "from") && k + 1 < tokens.size() && tokens[k + 1].kind == Token::Kind::kString) {
          const std::string module = StripModulePrefix(tokens[k + 1].text);
          for (auto& [alias, member] : pending)
            out.names[alias] = member.empty() ? module : module + "." + member;
        }
      }
      // const|let|var x = require('m') ; const {a, b: c} = require('m')
      if ((is(i, "const") || is(i, "let") || is(i, "var")) && i + 1 < tokens.size()) {
        std::size_t k = i + 1;
        std::vector<std::pair<std::string, std::string>> pending;
        if (ident(k)) {
          pending.emplace_back(tokens[k].text, "");
          k += 1;
        } else if (is(k, "{")) {
          ++k;
          while (ident(k)) {
            std::string member = tokens[k].text;
            if (is(k + 1, ":") && ident(k + 2)) {
              pending.emplace_back(tokens[k + 2].text, member);
              k += 3;
            } else {
              pending.emplace_back(member, member);
              k += 1;
            }
            if (is(k, ",")) ++k;
          }
          if (is(k, "}")) ++k;
        }
        if (is(k, "=")) {
          std::size_t v = k + 1;
          if (is(v, "await")) ++v;
          std::string module;
          if (ident(v) && (tokens[v].text == "require" || tokens[v].text == "import") &&
              is(v + 1, "(") && v + 2 < tokens.size() &&
              tokens[v + 2].kind == Token::Kind::kString && is(v + 3, ")")) {
            module = StripModulePrefix(tokens[v + 2].text);
          } else if (ident(v) && !is(v + 1, "(") && !is(v + 1, "[")) {
            module = tokens[v].text;  // const r = fs.rmSync;  const x = cp;
          }
          if (!module.empty()) {
            for (auto& [alias, member] : pending)
              out.names[alias] = member.empty() ? module : module + "." + member;
          }
        }
      }
    }
    // name = value (Python, Ruby, PHP, Perl, Lua without a keyword)
    if (ident(i) && is(i + 1, "=") && !is(i + 2, "=") && (i == 0 || !is(i - 1, "."))) {
      const std::string& name = tokens[i].text;
      std::size_t v = i + 2;
      const bool ends = v + 1 >= tokens.size() || tokens[v + 1].text == ";" ||
                        tokens[v + 1].kind == Token::Kind::kIdent || tokens[v + 1].text == ")" ||
                        tokens[v + 1].text == "\n";
      if (v < tokens.size() && tokens[v].kind == Token::Kind::kString && !tokens[v].interpolated &&
          ends) {
        out.literals[name] = tokens[v].text;
      } else if (ident(v) && tokens[v].text.find('.') != std::string::npos && !is(v + 1, "(") &&
                 !is(v + 1, "[")) {
        out.names[name] = tokens[v].text;  // r = shutil.rmtree
      }
    }
  }
  return out;
}

std::string Resolve(const Bindings& bindings, const std::string& name) {
  std::string current = name;
  for (int hop = 0; hop < 4; ++hop) {
    std::size_t dot = current.find('.');
    std::string head = current.substr(0, dot);
    auto it = bindings.names.find(head);
    if (it == bindings.names.end() || it->second == head) break;
    current = it->second + (dot == std::string::npos ? "" : current.substr(dot));
  }
  return current;
}

// __import__('os').system, importlib.import_module('shutil').rmtree,
// require('child_process').execSync: one dotted name, as if imported.
void FoldDynamicImports(std::vector<Token>* tokens, Language language, const Invocation& inv,
                        Context& ctx, std::string_view interpreter) {
  std::vector<Token>& t = *tokens;
  for (std::size_t i = 0; i + 3 < t.size(); ++i) {
    if (t[i].kind != Token::Kind::kIdent) continue;
    const std::string& fn = t[i].text;
    const bool importer = fn == "__import__" || fn == "importlib.import_module" ||
                          fn == "import_module" || fn == "require" || fn == "process.binding" ||
                          fn == "process.mainModule.require" || fn == "module.require";
    if (!importer || t[i + 1].text != "(") continue;
    if (t[i + 2].kind != Token::Kind::kString || t[i + 2].interpolated || t[i + 3].text != ")") {
      if (t[i + 2].text != ")")
        ctx.Emit(MakeAction(
            "opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
            std::string(interpreter) + " imports a module named at run time (" + fn + ")"));
      continue;
    }
    std::string module = StripModulePrefix(t[i + 2].text);
    if (fn == "process.binding") module = "child_process";  // spawn_sync and friends
    // module(...).name -> ident "module.name"
    if (i + 5 < t.size() + 1 && i + 4 < t.size() && t[i + 4].text == "." && i + 5 < t.size() &&
        t[i + 5].kind == Token::Kind::kIdent) {
      Token folded{Token::Kind::kIdent, module + "." + t[i + 5].text};
      t.erase(t.begin() + static_cast<std::ptrdiff_t>(i),
              t.begin() + static_cast<std::ptrdiff_t>(i + 6));
      t.insert(t.begin() + static_cast<std::ptrdiff_t>(i), std::move(folded));
    } else {
      Token folded{Token::Kind::kIdent, module};
      t.erase(t.begin() + static_cast<std::ptrdiff_t>(i),
              t.begin() + static_cast<std::ptrdiff_t>(i + 4));
      t.insert(t.begin() + static_cast<std::ptrdiff_t>(i), std::move(folded));
    }
    (void)language;
    (void)inv;
  }
}

// The index of the token closing the bracket opened at `open`, or npos.
std::size_t MatchingClose(const std::vector<Token>& tokens, std::size_t open) {
  const std::string& o = tokens[open].text;
  const std::string c = o == "(" ? ")" : o == "[" ? "]" : "}";
  int level = 0;
  for (std::size_t k = open; k < tokens.size(); ++k) {
    if (tokens[k].kind != Token::Kind::kPunct) continue;
    if (tokens[k].text == o)
      ++level;
    else if (tokens[k].text == c && --level == 0)
      return k;
  }
  return std::string::npos;
}

// True when tokens[i] sits directly inside a call's parentheses, as an argument.
bool InArgumentPosition(const std::vector<Token>& tokens, std::size_t i) {
  if (i == 0 || i + 1 >= tokens.size()) return false;
  const std::string& before = tokens[i - 1].text;
  const std::string& after = tokens[i + 1].text;
  if ((before != "(" && before != ",") || (after != ")" && after != ",")) return false;
  int level = 0;
  for (std::size_t k = i; k-- > 0;) {
    if (tokens[k].kind != Token::Kind::kPunct) continue;
    const std::string& p = tokens[k].text;
    if (p == ")" || p == "]" || p == "}")
      ++level;
    else if (p == "(" || p == "[" || p == "{") {
      if (level == 0) return p == "(" && k > 0 && tokens[k - 1].kind == Token::Kind::kIdent;
      --level;
    }
  }
  return false;
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

// --- PowerShell ---------------------------------------------------------------

// PowerShell statements: cmdlets that delete (Remove-Item -Recurse, Clear-
// Content), run code (Invoke-Expression, Start-Process, & 'prog') or wipe
// disks; anything else that is not a Verb-Noun cmdlet is a native command.
void ScanPowerShell(std::string_view code, const Invocation& inv, Context& ctx, int depth) {
  if (depth > 4) return;
  struct PsWord {
    std::string text;
    bool literal = true;
    bool block = false;  // { script block }
  };
  auto run_argv = [&](std::vector<std::string> words) {
    Invocation inner;
    for (std::string& word : words) inner.argv.push_back(Arg{std::move(word)});
    inner.cwd = inv.cwd;
    inner.depth = inv.depth + 1;
    inner.remote = inv.remote;
    ctx.ClassifyInvocation(inner);
  };
  auto opaque = [&](std::string reason) {
    ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                        "powershell " + reason));
  };
  std::vector<PsWord> words;
  std::string statement_text;
  auto lower = [](std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
  };
  auto finish = [&]() {
    if (words.empty()) {
      statement_text.clear();
      return;
    }
    for (const PsWord& word : words)
      if (word.block) ScanPowerShell(word.text, inv, ctx, depth + 1);
    std::string cmd = lower(words[0].text);
    std::size_t first = 1;
    if ((cmd == "&" || cmd == ".") && words.size() > 1) {
      cmd = lower(words[1].text);
      first = 2;
      if (!words[1].literal) {
        opaque("calls a command computed at run time (&)");
        words.clear();
        statement_text.clear();
        return;
      }
    }
    // Parameters: -Name value / -Switch; positionals otherwise.
    std::map<std::string, PsWord> named;
    std::vector<PsWord> positional;
    std::vector<std::string> switches;
    for (std::size_t k = first; k < words.size(); ++k) {
      const PsWord& word = words[k];
      if (word.literal && word.text.size() > 1 && word.text[0] == '-' &&
          std::isalpha(static_cast<unsigned char>(word.text[1]))) {
        std::string param = lower(word.text.substr(1));
        std::size_t colon = param.find(':');
        if (colon != std::string::npos) {
          named[param.substr(0, colon)] = PsWord{word.text.substr(colon + 2), true};
          continue;
        }
        const bool is_switch = param == "recurse" || param == "force" || param == "r" ||
                               param == "rf" || param == "confirm" || param == "whatif" ||
                               param == "nonewwindow" || param == "wait";
        if (!is_switch && k + 1 < words.size() && !(words[k + 1].text.starts_with("-"))) {
          named[param] = words[++k];
        } else {
          switches.push_back(param);
        }
        continue;
      }
      positional.push_back(word);
    }
    auto has_switch = [&](std::initializer_list<std::string_view> names) {
      for (const std::string& sw : switches)
        for (std::string_view n : names)
          if (sw == n || (n.size() >= 3 && std::string_view(n).starts_with(sw) && sw.size() >= 3))
            return true;
      return false;
    };
    auto paths = [&](std::initializer_list<std::string_view> keys) {
      std::vector<PsWord> out;
      for (std::string_view key : keys)
        if (auto it = named.find(std::string(key)); it != named.end()) out.push_back(it->second);
      if (out.empty() && !positional.empty()) out.push_back(positional[0]);
      return out;
    };
    if (In(cmd,
           {"remove-item", "rm", "del", "erase", "rd", "ri", "rmdir", "remove-itemproperty"})) {
      if (has_switch({"whatif"})) {
        words.clear();
        statement_text.clear();
        return;
      }
      const bool recursive = has_switch({"recurse", "r", "rf"});
      for (const PsWord& path : paths({"path", "literalpath", "lp"})) {
        if (!path.literal) {
          opaque("deletes a path computed at run time");
          continue;
        }
        // Comma-separated lists: Remove-Item a, b
        std::size_t start = 0;
        while (start <= path.text.size()) {
          std::size_t comma = path.text.find(',', start);
          if (comma == std::string::npos) comma = path.text.size();
          std::string one = path.text.substr(start, comma - start);
          if (!one.empty()) run_argv({"rm", recursive ? "-rf" : "-f", "--", one});
          start = comma + 1;
        }
      }
    } else if (In(cmd, {"clear-content", "clc"})) {
      for (const PsWord& path : paths({"path", "literalpath"})) {
        if (!path.literal)
          opaque("empties a file named at run time");
        else
          run_argv({"truncate", "-s", "0", path.text});
      }
    } else if (In(cmd, {"invoke-expression", "iex"})) {
      std::vector<PsWord> what = paths({"command"});
      if (what.empty() || !what[0].literal)
        opaque("runs code computed at run time (Invoke-Expression)");
      else
        ScanPowerShell(what[0].text, inv, ctx, depth + 1);
    } else if (In(cmd, {"start-process", "saps", "start"})) {
      std::vector<PsWord> file = paths({"filepath", "file"});
      if (file.empty() || !file[0].literal) {
        opaque("starts a process computed at run time");
      } else {
        std::vector<std::string> argv{file[0].text};
        if (auto it = named.find("argumentlist"); it != named.end()) {
          if (!it->second.literal) opaque("starts a process with arguments computed at run time");
          for (char& c : it->second.text)
            if (c == ',') c = ' ';
          std::string script = file[0].text + " " + it->second.text;
          ctx.ClassifyScript(script, inv.cwd, inv.depth + 1);
        } else {
          for (std::size_t k = 1; k < positional.size(); ++k) argv.push_back(positional[k].text);
          run_argv(std::move(argv));
        }
      }
    } else if (In(cmd, {"invoke-command", "icm", "start-job", "sajb"})) {
      // The script block was scanned above; -FilePath runs a file.
      if (named.contains("filepath")) opaque("runs a script file (Invoke-Command -FilePath)");
    } else if (In(cmd, {"format-volume", "clear-disk", "initialize-disk", "remove-partition",
                        "remove-physicaldisk"})) {
      ctx.Emit(MakeAction("disk.wipe", {}, Reversibility::kIrreversible, Severity::kCritical,
                          "powershell " + words[first - 1].text + " wipes a disk"));
    } else if (In(cmd, {"set-content", "sc", "out-file"})) {
      // Writes are judged like redirections elsewhere: not followed here.
    } else if (cmd.find('-') == std::string::npos || first == 2) {
      // A native command (bash, rm on Linux, cmd /c ...): shell text.
      if (!words[first - 1].literal) {
        opaque("runs a command computed at run time");
      } else {
        std::string line;
        bool known = true;
        for (std::size_t k = first - 1; k < words.size(); ++k) {
          if (!line.empty()) line.push_back(' ');
          std::string text = words[k].text;
          if (text.find_first_of(" '\"$`;&|<>()") != std::string::npos) {
            std::string quoted = "'";
            for (char c : text) {
              if (c == '\'')
                quoted += "'\\''";
              else
                quoted.push_back(c);
            }
            text = quoted + "'";
          }
          line += text;
          known = known && words[k].literal;
        }
        if (!known)
          opaque("runs " + words[first - 1].text + " with arguments computed at run time");
        else if (cmd == "cmd" || cmd == "cmd.exe") {
          // cmd /c LINE
          for (std::size_t k = first; k + 1 < words.size(); ++k)
            if (lower(words[k].text) == "/c")
              ctx.ClassifyScript(words[k + 1].text, inv.cwd, inv.depth + 1);
        } else {
          ctx.ClassifyScript(line, inv.cwd, inv.depth + 1);
        }
      }
    }
    words.clear();
    statement_text.clear();
  };
  std::size_t i = 0;
  const std::size_t n = code.size();
  while (i < n) {
    const char c = code[i];
    if (c == '\n' || c == ';' || c == '|' || c == '\r') {
      finish();
      ++i;
      if (c == '|' && i < n && code[i] == '|') ++i;
      continue;
    }
    if (c == '&' && i + 1 < n && code[i + 1] == '&') {
      finish();
      i += 2;
      continue;
    }
    if (c == ' ' || c == '\t') {
      ++i;
      continue;
    }
    if (c == '#') {
      while (i < n && code[i] != '\n') ++i;
      continue;
    }
    PsWord word;
    if (c == '{') {
      int level = 0;
      std::size_t j = i;
      for (; j < n; ++j) {
        if (code[j] == '{')
          ++level;
        else if (code[j] == '}' && --level == 0)
          break;
      }
      word.text = std::string(code.substr(i + 1, j > i ? j - i - 1 : 0));
      word.block = true;
      word.literal = false;
      i = std::min(n, j + 1);
      words.push_back(std::move(word));
      continue;
    }
    if (c == '(' || c == ')') {
      // Subexpressions: ( ... ) values are computed.
      if (c == '(') {
        int level = 0;
        std::size_t j = i;
        for (; j < n; ++j) {
          if (code[j] == '(')
            ++level;
          else if (code[j] == ')' && --level == 0)
            break;
        }
        ScanPowerShell(code.substr(i + 1, j > i ? j - i - 1 : 0), inv, ctx, depth + 1);
        word.text = "(...)";
        word.literal = false;
        i = std::min(n, j + 1);
        words.push_back(std::move(word));
      } else {
        ++i;
      }
      continue;
    }
    while (i < n) {
      const char d = code[i];
      if (d == ' ' || d == '\t' || d == '\n' || d == ';' || d == '|' || d == '\r' || d == '{' ||
          d == '(' || d == ')')
        break;
      if (d == '\'') {
        ++i;
        while (i < n) {
          if (code[i] == '\'' && i + 1 < n && code[i + 1] == '\'') {
            word.text.push_back('\'');
            i += 2;
            continue;
          }
          if (code[i] == '\'') break;
          word.text.push_back(code[i++]);
        }
        ++i;
        continue;
      }
      if (d == '"') {
        ++i;
        while (i < n && code[i] != '"') {
          if (code[i] == '`' && i + 1 < n) {
            char e = code[++i];
            word.text.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
            ++i;
            continue;
          }
          if (code[i] == '$') word.literal = false;
          word.text.push_back(code[i++]);
        }
        ++i;
        continue;
      }
      if (d == '$') word.literal = false;
      word.text.push_back(d);
      ++i;
    }
    words.push_back(std::move(word));
  }
  finish();
}

void PowerShell(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = std::span<const Arg>(inv.argv).subspan(1);
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string option = args[i].text;
    for (char& c : option) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!option.starts_with("-") && !option.starts_with("/")) {
      // A script file (pwsh script.ps1): the project's own code.
      return;
    }
    option.erase(0, 1);
    if (option == "command" || option == "c" || option == "com" || option == "comm") {
      std::string code;
      bool known = true;
      for (std::size_t k = i + 1; k < args.size(); ++k) {
        if (!code.empty()) code.push_back(' ');
        code += args[k].text;
        known = known && args[k].known;
      }
      if (code == "-") break;  // from stdin
      if (!known) {
        ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                            "powershell runs code computed at run time"));
      } else {
        ScanPowerShell(code, inv, ctx, 0);
      }
      return;
    }
    if (option == "encodedcommand" || option == "enc" || option == "e" || option == "ec") {
      ctx.Emit(
          MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                     "powershell runs an encoded command (-EncodedCommand), which is not checked"));
      return;
    }
    if (option == "file" || option == "f") {
      if (i + 1 < args.size()) {
        CodeFile file = ctx.ReadCodeFile(args[i + 1], inv.cwd, inv.remote);
        if (file.state == CodeFile::State::kText && file.written_here)
          ScanPowerShell(file.text, inv, ctx, 0);
        else if (file.state == CodeFile::State::kUnknown)
          ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                              "powershell runs " + args[i + 1].text + ", computed at run time"));
      }
      return;
    }
    if (In(option, {"executionpolicy", "ep", "ex", "windowstyle", "w", "inputformat", "if",
                    "outputformat", "of", "configurationname", "workingdirectory", "wd",
                    "settingsfile", "version", "v", "custompipename"}))
      ++i;
  }
  if (inv.has_stdin_text) {
    if (!inv.stdin_text_known)
      ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                          "powershell reads code with parts computed at run time"));
    else
      ScanPowerShell(inv.stdin_text, inv, ctx, 0);
  } else if (inv.stdin_piped) {
    if (inv.piped_text)
      ScanPowerShell(*inv.piped_text, inv, ctx, 0);
    else
      ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                          "powershell runs code piped in at run time, which cannot be checked"));
  }
}

constexpr PackEntry kInterpreters[] = {
    {"python", Python},
    {"python2", Python},
    {"python3", Python, true},
    {"pypy3", Python},
    {"pypy", Python},
    {"node", Node},
    {"nodejs", Node},
    {"bun", Node},
    {"deno", Deno},
    {"perl", Perl},
    {"ruby", Ruby},
    {"php", Php},
    {"awk", Awk},
    {"gawk", Awk},
    {"mawk", Awk},
    {"nawk", Awk},
    {"lua", Lua},
    {"luajit", Lua},
    {"Rscript", Rscript},
    {"pwsh", PowerShell},
    {"powershell", PowerShell},
    {"powershell.exe", PowerShell},
    {"pwsh.exe", PowerShell},
};

}  // namespace

std::span<const PackEntry> InterpreterPack() {
  return kInterpreters;
}

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
