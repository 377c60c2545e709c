#include "client/report_wire.h"

#include <sodium.h>

#include <charconv>

#include "base/json_text.h"

namespace dualkey::client {
namespace {

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

}  // namespace

void AppendJsonString(std::string* out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  std::size_t plain = 0;  // start of the run not yet copied
  for (std::size_t i = 0; i < text.size(); ++i) {
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

void AppendPacked(std::string* out, const ReportedDecision& d) {
  AppendNumber(out, d.time_ms);
  out->push_back(',');
  AppendText(out, ToString(d.decision));
  out->append(d.forwarded ? "1," : "0,");
  AppendNumber(out, d.added_us);
  out->push_back(',');
  AppendText(out, ToString(d.action.channel));
  AppendText(out, d.action.agent);
  AppendText(out, d.action.cwd);
  AppendText(out, std::string_view(d.action.input).substr(0, kMaxReportedText));
  AppendText(out, d.op_class);
  AppendText(out, std::string_view(d.reason).substr(0, kMaxReportedText));
}

DecisionView ViewOf(const ReportedDecision& d) {
  return DecisionView{d.time_ms,      d.decision,   d.forwarded,    d.added_us, d.action.channel,
                      d.action.agent, d.action.cwd, d.action.input, d.op_class, d.reason};
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

}  // namespace dualkey::client
