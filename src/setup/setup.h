// `sudo dualkey setup`: the protected install in one command, and `dualkey
// doctor`, which says plainly what the install protects for the user who
// runs it.
//
// setup creates the daemon's system user, puts the state (store, approver
// secrets, audit log and key, vault) under /var/lib/dualkey owned by it
// (0700, files 0600), the system policy under /etc/dualkey (root's), the
// socket under /run/dualkey, copies the binary to /usr/local/bin/dualkey
// (root's: hooks no longer point into a build tree, and an agent cannot
// replace it), writes /etc/dualkey/install.toml (which switches every client
// into protected mode), starts `dualkey serve` as the daemon user (systemd
// units where systemd runs, a privilege-dropped process with a pid file where
// it does not), wires the agents' hooks (their managed, root-owned configs
// where they have one, the user's own configs as well), enrols the first
// approver, and ends with doctor. Every step first looks at what is there:
// a second run changes nothing and says so; an interrupted run is finished
// by the next one. `--remove` undoes it all but keeps the vault and the
// audit log.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace dualkey::setup {

struct Options {
  std::string user;                 // whose agents to wire; default $SUDO_USER
  std::string approver;             // the first approver; empty: ask on a terminal
  std::string daemon_user;          // default: the one setup recorded, else "dualkey"
  std::vector<std::string> agents;  // default: claude, cursor, codex, gemini
  bool remove = false;              // undo (keeps the vault and the audit log)
  bool stop = false;                // stop the daemon only (no systemd: the pid file)
  bool dry_run = false;             // say what would change, change nothing
  bool json = false;
  bool no_doctor = false;
  std::string binary;  // the binary to install; default: this one
  // For a package's maintainer scripts: the system part only (user,
  // directories, policy, install file; the daemon where systemd does not
  // run it), no hooks, approver or doctor; and the binary the package
  // installed, used in place (never copied to /usr/local/bin).
  bool system_only = false;
  std::string installed_binary;
};

// Exit status: 0 done (or nothing to do) and doctor found every protection
// in place; 1 done but doctor reports a missing protection; 2 a step failed
// or the options are wrong.
int Run(const Options& options, std::ostream& out, std::ostream& err);

struct DoctorOptions {
  std::string home;         // the invoking user's home
  std::string project_dir;  // project configs to check too
  bool json = false;
  bool probe = true;  // run hooks with --probe (nothing registered)
};

// For the user running it: is the install protected, can this user read
// approver secrets or write the store, the audit log, the policy, the vault,
// does the socket's listener run as the daemon user, are the hooks installed
// and answering, are environment overrides ignored. Each failure names the
// one command that fixes it. Changes nothing. Exit status 0 when every
// protection is in place, 1 otherwise.
int Doctor(const DoctorOptions& options, std::ostream& out, std::ostream& err);

}  // namespace dualkey::setup
