// libFuzzer: the PostgreSQL proxy's message decoding must never crash, hang
// or read out of bounds on any bytes a client sends: the startup packet, the
// framer that splits a stream into messages (whole or streamed, with every
// split point), the Query/Parse/Bind/Close bodies it looks into, ErrorResponse
// fields, and the SCRAM messages of client authentication.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/json_text.h"
#include "proxy/pg/internal/scram.h"
#include "proxy/pg/internal/sql_text.h"
#include "proxy/pg/internal/wire.h"
#include "sql/shape.h"

namespace wire = dualkey::pgproxy::wire;

namespace {

// What a statement becomes on its way to the daemon: the text the
// classifier reads (always UTF-8, whatever the bytes) in a JSON request that
// serialises and parses back without loss.
void ToDaemon(std::string_view sql) {
  std::string storage;
  const std::string_view text = dualkey::pgproxy::SqlForClassification(sql, &storage);
  if (!dualkey::base::IsValidUtf8(text)) std::abort();
  (void)dualkey::pgproxy::HasEncodingDependentEscape(sql);
  (void)dualkey::sql::AnalyseStatements(text);
  const nlohmann::json request{{"op", "check"}, {"channel", "sql"}, {"input", std::string(text)}};
  const std::optional<nlohmann::json> back =
      dualkey::base::JsonParse(dualkey::base::JsonDump(request));
  if (!back || (*back)["input"] != std::string(text)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::string error;
  if (auto startup = wire::ParseStartup(bytes, &error)) {
    (void)startup->Get("user");
  } else if (error.empty()) {
    std::abort();  // a refusal always says why
  }

  // The stream fed whole, then in two parts split at a byte-derived point.
  for (std::size_t limit : {std::size_t{64}, std::size_t{1} << 20}) {
    wire::Framer framer(limit);
    std::size_t pos = 0;
    const std::size_t split = size == 0 ? 0 : data[0] % (size + 1);
    for (std::string_view view : {bytes.substr(0, split), bytes}) {
      while (true) {
        const std::size_t before = pos;
        wire::Framer::Piece piece = framer.Next(view, &pos, "QP");
        if (piece.kind == wire::Framer::Piece::Kind::kNeedMore) break;
        if (piece.kind == wire::Framer::Piece::Kind::kError) {
          if (piece.error.empty()) std::abort();
          break;
        }
        if (pos <= before || pos > view.size()) std::abort();  // progress, in bounds
        if (piece.kind == wire::Framer::Piece::Kind::kWhole) {
          if (piece.offset + piece.size > view.size() || piece.size < 5) std::abort();
          std::string_view body = view.substr(piece.offset + 5, piece.size - 5);
          switch (piece.type) {
            case 'Q':
              ToDaemon(body.substr(0, body.find('\0')));
              break;
            case 'P':
              if (auto parse = wire::ParseParse(body)) ToDaemon(parse->query);
              break;
            case 'B':
              (void)wire::ParseBindHead(body);
              break;
            case 'C':
            case 'D':
              (void)wire::ParseTargetedName(body);
              break;
            default:
              break;
          }
        }
      }
      if (pos > view.size()) break;
    }
  }
  (void)wire::ParseError(bytes);

  // SCRAM, server side: the bytes as client-first, then client-final.
  dualkey::token::ScramVerifier verifier;
  verifier.salt = "0123456789abcdef";
  dualkey::pgproxy::scram::ServerExchange exchange(verifier);
  const std::size_t half = size / 2;
  if (exchange.First(bytes.substr(0, half), &error))
    (void)exchange.Final(bytes.substr(half), &error);
  dualkey::pgproxy::scram::ClientExchange client("pw");
  (void)client.First();
  (void)client.Verify(bytes);
  return 0;
}
