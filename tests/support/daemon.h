// What the tests that run a real `dualkey serve` share: starting and stopping
// the daemon, running the CLI against it, reading its audit log, quoting
// for the shell and the current TOTP code. A library (dualkey_test_support)
// every test binary links; nothing here is mocked.
#pragma once

#include <sys/types.h>

#include <csignal>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dualkey::test_support {

struct Output {
  int status = -1;  // the exit status; -1 when it did not exit
  std::string out;
};

// 'text' for sh, with embedded quotes escaped.
std::string Quote(const std::string& text);
// Runs `command` with sh; its standard output (add 2>&1 for the errors).
Output Shell(const std::string& command);
// The TOTP code of `secret` now, or `step_offset` 30 s steps away.
std::string TotpCode(const std::string& secret, int step_offset = 0);

// A `dualkey serve --state STATE --socket SOCKET --quiet EXTRA...` child.
class DaemonProcess {
 public:
  DaemonProcess() = default;
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;
  ~DaemonProcess() { Stop(); }

  // Starts it and waits (up to `wait_ms`) until it answers a status
  // request on the socket; false when it did not (it may still run).
  bool Start(const std::string& state, const std::string& socket,
             const std::vector<std::string>& extra = {}, int wait_ms = 5000);
  // Signals it and waits for it to exit. Nothing when it is not running.
  void Stop(int signal_number = SIGTERM);
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// The shell command that runs the dualkey CLI (DUALKEY_BINARY) with `args`
// against one daemon: HOME, DUALKEY_SOCKET and DUALKEY_STATE_DIR set.
std::string CliCommand(const std::string& home, const std::string& socket, const std::string& state,
                       const std::string& args);

// The "fields" of every record of `kind` in the audit log at `path`, in
// the order written, as audit::Read gives them (each decision of a
// "decisions" batch as a "decision" record).
std::vector<nlohmann::json> AuditRecords(const std::string& path, const std::string& kind);
// Every entry of the audit log at `path` as audit::Read gives it:
// {"seq", "item" (a decision of a batch only), "time_ms", "kind", "fields"}.
std::vector<nlohmann::json> AuditEntries(const std::string& path);

}  // namespace dualkey::test_support
