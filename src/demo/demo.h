// `dualkey demo`: replays the 47-command incident against a throwaway
// production (a real PostgreSQL, files, backups, a stand-in platform API)
// through dualkey's real integrations, then shows the human end: one approval
// with a TOTP code, the vault snapshot first, and the undo.
#pragma once

#include <string>

namespace dualkey::demo {

struct Options {
  bool json = false;   // print the final table as one JSON object
  bool keep = false;   // leave everything running until Ctrl-C, with how to connect
  std::string dir;     // where the throwaway production lives (default: a new
                       // directory under $XDG_DATA_HOME/dualkey or ~/.local/share/dualkey)
  std::string binary;  // the dualkey binary to run (default: this one)
};

// Returns 0 when nothing was lost and every promise held, 1 otherwise, 2
// when the demo could not be set up (with the reason on stderr).
int Run(const Options& options);

}  // namespace dualkey::demo
