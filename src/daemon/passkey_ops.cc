// Passkeys in the daemon (see internal/passkey.h). Enrolment is approver
// administration: root or the daemon's own user, or an existing approver's
// fresh second factor, starts it (a one-time token, shown as a link to the
// page); the browser then registers the passkey against that token. Every
// step is audited, and a passkey is stored only once its record is durable.
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "base/json_text.h"
#include "daemon/internal/passkey.h"

namespace dualkey::daemon::internal {
namespace {

using nlohmann::json;

constexpr std::int64_t kEnrolTtlMs = 10 * 60'000;
constexpr std::int64_t kPasskeyTimeoutMs = 120'000;

json Refusal(const Status& status, int failures = -1, std::int64_t locked_until_ms = 0) {
  json reply = client::ErrorJson(status);
  if (failures >= 0) reply["failures"] = failures;
  if (locked_until_ms > 0) reply["locked_until_ms"] = locked_until_ms;
  return reply;
}

std::string Decode(const std::string& text, const char* what, Status* status) {
  std::string out;
  if (status->ok() && !webauthn::Base64UrlDecode(text, &out))
    *status = Status::InvalidArgument(std::string("\"") + what + "\" is not base64url");
  return out;
}

std::string RandomToken() {
  unsigned char bytes[24];
  std::string token;
  // NewRequestId's generator: the OS CSPRNG through OpenSSL.
  if (RAND_bytes(bytes, sizeof bytes) == 1)
    token =
        webauthn::Base64UrlEncode(std::string_view(reinterpret_cast<char*>(bytes), sizeof bytes));
  return token;
}

class PasskeyOps {
 public:
  PasskeyOps(Core& core, approval::LockoutPolicy policy) : core_(core), policy_(policy) {}

  json Challenge(const Peer& peer, const json& body);
  json EnrolBegin(const Peer& peer, const json& body);
  json EnrolOptions(const json& body);
  json EnrolFinish(const Peer& peer, const json& body);
  json List(const json& body);
  json Remove(const Peer& peer, const json& body);
  json Signin(const Peer& peer, const json& body);

 private:
  // Authorize with the request's code or passkey; audits a refusal.
  std::optional<json> Check(const json& body, const std::string& approver,
                            const std::string& subject, const Peer& peer,
                            approval::TotpSpend* spend = nullptr);
  bool AuditFirst(const std::string& kind, json fields, const Peer& peer, json* refusal) {
    std::string error;
    if (core_.Record(kind, std::move(fields), &peer, audit::Log::Durability::kSynced, &error))
      return true;
    *refusal = Refusal(
        Status::IOError("the audit log could not be written (" + error + "): nothing was changed"));
    return false;
  }

  Core& core_;
  const approval::LockoutPolicy policy_;
};

std::string Text(const json& body, const char* key) {
  std::string out;
  client::GetText(body, key, &out);
  return out;
}

std::optional<json> PasskeyOps::Check(const json& body, const std::string& approver,
                                      const std::string& subject, const Peer& peer,
                                      approval::TotpSpend* spend) {
  Result<std::optional<client::PasskeyAnswer>> answer = client::PasskeyOf(body);
  if (!answer.ok()) return Refusal(answer.status());
  Result<approval::SecondFactor> factor = SecondFactorOf(core_, Text(body, "totp"), *answer, "");
  if (!factor.ok()) return Refusal(factor.status());
  const std::int64_t now = Core::NowMs();
  approval::AuthResult result =
      approval::Authorize(core_.store(), approver, *factor, subject, now, policy_);
  if (result.status.ok()) {
    if (spend != nullptr) *spend = result.spend;
    return std::nullopt;
  }
  json fields{{"approver", base::ToValidUtf8(approver)},
              {"subject", subject},
              {"why", result.status.message()},
              {"failures", result.failures},
              {"factor", factor->passkey ? "passkey" : "totp"}};
  if (result.counted)
    core_.Record("auth_failed", std::move(fields), &peer);
  else if (result.locked)
    core_.Record("auth_locked", std::move(fields), &peer, audit::Log::Durability::kWritten);
  return Refusal(result.status, result.failures,
                 result.locked_until_ms > now ? result.locked_until_ms : 0);
}

json PasskeyOps::Challenge(const Peer& peer, const json& body) {
  const std::string approver = Text(body, "approver");
  const std::string purpose = Text(body, "purpose");
  const std::string target = Text(body, "target");
  const webauthn::RelyingParty rp = RelyingPartyOf(core_);
  if (rp.id.empty())
    return Refusal(Status::FailedPrecondition(
        "passkeys need the approver's page: serve --http ADDRESS:PORT (and --web-origin behind a "
        "proxy)"));
  if (!approval::ValidApproverName(approver))
    return Refusal(Status::InvalidArgument("passkey_challenge needs an \"approver\""));
  std::string binding;
  std::string error;
  if (purpose == "approve") {
    approval::Request held;
    if (Status st = core_.store().Get(target, &held); !st.ok()) return Refusal(st);
    binding = ApprovalBinding(held);
  } else if (purpose == "breaker_reset") {
    if (target.empty()) return Refusal(Status::InvalidArgument("breaker_reset needs the agent"));
    binding = "breaker:" + target;
  } else if (purpose == "signin") {
    binding = "signin:" + approver;
  } else if (purpose == "approver_add" || purpose == "approver_remove" ||
             purpose == "approver_rotate" || purpose == "passkey_enrol" ||
             purpose == "passkey_remove") {
    if (target.empty()) return Refusal(Status::InvalidArgument(purpose + " needs a \"target\""));
    binding = purpose + ":" + target;
  } else {
    return Refusal(Status::InvalidArgument(
        "\"purpose\" is one of approve, breaker_reset, signin, approver_add, approver_remove, "
        "approver_rotate, passkey_enrol, passkey_remove"));
  }
  std::vector<approval::Passkey> passkeys;
  if (!approval::Passkeys(core_.store(), approver, &passkeys, &error))
    return Refusal(Status::Unavailable("the store failed: " + error));
  if (passkeys.empty())
    return Refusal(Status::FailedPrecondition("approver '" + base::ToValidUtf8(approver) +
                                              "' has no passkey; use a TOTP code, or enrol one "
                                              "with `dualkey approver passkey add " +
                                              base::ToValidUtf8(approver) + "`"));
  Result<approval::PasskeyChallenge> challenge =
      approval::IssuePasskeyChallenge(core_.store(), approver, binding, Core::NowMs());
  if (!challenge.ok()) return Refusal(challenge.status());
  json credentials = json::array();
  for (const approval::Passkey& p : passkeys)
    credentials.push_back(webauthn::Base64UrlEncode(p.credential.id));
  return json{{"ok", true},
              {"nonce", challenge->nonce},
              {"challenge", webauthn::Base64UrlEncode(challenge->challenge)},
              {"rp_id", rp.id},
              {"origin", rp.origin},
              {"credentials", credentials},
              {"timeout_ms", kPasskeyTimeoutMs},
              {"expires_ms", challenge->expires_ms}};
}

json PasskeyOps::EnrolBegin(const Peer& peer, const json& body) {
  const std::string name = Text(body, "name");
  const std::string approver =
      Text(body, "approver").empty() ? Text(body, "as") : Text(body, "approver");
  const webauthn::RelyingParty rp = RelyingPartyOf(core_);
  if (rp.id.empty())
    return Refusal(Status::FailedPrecondition(
        "passkeys are enrolled on the approver's page: serve --http ADDRESS:PORT first"));
  if (Status st = core_.store().ApproverSecret(name, nullptr); !st.ok())
    return Refusal(Status::NotFound("no approver '" + base::ToValidUtf8(name) +
                                    "': add the approver first (dualkey approver add)"));
  json fields{{"name", name}};
  if (!peer.admin || !approver.empty()) {
    // Approver administration: an existing approver's fresh second factor.
    if (approver.empty()) {
      core_.Record("passkey_enrol_refused",
                   json{{"name", name}, {"why", "neither root, the daemon's user nor an approver"}},
                   &peer);
      return Refusal(Status::PermissionDenied(
          "enrolling a passkey is approver administration: an existing approver's code (--as "
          "NAME) or root (sudo dualkey approver passkey add " +
          base::ToValidUtf8(name) + ")"));
    }
    if (std::optional<json> refused = Check(body, approver, "passkey_enrol:" + name, peer))
      return *refused;
    fields["approver"] = approver;
  }
  const std::string token = RandomToken();
  if (token.empty()) return Refusal(Status::Internal("the random number generator failed"));
  const std::int64_t now = Core::NowMs();
  json refusal;
  if (!AuditFirst("passkey_enrol_started", fields, peer, &refusal)) return refusal;
  approval::Item item{"enrol", token, name, "", 0, now + kEnrolTtlMs};
  if (Status st = core_.store().PutItem(item, false, now); !st.ok())
    return Refusal(Status::Unavailable("the store failed: " + st.message()));
  return json{{"ok", true},
              {"name", name},
              {"token", token},
              {"link", rp.origin + "/#enrol=" + token},
              {"expires_ms", now + kEnrolTtlMs}};
}

json PasskeyOps::EnrolOptions(const json& body) {
  const std::string token = Text(body, "token");
  approval::Item item;
  bool found = false;
  std::string error;
  const std::int64_t now = Core::NowMs();
  if (token.empty() || !core_.store().GetItem("enrol", token, now, &item, &found).ok() || !found)
    return Refusal(Status::NotFound(
        "this enrolment link is unknown, used or expired; ask for a new one (dualkey approver "
        "passkey add NAME)"));
  const webauthn::RelyingParty rp = RelyingPartyOf(core_);
  std::vector<approval::Passkey> existing;
  approval::Passkeys(core_.store(), item.owner, &existing, &error);
  json exclude = json::array();
  for (const approval::Passkey& p : existing)
    exclude.push_back(webauthn::Base64UrlEncode(p.credential.id));
  unsigned char user_id[SHA256_DIGEST_LENGTH];
  const std::string user = "dualkey approver " + item.owner;
  SHA256(reinterpret_cast<const unsigned char*>(user.data()), user.size(), user_id);
  return json{{"ok", true},
              {"name", base::ToValidUtf8(item.owner)},
              {"challenge", webauthn::Base64UrlEncode(approval::PasskeyChallengeBytes(
                                token, "passkey_enrol:" + item.owner))},
              {"rp_id", rp.id},
              {"origin", rp.origin},
              {"user_id",
               webauthn::Base64UrlEncode(std::string_view(reinterpret_cast<char*>(user_id), 16))},
              {"exclude", exclude},
              {"timeout_ms", kPasskeyTimeoutMs},
              {"expires_ms", item.expires_ms}};
}

json PasskeyOps::EnrolFinish(const Peer& peer, const json& body) {
  const std::string token = Text(body, "token");
  Status status;
  webauthn::Registration registration;
  registration.client_data_json =
      Decode(Text(body, "client_data_json"), "client_data_json", &status);
  registration.attestation_object =
      Decode(Text(body, "attestation_object"), "attestation_object", &status);
  if (!status.ok()) return Refusal(status);
  const std::int64_t now = Core::NowMs();
  approval::Item item;
  bool found = false;
  std::string error;
  if (token.empty() || !core_.store().GetItem("enrol", token, now, &item, &found).ok() || !found)
    return Refusal(Status::NotFound("this enrolment link is unknown, used or expired"));
  const std::string name = item.owner;
  Result<webauthn::Credential> credential = webauthn::VerifyRegistration(
      RelyingPartyOf(core_), approval::PasskeyChallengeBytes(token, "passkey_enrol:" + name),
      registration);
  if (!credential.ok()) {
    core_.Record("passkey_enrol_failed",
                 json{{"name", name}, {"why", credential.status().message()}}, &peer);
    return Refusal(credential.status().Is(Status::Code::kInvalidArgument)
                       ? credential.status()
                       : Status::PermissionDenied(credential.status().message()));
  }
  // The token works once, even if two browsers finish at the same moment.
  if (!core_.store().TakeItem("enrol", token, now, nullptr, &found).ok() || !found)
    return Refusal(Status::NotFound("this enrolment link was used meanwhile"));
  std::string label = base::ToValidUtf8(Text(body, "label")).substr(0, 64);
  if (label.empty()) label = "passkey";
  const std::string id = webauthn::Base64UrlEncode(credential->id);
  json fields{{"name", name}, {"credential_id", id}, {"alg", credential->alg}, {"label", label}};
  json refusal;
  if (!AuditFirst("passkey_added", fields, peer, &refusal)) return refusal;
  approval::Passkey passkey{name, *credential, label, now};
  if (!approval::AddPasskey(core_.store(), passkey, &error)) {
    fields["why"] = error;
    core_.Record("passkey_added_not_applied", std::move(fields), &peer);
    return Refusal(Status::FailedPrecondition(error));
  }
  return json{{"ok", true}, {"name", name}, {"credential_id", id}, {"label", label}};
}

json PasskeyOps::List(const json& body) {
  std::vector<approval::Passkey> passkeys;
  std::string error;
  if (!approval::Passkeys(core_.store(), Text(body, "approver"), &passkeys, &error))
    return Refusal(Status::Unavailable("the store failed: " + error));
  json list = json::array();
  for (const approval::Passkey& p : passkeys)
    list.push_back(json{{"approver", base::ToValidUtf8(p.approver)},
                        {"credential_id", webauthn::Base64UrlEncode(p.credential.id)},
                        {"alg", p.credential.alg == webauthn::kEdDsa ? "EdDSA" : "ES256"},
                        {"label", p.label},
                        {"created_ms", p.created_ms},
                        {"sign_count", p.credential.sign_count}});
  return json{{"ok", true}, {"passkeys", list}};
}

json PasskeyOps::Remove(const Peer& peer, const json& body) {
  const std::string id = Text(body, "credential_id");
  const std::string approver = Text(body, "approver");
  std::string raw;
  if (!webauthn::Base64UrlDecode(id, &raw) || raw.empty())
    return Refusal(Status::InvalidArgument("passkey_remove needs a \"credential_id\" (base64url)"));
  if (std::optional<json> refused = Check(body, approver, "passkey_remove:" + id, peer))
    return *refused;
  json fields{{"credential_id", id}, {"approver", approver}};
  json refusal;
  if (!AuditFirst("passkey_removed", fields, peer, &refusal)) return refusal;
  std::string error;
  if (!approval::RemovePasskey(core_.store(), raw, &error)) {
    fields["why"] = error;
    core_.Record("passkey_removed_not_applied", std::move(fields), &peer);
    return Refusal(Status::NotFound(error));
  }
  return json{{"ok", true}, {"credential_id", id}, {"removed", true}};
}

// The page's sign-in: an approver's passkey (a challenge bound to
// "signin:NAME") or TOTP code, through Authorize with its lockouts. A
// session only lets the page show what waits: approving asks again.
json PasskeyOps::Signin(const Peer& peer, const json& body) {
  const std::string approver = Text(body, "approver");
  if (!approval::ValidApproverName(approver))
    return Refusal(Status::InvalidArgument("sign-in needs an approver's name"));
  approval::TotpSpend spend;
  if (std::optional<json> refused = Check(body, approver, "signin:" + approver, peer, &spend))
    return *refused;
  // A code that signed in is used up: approving asks for a fresh one.
  if (spend.step >= 0)
    if (Status used = core_.store().UseTotpStep(spend.approver, spend.step); !used.ok())
      return Refusal(used);
  core_.Record(
      "signin",
      json{{"approver", approver}, {"factor", body.contains("passkey") ? "passkey" : "totp"}},
      &peer, audit::Log::Durability::kWritten);
  return json{{"ok", true}, {"approver", approver}};
}

}  // namespace

webauthn::RelyingParty RelyingPartyOf(const Core& core) {
  webauthn::RelyingParty rp;
  rp.origin = core.web_origin();
  rp.id = webauthn::RpIdOfOrigin(rp.origin);
  if (rp.id.empty()) rp.origin.clear();
  return rp;
}

Result<approval::SecondFactor> SecondFactorOf(const Core& core, const std::string& totp,
                                              const std::optional<client::PasskeyAnswer>& passkey,
                                              const std::string& binding) {
  approval::SecondFactor factor;
  factor.totp = totp;
  factor.binding = binding;
  factor.rp = RelyingPartyOf(core);
  if (passkey) {
    Status status;
    approval::PasskeyProof proof;
    proof.nonce = passkey->nonce;
    proof.assertion.credential_id = Decode(passkey->credential_id, "credential_id", &status);
    proof.assertion.client_data_json =
        Decode(passkey->client_data_json, "client_data_json", &status);
    proof.assertion.authenticator_data =
        Decode(passkey->authenticator_data, "authenticator_data", &status);
    proof.assertion.signature = Decode(passkey->signature, "signature", &status);
    if (!status.ok()) return status;
    factor.passkey = std::move(proof);
  }
  return factor;
}

std::string ApprovalBinding(const approval::Request& request) {
  return "request:" + request.id + "\n" + request.action_hash;
}

void AddPasskeyOps(Dispatcher& dispatcher, Core& core, approval::LockoutPolicy policy) {
  auto ops = std::make_shared<PasskeyOps>(core, policy);
  dispatcher.Add("passkey_challenge", [ops](const Peer& peer, const json& body) -> Result<json> {
    return ops->Challenge(peer, body);
  });
  dispatcher.Add("passkey_enrol_begin", [ops](const Peer& peer, const json& body) -> Result<json> {
    return ops->EnrolBegin(peer, body);
  });
  dispatcher.Add("passkey_enrol_options", [ops](const Peer&, const json& body) -> Result<json> {
    return ops->EnrolOptions(body);
  });
  dispatcher.Add("passkey_enrol_finish", [ops](const Peer& peer, const json& body) -> Result<json> {
    return ops->EnrolFinish(peer, body);
  });
  dispatcher.Add("passkey_list",
                 [ops](const Peer&, const json& body) -> Result<json> { return ops->List(body); });
  dispatcher.Add("signin", [ops](const Peer& peer, const json& body) -> Result<json> {
    return ops->Signin(peer, body);
  });
  dispatcher.Add("passkey_remove", [ops](const Peer& peer, const json& body) -> Result<json> {
    return ops->Remove(peer, body);
  });
}

}  // namespace dualkey::daemon::internal
