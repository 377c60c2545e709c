// Carriers: commands that run code later or somewhere else, and files that
// hold code something runs. What a carrier runs is judged as the command it
// carries; when the carried code cannot be known, the action is opaque.
//
// - Files run as code (ClassifyCodeFile): bash FILE, ./FILE, source FILE,
//   make -f FILE, crontab FILE, at -f FILE, BASH_ENV=FILE.
// - Scheduled: at, batch, crontab (stdin or FILE), files written into cron
//   directories, shell startup files, git hooks, systemd units, autostart.
// - Editors and multiplexers: vim/ex -c '!...', emacs --eval, tmux new/
//   send-keys/run-shell, screen -dm/-X stuff, expect spawn/send, gdb -ex.
// - Prefix runners, as a table (data): unshare, nsenter, bwrap, strace,
//   firejail, poetry run, uv run, op run -- ..., xterm -e ...
#include <algorithm>
#include <array>
#include <cctype>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/packs.h"
#include "shell/internal/paths.h"

namespace dualkey::shell {
namespace {

using Args = std::span<const Arg>;
using std::string_view;

bool In(string_view text, std::initializer_list<string_view> set) {
  return std::find(set.begin(), set.end(), text) != set.end();
}

Action Opaque(std::string reason) {
  return MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh, std::move(reason));
}

string_view Basename(string_view path) {
  auto slash = path.rfind('/');
  return slash == string_view::npos ? path : path.substr(slash + 1);
}

Invocation Inner(const Invocation& outer, Args argv) {
  Invocation inner;
  inner.argv.assign(argv.begin(), argv.end());
  inner.cwd = outer.cwd;
  inner.depth = outer.depth + 1;
  inner.remote = outer.remote;
  inner.has_stdin_text = outer.has_stdin_text;
  inner.stdin_text = outer.stdin_text;
  inner.stdin_text_known = outer.stdin_text_known;
  inner.stdin_piped = outer.stdin_piped;
  inner.piped_from = outer.piped_from;
  inner.piped_text = outer.piped_text;
  return inner;
}

std::string Join(Args args, bool* known) {
  std::string out;
  *known = true;
  for (const Arg& arg : args) {
    if (!out.empty()) out.push_back(' ');
    out += arg.text;
    *known = *known && arg.known;
  }
  return out;
}

void RunScriptText(const Invocation& inv, Context& ctx, const Arg& script,
                   const std::string& what) {
  if (!script.known) {
    ctx.Emit(Opaque(what + " runs shell text computed at run time (" + script.text + ")"));
    return;
  }
  if (inv.remote)
    ctx.ClassifyRemoteScript(script.text, inv.depth + 1);
  else
    ctx.ClassifyScript(script.text, inv.cwd, inv.depth + 1);
}

void RunArgv(const Invocation& inv, Context& ctx, Args argv) {
  if (!argv.empty()) ctx.ClassifyInvocation(Inner(inv, argv));
}

void RunArgv(const Invocation& inv, Context& ctx, std::vector<std::string> words) {
  std::vector<Arg> argv;
  for (std::string& word : words) argv.push_back(Arg{std::move(word)});
  RunArgv(inv, ctx, Args(argv));
}

// The text a command reads on stdin, or why it cannot be known: a file
// redirect, a here-document, or a pipe.
enum class StdinKind { kNone, kText, kUnknown };
StdinKind ReadStdin(const Invocation& inv, Context& ctx, std::string* text, std::string* source) {
  for (const FileRedirect& redirect : inv.redirects) {
    if (redirect.kind != RedirectKind::kRead || (redirect.fd != -1 && redirect.fd != 0)) continue;
    CodeFile file = ctx.ReadCodeFile(redirect.target, inv.cwd, inv.remote);
    *source = redirect.target.text;
    if (file.state == CodeFile::State::kText) {
      *text = std::move(file.text);
      return StdinKind::kText;
    }
    return file.state == CodeFile::State::kMissing ? StdinKind::kNone : StdinKind::kUnknown;
  }
  if (!inv.has_stdin_text && !inv.stdin_piped) return StdinKind::kNone;
  std::optional<std::string> in = inv.StdinText();
  if (!in) {
    *source =
        inv.stdin_piped && !inv.piped_from.empty() ? "`" + inv.piped_from[0].text + "`" : "stdin";
    return StdinKind::kUnknown;
  }
  *text = std::move(*in);
  return StdinKind::kText;
}

// ------------------------------------------------------------- code files

// `#!/usr/bin/env python3 -u` -> "python3"; "" without a #! line.
std::string ShebangInterpreter(string_view text) {
  if (!text.starts_with("#!")) return {};
  string_view line = text.substr(
      2, text.find('\n') == string_view::npos ? string_view::npos : text.find('\n') - 2);
  std::vector<string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
    if (j > i) words.push_back(line.substr(i, j - i));
    i = j + 1;
  }
  if (words.empty()) return {};
  string_view interpreter = Basename(words[0]);
  if (interpreter == "env") {
    for (std::size_t k = 1; k < words.size(); ++k) {
      if (words[k].starts_with("-") || words[k].find('=') != string_view::npos) continue;
      return std::string(Basename(words[k]));
    }
    return {};
  }
  return std::string(interpreter);
}

bool IsShellName(string_view name) {
  return In(name, {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox", "posh", "yash"});
}

// ------------------------------------------------------------------ crontab

// Lines of a crontab: environment settings, comments, and jobs of five time
// fields (or @reboot, @daily ...) then the command; /etc/crontab and
// /etc/cron.d/* add a user field. `%` ends the command (the rest is stdin).
void ClassifyCrontabText(string_view text, bool user_field, const Invocation& inv, Context& ctx,
                         bool project_code) {
  std::size_t start = 0;
  int jobs = 0;
  while (start < text.size() && jobs < 256) {
    std::size_t end = text.find('\n', start);
    if (end == string_view::npos) end = text.size();
    string_view line = text.substr(start, end - start);
    start = end + 1;
    std::size_t i = line.find_first_not_of(" \t");
    if (i == string_view::npos || line[i] == '#') continue;
    line.remove_prefix(i);
    // NAME=value
    std::size_t eq = line.find('='), space = line.find_first_of(" \t");
    if (eq != string_view::npos && (space == string_view::npos || eq < space)) continue;
    const int fields = (line.starts_with('@') ? 1 : 5) + (user_field ? 1 : 0);
    std::size_t pos = 0;
    for (int f = 0; f < fields && pos < line.size(); ++f) {
      pos = line.find_first_not_of(" \t", pos);
      if (pos == string_view::npos) break;
      pos = line.find_first_of(" \t", pos);
      if (pos == string_view::npos) pos = line.size();
    }
    if (pos >= line.size()) continue;
    std::string command;
    for (std::size_t k = pos; k < line.size(); ++k) {
      if (line[k] == '\\' && k + 1 < line.size() && line[k + 1] == '%') {
        command.push_back('%');
        ++k;
      } else if (line[k] == '%') {
        break;
      } else {
        command.push_back(line[k]);
      }
    }
    ++jobs;
    ctx.ClassifyFileScript(command, "", inv.depth + 1, project_code);
  }
}

// ----------------------------------------------------------------- makefile

// Recipes of a makefile as shell text: variables set in the file are
// substituted, $$ is $, $(shell ...) runs too; other make variables stay
// unknown (`$MAKEVAR`).
void ClassifyMakefileText(string_view text, const Invocation& inv, Context& ctx,
                          bool project_code) {
  std::map<std::string, std::string, std::less<>> variables;
  std::vector<std::string> lines;
  {
    std::string current;
    std::size_t i = 0;
    while (i <= text.size()) {
      std::size_t end = text.find('\n', i);
      if (end == string_view::npos) end = text.size();
      string_view line = text.substr(i, end - i);
      i = end + 1;
      if (line.ends_with('\\')) {
        current.append(line.substr(0, line.size() - 1));
        current.push_back(' ');
        if (end >= text.size()) break;
        continue;
      }
      current.append(line);
      lines.push_back(std::move(current));
      current.clear();
      if (end >= text.size()) break;
    }
  }
  std::vector<std::string> shell_texts;
  std::function<std::string(string_view, int)> expand = [&](string_view in, int depth) {
    std::string out;
    for (std::size_t k = 0; k < in.size(); ++k) {
      if (in[k] != '$' || k + 1 >= in.size()) {
        out.push_back(in[k]);
        continue;
      }
      char next = in[k + 1];
      if (next == '$') {
        out.push_back('$');
        ++k;
        continue;
      }
      if (next == '(' || next == '{') {
        char close = next == '(' ? ')' : '}';
        int level = 0;
        std::size_t j = k + 1;
        for (; j < in.size(); ++j) {
          if (in[j] == next)
            ++level;
          else if (in[j] == close && --level == 0)
            break;
        }
        if (j >= in.size()) {
          out.append(in.substr(k));
          break;
        }
        string_view inner = in.substr(k + 2, j - k - 2);
        if (inner.starts_with("shell ")) {
          shell_texts.push_back(depth < 4 ? expand(inner.substr(6), depth + 1)
                                          : std::string(inner.substr(6)));
          out += "$MAKE_SHELL_OUTPUT";
        } else if (auto it = variables.find(inner); it != variables.end() && depth < 4) {
          out += expand(it->second, depth + 1);
        } else {
          std::string name;
          for (char c : inner)
            name.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
          out += "${MAKE_" + name + "}";
        }
        k = j;
        continue;
      }
      // $@ $< $^ $* and one-letter variables.
      out += "${MAKE_AUTO}";
      ++k;
    }
    return out;
  };
  std::vector<std::string> recipes;
  bool in_rule = false;
  for (const std::string& line : lines) {
    if (line.starts_with('\t')) {
      if (!in_rule) continue;
      string_view recipe = string_view(line).substr(1);
      while (!recipe.empty() && (recipe[0] == '@' || recipe[0] == '-' || recipe[0] == '+' ||
                                 recipe[0] == ' ' || recipe[0] == '\t'))
        recipe.remove_prefix(1);
      recipes.push_back(expand(recipe, 0));
      continue;
    }
    std::size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    string_view body = string_view(line).substr(first);
    // NAME = value, NAME := value, NAME ?= value, NAME += value, export NAME = value
    if (body.starts_with("export ")) body.remove_prefix(7);
    std::size_t eq = body.find('=');
    std::size_t colon = body.find(':');
    if (eq != string_view::npos && (colon == string_view::npos || colon >= eq - 1)) {
      std::size_t name_end = eq;
      bool append = false;
      if (name_end > 0 && In(body.substr(name_end - 1, 1), {":", "?", "+", "!"})) {
        append = body[name_end - 1] == '+';
        if (body[name_end - 1] == '!') shell_texts.push_back(std::string(body.substr(eq + 1)));
        --name_end;
        if (name_end > 0 && body[name_end - 1] == ':') --name_end;
      }
      std::string name(body.substr(0, name_end));
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
      std::string value(body.substr(eq + 1));
      value.erase(0, value.find_first_not_of(" \t"));
      if (value.find("$(shell ") != std::string::npos) expand(value, 0);
      if (append && variables.contains(name))
        variables[name] += " " + value;
      else
        variables[name] = value;
      in_rule = false;
      continue;
    }
    if (colon != string_view::npos) {
      in_rule = true;
      // target: prerequisites ; recipe
      std::size_t semicolon = body.find(';', colon);
      if (semicolon != string_view::npos) recipes.push_back(expand(body.substr(semicolon + 1), 0));
      continue;
    }
    in_rule = false;
  }
  for (const std::string& shell : shell_texts)
    ctx.ClassifyFileScript(shell, inv.cwd, inv.depth + 1, project_code);
  for (const std::string& recipe : recipes)
    ctx.ClassifyFileScript(recipe, inv.cwd, inv.depth + 1, project_code);
}

// -------------------------------------------------------------- at, batch

void HandleAt(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  std::string file;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    if (text == "--") break;
    if (!text.starts_with("-") || text.size() < 2) continue;
    // -l (atq), -d/-r (atrm), -c (print a job), -V: nothing is scheduled.
    if (text.find_first_of("ldrcV") != std::string::npos && text.find('f') == std::string::npos &&
        text.find('q') == std::string::npos)
      return;
    if (text == "-f" && i + 1 < args.size()) {
      file = args[++i].text;
      if (!args[i].known) {
        ctx.Emit(Opaque("at schedules the commands of a file computed at run time"));
        return;
      }
    } else if (In(text, {"-q", "-t"})) {
      ++i;
    }
  }
  const std::string what = std::string(inv.name()) + " schedules";
  if (!file.empty()) {
    ClassifyCodeFile(inv, ctx, Arg{file}, CodeLanguage::kShell, what + " the commands in " + file);
    return;
  }
  std::string text, source;
  switch (ReadStdin(inv, ctx, &text, &source)) {
    case StdinKind::kText:
      ctx.ClassifyScript(text, inv.cwd, inv.depth + 1);
      return;
    case StdinKind::kUnknown:
      ctx.Emit(Opaque(what + " commands read from " + source +
                      " (decoded, downloaded or read at run time), which cannot be checked"));
      return;
    case StdinKind::kNone:
      // Commands typed at the terminal later: an interactive session.
      return;
  }
}

// crontab FILE | crontab - : the table's jobs are the commands it carries.
// (-r, -l, -e are the backup pack's; -e opens an editor for a human.)
void HandleCrontab(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  std::vector<Arg> operands = Operands(args, {"-u", "-s"});
  for (const Arg& arg : args) {
    if (arg.text == "--") break;
    if (arg.text.starts_with("-") && arg.text.size() > 1 &&
        arg.text.find_first_of("lreiT") != std::string::npos)
      return;
  }
  if (!operands.empty() && operands[0].text != "-") {
    ClassifyCodeFile(inv, ctx, operands[0], CodeLanguage::kCrontab,
                     "crontab installs the jobs in " + operands[0].text);
    return;
  }
  std::string text, source;
  switch (ReadStdin(inv, ctx, &text, &source)) {
    case StdinKind::kText:
      ClassifyCrontabText(text, false, inv, ctx, false);
      return;
    case StdinKind::kUnknown:
      ctx.Emit(Opaque("crontab installs jobs read from " + source +
                      " at run time, which cannot be checked"));
      return;
    case StdinKind::kNone:
      if (!operands.empty())
        ctx.Emit(Opaque("crontab installs jobs from stdin, which cannot be seen"));
      return;
  }
}

// ------------------------------------------------------------------- tmux

constexpr string_view kTmuxShellCommands[] = {
    "new-session",  "new",      "new-window",     "neww",     "split-window", "splitw",
    "respawn-pane", "respawnp", "respawn-window", "respawnw", "run-shell",    "run",
    "pipe-pane",    "pipep",    "display-popup",  "popup",    "if-shell",     "if"};

void HandleTmux(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  std::size_t i = 0;
  // Server options: -L socket, -S path, -f file, -c shell-command, -T features.
  while (i < args.size() && args[i].text.starts_with("-") && args[i].text.size() > 1) {
    if (args[i].text == "-c" && i + 1 < args.size()) {
      RunScriptText(inv, ctx, args[i + 1], "tmux -c");
      return;
    }
    if (In(args[i].text, {"-L", "-S", "-f", "-T"})) ++i;
    ++i;
  }
  // Several commands may be chained with ";" (written \; in the shell).
  while (i < args.size()) {
    std::size_t end = i;
    while (end < args.size() && args[end].text != ";") ++end;
    Args command = args.subspan(i, end - i);
    i = end + 1;
    if (command.empty() || !command[0].known) {
      if (!command.empty()) ctx.Emit(Opaque("tmux runs a command computed at run time"));
      continue;
    }
    const std::string& name = command[0].text;
    Args rest = command.subspan(1);
    if (name == "send-keys" || name == "send") {
      // Keys typed into a pane: literal text, with Enter (C-m) running it.
      std::string typed;
      bool known = true;
      for (std::size_t k = 0; k < rest.size(); ++k) {
        const std::string& key = rest[k].text;
        if (In(key, {"-t", "-N", "-c"})) {
          ++k;
          continue;
        }
        if (key.starts_with("-") && key.size() > 1) continue;
        if (In(key, {"Enter", "C-m", "KPEnter", "C-j"})) {
          typed.push_back('\n');
          continue;
        }
        if (In(key, {"Escape", "C-c", "C-d", "C-l", "Space", "Tab", "BSpace", "Up", "Down"})) {
          typed.push_back(key == "Space" ? ' ' : '\n');
          continue;
        }
        typed += key;
        known = known && rest[k].known;
      }
      RunScriptText(inv, ctx, Arg{typed, known}, "tmux send-keys");
      continue;
    }
    if (std::find(std::begin(kTmuxShellCommands), std::end(kTmuxShellCommands), name) ==
        std::end(kTmuxShellCommands))
      continue;
    // Options, then the shell command (the rest, joined).
    std::size_t k = 0;
    while (k < rest.size() && rest[k].text.starts_with("-") && rest[k].text.size() > 1) {
      const std::string& option = rest[k].text;
      if (option == "--") {
        ++k;
        break;
      }
      // Options with a value are single letters from this set, possibly last in a cluster.
      if (option.size() == 2 &&
          string_view("cdeFhlnstSTwxyEbIp").find(option[1]) != string_view::npos &&
          !(name.starts_with("new") && option == "-d") && option != "-E" && option != "-I" &&
          option != "-p")
        ++k;
      ++k;
    }
    if (k >= rest.size()) continue;
    bool known = true;
    std::string script = Join(rest.subspan(k), &known);
    if (name == "if-shell" || name == "if") {
      // if-shell CONDITION THEN [ELSE]: the condition is shell text, the
      // others tmux commands (often run-shell).
      RunScriptText(inv, ctx, rest[k], "tmux if-shell");
      continue;
    }
    RunScriptText(inv, ctx, Arg{script, known}, "tmux " + name);
  }
}

// ----------------------------------------------------------------- screen

void HandleScreen(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  std::size_t i = 0;
  while (i < args.size() && args[i].text.starts_with("-") && args[i].text.size() > 1) {
    const std::string& option = args[i].text;
    if (option == "-X") {
      // screen -X CMD ...: a screen command; `stuff TEXT` types into a window.
      Args command = args.subspan(i + 1);
      if (command.empty()) return;
      if (command[0].text == "stuff" && command.size() > 1) {
        std::string text = command[1].text;
        for (std::size_t p = 0; (p = text.find("^M", p)) != std::string::npos;)
          text.replace(p, 2, "\n");
        for (std::size_t p = 0; (p = text.find("\\r", p)) != std::string::npos;)
          text.replace(p, 2, "\n");
        for (std::size_t p = 0; (p = text.find("\\n", p)) != std::string::npos;)
          text.replace(p, 2, "\n");
        RunScriptText(inv, ctx, Arg{text, command[1].known}, "screen -X stuff");
      } else if (In(command[0].text, {"exec", "screen"})) {
        RunArgv(inv, ctx, command.subspan(1));
      }
      return;
    }
    if (In(option, {"-S", "-c", "-e", "-h", "-p", "-T", "-t", "-s", "-Logfile"}) ||
        (option.size() > 2 && option.back() == 'S' && option[1] != '-'))
      ++i;  // -dmS NAME
    ++i;
  }
  RunArgv(inv, ctx, args.subspan(std::min(i, args.size())));
}

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

// ----------------------------------------------------------------- expect

// Tcl, enough for expect scripts: commands split on newlines and `;`,
// words in "..." or {...}; [..] substitutions and $vars are computed.
void ScanExpect(string_view code, const Invocation& inv, Context& ctx, int depth) {
  if (depth > 4) return;
  struct Word {
    std::string text;
    bool literal = true;
  };
  std::vector<Word> words;
  auto run_command = [&] {
    if (words.empty()) return;
    const std::string& name = words[0].text;
    auto all_literal = [&](std::size_t from) {
      for (std::size_t k = from; k < words.size(); ++k)
        if (!words[k].literal) return false;
      return true;
    };
    std::size_t first = 1;
    while (first < words.size() && words[first].text.starts_with("-") && words[first].text != "-")
      ++first;  // spawn -noecho, send --, exec -ignorestderr
    if (first < words.size() && words[first - 1].text == "--") {
    }
    if (In(name, {"spawn", "exec", "system"})) {
      if (!all_literal(first)) {
        ctx.Emit(Opaque("expect " + name + " runs a command computed at run time"));
      } else if (name == "system") {
        std::string script;
        for (std::size_t k = first; k < words.size(); ++k)
          script += (script.empty() ? "" : " ") + words[k].text;
        ctx.ClassifyScript(script, inv.cwd, inv.depth + 1);
      } else {
        std::vector<std::string> argv;
        for (std::size_t k = first; k < words.size(); ++k) argv.push_back(words[k].text);
        RunArgv(inv, ctx, std::move(argv));
      }
    } else if (In(name, {"send", "send_user", "exp_send"}) && name != "send_user") {
      if (first >= words.size()) return;
      if (!words[first].literal) {
        ctx.Emit(Opaque("expect sends text computed at run time to the program it drives"));
        return;
      }
      std::string typed = words[first].text;
      for (char& c : typed)
        if (c == '\r') c = '\n';
      ctx.ClassifyScript(typed, inv.cwd, inv.depth + 1);
    } else if (name == "file" && words.size() > 2 && words[1].text == "delete") {
      bool force = false;
      for (std::size_t k = 2; k < words.size(); ++k) {
        if (words[k].text == "-force") {
          force = true;
          continue;
        }
        if (words[k].text == "--") continue;
        RunArgv(inv, ctx,
                std::vector<std::string>{"rm", force ? "-rf" : "-f", "--", words[k].text});
      }
    } else if (name == "eval" || name == "source" || name == "uplevel") {
      if (name == "eval" && all_literal(1) && words.size() > 1) {
        ScanExpect(words[1].text, inv, ctx, depth + 1);
      } else if (name == "source" && words.size() > 1 && words[1].literal) {
        CodeFile file = ctx.ReadCodeFile(Arg{words[1].text}, inv.cwd, inv.remote);
        if (file.state == CodeFile::State::kText && file.written_here)
          ScanExpect(file.text, inv, ctx, depth + 1);
        else if (file.state == CodeFile::State::kUnknown)
          ctx.Emit(Opaque("expect sources a file computed at run time"));
      } else {
        ctx.Emit(Opaque("expect evaluates code computed at run time"));
      }
    } else {
      // Bodies of control structures ({...} words) are scripts too.
      for (std::size_t k = 1; k < words.size(); ++k)
        if (words[k].text.find_first_of(" \n;") != std::string::npos && words[k].literal &&
            In(name, {"if", "while", "for", "foreach", "proc", "expect", "catch", "interact",
                      "expect_after", "expect_before", "else", "elseif", "timeout"}))
          ScanExpect(words[k].text, inv, ctx, depth + 1);
    }
    words.clear();
  };
  std::size_t i = 0;
  while (i < code.size()) {
    char c = code[i];
    if (c == '\n' || c == ';') {
      run_command();
      ++i;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r') {
      ++i;
      continue;
    }
    if (c == '\\' && i + 1 < code.size() && code[i + 1] == '\n') {
      i += 2;
      continue;
    }
    if (c == '#' && words.empty()) {
      while (i < code.size() && code[i] != '\n') ++i;
      continue;
    }
    Word word;
    if (c == '{') {
      int level = 0;
      std::size_t j = i;
      for (; j < code.size(); ++j) {
        if (code[j] == '{')
          ++level;
        else if (code[j] == '}' && --level == 0)
          break;
      }
      word.text = std::string(code.substr(i + 1, j - i - 1));
      i = std::min(code.size(), j + 1);
    } else {
      const bool quoted = c == '"';
      if (quoted) ++i;
      while (i < code.size()) {
        char d = code[i];
        if (quoted ? d == '"' : (d == ' ' || d == '\t' || d == '\n' || d == ';' || d == '\r'))
          break;
        if (d == '\\' && i + 1 < code.size()) {
          char e = code[++i];
          word.text.push_back(e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e);
          ++i;
          continue;
        }
        if (d == '$') word.literal = false;
        if (d == '[') {
          word.literal = false;
          int level = 0;
          std::size_t j = i;
          for (; j < code.size(); ++j) {
            if (code[j] == '[')
              ++level;
            else if (code[j] == ']' && --level == 0)
              break;
          }
          ScanExpect(code.substr(i + 1, j > i ? j - i - 1 : 0), inv, ctx, depth + 1);
          word.text.append(code.substr(i, std::min(code.size(), j + 1) - i));
          i = std::min(code.size(), j + 1);
          continue;
        }
        word.text.push_back(d);
        ++i;
      }
      if (quoted) ++i;
    }
    words.push_back(std::move(word));
  }
  run_command();
}

void HandleExpect(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    if (text == "-c" && i + 1 < args.size()) {
      if (!args[i + 1].known)
        ctx.Emit(Opaque("expect runs a script computed at run time"));
      else
        ScanExpect(args[i + 1].text, inv, ctx, 0);
      ++i;
      continue;
    }
    if (text == "-f" || (!text.starts_with("-") && !text.empty())) {
      const Arg& file = text == "-f" ? (i + 1 < args.size() ? args[i + 1] : args[i]) : args[i];
      CodeFile content = ctx.ReadCodeFile(file, inv.cwd, inv.remote);
      if (content.state == CodeFile::State::kText) {
        if (content.written_here) ScanExpect(content.text, inv, ctx, 0);
      } else if (content.state == CodeFile::State::kUnknown) {
        ctx.Emit(Opaque("expect runs " + file.text + ", whose content is computed at run time"));
      }
      return;
    }
  }
}

// -------------------------------------------------------------------- make

void HandleMake(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  std::vector<Arg> files;
  std::string directory = inv.cwd;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    if (In(text, {"-f", "--file", "--makefile"}) && i + 1 < args.size()) {
      files.push_back(args[++i]);
    } else if (text.starts_with("--file=") || text.starts_with("--makefile=")) {
      files.push_back(Arg{text.substr(text.find('=') + 1), args[i].known});
    } else if (text.size() > 2 && text.starts_with("-f") && text[2] != '-') {
      files.push_back(Arg{text.substr(2), args[i].known});
    } else if ((text == "-C" || text == "--directory") && i + 1 < args.size()) {
      const Arg& dir = args[++i];
      directory = dir.known ? ResolvePath(dir, inv.cwd, ctx.home()).path : "";
    } else if (In(text, {"-I", "-o", "-W", "-j", "-l", "--include-dir", "--old-file"}) &&
               i + 1 < args.size() && !args[i + 1].text.starts_with("-")) {
      ++i;
    }
  }
  Invocation here = inv;
  here.cwd = directory;
  if (files.empty()) {
    // The default makefile: followed only when this line wrote it (a
    // project's own Makefile is its build, run as written).
    for (string_view name : {"GNUmakefile", "makefile", "Makefile"}) {
      if (!ctx.WrittenHere(Arg{std::string(name)}, directory, inv.remote)) continue;
      CodeFile file = ctx.ReadCodeFile(Arg{std::string(name)}, directory, inv.remote);
      if (!file.written_here) continue;
      if (file.state == CodeFile::State::kText)
        ClassifyMakefileText(file.text, here, ctx, false);
      else if (file.state == CodeFile::State::kUnknown)
        ctx.Emit(Opaque("make runs " + std::string(name) +
                        ", written at run time by a command whose output cannot be known"));
      return;
    }
    return;
  }
  for (const Arg& file : files) {
    if (file.known && In(file.text, {"-", "/dev/stdin", "/dev/fd/0"})) {
      std::string text, source;
      switch (ReadStdin(inv, ctx, &text, &source)) {
        case StdinKind::kText:
          ClassifyMakefileText(text, here, ctx, false);
          break;
        case StdinKind::kUnknown:
        case StdinKind::kNone:
          ctx.Emit(Opaque("make runs a makefile read from " + source + " at run time"));
          break;
      }
      continue;
    }
    CodeFile content = ctx.ReadCodeFile(file, inv.cwd, inv.remote);
    if (!content.written_here && content.state == CodeFile::State::kText)
      continue;  // the project's
    ClassifyCodeFile(inv, ctx, file, CodeLanguage::kMakefile, "make -f " + file.text);
  }
}

// --------------------------------------------------------------------- gdb

void HandleGdb(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    if (In(text, {"-ex", "--ex", "-eval-command", "--eval-command", "-iex"}) &&
        i + 1 < args.size()) {
      const Arg& command = args[++i];
      if (!command.known) {
        ctx.Emit(Opaque("gdb runs a command computed at run time"));
        continue;
      }
      string_view c = command.text;
      c.remove_prefix(std::min(c.size(), c.find_first_not_of(" \t")));
      if (c.starts_with("shell "))
        ctx.ClassifyScript(c.substr(6), inv.cwd, inv.depth + 1);
      else if (c.starts_with("!"))
        ctx.ClassifyScript(c.substr(1), inv.cwd, inv.depth + 1);
      else if (c.starts_with("pipe ") || c.starts_with("| ")) {
        std::size_t bar = c.find('|', 2);
        if (bar != string_view::npos) ctx.ClassifyScript(c.substr(bar + 1), inv.cwd, inv.depth + 1);
      } else if (c.starts_with("python ") || c.starts_with("py ")) {
        ScanInterpreterCode("python3", c.substr(c.find(' ') + 1), inv, ctx);
      }
    } else if (text == "--args" && i + 1 < args.size()) {
      RunArgv(inv, ctx, args.subspan(i + 1));
      return;
    }
  }
}

// ------------------------------------------------------- prefix runners

// A command that runs the command that follows it: `unshare -m rm -rf /`.
struct RunnerSpec {
  string_view name;
  string_view subcommand;        // required first word ("run", "exec"); empty: none
  string_view short_with_value;  // option letters that take a value (-u X, -uX)
  std::initializer_list<string_view> long_with_value;  // --opt X (also --opt=X)
  int operands_before = 0;       // words before the command (chroot NEWROOT, taskset MASK)
  bool shell_string = false;     // the rest is shell text, joined (watchexec 'make test')
  string_view command_option;    // the command follows this option (xterm -e CMD ...)
  string_view no_command_flags;  // short flags that mean "no command runs" (taskset -p)
};

const std::array<RunnerSpec, 56>& Runners() {
  static const std::array<RunnerSpec, 56> kRunners = {{
      {"unshare",
       "",
       "SGRwl",
       {"--propagation", "--setgroups", "--map-user", "--map-group", "--map-users", "--map-groups",
        "--setuid", "--setgid", "--root", "--wd", "--kill-child"},
       0,
       false,
       "",
       ""},
      {"nsenter", "", "tSGe", {"--target", "--setuid", "--setgid", "--env"}, 0, false, "", ""},
      {"chrt",
       "",
       "TPD",
       {"--sched-runtime", "--sched-period", "--sched-deadline"},
       1,
       false,
       "",
       "p"},
      {"taskset", "", "", {}, 1, false, "", "p"},
      {"firejail", "", "", {}, 0, false, "", ""},
      {"bwrap",
       "",
       "",
       {"--bind",         "--ro-bind",       "--dev-bind",   "--bind-try",  "--ro-bind-try",
        "--dev-bind-try", "--symlink",       "--setenv",     "--unsetenv",  "--chdir",
        "--uid",          "--gid",           "--hostname",   "--tmpfs",     "--proc",
        "--dev",          "--dir",           "--file",       "--bind-data", "--ro-bind-data",
        "--remount-ro",   "--exec-label",    "--file-label", "--seccomp",   "--lock-file",
        "--sync-fd",      "--info-fd",       "--args",       "--cap-add",   "--cap-drop",
        "--userns",       "--pidns",         "--chmod",      "--size",      "--perms",
        "--block-fd",     "--json-status-fd"},
       0,
       false,
       "",
       ""},
      {"fakeroot", "", "lsib", {"--lib", "--faked"}, 0, false, "", ""},
      {"fakechroot", "", "lsdbec", {"--lib", "--config-dir", "--environment"}, 0, false, "", ""},
      {"proot",
       "",
       "rbwqkvm",
       {"--rootfs", "--bind", "--cwd", "--qemu", "--kernel-release", "--verbose", "--mount"},
       0,
       false,
       "",
       ""},
      {"setpriv",
       "",
       "",
       {"--reuid", "--regid", "--groups", "--inh-caps", "--ambient-caps", "--bounding-set",
        "--securebits", "--pdeathsig", "--selinux-label", "--apparmor-profile", "--ruid", "--euid",
        "--rgid", "--egid", "--landlock-access", "--landlock-rule"},
       0,
       false,
       "",
       ""},
      {"strace",
       "",
       "eoOpPsSuEIbXaA",
       {"--output", "--trace", "--signal", "--attach", "--user", "--env", "--string-limit"},
       0,
       false,
       "",
       "p"},
      {"ltrace", "", "eopsunlLaADxX", {"--output", "--library"}, 0, false, "", "p"},
      {"valgrind", "", "", {}, 0, false, "", ""},
      {"cgexec", "", "g", {}, 0, false, "", ""},
      {"numactl",
       "",
       "CNmipP",
       {"--physcpubind", "--cpunodebind", "--membind", "--interleave", "--preferred"},
       0,
       false,
       "",
       ""},
      {"prlimit", "", "p", {"--pid"}, 0, false, "", "p"},
      {"setarch", "", "", {}, 1, false, "", ""},
      {"linux32", "", "", {}, 0, false, "", ""},
      {"linux64", "", "", {}, 0, false, "", ""},
      {"eatmydata", "", "", {}, 0, false, "", ""},
      {"torsocks", "", "uapP", {"--user", "--pass", "--address", "--port"}, 0, false, "", ""},
      {"proxychains", "", "f", {}, 0, false, "", ""},
      {"proxychains4", "", "f", {}, 0, false, "", ""},
      {"catchsegv", "", "", {}, 0, false, "", ""},
      {"nocache", "", "n", {}, 0, false, "", ""},
      {"dbus-run-session", "", "", {"--config-file", "--dbus-daemon"}, 0, false, "", ""},
      {"xvfb-run",
       "",
       "nsfepl",
       {"--server-num", "--server-args", "--auth-file", "--error-file", "--xauth-protocol"},
       0,
       false,
       "",
       ""},
      {"gosu", "", "", {}, 1, false, "", ""},
      {"su-exec", "", "", {}, 1, false, "", ""},
      {"setuidgid", "", "", {}, 1, false, "", ""},
      {"s6-setuidgid", "", "", {}, 1, false, "", ""},
      {"chpst", "", "ugUeknlamodcfp", {}, 0, false, "", ""},
      {"runcon", "", "turl", {"--type", "--user", "--role", "--range"}, 0, false, "", ""},
      {"tini", "", "spe", {}, 0, false, "", ""},
      {"dumb-init", "", "r", {"--rewrite"}, 0, false, "", ""},
      {"run0",
       "",
       "uDg",
       {"--user", "--group", "--chdir", "--property", "--unit", "--setenv", "--nice", "--slice",
        "--description", "--machine", "--background"},
       0,
       false,
       "",
       ""},
      {"poetry", "run", "C", {"--directory", "--project"}, 0, false, "", ""},
      {"pipenv", "run", "", {}, 0, false, "", ""},
      {"uv",
       "run",
       "pw",
       {"--with", "--python", "--project", "--directory", "--env-file", "--group", "--extra",
        "--package", "--index", "--from", "--with-requirements"},
       0,
       false,
       "",
       ""},
      {"pdm", "run", "p", {"--project"}, 0, false, "", ""},
      {"hatch", "run", "", {}, 0, false, "", ""},
      {"rye", "run", "", {}, 0, false, "", ""},
      {"pixi", "run", "e", {"--environment", "--manifest-path"}, 0, false, "", ""},
      {"devbox", "run", "", {"--config"}, 0, false, "", ""},
      {"conda", "run", "np", {"--name", "--prefix", "--cwd"}, 0, false, "", ""},
      {"mamba", "run", "np", {"--name", "--prefix", "--cwd"}, 0, false, "", ""},
      {"bundle", "exec", "", {}, 0, false, "", ""},
      {"mise", "exec", "C", {"--cd"}, 0, false, "", ""},
      {"doppler", "run", "pc", {"--project", "--config", "--token", "--command"}, 0, false, "", ""},
      {"op", "run", "", {"--env-file"}, 0, false, "", ""},
      {"infisical",
       "run",
       "",
       {"--env", "--projectId", "--path", "--token", "--command"},
       0,
       false,
       "",
       ""},
      {"dotenvx", "run", "f", {"--env-file"}, 0, false, "", ""},
      {"aws-vault", "exec", "", {"--duration", "--region"}, 1, false, "", ""},
      {"direnv", "exec", "", {}, 1, false, "", ""},
      {"watchexec",
       "",
       "werd",
       {"--watch", "--exts", "--restart", "--debounce", "--shell", "--ignore", "--filter",
        "--on-busy-update", "--signal", "--stop-signal", "--workdir", "--env"},
       0,
       true,
       "",
       ""},
      {"xterm", "", "", {}, 0, false, "-e", ""},
  }};
  return kRunners;
}

const std::array<RunnerSpec, 10>& TerminalRunners() {
  static const std::array<RunnerSpec, 10> kTerminals = {{
      {"uxterm", "", "", {}, 0, false, "-e", ""},
      {"urxvt", "", "", {}, 0, false, "-e", ""},
      {"rxvt", "", "", {}, 0, false, "-e", ""},
      {"konsole", "", "", {}, 0, false, "-e", ""},
      {"alacritty", "", "", {}, 0, false, "-e", ""},
      {"gnome-terminal", "", "", {}, 0, false, "--", ""},
      {"foot", "", "", {}, 0, false, "", ""},
      {"kitty", "", "", {}, 0, false, "", ""},
      {"wezterm", "start", "", {"--cwd", "--class"}, 0, false, "", ""},
      {"entr", "", "", {}, 0, false, "", ""},
  }};
  return kTerminals;
}

const RunnerSpec* FindRunner(string_view name) {
  for (const RunnerSpec& spec : Runners())
    if (spec.name == name) return &spec;
  for (const RunnerSpec& spec : TerminalRunners())
    if (spec.name == name) return &spec;
  return nullptr;
}

bool LooksNumeric(string_view text) {
  return !text.empty() &&
         text.find_first_not_of("0123456789.,:-xXabcdefABCDEF") == string_view::npos &&
         std::isdigit(static_cast<unsigned char>(text[0]));
}

void HandleRunner(const Invocation& inv, Context& ctx) {
  const RunnerSpec* spec = FindRunner(inv.name());
  if (spec == nullptr) return;
  Args args = Args(inv.argv).subspan(1);
  std::size_t i = 0;
  if (!spec->subcommand.empty()) {
    // Global options first (poetry -C dir run ...), then the subcommand.
    while (i < args.size() && args[i].text.starts_with("-")) ++i;
    if (i >= args.size() || args[i].text != spec->subcommand) return;
    ++i;
  }
  if (!spec->command_option.empty()) {
    for (std::size_t k = i; k < args.size(); ++k) {
      if (args[k].text == spec->command_option) {
        RunArgv(inv, ctx, args.subspan(k + 1));
        return;
      }
    }
    return;
  }
  int operands_left = spec->operands_before;
  bool shell_flag = false;  // entr -s, watchexec --shell
  while (i < args.size()) {
    const std::string& text = args[i].text;
    if (text == "--") {
      ++i;
      if (operands_left > 0 && i < args.size()) {
        i += operands_left;
        operands_left = 0;
      }
      break;
    }
    if (text.size() > 1 && text[0] == '-') {
      if (text.starts_with("--")) {
        const std::string option = text.substr(0, text.find('='));
        if (text.find('=') == std::string::npos &&
            std::find(spec->long_with_value.begin(), spec->long_with_value.end(), option) !=
                spec->long_with_value.end())
          ++i;
        ++i;
        continue;
      }
      // A short cluster: -abc, where a letter taking a value ends it.
      for (std::size_t k = 1; k < text.size(); ++k) {
        if (spec->no_command_flags.find(text[k]) != string_view::npos) return;
        if (inv.name() == "entr" && text[k] == 's') shell_flag = true;
        if (spec->short_with_value.find(text[k]) != string_view::npos) {
          if (k + 1 == text.size()) ++i;  // the value is the next word
          break;
        }
      }
      ++i;
      continue;
    }
    if (operands_left > 0) {
      --operands_left;
      ++i;
      continue;
    }
    // A number where a command should be: an option value we do not know.
    if (LooksNumeric(text) && i + 1 < args.size()) {
      ++i;
      continue;
    }
    break;
  }
  if (i >= args.size()) return;
  if (spec->shell_string || shell_flag) {
    bool known = true;
    std::string script = Join(args.subspan(i), &known);
    RunScriptText(inv, ctx, Arg{script, known}, std::string(inv.name()));
    return;
  }
  RunArgv(inv, ctx, args.subspan(i));
}

// coreutils --coreutils-prog=rm -rf /   (the multi-call coreutils binary)
void HandleCoreutils(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    std::string program;
    std::size_t rest = i + 1;
    if (text.starts_with("--coreutils-prog=")) {
      program = text.substr(17);
    } else if (text == "--coreutils-prog" && i + 1 < args.size()) {
      program = args[i + 1].text;
      rest = i + 2;
    } else {
      continue;
    }
    if (!args[i].known || program.empty()) {
      ctx.Emit(Opaque("coreutils runs a program computed at run time"));
      return;
    }
    std::vector<Arg> argv{Arg{program}};
    argv.insert(argv.end(), args.begin() + static_cast<std::ptrdiff_t>(std::min(rest, args.size())),
                args.end());
    RunArgv(inv, ctx, Args(argv));
    return;
  }
}

// ip netns exec NAME CMD, ip vrf exec NAME CMD
void HandleIp(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  std::size_t i = 0;
  while (i < args.size() && args[i].text.starts_with("-")) {
    if (In(args[i].text, {"-n", "-netns", "-b", "-batch", "-rc", "-rcvbuf"})) ++i;
    ++i;
  }
  if (i + 3 < args.size() && In(args[i].text, {"netns", "vrf"}) && args[i + 1].text == "exec")
    RunArgv(inv, ctx, args.subspan(i + 3));
}

// capsh ... -- ARGS: ARGS go to /bin/bash (capsh -- -c 'cmd').
void HandleCapsh(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i].text == "--") {
      std::vector<Arg> argv{Arg{"bash"}};
      argv.insert(argv.end(), args.begin() + static_cast<std::ptrdiff_t>(i + 1), args.end());
      RunArgv(inv, ctx, Args(argv));
      return;
    }
    if (args[i].text.starts_with("--shell=")) {
      ctx.Emit(Opaque("capsh runs a shell chosen at run time"));
      return;
    }
  }
}

// sg GROUP -c 'cmd' | sg GROUP cmd
void HandleSg(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  std::size_t i = 0;
  if (i < args.size() && args[i].text == "-") ++i;
  if (i >= args.size()) return;
  ++i;  // the group
  if (i + 1 < args.size() && args[i].text == "-c") {
    RunScriptText(inv, ctx, args[i + 1], "sg -c");
    return;
  }
  bool known = true;
  std::string script = Join(args.subspan(i), &known);
  if (!script.empty()) RunScriptText(inv, ctx, Arg{script, known}, "sg");
}

// nodemon --exec 'cmd', sops exec-env FILE 'cmd', nix-shell --run 'cmd'.
void HandleScriptOption(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  const string_view name = inv.name();
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    if (name == "nodemon" && (text == "--exec" || text == "-x") && i + 1 < args.size()) {
      RunScriptText(inv, ctx, args[i + 1], "nodemon --exec");
      return;
    }
    if ((name == "nix-shell") && (text == "--run" || text == "--command") && i + 1 < args.size()) {
      RunScriptText(inv, ctx, args[i + 1], "nix-shell --run");
      return;
    }
    if (name == "nix" && (text == "-c" || text == "--command") && i + 1 < args.size()) {
      RunArgv(inv, ctx, args.subspan(i + 1));
      return;
    }
    if (name == "sops" && (text == "exec-env" || text == "exec-file") && i + 2 < args.size()) {
      RunScriptText(inv, ctx, args[i + 2], "sops " + text);
      return;
    }
  }
}

constexpr PackEntry kCarriers[] = {
    {"at", HandleAt},
    {"batch", HandleAt},
    {"crontab", HandleCrontab},
    {"tmux", HandleTmux},
    {"screen", HandleScreen},
    {"vim", HandleVim},
    {"vi", HandleVim},
    {"nvim", HandleVim},
    {"gvim", HandleVim},
    {"view", HandleVim},
    {"vimdiff", HandleVim},
    {"ex", HandleVim},
    {"exim", HandleVim},
    {"emacs", HandleEmacs},
    {"emacsclient", HandleEmacs},
    {"expect", HandleExpect},
    {"make", HandleMake},
    {"gmake", HandleMake},
    {"bmake", HandleMake},
    {"gdb", HandleGdb},
    {"coreutils", HandleCoreutils},
    {"ip", HandleIp},
    {"capsh", HandleCapsh},
    {"sg", HandleSg},
    {"nodemon", HandleScriptOption},
    {"nix-shell", HandleScriptOption},
    {"nix", HandleScriptOption},
    {"sops", HandleScriptOption},
};

// The runner table's names, registered with one handler.
std::vector<PackEntry> BuildCarrierTable() {
  std::vector<PackEntry> table(std::begin(kCarriers), std::end(kCarriers));
  for (const RunnerSpec& spec : Runners()) table.push_back({spec.name, HandleRunner});
  for (const RunnerSpec& spec : TerminalRunners()) table.push_back({spec.name, HandleRunner});
  return table;
}

// --------------------------------------------------- code that runs later

enum class LaterKind { kNone, kCrontab, kCrontabWithUser, kScript, kSystemdUnit, kDesktopEntry };

LaterKind KindOfLaterPath(string_view path, string_view home) {
  const string_view base = Basename(path);
  auto under = [&](string_view dir) {
    return path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/';
  };
  if (path == "/etc/crontab" || under("/etc/cron.d")) return LaterKind::kCrontabWithUser;
  if (under("/var/spool/cron") || under("/var/spool/cron/crontabs") || under("/usr/lib/cron/tabs"))
    return LaterKind::kCrontab;
  for (string_view dir :
       {"/etc/cron.hourly", "/etc/cron.daily", "/etc/cron.weekly", "/etc/cron.monthly",
        "/etc/profile.d", "/etc/init.d", "/etc/update-motd.d", "/etc/X11/Xsession.d"})
    if (under(dir)) return LaterKind::kScript;
  if (In(path, {"/etc/profile", "/etc/bash.bashrc", "/etc/bashrc", "/etc/zshrc", "/etc/zsh/zshrc",
                "/etc/zsh/zprofile", "/etc/zsh/zshenv", "/etc/environment", "/etc/rc.local"}))
    return LaterKind::kScript;
  if (!home.empty() && path.starts_with(home) && path.size() > home.size() &&
      path[home.size()] == '/') {
    string_view rel = path.substr(home.size() + 1);
    if (In(rel, {".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile", ".zshrc",
                 ".zprofile", ".zshenv", ".zlogin", ".zlogout", ".kshrc", ".mkshrc",
                 ".config/fish/config.fish", ".xprofile", ".xinitrc", ".xsession"}))
      return LaterKind::kScript;
    if (rel.starts_with(".config/autostart/") && base.ends_with(".desktop"))
      return LaterKind::kDesktopEntry;
    if (rel.starts_with(".config/systemd/user/")) return LaterKind::kSystemdUnit;
  }
  if (path.find("/.git/hooks/") != string_view::npos && !base.ends_with(".sample"))
    return LaterKind::kScript;
  if ((under("/etc/systemd") || under("/lib/systemd/system") || under("/usr/lib/systemd") ||
       under("/run/systemd/system")) &&
      (base.ends_with(".service") || base.ends_with(".conf") || base.ends_with(".timer")))
    return LaterKind::kSystemdUnit;
  if (under("/etc/xdg/autostart") && base.ends_with(".desktop")) return LaterKind::kDesktopEntry;
  return LaterKind::kNone;
}

// Exec*= lines of a unit; Exec= of a desktop entry. A leading "-", "@", "+",
// "!" or ":" on a unit's command line is a flag.
void ClassifyKeyLines(string_view text, std::initializer_list<string_view> keys,
                      const Invocation& inv, Context& ctx) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == string_view::npos) end = text.size();
    string_view line = text.substr(start, end - start);
    start = end + 1;
    line.remove_prefix(std::min(line.size(), line.find_first_not_of(" \t")));
    std::size_t eq = line.find('=');
    if (eq == string_view::npos) continue;
    string_view key = line.substr(0, eq);
    while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
    if (!In(key, keys)) continue;
    string_view command = line.substr(eq + 1);
    while (!command.empty() && string_view("-@+!: ").find(command[0]) != string_view::npos)
      command.remove_prefix(1);
    ctx.ClassifyScript(command, "", inv.depth + 1);
  }
}

}  // namespace

std::span<const PackEntry> CarrierPack() {
  static const std::vector<PackEntry> table = BuildCarrierTable();
  return table;
}

bool ClassifyCodeThatRunsLater(std::string_view path, const CodeFile& file, const Invocation& inv,
                               Context& ctx) {
  const LaterKind kind = KindOfLaterPath(path, ctx.home());
  if (kind == LaterKind::kNone) return false;
  if (file.state != CodeFile::State::kText) {
    // Content that cannot be seen; a missing source copied here is not on
    // this machine to judge (it fails to copy, or it is the project's file).
    if (file.state == CodeFile::State::kUnknown || file.state == CodeFile::State::kProgram ||
        file.state == CodeFile::State::kUnreadable || file.state == CodeFile::State::kTooLarge)
      ctx.Emit(MakeAction("opaque.exec", {std::string(path)}, Reversibility::kUnknown,
                          Severity::kHigh,
                          "writes code that runs later (" + std::string(path) +
                              ") with content computed at run time, which cannot be checked"));
    return true;
  }
  switch (kind) {
    case LaterKind::kCrontab:
      ClassifyCrontabText(file.text, false, inv, ctx, false);
      break;
    case LaterKind::kCrontabWithUser:
      ClassifyCrontabText(file.text, true, inv, ctx, false);
      break;
    case LaterKind::kScript:
      ctx.ClassifyScript(file.text, "", inv.depth + 1);
      break;
    case LaterKind::kSystemdUnit:
      ClassifyKeyLines(file.text,
                       {"ExecStart", "ExecStartPre", "ExecStartPost", "ExecStop", "ExecStopPost",
                        "ExecReload", "ExecCondition"},
                       inv, ctx);
      break;
    case LaterKind::kDesktopEntry:
      ClassifyKeyLines(file.text, {"Exec", "TryExec"}, inv, ctx);
      break;
    case LaterKind::kNone:
      break;
  }
  return true;
}

void ClassifyCodeText(const Invocation& inv, Context& ctx, std::string_view text,
                      CodeLanguage language, const std::string& what, bool project_code) {
  switch (language) {
    case CodeLanguage::kShell:
      ctx.ClassifyFileScript(text, inv.cwd, inv.depth + 1, project_code);
      return;
    case CodeLanguage::kMakefile:
      ClassifyMakefileText(text, inv, ctx, project_code);
      return;
    case CodeLanguage::kCrontab:
      ClassifyCrontabText(text, false, inv, ctx, project_code);
      return;
    case CodeLanguage::kByShebang: {
      const std::string interpreter = ShebangInterpreter(text);
      if (interpreter.empty() || IsShellName(interpreter)) {
        ctx.ClassifyFileScript(text, inv.cwd, inv.depth + 1, project_code);
        return;
      }
      // Another language: scanned when this line wrote it; a project's own
      // script in Python or Node is its code, run as written.
      if (!project_code && !ScanInterpreterCode(interpreter, text, inv, ctx))
        ctx.Emit(Opaque(what + " runs a " + interpreter +
                        " script written earlier in this command, which dualkey cannot read"));
      return;
    }
  }
}

void ClassifyCodeFile(const Invocation& inv, Context& ctx, const Arg& path, CodeLanguage language,
                      const std::string& what) {
  if (!path.known) {
    ctx.Emit(Opaque(what + ": the file is named at run time (" + path.text + ")"));
    return;
  }
  CodeFile file = ctx.ReadCodeFile(path, inv.cwd, inv.remote);
  switch (file.state) {
    case CodeFile::State::kText:
      ClassifyCodeText(inv, ctx, file.text, language, what, !file.written_here);
      return;
    case CodeFile::State::kProgram:
      if (language == CodeLanguage::kByShebang) {
        // A copy or link of a program runs as that program.
        Invocation inner = Inner(inv, Args(inv.argv));
        if (inner.argv.empty())
          inner.argv.push_back(Arg{file.text});
        else
          inner.argv[0] = Arg{file.text};
        ctx.ClassifyInvocation(inner);
      }
      return;
    case CodeFile::State::kUnknown:
      ctx.Emit(Opaque(what + ": " + path.text +
                      (file.written_here
                           ? " is written earlier in this command by something whose output "
                             "cannot be known before it runs"
                           : " cannot be known before it runs")));
      return;
    case CodeFile::State::kUnreadable:
      ctx.Emit(Opaque(what + ": " + path.text +
                      " cannot be read here, so what it runs cannot be checked"));
      return;
    case CodeFile::State::kTooLarge:
      ctx.Emit(Opaque(what + ": " + path.text + " is larger than dualkey reads (" +
                      std::to_string(256) + " KiB), so what it runs cannot be checked"));
      return;
    case CodeFile::State::kBinary:
    case CodeFile::State::kMissing:
    case CodeFile::State::kNotLocal:
      // A compiled program of the project; a file that is not there (the
      // command fails); a file on another host: nothing to read here.
      return;
  }
}

}  // namespace dualkey::shell
