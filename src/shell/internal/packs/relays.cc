// Relays that run a program for a connection: socat's EXEC: and SYSTEM:
// addresses, nc/ncat/netcat -e, -c, --sh-exec. The program they run is a
// command line like any other and is classified as one. A shell or an
// interpreter that reads the connection (a bind shell, a reverse shell)
// hands command execution on this machine to whoever is at the other end:
// net.shell.expose, held. A relay that only moves bytes is not judged here.
#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/packs.h"
#include "shell/internal/paths.h"

namespace dualkey::shell {
namespace {

using std::string_view;
using Args = std::span<const Arg>;

std::string Upper(string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

// Whether a command line is a shell or an interpreter that takes its
// commands from stdin (no -c / -e / script operand), i.e. from the peer.
bool ReadsCommandsFromStdin(string_view line) {
  std::vector<string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    std::size_t j = i;
    while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
    if (j > i) words.push_back(line.substr(i, j - i));
    i = j;
  }
  if (words.empty()) return false;
  const string_view program = BaseName(words[0]);
  static constexpr string_view kShells[] = {
      "sh",    "bash", "dash", "zsh",     "ksh",  "mksh",       "ash",      "fish", "yash",
      "posh",  "csh",  "tcsh", "busybox", "pwsh", "powershell", "irb",      "lua",  "php",
      "tclsh", "wish", "node", "ruby",    "perl", "python",     "osascript"};
  bool interpreter = false;
  for (string_view name : kShells) interpreter = interpreter || program == name;
  interpreter = interpreter || program.starts_with("python") || program.starts_with("perl") ||
                program.starts_with("ruby") || program.starts_with("php") ||
                program.starts_with("lua");
  if (!interpreter) return false;
  for (std::size_t k = 1; k < words.size(); ++k) {
    const string_view word = words[k];
    if (word == "-c" || word == "-e" || word == "-E" || word == "--command" || word == "-r")
      return false;  // runs the text it is given
    if (word == "-i" || word == "-l" || word == "-s" || word == "-" || word == "-li" ||
        word == "-il")
      continue;
    if (word.starts_with("-")) continue;
    if (program == "busybox" && (word == "sh" || word == "ash" || word == "bash")) continue;
    return false;  // a script operand: it runs the script, not the peer's text
  }
  return true;
}

// Where a socat address reaches: nowhere beyond this process (STDIO, a
// file), this machine's other users (a Unix socket), or the network.
enum class Reach { kNone, kLocal, kNetwork };

Reach ReachOf(const std::string& type) {
  if (type.starts_with("UNIX") || type.starts_with("ABSTRACT") || type == "LOCAL") {
    return Reach::kLocal;
  }
  static constexpr string_view kNetwork[] = {
      "TCP",     "TCP4",    "TCP6", "UDP",  "UDP4",  "UDP6",   "SCTP",     "DCCP",
      "UDPLITE", "OPENSSL", "SSL",  "DTLS", "VSOCK", "SOCKS",  "SOCKS4",   "SOCKS4A",
      "SOCKS5",  "PROXY",   "IP",   "IP4",  "IP6",   "SOCKET", "INTERFACE"};
  for (string_view prefix : kNetwork) {
    if (type == prefix) return Reach::kNetwork;
    if (type.size() > prefix.size() && type.starts_with(prefix) && type[prefix.size()] == '-')
      return Reach::kNetwork;  // TCP-LISTEN, OPENSSL-CONNECT, UDP-RECVFROM ...
  }
  return Reach::kNone;
}

void Expose(Context& ctx, string_view runner, string_view program, const std::string& peer,
            bool listening) {
  std::string reason(runner);
  reason.append(" gives ").append(program);
  reason.append(listening ? " to whoever connects to " : " to the other end of ");
  reason.append(peer);
  reason.append(": command execution on this machine for someone else");
  ctx.Emit(MakeAction("net.shell.expose", {peer}, Reversibility::kUnknown, Severity::kHigh,
                      std::move(reason)));
}

void RunCarried(const Invocation& inv, Context& ctx, const std::string& line, bool known,
                string_view runner) {
  if (!known) {
    ctx.Emit(
        MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                   std::string(runner) + " runs a command computed at run time (" + line + ")"));
    return;
  }
  if (inv.remote)
    ctx.ClassifyRemoteScript(line, inv.depth + 1);
  else
    ctx.ClassifyScript(line, inv.cwd, inv.depth + 1);
}

// socat [options] ADDRESS ADDRESS. An address is TYPE:params,option,...;
// EXEC:cmd and SYSTEM:cmd run cmd with the other address as its stdio.
void HandleSocat(const Invocation& inv, Context& ctx) {
  const Args args = Args(inv.argv).subspan(1);
  std::vector<Arg> addresses =
      Operands(args, {"-T", "-t", "-b", "-lf", "-lp", "-L", "-W", "-s", "-o"});
  // "-" alone is STDIO; Operands may treat it as an option-like word.
  if (addresses.size() < 2) {
    addresses.clear();
    for (const Arg& arg : args)
      if (arg.text == "-" || !arg.text.starts_with("-")) addresses.push_back(arg);
  }
  if (addresses.size() < 2) return;
  for (std::size_t i = 0; i < 2; ++i) {
    const string_view text = addresses[i].text;
    const auto colon = text.find(':');
    if (colon == string_view::npos) continue;
    const std::string type = Upper(text.substr(0, colon));
    if (type != "EXEC" && type != "SYSTEM") continue;
    string_view command = text.substr(colon + 1);
    command = command.substr(0, command.find(','));
    RunCarried(inv, ctx, std::string(command), addresses[i].known, "socat");
    const Arg& other = addresses[1 - i];
    const std::string other_type = Upper(other.text.substr(0, other.text.find_first_of(":,")));
    if (ReachOf(other_type) != Reach::kNone && ReadsCommandsFromStdin(command))
      Expose(ctx, "socat", command, other.text, other_type.find("LISTEN") != std::string::npos);
  }
}

// nc / ncat / netcat: -e PROG runs PROG on the connection, -c CMD (ncat:
// --sh-exec) runs CMD with /bin/sh; -l listens.
void HandleNetcat(const Invocation& inv, Context& ctx) {
  const Args args = Args(inv.argv).subspan(1);
  std::string command;
  bool known = true;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const string_view text = args[i].text;
    auto take = [&](string_view flag) {
      if (text == flag && i + 1 < args.size()) {
        command = args[i + 1].text;
        known = args[i + 1].known;
        return true;
      }
      if (flag.starts_with("--") && text.starts_with(std::string(flag) + "=")) {
        command = std::string(text.substr(flag.size() + 1));
        known = args[i].known;
        return true;
      }
      return false;
    };
    if (take("-e") || take("--exec") || take("-c") || take("--sh-exec") || take("--lua-exec"))
      break;
  }
  if (command.empty()) return;
  const string_view runner = inv.name();
  RunCarried(inv, ctx, command, known, runner);
  if (!ReadsCommandsFromStdin(command)) return;
  const bool listening = HasShortFlag(args, 'l') || HasLongFlag(args, "--listen");
  std::string peer;
  for (const Arg& operand : Operands(args, {"-e", "--exec", "-c", "--sh-exec", "--lua-exec", "-p",
                                            "-s", "-w", "-i", "-q", "-x", "-X", "-g", "-G"}))
    peer += (peer.empty() ? "" : " ") + operand.text;
  if (const std::string port = OptionValue(args, "-p"); !port.empty())
    peer += (peer.empty() ? "port " : " port ") + port;
  if (peer.empty()) peer = listening ? "a listening port" : "the network";
  Expose(ctx, runner, command, peer, listening);
}

constexpr PackEntry kRelays[] = {
    {"socat", HandleSocat},   {"nc", HandleNetcat},         {"ncat", HandleNetcat},
    {"netcat", HandleNetcat}, {"nc.openbsd", HandleNetcat}, {"nc.traditional", HandleNetcat},
};

}  // namespace

std::span<const PackEntry> RelayPack() {
  return kRelays;
}

}  // namespace dualkey::shell
