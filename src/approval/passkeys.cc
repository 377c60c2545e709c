// Passkeys and their challenges, kept as Items in the store (so both
// backends, and daemons sharing PostgreSQL, agree), and the passkey branch of
// Authorize (authorize.cc).
#include <openssl/sha.h>

#include <algorithm>

#include "approval/approval.h"
#include "approval/internal.h"
#include "base/encoding.h"
#include "base/json_text.h"

namespace dualkey::approval {
namespace {

constexpr std::size_t kMaxChallengesPerApprover = 32;

std::string Hex(std::string_view bytes) {
  return base::Hex(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

bool Unhex(std::string_view text, std::string* out) {
  if (text.size() % 2 != 0) return false;
  out->clear();
  for (std::size_t i = 0; i < text.size(); i += 2) {
    auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    const int hi = nibble(text[i]), lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

bool ReadPasskey(const Item& item, Passkey* out) {
  std::optional<nlohmann::json> value = base::JsonParse(item.value);
  if (!value || !value->is_object()) return false;
  out->approver = item.owner;
  if (!webauthn::Base64UrlDecode(item.key, &out->credential.id)) return false;
  out->credential.alg = value->value("alg", 0);
  out->credential.sign_count = static_cast<std::uint32_t>(item.counter);
  out->credential.user_verified = true;
  out->label = value->value("label", "");
  out->created_ms = value->value("created_ms", std::int64_t{0});
  return Unhex(value->value("public_key", ""), &out->credential.public_key_der);
}

}  // namespace

bool AddPasskey(Store& store, const Passkey& passkey, std::string* error) {
  if (passkey.credential.id.empty() || passkey.credential.public_key_der.empty()) {
    if (error) *error = "a passkey needs a credential id and a public key";
    return false;
  }
  Item item;
  item.kind = "passkey";
  item.key = webauthn::Base64UrlEncode(passkey.credential.id);
  item.owner = passkey.approver;
  item.counter = passkey.credential.sign_count;
  item.value = base::JsonDump(nlohmann::json{{"alg", passkey.credential.alg},
                                             {"public_key", Hex(passkey.credential.public_key_der)},
                                             {"label", base::ToValidUtf8(passkey.label)},
                                             {"created_ms", passkey.created_ms}});
  if (Status put = store.PutItem(item, /*replace=*/false, passkey.created_ms); !put.ok()) {
    if (error)
      *error = put.Is(Status::Code::kFailedPrecondition) ? "this passkey is already enrolled"
                                                         : put.message();
    return false;
  }
  return true;
}

bool Passkeys(Store& store, const std::string& approver, std::vector<Passkey>* out,
              std::string* error) {
  std::vector<Item> items;
  if (Status listed = store.ListItems("passkey", approver, internal::NowMs(), &items);
      !listed.ok()) {
    if (error) *error = listed.message();
    return false;
  }
  out->clear();
  for (const Item& item : items) {
    Passkey passkey;
    if (ReadPasskey(item, &passkey)) out->push_back(std::move(passkey));
  }
  return true;
}

bool RemovePasskey(Store& store, const std::string& credential_id, std::string* error) {
  bool deleted = false;
  if (Status removed =
          store.DeleteItem("passkey", webauthn::Base64UrlEncode(credential_id), &deleted);
      !removed.ok()) {
    if (error) *error = removed.message();
    return false;
  }
  if (!deleted && error) *error = "no such passkey";
  return deleted;
}

std::string PasskeyChallengeBytes(std::string_view nonce, std::string_view binding) {
  const std::string text =
      "dualkey webauthn challenge v1\n" + std::string(nonce) + "\n" + std::string(binding);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

Result<PasskeyChallenge> IssuePasskeyChallenge(Store& store, const std::string& approver,
                                               const std::string& binding, std::int64_t now_ms) {
  unsigned char random[24];
  if (!internal::RandomBytes(random, sizeof random))
    return Status::Internal("the random number generator failed");
  PasskeyChallenge challenge;
  challenge.nonce =
      webauthn::Base64UrlEncode(std::string_view(reinterpret_cast<char*>(random), sizeof random));
  challenge.challenge = PasskeyChallengeBytes(challenge.nonce, binding);
  challenge.expires_ms = now_ms + kChallengeTtlMs;
  // Bounded: asking for challenges in a loop makes the oldest give way, never
  // the store grow.
  std::vector<Item> waiting;
  if (Status listed = store.ListItems("challenge", approver, now_ms, &waiting); !listed.ok())
    return Status::Unavailable("the approval store failed: " + listed.message());
  if (waiting.size() >= kMaxChallengesPerApprover) {
    std::sort(waiting.begin(), waiting.end(),
              [](const Item& a, const Item& b) { return a.expires_ms < b.expires_ms; });
    for (std::size_t i = 0; i + kMaxChallengesPerApprover - 1 < waiting.size(); ++i)
      store.DeleteItem("challenge", waiting[i].key, nullptr);
  }
  Item item{"challenge", challenge.nonce, approver, binding, 0, challenge.expires_ms};
  if (Status put = store.PutItem(item, /*replace=*/false, now_ms); !put.ok())
    return Status::Unavailable("the approval store failed: " + put.message());
  return challenge;
}

namespace internal {

// The passkey check inside Authorize, after the attempt was counted.
Status CheckPasskey(Store& store, const std::string& approver, const SecondFactor& factor,
                    const std::string& subject, std::int64_t now_ms) {
  const PasskeyProof& proof = *factor.passkey;
  const std::string& binding = factor.binding.empty() ? subject : factor.binding;
  Item challenge;
  bool found = false;
  if (Status taken = store.TakeItem("challenge", proof.nonce, now_ms, &challenge, &found);
      !taken.ok())
    return Status::Unavailable("the approval store failed: " + taken.message());
  if (!found)
    return Status::PermissionDenied(
        "the passkey answered a challenge that is unknown, used or expired; ask for a new one");
  if (challenge.owner != approver || challenge.value != binding)
    return Status::PermissionDenied(
        "the passkey answered a challenge issued for another " +
        std::string(challenge.owner != approver ? "approver" : "action"));
  Item stored;
  if (Status got =
          store.GetItem("passkey", webauthn::Base64UrlEncode(proof.assertion.credential_id), now_ms,
                        &stored, &found);
      !got.ok())
    return Status::Unavailable("the approval store failed: " + got.message());
  Passkey passkey;
  if (!found || !ReadPasskey(stored, &passkey))
    return Status::PermissionDenied("this passkey is not enrolled");
  if (passkey.approver != approver)
    return Status::PermissionDenied("this passkey is not approver '" + DisplaySafe(approver) +
                                    "''s");
  if (factor.rp.id.empty() || factor.rp.origin.empty())
    return Status::FailedPrecondition(
        "passkeys are not set up on this daemon (serve --http with --web-origin)");
  Result<std::uint32_t> counter = webauthn::VerifyAssertion(
      factor.rp, PasskeyChallengeBytes(proof.nonce, binding), passkey.credential, proof.assertion);
  if (!counter.ok()) {
    if (counter.status().Is(Status::Code::kUnavailable)) return counter.status();
    return Status::PermissionDenied(counter.status().message());
  }
  bool advanced = false;
  if (Status moved =
          store.AdvanceItemCounter("passkey", stored.key, stored.counter, *counter, &advanced);
      !moved.ok())
    return Status::Unavailable("the approval store failed: " + moved.message());
  if (!advanced)
    return Status::PermissionDenied(
        "the passkey was used at the same moment by another request; try again");
  return Status::Ok();
}

}  // namespace internal
}  // namespace dualkey::approval
