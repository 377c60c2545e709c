// Editors that run commands: vim/ex (-c '!...', :!, system()) and emacs
// (--eval, shell-command, call-process).

#include <algorithm>
#include <array>
#include <cctype>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/carriers/carriers.h"

namespace dualkey::shell::carriers {

// --------------------------------------------------------------- vim, ex

void ScanVimCommand(string_view command, const Invocation& inv, Context& ctx, int depth);

// The literal string argument of `name(` in `text` (vim and elisp share
// quoting closely enough: "..." with backslashes, '...' doubled quotes).
bool StringArgument(string_view text, std::size_t open, std::string* out, std::size_t* end) {
  std::size_t i = open;
  while (i < text.size() && (text[i] == ' ' || text[i] == '(')) ++i;
  if (i >= text.size() || (text[i] != '"' && text[i] != '\'')) return false;
  const char quote = text[i++];
  out->clear();
  for (; i < text.size(); ++i) {
    if (text[i] == '\\' && quote == '"' && i + 1 < text.size()) {
      char e = text[++i];
      out->push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
      continue;
    }
    if (text[i] == quote) {
      if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
        out->push_back('\'');
        ++i;
        continue;
      }
      *end = i + 1;
      return true;
    }
    out->push_back(text[i]);
  }
  return false;
}

void ScanVimCommand(string_view command, const Invocation& inv, Context& ctx, int depth) {
  if (depth > 4) return;
  std::size_t i = 0;
  auto skip_blanks = [&] {
    while (i < command.size() && (command[i] == ' ' || command[i] == '\t' || command[i] == ':'))
      ++i;
  };
  skip_blanks();
  // silent!, silent, keepalt ... modifiers.
  for (;;) {
    bool matched = false;
    for (string_view modifier : {"silent!", "silent", "sil!", "sil", "keepalt", "noautocmd"}) {
      if (command.substr(i).starts_with(modifier)) {
        i += modifier.size();
        skip_blanks();
        matched = true;
        break;
      }
    }
    if (!matched) break;
  }
  // A range (%, 1,$, '<,'>) before a filter: %!sort
  while (i < command.size() &&
         string_view("%,.$0123456789'<>+-;").find(command[i]) != string_view::npos)
    ++i;
  string_view rest = command.substr(i);
  auto shell = [&](string_view text) { ctx.ClassifyScript(text, inv.cwd, inv.depth + 1); };
  if (rest.starts_with('!')) {
    shell(rest.substr(1));
    return;
  }
  for (string_view reader : {"r !", "r!", "read !", "read!", "w !", "w!", "write !", "write!"}) {
    if (rest.starts_with(reader)) {
      if (reader.ends_with('!') && reader.size() > 1 && reader[reader.size() - 2] != ' ' &&
          reader.starts_with("w"))
        return;  // :w! file writes a file
      shell(rest.substr(reader.size()));
      return;
    }
  }
  for (string_view terminal : {"terminal ", "term ", "ter "}) {
    if (rest.starts_with(terminal)) {
      shell(rest.substr(terminal.size()));
      return;
    }
  }
  // Other languages embedded in vim.
  for (auto [prefix, interpreter] :
       std::initializer_list<std::pair<string_view, string_view>>{{"python3 ", "python3"},
                                                                  {"py3 ", "python3"},
                                                                  {"python ", "python"},
                                                                  {"py ", "python"},
                                                                  {"pyx ", "python3"},
                                                                  {"lua ", "lua"},
                                                                  {"perl ", "perl"},
                                                                  {"ruby ", "ruby"}}) {
    if (rest.starts_with(prefix)) {
      ScanInterpreterCode(interpreter, rest.substr(prefix.size()), inv, ctx);
      return;
    }
  }
  if (rest.starts_with("exe ") || rest.starts_with("execute ") || rest.starts_with("exec ")) {
    string_view argument = rest.substr(rest.find(' ') + 1);
    std::string literal;
    std::size_t end = 0;
    if (StringArgument(argument, 0, &literal, &end) &&
        argument.substr(end).find_first_not_of(" \t") == string_view::npos) {
      ScanVimCommand(literal, inv, ctx, depth + 1);
    } else {
      ctx.Emit(Opaque("vim executes a command computed at run time"));
    }
    return;
  }
  // Functions anywhere in the command: system(), delete().
  for (string_view function :
       {"systemlist(", "system(", "delete(", "job_start(", "jobstart(", "termopen(", "libcall("}) {
    std::size_t at = 0;
    while ((at = rest.find(function, at)) != string_view::npos) {
      if (at > 0 &&
          (std::isalnum(static_cast<unsigned char>(rest[at - 1])) || rest[at - 1] == '_')) {
        at += function.size();
        continue;
      }
      std::string literal;
      std::size_t end = 0;
      const std::size_t open = at + function.size();
      at = open;
      if (!StringArgument(rest, open, &literal, &end)) {
        ctx.Emit(Opaque("vim calls " + std::string(function) +
                        ") with an argument computed at run time"));
        continue;
      }
      if (function == "delete(") {
        // delete(path, 'rf') is a recursive delete; 'd' an empty directory.
        std::string flags;
        std::size_t flags_end = 0;
        std::size_t comma = rest.find(',', end);
        bool recursive = comma != string_view::npos && comma < rest.find(')', end) &&
                         StringArgument(rest, comma + 1, &flags, &flags_end) &&
                         flags.find("rf") != std::string::npos;
        RunArgv(inv, ctx, std::vector<std::string>{"rm", recursive ? "-rf" : "-f", "--", literal});
      } else if (function == "libcall(") {
        ctx.Emit(Opaque("vim calls into a shared library (libcall)"));
      } else {
        shell(literal);
      }
    }
  }
}

void HandleVim(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  const std::string what(inv.name());
  bool ex_mode = inv.name() == "ex" || inv.name() == "exim";
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    if (text == "--") break;
    if (In(text, {"-c", "--cmd"}) && i + 1 < args.size()) {
      const Arg& command = args[++i];
      if (!command.known)
        ctx.Emit(Opaque(what + " runs an editor command computed at run time"));
      else
        ScanVimCommand(command.text, inv, ctx, 0);
    } else if (text.starts_with("+") && text.size() > 1) {
      if (!args[i].known)
        ctx.Emit(Opaque(what + " runs an editor command computed at run time"));
      else
        ScanVimCommand(string_view(text).substr(1), inv, ctx, 0);
    } else if (In(text, {"-S", "-u", "-s", "-W", "-w", "-i", "-T", "-r", "-t", "-q"}) &&
               i + 1 < args.size()) {
      if (text == "-S" || text == "-u" || text == "-s") {
        // A script of ex commands (or typed keys, -s): one command per line.
        CodeFile file = ctx.ReadCodeFile(args[i + 1], inv.cwd, inv.remote);
        if (file.state == CodeFile::State::kText && file.written_here) {
          std::size_t start = 0;
          while (start < file.text.size()) {
            std::size_t end = file.text.find('\n', start);
            if (end == std::string::npos) end = file.text.size();
            ScanVimCommand(string_view(file.text).substr(start, end - start), inv, ctx, 0);
            start = end + 1;
          }
        } else if (file.state == CodeFile::State::kUnknown) {
          ctx.Emit(Opaque(what + " runs editor commands from " + args[i + 1].text +
                          ", whose content is computed at run time"));
        }
      }
      ++i;
    } else if (text == "-e" || text == "-es" || text == "-E" || text == "-Es") {
      ex_mode = true;
    }
  }
  if (!ex_mode) return;
  // Ex mode reads commands from stdin.
  std::string stdin_text, source;
  switch (ReadStdin(inv, ctx, &stdin_text, &source)) {
    case StdinKind::kText: {
      std::size_t start = 0;
      while (start < stdin_text.size()) {
        std::size_t end = stdin_text.find('\n', start);
        if (end == std::string::npos) end = stdin_text.size();
        ScanVimCommand(string_view(stdin_text).substr(start, end - start), inv, ctx, 0);
        start = end + 1;
      }
      return;
    }
    case StdinKind::kUnknown:
      ctx.Emit(Opaque(what + " runs editor commands read from " + source + " at run time"));
      return;
    case StdinKind::kNone:
      return;
  }
}

// ----------------------------------------------------------------- emacs

// Elisp forms that delete or run: (delete-directory "x" t), (shell-command
// "..."), (call-process "rm" nil nil nil "-rf" "x"), (eval ...).
void ScanElisp(string_view code, const Invocation& inv, Context& ctx) {
  struct Token {
    enum Kind { kOpen, kClose, kString, kAtom } kind;
    std::string text;
  };
  std::vector<Token> tokens;
  for (std::size_t i = 0; i < code.size() && tokens.size() < 20000;) {
    char c = code[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == ';') {
      while (i < code.size() && code[i] != '\n') ++i;
    } else if (c == '(' || c == '[') {
      tokens.push_back({Token::kOpen, "("});
      ++i;
    } else if (c == ')' || c == ']') {
      tokens.push_back({Token::kClose, ")"});
      ++i;
    } else if (c == '"') {
      std::string text;
      ++i;
      while (i < code.size() && code[i] != '"') {
        if (code[i] == '\\' && i + 1 < code.size()) {
          char e = code[++i];
          text.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
        } else {
          text.push_back(code[i]);
        }
        ++i;
      }
      ++i;
      tokens.push_back({Token::kString, std::move(text)});
    } else if (c == '\'' || c == '`' || c == ',' || c == '#') {
      ++i;  // quote marks: the form that follows is data, still scanned
    } else {
      std::size_t j = i;
      while (j < code.size() && !std::isspace(static_cast<unsigned char>(code[j])) &&
             code[j] != '(' && code[j] != ')' && code[j] != '"' && code[j] != '[' && code[j] != ']')
        ++j;
      tokens.push_back({Token::kAtom, std::string(code.substr(i, j - i))});
      i = j;
    }
  }
  // The arguments of the form opened at tokens[open]: strings and atoms at
  // depth one (nested forms count as computed).
  struct Form {
    std::vector<std::string> strings;
    std::vector<bool> literal;  // per argument
  };
  auto arguments = [&](std::size_t open) {
    Form form;
    int level = 0;
    for (std::size_t k = open + 2; k < tokens.size(); ++k) {
      const Token& t = tokens[k];
      if (t.kind == Token::kOpen) {
        if (level == 0) {
          form.strings.emplace_back();
          form.literal.push_back(false);
        }
        ++level;
      } else if (t.kind == Token::kClose) {
        if (level == 0) break;
        --level;
      } else if (level == 0) {
        form.strings.push_back(t.text);
        form.literal.push_back(t.kind == Token::kString || t.text == "nil" || t.text == "t");
      }
    }
    return form;
  };
  for (std::size_t k = 0; k + 1 < tokens.size(); ++k) {
    if (tokens[k].kind != Token::kOpen || tokens[k + 1].kind != Token::kAtom) continue;
    const std::string& fn = tokens[k + 1].text;
    auto opaque = [&] {
      ctx.Emit(Opaque("emacs calls " + fn + " with arguments computed at run time"));
    };
    if (In(fn, {"delete-directory", "delete-file", "f-delete", "dired-delete-file",
                "move-file-to-trash"})) {
      Form form = arguments(k);
      if (form.strings.empty() || !form.literal[0]) {
        opaque();
        continue;
      }
      const bool recursive =
          fn != "delete-file" && form.strings.size() > 1 && form.strings[1] != "nil";
      RunArgv(inv, ctx,
              std::vector<std::string>{"rm", recursive ? "-rf" : "-f", "--", form.strings[0]});
    } else if (In(fn, {"shell-command", "shell-command-to-string", "async-shell-command",
                       "call-process-shell-command", "process-file-shell-command"})) {
      Form form = arguments(k);
      if (form.strings.empty() || !form.literal[0])
        opaque();
      else
        ctx.ClassifyScript(form.strings[0], inv.cwd, inv.depth + 1);
    } else if (In(fn, {"start-process-shell-command", "start-file-process-shell-command"})) {
      Form form = arguments(k);
      if (form.strings.size() < 3 || !form.literal[2])
        opaque();
      else
        ctx.ClassifyScript(form.strings[2], inv.cwd, inv.depth + 1);
    } else if (In(fn, {"call-process", "process-file", "start-process", "start-file-process"})) {
      // (call-process PROGRAM INFILE DESTINATION DISPLAY ARGS...)
      // (start-process NAME BUFFER PROGRAM ARGS...)
      Form form = arguments(k);
      const std::size_t program = fn.starts_with("start") ? 2 : 0;
      const std::size_t first_arg = fn.starts_with("start") ? 3 : 4;
      if (form.strings.size() <= program || !form.literal[program]) {
        opaque();
        continue;
      }
      std::vector<std::string> argv{form.strings[program]};
      bool literal = true;
      for (std::size_t a = first_arg; a < form.strings.size(); ++a) {
        argv.push_back(form.strings[a]);
        literal = literal && form.literal[a];
      }
      if (!literal)
        opaque();
      else
        RunArgv(inv, ctx, std::move(argv));
    } else if (In(fn, {"make-process", "make-pipe-process"})) {
      ctx.Emit(Opaque("emacs starts a process (" + fn + ") whose command is not checked"));
    } else if (In(fn, {"eval", "load", "load-file", "read-from-string", "funcall", "apply"})) {
      Form form = arguments(k);
      if (fn == "load" || fn == "load-file") {
        if (!form.strings.empty() && form.literal[0]) {
          CodeFile file = ctx.ReadCodeFile(Arg{form.strings[0]}, inv.cwd, inv.remote);
          if (file.state == CodeFile::State::kText && file.written_here)
            ScanElisp(file.text, inv, ctx);
          else if (file.state == CodeFile::State::kUnknown)
            opaque();
        }
      } else if (fn == "funcall" || fn == "apply") {
        // (funcall 'delete-directory ...) is scanned through its quoted symbol;
        // a computed function is opaque.
        if (!form.strings.empty() && !form.literal[0] && k + 2 < tokens.size() &&
            tokens[k + 2].kind != Token::kAtom)
          opaque();
      }
    }
  }
}

void HandleEmacs(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    std::optional<Arg> code;
    std::optional<Arg> file;
    if (In(text, {"--eval", "-eval", "--execute", "-execute"}) && i + 1 < args.size()) {
      code = args[++i];
    } else if (text.starts_with("--eval=")) {
      code = Arg{text.substr(7), args[i].known};
    } else if (In(text, {"-l", "--load", "-load", "--script", "-script", "-x"}) &&
               i + 1 < args.size()) {
      file = args[++i];
    } else if (text.starts_with("--load=")) {
      file = Arg{text.substr(7), args[i].known};
    }
    if (code) {
      if (!code->known)
        ctx.Emit(Opaque("emacs evaluates code computed at run time"));
      else
        ScanElisp(code->text, inv, ctx);
    }
    if (file) {
      CodeFile content = ctx.ReadCodeFile(*file, inv.cwd, inv.remote);
      if (content.state == CodeFile::State::kText && content.written_here)
        ScanElisp(content.text, inv, ctx);
      else if (content.state == CodeFile::State::kUnknown)
        ctx.Emit(Opaque("emacs loads " + file->text + ", whose content is computed at run time"));
    }
  }
}

}  // namespace dualkey::shell::carriers
