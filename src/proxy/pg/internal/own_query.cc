#include "proxy/pg/internal/own_query.h"

#include "proxy/pg/internal/wire.h"

namespace dualkey::pgproxy {

bool OwnQuery::OnMessage(char type, std::string_view body) {
  switch (type) {
    case 'D': {  // DataRow
      wire::Reader r(body);
      const std::int16_t columns = r.Int16();
      OwnQueryResult::Row row;
      for (std::int16_t i = 0; i < columns && r.ok(); ++i) {
        const std::int32_t len = r.Int32();
        if (len < 0) {
          row.emplace_back(std::nullopt);
        } else {
          row.emplace_back(std::string(r.Bytes(static_cast<std::size_t>(len))));
        }
      }
      if (!r.ok()) {
        if (result_.error.empty()) result_.error = "malformed DataRow from the server";
        break;
      }
      current_.rows.push_back(std::move(row));
      break;
    }
    case 'C': {  // CommandComplete
      wire::Reader r(body);
      current_.tag = std::string(r.CString());
      result_.statements.push_back(std::move(current_));
      current_ = {};
      break;
    }
    case 'I':  // EmptyQueryResponse
      result_.statements.push_back(std::move(current_));
      current_ = {};
      break;
    case 'E': {
      wire::ErrorFields f = wire::ParseError(body);
      if (result_.error.empty()) {
        result_.error = f.message.empty() ? std::string("error") : f.message;
        result_.error_code = f.code;
      }
      current_ = {};
      break;
    }
    case 'd':
      OnCopyPiece(body);
      break;
    case 'Z':
      result_.status = body.empty() ? 0 : body[0];
      result_.done = true;
      return true;
    default:  // RowDescription, CopyOutResponse, CopyDone, notices: nothing to keep
      break;
  }
  return false;
}

void OwnQuery::OnCopyPiece(std::string_view bytes) {
  if (!result_.sink_error.empty() || bytes.empty()) return;
  if (!copy_sink_) {
    result_.sink_error = "unexpected COPY data";
    return;
  }
  if (!copy_sink_(bytes)) result_.sink_error = "the snapshot refused the data";
}

}  // namespace dualkey::pgproxy
