#include "client/report_wire.h"

#include <sodium.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>

#include "base/json_text.h"
#include "base/text.h"

namespace dualkey::client {
namespace {

// Whether any of the eight bytes at `p` is a control character, '"' or
// '\\' (bytes of 0x80 and above pass as they are). Exact for "any", as
// the zero-byte test it is built on: a byte below n sets its high bit in
// (x - n) & ~x, and a borrow only ever follows such a byte.
bool NeedsEscapeIn8(const char* p) {
  constexpr std::uint64_t kOnes = 0x0101010101010101u;
  constexpr std::uint64_t kHigh = 0x8080808080808080u;
  std::uint64_t x;
  std::memcpy(&x, p, sizeof x);
  const auto zero_in = [](std::uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  const std::uint64_t control = (x - kOnes * 0x20) & ~x & kHigh;
  return (control | zero_in(x ^ (kOnes * '"')) | zero_in(x ^ (kOnes * '\\'))) != 0;
}

void AppendNumber(std::string* out, std::int64_t n) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
  out->append(digits, end);
}

void AppendText(std::string* out, std::string_view bytes) {
  if (base::IsValidUtf8(bytes)) {
    AppendNumber(out, static_cast<std::int64_t>(bytes.size()));
    out->push_back(':');
    out->append(bytes);
    return;
  }
  const std::size_t size = sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  AppendNumber(out, static_cast<std::int64_t>(size - 1));
  out->push_back('~');
  const std::size_t at = out->size();
  out->resize(at + size);
  sodium_bin2base64(out->data() + at, size, reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out->resize(out->size() - 1);  // the terminating NUL
}

bool ReadNumber(std::string_view* in, std::int64_t* out, char end) {
  const char* first = in->data();
  const char* last = first + in->size();
  const auto [ptr, ec] = std::from_chars(first, last, *out);
  if (ec != std::errc() || ptr == last || *ptr != end) return false;
  in->remove_prefix(static_cast<std::size_t>(ptr - first) + 1);
  return true;
}

bool ReadText(std::string_view* in, std::string_view* out, std::string* storage) {
  const char* first = in->data();
  const char* last = first + in->size();
  std::size_t length = 0;
  const auto [ptr, ec] = std::from_chars(first, last, length);
  if (ec != std::errc() || ptr == last || (*ptr != ':' && *ptr != '~')) return false;
  const bool base64 = *ptr == '~';
  in->remove_prefix(static_cast<std::size_t>(ptr - first) + 1);
  if (length > in->size()) return false;
  *out = in->substr(0, length);
  in->remove_prefix(length);
  if (!base64) return true;
  storage->assign(length / 4 * 3 + 3, '\0');
  std::size_t decoded = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(storage->data()), storage->size(),
                        out->data(), out->size(), nullptr, &decoded, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0)
    return false;
  storage->resize(decoded);
  *out = *storage;
  return true;
}

// ---- Reading a report line (ParseReportLine) --------------------------------
// The scan below only finds where things are; what it finds is checked by
// the parser (the rest of the line) and by UnescapeJsonString (the value).

constexpr std::size_t kNone = std::string_view::npos;

std::size_t SkipSpace(std::string_view s, std::size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  return i;
}

// `i` at an opening quote: the index after its closing quote; kNone when none.
std::size_t SkipString(std::string_view s, std::size_t i) {
  for (++i; i < s.size(); ++i) {
    while (i + 8 <= s.size() && !NeedsEscapeIn8(s.data() + i)) i += 8;
    if (i >= s.size()) break;
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return kNone;
}

// `i` at a value: the index after it; kNone when it does not end.
std::size_t SkipValue(std::string_view s, std::size_t i) {
  if (i >= s.size()) return kNone;
  if (s[i] == '"') return SkipString(s, i);
  if (s[i] != '{' && s[i] != '[') {  // a number or a literal
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' &&
           s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
      ++i;
    return i;
  }
  int depth = 0;
  while (i < s.size()) {
    if (s[i] == '"') {
      i = SkipString(s, i);
      if (i == kNone) return kNone;
      continue;
    }
    if (s[i] == '{' || s[i] == '[') {
      ++depth;
    } else if ((s[i] == '}' || s[i] == ']') && --depth == 0) {
      return i + 1;
    }
    ++i;
  }
  return kNone;
}

void AppendUtf8(std::string* out, std::uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | cp >> 6));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | cp >> 12));
    out->push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | cp >> 18));
    out->push_back(static_cast<char>(0x80 | (cp >> 12 & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Four hex digits at `s[i]`; -1 when they are not.
int Hex4(std::string_view s, std::size_t i) {
  if (i + 4 > s.size()) return -1;
  int value = 0;
  for (std::size_t k = i; k < i + 4; ++k) {
    const int digit = base::HexValue(s[k]);
    if (digit < 0) return -1;
    value = value << 4 | digit;
  }
  return value;
}

// A JSON string's inside (without its quotes) as its text; false for
// anything JSON does not allow there (a raw control character or quote, an
// unknown escape, a lone surrogate, bytes that are not UTF-8), as strictly
// as nlohmann's lexer.
bool UnescapeJsonString(std::string_view raw, std::string* out) {
  // Escapes are ASCII, and no byte of a multi-byte sequence is: the raw
  // text is valid UTF-8 exactly when the string's bytes are.
  if (!base::IsValidUtf8(raw)) return false;
  out->clear();
  out->reserve(raw.size());
  std::size_t i = 0;
  while (i < raw.size()) {
    const std::size_t start = i;
    while (i + 8 <= raw.size() && !NeedsEscapeIn8(raw.data() + i)) i += 8;
    while (i < raw.size() && raw[i] != '\\' && raw[i] != '"' &&
           static_cast<unsigned char>(raw[i]) >= 0x20)
      ++i;
    out->append(raw.data() + start, i - start);
    if (i == raw.size()) break;
    if (raw[i] != '\\' || i + 1 == raw.size()) return false;
    const char kind = raw[i + 1];
    i += 2;
    switch (kind) {
      case '"':
        out->push_back('"');
        break;
      case '\\':
        out->push_back('\\');
        break;
      case '/':
        out->push_back('/');
        break;
      case 'b':
        out->push_back('\b');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case 'n':
        out->push_back('\n');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'u': {
        const int unit = Hex4(raw, i);
        if (unit < 0) return false;
        i += 4;
        std::uint32_t cp = static_cast<std::uint32_t>(unit);
        if (cp >= 0xDC00 && cp <= 0xDFFF) return false;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (i + 2 > raw.size() || raw[i] != '\\' || raw[i + 1] != 'u') return false;
          const int low = Hex4(raw, i + 2);
          if (low < 0xDC00 || low > 0xDFFF) return false;
          i += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (static_cast<std::uint32_t>(low) - 0xDC00);
        }
        AppendUtf8(out, cp);
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

}  // namespace

void AppendJsonString(std::string* out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  std::size_t plain = 0;  // start of the run not yet copied
  for (std::size_t i = 0; i < text.size(); ++i) {
    // Most text needs no escape: eight bytes at a time while none does.
    while (i + 8 <= text.size() && !NeedsEscapeIn8(text.data() + i)) i += 8;
    if (i >= text.size()) break;
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(text.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default: {
        const char escaped[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
        out->append(escaped, sizeof escaped);
      }
    }
  }
  out->append(text.data() + plain, text.size() - plain);
  out->push_back('"');
}

void AppendPacked(std::string* out, const DecisionView& d) {
  AppendNumber(out, d.time_ms);
  out->push_back(',');
  AppendText(out, ToString(d.decision));
  out->append(d.forwarded ? "1," : "0,");
  AppendNumber(out, d.added_us);
  out->push_back(',');
  AppendText(out, ToString(d.channel));
  AppendText(out, d.agent);
  AppendText(out, d.cwd);
  AppendText(out, d.input.substr(0, kMaxReportedText));
  AppendText(out, d.op_class);
  AppendText(out, d.reason.substr(0, kMaxReportedText));
}

void PackedQueue::Push(const DecisionView& decision) {
  AppendPacked(&text_, decision);
  ends_.push_back(text_.size());
}

std::size_t PackedQueue::Front(std::size_t max_count, std::size_t max_bytes,
                               std::string* out) const {
  std::size_t count = 0;
  std::size_t end = begin_;
  while (count < std::min(max_count, size()) && (count == 0 || end - begin_ < max_bytes))
    end = ends_[first_ + count++];
  out->assign(text_, begin_, end - begin_);
  return count;
}

void PackedQueue::Pop(std::size_t count) {
  count = std::min(count, size());
  if (count == 0) return;
  first_ += count;
  begin_ = ends_[first_ - 1];
  if (first_ == ends_.size()) {
    // Empty: start over, keeping the capacity (the usual case, a batch
    // taken whole while the link is up).
    text_.clear();
    ends_.clear();
    begin_ = first_ = 0;
  } else if (begin_ >= text_.size() / 2) {
    // Mostly gone: the rest moves to the front, so the buffer does not
    // grow while the queue is never quite empty (decisions queued while a
    // batch was out). What moves is no more than what was dropped.
    text_.erase(0, begin_);
    ends_.erase(ends_.begin(), ends_.begin() + static_cast<std::ptrdiff_t>(first_));
    for (std::size_t& end : ends_) end -= begin_;
    begin_ = first_ = 0;
  }
}

DecisionView ViewOf(const ReportedDecision& d) {
  return DecisionView{d.time_ms,      d.decision,   d.forwarded,    d.added_us, d.action.channel,
                      d.action.agent, d.action.cwd, d.action.input, d.op_class, d.reason};
}

ReportedDecision OwnedOf(const DecisionView& d) {
  ReportedDecision owned;
  owned.time_ms = d.time_ms;
  owned.action.channel = d.channel;
  owned.action.input = d.input;
  owned.action.cwd = d.cwd;
  owned.action.agent = d.agent;
  owned.decision = d.decision;
  owned.op_class = d.op_class;
  owned.reason = d.reason;
  owned.forwarded = d.forwarded;
  owned.added_us = d.added_us;
  return owned;
}

Status NextPacked(std::string_view* in, PackedDecision* out) {
  std::int64_t forwarded = 0;
  std::string_view decision, channel;
  std::string scratch;
  if (!ReadNumber(in, &out->time_ms, ',') || !ReadText(in, &decision, &scratch) ||
      !ParseDecision(decision, &out->decision) || !ReadNumber(in, &forwarded, ',') ||
      (forwarded != 0 && forwarded != 1) || !ReadNumber(in, &out->added_us, ',') ||
      !ReadText(in, &channel, &scratch) || !ParseChannel(channel, &out->channel) ||
      !ReadText(in, &out->agent, &out->storage[0]) || !ReadText(in, &out->cwd, &out->storage[1]) ||
      !ReadText(in, &out->input, &out->storage[2]) ||
      !ReadText(in, &out->op_class, &out->storage[3]) ||
      !ReadText(in, &out->reason, &out->storage[4]))
    return Status::InvalidArgument("\"packed\" is not a batch of decisions");
  out->forwarded = forwarded == 1;
  return Status::Ok();
}

std::string PackedReportLine(const ReportRequest& head, std::string_view packed,
                             std::size_t count) {
  std::string line;
  line.reserve(packed.size() + packed.size() / 16 + 256);
  line += R"({"count":)";
  AppendNumber(&line, static_cast<std::int64_t>(count));
  if (!head.sender.empty()) {
    line += R"(,"first":)";
    line += std::to_string(head.first);
  }
  line += R"(,"gaps":)";
  nlohmann::json items = nlohmann::json::array();
  for (const ReportGap& g : head.gaps) items.push_back(ToJson(g));
  line += base::JsonDump(items);
  line += R"(,"op":"report","packed":)";
  AppendJsonString(&line, packed);  // valid UTF-8: AppendPacked made it so
  if (!head.sender.empty()) {
    line += R"(,"sender":)";
    AppendJsonString(&line, base::ToValidUtf8(head.sender));
  }
  line += R"(,"source":)";
  AppendJsonString(&line, base::ToValidUtf8(head.source));
  line += "}\n";
  return line;
}

std::optional<nlohmann::json> ParseReportLine(std::string_view line) {
  std::size_t i = SkipSpace(line, 0);
  if (i == line.size() || line[i] != '{') return std::nullopt;
  i = SkipSpace(line, i + 1);
  std::size_t value_begin = kNone, value_end = kNone;
  while (i < line.size() && line[i] == '"') {
    const std::size_t key_end = SkipString(line, i);
    if (key_end == kNone) return std::nullopt;
    const std::string_view key = line.substr(i + 1, key_end - i - 2);
    // A key spelled with escapes might be "packed" too: the general way.
    if (key.find('\\') != std::string_view::npos) return std::nullopt;
    i = SkipSpace(line, key_end);
    if (i == line.size() || line[i] != ':') return std::nullopt;
    i = SkipSpace(line, i + 1);
    const bool packed = key == "packed";
    if (packed && (value_begin != kNone || i == line.size() || line[i] != '"'))
      return std::nullopt;  // twice (the parser keeps the last), or not a string
    if (packed) value_begin = i;
    i = SkipValue(line, i);
    if (i == kNone) return std::nullopt;
    if (packed) value_end = i;
    i = SkipSpace(line, i);
    if (i == line.size() || line[i] != ',') break;
    i = SkipSpace(line, i + 1);
  }
  if (value_begin == kNone) return std::nullopt;
  std::string rest;
  rest.reserve(line.size() - (value_end - value_begin) + 2);
  rest.append(line.substr(0, value_begin)).append("\"\"").append(line.substr(value_end));
  nlohmann::json value = nlohmann::json::parse(rest, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded() || !value.is_object()) return std::nullopt;
  auto found = value.find("packed");
  if (found == value.end() || !found->is_string() || !found->get_ref<std::string&>().empty())
    return std::nullopt;
  std::string text;
  if (!UnescapeJsonString(line.substr(value_begin + 1, value_end - value_begin - 2), &text))
    return std::nullopt;
  *found = std::move(text);
  return value;
}

}  // namespace dualkey::client
