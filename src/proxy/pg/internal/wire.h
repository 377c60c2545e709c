// PostgreSQL v3 wire protocol pieces the proxy needs: reading and building
// messages, the startup packet, and the incremental framer that splits a
// client's byte stream into messages without copying them. Pure functions on
// bytes, so the fuzz target exercises exactly what the sessions run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dualkey::pgproxy::wire {

constexpr std::int32_t kProtocol30 = 196608;  // 3.0
constexpr std::int32_t kSslRequest = 80877103;
constexpr std::int32_t kGssEncRequest = 80877104;
constexpr std::int32_t kCancelRequest = 80877102;
// PostgreSQL's own limit on a startup packet.
constexpr std::size_t kMaxStartupBytes = 10000;
// Messages during authentication (SASL) are small.
constexpr std::size_t kMaxAuthMessageBytes = 10000;

std::int32_t ReadInt32(const char* p);
std::int16_t ReadInt16(const char* p);
void AppendInt32(std::string& out, std::int32_t value);
void AppendInt16(std::string& out, std::int16_t value);

// Reads a message body field by field; any read past the end sets !ok().
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  std::int32_t Int32();
  std::int16_t Int16();
  std::uint8_t Byte();
  std::string_view CString();  // up to (not including) the NUL
  std::string_view Bytes(std::size_t n);
  std::string_view Rest();
  bool ok() const { return ok_; }
  bool done() const { return ok_ && pos_ == data_.size(); }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

// Builds one typed message: type byte, length, body.
class Builder {
 public:
  explicit Builder(char type);
  Builder& Int32(std::int32_t v);
  Builder& Int16(std::int16_t v);
  Builder& Byte(char v);
  Builder& CString(std::string_view s);  // appends s and a NUL
  Builder& Raw(std::string_view s);
  std::string Finish();  // patches the length

 private:
  std::string out_;
};

// The first packet of a connection (no type byte).
struct Startup {
  enum class Kind { kStartup, kSsl, kGssEnc, kCancel } kind = Kind::kStartup;
  std::int32_t protocol = 0;
  std::vector<std::pair<std::string, std::string>> parameters;  // kStartup
  std::int32_t cancel_pid = 0;                                  // kCancel
  std::int32_t cancel_key = 0;

  std::string Get(std::string_view name) const;
};

// Parses a whole startup packet including its 4-byte length. nullopt with
// `error` for anything malformed (bad length, unknown code, unterminated
// parameters, a protocol other than 3.x).
std::optional<Startup> ParseStartup(std::string_view packet, std::string* error);

std::string BuildStartup(const std::vector<std::pair<std::string, std::string>>& parameters);

// ErrorResponse / NoticeResponse fields.
struct ErrorFields {
  std::string severity = "ERROR";
  std::string code;
  std::string message;
  std::string detail;
  std::string hint;
};
std::string BuildError(const ErrorFields& fields, char type = 'E');
// Parses an ErrorResponse body (without type and length).
ErrorFields ParseError(std::string_view body);

std::string BuildQuery(std::string_view sql);
std::string BuildReadyForQuery(char status);

// Extended-protocol messages the proxy builds when it substitutes a held
// statement.
std::string BuildParse(std::string_view name, std::string_view sql);
std::string BuildBind(std::string_view portal, std::string_view statement);
std::string BuildExecute(std::string_view portal);

// Fields of client messages the proxy looks into.
struct ParseMessage {
  std::string_view name;
  std::string_view query;
  std::vector<std::int32_t> parameter_types;
};
std::optional<ParseMessage> ParseParse(std::string_view body);
struct BindHead {
  std::string_view portal;
  std::string_view statement;
};
std::optional<BindHead> ParseBindHead(std::string_view body);
// Close / Describe: 'S' or 'P' and a name.
std::optional<std::pair<char, std::string_view>> ParseTargetedName(std::string_view body);

// What the client may send once the session runs.
bool IsFrontendType(char type);

// Splits a client's stream into messages. The caller feeds the bytes it has;
// Next() returns each message or a fragment of one:
//  - a whole message of a type in `needs_whole` (Query, Parse, ...) when all of
//    it is present, or kNeedMore;
//  - for other types, whatever part is present (streamed: a 1 GB CopyData
//    never sits in memory whole).
class Framer {
 public:
  struct Piece {
    enum class Kind { kWhole, kHead, kContinuation, kNeedMore, kError } kind = Kind::kNeedMore;
    char type = 0;
    std::size_t offset = 0;        // into the fed buffer
    std::size_t size = 0;          // bytes of the message (incl. header) in this piece
    std::size_t message_size = 0;  // the whole message incl. type byte
    std::string error;
  };

  explicit Framer(std::size_t max_whole_bytes) : max_whole_(max_whole_bytes) {}

  // Next piece from `data` starting at `*pos`; advances `*pos` past what it
  // returns. `whole_types`: types that must arrive whole.
  Piece Next(std::string_view data, std::size_t* pos, std::string_view whole_types);
  bool in_message() const { return remaining_ > 0; }

 private:
  std::size_t max_whole_;
  std::size_t remaining_ = 0;  // bytes still to stream of the current message
  char streaming_type_ = 0;
};

}  // namespace dualkey::pgproxy::wire
