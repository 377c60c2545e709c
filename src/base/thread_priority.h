// CPU priority of the calling thread. Work that is off every request's path
// (writing decisions already answered to the audit log, encoding them for
// the daemon) runs niced, so that on a busy machine it takes the CPU the
// requests leave over instead of delaying them: on two cores, an audit at
// the same priority cost the PostgreSQL proxy about a fifth of its
// throughput (docs/pg-proxy.md). Linux's nice is per thread.
#pragma once

namespace dualkey::base {

// How much lower work off the request path runs: at nice +10 a thread gets
// about a tenth of the CPU a nice 0 thread competing with it gets, and all
// of what nobody else wants.
inline constexpr int kOffPathNiceSteps = 10;

// Raises the calling thread's nice value by `steps` (capped at 19), once:
// a thread already lowered by this call is left as it is (nice cannot be
// raised back without privilege, so a lowered thread stays lowered until it
// ends). Returns the thread's nice value after the call; failure is
// harmless (the thread keeps its priority).
int LowerThisThreadPriority(int steps);

}  // namespace dualkey::base
