// The daemon's side of `dualkey drill` (drill.cc): a drill session with its
// own test approver, and the drill's certificate signed with the audit key.
//
// A session is begun by an administrator of the daemon (root or its own
// user: Peer::admin). It names a random agent prefix, "drill-<id>", for every
// identity the drill attacks with (its tokens, its MCP wrapper, its burst),
// and a test approver with a fresh TOTP secret that can do exactly two
// things: reset the breaker of an agent under that prefix, and end the
// session. It is never written to the approval store, so it cannot approve
// any held action and cannot outlive the daemon; it expires by itself. Its
// enrolment, each reset and its removal are audited (approver_added,
// breaker_reset, approver_removed, each marked "drill").
//
// drill_sign signs a certificate of an open session: the daemon adds its own
// time and the audit key's public key and signs, with the audit key, the
// text "dualkey-drill-certificate-v1\n" followed by the canonical JSON of
// {"certificate", "public_key", "signed_ms"} (client::CertificateMessage).
#pragma once

#include "daemon/internal/core.h"

namespace dualkey::daemon::internal {

class Breaker;
void AddDrillOps(Dispatcher& dispatcher, Core& core, Breaker& breaker);

}  // namespace dualkey::daemon::internal
