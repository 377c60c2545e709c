// The audit log's record format: see format.h and docs/audit-format.md.
#include "audit/internal/format.h"

#include <algorithm>
#include <chrono>

namespace dualkey::audit::internal {

bool IsLowerHex(std::string_view text, std::size_t size) {
  return text.size() == size && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}
std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Sha256::Sha256() : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {}

Sha256::~Sha256() {
  EVP_MD_CTX_free(ctx_);
  EVP_MD_free(md_);
}

std::string Sha256::ChainHash(std::string_view prev,
                              std::initializer_list<std::string_view> canonical) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (md_ == nullptr || ctx_ == nullptr || EVP_DigestInit_ex(ctx_, md_, nullptr) != 1 ||
      EVP_DigestUpdate(ctx_, prev.data(), prev.size()) != 1 || EVP_DigestUpdate(ctx_, "\n", 1) != 1)
    return {};
  for (std::string_view piece : canonical)
    if (EVP_DigestUpdate(ctx_, piece.data(), piece.size()) != 1) return {};
  if (EVP_DigestFinal_ex(ctx_, digest, &size) != 1) return {};
  return Hex(digest, size);
}

std::string DumpCanonical(const Json& value) {
  // Sorted keys (nlohmann's object is a std::map), no whitespace; invalid
  // UTF-8 is replaced rather than thrown (parse already rejects it).
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string CanonicalAfterFields(std::string_view kind_json, std::uint64_t seq,
                                 std::int64_t time_ms) {
  std::string out = ",\"kind\":";
  out += kind_json;
  out += ",\"seq\":";
  out += std::to_string(seq);
  out += ",\"time_ms\":";
  out += std::to_string(time_ms);
  out += '}';
  return out;
}

// The line as written: the spec's key order for people reading it; the
// verifier parses it, so the order carries no meaning.
void AppendEntryLine(std::string* out, std::uint64_t seq, std::int64_t time_ms,
                     std::string_view kind_json, std::string_view fields_canonical,
                     std::string_view prev, std::string_view hash, std::string_view mac) {
  out->reserve(out->size() + fields_canonical.size() + kind_json.size() + 220);
  *out += "{\"seq\":";
  *out += std::to_string(seq);
  *out += ",\"time_ms\":";
  *out += std::to_string(time_ms);
  *out += ",\"kind\":";
  *out += kind_json;
  *out += ",\"fields\":";
  *out += fields_canonical;
  *out += ",\"prev\":\"";
  *out += prev;
  *out += "\",\"hash\":\"";
  *out += hash;
  *out += "\",\"mac\":\"";
  *out += mac;
  *out += "\"}\n";
}

std::string CheckpointMessage(std::uint64_t seq, std::string_view hash, std::string_view event) {
  Json message{{"seq", seq}, {"hash", std::string(hash)}};
  if (!event.empty()) message["event"] = std::string(event);
  return DumpCanonical(message);
}

MacKey DeriveMacKey(const SecretKey& sk) {
  static constexpr std::string_view kContext = "dualkey.audit.entry-mac.v1";
  MacKey key{};
  crypto_generichash(key.data(), key.size(),
                     reinterpret_cast<const unsigned char*>(kContext.data()), kContext.size(),
                     sk.data(), crypto_sign_SEEDBYTES);
  return key;
}

std::string EntryMac(std::string_view hash, const MacKey& key) {
  std::array<unsigned char, 32> mac{};
  crypto_generichash(mac.data(), mac.size(), reinterpret_cast<const unsigned char*>(hash.data()),
                     hash.size(), key.data(), key.size());
  return Hex(mac.data(), mac.size());
}

// A checkpoint line; `sig_hex` receives the signature.
std::string CheckpointLine(std::uint64_t seq, std::string_view hash, std::string_view event,
                           const SecretKey& sk, std::string* sig_hex) {
  std::string message = CheckpointMessage(seq, hash, event);
  Signature sig{};
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), sk.data());
  std::string hex = Hex(sig.data(), sig.size());
  if (sig_hex != nullptr) *sig_hex = hex;
  return "{\"checkpoint\":" + message + ",\"sig\":\"" + hex + "\"}\n";
}

bool CheckSignature(std::uint64_t seq, std::string_view hash, std::string_view event,
                    std::string_view sig_hex, const PublicKeyBytes& pk) {
  Signature sig{};
  if (!Unhex(sig_hex, &sig)) return false;
  std::string message = CheckpointMessage(seq, hash, event);
  return crypto_sign_verify_detached(sig.data(),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), pk.data()) == 0;
}

ParsedLine ParseLine(std::string_view text) {
  ParsedLine out;
  if (text.empty()) {
    out.why = "empty line";
    return out;
  }
  Json value = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded() || !value.is_object()) {
    out.why = "not a JSON object";
    return out;
  }
  if (value.contains("dualkey_audit")) {
    out.kind = LineKind::kHeader;
    return out;
  }
  if (value.contains("checkpoint")) {
    const Json& cp = value["checkpoint"];
    auto sig = value.find("sig");
    const bool has_event = cp.is_object() && cp.contains("event");
    if (!cp.is_object() || !cp.contains("seq") || !cp["seq"].is_number_unsigned() ||
        !cp.contains("hash") || !cp["hash"].is_string() || sig == value.end() ||
        !sig->is_string() || value.size() != 2 || cp.size() != (has_event ? 3u : 2u) ||
        (has_event &&
         (!cp["event"].is_string() || (cp["event"] != "open" && cp["event"] != "close")))) {
      out.why = "malformed checkpoint";
      return out;
    }
    out.kind = LineKind::kCheckpoint;
    out.checkpoint.seq = cp["seq"].get<std::uint64_t>();
    out.checkpoint.hash = cp["hash"].get<std::string>();
    out.checkpoint.sig = sig->get<std::string>();
    if (has_event) out.checkpoint.event = cp["event"].get<std::string>();
    return out;
  }
  auto field = [&](const char* name) -> const Json* {
    auto it = value.find(name);
    return it == value.end() ? nullptr : &*it;
  };
  const Json* seq = field("seq");
  const Json* time_ms = field("time_ms");
  const Json* kind = field("kind");
  const Json* fields = field("fields");
  const Json* prev = field("prev");
  const Json* hash = field("hash");
  const Json* mac = field("mac");
  if (seq == nullptr || !seq->is_number_unsigned()) {
    out.why = "malformed entry: no valid \"seq\"";
  } else if (time_ms == nullptr || !time_ms->is_number_integer()) {
    out.why = "malformed entry: no valid \"time_ms\"";
  } else if (kind == nullptr || !kind->is_string()) {
    out.why = "malformed entry: no valid \"kind\"";
  } else if (fields == nullptr || !fields->is_object()) {
    out.why = "malformed entry: no valid \"fields\" object";
  } else if (prev == nullptr || !prev->is_string()) {
    out.why = "malformed entry: no valid \"prev\"";
  } else if (hash == nullptr || !hash->is_string()) {
    out.why = "malformed entry: no valid \"hash\"";
  } else if (mac != nullptr && (!mac->is_string() || !IsLowerHex(mac->get<std::string>(), 64))) {
    out.why = "malformed entry: no valid \"mac\"";
  } else if (value.size() != (mac != nullptr ? 7u : 6u)) {
    out.why = "malformed entry: unexpected extra keys";
  } else {
    out.kind = LineKind::kEntry;
    out.entry.seq = seq->get<std::uint64_t>();
    out.entry.time_ms = time_ms->get<std::int64_t>();
    out.entry.kind = kind->get<std::string>();
    out.entry.fields = *fields;
    out.entry.prev = prev->get<std::string>();
    out.entry.hash = hash->get<std::string>();
    if (mac != nullptr) out.entry.mac = mac->get<std::string>();
  }
  return out;
}

std::string RecomputeHash(const ParsedEntry& entry, Sha256* sha) {
  return sha->ChainHash(entry.prev, {kCanonicalHead, DumpCanonical(entry.fields),
                                     CanonicalAfterFields(DumpCanonical(Json(entry.kind)),
                                                          entry.seq, entry.time_ms)});
}

std::optional<Header> ParseHeader(std::string_view text, std::string* why) {
  Json value = Json::parse(text.begin(), text.end(), nullptr, false);
  if (value.is_discarded() || !value.is_object()) {
    *why = "not a JSON object";
    return std::nullopt;
  }
  auto version = value.find("dualkey_audit");
  if (version == value.end() || !version->is_number_integer() || version->get<int>() != 1) {
    *why = "no \"dualkey_audit\":1";
    return std::nullopt;
  }
  auto key = value.find("public_key");
  if (key == value.end() || !key->is_string() ||
      !IsLowerHex(key->get<std::string>(), 2 * crypto_sign_PUBLICKEYBYTES)) {
    *why = "no valid \"public_key\"";
    return std::nullopt;
  }
  return Header{key->get<std::string>()};
}

std::string EntryJsonLine(const Entry& entry) {
  OrderedJson line;
  line["seq"] = entry.seq;
  if (entry.item > 0) line["item"] = entry.item;
  line["time_ms"] = entry.time_ms;
  line["kind"] = entry.kind;
  line["fields"] = OrderedJson::parse(entry.fields, nullptr, false);
  line["prev"] = entry.prev_hash;
  line["hash"] = entry.hash;
  return line.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

}  // namespace dualkey::audit::internal

namespace dualkey::audit {

namespace internal {

const Json* BatchItems(std::string_view kind, const Json& fields) {
  if (kind != "decisions" || !fields.is_object()) return nullptr;
  const auto items = fields.find("decisions");
  if (items == fields.end() || !items->is_array() || items->empty() ||
      !std::all_of(items->begin(), items->end(), [](const Json& i) { return i.is_object(); }))
    return nullptr;
  return &*items;
}

Json BatchItemFields(const Json& item, const Json& batch_fields) {
  Json decision = item;
  for (const char* shared : {"peer", "source", "time_ms"})
    if (auto it = batch_fields.find(shared); it != batch_fields.end()) decision[shared] = *it;
  return decision;
}

void AppendReadable(ParsedEntry entry, std::vector<Entry>* out) {
  Entry one;
  one.seq = entry.seq;
  one.time_ms = entry.time_ms;
  one.prev_hash = std::move(entry.prev);
  one.hash = std::move(entry.hash);
  const Json* items = BatchItems(entry.kind, entry.fields);
  if (items == nullptr) {
    one.kind = std::move(entry.kind);
    one.fields = DumpCanonical(entry.fields);
    out->push_back(std::move(one));
    return;
  }
  one.kind = "decision";
  for (const Json& item : *items) {
    ++one.item;
    one.fields = DumpCanonical(BatchItemFields(item, entry.fields));
    out->push_back(one);
  }
}

}  // namespace internal

void AppendReadable(Entry entry, std::vector<Entry>* out) {
  internal::Json fields;
  if (entry.kind == "decisions")
    fields = internal::Json::parse(entry.fields, nullptr, /*allow_exceptions=*/false);
  if (internal::BatchItems(entry.kind, fields) == nullptr) {
    out->push_back(std::move(entry));
    return;
  }
  internal::ParsedEntry parsed;
  parsed.seq = entry.seq;
  parsed.time_ms = entry.time_ms;
  parsed.kind = std::move(entry.kind);
  parsed.fields = std::move(fields);
  parsed.prev = std::move(entry.prev_hash);
  parsed.hash = std::move(entry.hash);
  internal::AppendReadable(std::move(parsed), out);
}

}  // namespace dualkey::audit
