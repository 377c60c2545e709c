// A query the proxy runs on the session's own server connection, between
// two of the client's statements, so that it sees exactly what the client's
// next statement will see: its open transaction and what that transaction
// changed, its search_path, its temporary tables. The server->client side
// hands the backend's answer to an OwnQuery instead of the client; this
// file only reads those messages (no I/O), so it is tested on bytes.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dualkey::pgproxy {

struct OwnQueryResult {
  using Row = std::vector<std::optional<std::string>>;
  struct Statement {
    std::vector<Row> rows;
    std::string tag;  // CommandComplete's tag ("SELECT 1", "COPY 3"); empty for an empty query
  };
  std::vector<Statement> statements;  // one per statement that completed, in order
  std::string error;                  // the first ErrorResponse: its message
  std::string error_code;             // ... and SQLSTATE
  std::string sink_error;             // the CopyData sink refused (it gets nothing more)
  char status = 0;                    // ReadyForQuery's transaction status
  bool done = false;                  // ReadyForQuery arrived
};

class OwnQuery {
 public:
  // `copy_sink` receives COPY ... TO STDOUT data as it streams; returning
  // false stops the delivery (the rest is read and dropped).
  explicit OwnQuery(std::function<bool(std::string_view)> copy_sink = {})
      : copy_sink_(std::move(copy_sink)) {}

  // One whole backend message (body without type and length). True once
  // it was the ReadyForQuery that ends the query.
  bool OnMessage(char type, std::string_view body);
  // Part of a CopyData body too large to be held whole.
  void OnCopyPiece(std::string_view bytes);

  // Messages that belong to the client even while an own query runs:
  // asynchronous notifications and parameter changes.
  static bool ForClient(char type) { return type == 'A' || type == 'S'; }

  const OwnQueryResult& result() const { return result_; }
  OwnQueryResult& result() { return result_; }

 private:
  std::function<bool(std::string_view)> copy_sink_;
  OwnQueryResult result_;
  OwnQueryResult::Statement current_;
};

}  // namespace dualkey::pgproxy
