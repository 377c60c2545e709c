// sed: in-place edits that empty or rewrite a file, and the w/e commands of
// its script.

#include <sys/stat.h>

#include <cctype>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/git_facts.h"
#include "shell/internal/packs/fs/fs.h"

namespace dualkey::shell::fs {

// What a sed script does, as far as destroying goes.
struct SedEffects {
  bool deletes_lines = false;         // d/D/c on some lines
  bool deletes_all = false;           // d (or c) on every line: the file is emptied
  bool empties_lines = false;         // s/.*// and the like
  std::vector<std::string> executed;  // e COMMAND, s///e replacements
  bool executes_unknown = false;
  std::vector<std::string> written;  // w FILE
};

SedEffects ParseSed(string_view script) {
  SedEffects out;
  std::size_t i = 0;
  const std::size_t n = script.size();
  auto skip_blank = [&] {
    while (i < n &&
           (script[i] == ' ' || script[i] == '\t' || script[i] == ';' || script[i] == '\n'))
      ++i;
  };
  auto rest_of_line = [&] {
    std::size_t start = i;
    while (i < n && script[i] != '\n') ++i;
    string_view text = script.substr(start, i - start);
    text.remove_prefix(std::min(text.size(), text.find_first_not_of(" \t")));
    return std::string(text);
  };
  // Reads a delimited part (regex or replacement) after the delimiter.
  auto delimited = [&](char delimiter) {
    std::string part;
    while (i < n && script[i] != delimiter) {
      if (script[i] == '\\' && i + 1 < n) {
        if (script[i + 1] != delimiter) part.push_back('\\');
        part.push_back(script[i + 1]);
        i += 2;
        continue;
      }
      part.push_back(script[i++]);
    }
    if (i < n) ++i;
    return part;
  };
  int guard = 0;
  while (i < n && ++guard < 4096) {
    skip_blank();
    if (i >= n) break;
    // Address: N, $, /re/, \cREc, first~step; optional ,addr2; optional !
    std::string address;
    auto read_address = [&] {
      std::size_t start = i;
      if (i < n && (std::isdigit(static_cast<unsigned char>(script[i])) || script[i] == '$')) {
        while (i < n && (std::isdigit(static_cast<unsigned char>(script[i])) || script[i] == '$' ||
                         script[i] == '~'))
          ++i;
      } else if (i < n && (script[i] == '/' || script[i] == '\\')) {
        char delimiter = script[i] == '\\' && i + 1 < n ? script[++i] : '/';
        ++i;
        delimited(delimiter);
        while (i < n && (script[i] == 'I' || script[i] == 'M')) ++i;
      }
      address.append(script.substr(start, i - start));
    };
    read_address();
    if (i < n && script[i] == ',') {
      address.push_back(',');
      ++i;
      if (i < n && (script[i] == '+' || script[i] == '~')) ++i;
      read_address();
    }
    while (i < n && script[i] == ' ') ++i;
    bool negated = false;
    if (i < n && script[i] == '!') {
      negated = true;
      ++i;
      while (i < n && script[i] == ' ') ++i;
    }
    if (i >= n) break;
    const char command = script[i++];
    const bool every_line =
        !negated && (address.empty() || address == "1,$" || address == "0,$" || address == "/^/" ||
                     address == "/.*/" || address == "/^.*$/");
    switch (command) {
      case '{':
      case '}':
      case '=':
      case 'p':
      case 'P':
      case 'n':
      case 'N':
      case 'g':
      case 'G':
      case 'h':
      case 'H':
      case 'x':
      case 'l':
      case 'z':
      case 'F':
        break;
      case 'd':
      case 'D':
        out.deletes_lines = true;
        out.deletes_all = out.deletes_all || (every_line && command == 'd');
        break;
      case 'c':
        out.deletes_lines = true;
        out.deletes_all = out.deletes_all || every_line;
        rest_of_line();
        break;
      case 'a':
      case 'i':
      case 'r':
      case 'R':
      case 'b':
      case 't':
      case 'T':
      case ':':
      case 'v':
      case 'q':
      case 'Q':
      case 'L':
        rest_of_line();
        break;
      case 'w':
      case 'W':
        out.written.push_back(rest_of_line());
        break;
      case 'e': {
        std::string text = rest_of_line();
        if (text.empty())
          out.executes_unknown = true;  // runs the pattern space
        else
          out.executed.push_back(std::move(text));
        break;
      }
      case 's':
      case 'y': {
        if (i >= n) break;
        const char delimiter = script[i++];
        std::string regex = delimited(delimiter);
        std::string replacement = delimited(delimiter);
        std::string flags;
        while (i < n && script[i] != ';' && script[i] != '\n' && script[i] != '}') {
          if (script[i] == 'w') {
            ++i;
            out.written.push_back(rest_of_line());
            break;
          }
          flags.push_back(script[i++]);
        }
        if (command == 's') {
          if (replacement.empty() && (regex == ".*" || regex == "^.*$" || regex == "^.*" ||
                                      regex == ".\\+" || regex == ".+"))
            out.empties_lines = true;
          if (flags.find('e') != std::string::npos) {
            if (replacement.find('\\') != std::string::npos ||
                replacement.find('&') != std::string::npos)
              out.executes_unknown = true;
            else
              out.executed.push_back(replacement);
          }
        }
        break;
      }
      default:
        rest_of_line();
        break;
    }
  }
  return out;
}

// sed -i edits files in place. Deleting lines of data loses them (-i with a
// backup suffix keeps a copy); e and s///e run commands.
void HandleSed(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  bool in_place = false, backup = false;
  std::vector<Arg> scripts;
  std::vector<Arg> files;
  std::vector<Arg> script_files;
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    if (!options_done && text == "--") {
      options_done = true;
      continue;
    }
    if (!options_done && text.starts_with("--")) {
      if (text == "--in-place")
        in_place = true;
      else if (text.starts_with("--in-place="))
        in_place = backup = true;
      else if (text == "--expression" && i + 1 < args.size())
        scripts.push_back(args[++i]);
      else if (text.starts_with("--expression="))
        scripts.push_back(Arg{text.substr(13), args[i].known});
      else if (text == "--file" && i + 1 < args.size())
        script_files.push_back(args[++i]);
      else if (text == "--line-length" && i + 1 < args.size())
        ++i;
      continue;
    }
    if (!options_done && text.size() > 1 && text[0] == '-') {
      for (std::size_t k = 1; k < text.size(); ++k) {
        const char c = text[k];
        if (c == 'i') {
          in_place = true;
          if (k + 1 < text.size()) backup = true;  // -i.bak
          break;
        }
        if (c == 'e' || c == 'f' || c == 'l') {
          std::string value = k + 1 < text.size()   ? text.substr(k + 1)
                              : i + 1 < args.size() ? args[++i].text
                                                    : std::string();
          if (c == 'e') scripts.push_back(Arg{value, args[i].known});
          if (c == 'f') script_files.push_back(Arg{value, args[i].known});
          break;
        }
      }
      continue;
    }
    if (scripts.empty() && script_files.empty())
      scripts.push_back(args[i]);
    else
      files.push_back(args[i]);
  }
  SedEffects effects;
  bool script_known = true;
  auto merge = [&](string_view text) {
    SedEffects one = ParseSed(text);
    effects.deletes_lines |= one.deletes_lines;
    effects.deletes_all |= one.deletes_all;
    effects.empties_lines |= one.empties_lines;
    effects.executes_unknown |= one.executes_unknown;
    for (std::string& command : one.executed) effects.executed.push_back(std::move(command));
    for (std::string& file : one.written) effects.written.push_back(std::move(file));
  };
  for (const Arg& script : scripts) {
    if (!script.known)
      script_known = false;
    else
      merge(script.text);
  }
  for (const Arg& file : script_files) {
    CodeFile content = ctx.ReadCodeFile(file, inv.cwd, inv.remote);
    if (content.state == CodeFile::State::kText)
      merge(content.text);
    else if (content.state != CodeFile::State::kMissing)
      script_known = false;
  }
  for (const std::string& command : effects.executed)
    ctx.ClassifyScript(command, inv.cwd, inv.depth + 1);
  if (effects.executes_unknown)
    ctx.Emit(
        MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                   "sed runs the text it edits as a shell command (e), which cannot be known"));
  for (const std::string& file : effects.written)
    if (file != "/dev/stdout" && file != "/dev/stderr")
      EmitWrite(Arg{file}, WriteMode::kTruncate, false, "sed w overwrites", inv, ctx);
  if (!in_place) return;
  if (!script_known) {
    for (const Arg& file : files)
      EmitWrite(file, WriteMode::kTruncate, false,
                "sed -i with a script computed at run time rewrites", inv, ctx);
    return;
  }
  const bool emptying = effects.deletes_all || effects.empties_lines;
  for (const Arg& file : files) {
    if (backup) {
      EmitWrite(file, WriteMode::kAppend, false, "sed -i (with a backup copy) edits", inv, ctx);
    } else if (emptying || effects.deletes_lines) {
      EmitWrite(file, WriteMode::kTruncate, emptying,
                emptying ? "sed -i deletes every line of" : "sed -i deletes lines of", inv, ctx);
    } else {
      // An edit keeps the data: judged like an append (a database file still
      // corrupts, a system file still counts).
      EmitWrite(file, WriteMode::kAppend, false, "sed -i edits", inv, ctx);
    }
  }
}

}  // namespace dualkey::shell::fs
