// PowerShell (pwsh -Command, -EncodedCommand): cmdlets that delete, run code or
// wipe disks; native commands go back to the shell guard.

#include <algorithm>
#include <cctype>
#include <map>
#include <string>

#include "shell/internal/packs/interpreters/interpreters.h"

namespace dualkey::shell::interpreters {

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
  auto run_argv = [&](std::vector<std::string> words) { RunArgv(inv, ctx, std::move(words)); };
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
      const Arg joined = JoinArgs(args.subspan(i + 1));
      const std::string& code = joined.text;
      if (code == "-") break;  // from stdin
      if (!joined.known) {
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

}  // namespace dualkey::shell::interpreters
