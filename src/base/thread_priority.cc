#include "base/thread_priority.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace dualkey::base {

int LowerThisThreadPriority(int steps) {
  // One thread, not the process: on Linux PRIO_PROCESS with a thread id
  // names that thread alone (setpriority(2), NOTES).
  thread_local bool lowered = false;
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  errno = 0;
  const int now = ::getpriority(PRIO_PROCESS, tid);
  if (errno != 0 || lowered || steps <= 0) return now;
  lowered = true;
  const int wanted = std::min(19, now + steps);
  if (::setpriority(PRIO_PROCESS, tid, wanted) != 0) return now;
  return wanted;
}

}  // namespace dualkey::base
