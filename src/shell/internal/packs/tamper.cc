// Self-protection: every command, beside its own pack, is checked for what it
// does to dualkey itself (protect/protect.h): writing, deleting, moving,
// truncating or chmod-ing its state, keys, socket, policy or binary; editing
// an agent's hook configuration; reading approver secrets or the audit key;
// writing a startup file that sets DUALKEY_*, XDG_* or PATH; code in an
// interpreter that names one of these and writes. Each is guard.tamper,
// which no policy layer can lower below hold2. Reading dualkey's docs, its
// audit log and its policy stays allowed.
#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "protect/protect.h"
#include "shell/internal/packs/packs.h"
#include "shell/internal/paths.h"

namespace dualkey::shell {
namespace {

using std::string_view;

enum class Role {
  kData,         // echo, printf: the words are text, not paths
  kReader,       // reads every operand
  kCopy,         // cp, rsync, scp, install, ln: the last operand is written
  kMove,         // mv: every operand is moved away, the last is written
  kDestroyer,    // rm, shred, truncate, chmod ...: every operand changed or gone
  kDatabase,     // sqlite3: opens its operand, reading whatever it holds
  kInterpreter,  // python -c, node -e ...: code is scanned for mentions
  kWriter,       // anything else: an operand that is a guard path is tampered with
};

struct Named {
  string_view name;
  Role role;
};

constexpr Named kRoles[] = {
    {"echo", Role::kData},
    {"printf", Role::kData},
    {"say", Role::kData},
    {"dualkey", Role::kData},
    {"cd", Role::kData},
    {"pushd", Role::kData},
    {"notify-send", Role::kData},
    {"logger", Role::kData},
    {"export", Role::kData},
    {"cat", Role::kReader},
    {"tac", Role::kReader},
    {"head", Role::kReader},
    {"tail", Role::kReader},
    {"less", Role::kReader},
    {"more", Role::kReader},
    {"bat", Role::kReader},
    {"batcat", Role::kReader},
    {"nl", Role::kReader},
    {"od", Role::kReader},
    {"xxd", Role::kReader},
    {"hexdump", Role::kReader},
    {"strings", Role::kReader},
    {"wc", Role::kReader},
    {"uniq", Role::kReader},
    {"cut", Role::kReader},
    {"grep", Role::kReader},
    {"egrep", Role::kReader},
    {"fgrep", Role::kReader},
    {"rg", Role::kReader},
    {"ag", Role::kReader},
    {"ack", Role::kReader},
    {"jq", Role::kReader},
    {"gojq", Role::kReader},
    {"diff", Role::kReader},
    {"cmp", Role::kReader},
    {"stat", Role::kReader},
    {"file", Role::kReader},
    {"ls", Role::kReader},
    {"du", Role::kReader},
    {"tree", Role::kReader},
    {"md5sum", Role::kReader},
    {"sha1sum", Role::kReader},
    {"sha256sum", Role::kReader},
    {"sha512sum", Role::kReader},
    {"b2sum", Role::kReader},
    {"realpath", Role::kReader},
    {"readlink", Role::kReader},
    {"basename", Role::kReader},
    {"dirname", Role::kReader},
    {"test", Role::kReader},
    {"[", Role::kReader},
    {"base64", Role::kReader},
    {"column", Role::kReader},
    {"view", Role::kReader},
    {"find", Role::kReader},
    {"fd", Role::kReader},
    {"lsattr", Role::kReader},
    {"getfacl", Role::kReader},
    {"namei", Role::kReader},
    {"wc", Role::kReader},
    {"cp", Role::kCopy},
    {"scp", Role::kCopy},
    {"rsync", Role::kCopy},
    {"install", Role::kCopy},
    {"ln", Role::kCopy},
    {"mv", Role::kMove},
    {"rm", Role::kDestroyer},
    {"rmdir", Role::kDestroyer},
    {"unlink", Role::kDestroyer},
    {"shred", Role::kDestroyer},
    {"truncate", Role::kDestroyer},
    {"chmod", Role::kDestroyer},
    {"chown", Role::kDestroyer},
    {"chgrp", Role::kDestroyer},
    {"chattr", Role::kDestroyer},
    {"setfacl", Role::kDestroyer},
    {"srm", Role::kDestroyer},
    {"wipe", Role::kDestroyer},
    {"sqlite3", Role::kDatabase},
    {"sqlite", Role::kDatabase},
    {"litecli", Role::kDatabase},
    {"sqlitebrowser", Role::kDatabase},
    {"sqlite-utils", Role::kDatabase},
    {"python", Role::kInterpreter},
    {"python2", Role::kInterpreter},
    {"python3", Role::kInterpreter},
    {"pypy", Role::kInterpreter},
    {"pypy3", Role::kInterpreter},
    {"node", Role::kInterpreter},
    {"nodejs", Role::kInterpreter},
    {"deno", Role::kInterpreter},
    {"bun", Role::kInterpreter},
    {"perl", Role::kInterpreter},
    {"ruby", Role::kInterpreter},
    {"php", Role::kInterpreter},
    {"lua", Role::kInterpreter},
    {"luajit", Role::kInterpreter},
    {"Rscript", Role::kInterpreter},
    {"pwsh", Role::kInterpreter},
    {"powershell", Role::kInterpreter},
    {"osascript", Role::kInterpreter},
    {"awk", Role::kInterpreter},
    {"gawk", Role::kInterpreter},
    {"jshell", Role::kInterpreter},
    {"tclsh", Role::kInterpreter},
    {"julia", Role::kInterpreter},
};

constexpr auto kSortedRoles = [] {
  std::array<Named, std::size(kRoles)> table{};
  for (std::size_t i = 0; i < table.size(); ++i) table[i] = kRoles[i];
  std::sort(table.begin(), table.end(),
            [](const Named& a, const Named& b) { return a.name < b.name; });
  return table;
}();

Role RoleOf(string_view name) {
  auto it = std::lower_bound(kSortedRoles.begin(), kSortedRoles.end(), name,
                             [](const Named& named, string_view key) { return named.name < key; });
  if (it != kSortedRoles.end() && it->name == name) return it->role;
  // python3.12, pythonw
  if (name.starts_with("python") || name.starts_with("ruby") || name.starts_with("perl") ||
      name.starts_with("php") || name.starts_with("node"))
    return Role::kInterpreter;
  return Role::kWriter;
}

// The path an argument names: "--opt=path", "of=path", "@path", or itself.
string_view PathPart(string_view text) {
  if (text.starts_with("of=") || text.starts_with("if=")) return text.substr(3);
  // socat's addresses: UNIX-LISTEN:/path,fork  OPEN:/path,creat
  static constexpr string_view kSocatFiles[] = {
      "UNIX-LISTEN:",  "UNIX-CONNECT:", "UNIX-CLIENT:", "UNIX-SENDTO:", "UNIX-RECVFROM:",
      "UNIX-RECV:",    "UNIX:",         "LOCAL:",       "OPEN:",        "CREATE:",
      "CREAT:",        "GOPEN:",        "FILE:",        "PIPE:",        "unix-listen:",
      "unix-connect:", "unix:",         "open:",        "create:",      "gopen:"};
  for (string_view prefix : kSocatFiles)
    if (text.starts_with(prefix)) {
      text.remove_prefix(prefix.size());
      return text.substr(0, text.find(','));
    }
  if (text.starts_with("--") && text.find('=') != string_view::npos)
    return text.substr(text.find('=') + 1);
  if (text.starts_with("@")) return text.substr(1);
  return text;
}

// Within one input (Analyze resets it): has a command looked up dualkey's
// process ids or binary path? Substitutions run before the command that uses
// their output, so `kill $(pgrep dualkey)` sees the lookup first.
struct Lookups {
  bool process = false;  // pgrep/pidof dualkey, its pid file, lsof/fuser of its socket
  bool binary = false;   // command -v / which / type / whereis / readlink of dualkey
};
thread_local Lookups lookups;

bool AnyArgNamesDualkey(const Invocation& inv) {
  for (std::size_t i = 1; i < inv.argv.size(); ++i)
    if (inv.argv[i].text.find("dualkey") != string_view::npos) return true;
  for (const Arg& arg : inv.piped_from)
    if (arg.text.find("dualkey") != string_view::npos) return true;
  return false;
}

void NoteLookups(const Invocation& inv, string_view name) {
  static constexpr string_view kProcess[] = {"pgrep", "pidof",     "pidwait", "lsof", "fuser",
                                             "cat",   "head",      "tail",    "ps",   "grep",
                                             "awk",   "systemctl", "ss"};
  static constexpr string_view kBinary[] = {"command",  "which", "type", "whereis", "readlink",
                                            "realpath", "hash",  "find", "locate"};
  for (string_view process : kProcess)
    if (name == process && AnyArgNamesDualkey(inv)) lookups.process = true;
  for (string_view binary : kBinary)
    if (name == binary && AnyArgNamesDualkey(inv)) lookups.binary = true;
}

// "1234", or "-1234" for a process group.
bool IsPid(string_view text) {
  if (text.starts_with("-")) text.remove_prefix(1);
  return !text.empty() && text.size() <= 10 &&
         text.find_first_not_of("0123456789") == string_view::npos;
}

// Whether PID is a dualkey process running now. /proc/PID/comm is readable
// by every user, also for the daemon that runs as its own system user.
bool IsDualkeyProcess(string_view text) {
  if (!IsPid(text)) return false;
  if (text.starts_with("-")) text.remove_prefix(1);
  std::ifstream comm("/proc/" + std::string(text) + "/comm");
  std::string name;
  return comm && std::getline(comm, name) && name == "dualkey";
}

Action Tamper(std::string target, std::string reason) {
  return MakeAction("guard.tamper", {std::move(target)}, Reversibility::kIrreversible,
                    Severity::kCritical,
                    std::move(reason) +
                        ": an agent must not change, stop or read the secrets of the guard that "
                        "checks it");
}

struct Operand {
  const Arg* arg;
  ResolvedPath path;
};

// Cheap test before resolving a path: could this word (or the working
// directory) name a guard location, or a directory above one? Most words of
// most commands cannot, and resolving every one would cost more than the rest
// of the classification.
//
// `ancestors`: the command deletes, moves or chmods whole directories, so a
// directory above a guard location counts too (`rm -rf ~`, `rm -rf /var`).
bool MightBeGuard(string_view text, bool ancestors) {
  // Hand-rolled: this runs for every word of every command.
  auto at = [&](std::size_t i, string_view needle) {
    if (i + needle.size() > text.size() || text[i + 1] != needle[1]) return false;
    for (std::size_t k = 2; k < needle.size(); ++k)
      if (text[i + k] != needle[k]) return false;
    return true;
  };
  // One pass, dispatching on the first letter of each needle. A guard
  // location itself always names dualkey, an agent's directory, or a
  // startup file (*shrc, profile, environment, zsh*, fish, pam_env ...).
  static constexpr auto kFirst = [] {
    std::array<bool, 256> first{};
    for (unsigned char c : std::string_view("dcgspezfmL")) first[c] = true;
    return first;
  }();
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!kFirst[static_cast<unsigned char>(text[i])]) continue;
    switch (text[i]) {
      case 'd':
        if (at(i, "dualkey")) return true;
        break;
      case 'c':
        if (at(i, "claude") || at(i, "cursor") || at(i, "codex")) return true;
        break;
      case 'g':
        if (at(i, "gemini")) return true;
        break;
      case 's':
        if (at(i, "shrc") || at(i, "systemd")) return true;
        break;
      case 'p':
        if (at(i, "profile") || at(i, "pam_env")) return true;
        break;
      case 'e':
        if (at(i, "environ")) return true;
        break;
      case 'z':
        if (at(i, "zsh") || at(i, "zlogin")) return true;
        break;
      case 'f':
        if (at(i, "fish")) return true;
        break;
      case 'm':
        if (at(i, "managed-settings")) return true;
        break;
      case 'L':
        if (at(i, "Library")) return true;
        break;
      default:
        break;
    }
  }
  (void)ancestors;
  return false;
}

// For commands that delete, move or chmod whole trees: could `text` name a
// directory above a guard location (`~`, `~/.config`, `/var/lib`, `/`,
// `..`)? Absolute and home-relative spellings are compared with the guard
// roots as written; anything climbing with `..` is resolved to be sure.
bool AncestorCandidate(string_view text) {
  if (text.find("..") != string_view::npos) return true;
  // Cut a trailing glob component: `~/*` reaches what `~` holds.
  std::size_t glob = text.find_first_of("*?[");
  if (glob != string_view::npos) {
    std::size_t slash = text.rfind('/', glob);
    text = slash == string_view::npos ? string_view() : text.substr(0, slash);
    if (text.empty()) return true;  // `*` in some directory: the cwd decides
  }
  string_view rest;
  static constexpr string_view kHomeRoots[] = {
      "/.config/dualkey", "/.local/state/dualkey", "/.claude", "/.cursor", "/.codex", "/.gemini"};
  auto prefix_of = [](string_view part, string_view root) {
    while (part.size() > 1 && part.back() == '/') part.remove_suffix(1);
    if (part.empty() || part == "/") return true;
    return root.starts_with(part) && (root.size() == part.size() || root[part.size()] == '/');
  };
  for (string_view home : {string_view("~"), string_view("${HOME}"), string_view("$HOME")}) {
    if (!text.starts_with(home)) continue;
    rest = text.substr(home.size());
    if (rest.empty() || rest == "/") return true;
    for (string_view root : kHomeRoots)
      if (prefix_of(rest, root)) return true;
    return false;
  }
  if (!text.starts_with("/")) return false;  // relative: CwdNear decides
  static constexpr string_view kRoots[] = {"/var/lib/dualkey", "/etc/dualkey",
                                           "/run/dualkey",     "/usr/local/bin/dualkey",
                                           "/usr/bin/dualkey", "/opt/dualkey"};
  for (string_view root : kRoots)
    if (prefix_of(text, root)) return true;
  // Homes: /home, /home/dev, /root, /Users/x and their guard roots.
  std::size_t depth = 0;
  for (char c : text) depth += c == '/';
  if (text.starts_with("/home") || text.starts_with("/root") || text.starts_with("/Users"))
    return depth <= 2 || text.find("/.") != string_view::npos;
  return false;
}

// What the command writes to a startup file: its own words, its stdin text,
// the words of the command piped into it.
std::string TextWritten(const Invocation& inv, bool* known) {
  std::string text;
  *known = true;
  for (std::size_t i = 1; i < inv.argv.size(); ++i) {
    text += inv.argv[i].text;
    text.push_back('\n');
    *known = *known && inv.argv[i].known;
  }
  if (inv.has_stdin_text) {
    text += inv.stdin_text;
    *known = *known && inv.stdin_text_known;
  }
  for (const Arg& arg : inv.piped_from) {
    text += arg.text;
    text.push_back(' ');
  }
  return text;
}

class TamperCheck {
 public:
  TamperCheck(const Invocation& inv, Context& ctx) : inv_(inv), ctx_(ctx), home_(ctx.home()) {}
  // (home_ views the Context's string, which outlives the check.)

  void Run() {
    Redirections();
    if (inv_.argv.empty() || !inv_.NameKnown()) return;
    const string_view name = inv_.name();
    NoteLookups(inv_, name);
    Role role = RoleOf(name);
    if (role == Role::kData) return;
    ComputedTargets(name, role);
    // Most commands name nothing near dualkey: decide that without resolving.
    ancestors_ =
        role == Role::kDestroyer || role == Role::kMove || (role == Role::kCopy && name == "rsync");
    bool near = false;
    bool relative = false;  // an operand the working directory resolves
    for (std::size_t i = 1; i < inv_.argv.size() && !near; ++i) {
      const std::string& text = inv_.argv[i].text;
      near = MightBeGuard(text, ancestors_) || (ancestors_ && AncestorCandidate(text));
      relative = relative || (!text.empty() && text[0] != '/' && text[0] != '-');
    }
    if (!near && relative) near = CwdNear();
    if (!near && !(role == Role::kInterpreter && inv_.has_stdin_text)) return;
    if (name == "git") role = GitRole();
    if (role == Role::kInterpreter) Interpreter(name);
    std::vector<Operand> operands = Operands(role == Role::kInterpreter);
    if (operands.empty()) return;
    const bool in_place = InPlace(name);
    switch (role) {
      case Role::kData:
        return;
      case Role::kReader:
        for (const Operand& operand : operands) in_place ? Write(operand) : Read(operand);
        return;
      case Role::kDatabase:
        for (const Operand& operand : operands) Open(operand);
        return;
      case Role::kCopy:
        for (std::size_t i = 0; i + 1 < operands.size(); ++i) Read(operands[i]);
        Write(operands.back());
        if (name == "rsync" && HasLongFlag(Args(), "--delete")) Ancestor(operands.back());
        return;
      case Role::kMove:
        for (const Operand& operand : operands) {
          Write(operand);
          Ancestor(operand);
        }
        return;
      case Role::kDestroyer:
        for (const Operand& operand : operands) {
          Write(operand);
          if (name != "truncate") Ancestor(operand);
        }
        return;
      case Role::kInterpreter:
      case Role::kWriter:
        for (const Operand& operand : operands) Write(operand);
        return;
    }
  }

 private:
  std::span<const Arg> Args() const {
    return std::span<const Arg>(inv_.argv).subspan(inv_.argv.empty() ? 0 : 1);
  }

  // Operands computed from an earlier lookup of dualkey in the same input:
  // `kill $(pgrep -f 'dualkey serve')`, `cp /bin/true "$(command -v dualkey)"`.
  void ComputedTargets(string_view name, Role role) {
    bool computed = false;
    for (std::size_t i = 1; i < inv_.argv.size(); ++i) computed = computed || !inv_.argv[i].known;
    const bool signals = name == "kill" || name == "pkill" || name == "killall";
    // A lookup's output may reach kill as a literal: `$(cat dualkey.pid)` is
    // evaluated when the pid file is readable, `p=$(pidof dualkey); kill $p`.
    // So after a lookup every pid counts as dualkey's.
    if (lookups.process && signals &&
        (computed || inv_.argv.size() == 1 || inv_.stdin_piped || NamesPid())) {
      Emit("dualkey", Verb() + " signals processes found by looking dualkey up");
      return;
    }
    // A pid learnt earlier (another command, another session) is checked
    // against what runs on this machine now.
    if (name == "kill") {
      for (std::size_t i = 1; i < inv_.argv.size(); ++i) {
        if (IsDualkeyProcess(inv_.argv[i].text)) {
          Emit("dualkey",
               Verb() + " signals a running dualkey process (pid " + inv_.argv[i].text + ")");
          return;
        }
      }
    }
    if (lookups.binary && computed &&
        (role == Role::kCopy || role == Role::kMove || role == Role::kDestroyer ||
         role == Role::kWriter))
      Emit("dualkey", Verb() + " writes to a path computed from where dualkey is installed");
  }

  bool NamesPid() const {
    for (std::size_t i = 1; i < inv_.argv.size(); ++i)
      if (IsPid(inv_.argv[i].text)) return true;
    return false;
  }

  // The working directory is in or above a guard location: relative
  // operands may name one.
  bool CwdNear() const {
    return MightBeGuard(inv_.cwd, false) ||
           (ancestors_ &&
            (inv_.cwd == home_ || (!inv_.cwd.empty() && home_.starts_with(inv_.cwd))));
  }

  // git reads the paths it is given, except where it rewrites or removes
  // them (checkout/restore -- path, rm, mv, clean, apply ...).
  Role GitRole() const {
    static constexpr string_view kWriting[] = {
        "checkout", "restore",  "rm",    "mv",   "clean",  "apply", "am",    "reset",
        "stash",    "worktree", "clone", "init", "switch", "pull",  "merge", "rebase"};
    for (const Arg& arg : Args()) {
      if (arg.text.starts_with("-")) continue;
      for (string_view writing : kWriting)
        if (arg.text == writing) return Role::kWriter;
      return Role::kReader;
    }
    return Role::kReader;
  }

  // sed -i, perl -i, yq -i, sort -o: the reader writes its files.
  bool InPlace(string_view name) const {
    if (name == "sed" || name == "perl" || name == "yq" || name == "ruby")
      return HasShortFlag(Args(), 'i') || HasLongFlag(Args(), "--in-place");
    return false;
  }

  std::vector<Operand> Operands(bool interpreter) const {
    std::vector<Operand> out;
    int cwd_near = -1;  // computed on the first operand
    bool options_done = false;
    for (const Arg& arg : Args()) {
      if (!options_done && arg.text == "--") {
        options_done = true;
        continue;
      }
      if (!arg.known) continue;
      string_view text = arg.text;
      if (!options_done && text.starts_with("-") && text.find('=') == string_view::npos) continue;
      text = PathPart(text);
      if (text.empty() || text.find("://") != string_view::npos) continue;
      // Interpreter code is scanned as text (Interpreter), not resolved.
      if (interpreter && text.find_first_of(" ;()'\"\n") != string_view::npos) continue;
      // Every operand keeps its place (the last one of cp is written); the
      // ones that cannot name a guard location are not resolved.
      if (cwd_near < 0) cwd_near = CwdNear();
      if (cwd_near == 0 && !MightBeGuard(text, ancestors_) &&
          !(ancestors_ && AncestorCandidate(text))) {
        out.push_back(Operand{&arg, ResolvedPath{}});
        continue;
      }
      Arg plain;
      plain.text = std::string(text);
      ResolvedPath path = ResolvePath(plain, inv_.cwd, home_);
      if (path.path.empty() || path.path[0] != '/') path = ResolvedPath{};
      out.push_back(Operand{&arg, std::move(path)});
    }
    return out;
  }

  void Emit(const std::string& target, std::string reason) {
    ctx_.Emit(Tamper(target, std::move(reason)));
  }

  std::string Verb() const { return std::string(inv_.name()); }

  void Read(const Operand& operand) {
    if (operand.path.path.empty()) return;
    protect::Place place = protect::Classify(operand.path.path, home_);
    if (place.kind != protect::Kind::kGuardSecret) return;
    Emit(operand.path.path,
         Verb() + " reads " + std::string(place.what) + " (" + operand.path.path + ")");
  }

  void Open(const Operand& operand) {
    if (operand.path.path.empty()) return;
    protect::Place place = protect::Classify(operand.path.path, home_);
    if (!protect::IsGuard(place.kind)) return;
    Emit(operand.path.path,
         Verb() + " opens " + std::string(place.what) + " (" + operand.path.path + ")");
  }

  void Write(const Operand& operand) {
    if (operand.path.path.empty()) return;
    protect::Place place = protect::Classify(operand.path.path, home_);
    if (place.kind == protect::Kind::kNone) return;
    if (place.kind == protect::Kind::kStartupFile) {
      bool known = true;
      if (protect::SetsGuardEnvironment(TextWritten(inv_, &known)))
        Emit(operand.path.path, Verb() + " writes " + std::string(place.what) + " (" +
                                    operand.path.path +
                                    ") that sets DUALKEY_*, XDG_* or PATH for later shells");
      return;
    }
    Emit(operand.path.path,
         Verb() + " changes " + std::string(place.what) + " (" + operand.path.path + ")");
  }

  // rm -rf ~/.config: a directory that holds a guard location.
  void Ancestor(const Operand& operand) {
    if (operand.path.path.empty()) return;
    protect::Place place;
    if (protect::Classify(operand.path.path, home_).kind != protect::Kind::kNone) return;
    string_view dir = operand.path.path;
    if (operand.path.glob) dir = GlobBase(dir);
    if (!protect::ContainsGuard(dir, home_, &place)) return;
    Emit(operand.path.path,
         Verb() + " reaches " + std::string(place.what) + " inside " + std::string(dir));
  }

  void Redirections() {
    for (const FileRedirect& redirect : inv_.redirects) {
      if (redirect.kind == RedirectKind::kDup || !redirect.target.known) continue;
      if (!MightBeGuard(redirect.target.text, false) && !MightBeGuard(inv_.cwd, false)) continue;
      ResolvedPath path = ResolvePath(redirect.target, inv_.cwd, home_);
      if (path.path.empty() || path.path[0] != '/') continue;
      protect::Place place = protect::Classify(path.path, home_);
      if (place.kind == protect::Kind::kNone) continue;
      if (redirect.kind == RedirectKind::kRead) {
        if (place.kind == protect::Kind::kGuardSecret)
          Emit(path.path, "a redirection feeds " + std::string(place.what) + " (" + path.path +
                              ") to " + Verb());
        continue;
      }
      if (place.kind == protect::Kind::kStartupFile) {
        bool known = true;
        if (protect::SetsGuardEnvironment(TextWritten(inv_, &known)))
          Emit(path.path, "a redirection writes " + std::string(place.what) + " (" + path.path +
                              ") that sets DUALKEY_*, XDG_* or PATH for later shells");
        continue;
      }
      Emit(path.path,
           std::string(redirect.kind == RedirectKind::kAppend ? "a redirection appends to "
                                                              : "a redirection overwrites ") +
               std::string(place.what) + " (" + path.path + ")");
    }
  }

  // Code given to an interpreter: a guard location named in it, with code
  // that writes (or any mention of a secret), is tampering.
  void Interpreter(string_view name) {
    std::string code;
    for (const Arg& arg : Args()) {
      code += arg.text;
      code.push_back('\n');
    }
    if (inv_.has_stdin_text) code += inv_.stdin_text;
    ClassifyGuardText(code, std::string(name), ctx_);
  }

  const Invocation& inv_;
  Context& ctx_;
  string_view home_;
  bool ancestors_ = false;
};

}  // namespace

bool ClassifyGuardText(std::string_view code, std::string_view who, Context& ctx) {
  protect::Place place = protect::TextMentions(code, ctx.home());
  if (place.kind == protect::Kind::kNone) return false;
  if (place.kind != protect::Kind::kGuardSecret && !protect::CodeWrites(code)) return false;
  ctx.Emit(
      Tamper(std::string(who),
             std::string(who) + " runs code that " +
                 (place.kind == protect::Kind::kGuardSecret ? "reads or changes " : "writes ") +
                 std::string(place.what)));
  return true;
}

void ClassifyGuardTamper(const Invocation& inv, Context& ctx) {
  TamperCheck(inv, ctx).Run();
}

void BeginGuardTamperInput() {
  lookups = Lookups{};
}

}  // namespace dualkey::shell
