// The calling thread's nice value, against the real kernel: lowered once, by
// the steps asked for (capped at 19), for that thread alone.
#include "base/thread_priority.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <thread>

namespace {

int NiceOf(long tid) {
  errno = 0;
  return ::getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
}

long ThisThread() {
  return ::syscall(SYS_gettid);
}

TEST(ThreadPriority, LowersTheCallingThreadOnceAndNoOtherThread) {
  const int before = NiceOf(ThisThread());
  int lowered = 0, again = 0, seen = 0, steps_zero = 0;
  long worker = 0;
  std::thread([&] {
    worker = ThisThread();
    steps_zero = dualkey::base::LowerThisThreadPriority(0);
    lowered = dualkey::base::LowerThisThreadPriority(3);
    again = dualkey::base::LowerThisThreadPriority(3);
    seen = NiceOf(worker);
  }).join();
  EXPECT_EQ(steps_zero, before) << "zero steps change nothing";
  EXPECT_EQ(lowered, std::min(19, before + 3));
  EXPECT_EQ(again, lowered) << "a second call leaves the thread as it is";
  EXPECT_EQ(seen, lowered) << "the kernel agrees";
  EXPECT_EQ(NiceOf(ThisThread()), before) << "the thread that started it keeps its priority";
}

TEST(ThreadPriority, StopsAtNineteen) {
  int lowered = 0;
  std::thread([&] { lowered = dualkey::base::LowerThisThreadPriority(100); }).join();
  EXPECT_EQ(lowered, 19);
}

}  // namespace
