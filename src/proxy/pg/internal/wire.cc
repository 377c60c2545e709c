#include "proxy/pg/internal/wire.h"

#include <cstring>

namespace dualkey::pgproxy::wire {

std::int32_t ReadInt32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<std::int32_t>((std::uint32_t{u[0]} << 24) | (std::uint32_t{u[1]} << 16) |
                                   (std::uint32_t{u[2]} << 8) | std::uint32_t{u[3]});
}

std::int16_t ReadInt16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<std::int16_t>((u[0] << 8) | u[1]);
}

void AppendInt32(std::string& out, std::int32_t value) {
  const auto v = static_cast<std::uint32_t>(value);
  const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                         static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(bytes, 4);
}

void AppendInt16(std::string& out, std::int16_t value) {
  const auto v = static_cast<std::uint16_t>(value);
  const char bytes[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(bytes, 2);
}

std::int32_t Reader::Int32() {
  if (!ok_ || data_.size() - pos_ < 4) {
    ok_ = false;
    return 0;
  }
  std::int32_t v = ReadInt32(data_.data() + pos_);
  pos_ += 4;
  return v;
}

std::int16_t Reader::Int16() {
  if (!ok_ || data_.size() - pos_ < 2) {
    ok_ = false;
    return 0;
  }
  std::int16_t v = ReadInt16(data_.data() + pos_);
  pos_ += 2;
  return v;
}

std::uint8_t Reader::Byte() {
  if (!ok_ || pos_ >= data_.size()) {
    ok_ = false;
    return 0;
  }
  return static_cast<std::uint8_t>(data_[pos_++]);
}

std::string_view Reader::CString() {
  if (!ok_) return {};
  const std::size_t nul = data_.find('\0', pos_);
  if (nul == std::string_view::npos) {
    ok_ = false;
    return {};
  }
  std::string_view s = data_.substr(pos_, nul - pos_);
  pos_ = nul + 1;
  return s;
}

std::string_view Reader::Bytes(std::size_t n) {
  if (!ok_ || data_.size() - pos_ < n) {
    ok_ = false;
    return {};
  }
  std::string_view s = data_.substr(pos_, n);
  pos_ += n;
  return s;
}

std::string_view Reader::Rest() {
  if (!ok_) return {};
  std::string_view s = data_.substr(pos_);
  pos_ = data_.size();
  return s;
}

Builder::Builder(char type) {
  out_.push_back(type);
  out_.append(4, '\0');
}
Builder& Builder::Int32(std::int32_t v) {
  AppendInt32(out_, v);
  return *this;
}
Builder& Builder::Int16(std::int16_t v) {
  AppendInt16(out_, v);
  return *this;
}
Builder& Builder::Byte(char v) {
  out_.push_back(v);
  return *this;
}
Builder& Builder::CString(std::string_view s) {
  out_.append(s);
  out_.push_back('\0');
  return *this;
}
Builder& Builder::Raw(std::string_view s) {
  out_.append(s);
  return *this;
}
std::string Builder::Finish() {
  std::string len;
  AppendInt32(len, static_cast<std::int32_t>(out_.size() - 1));
  std::memcpy(out_.data() + 1, len.data(), 4);
  return std::move(out_);
}

std::string Startup::Get(std::string_view name) const {
  for (const auto& [k, v] : parameters)
    if (k == name) return v;
  return {};
}

std::optional<Startup> ParseStartup(std::string_view packet, std::string* error) {
  if (packet.size() < 8 || packet.size() > kMaxStartupBytes) {
    *error = "invalid startup packet length";
    return std::nullopt;
  }
  if (static_cast<std::size_t>(ReadInt32(packet.data())) != packet.size()) {
    *error = "startup packet length does not match its size";
    return std::nullopt;
  }
  Reader r(packet.substr(4));
  Startup s;
  s.protocol = r.Int32();
  if (s.protocol == kSslRequest || s.protocol == kGssEncRequest) {
    if (!r.done()) {
      *error = "malformed encryption request";
      return std::nullopt;
    }
    s.kind = s.protocol == kSslRequest ? Startup::Kind::kSsl : Startup::Kind::kGssEnc;
    return s;
  }
  if (s.protocol == kCancelRequest) {
    s.kind = Startup::Kind::kCancel;
    s.cancel_pid = r.Int32();
    s.cancel_key = r.Int32();
    if (!r.done()) {
      *error = "malformed cancel request";
      return std::nullopt;
    }
    return s;
  }
  if ((s.protocol >> 16) != 3) {
    *error = "unsupported frontend protocol " + std::to_string(s.protocol >> 16) + "." +
             std::to_string(s.protocol & 0xffff) + ": the proxy speaks 3.0";
    return std::nullopt;
  }
  while (true) {
    std::string_view name = r.CString();
    if (!r.ok()) {
      *error = "startup packet parameters are not terminated";
      return std::nullopt;
    }
    if (name.empty()) break;
    std::string_view value = r.CString();
    if (!r.ok()) {
      *error = "startup parameter " + std::string(name) + " has no value";
      return std::nullopt;
    }
    if (s.parameters.size() >= 64) {
      *error = "too many startup parameters";
      return std::nullopt;
    }
    s.parameters.emplace_back(name, value);
  }
  if (!r.done()) {
    *error = "trailing bytes after the startup parameters";
    return std::nullopt;
  }
  return s;
}

std::string BuildStartup(const std::vector<std::pair<std::string, std::string>>& parameters) {
  std::string body;
  AppendInt32(body, kProtocol30);
  for (const auto& [k, v] : parameters) {
    body.append(k);
    body.push_back('\0');
    body.append(v);
    body.push_back('\0');
  }
  body.push_back('\0');
  std::string out;
  AppendInt32(out, static_cast<std::int32_t>(body.size() + 4));
  return out + body;
}

std::string BuildError(const ErrorFields& f, char type) {
  Builder b(type);
  b.Byte('S').CString(f.severity).Byte('V').CString(f.severity);
  b.Byte('C').CString(f.code).Byte('M').CString(f.message);
  if (!f.detail.empty()) b.Byte('D').CString(f.detail);
  if (!f.hint.empty()) b.Byte('H').CString(f.hint);
  b.Byte('\0');
  return b.Finish();
}

ErrorFields ParseError(std::string_view body) {
  ErrorFields f;
  f.severity.clear();
  Reader r(body);
  while (r.ok()) {
    const std::uint8_t field = r.Byte();
    if (!r.ok() || field == 0) break;
    std::string_view value = r.CString();
    switch (field) {
      case 'S':
        if (f.severity.empty()) f.severity = value;
        break;
      case 'V':
        f.severity = value;
        break;
      case 'C':
        f.code = value;
        break;
      case 'M':
        f.message = value;
        break;
      case 'D':
        f.detail = value;
        break;
      case 'H':
        f.hint = value;
        break;
      default:
        break;
    }
  }
  return f;
}

std::string BuildQuery(std::string_view sql) {
  return Builder('Q').CString(sql).Finish();
}

std::string BuildReadyForQuery(char status) {
  return Builder('Z').Byte(status).Finish();
}

std::string BuildParse(std::string_view name, std::string_view sql) {
  return Builder('P').CString(name).CString(sql).Int16(0).Finish();
}

std::string BuildBind(std::string_view portal, std::string_view statement) {
  return Builder('B').CString(portal).CString(statement).Int16(0).Int16(0).Int16(0).Finish();
}

std::string BuildExecute(std::string_view portal) {
  return Builder('E').CString(portal).Int32(0).Finish();
}

std::optional<ParseMessage> ParseParse(std::string_view body) {
  Reader r(body);
  ParseMessage m;
  m.name = r.CString();
  m.query = r.CString();
  const std::int16_t n = r.Int16();
  if (!r.ok() || n < 0) return std::nullopt;
  for (int i = 0; i < n; ++i) m.parameter_types.push_back(r.Int32());
  if (!r.done()) return std::nullopt;
  return m;
}

std::optional<BindHead> ParseBindHead(std::string_view body) {
  Reader r(body);
  BindHead h;
  h.portal = r.CString();
  h.statement = r.CString();
  if (!r.ok()) return std::nullopt;
  return h;
}

std::optional<std::pair<char, std::string_view>> ParseTargetedName(std::string_view body) {
  Reader r(body);
  const char kind = static_cast<char>(r.Byte());
  std::string_view name = r.CString();
  if (!r.done() || (kind != 'S' && kind != 'P')) return std::nullopt;
  return std::make_pair(kind, name);
}

bool IsFrontendType(char type) {
  switch (type) {
    case 'B':  // Bind
    case 'C':  // Close
    case 'd':  // CopyData
    case 'c':  // CopyDone
    case 'f':  // CopyFail
    case 'D':  // Describe
    case 'E':  // Execute
    case 'H':  // Flush
    case 'F':  // FunctionCall
    case 'P':  // Parse
    case 'p':  // password / SASL
    case 'Q':  // Query
    case 'S':  // Sync
    case 'X':  // Terminate
      return true;
    default:
      return false;
  }
}

Framer::Piece Framer::Next(std::string_view data, std::size_t* pos, std::string_view whole_types) {
  Piece piece;
  const std::size_t available = data.size() - *pos;
  if (remaining_ > 0) {
    if (available == 0) return piece;
    piece.kind = Piece::Kind::kContinuation;
    piece.type = streaming_type_;
    piece.offset = *pos;
    piece.size = std::min(remaining_, available);
    remaining_ -= piece.size;
    *pos += piece.size;
    return piece;
  }
  if (available < 5) return piece;
  const char type = data[*pos];
  const std::int32_t len = ReadInt32(data.data() + *pos + 1);
  if (!IsFrontendType(type)) {
    piece.kind = Piece::Kind::kError;
    piece.error = std::string("invalid frontend message type ") +
                  std::to_string(static_cast<unsigned char>(type));
    return piece;
  }
  // PostgreSQL refuses messages over 1 GB; the length counts itself.
  if (len < 4 || len > (1 << 30)) {
    piece.kind = Piece::Kind::kError;
    piece.error = "invalid message length " + std::to_string(len);
    return piece;
  }
  const std::size_t size = static_cast<std::size_t>(len) + 1;
  piece.type = type;
  piece.offset = *pos;
  piece.message_size = size;
  if (whole_types.find(type) != std::string_view::npos) {
    if (size > max_whole_) {
      piece.kind = Piece::Kind::kError;
      piece.error = "a message of " + std::to_string(size) + " bytes exceeds the " +
                    std::to_string(max_whole_) + "-byte limit";
      return piece;
    }
    if (available < size) return Piece{};
    piece.kind = Piece::Kind::kWhole;
    piece.size = size;
    *pos += size;
    return piece;
  }
  if (available >= size) {
    piece.kind = Piece::Kind::kWhole;
    piece.size = size;
    *pos += size;
    return piece;
  }
  piece.kind = Piece::Kind::kHead;
  piece.size = available;
  remaining_ = size - available;
  streaming_type_ = type;
  *pos += available;
  return piece;
}

}  // namespace dualkey::pgproxy::wire
