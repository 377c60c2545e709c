// A loopback TCP port that is free now, for a server another process is about
// to start (the demo's cluster, the tests' daemons, proxies and gateways).
#pragma once

namespace dualkey::base {

// A port on 127.0.0.1 that nothing listens on or is connected from right now,
// or 0 when none could be found. Ports are picked at random from below the
// kernel's ephemeral range (net.ipv4.ip_local_port_range), so an outgoing
// connection cannot take the port between this call and the server's bind:
// a port from bind(0) comes from that range, and a busy machine (a test run
// making thousands of connections) hands it out again within moments.
int FreeLoopbackPort();

}  // namespace dualkey::base
