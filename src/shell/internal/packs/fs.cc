// The file system pack: commands that delete, empty or overwrite files (rm,
// unlink, rmdir, shred, truncate, mv and cp onto special targets, rsync
// --delete, tar --remove-files, tee, recursive chmod/chown) and file
// redirections. Severity comes from where the target is (paths.h): build
// output, caches and temp paths are low and allowed; ordinary project files
// are low for single-file work and medium when a whole tree goes; data,
// system, home, root and backups are high or critical.
//
// This file holds the pack table; the handlers live under packs/fs/, with
// the judgement they share (fs/assess.cc) declared in packs/fs/fs.h.
#include "shell/internal/packs/fs/fs.h"

#include "shell/internal/packs/packs.h"

namespace dualkey::shell {
namespace {

constexpr PackEntry kFsPack[] = {
    {"rm", fs::HandleRm},
    {"unlink", fs::HandleUnlink},
    {"rmdir", fs::HandleRmdir},
    {"shred", fs::HandleShred},
    {"truncate", fs::HandleTruncate},
    {"mv", fs::HandleMv},
    {"cp", fs::HandleCp},
    {"rsync", fs::HandleRsync},
    {"tar", fs::HandleTar},
    {"gtar", fs::HandleTar},
    {"tee", fs::HandleTee},
    {"sort", fs::HandleSort},
    {"sed", fs::HandleSed},
    {"gsed", fs::HandleSed},
    {"install", fs::HandleInstall},
    {"ln", fs::HandleLn},
    {"fallocate", fs::HandleFallocate},
    {"rimraf", fs::HandleRimraf},
    {"chmod", fs::HandlePermissions},
    {"chown", fs::HandlePermissions},
    {"chgrp", fs::HandlePermissions},
};

}  // namespace

std::span<const PackEntry> FsPack() {
  return kFsPack;
}

}  // namespace dualkey::shell
