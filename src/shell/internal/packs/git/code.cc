// Code git runs: settings that name a command (-c, GIT_* variables, config),
// and subcommands that run programs (submodule foreach, rebase --exec, bisect
// run, difftool, transport options).

#include <cctype>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/git/git.h"

namespace dualkey::shell::gitpack {

// --- code git runs ----------------------------------------------------------

// Settings whose value is a command git runs (through the shell, or as a
// program): core.sshCommand, core.pager, core.fsmonitor, diff.X.command,
// filter.X.clean, credential.helper=!..., uploadpack.packObjectsHook ...
bool IsCommandSetting(string_view key) {
  std::string lower;
  for (char c : key)
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  constexpr string_view kExact[] = {"core.sshcommand",
                                    "core.pager",
                                    "core.editor",
                                    "core.fsmonitor",
                                    "core.askpass",
                                    "core.gitproxy",
                                    "sequence.editor",
                                    "diff.external",
                                    "gpg.program",
                                    "gpg.ssh.program",
                                    "gpg.x509.program",
                                    "gpg.openpgp.program",
                                    "uploadpack.packobjectshook",
                                    "interactive.difffilter",
                                    "web.browser",
                                    "sendemail.sendmailcmd",
                                    "core.alternaterefscommand",
                                    "sendemail.tocmd",
                                    "sendemail.cccmd",
                                    "sendemail.validate",
                                    "gpg.ssh.defaultkeycommand"};
  for (string_view exact : kExact)
    if (lower == exact) return true;
  if (lower.starts_with("pager.")) return true;
  auto ends = [&](string_view suffix) { return lower.ends_with(suffix); };
  if (lower.starts_with("diff.") && (ends(".command") || ends(".textconv"))) return true;
  if (lower.starts_with("merge.") && ends(".driver")) return true;
  if (lower.starts_with("filter.") && (ends(".clean") || ends(".smudge") || ends(".process")))
    return true;
  if ((lower.starts_with("mergetool.") || lower.starts_with("difftool.") ||
       lower.starts_with("browser.") || lower.starts_with("man.")) &&
      ends(".cmd"))
    return true;
  if (lower.starts_with("remote.") && (ends(".uploadpack") || ends(".receivepack"))) return true;
  return false;
}

void RunGitCode(const Invocation& inv, Context& ctx, const std::string& cwd, const Arg& code,
                std::string what) {
  if (!code.known) {
    ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                        what + " is a command computed at run time"));
    return;
  }
  string_view text = code.text;
  if (text.starts_with('!')) text.remove_prefix(1);
  if (text.empty() || text == "true" || text == "false") return;
  if (inv.remote)
    ctx.ClassifyRemoteScript(text, inv.depth + 1);
  else
    ctx.ClassifyScript(text, cwd, inv.depth + 1);
}

// KEY=VALUE of a -c setting or of `git config KEY VALUE`.
void ClassifySetting(const Invocation& inv, Context& ctx, const std::string& cwd, string_view key,
                     const Arg& value, string_view how) {
  std::string lower(key);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "credential.helper") {
    // A helper name runs git-credential-NAME; `!cmd` and paths run as written.
    if (!value.known || value.text.starts_with('!') || value.text.starts_with('/'))
      RunGitCode(inv, ctx, cwd, value, std::string(how) + " credential.helper");
    return;
  }
  if (lower == "core.fsmonitor" &&
      (value.text == "true" || value.text == "false" || value.text.empty()))
    return;
  if (lower == "core.hookspath" || lower == "init.templatedir") return;
  if (lower.starts_with("submodule.") && lower.ends_with(".update")) {
    if (value.text.starts_with('!'))
      RunGitCode(inv, ctx, cwd, value, std::string(how) + " " + std::string(key));
    return;
  }
  if (IsCommandSetting(key))
    RunGitCode(inv, ctx, cwd, value, std::string(how) + " " + std::string(key));
}

// GIT_SSH_COMMAND, GIT_EDITOR ... and GIT_CONFIG_PARAMETERS / _COUNT in the
// environment git runs with.
void ClassifyGitEnvironment(const Invocation& inv, Context& ctx, const std::string& cwd) {
  if (!inv.env) return;
  constexpr string_view kCommands[] = {"GIT_SSH_COMMAND",     "GIT_SSH",          "GIT_EDITOR",
                                       "GIT_SEQUENCE_EDITOR", "GIT_PAGER",        "GIT_ASKPASS",
                                       "GIT_EXTERNAL_DIFF",   "GIT_PROXY_COMMAND"};
  for (string_view name : kCommands)
    if (const Arg* value = inv.EnvValue(name)) RunGitCode(inv, ctx, cwd, *value, std::string(name));
  if (const Arg* exec_path = inv.EnvValue("GIT_EXEC_PATH"))
    ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                        "GIT_EXEC_PATH makes git run its commands from " + exec_path->text));
  if (const Arg* parameters = inv.EnvValue("GIT_CONFIG_PARAMETERS")) {
    // 'key'='value' 'key2'='value2'
    const std::string& text = parameters->text;
    std::size_t i = 0;
    auto quoted = [&]() {
      std::string out;
      if (i < text.size() && text[i] == '\'') {
        ++i;
        while (i < text.size() && text[i] != '\'') out.push_back(text[i++]);
        ++i;
      } else {
        while (i < text.size() && text[i] != '=' && text[i] != ' ') out.push_back(text[i++]);
      }
      return out;
    };
    while (i < text.size()) {
      while (i < text.size() && text[i] == ' ') ++i;
      std::string key = quoted();
      std::string value;
      if (i < text.size() && text[i] == '=') {
        ++i;
        value = quoted();
      }
      if (key.empty()) break;
      std::size_t eq = key.find('=');
      if (eq != std::string::npos) {
        value = key.substr(eq + 1);
        key.resize(eq);
      }
      ClassifySetting(inv, ctx, cwd, key, Arg{value, parameters->known}, "GIT_CONFIG_PARAMETERS");
    }
  }
  if (const Arg* count = inv.EnvValue("GIT_CONFIG_COUNT")) {
    int n = 0;
    for (char c : count->text)
      n = std::isdigit(static_cast<unsigned char>(c)) ? n * 10 + (c - '0') : n;
    for (int k = 0; k < std::min(n, 64); ++k) {
      const Arg* key = inv.EnvValue("GIT_CONFIG_KEY_" + std::to_string(k));
      const Arg* value = inv.EnvValue("GIT_CONFIG_VALUE_" + std::to_string(k));
      if (key != nullptr && value != nullptr)
        ClassifySetting(inv, ctx, cwd, key->text, *value, "GIT_CONFIG_KEY_" + std::to_string(k));
    }
  }
}

// --- commands run by subcommands ----------------------------------------------

void HandleConfig(const GitCommand& git, const Invocation& inv, Context& ctx) {
  // git config [--global|--local|--file F|--add|--replace-all] KEY VALUE
  std::vector<Arg> operands = Operands(git.args, {"-f", "--file", "--blob", "--type", "--default",
                                                  "--comment", "--value", "--file"});
  for (const Arg& arg : git.args)
    if (arg.text.starts_with("--unset") || arg.text == "--get" || arg.text.starts_with("--get-") ||
        arg.text == "-l" || arg.text == "--list" || arg.text == "--remove-section" ||
        arg.text == "--rename-section" || arg.text == "-e" || arg.text == "--edit")
      return;
  if (!operands.empty() && In(operands[0].text, {"set", "get", "unset", "list", "edit"})) {
    if (operands[0].text != "set") return;
    operands.erase(operands.begin());
  }
  if (operands.size() < 2) return;
  const std::string cwd = git.repo.empty() ? inv.cwd : git.repo;
  const std::string& key = operands[0].text;
  const Arg& value = operands[1];
  if (key.size() > 6 && key.starts_with("alias.")) {
    if (value.text.starts_with('!') || !value.known)
      RunGitCode(inv, ctx, cwd, value, "git config " + key);
    return;
  }
  ClassifySetting(inv, ctx, cwd, key, value, "git config sets");
}

void HandleSubmodule(const GitCommand& git, const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = git.args;
  std::size_t i = 0;
  while (i < args.size() && args[i].text.starts_with("-")) ++i;  // --quiet
  if (i >= args.size() || args[i].text != "foreach") return;
  ++i;
  while (i < args.size() && args[i].text.starts_with("--")) ++i;  // --recursive
  if (i >= args.size()) return;
  RunGitCode(inv, ctx, git.repo.empty() ? inv.cwd : git.repo, JoinArgs(args.subspan(i)),
             "git submodule foreach");
}

void HandleRebase(const GitCommand& git, const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = git.args;
  const std::string cwd = git.repo.empty() ? inv.cwd : git.repo;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    if ((text == "--exec" || text == "-x") && i + 1 < args.size()) {
      RunGitCode(inv, ctx, cwd, args[++i], "git rebase --exec");
    } else if (text.starts_with("--exec=")) {
      RunGitCode(inv, ctx, cwd, Arg{text.substr(7), args[i].known}, "git rebase --exec");
    } else if (text.size() > 2 && text.starts_with("-x")) {
      RunGitCode(inv, ctx, cwd, Arg{text.substr(2), args[i].known}, "git rebase -x");
    }
  }
}

void HandleBisect(const GitCommand& git, const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = git.args;
  if (args.size() < 2 || args[0].text != "run") return;
  Invocation inner;
  inner.argv.assign(args.begin() + 1, args.end());
  inner.cwd = git.repo.empty() ? inv.cwd : git.repo;
  inner.depth = inv.depth + 1;
  inner.remote = inv.remote;
  ctx.ClassifyInvocation(inner);
}

void HandleDifftool(const GitCommand& git, const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = git.args;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    if ((text == "-x" || text == "--extcmd") && i + 1 < args.size())
      RunGitCode(inv, ctx, inv.cwd, args[++i], "git difftool --extcmd");
    else if (text.starts_with("--extcmd="))
      RunGitCode(inv, ctx, inv.cwd, Arg{text.substr(9), args[i].known}, "git difftool --extcmd");
  }
}

// --upload-pack/--receive-pack/--exec name the program run for the other
// side (locally for a path remote); ext:: URLs run a command outright.
void ClassifyTransport(const GitCommand& git, const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = git.args;
  const std::string& sub = git.subcommand->text;
  if (!In(sub, {"clone", "fetch", "pull", "push", "ls-remote", "archive", "remote", "submodule"}))
    return;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    for (string_view option : {"--upload-pack", "--receive-pack", "--exec"}) {
      if (text == option && i + 1 < args.size()) {
        RunGitCode(inv, ctx, inv.cwd, args[i + 1], "git " + sub + " " + std::string(option));
      } else if (text.size() > option.size() && text.starts_with(option) &&
                 text[option.size()] == '=') {
        RunGitCode(inv, ctx, inv.cwd, Arg{text.substr(option.size() + 1), args[i].known},
                   "git " + sub + " " + std::string(option));
      }
    }
    if (text == "-u" && In(sub, {"clone", "fetch", "pull"}) && i + 1 < args.size())
      RunGitCode(inv, ctx, inv.cwd, args[i + 1], "git " + sub + " -u");
    if (args[i].known && text.starts_with("ext::")) {
      // ext::<command>: words split on spaces, "% " a space inside a word,
      // "%%" a percent sign.
      Invocation inner;
      std::string word;
      auto flush = [&] {
        if (!word.empty()) inner.argv.push_back(Arg{word});
        word.clear();
      };
      for (std::size_t k = 5; k < text.size(); ++k) {
        if (text[k] == '%' && k + 1 < text.size()) {
          char next = text[++k];
          word.push_back(next == ' ' ? ' ' : next == '%' ? '%' : '?');
        } else if (text[k] == ' ') {
          flush();
        } else {
          word.push_back(text[k]);
        }
      }
      flush();
      inner.cwd = inv.cwd;
      inner.depth = inv.depth + 1;
      inner.remote = inv.remote;
      if (!inner.argv.empty()) ctx.ClassifyInvocation(inner);
    }
  }
}

}  // namespace dualkey::shell::gitpack
