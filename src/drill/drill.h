// `dualkey drill`: attacks the installation it runs on, safely, and reports
// what would have got through.
//
// It finds what is installed (the agents' hooks as their configs have them,
// the wrapped MCP servers, the daemon, the PostgreSQL proxy and the HTTP
// gateway, the policy layers), then sends a battery of several hundred
// attempts (data: src/drill/battery/*.jsonl, plus the machine's and the
// user's own files) through each real integration: the hooks get the
// agent's own JSON and answer with --probe (nothing executes, nothing is
// registered), SQL goes through the proxy and API calls through the gateway
// only to canaries the drill makes for itself, MCP calls through each
// wrapper to a stand-in server, and a burst of real checks must trip the
// breaker, which the drill's own test approver then resets. Afterwards the
// canaries are hashed against their start, the audit log is verified and
// must hold every attempt, everything the drill made is removed, and the
// daemon signs a certificate of the results with the audit key.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace dualkey::drill {

struct Options {
  std::string user;                  // whose agents; default: $SUDO_USER as root, else you
  std::vector<std::string> battery;  // extra battery files
  bool builtin = true;               // the built-in battery (--no-builtin: only yours)
  std::vector<std::string> only;     // channels or integration kinds to drill (empty: all)
  std::string project_dir;           // project configs to look at too
  bool json = false;
  bool verbose = false;
  std::string html;         // write the HTML report here
  std::string certificate;  // write the certificate here ("" = dualkey-drill.cert.json)
  bool no_certificate = false;
  double fail_under = -1;  // percent of destructive attempts that must be held
  int jobs = 2;            // hook processes at once
};

// Exit status: 0 every destructive attempt held, nothing lost, no finding
// (and --fail-under met); 1 otherwise; 2 the drill could not run.
int Run(const Options& options, std::ostream& out, std::ostream& err);

struct ListOptions {
  std::vector<std::string> battery;
  bool builtin = true;
  std::string user;
  bool json = false;
};
// `dualkey drill --list`: the battery in force.
int List(const ListOptions& options, std::ostream& out, std::ostream& err);

struct VerifyOptions {
  std::string path;
  std::string public_key;  // hex; default: /etc/dualkey/audit.pub on a protected install
  bool json = false;
};
// `dualkey drill verify CERT`: 0 valid and signed by the expected key, 1 not,
// 2 unreadable.
int Verify(const VerifyOptions& options, std::ostream& out, std::ostream& err);

// The stand-in MCP server the drill puts behind a wrapper (hidden option).
int McpStandin(const std::string& spec_path);

}  // namespace dualkey::drill
