// Multiplexers and scripted sessions: tmux, screen, expect and gdb, which run
// commands they are given as text.

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

}  // namespace dualkey::shell::carriers
