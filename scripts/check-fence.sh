#!/usr/bin/env bash
# Proves the module fence (cmake/DualkeyModules.cmake) holds: in a module's
# fence, what it may use compiles, and a back edge or another module's
# internal/ does not.
# usage: scripts/check-fence.sh CXX FENCE_ROOT (build/fence)
set -uo pipefail
cxx=$1 fence=$2
fail=0
try() {  # MODULE EXPECT(ok|refused) INCLUDE
  local module=$1 expect=$2 include=$3 got
  if printf '#include "%s"\n' "$include" |
    "$cxx" -std=c++20 -fsyntax-only -I"$fence/$module" -x c++ - >/dev/null 2>&1; then
    got=ok
  else
    got=refused
  fi
  if [ "$got" = "$expect" ]; then
    echo "ok: $module including $include is $got"
  else
    echo "FAIL: $module including $include is $got, expected $expect"
    fail=1
  fi
}
try sql ok core/action.h                      # a use it declares
try sql refused daemon/daemon.h               # a back edge (frontend from an adapter)
try shell refused guard/guard.h               # an adapter reaching the decision layer
try core refused base/status.h                # foundation modules are independent
try file refused shell/internal/invocation.h  # another module's internal/
try client refused daemon/internal/core.h
try hook ok client/client.h
try daemon refused cli/commands.h
try breaker refused approval/approval.h       # the breaker counts; the daemon freezes
try daemon ok breaker/breaker.h
exit $fail
