// Prefix runners, as a table: commands that run the command after them (unshare,
// nsenter, firejail, poetry run, xterm -e ...), and a few with their own syntax.

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

// ------------------------------------------------------- prefix runners

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

}  // namespace dualkey::shell::carriers
