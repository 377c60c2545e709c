// What names and arguments stand for: a call's literal first argument, imports
// and assignments, dynamic imports, dangerous modules.

#include <algorithm>
#include <cctype>
#include <map>
#include <string>

#include "shell/internal/packs/interpreters/interpreters.h"

namespace dualkey::shell::interpreters {

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

Bindings CollectBindings(const std::vector<Token>& tokens, Language language) {
  Bindings out;
  auto is = [&](std::size_t k, std::string_view text) {
    return k < tokens.size() && tokens[k].text == text;
  };
  auto ident = [&](std::size_t k) {
    return k < tokens.size() && tokens[k].kind == Token::Kind::kIdent;
  };
  // {a, b as c} (import) or {a, b: c} (destructuring) from the '{' at k:
  // each (alias, member) into `pending`; returns the index after the '}'.
  auto read_members = [&](std::size_t k, std::string_view rename,
                          std::vector<std::pair<std::string, std::string>>& pending) {
    ++k;
    while (ident(k)) {
      std::string member = tokens[k].text;
      if (is(k + 1, rename) && ident(k + 2)) {
        pending.emplace_back(tokens[k + 2].text, member);
        k += 3;
      } else {
        pending.emplace_back(member, member);
        k += 1;
      }
      if (is(k, ",")) ++k;
    }
    if (is(k, "}")) ++k;
    return k;
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
        if (is(k, "{")) k = read_members(k, "as", pending);
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
          k = read_members(k, ":", pending);
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

}  // namespace dualkey::shell::interpreters
