// Credential reads: commands that print, copy, encode or send a known
// credential file (~/.aws/credentials, .env, ~/.ssh/id_*, CLI token configs,
// dualkey's own credential store) or dump the environment's secrets. An agent
// that has read a key can use it anywhere, outside every guard; so these are
// held (secret.read) like a destructive action. It runs for every command
// (classify.cc), beside the command's own pack: `cp .env /tmp/x` is both a
// copy (fs pack) and a secret read (here).
#include <algorithm>
#include <array>
#include <cctype>
#include <span>
#include <string>
#include <string_view>

#include "protect/protect.h"
#include "shell/internal/packs/packs.h"
#include "shell/internal/paths.h"

namespace dualkey::shell {
namespace {

using std::string_view;

// Commands that print, transform, copy or send the files they are given.
constexpr std::array<string_view, 58> kReaders = {
    "cat",    "tac",   "head",    "tail",    "less",   "more",   "bat",    "batcat", "nl",
    "od",     "xxd",   "hexdump", "strings", "base64", "base32", "basenc", "cp",     "scp",
    "rsync",  "tar",   "zip",     "7z",      "gzip",   "bzip2",  "xz",     "zstd",   "openssl",
    "gpg",    "awk",   "gawk",    "mawk",    "sed",    "jq",     "yq",     "sort",   "uniq",
    "cut",    "grep",  "egrep",   "fgrep",   "rg",     "ag",     "ack",    "dd",     "curl",
    "wget",   "http",  "https",   "xh",      "nc",     "ncat",   "socat",  "diff",   "paste",
    "column", "xclip", "pbcopy",  "install"};

// Readers that take a directory and read everything under it.
constexpr std::array<string_view, 8> kTreeReaders = {"rsync", "tar", "zip", "7z",
                                                     "rg",    "ag",  "ack", "scp"};

// Copy-like commands whose last operand is the destination, not a source.
constexpr std::array<string_view, 4> kCopies = {"cp", "scp", "rsync", "install"};

}  // namespace

// True for files whose contents are credentials (protect/protect.h keeps the
// list for every channel).
bool IsCredentialFile(string_view path, string_view home) {
  return protect::IsCredentialFile(path, home);
}

namespace {

// Directories that hold credential files: reading them whole reads those.
bool IsCredentialDirectory(string_view path, string_view home) {
  if (path.empty()) return false;
  if (!home.empty() && path == home) return true;
  for (string_view relative :
       {".aws", ".ssh", ".config", ".kube", ".docker", ".railway", ".fly", ".gnupg", ".azure",
        ".config/gcloud", ".config/gh", ".local/state/dualkey"})
    if (!home.empty() && path == std::string(home) + "/" + std::string(relative)) return true;
  return path.ends_with("/dualkey/credentials");
}

std::string_view SecretVariable(string_view text) {
  // "$NAME", "${NAME}", "prefix$NAME": the variable's name.
  std::size_t dollar = text.find('$');
  if (dollar == string_view::npos) return {};
  string_view rest = text.substr(dollar + 1);
  if (rest.starts_with("{")) rest.remove_prefix(1);
  std::size_t end = 0;
  while (end < rest.size() &&
         (std::isalnum(static_cast<unsigned char>(rest[end])) || rest[end] == '_'))
    ++end;
  return rest.substr(0, end);
}

bool SecretName(string_view name) {
  std::string upper(name);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (string_view word : {"TOKEN", "SECRET", "PASSWORD", "PASSWD", "API_KEY", "APIKEY",
                           "ACCESS_KEY", "PRIVATE_KEY", "CREDENTIAL", "AUTH"})
    if (upper.find(word) != std::string::npos) return true;
  return upper == "DATABASE_URL" || upper.ends_with("_PAT");
}

Action SecretRead(std::string target, std::string reason) {
  return MakeAction("secret.read", {std::move(target)}, Reversibility::kIrreversible,
                    Severity::kHigh, std::move(reason));
}

// The path an argument names, if any: "@file" (curl -d, -F name=@file),
// "if=file" (dd), "--opt=file".
string_view PathPart(string_view text) {
  if (std::size_t at = text.find("=@"); at != string_view::npos)
    text = text.substr(at + 2);
  else if (text.starts_with("@"))
    text.remove_prefix(1);
  else if (text.starts_with("if="))
    text.remove_prefix(3);
  else if (text.starts_with("--") && text.find('=') != string_view::npos)
    text = text.substr(text.find('=') + 1);
  if (std::size_t semicolon = text.find(';'); semicolon != string_view::npos)
    text = text.substr(0, semicolon);  // curl -F "f=@file;type=text/plain"
  return text;
}

bool HasRecursiveFlag(std::span<const Arg> args) {
  return HasShortFlag(args, 'r') || HasShortFlag(args, 'R') || HasLongFlag(args, "--recursive") ||
         HasLongFlag(args, "--dereference-recursive") || HasShortFlag(args, 'a');
}

}  // namespace

void ClassifyCredentialAccess(const Invocation& inv, Context& ctx) {
  const string_view home = ctx.home();
  // `cmd < ~/.aws/credentials`: whatever the command, it gets the secret.
  for (const FileRedirect& redirect : inv.redirects) {
    if (redirect.kind != RedirectKind::kRead || !redirect.target.known) continue;
    ResolvedPath path = ResolvePath(redirect.target, inv.cwd, home);
    if (IsCredentialFile(path.path, home))
      ctx.Emit(SecretRead(path.path, "feeds the credential file " + path.path +
                                         " to a command; an agent that reads a key can use it "
                                         "anywhere (keep it in dualkey: dualkey scan)"));
  }
  if (inv.argv.empty() || !inv.NameKnown()) return;
  const string_view name = inv.name();
  std::span<const Arg> args(inv.argv.data() + 1, inv.argv.size() - 1);

  // The environment, with every secret in it.
  if ((name == "env" || name == "printenv") && args.empty()) {
    ctx.Emit(SecretRead("environment", std::string(name) +
                                           " prints every environment variable, tokens and "
                                           "passwords included"));
    return;
  }
  if (name == "printenv") {
    for (const Arg& arg : args)
      if (SecretName(arg.text))
        ctx.Emit(SecretRead("$" + arg.text, "prints the secret variable " + arg.text));
    return;
  }
  if (name == "echo" || name == "printf") {
    for (const Arg& arg : args) {
      if (arg.known) continue;
      string_view variable = SecretVariable(arg.text);
      if (!variable.empty() && SecretName(variable))
        ctx.Emit(
            SecretRead("$" + std::string(variable),
                       std::string(name) + " prints the secret variable " + std::string(variable)));
    }
    return;
  }

  if (std::find(kReaders.begin(), kReaders.end(), name) == kReaders.end()) return;
  if (name == "sed" && (HasShortFlag(args, 'i') || HasLongFlag(args, "--in-place"))) return;
  const bool copies = std::find(kCopies.begin(), kCopies.end(), name) != kCopies.end();
  const bool tree =
      std::find(kTreeReaders.begin(), kTreeReaders.end(), name) != kTreeReaders.end() ||
      ((name == "grep" || name == "egrep" || name == "fgrep" || name == "cp") &&
       HasRecursiveFlag(args));
  // The destination of a copy is written, not read.
  std::size_t last_source = args.size();
  if (copies) {
    std::size_t operands = 0, last = args.size();
    bool after_dashes = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (!after_dashes && args[i].text == "--") {
        after_dashes = true;
        continue;
      }
      if (!after_dashes && args[i].text.starts_with("-")) continue;
      ++operands;
      last = i;
    }
    if (operands >= 2) last_source = last;
  }
  // grep PATTERN FILE..., jq FILTER FILE...: the first operand is no file.
  static constexpr std::array<string_view, 12> kPatternFirst = {
      "grep", "egrep", "fgrep", "rg", "ag", "ack", "awk", "gawk", "mawk", "sed", "jq", "yq"};
  std::size_t pattern = args.size();
  if (std::find(kPatternFirst.begin(), kPatternFirst.end(), name) != kPatternFirst.end() &&
      !HasShortFlag(args, 'e') && !HasShortFlag(args, 'f') && !HasLongFlag(args, "--regexp") &&
      !HasLongFlag(args, "--file")) {
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (args[i].text.starts_with("-") && args[i].text != "-") continue;
      pattern = i;
      break;
    }
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (i == last_source || i == pattern || !args[i].known) continue;
    if (name == "tar" && i > 0 && (args[i - 1].text == "-C" || args[i - 1].text == "--directory"))
      continue;
    string_view text = PathPart(args[i].text);
    if (text.empty() || (text.starts_with("-") && text == args[i].text)) continue;
    if (text.find("://") != string_view::npos) continue;
    ResolvedPath path = ResolvePath(Arg{std::string(text)}, inv.cwd, home);
    if (path.path.empty()) continue;
    if (IsCredentialFile(path.path, home)) {
      ctx.Emit(SecretRead(path.path, std::string(name) + " reads the credential file " + path.path +
                                         "; an agent that reads a key can use it anywhere, "
                                         "outside every guard (keep it in dualkey: dualkey scan)"));
    } else if (tree && IsCredentialDirectory(path.path, home)) {
      ctx.Emit(SecretRead(path.path, std::string(name) + " reads all of " + path.path +
                                         ", where credential files live"));
    }
  }
}

}  // namespace dualkey::shell
