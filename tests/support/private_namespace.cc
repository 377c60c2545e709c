#include "support/private_namespace.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace dualkey::test_support {

int RunTestsInPrivateNamespaces(
    const std::string& scratch_prefix, const std::string& why_root,
    const std::function<bool(const std::string& scratch)>& prepare_mounts, std::string* error) {
  if (::testing::GTEST_FLAG(list_tests)) return RUN_ALL_TESTS();
  if (geteuid() != 0) {
    *error = why_root;
    return RUN_ALL_TESTS();
  }
  std::vector<char> pattern(scratch_prefix.begin(), scratch_prefix.end());
  for (char c : std::string("-XXXXXX")) pattern.push_back(c);
  pattern.push_back('\0');
  const char* scratch = mkdtemp(pattern.data());
  if (scratch == nullptr) {
    *error = std::string("mkdtemp: ") + std::strerror(errno);
    return RUN_ALL_TESTS();
  }
  const std::string scratch_dir = scratch;
  std::fflush(nullptr);
  // Only the next child goes into the new PID namespace: this process keeps
  // the host's mounts (so it can remove the mount point afterwards) and, once
  // that child is made, makes its children in its own namespace again. A
  // process whose children would land in a namespace whose PID 1 is gone
  // cannot fork at all, and LeakSanitizer forks at exit.
  const int own_namespace = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
  if (own_namespace < 0 || unshare(CLONE_NEWPID) != 0) {
    *error = std::string("unshare(CLONE_NEWPID): ") + std::strerror(errno);
    if (own_namespace >= 0) close(own_namespace);
    rmdir(scratch_dir.c_str());
    return RUN_ALL_TESTS();
  }
  const pid_t init = fork();
  if (init != 0) {
    const bool restored = setns(own_namespace, CLONE_NEWPID) == 0;
    close(own_namespace);
    int status = 0;
    while (init > 0 && waitpid(init, &status, 0) < 0 && errno == EINTR) {
    }
    rmdir(scratch_dir.c_str());
    if (!restored) std::fprintf(stderr, "setns(pid): %s\n", std::strerror(errno));
    return init > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  }
  // PID 1 of the new namespace.
  close(own_namespace);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (unshare(CLONE_NEWNS) != 0) {
    *error = std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
    return RUN_ALL_TESTS();
  }
  if (!prepare_mounts(scratch_dir)) return RUN_ALL_TESTS();  // each test fails with *error
  const pid_t tests = fork();
  if (tests == 0) return RUN_ALL_TESTS();
  int result = 1;
  while (tests > 0) {
    int status = 0;
    const pid_t done = waitpid(-1, &status, 0);
    if (done < 0 && errno == EINTR) continue;
    if (done < 0) break;
    if (done == tests) {
      result = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
      break;
    }
  }
  return result;
}

}  // namespace dualkey::test_support
