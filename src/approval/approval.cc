#include "approval/approval.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>

#include "approval/internal.h"
#include "base/encoding.h"

namespace dualkey::approval {
namespace {

constexpr char kBase32Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

// Length-prefixed so that field boundaries cannot be shifted: ("ab","c")
// and ("a","bc") hash differently.
void HashField(EVP_MD_CTX* ctx, std::string_view field) {
  std::array<unsigned char, 8> length{};
  std::uint64_t size = field.size();
  for (int i = 7; i >= 0; --i) {
    length[i] = static_cast<unsigned char>(size & 0xff);
    size >>= 8;
  }
  EVP_DigestUpdate(ctx, length.data(), length.size());
  EVP_DigestUpdate(ctx, field.data(), field.size());
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::string ActionHash(std::string_view channel, std::string_view input, std::string_view cwd,
                       std::string_view agent) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_size = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return {};
  bool ok = EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1;
  if (ok) {
    HashField(ctx, "dualkey.action.v1");
    HashField(ctx, channel);
    HashField(ctx, input);
    HashField(ctx, cwd);
    HashField(ctx, agent);
    ok = EVP_DigestFinal_ex(ctx, digest.data(), &digest_size) == 1;
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) return {};
  return base::Hex(digest.data(), digest_size);
}

std::string_view ToString(State state) {
  switch (state) {
    case State::kPending:
      return "pending";
    case State::kApproved:
      return "approved";
    case State::kDenied:
      return "denied";
    case State::kConsumed:
      return "consumed";
    case State::kExpired:
      return "expired";
  }
  return "unknown";
}

bool ValidApproverName(std::string_view name) {
  return internal::ValidName(name);
}

Status CanApprove(const Request& request, const std::string& approver, std::int64_t now_ms) {
  Request copy = request;
  std::string reason;
  if (internal::ApplyApproval(&copy, approver, now_ms, &reason) == internal::Transition::kUpdate)
    return Status::Ok();
  return Status::FailedPrecondition(reason);
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& location) {
  if (StartsWith(location, "postgresql://") || StartsWith(location, "postgres://"))
    return internal::OpenPostgresStore(location);
  if (location.empty()) return Status::InvalidArgument("empty store location");
  return internal::OpenSqliteStore(location);
}

namespace internal {

bool RandomBytes(unsigned char* out, std::size_t size) {
  return RAND_bytes(out, static_cast<int>(size)) == 1;
}

std::string Base32Encode(const unsigned char* data, std::size_t size) {
  std::string out;
  out.reserve((size * 8 + 4) / 5);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::size_t i = 0; i < size; ++i) {
    buffer = (buffer << 8) | data[i];
    bits += 8;
    while (bits >= 5) {
      out.push_back(kBase32Alphabet[(buffer >> (bits - 5)) & 0x1f]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kBase32Alphabet[(buffer << (5 - bits)) & 0x1f]);
  return out;
}

bool Base32Decode(std::string_view text, std::vector<unsigned char>* out) {
  out->clear();
  std::uint32_t buffer = 0;
  int bits = 0;
  bool padding = false;
  for (char c : text) {
    if (c == ' ' || c == '-') continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    if (padding) return false;  // data after padding
    int value;
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      value = c - 'a';
    } else if (c >= '2' && c <= '7') {
      value = c - '2' + 26;
    } else {
      return false;
    }
    buffer = (buffer << 5) | static_cast<std::uint32_t>(value);
    bits += 5;
    if (bits >= 8) {
      out->push_back(static_cast<unsigned char>((buffer >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  return true;
}

std::string NewRequestId() {
  std::array<unsigned char, 10> raw{};
  if (!RandomBytes(raw.data(), raw.size())) return {};
  std::string id = "ap_";
  for (unsigned char byte : raw) {
    char c = kBase32Alphabet[byte & 0x1f];
    id.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return id;
}

std::string NewRequestCode() {
  std::array<unsigned char, 6> raw{};
  if (!RandomBytes(raw.data(), raw.size())) return {};
  std::string code;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (i == 3) code.push_back('-');
    code.push_back(kBase32Alphabet[raw[i] & 0x1f]);
  }
  return code;
}

std::string NormaliseIdOrCode(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n' ||
                           text.back() == '\r')) {
    text.remove_suffix(1);
  }
  std::string out(text);
  if (StartsWith(out, "ap_") || StartsWith(out, "AP_")) {
    for (char& c : out) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
  }
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  if (out.size() == 6 && out.find('-') == std::string::npos) out.insert(3, "-");
  return out;
}

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 128 || DisplaySafe(name) != name) return false;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::string JoinApprovers(const std::vector<std::string>& names) {
  std::string joined;
  for (const std::string& name : names) {
    if (!joined.empty()) joined.push_back('\n');
    joined += name;
  }
  return joined;
}

std::vector<std::string> SplitApprovers(std::string_view joined) {
  std::vector<std::string> names;
  while (!joined.empty()) {
    std::size_t end = joined.find('\n');
    if (end == std::string_view::npos) end = joined.size();
    if (end > 0) names.emplace_back(joined.substr(0, end));
    joined.remove_prefix(end == joined.size() ? end : end + 1);
  }
  return names;
}

bool ParseState(std::string_view text, State* state) {
  constexpr State kAll[] = {State::kPending, State::kApproved, State::kDenied, State::kConsumed,
                            State::kExpired};
  for (State candidate : kAll) {
    if (ToString(candidate) == text) {
      *state = candidate;
      return true;
    }
  }
  return false;
}

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status PrepareNewRequest(const Request& in, Request* out) {
  *out = in;
  if (out->action_hash.empty()) return Status::InvalidArgument("request without an action hash");
  if (out->approvals_needed < 1 || out->approvals_needed > 16)
    return Status::InvalidArgument("approvals_needed must be between 1 and 16");
  if (out->created_ms == 0) out->created_ms = NowMs();
  if (out->expires_ms == 0) out->expires_ms = out->created_ms + kDefaultTtlMs;
  if (out->id.empty()) out->id = NewRequestId();
  if (out->code.empty()) out->code = NewRequestCode();
  if (out->id.empty() || out->code.empty())
    return Status::Internal("random number generator failed");
  for (std::string* text : {&out->agent, &out->channel, &out->input, &out->cwd, &out->reason}) {
    *text = DisplaySafe(*text);
  }
  out->approvers.clear();
  out->state = State::kPending;
  out->denied_by.clear();
  out->deny_reason.clear();
  return Status::Ok();
}

Status DecodeRequest(const Row& row, Request* out) {
  out->id = row.Text(0);
  out->code = row.Text(1);
  out->action_hash = row.Text(2);
  out->agent = row.Text(3);
  out->channel = row.Text(4);
  out->input = row.Text(5);
  out->cwd = row.Text(6);
  out->reason = row.Text(7);
  out->approvals_needed = static_cast<int>(row.Int(8));
  out->approvers = SplitApprovers(row.Text(9));
  out->created_ms = row.Int(11);
  out->expires_ms = row.Int(12);
  out->denied_by = row.Text(13);
  out->deny_reason = row.Text(14);
  if (!ParseState(row.Text(10), &out->state))
    return Status::Corruption("corrupt request row " + out->id);
  return Status::Ok();
}

Item DecodeItem(const Row& row) {
  return Item{row.Text(0), row.Text(1), row.Text(2), row.Text(3), row.Int(4), row.Int(5)};
}
}  // namespace internal
}  // namespace dualkey::approval

namespace dualkey::approval::internal {
namespace {

// Length of the UTF-8 sequence starting at text[i], or 0 when invalid.
std::size_t Utf8SequenceLength(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  std::size_t length;
  std::uint32_t min;
  if (lead < 0x80) return lead == 0 ? 0 : 1;
  if ((lead & 0xe0) == 0xc0) {
    length = 2;
    min = 0x80;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3;
    min = 0x800;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  std::uint32_t code_point = lead & (0x7f >> length);
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    code_point = (code_point << 6) | (byte(i + k) & 0x3f);
  }
  if (code_point < min || code_point > 0x10ffff || (code_point >= 0xd800 && code_point <= 0xdfff)) {
    return 0;
  }
  return length;
}

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  for (const std::string& existing : names) {
    if (existing == name) return true;
  }
  return false;
}

// Shared refusals for requests that can no longer be decided.
bool Decidable(Request* request, std::int64_t now_ms, Transition* transition, std::string* error) {
  switch (request->state) {
    case State::kDenied:
      if (error) *error = "request " + request->id + " was denied";
      *transition = Transition::kFail;
      return false;
    case State::kConsumed:
      if (error) *error = "request " + request->id + " was already used";
      *transition = Transition::kFail;
      return false;
    case State::kExpired:
      if (error) *error = "request " + request->id + " has expired";
      *transition = Transition::kFail;
      return false;
    case State::kPending:
    case State::kApproved:
      break;
  }
  if (request->expires_ms <= now_ms) {
    request->state = State::kExpired;
    if (error) *error = "request " + request->id + " has expired";
    *transition = Transition::kUpdateAndFail;
    return false;
  }
  return true;
}

}  // namespace

std::string DisplaySafe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", static_cast<unsigned char>(text[i]));
      out += escaped;
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

Transition ApplyApproval(Request* request, const std::string& approver, std::int64_t now_ms,
                         std::string* error) {
  Transition transition = Transition::kFail;
  if (!Decidable(request, now_ms, &transition, error)) return transition;
  if (request->state == State::kApproved) {
    if (error) *error = "request " + request->id + " is already approved";
    return Transition::kFail;
  }
  if (Contains(request->approvers, approver)) {
    if (error) {
      *error =
          approver + " already approved request " + request->id + "; it needs a different approver";
    }
    return Transition::kFail;
  }
  request->approvers.push_back(approver);
  if (static_cast<int>(request->approvers.size()) >= request->approvals_needed) {
    request->state = State::kApproved;
  }
  return Transition::kUpdate;
}

Status CheckTotpSecret(std::string_view secret) {
  std::vector<unsigned char> key;
  if (!Base32Decode(secret, &key) || key.size() < 10)
    return Status::InvalidArgument("the TOTP secret must be base32, at least 80 bits");
  return Status::Ok();
}

Status CheckNewApprover(std::string_view name, std::string_view secret) {
  if (!ValidName(name)) return Status::InvalidArgument("invalid approver name");
  return CheckTotpSecret(secret);
}

bool CountAttempt(const std::vector<Lockout>& rows, std::int64_t now_ms,
                  const LockoutPolicy& policy, std::vector<Lockout>* counted) {
  counted->clear();
  bool locked = false;
  for (const Lockout& row : rows) locked = locked || IsLocked(row, now_ms);
  if (locked) return true;
  for (const Lockout& row : rows) counted->push_back(CountFailure(row, now_ms, policy));
  return false;
}

Status HandOverAttempt(bool locked, std::vector<Lockout> rows, std::vector<Lockout> counted,
                       std::vector<Lockout>* before, std::vector<Lockout>* after) {
  if (after) *after = locked ? rows : std::move(counted);
  if (before) *before = std::move(rows);
  return Status::Ok();
}

Status CheckForgiveRows(const std::vector<Lockout>& before, const std::vector<Lockout>& after) {
  if (before.size() != after.size())
    return Status::InvalidArgument("ForgiveAuthAttempt: rows do not pair up");
  return Status::Ok();
}

Lockout CountFailure(const Lockout& row, std::int64_t now_ms, const LockoutPolicy& policy) {
  Lockout out = row;
  if (out.last_failure_ms > 0 && now_ms - out.last_failure_ms >= policy.forget_after_ms &&
      !IsLocked(out, now_ms)) {
    out.failures = 0;
  }
  out.failures += 1;
  out.last_failure_ms = now_ms;
  if (out.failures >= policy.free_failures) {
    std::int64_t lockout = policy.first_lockout_ms;
    for (int i = policy.free_failures; i < out.failures && lockout < policy.max_lockout_ms; ++i)
      lockout *= 2;
    out.locked_until_ms = now_ms + std::min(lockout, policy.max_lockout_ms);
  }
  return out;
}

std::vector<std::string> SortedScopes(const std::vector<std::string>& scopes) {
  std::vector<std::string> sorted = scopes;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  return sorted;
}

Transition ApplyDenial(Request* request, const std::string& approver, const std::string& reason,
                       std::int64_t now_ms, std::string* error) {
  Transition transition = Transition::kFail;
  if (!Decidable(request, now_ms, &transition, error)) return transition;
  request->state = State::kDenied;
  request->denied_by = approver;
  request->deny_reason = DisplaySafe(reason);
  return Transition::kUpdate;
}

}  // namespace dualkey::approval::internal
