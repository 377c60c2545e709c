// `sudo dualkey setup`: the daemon as a service (systemd units, or a process
// with a pid file), started, waited for, stopped; its audit key pinned.
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "approval/approval.h"
#include "base/file_text.h"
#include "base/toml_text.h"
#include "client/client.h"
#include "hook/install.h"
#include "install/layout.h"
#include "setup/internal/steps.h"
#include "setup/internal/units.h"
#include "setup/system.h"

namespace dualkey::setup::internal {

bool Setup::WaitForDaemon(std::string* why, pid_t pid) {
  for (int waited = 0; waited < kDaemonStartMs; waited += 50) {
    if (pid > 0 && !sys::ProcessAlive(pid)) {
      *why = "the daemon exited at once";
      break;
    }
    std::string error;
    if (AskDaemon(*daemon_, daemon_user_, json{{"op", "status"}}, &error, 2000)) return true;
    timespec ts{0, 50 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
  if (why->empty())
    *why = "the daemon did not answer on " + std::string(kSocket) + " within " +
           std::to_string(kDaemonStartMs / 1000) + " s";
  std::string log;
  if (base::ReadFile(std::string(kStateDir) + "/serve.log", &log) && !log.empty()) {
    if (log.size() > 600) log = log.substr(log.size() - 600);
    *why += "; its log (" + std::string(kStateDir) + "/serve.log) ends: " + log;
  }
  return false;
}

// No systemd: the daemon as a process of its own (setsid, reparented to
// init), privileges dropped before exec, its pid in the pid file.
bool Setup::StartDirect() {
  const std::string log_path = std::string(kStateDir) + "/serve.log";
  int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (log_fd < 0 || fchown(log_fd, daemon_->uid, daemon_->gid) != 0) {
    Record("daemon", "failed", "cannot open " + log_path + ": " + std::strerror(errno));
    if (log_fd >= 0) close(log_fd);
    return false;
  }
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    close(log_fd);
    Record("daemon", "failed", std::string("pipe: ") + std::strerror(errno));
    return false;
  }
  const bool use_setpriv = sys::HaveProgram("setpriv");
  std::vector<std::string> argv;
  if (use_setpriv) {
    // Read access to the files it must save into the vault: nothing more.
    argv = {"setpriv",
            "--reuid",
            std::to_string(daemon_->uid),
            "--regid",
            std::to_string(daemon_->gid),
            "--init-groups",
            "--inh-caps",
            "-all,+dac_read_search",
            "--ambient-caps",
            "-all,+dac_read_search",
            "--bounding-set",
            "-all,+dac_read_search",
            "--no-new-privs",
            "--"};
  }
  for (const char* arg : {binary_.c_str(), "serve", "--state", kStateDir, "--socket", kSocket})
    argv.push_back(arg);
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const std::string home = "HOME=" + std::string(kStateDir);
  const std::string user = "USER=" + daemon_->name;
  const std::string logname = "LOGNAME=" + daemon_->name;
  std::vector<const char*> envp = {
      home.c_str(),    user.c_str(),
      logname.c_str(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "LANG=C.UTF-8",  nullptr};

  pid_t child = fork();
  if (child < 0) {
    close(log_fd);
    close(report[0]);
    close(report[1]);
    Record("daemon", "failed", std::string("fork: ") + std::strerror(errno));
    return false;
  }
  if (child == 0) {
    setsid();
    pid_t grandchild = fork();
    if (grandchild != 0) {
      if (grandchild > 0) {
        ssize_t ignored = write(report[1], &grandchild, sizeof(grandchild));
        (void)ignored;
      }
      _exit(grandchild > 0 ? 0 : 1);
    }
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    if (chdir(kStateDir) != 0) _exit(126);
    umask(077);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!use_setpriv) {
      if (initgroups(daemon_->name.c_str(), daemon_->gid) != 0 ||
          setresgid(daemon_->gid, daemon_->gid, daemon_->gid) != 0 ||
          setresuid(daemon_->uid, daemon_->uid, daemon_->uid) != 0 ||
          prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        _exit(126);
      execve(binary_.c_str(), args.data(), const_cast<char* const*>(envp.data()));
    } else {
      // setpriv is found through PATH; the daemon itself is an absolute path.
      for (const char* dir : {"/usr/bin/setpriv", "/bin/setpriv", "/usr/sbin/setpriv"})
        execve(dir, args.data(), const_cast<char* const*>(envp.data()));
    }
    _exit(127);
  }
  close(log_fd);
  close(report[1]);
  pid_t daemon_pid = 0;
  ssize_t n = read(report[0], &daemon_pid, sizeof(daemon_pid));
  close(report[0]);
  int raw = 0;
  while (waitpid(child, &raw, 0) < 0 && errno == EINTR) {
  }
  if (n != sizeof(daemon_pid) || daemon_pid <= 0) {
    Record("daemon", "failed", "could not start the daemon process");
    return false;
  }
  bool ignored = false;
  (void)sys::WriteFileAtomically(kPidFile, std::to_string(daemon_pid) + "\n", 0, 0, 0644, &ignored);
  std::string why;
  if (!WaitForDaemon(&why, daemon_pid)) {
    sys::StopProcess(daemon_pid, 1000);
    unlink(kPidFile);
    Record("daemon", "failed", why);
    return false;
  }
  Record("daemon", "done",
         "started `dualkey serve` as " + daemon_->name + " (pid " + std::to_string(daemon_pid) +
             ", pid file " + kPidFile + ", log " + std::string(kStateDir) +
             "/serve.log; no systemd here: `sudo dualkey setup` starts it again after a reboot, "
             "`sudo dualkey setup --stop` stops it)");
  return true;
}

void Setup::StepSystemdUnits(bool binary_changed) {
  internal::UnitValues values;
  values.daemon_user = daemon_user_;
  values.daemon_group = daemon_ ? sys::GroupName(daemon_->gid) : daemon_user_;
  bool units_changed = false;
  for (const internal::Unit& unit : internal::RenderUnits(values)) {
    const std::string path = std::string(internal::kUnitDirectory) + "/" + unit.name;
    std::string current;
    if (base::ReadFile(path, &current) && current == unit.text) continue;
    if (options_.dry_run) {
      Record(path, "would", "write the unit");
      continue;
    }
    bool changed = false;
    if (!Check(path, sys::WriteFileAtomically(path, unit.text, 0, 0, 0644, &changed))) return;
    units_changed = true;
    Record(path, "done", "wrote the unit");
  }
  if (options_.dry_run) {
    Record("daemon", "would", "systemctl enable --now dualkey.service");
    return;
  }
  if (units_changed) sys::RunProgram({"systemctl", "daemon-reload"});
  sys::Ran enabled = sys::RunProgram({"systemctl", "is-enabled", "--quiet", "dualkey.service"});
  if (enabled.exit_code != 0) {
    sys::Ran enable = sys::RunProgram({"systemctl", "enable", "dualkey.service"});
    if (enable.exit_code != 0) {
      Record("daemon", "failed", "systemctl enable dualkey.service: " + enable.err);
      return;
    }
  }
  sys::Ran active = sys::RunProgram({"systemctl", "is-active", "--quiet", "dualkey.service"});
  std::string action;
  if (active.exit_code != 0)
    action = "start";
  else if (units_changed || binary_changed)
    action = "restart";
  if (!action.empty()) {
    sys::Ran run = sys::RunProgram({"systemctl", action, "dualkey.service"});
    if (run.exit_code != 0) {
      Record(
          "daemon", "failed",
          "systemctl " + action + " dualkey.service: " + run.err + " (see journalctl -u dualkey)");
      return;
    }
    std::string why;
    if (!WaitForDaemon(&why)) {
      Record("daemon", "failed", why + " (see journalctl -u dualkey)");
      return;
    }
    Record("daemon", "done",
           "systemctl " + action + " dualkey.service: `dualkey serve` runs as " + daemon_->name +
               " (enabled at boot)");
    return;
  }
  Record("daemon", "ok", "dualkey.service is enabled and running as " + daemon_->name);
}

void Setup::StepDaemon() {
  if (!daemon_) {
    Record("daemon", options_.dry_run ? "would" : "skipped",
           "start `dualkey serve` as " + daemon_user_);
    return;
  }
  if (systemd_) {
    StepSystemdUnits(binary_changed_);
    return;
  }
  // Running already, as the daemon user, from the installed binary?
  std::optional<pid_t> pid = sys::ReadPidFile(kPidFile);
  const sys::Peer peer = sys::SocketPeer(kSocket);
  if (pid && sys::ProcessAlive(*pid) && sys::ProcessUid(*pid) == daemon_->uid) {
    const std::string exe = sys::ProcessExe(*pid);
    const bool current = exe == binary_.c_str() && !binary_changed_;
    std::string error;
    if (current && peer.connected && peer.uid == daemon_->uid &&
        AskDaemon(*daemon_, daemon_user_, json{{"op", "status"}}, &error, 2000)) {
      Record("daemon", "ok",
             "`dualkey serve` runs as " + daemon_->name + " (pid " + std::to_string(*pid) + ")");
      return;
    }
    if (options_.dry_run) {
      Record("daemon", "would", "restart the daemon (pid " + std::to_string(*pid) + ")");
      return;
    }
    sys::StopProcess(*pid, 3000);
  } else if (pid && options_.dry_run) {
    Record("daemon", "would", "start the daemon (the pid file names a process that is gone)");
    return;
  }
  if (peer.connected && peer.uid != daemon_->uid) {
    // Someone else holds the socket: clients refuse it (wrong peer); it is
    // replaced by the real daemon.
    const std::string who = "pid " + std::to_string(peer.pid) + ", uid " + std::to_string(peer.uid);
    if (options_.dry_run) {
      Record("daemon", "would",
             "replace a foreign listener on " + std::string(kSocket) + " (" + who + ")");
      return;
    }
    Record("socket", "warn",
           "a foreign process (" + who + ") listened on " + std::string(kSocket) +
               "; its socket file is replaced");
  }
  if (options_.dry_run) {
    Record("daemon", "would", "start `dualkey serve` as " + daemon_->name + " (no systemd here)");
    return;
  }
  unlink(kSocket);
  unlink(kPidFile);
  StartDirect();
}

void Setup::StopDaemon(const char* step) {
  if (systemd_) {
    for (const char* unit :
         {"dualkey-gateway.service", "dualkey-pg-proxy.service", "dualkey.service"}) {
      sys::Ran active = sys::RunProgram({"systemctl", "is-active", "--quiet", unit});
      sys::Ran enabled = sys::RunProgram({"systemctl", "is-enabled", "--quiet", unit});
      if (active.exit_code != 0 && (enabled.exit_code != 0 || options_.stop)) continue;
      if (options_.dry_run) {
        Record(step, "would",
               std::string("systemctl ") + (options_.stop ? "stop " : "disable --now ") + unit);
        continue;
      }
      sys::Ran run = options_.stop ? sys::RunProgram({"systemctl", "stop", unit})
                                   : sys::RunProgram({"systemctl", "disable", "--now", unit});
      Record(step, run.exit_code == 0 ? "done" : "failed",
             std::string(options_.stop ? "stopped " : "disabled and stopped ") + unit);
    }
  }
  std::optional<pid_t> pid = sys::ReadPidFile(kPidFile);
  std::vector<pid_t> pids;
  // The pid file lies in the daemon user's directory: only a process of
  // that user (or a dualkey binary) is stopped on its word.
  if (pid && sys::ProcessAlive(*pid) &&
      ((daemon_ && sys::ProcessUid(*pid) == daemon_->uid) ||
       sys::ProcessExe(*pid).starts_with(binary_.c_str())))
    pids.push_back(*pid);
  // With --remove, nothing of the daemon user may be left running.
  if (daemon_ && !options_.stop)
    for (pid_t p : sys::ProcessesOf(daemon_->uid))
      if (std::find(pids.begin(), pids.end(), p) == pids.end()) pids.push_back(p);
  if (pids.empty()) {
    if (!systemd_) Record(step, "ok", "no daemon process runs");
  }
  for (pid_t p : pids) {
    if (options_.dry_run) {
      Record(step, "would", "stop pid " + std::to_string(p));
      continue;
    }
    const bool gone = sys::StopProcess(p, 5000);
    Record(step, gone ? "done" : "failed",
           (gone ? "stopped pid " : "could not stop pid ") + std::to_string(p));
  }
  if (!options_.dry_run && Exists(kPidFile)) unlink(kPidFile);
}

void Setup::StepAuditKey() {
  std::string key;
  std::string error;
  if (daemon_) {
    if (std::optional<json> info =
            AskDaemon(*daemon_, daemon_user_, json{{"op", "audit_info"}}, &error);
        info && info->value("ok", false))
      key = info->value("public_key", "");
  }
  if (key.empty()) key = AuditPublicKey(std::string(kStateDir) + "/audit.jsonl");
  if (key.empty()) {
    Record(kAuditPub, options_.dry_run ? "would" : "skipped",
           "pin the audit log's public key (the daemon writes the log when it first starts)");
    return;
  }
  std::string current;
  if (base::ReadFile(kAuditPub, &current) && current == key + "\n") {
    Record(kAuditPub, "ok", "audit public key " + key);
    return;
  }
  if (!current.empty() && current != key + "\n") {
    // The key changed: the log was replaced or the key file recreated. Keep
    // the pinned key; verification against it shows what happened.
    Record(kAuditPub, "warn",
           "the audit log is signed by " + key + " but " + kAuditPub + " pins " +
               current.substr(0, current.find('\n')) +
               ": the log or its key was replaced. Check: dualkey audit verify --file " +
               std::string(kStateDir) + "/audit.jsonl");
    return;
  }
  if (options_.dry_run) {
    Record(kAuditPub, "would", "pin the audit public key " + key);
    return;
  }
  bool changed = false;
  if (Check(kAuditPub, sys::WriteFileAtomically(kAuditPub, key + "\n", 0, 0, 0644, &changed)))
    Record(kAuditPub, "done", "pinned the audit public key " + key);
}

}  // namespace dualkey::setup::internal
