// Passkeys in the daemon: the relying party the page runs as, a request's
// second factor (a TOTP code or a passkey's answer) for approval::Authorize,
// and the passkey ops (passkey_ops.cc): challenges bound to one action,
// enrolment as approver administration, list and remove.
#pragma once

#include <optional>
#include <string>

#include "approval/approval.h"
#include "client/protocol.h"
#include "daemon/internal/core.h"
#include "webauthn/webauthn.h"

namespace dualkey::daemon::internal {

// The page's origin and RP id (Core::web_origin); empty when there is no page.
webauthn::RelyingParty RelyingPartyOf(const Core& core);

// The factor Authorize checks: the code, or the passkey's answer decoded
// (kInvalidArgument when it is not base64url). `binding` as in
// approval::SecondFactor ("" = the subject).
Result<approval::SecondFactor> SecondFactorOf(const Core& core, const std::string& totp,
                                              const std::optional<client::PasskeyAnswer>& passkey,
                                              const std::string& binding);

// What a passkey must be bound to for approving `request`: its id and the
// hash of the exact action.
std::string ApprovalBinding(const approval::Request& request);

// passkey_challenge, passkey_enrol_begin, passkey_enrol_options,
// passkey_enrol_finish, passkey_list, passkey_remove.
void AddPasskeyOps(Dispatcher& dispatcher, Core& core, approval::LockoutPolicy policy = {});

}  // namespace dualkey::daemon::internal
