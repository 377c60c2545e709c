// The classifier packs: one table per family of commands. Each file under
// packs/ defines one of these functions (a large pack keeps its handlers in a
// folder of the same name, packs/fs/ for fs.cc); the dispatcher (classify.cc)
// looks a command's basename up in all of them. Helpers several packs share
// are in packs/shared.h.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/invocation.h"

namespace dualkey::packs {
class Catalog;
}

namespace dualkey::shell {

std::span<const PackEntry> WrapperPack();  // wrappers.cc: sudo, env, xargs, find, bash -c, ssh ...
std::span<const PackEntry> CarrierPack();  // carriers.cc: code run later or elsewhere: at, crontab,
                                           // tmux, screen, vim, emacs, expect, make -f, unshare ...
std::span<const PackEntry>
InterpreterPack();                       // interpreters.cc: python -c, node -e, perl -e, awk ...
std::span<const PackEntry> FsPack();     // fs.cc: rm, rmdir, shred, truncate, mv, rsync, tar ...
std::span<const PackEntry> GitPack();    // git.cc
std::span<const PackEntry> DiskPack();   // disk.cc: dd, mkfs*, wipefs, parted, lvremove, zfs ...
std::span<const PackEntry> DbCliPack();  // dbcli.cc: psql, mysql, sqlite3, redis-cli, mongosh ...
std::span<const PackEntry> ContainerPack();  // containers.cc: docker, podman, kubectl, helm
std::span<const PackEntry> IacPack();        // iac.cc: terraform, tofu, pulumi
std::span<const PackEntry>
CloudPack();  // cloud.cc: aws, gcloud, gsutil, az, doctl, fly, railway ...
std::span<const PackEntry> BackupPack();  // backup.cc: restic, borg, kopia, rclone, pgbackrest ...
std::span<const PackEntry> HttpClientPack();  // http_clients.cc: curl, wget, http/https, xh
std::span<const PackEntry> RelayPack();  // relays.cc: socat EXEC:/SYSTEM:, nc -e/-c (bind shells)

// Every command, beside its own pack (credentials.cc): reads of credential
// files (~/.aws/credentials, .env, ~/.ssh/id_*) and dumps of secret variables.
void ClassifyCredentialAccess(const Invocation& inv, Context& ctx);
bool IsCredentialFile(std::string_view path, std::string_view home);

// Classifies a file redirection that writes (`> file` truncates it).
void ClassifyRedirect(const FileRedirect& redirect, const Invocation& inv, Context& ctx);

// tamper.cc: every command, beside its own pack: what it does to dualkey
// itself (protect/protect.h). Writing, moving, deleting or chmod-ing its
// state, keys, socket, policy or binary, an agent's hook config, a startup
// file that sets DUALKEY_*/XDG_*/PATH; reading approver secrets or the audit
// key: guard.tamper, which the policy never decides below hold2.
void ClassifyGuardTamper(const Invocation& inv, Context& ctx);
// Starts a new input for ClassifyGuardTamper: it remembers, within one input,
// that a command looked up dualkey's process or binary (`pgrep dualkey`,
// `command -v dualkey`), so that `kill $(pgrep -f dualkey)` and `cp x
// "$(command -v dualkey)"` are held though their operands are computed.
void BeginGuardTamperInput();

// For code another language runs (interpreter one-liners, scripts the
// evaluator follows): emits guard.tamper and returns true when the code names
// one of dualkey's files or an agent's hook config and writes (or names a
// secret at all). `who` names the runner for the reason ("python3").
bool ClassifyGuardText(std::string_view code, std::string_view who, Context& ctx);

// data.cc: every command no C++ pack handles. The data packs (packs/*.toml
// compiled in, plus the catalog's user packs; null means built-ins only)
// classify the tools they name; anything else, and any subcommand no rule
// of its pack names, goes through ClassifyVerbPath.
void ClassifyWithDataPacks(const Invocation& inv, Context& ctx, const packs::Catalog* catalog);

// The rule for the unknown: reads the command's verb path (leading
// non-option words, long options) with the shared vocabulary (core/verbs.h)
// and emits a held Action for a destroying verb, naming it; nothing for
// reads, writes and commands without verbs.
struct VerbPathSpec {
  std::string_view tool_name;  // shown in reasons; default: the command's name
  const std::vector<std::string>* value_options = nullptr;  // skip their values
  std::size_t depth = 4;                                    // leading words read
  bool known = false;                                       // a pack names the tool
  std::string destroy_class = "unknown.delete";
  Severity destroy_severity = Severity::kMedium;
  std::string origin = "unknown-command rule";
};
void ClassifyVerbPath(const Invocation& inv, Context& ctx, const VerbPathSpec& spec);

// A write to `target` by some command (fs/assess.cc): `emptying` when the file is
// left empty, `append` when its data is kept. Judged like a redirection.
void ClassifyWriteTo(const Arg& target, bool append, bool emptying, std::string_view verb,
                     const Invocation& inv, Context& ctx);

// How the code in a file is run (carriers/code_files.cc, ClassifyCodeFile).
enum class CodeLanguage {
  kShell,      // bash FILE, source FILE, bash < FILE
  kByShebang,  // ./FILE: its #! line picks the interpreter (none: the shell)
  kMakefile,   // make -f FILE: recipes are shell text
  kCrontab,    // crontab FILE: five time fields, then a command
};

// Runs the code a file holds, as read through ctx.ReadCodeFile: a file the
// line wrote is classified whatever it holds (unknown content is opaque); a
// file on this machine is read (bounded) and classified as the project's
// code; one that cannot be read or is too large is opaque; a missing one runs
// nothing. `what` names the command for reasons ("bash deploy.sh").
void ClassifyCodeFile(const Invocation& inv, Context& ctx, const Arg& path, CodeLanguage language,
                      const std::string& what);
// The same for code text already in hand, e.g. a here-document fed to make.
void ClassifyCodeText(const Invocation& inv, Context& ctx, std::string_view text,
                      CodeLanguage language, const std::string& what, bool project_code);

// Interpreter code (interpreters/scan.cc) in the language `interpreter` names
// (python3, node, perl, ruby, php, lua ...). False when it names no language
// dualkey scans.
bool ScanInterpreterCode(std::string_view interpreter, std::string_view code, const Invocation& inv,
                         Context& ctx);

// Code written to where something runs it later (carriers/scheduled.cc): crontabs and
// cron directories, shell startup files, git hooks, systemd units, autostart
// entries. `file` is what was written (kUnknown: computed at run time).
// Returns false when `path` is no such place.
bool ClassifyCodeThatRunsLater(std::string_view path, const CodeFile& file, const Invocation& inv,
                               Context& ctx);

}  // namespace dualkey::shell
