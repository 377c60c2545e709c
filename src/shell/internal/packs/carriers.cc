// Carriers: commands that run code later or somewhere else, and files that
// hold code something runs. What a carrier runs is judged as the command it
// carries; when the carried code cannot be known, the action is opaque.
//
// - Files run as code (ClassifyCodeFile): bash FILE, ./FILE, source FILE,
//   make -f FILE, crontab FILE, at -f FILE, BASH_ENV=FILE.
// - Scheduled: at, batch, crontab (stdin or FILE), files written into cron
//   directories, shell startup files, git hooks, systemd units, autostart.
// - Editors and multiplexers: vim/ex -c '!...', emacs --eval, tmux new/
//   send-keys/run-shell, screen -dm/-X stuff, expect spawn/send, gdb -ex.
// - Prefix runners, as a table (data): unshare, nsenter, bwrap, strace,
//   firejail, poetry run, uv run, op run -- ..., xterm -e ...
//
// This file holds the pack table; the handlers live under packs/carriers/,
// one file per kind of carrier, with their shared helpers in
// packs/carriers/carriers.h.
#include "shell/internal/packs/carriers/carriers.h"

#include <iterator>
#include <vector>

#include "shell/internal/packs/packs.h"

namespace dualkey::shell {
namespace {

constexpr PackEntry kCarriers[] = {
    {"at", carriers::HandleAt},
    {"batch", carriers::HandleAt},
    {"crontab", carriers::HandleCrontab},
    {"tmux", carriers::HandleTmux},
    {"screen", carriers::HandleScreen},
    {"vim", carriers::HandleVim},
    {"vi", carriers::HandleVim},
    {"nvim", carriers::HandleVim},
    {"gvim", carriers::HandleVim},
    {"view", carriers::HandleVim},
    {"vimdiff", carriers::HandleVim},
    {"ex", carriers::HandleVim},
    {"exim", carriers::HandleVim},
    {"emacs", carriers::HandleEmacs},
    {"emacsclient", carriers::HandleEmacs},
    {"expect", carriers::HandleExpect},
    {"make", carriers::HandleMake},
    {"gmake", carriers::HandleMake},
    {"bmake", carriers::HandleMake},
    {"gdb", carriers::HandleGdb},
    {"coreutils", carriers::HandleCoreutils},
    {"ip", carriers::HandleIp},
    {"capsh", carriers::HandleCapsh},
    {"sg", carriers::HandleSg},
    {"nodemon", carriers::HandleScriptOption},
    {"nix-shell", carriers::HandleScriptOption},
    {"nix", carriers::HandleScriptOption},
    {"sops", carriers::HandleScriptOption},
};

// The runner table's names, registered with one handler.
std::vector<PackEntry> BuildCarrierTable() {
  std::vector<PackEntry> table(std::begin(kCarriers), std::end(kCarriers));
  for (const carriers::RunnerSpec& spec : carriers::Runners())
    table.push_back({spec.name, carriers::HandleRunner});
  for (const carriers::RunnerSpec& spec : carriers::TerminalRunners())
    table.push_back({spec.name, carriers::HandleRunner});
  return table;
}

}  // namespace

std::span<const PackEntry> CarrierPack() {
  static const std::vector<PackEntry> table = BuildCarrierTable();
  return table;
}

}  // namespace dualkey::shell
