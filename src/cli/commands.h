// The dualkey command line: one function per subcommand, called by main.cc
// after argument parsing. Each returns the process exit status.
#pragma once

#include <string>
#include <vector>

namespace dualkey::cli {

struct CheckOptions {
  std::string channel = "shell";
  std::string cwd;            // empty: the current directory (single check)
  bool cwd_given = false;
  std::string home;           // empty: $HOME
  bool json = false;
  std::string jsonl;          // file, or "-" for stdin
  std::vector<std::string> command;  // the words after --, joined by spaces
};

// Exit status: 0 allow, 1 held or denied, 2 usage or input errors.
int RunCheck(const CheckOptions& options);

}  // namespace dualkey::cli
