// Commands that run other commands. Each handler finds the wrapped command
// and hands it back to the dispatcher, so `sudo timeout 5 nice rm -rf /`
// is judged as `rm -rf /`, to any depth.
#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "shell/internal/packs/packs.h"
#include "shell/internal/packs/shared.h"

namespace dualkey::shell {
namespace {

using Args = std::span<const Arg>;

using shared::In;
using shared::Inner;
using shared::Opaque;

// Whether the leading options end at args[*i]: at "--" (stepped over) or at
// a word that is not an option.
bool OptionsEndAt(Args args, std::size_t* i) {
  const std::string& text = args[*i].text;
  if (text == "--") {
    ++*i;
    return true;
  }
  return text.size() < 2 || text[0] != '-';
}

// Skips leading options; `with_value` lists options that take the next word
// (also accepted as --opt=value or -oVALUE). Returns the index of the first
// operand in `args`.
std::size_t SkipOptions(Args args, std::initializer_list<std::string_view> with_value) {
  std::size_t i = 0;
  while (i < args.size() && !OptionsEndAt(args, &i)) {
    if (In(args[i].text, with_value)) ++i;  // the option's value
    ++i;
  }
  return i;
}

void RunRest(const Invocation& inv, Context& ctx, std::size_t first) {
  Args args(inv.argv);
  if (first < args.size()) ctx.ClassifyInvocation(Inner(inv, args.subspan(first)));
}

void RunScriptArg(const Invocation& inv, Context& ctx, const Arg& script, std::string_view cwd,
                  std::string_view what) {
  if (!script.known) {
    ctx.Emit(
        Opaque(std::string(what) + " runs shell text computed at run time (" + script.text + ")"));
    return;
  }
  ctx.ClassifyScript(script.text, cwd, inv.depth + 1);
}

// Shell text that a pipeline feeds to a shell or interpreter on stdin, when
// the previous stage's output is known (echo, printf, cat of a known file).
// Returns false when it cannot be known (decoded, downloaded, read from a file).
bool PipedText(const Invocation& inv, std::string* text) {
  if (!inv.stdin_piped || !inv.piped_text) return false;
  *text = *inv.piped_text;
  return true;
}

// The file a command's stdin is redirected from (`bash < f`), if any.
const Arg* StdinFile(const Invocation& inv) {
  const Arg* file = nullptr;
  for (const FileRedirect& redirect : inv.redirects)
    if (redirect.kind == RedirectKind::kRead && (redirect.fd == -1 || redirect.fd == 0))
      file = &redirect.target;
  return file;
}

// What a shell or interpreter reads on stdin when it has no script argument.
void ClassifyStdinScript(const Invocation& inv, Context& ctx, std::string_view what) {
  if (const Arg* file = StdinFile(inv)) {
    ClassifyCodeFile(inv, ctx, *file, CodeLanguage::kShell, std::string(what) + " < " + file->text);
    return;
  }
  if (inv.has_stdin_text) {
    if (!inv.stdin_text_known) {
      ctx.Emit(Opaque(std::string(what) + " reads a script with parts computed at run time"));
      return;
    }
    ctx.ClassifyScript(inv.stdin_text, inv.cwd, inv.depth + 1);
    return;
  }
  if (inv.stdin_piped) {
    std::string text;
    if (PipedText(inv, &text)) {
      ctx.ClassifyScript(text, inv.cwd, inv.depth + 1);
      return;
    }
    std::string producer = inv.piped_from.empty() ? "a compound command" : inv.piped_from[0].text;
    ctx.Emit(Opaque(std::string(what) + " runs text piped from `" + producer +
                    "` (decoded, downloaded or read at run time), which cannot be checked"));
  }
}

// --- privilege and environment wrappers ----------------------------------

void Sudo(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  if (HasShortFlag(args, 'l') || HasShortFlag(args, 'v') || HasShortFlag(args, 'k') ||
      HasShortFlag(args, 'K'))
    return;
  std::size_t first = SkipOptions(
      args, {"-u",           "-g",       "-h",           "-p",     "-C",     "-r",
             "-t",           "-T",       "-U",           "-D",     "--user", "--group",
             "--host",       "--prompt", "--close-from", "--role", "--type", "--command-timeout",
             "--other-user", "--chdir"});
  std::string chdir = OptionValue(args, "--chdir");
  if (chdir.empty()) chdir = OptionValue(args, "-D");
  Invocation inner = Inner(inv, args.subspan(std::min(first, args.size())));
  if (!chdir.empty()) inner.cwd = chdir;
  if (!inner.argv.empty()) ctx.ClassifyInvocation(inner);
}

void Doas(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  RunRest(inv, ctx, 1 + SkipOptions(args, {"-u", "-C"}));
}

// su [options] [-] [user [args]]: the command comes with -c.
void Su(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  std::string command = OptionValue(args, "-c");
  if (command.empty()) command = OptionValue(args, "--command");
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (In(args[i].text, {"-c", "--command"}) && i + 1 < args.size()) {
      RunScriptArg(inv, ctx, args[i + 1], "", "su -c");
      return;
    }
  }
  if (!command.empty()) ctx.ClassifyScript(command, "", inv.depth + 1);
}

void Runuser(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (In(args[i].text, {"-c", "--command"}) && i + 1 < args.size()) {
      RunScriptArg(inv, ctx, args[i + 1], inv.cwd, "runuser -c");
      return;
    }
  }
  RunRest(inv, ctx, 1 + SkipOptions(args, {"-u", "-g", "-G", "-l", "--user", "--group"}));
}

void Env(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  std::string cwd = inv.cwd;
  std::size_t i = 0;
  while (i < args.size()) {
    const std::string& text = args[i].text;
    if (text == "--") {
      ++i;
      break;
    }
    if (In(text, {"-u", "--unset", "-C", "--chdir"})) {
      if (In(text, {"-C", "--chdir"}) && i + 1 < args.size()) cwd = args[i + 1].text;
      i += 2;
      continue;
    }
    if (In(text, {"-S", "--split-string"}) && i + 1 < args.size()) {
      // env -S 'cmd args' splits the string like a shell would.
      std::string script = args[i + 1].text;
      for (std::size_t k = i + 2; k < args.size(); ++k) script += " " + args[k].text;
      RunScriptArg(inv, ctx, Arg{script, args[i + 1].known}, cwd, "env -S");
      return;
    }
    if (text.starts_with("-")) {
      ++i;
      continue;
    }
    if (text.find('=') != std::string::npos && text.find('=') > 0) {
      ++i;  // NAME=value
      continue;
    }
    break;
  }
  if (i >= args.size()) return;
  Invocation inner = Inner(inv, args.subspan(i));
  inner.cwd = cwd;
  ctx.ClassifyInvocation(inner);
}

void CommandBuiltin(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  if (HasShortFlag(args, 'v') || HasShortFlag(args, 'V')) return;  // lookup only
  RunRest(inv, ctx, 1 + SkipOptions(args, {}));
}

void Exec(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  RunRest(inv, ctx, 1 + SkipOptions(args, {"-a"}));
}

void Nice(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  RunRest(inv, ctx, 1 + SkipOptions(args, {"-n", "--adjustment"}));
}

void Ionice(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  if (HasShortFlag(args, 'p') || HasShortFlag(args, 'P')) return;  // acts on a pid
  RunRest(inv, ctx, 1 + SkipOptions(args, {"-c", "-n", "--class", "--classdata"}));
}

void Timeout(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  std::size_t i = SkipOptions(args, {"-s", "-k", "--signal", "--kill-after"});
  RunRest(inv, ctx, 1 + i + 1);  // skip DURATION
}

void PlainPrefix(const Invocation& inv, Context& ctx) {
  // nohup, setsid, time, chronic, unbuffer, builtin, ... : options then command.
  Args args = Args(inv.argv).subspan(1);
  RunRest(inv, ctx, 1 + SkipOptions(args, {"-f", "-o", "-i", "-e"}));
}

void Stdbuf(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  RunRest(inv, ctx, 1 + SkipOptions(args, {"-i", "-o", "-e", "--input", "--output", "--error"}));
}

void Flock(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (In(args[i].text, {"-c", "--command"}) && i + 1 < args.size()) {
      RunScriptArg(inv, ctx, args[i + 1], inv.cwd, "flock -c");
      return;
    }
  }
  std::size_t first = SkipOptions(args, {"-w", "--timeout", "-E", "--conflict-exit-code"});
  RunRest(inv, ctx, 1 + first + 1);  // skip the lock file
}

void Chroot(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  std::size_t first = SkipOptions(args, {"--userspec", "--groups"});
  RunRest(inv, ctx, 1 + first + 1);  // skip NEWROOT
}

void SystemdRun(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  RunRest(inv, ctx,
          1 + SkipOptions(args, {"-u", "--unit", "-p", "--property", "-E", "--setenv", "--uid",
                                 "--gid", "-M", "--machine", "-H", "--host", "--description",
                                 "--slice", "--working-directory", "--nice", "--on-calendar"}));
}

void Watch(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  std::size_t first = SkipOptions(args, {"-n", "--interval", "-d", "-q", "--equexit"});
  if (first >= args.size()) return;
  if (HasShortFlag(args.subspan(0, first), 'x') || HasLongFlag(args.subspan(0, first), "--exec")) {
    RunRest(inv, ctx, 1 + first);
    return;
  }
  RunScriptArg(inv, ctx, JoinArgs(args.subspan(first)), inv.cwd, "watch");
}

// --- shells and eval --------------------------------------------------------

void Shell(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  std::string_view name = inv.name();
  if (name == "busybox" || name == "toybox") {
    std::size_t first = SkipOptions(args, {});
    if (first >= args.size()) return;  // --list, --help
    if (!In(args[first].text, {"sh", "ash", "bash", "hush"})) {
      RunRest(inv, ctx, 1 + first);  // busybox rm -rf / : an applet
      return;
    }
    args = args.subspan(first + 1);
  }
  // Non-interactive bash first runs the file BASH_ENV names (sh: ENV).
  for (std::string_view variable : {"BASH_ENV", "ENV"}) {
    if (const Arg* file = inv.EnvValue(variable); file != nullptr && !file->text.empty())
      ClassifyCodeFile(inv, ctx, *file, CodeLanguage::kShell,
                       std::string(variable) + "=" + file->text + " " + std::string(name));
  }
  bool command_mode = false;
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    if (text == "--" || text == "-") {
      ++i;
      break;
    }
    if (In(text, {"-o", "+o", "-O", "+O", "--rcfile", "--init-file"})) {
      ++i;
      continue;
    }
    if (text.starts_with("--")) continue;
    if ((text[0] == '-' || text[0] == '+') && text.size() > 1) {
      if (text[0] == '-' && text.find('c') != std::string::npos) command_mode = true;
      continue;
    }
    break;
  }
  std::string what = std::string(name) + (command_mode ? " -c" : "");
  if (command_mode) {
    if (i < args.size()) RunScriptArg(inv, ctx, args[i], inv.cwd, what);
    return;
  }
  if (i < args.size()) {
    // A script file: what it holds runs (/dev/stdin: what stdin holds).
    if (!args[i].known) {
      ctx.Emit(Opaque(what + " runs a script whose source is computed at run time (" +
                      args[i].text + ")"));
      return;
    }
    if (In(args[i].text, {"/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"})) {
      ClassifyStdinScript(inv, ctx, what);
      return;
    }
    ClassifyCodeFile(inv, ctx, args[i], CodeLanguage::kShell, what + " " + args[i].text);
    return;
  }
  ClassifyStdinScript(inv, ctx, what);
}

void Eval(const Invocation& inv, Context& ctx) {
  if (inv.run_by_evaluator) return;  // `builtin eval`, `command eval` still come here
  Args args = Args(inv.argv).subspan(1);
  RunScriptArg(inv, ctx, JoinArgs(args), inv.cwd, "eval");
}

void Source(const Invocation& inv, Context& ctx) {
  if (inv.run_by_evaluator || inv.argv.size() < 2) return;
  const Arg& file = inv.argv[1];
  if (!file.known) {
    ctx.Emit(Opaque("`" + inv.argv[0].text +
                    "` reads shell code from a source computed at run time (" + file.text + ")"));
    return;
  }
  if (In(file.text, {"/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"})) {
    ClassifyStdinScript(inv, ctx, inv.argv[0].text);
    return;
  }
  // .env files hold settings (and secrets): they are not read here.
  if (IsCredentialFile(file.text, ctx.home())) return;
  ClassifyCodeFile(inv, ctx, file, CodeLanguage::kShell, inv.argv[0].text + " " + file.text);
}

void Script(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& text = args[i].text;
    // -c CMD, also clustered as -qc CMD.
    bool short_c = text.size() >= 2 && text[0] == '-' && text[1] != '-' && text.back() == 'c';
    if ((short_c || text == "--command") && i + 1 < args.size()) {
      RunScriptArg(inv, ctx, args[i + 1], inv.cwd, "script -c");
      return;
    }
    if (args[i].text.starts_with("--command=")) {
      RunScriptArg(inv, ctx, Arg{args[i].text.substr(10), args[i].known}, inv.cwd, "script -c");
      return;
    }
  }
}

// ssh [options] host [command...]: the command runs in the remote shell.
void Ssh(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  // -o ProxyCommand=... and -o LocalCommand=... run here, through the shell.
  for (std::size_t k = 0; k < args.size(); ++k) {
    std::string option;
    if (args[k].text == "-o" && k + 1 < args.size())
      option = args[k + 1].text;
    else if (args[k].text.starts_with("-o"))
      option = args[k].text.substr(2);
    else
      continue;
    std::string lower;
    for (char c : option)
      lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    for (std::string_view key : {"proxycommand", "localcommand"}) {
      if (!lower.starts_with(key)) continue;
      std::string value = option.substr(key.size());
      value.erase(0, value.find_first_not_of(" =\t"));
      if (value.empty() || value == "none") continue;
      RunScriptArg(inv, ctx,
                   Arg{value, args[k].known && (k + 1 >= args.size() || args[k + 1].known)},
                   inv.cwd, "ssh " + std::string(key));
    }
  }
  std::size_t i = 0;
  constexpr std::array<char, 18> kWithValue = {'b', 'c', 'D', 'E', 'e', 'F', 'I', 'i', 'J',
                                               'L', 'l', 'm', 'O', 'o', 'p', 'Q', 'R', 'S'};
  while (i < args.size() && !OptionsEndAt(args, &i)) {
    const std::string& text = args[i].text;
    char last = text.back();
    bool takes_value = text.size() == 2 &&
                       (std::find(kWithValue.begin(), kWithValue.end(), last) != kWithValue.end() ||
                        last == 'W' || last == 'w' || last == 'B');
    i += takes_value ? 2 : 1;
  }
  if (i >= args.size()) return;  // no host
  ++i;                           // the host
  if (i >= args.size()) {
    if (inv.has_stdin_text || inv.stdin_piped) ClassifyStdinScript(inv, ctx, "ssh");
    return;
  }
  const Arg joined = JoinArgs(args.subspan(i));
  const std::string& remote = joined.text;
  if (!joined.known) {
    ctx.Emit(Opaque("ssh runs a remote command computed at run time (" + remote + ")"));
    return;
  }
  ctx.ClassifyRemoteScript(remote, inv.depth + 1);
  // `ssh host bash -s < script.sh`, `ssh host sh <<EOF`: the remote shell
  // runs what ssh reads on stdin here.
  Args command = args.subspan(i);
  std::string_view shell = command[0].text;
  if (auto slash = shell.rfind('/'); slash != std::string_view::npos)
    shell = shell.substr(slash + 1);
  if (!In(shell, {"sh", "bash", "zsh", "dash", "ksh", "ash"})) return;
  for (std::size_t k = 1; k < command.size(); ++k) {
    const std::string& text = command[k].text;
    if (text == "-s" || text == "-" || text == "--") break;
    if (text.starts_with("-") && text.find('c') != std::string::npos) return;  // -c: its own text
    if (!text.starts_with("-")) return;  // a script file on the remote host
  }
  std::string script;
  if (const Arg* file = StdinFile(inv)) {
    CodeFile content = ctx.ReadCodeFile(*file, inv.cwd, false);
    if (content.state == CodeFile::State::kText) {
      ctx.ClassifyRemoteScript(content.text, inv.depth + 1);
    } else if (content.state != CodeFile::State::kMissing) {
      ctx.Emit(
          Opaque("ssh runs " + file->text + " on the remote shell, which cannot be read here"));
    }
    return;
  }
  if (inv.has_stdin_text || inv.stdin_piped) {
    std::optional<std::string> text = inv.StdinText();
    if (text)
      ctx.ClassifyRemoteScript(*text, inv.depth + 1);
    else
      ctx.Emit(Opaque("ssh feeds the remote shell a script computed at run time"));
  }
}

// --- commands that run a command per input item ---------------------------

// Items fed on stdin: known when they come from echo/printf or a here-doc.
std::vector<Arg> StdinItems(const Invocation& inv) {
  std::string text;
  bool known = false;
  if (inv.has_stdin_text) {
    text = inv.stdin_text;
    known = inv.stdin_text_known;
  } else if (inv.stdin_piped) {
    known = PipedText(inv, &text);
  }
  std::vector<Arg> items;
  if (!known) {
    items.push_back(Arg{"<items read from stdin>", false});
    return items;
  }
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    std::size_t j = i;
    while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
    if (j > i) items.push_back(Arg{text.substr(i, j - i), true});
    i = j;
  }
  if (items.empty()) items.push_back(Arg{"<items read from stdin>", false});
  return items;
}

// Replaces `placeholder` in each word of `command` by `item`; if absent and
// `append_when_absent`, appends the item.
Invocation Substitute(const Invocation& outer, Args command, std::string_view placeholder,
                      const Arg& item, bool append_when_absent) {
  Invocation inner = Inner(outer, command);
  inner.stdin_piped = false;
  inner.piped_text.reset();
  inner.has_stdin_text = false;
  bool replaced = false;
  for (Arg& arg : inner.argv) {
    std::size_t pos = arg.text.find(placeholder);
    if (placeholder.empty() || pos == std::string::npos) continue;
    while (pos != std::string::npos) {
      arg.text.replace(pos, placeholder.size(), item.text);
      pos = arg.text.find(placeholder, pos + item.text.size());
    }
    arg.known = arg.known && item.known;
    arg.glob = arg.glob || item.glob;
    arg.temp = arg.temp || item.temp;
    replaced = true;
  }
  if (!replaced && append_when_absent) inner.argv.push_back(item);
  return inner;
}

void Xargs(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  std::string replace;
  std::size_t i = 0;
  while (i < args.size() && !OptionsEndAt(args, &i)) {
    const std::string& text = args[i].text;
    if (text == "-I" && i + 1 < args.size()) {
      replace = args[i + 1].text;
      i += 2;
      continue;
    }
    if (text.starts_with("--replace")) {
      replace = text.size() > 10 ? text.substr(10) : "{}";
      ++i;
      continue;
    }
    if (text.starts_with("-i")) {
      replace = text.size() > 2 ? text.substr(2) : "{}";
      ++i;
      continue;
    }
    if (In(text, {"-a", "-d", "-E", "-e", "-L", "-l", "-n", "-P", "-s", "--arg-file", "--delimiter",
                  "--max-args", "--max-procs", "--max-chars", "--max-lines", "--process-slot-var",
                  "--eof"}))
      i += 2;
    else
      ++i;
  }
  Args command = args.subspan(std::min(i, args.size()));
  if (command.empty()) return;  // xargs alone runs echo
  std::vector<Arg> items = StdinItems(inv);
  if (items.size() > 16) items.resize(16);
  if (!replace.empty()) {
    for (const Arg& item : items)
      ctx.ClassifyInvocation(Substitute(inv, command, replace, item, false));
    return;
  }
  Invocation inner = Inner(inv, command);
  inner.stdin_piped = false;
  inner.piped_text.reset();
  inner.has_stdin_text = false;
  for (const Arg& item : items) inner.argv.push_back(item);
  ctx.ClassifyInvocation(inner);
}

void Parallel(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  std::size_t i = SkipOptions(args, {"-j", "--jobs", "-S", "--sshlogin", "--joblog", "-d",
                                     "--delimiter", "-a", "--arg-file", "-I", "-n", "-N"});
  std::size_t sep = i;
  while (sep < args.size() && !In(args[sep].text, {":::", "::::", ":::+"})) ++sep;
  Args command = args.subspan(i, sep - i);
  std::vector<Arg> items;
  if (sep < args.size()) {
    if (args[sep].text == "::::") items.push_back(Arg{"<items read from a file>", false});
    for (std::size_t k = sep + 1; k < args.size(); ++k)
      if (!In(args[k].text, {":::", "::::", ":::+"})) items.push_back(args[k]);
  } else {
    items = StdinItems(inv);
  }
  if (items.size() > 16) items.resize(16);
  if (command.empty()) {
    // The items themselves are commands.
    for (const Arg& item : items) RunScriptArg(inv, ctx, item, inv.cwd, "parallel");
    return;
  }
  for (const Arg& item : items) {
    if (command.size() == 1 && command[0].text.find(' ') != std::string::npos) {
      Invocation script = Substitute(inv, command, "{}", item, true);
      std::string text = script.argv[0].text;
      for (std::size_t k = 1; k < script.argv.size(); ++k) text += " " + script.argv[k].text;
      RunScriptArg(inv, ctx, Arg{text, script.argv[0].known && item.known}, inv.cwd, "parallel");
    } else {
      ctx.ClassifyInvocation(Substitute(inv, command, "{}", item, true));
    }
  }
}

// find ROOTS... EXPRESSION: -delete, -exec/-execdir/-ok/-okdir CMD {} ;|+
void Find(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  std::size_t i = 0;
  while (i < args.size() && In(args[i].text, {"-H", "-L", "-P"})) ++i;
  std::vector<Arg> roots;
  while (i < args.size()) {
    const std::string& text = args[i].text;
    if (text.starts_with("-") || text == "(" || text == "!" || text == ",") break;
    roots.push_back(args[i]);
    ++i;
  }
  if (roots.empty()) roots.push_back(Arg{"."});
  Args expression = args.subspan(i);
  // A literal -name narrows what {} stands for: `-name __pycache__` under "."
  // matches only directories called __pycache__.
  std::string name_filter;
  for (std::size_t k = 0; k + 1 < expression.size(); ++k) {
    if (In(expression[k].text, {"-name", "-iname"})) {
      name_filter = expression[k + 1].text;
      break;
    }
  }
  auto matches = [&](const Arg& root) {
    Arg item = root;
    std::string base = root.text;
    if (base.size() > 1 && base.back() == '/') base.pop_back();
    item.text =
        base + (base == "/" ? "" : "/") + "**" + (name_filter.empty() ? "" : "/" + name_filter);
    item.glob = true;
    return item;
  };
  for (std::size_t k = 0; k < expression.size(); ++k) {
    const std::string& text = expression[k].text;
    if (In(text, {"-fprint", "-fprint0", "-fprintf", "-fls"}) && k + 1 < expression.size()) {
      // The file is truncated and refilled with the list of matches.
      ClassifyWriteTo(expression[k + 1], /*append=*/false, /*emptying=*/false,
                      "find " + text + " overwrites", inv, ctx);
      k += text == "-fprintf" ? 2 : 1;
      continue;
    }
    if (text == "-delete") {
      for (const Arg& root : roots) {
        std::array<Arg, 3> rm = {Arg{"rm"}, Arg{"-rf"}, matches(root)};
        ctx.ClassifyInvocation(Inner(inv, rm));
      }
    } else if (In(text, {"-exec", "-execdir", "-ok", "-okdir"})) {
      std::size_t end = k + 1;
      while (end < expression.size() && !In(expression[end].text, {";", "+"})) ++end;
      Args command = expression.subspan(k + 1, end - (k + 1));
      if (!command.empty()) {
        for (const Arg& root : roots)
          ctx.ClassifyInvocation(Substitute(inv, command, "{}", matches(root), false));
      }
      k = end;
    }
  }
}

// fd PATTERN [PATH...] -x/--exec CMD | -X/--exec-batch CMD
void Fd(const Invocation& inv, Context& ctx) {
  Args args = Args(inv.argv).subspan(1);
  for (std::size_t k = 0; k < args.size(); ++k) {
    if (!In(args[k].text, {"-x", "--exec", "-X", "--exec-batch"})) continue;
    std::vector<Arg> positional;
    for (std::size_t p = 0; p < k; ++p) {
      if (args[p].text.starts_with("-")) {
        if (In(args[p].text, {"-e", "--extension", "-t", "--type", "-d", "--max-depth", "-E",
                              "--exclude", "-j", "--threads", "--base-directory"}))
          ++p;
        continue;
      }
      positional.push_back(args[p]);
    }
    std::string root = positional.size() >= 2 ? positional[1].text : ".";
    Arg item{root + "/**", positional.size() < 2 || positional[1].known, true};
    std::size_t end = k + 1;
    while (end < args.size() && args[end].text != ";") ++end;
    Args command = args.subspan(k + 1, end - (k + 1));
    if (!command.empty()) ctx.ClassifyInvocation(Substitute(inv, command, "{}", item, true));
    return;
  }
}

constexpr PackEntry kWrappers[] = {
    {"sudo", Sudo},
    {"doas", Doas},
    {"su", Su},
    {"runuser", Runuser},
    {"pkexec", Doas},
    {"env", Env},
    {"command", CommandBuiltin},
    {"builtin", PlainPrefix},
    {"exec", Exec},
    {"nice", Nice},
    {"ionice", Ionice},
    {"chrt", Nice},
    {"taskset", Nice},
    {"timeout", Timeout},
    {"nohup", PlainPrefix},
    {"setsid", PlainPrefix},
    {"time", PlainPrefix},
    {"chronic", PlainPrefix},
    {"unbuffer", PlainPrefix},
    {"caffeinate", PlainPrefix},
    {"stdbuf", Stdbuf},
    {"flock", Flock},
    {"chroot", Chroot},
    {"systemd-run", SystemdRun},
    {"watch", Watch},
    {"sh", Shell},
    {"bash", Shell},
    {"zsh", Shell},
    {"dash", Shell},
    {"ksh", Shell},
    {"mksh", Shell},
    {"ash", Shell},
    {"fish", Shell},
    {"busybox", Shell},
    {"toybox", Shell},
    {"eval", Eval},
    {"source", Source},
    {".", Source},
    {"script", Script},
    {"ssh", Ssh},
    {"xargs", Xargs},
    {"parallel", Parallel},
    {"find", Find},
    {"fd", Fd},
    {"fdfind", Fd},
};

}  // namespace

std::span<const PackEntry> WrapperPack() {
  return kWrappers;
}

}  // namespace dualkey::shell
