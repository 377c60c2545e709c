#include "setup/system.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/file_text.h"
#include "base/process.h"
#include "base/unix_socket.h"

namespace dualkey::setup::sys {
namespace {

std::string Errno(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

std::optional<Account> FromPasswd(const passwd* pw) {
  if (pw == nullptr) return std::nullopt;
  Account account;
  account.name = pw->pw_name;
  account.uid = pw->pw_uid;
  account.gid = pw->pw_gid;
  account.home = pw->pw_dir != nullptr ? pw->pw_dir : "";
  account.shell = pw->pw_shell != nullptr ? pw->pw_shell : "";
  return account;
}

std::string Parent(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

bool WriteAll(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

void FsyncDirectory(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

}  // namespace

std::optional<Account> LookupUser(const std::string& name) {
  if (name.empty()) return std::nullopt;
  return FromPasswd(getpwnam(name.c_str()));
}

std::optional<Account> LookupUid(uid_t uid) {
  return FromPasswd(getpwuid(uid));
}

std::string GroupName(gid_t gid) {
  const group* gr = getgrgid(gid);
  return gr != nullptr ? gr->gr_name : std::to_string(gid);
}

Ran RunProgram(const std::vector<std::string>& argv, int timeout_ms) {
  base::ProcessResult run = base::RunProcess(argv, "", "", timeout_ms);
  Ran ran;
  ran.started = run.started;
  ran.exit_code = run.exit_code;
  ran.out = run.out;
  ran.err = run.err;
  return ran;
}

bool HaveProgram(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr && *path != '\0' ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
  std::stringstream stream(dirs);
  std::string dir;
  while (std::getline(stream, dir, ':'))
    if (!dir.empty() && access((dir + "/" + name).c_str(), X_OK) == 0) return true;
  return false;
}

Status CreateSystemUser(const std::string& name, const std::string& home) {
  const std::string shell =
      access("/usr/sbin/nologin", X_OK) == 0 ? "/usr/sbin/nologin" : "/bin/false";
  Ran ran = RunProgram({"useradd", "--system", "--user-group", "--home-dir", home,
                        "--no-create-home", "--shell", shell, "--comment",
                        "dualkey daemon (approvals, audit log, vault)", name});
  if (!ran.started)
    return Status::Unavailable("cannot run useradd (is the passwd package installed?)");
  if (ran.exit_code != 0) return Status::IOError("useradd " + name + " failed: " + ran.err);
  return Status::Ok();
}

Status DeleteUser(const std::string& name) {
  Ran ran = RunProgram({"userdel", name});
  if (!ran.started) return Status::Unavailable("cannot run userdel");
  if (ran.exit_code != 0) return Status::IOError("userdel " + name + " failed: " + ran.err);
  // useradd --user-group made a group of the same name; userdel removes it
  // unless someone else has it as primary group.
  return Status::Ok();
}

// Owner and mode through a descriptor opened without following a symlink,
// so a path swapped for a symlink between the look and the change cannot
// turn root's chmod onto another file.
static Status FixOwnerModeAt(int dirfd, const std::string& name, const std::string& shown,
                             uid_t uid, gid_t gid, mode_t mode, bool* changed,
                             int* fd_out = nullptr) {
  int fd = openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    if (errno == ELOOP || errno == ENXIO || errno == EACCES || errno == EPERM) {
      // A symlink or a socket: owner only, never followed.
      struct stat st {};
      if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return Status::IOError(Errno(shown));
      if (S_ISLNK(st.st_mode) && fd_out != nullptr)
        return Status::PermissionDenied(shown + " is a symlink; refusing to follow it");
      if (st.st_uid != uid || st.st_gid != gid) {
        if (fchownat(dirfd, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
          return Status::IOError(Errno("chown " + shown));
        *changed = true;
      }
      return Status::Ok();
    }
    return Status::IOError(Errno(shown));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    close(fd);
    return Status::IOError(Errno(shown));
  }
  if (st.st_uid != uid || st.st_gid != gid) {
    if (fchown(fd, uid, gid) != 0) {
      close(fd);
      return Status::IOError(Errno("chown " + shown));
    }
    *changed = true;
  }
  if ((st.st_mode & 07777) != mode) {
    if (fchmod(fd, mode) != 0) {
      close(fd);
      return Status::IOError(Errno("chmod " + shown));
    }
    *changed = true;
  }
  if (fd_out != nullptr)
    *fd_out = fd;
  else
    close(fd);
  return Status::Ok();
}

Status EnsureOwnerMode(const std::string& path, uid_t uid, gid_t gid, mode_t mode, bool* changed) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return Status::IOError(Errno(path));
  if (S_ISLNK(st.st_mode))
    return Status::PermissionDenied(path + " is a symlink; refusing to follow it");
  return FixOwnerModeAt(AT_FDCWD, path, path, uid, gid, mode, changed);
}

Status EnsureDirectory(const std::string& path, uid_t uid, gid_t gid, mode_t mode, bool* changed) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return Status::IOError(Errno(path));
    const std::string parent = Parent(path);
    if (parent != path) {
      struct stat parent_st {};
      if (lstat(parent.c_str(), &parent_st) != 0) {
        bool ignored = false;
        if (Status s = EnsureDirectory(parent, 0, 0, 0755, &ignored); !s.ok()) return s;
      }
    }
    if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST)
      return Status::IOError(Errno("mkdir " + path));
    *changed = true;
    if (lstat(path.c_str(), &st) != 0) return Status::IOError(Errno(path));
  }
  if (!S_ISDIR(st.st_mode))
    return Status::FailedPrecondition(path + " exists and is not a directory" +
                                      (S_ISLNK(st.st_mode) ? " (a symlink)" : ""));
  return EnsureOwnerMode(path, uid, gid, mode, changed);
}

Status WriteFileAtomically(const std::string& path, const std::string& text, uid_t uid, gid_t gid,
                           mode_t mode, bool* changed) {
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode))
      return Status::PermissionDenied(path + " is a symlink; refusing to write through it");
    std::string current;
    if (S_ISREG(st.st_mode) && base::ReadFile(path, &current) && current == text)
      return EnsureOwnerMode(path, uid, gid, mode, changed);
  }
  const std::string temp = path + ".dualkey-tmp-" + std::to_string(getpid());
  int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::IOError(Errno("create " + temp));
  bool ok =
      WriteAll(fd, text) && fchown(fd, uid, gid) == 0 && fchmod(fd, mode) == 0 && fsync(fd) == 0;
  const int saved = errno;
  close(fd);
  if (!ok || rename(temp.c_str(), path.c_str()) != 0) {
    errno = ok ? errno : saved;
    Status status = Status::IOError(Errno("write " + path));
    unlink(temp.c_str());
    return status;
  }
  FsyncDirectory(Parent(path));
  *changed = true;
  return Status::Ok();
}

namespace {

// One entry of the tree, reached through its directory's descriptor.
Status OwnEntry(int dirfd, const std::string& name, const std::string& shown, uid_t uid, gid_t gid,
                mode_t dir_mode, mode_t file_mode, int* fixed, int depth) {
  struct stat st {};
  if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return Status::IOError(Errno(shown));
  bool changed = false;
  if (!S_ISDIR(st.st_mode)) {
    Status status =
        FixOwnerModeAt(dirfd, name, shown, uid, gid,
                       S_ISREG(st.st_mode) ? file_mode : (st.st_mode & 07777 & ~077), &changed);
    if (changed) ++*fixed;
    return status;
  }
  if (depth > 64) return Status::FailedPrecondition(shown + ": too deep");
  int fd = -1;
  if (Status status = FixOwnerModeAt(dirfd, name, shown, uid, gid, dir_mode, &changed, &fd);
      !status.ok())
    return status;
  if (changed) ++*fixed;
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    close(fd);
    return Status::IOError(Errno(shown));
  }
  Status result;
  while (dirent* entry = readdir(dir)) {
    const std::string child = entry->d_name;
    if (child == "." || child == "..") continue;
    result = OwnEntry(::dirfd(dir), child, shown + "/" + child, uid, gid, dir_mode, file_mode,
                      fixed, depth + 1);
    if (!result.ok()) break;
  }
  closedir(dir);
  return result;
}

}  // namespace

Status OwnTree(const std::string& root, uid_t uid, gid_t gid, mode_t dir_mode, mode_t file_mode,
               int* fixed) {
  struct stat st {};
  if (lstat(root.c_str(), &st) != 0) return Status::IOError(Errno(root));
  if (S_ISLNK(st.st_mode))
    return Status::PermissionDenied(root + " is a symlink; refusing to follow it");
  return OwnEntry(AT_FDCWD, root, root, uid, gid, dir_mode, file_mode, fixed, 0);
}

std::vector<std::string> TreeProblems(const std::string& root, uid_t uid, gid_t gid,
                                      std::size_t limit) {
  std::vector<std::string> problems;
  std::function<void(const std::string&)> walk = [&](const std::string& path) {
    if (problems.size() >= limit) return;
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) return;
    if (st.st_uid != uid || st.st_gid != gid || (st.st_mode & 077) != 0) {
      char mode[8];
      std::snprintf(mode, sizeof(mode), "%04o", st.st_mode & 07777);
      problems.push_back(path + " (owner " + std::to_string(st.st_uid) + ":" +
                         std::to_string(st.st_gid) + ", mode " + mode + ")");
    }
    if (!S_ISDIR(st.st_mode)) return;
    DIR* dir = opendir(path.c_str());
    if (dir == nullptr) return;
    while (dirent* entry = readdir(dir)) {
      const std::string name = entry->d_name;
      if (name == "." || name == "..") continue;
      walk(path + "/" + name);
    }
    closedir(dir);
  };
  walk(root);
  return problems;
}

bool SameContents(const std::string& a, const std::string& b) {
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  if (!fa || !fb) return false;
  fa.seekg(0, std::ios::end);
  fb.seekg(0, std::ios::end);
  if (fa.tellg() != fb.tellg()) return false;
  fa.seekg(0);
  fb.seekg(0);
  std::vector<char> ba(1 << 20), bb(1 << 20);
  while (fa && fb) {
    fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
    fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
    if (fa.gcount() != fb.gcount()) return false;
    if (std::memcmp(ba.data(), bb.data(), static_cast<std::size_t>(fa.gcount())) != 0) return false;
  }
  return true;
}

Status InstallBinary(const std::string& source, const std::string& target, bool* changed) {
  struct stat st {};
  if (lstat(target.c_str(), &st) == 0 && S_ISREG(st.st_mode) && SameContents(source, target)) {
    return EnsureOwnerMode(target, 0, 0, 0755, changed);
  }
  int in = open(source.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Status::IOError(Errno("open " + source));
  const std::string temp = target + ".dualkey-tmp-" + std::to_string(getpid());
  unlink(temp.c_str());
  int out = open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0700);
  if (out < 0) {
    close(in);
    return Status::IOError(Errno("create " + temp));
  }
  std::vector<char> buffer(1 << 20);
  bool ok = true;
  while (true) {
    ssize_t n = read(in, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ok = false;
      break;
    }
    if (n == 0) break;
    if (!WriteAll(out, std::string(buffer.data(), static_cast<std::size_t>(n)))) {
      ok = false;
      break;
    }
  }
  ok = ok && fchown(out, 0, 0) == 0 && fchmod(out, 0755) == 0 && fsync(out) == 0;
  close(in);
  close(out);
  if (!ok || rename(temp.c_str(), target.c_str()) != 0) {
    Status status = Status::IOError(Errno("install " + target));
    unlink(temp.c_str());
    return status;
  }
  FsyncDirectory(Parent(target));
  *changed = true;
  return Status::Ok();
}

int RunAs(const Account& account, const std::function<int(std::string* output)>& fn,
          std::string* output) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return -1;
  }
  if (pid == 0) {
    close(pipe_fds[0]);
    // Already that user (a dry run by the user themselves): nothing to drop.
    const bool same = geteuid() == account.uid && getuid() == account.uid;
    if (!same && (initgroups(account.name.c_str(), account.gid) != 0 ||
                  setresgid(account.gid, account.gid, account.gid) != 0 ||
                  setresuid(account.uid, account.uid, account.uid) != 0))
      _exit(125);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(125);
    // Dropped for good: getting root back must fail.
    if (account.uid != 0 && setuid(0) == 0) _exit(125);
    setenv("HOME", account.home.c_str(), 1);
    setenv("USER", account.name.c_str(), 1);
    setenv("LOGNAME", account.name.c_str(), 1);
    unsetenv("SUDO_USER");
    unsetenv("SUDO_UID");
    unsetenv("SUDO_GID");
    if (chdir(account.home.c_str()) != 0 && chdir("/") != 0) _exit(125);
    std::string text;
    int status = fn(&text);
    WriteAll(pipe_fds[1], text);
    close(pipe_fds[1]);
    std::fflush(nullptr);
    _exit(status);
  }
  close(pipe_fds[1]);
  std::string text;
  char buffer[65536];
  while (true) {
    ssize_t n = read(pipe_fds[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  close(pipe_fds[0]);
  int raw = 0;
  while (waitpid(pid, &raw, 0) < 0 && errno == EINTR) {
  }
  if (output != nullptr) *output = std::move(text);
  if (!WIFEXITED(raw)) return -1;
  return WEXITSTATUS(raw);
}

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  std::string stat;
  if (!base::ReadFile("/proc/" + std::to_string(pid) + "/stat", &stat)) return false;
  // "pid (comm) S ...": the state follows the last ')'.
  const std::size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return false;
  const char state = stat[close + 2];
  return state != 'Z' && state != 'X';
}

std::optional<uid_t> ProcessUid(pid_t pid) {
  std::string status;
  if (!base::ReadFile("/proc/" + std::to_string(pid) + "/status", &status)) return std::nullopt;
  const std::size_t at = status.find("\nUid:");
  if (at == std::string::npos) return std::nullopt;
  return static_cast<uid_t>(std::strtoul(status.c_str() + at + 5, nullptr, 10));
}

std::string ProcessExe(pid_t pid) {
  char buffer[4096];
  ssize_t n =
      readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), buffer, sizeof(buffer) - 1);
  if (n <= 0) return "";
  return std::string(buffer, static_cast<std::size_t>(n));
}

std::vector<pid_t> ProcessesOf(uid_t uid) {
  std::vector<pid_t> pids;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return pids;
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || pid <= 0) continue;
    std::optional<uid_t> owner = ProcessUid(static_cast<pid_t>(pid));
    if (owner && *owner == uid && ProcessAlive(static_cast<pid_t>(pid)))
      pids.push_back(static_cast<pid_t>(pid));
  }
  closedir(dir);
  return pids;
}

bool StopProcess(pid_t pid, int grace_ms) {
  if (!ProcessAlive(pid)) return true;
  kill(pid, SIGTERM);
  for (int waited = 0; waited < grace_ms; waited += 20) {
    if (!ProcessAlive(pid)) return true;
    timespec ts{0, 20 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
  kill(pid, SIGKILL);
  for (int waited = 0; waited < 2000; waited += 20) {
    if (!ProcessAlive(pid)) return true;
    timespec ts{0, 20 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
  return !ProcessAlive(pid);
}

std::optional<pid_t> ReadPidFile(const std::string& path) {
  std::string text;
  if (!base::ReadFile(path, &text)) return std::nullopt;
  char* end = nullptr;
  const long pid = std::strtol(text.c_str(), &end, 10);
  if (end == text.c_str() || pid <= 0) return std::nullopt;
  return static_cast<pid_t>(pid);
}

Peer SocketPeer(const std::string& path) {
  Peer peer;
  Result<base::UniqueFd> fd = base::ConnectUnixSocket(path);
  if (!fd.ok()) {
    peer.error = fd.status().message();
    return peer;
  }
  ucred cred{};
  socklen_t length = sizeof(cred);
  if (getsockopt(fd->get(), SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) {
    peer.error = Errno("SO_PEERCRED");
    return peer;
  }
  peer.connected = true;
  peer.pid = cred.pid;
  peer.uid = cred.uid;
  peer.gid = cred.gid;
  return peer;
}

bool SystemdRunning() {
  struct stat st {};
  return lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace dualkey::setup::sys
