// Files run as code: the #! line, Makefile recipes (make, make -f FILE), and
// ClassifyCodeFile/ClassifyCodeText, which run what a file holds.

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

}  // namespace dualkey::shell::carriers

namespace dualkey::shell {

using namespace carriers;

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
