// Code run later: crontab text, at/batch and crontab, and code written to where
// something runs it later (cron directories, startup files, git hooks, units).

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

}  // namespace dualkey::shell::carriers

namespace dualkey::shell {

using namespace carriers;

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

}  // namespace dualkey::shell
