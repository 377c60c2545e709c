// The daemon answers the protocol its clients speak (client/protocol.h): its
// request and reply types are the daemon's own vocabulary, so they are used
// unqualified inside the daemon.
#pragma once

#include "client/protocol.h"

namespace dualkey::daemon {
using namespace dualkey::client;  // NOLINT(google-build-using-namespace)
}  // namespace dualkey::daemon
