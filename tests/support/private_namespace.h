// The main of a test binary that attacks a protected install as root
// (tests/boundary, tests/drill): the tests run inside a new PID namespace and
// a private mount namespace, so that users, mounts and daemons they make die
// with them. PID 1 of the namespace makes the private mounts and reaps; its
// child runs the tests; when they end PID 1 exits and the kernel kills what
// is left, and the mounts go with the last process.
#pragma once

#include <functional>
#include <string>

namespace dualkey::test_support {

// Runs the tests (RUN_ALL_TESTS) as described above and returns main's exit
// status. `prepare_mounts(scratch)` runs in PID 1 once its mount namespace is
// private; `scratch` is a fresh directory under /tmp named from
// `scratch_prefix`, removed afterwards. When something cannot be set up (not
// root, a failed unshare or mount) `*error` says what and the tests run
// anyway, each failing with it. `why_root` is the error when not root.
int RunTestsInPrivateNamespaces(
    const std::string& scratch_prefix, const std::string& why_root,
    const std::function<bool(const std::string& scratch)>& prepare_mounts, std::string* error);

}  // namespace dualkey::test_support
